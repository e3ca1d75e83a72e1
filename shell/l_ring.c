/* l_ring.c - the queue object: the reference driver's queue (add, kick,
 * reap) and raw access to the split ring in guest memory, for scripts that
 * play a broken driver; and the pretty printer (vqsim-lua(7) QUEUE).
 *
 * Raw accesses play the guest CPU: they reach the ring through a direct
 * mapping (injected faults model what the device cannot reach, so they do
 * not apply) and 16-bit indices and flags are single atomic stores.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "lvq.h"

#define DUMP_ROWS 16   /* rows per section in print(q) */

static struct lvq_queue *checkqueue(lua_State *L, int arg)
{
	struct lvq_queue *lq = luaL_checkudata(L, arg, LVQ_QUEUE);

	lua_getiuservalue(L, arg, 1);
	if (lq->drv)
		lvq_checkdriver(L, lua_gettop(L));
	else
		lvq_checkdevice(L, lua_gettop(L));
	lua_pop(L, 1);
	return lq;
}

void lvq_pushqueue(lua_State *L, int ownerobj, struct vq_slot *s, struct lvq_driver *drv,
		   unsigned q)
{
	struct lvq_queue *lq = lvq_newobj(L, sizeof(*lq), LVQ_QUEUE, ownerobj);

	lq->slot = s;
	lq->drv = drv;
	lq->q = q;
}

/* "rng0.q0" into buf. */
static const char *qname(const struct lvq_queue *lq, char *buf, size_t len)
{
	snprintf(buf, len, "%s.q%u", lq->slot->dev.name, lq->q);
	return buf;
}

/* The ring geometry: size and addresses. Raises if there is none. */
static void geometry(lua_State *L, const struct lvq_queue *lq, uint16_t *num,
		     struct vq_ring_addr *addr)
{
	char n[48];

	if (lq->drv) {
		const struct vq_drv_queue *dq = &lq->drv->drv.queues[lq->q];
		if (!dq->active)
			luaL_error(L, "%s: driver queue is no longer set up (reset?)",
				   qname(lq, n, sizeof(n)));
		*num = dq->ring.num;
		*addr = dq->ring.addr;
	} else {
		const struct vq_queue *vq = &lq->slot->dev.queues[lq->q];
		if (!vq->num)
			luaL_error(L, "%s: queue size is 0", qname(lq, n, sizeof(n)));
		*num = vq->num;
		*addr = vq->addr;
	}
}

/* Is the queue laid out packed? The driver's ring says; a raw view asks
 * the device's ring, or, before the queue is enabled, the negotiated
 * features. */
static bool is_packed(const struct lvq_queue *lq)
{
	const struct vq_queue *vq = &lq->slot->dev.queues[lq->q];

	if (lq->drv)
		return lq->drv->drv.queues[lq->q].ring.layout == VQ_RING_PACKED;
	if (vq->ready)
		return vq->ring.layout == VQ_RING_PACKED;
	return vq_dev_has_feature(&lq->slot->dev, VIRTIO_F_RING_PACKED);
}

/* Raise unless the queue has the layout op is for. */
static void need_layout(lua_State *L, const struct lvq_queue *lq, bool packed, const char *op)
{
	char n[48];

	if (is_packed(lq) != packed)
		luaL_error(L, "%s: %s is for a %s ring; this queue is %s", qname(lq, n, sizeof(n)),
			   op, packed ? "packed" : "split", packed ? "split" : "packed");
}

/* Host pointer to len bytes of the ring at gpa (guest-CPU view). */
static void *ringptr(lua_State *L, const struct lvq_queue *lq, uint64_t gpa, uint64_t len,
		     const char *what)
{
	int err = 0;
	void *p = vq_mem_translate(lq->slot->dev.mem, gpa, len, 0, &err);
	char n[48];

	if (!p)
		luaL_error(L, "%s: %s at %s: %s: %s", qname(lq, n, sizeof(n)), what,
			   LVQ_HEX(gpa), vq_errname(err), vq_strerror(err));
	return p;
}

/* Read or (when arg is given) write a 16-bit ring field at gpa. */
static int field16(lua_State *L, const struct lvq_queue *lq, uint64_t gpa, int arg,
		   const char *what)
{
	void *p = ringptr(L, lq, gpa, 2, what);

	if (!lua_isnoneornil(L, arg)) {
		vq_store16_release(p, (uint16_t)lvq_checkrange(L, arg, UINT16_MAX));
		return 0;
	}
	lua_pushinteger(L, vq_load16_acquire(p));
	return 1;
}

static unsigned check_slot(lua_State *L, int arg, uint16_t num)
{
	return (unsigned)lvq_checkrange(L, arg, (uint64_t)num - 1);
}

/* Descriptor flags: a number or names "NEXT|WRITE|INDIRECT". */
static uint16_t check_flags(lua_State *L, int idx, int arg)
{
	const char *s, *p;
	uint16_t f = 0;

	if (lua_type(L, idx) == LUA_TNUMBER)
		return (uint16_t)lvq_fieldint(L, idx, "desc", "flags", 0, UINT16_MAX);
	s = lua_tostring(L, idx);
	if (!s)
		luaL_argerror(L, arg, "flags must be a number or a string like \"NEXT|WRITE\"");
	for (p = s; *p;) {
		size_t n = strcspn(p, "|, ");
		if (n == 4 && strncasecmp(p, "NEXT", 4) == 0)
			f |= VIRTQ_DESC_F_NEXT;
		else if (n == 5 && strncasecmp(p, "WRITE", 5) == 0)
			f |= VIRTQ_DESC_F_WRITE;
		else if (n == 8 && strncasecmp(p, "INDIRECT", 8) == 0)
			f |= VIRTQ_DESC_F_INDIRECT;
		else if ((n == 5 && strncasecmp(p, "AVAIL", 5) == 0) || (n == 1 && toupper(*p) == 'A'))
			f |= VIRTQ_DESC_F_AVAIL; /* packed */
		else if ((n == 4 && strncasecmp(p, "USED", 4) == 0) || (n == 1 && toupper(*p) == 'U'))
			f |= VIRTQ_DESC_F_USED;  /* packed */
		else if (n)
			luaL_argerror(L, arg, lua_pushfstring(L, "unknown descriptor flag '%s' "
							      "(NEXT, WRITE, INDIRECT, AVAIL or A, "
							      "USED or U)", p));
		p += n;
		p += strspn(p, "|, ");
	}
	return f;
}

static const char *flags_str(uint16_t f, char *buf, size_t len)
{
	const unsigned known = 7u | VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;

	snprintf(buf, len, "%s%s%s%s%s%s", f & VIRTQ_DESC_F_AVAIL ? "A " : "",
		 f & VIRTQ_DESC_F_USED ? "U " : "", f & VIRTQ_DESC_F_NEXT ? "NEXT " : "",
		 f & VIRTQ_DESC_F_WRITE ? "WRITE " : "", f & VIRTQ_DESC_F_INDIRECT ? "INDIRECT " : "",
		 f & ~known ? "?" : "");
	if (*buf && buf[strlen(buf) - 1] == ' ')
		buf[strlen(buf) - 1] = '\0';
	if (!*buf)
		snprintf(buf, len, "-");
	return buf;
}

/* q:desc(i [, t]): read descriptor i as {addr, len, flags, next}, or write
 * the fields t gives (others keep their value). */
static const char *const desc_keys[] = {"addr", "flags", "len", "next", NULL};
static const char *const pdesc_keys[] = {"addr", "flags", "id", "len", NULL};

/* The packed form: {addr, len, id, flags}; a write stores addr, len and id
 * first and the flags last (release), as a driver makes a descriptor
 * available. */
static int q_desc_packed(lua_State *L, struct lvq_queue *lq, uint16_t num,
			 const struct vq_ring_addr *a)
{
	unsigned i = check_slot(L, 2, num);
	uint8_t *p = ringptr(L, lq, a->desc + 16u * i, 16, "descriptor");
	uint64_t addr;
	uint32_t len;
	uint16_t id, flags;

	memcpy(&addr, p, 8);
	memcpy(&len, p + 8, 4);
	memcpy(&id, p + 12, 2);
	flags = vq_load16_acquire(p + 14);
	if (lua_isnoneornil(L, 3)) {
		lua_createtable(L, 0, 4);
		lvq_setint(L, "addr", (lua_Integer)VQ_LE64(addr));
		lvq_setint(L, "len", VQ_LE32(len));
		lvq_setint(L, "id", VQ_LE16(id));
		lvq_setint(L, "flags", flags);
		return 1;
	}
	luaL_checktype(L, 3, LUA_TTABLE);
	lvq_checkopts(L, 3, "desc", pdesc_keys);
	if (lua_getfield(L, 3, "addr") != LUA_TNIL)
		addr = VQ_LE64(lua_type(L, -1) == LUA_TNUMBER
				       ? (uint64_t)lvq_fieldint(L, -1, "desc", "addr",
								LUA_MININTEGER, LUA_MAXINTEGER)
				       : lvq_fieldsize(L, lua_gettop(L), "desc", "addr"));
	if (lua_getfield(L, 3, "len") != LUA_TNIL)
		len = VQ_LE32((uint32_t)lvq_fieldint(L, -1, "desc", "len", 0, UINT32_MAX));
	if (lua_getfield(L, 3, "id") != LUA_TNIL)
		id = VQ_LE16((uint16_t)lvq_fieldint(L, -1, "desc", "id", 0, UINT16_MAX));
	if (lua_getfield(L, 3, "flags") != LUA_TNIL)
		flags = check_flags(L, lua_gettop(L), 3);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &id, 2);
	vq_store16_release(p + 14, flags);
	return 0;
}

static int q_desc(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint16_t num;
	struct vq_ring_addr a;
	struct virtq_desc d, *p;
	unsigned i;

	geometry(L, lq, &num, &a);
	if (is_packed(lq))
		return q_desc_packed(L, lq, num, &a);
	i = check_slot(L, 2, num);
	p = ringptr(L, lq, a.desc + 16u * i, 16, "descriptor");
	memcpy(&d, p, sizeof(d));
	if (lua_isnoneornil(L, 3)) {
		lua_createtable(L, 0, 4);
		lvq_setint(L, "addr", (lua_Integer)VQ_LE64(d.addr));
		lvq_setint(L, "len", VQ_LE32(d.len));
		lvq_setint(L, "flags", VQ_LE16(d.flags));
		lvq_setint(L, "next", VQ_LE16(d.next));
		return 1;
	}
	luaL_checktype(L, 3, LUA_TTABLE);
	lvq_checkopts(L, 3, "desc", desc_keys);
	/* a raw 64-bit address: a negative integer is its two's complement */
	if (lua_getfield(L, 3, "addr") != LUA_TNIL)
		d.addr = VQ_LE64(lua_type(L, -1) == LUA_TNUMBER
					 ? (uint64_t)lvq_fieldint(L, -1, "desc", "addr",
								  LUA_MININTEGER, LUA_MAXINTEGER)
					 : lvq_fieldsize(L, lua_gettop(L), "desc", "addr"));
	if (lua_getfield(L, 3, "len") != LUA_TNIL)
		d.len = VQ_LE32((uint32_t)lvq_fieldint(L, -1, "desc", "len", 0, UINT32_MAX));
	if (lua_getfield(L, 3, "flags") != LUA_TNIL)
		d.flags = VQ_LE16(check_flags(L, lua_gettop(L), 3));
	if (lua_getfield(L, 3, "next") != LUA_TNIL)
		d.next = VQ_LE16((uint16_t)lvq_fieldint(L, -1, "desc", "next", 0, UINT16_MAX));
	memcpy(p, &d, sizeof(d));
	return 0;
}

static int q_avail(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint16_t num;
	struct vq_ring_addr a;

	need_layout(L, lq, false, "avail");
	geometry(L, lq, &num, &a);
	return field16(L, lq, a.driver + 4 + 2u * check_slot(L, 2, num), 3, "avail ring");
}

/* The 16-bit header fields of the avail (driver) and used (device) areas:
 * flags at +0, idx at +2, and the event field after the ring (used_event
 * behind the avail ring, avail_event behind the used ring). Read, or write
 * with argument 2. */
enum ring_field { RF_FLAGS, RF_IDX, RF_EVENT };

static int header_field(lua_State *L, bool used_area, enum ring_field f, const char *what)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint16_t num;
	struct vq_ring_addr a;
	uint64_t base, off;

	need_layout(L, lq, false, what);
	geometry(L, lq, &num, &a);
	base = used_area ? a.device : a.driver;
	off = f == RF_FLAGS ? 0 : f == RF_IDX ? 2 : 4 + (used_area ? 8u : 2u) * (uint64_t)num;
	return field16(L, lq, base + off, 2, what);
}

static int q_avail_idx(lua_State *L)
{
	return header_field(L, false, RF_IDX, "avail idx");
}

static int q_avail_flags(lua_State *L)
{
	return header_field(L, false, RF_FLAGS, "avail flags");
}

static int q_used_event(lua_State *L)
{
	return header_field(L, false, RF_EVENT, "used_event");
}

static int q_used(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint16_t num;
	struct vq_ring_addr a;
	struct virtq_used_elem e;

	if (lua_isnoneornil(L, 2))
		return luaL_argerror(L, 2, "slot expected (q:reap() takes the next used element)");
	geometry(L, lq, &num, &a);
	if (is_packed(lq)) {
		/* the descriptor at slot as the device wrote it: id, len, flags */
		const uint8_t *p = ringptr(L, lq, a.desc + 16u * check_slot(L, 2, num), 16,
					   "descriptor");
		uint32_t len;
		uint16_t id;

		memcpy(&len, p + 8, 4);
		memcpy(&id, p + 12, 2);
		lua_pushinteger(L, VQ_LE16(id));
		lua_pushinteger(L, VQ_LE32(len));
		lua_pushinteger(L, vq_load16_acquire(p + 14));
		return 3;
	}
	memcpy(&e, ringptr(L, lq, a.device + 4 + 8u * check_slot(L, 2, num), 8, "used ring"),
	       sizeof(e));
	lua_pushinteger(L, VQ_LE32(e.id));
	lua_pushinteger(L, VQ_LE32(e.len));
	return 2;
}

static int q_used_idx(lua_State *L)
{
	return header_field(L, true, RF_IDX, "used idx");
}

static int q_used_flags(lua_State *L)
{
	return header_field(L, true, RF_FLAGS, "used flags");
}

static int q_avail_event(lua_State *L)
{
	return header_field(L, true, RF_EVENT, "avail_event");
}

/* q:post(head [, count]): put head in the next avail slot and bump avail
 * idx by count (default 1) — what a driver does to publish a chain. */
static int q_post(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint16_t num, idx;
	struct vq_ring_addr a;
	void *pidx;
	uint16_t head = (uint16_t)lvq_checkrange(L, 2, UINT16_MAX);
	uint16_t bump = (uint16_t)(lua_isnoneornil(L, 3) ? 1 : lvq_checkrange(L, 3, UINT16_MAX));

	geometry(L, lq, &num, &a);
	if (is_packed(lq)) {
		/* q:post(slot [, wrap]): mark descriptor slot available for
		 * the wrap counter (default 1), its other flags kept */
		unsigned slot = check_slot(L, 2, num);
		bool wrap = lua_isnoneornil(L, 3) ? true : lvq_checkrange(L, 3, 1) != 0;
		uint8_t *p = ringptr(L, lq, a.desc + 16u * slot + 14, 2, "descriptor");
		uint16_t f = vq_load16_acquire(p) & (uint16_t)~(VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);

		f |= wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
		vq_store16_release(p, f);
		lua_pushinteger(L, slot);
		return 1;
	}
	pidx = ringptr(L, lq, a.driver + 2, 2, "avail idx");
	idx = vq_load16_acquire(pidx);
	vq_store16_relaxed(ringptr(L, lq, a.driver + 4 + 2u * (idx % num), 2, "avail ring"), head);
	vq_store16_release(pidx, (uint16_t)(idx + bump));
	lua_pushinteger(L, idx % num);
	return 1;
}

/* q:driver_event([off_wrap, flags]) / q:device_event(...): the packed
 * event suppression structures: read (off_wrap, flags) or write both. */
static int event_area(lua_State *L, bool device, const char *what)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint16_t num;
	struct vq_ring_addr a;
	uint8_t *p;

	need_layout(L, lq, true, what);
	geometry(L, lq, &num, &a);
	p = ringptr(L, lq, device ? a.device : a.driver, 4, what);
	if (!lua_isnoneornil(L, 2)) {
		vq_store16_relaxed(p, (uint16_t)lvq_checkrange(L, 2, UINT16_MAX));
		vq_store16_release(p + 2, (uint16_t)lvq_checkrange(L, 3, UINT16_MAX));
		return 0;
	}
	lua_pushinteger(L, vq_load16_acquire(p));
	lua_pushinteger(L, vq_load16_acquire(p + 2));
	return 2;
}

static int q_driver_event(lua_State *L)
{
	return event_area(L, false, "driver_event");
}

static int q_device_event(lua_State *L)
{
	return event_area(L, true, "device_event");
}

static int q_notify(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	uint64_t gpa = lq->slot->base + VIRTIO_MMIO_QUEUE_NOTIFY;
	unsigned width = 4;
	int rc;

	if (lq->slot->transport == VQ_SLOT_PCI) { /* queue_notify_off is the queue index */
		gpa = vq_pci_bar_base(&lq->slot->pci) + VQ_PCI_NOTIFY_OFF +
		      (uint64_t)lq->q * VQ_PCI_NOTIFY_MULT;
		width = 2;
	}
	rc = vq_machine_write(lq->slot->machine, gpa, width, lq->q);

	if (rc < 0) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, vq_errname(rc));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- driver-side operations ---- */

static struct lvq_driver *need_driver(lua_State *L, struct lvq_queue *lq, const char *op)
{
	char n[48];

	if (!lq->drv)
		luaL_error(L, "%s: %s: a raw ring view has no driver (use d:queue(%d))",
			   qname(lq, n, sizeof(n)), op, (int)lq->q);
	if (!lq->drv->drv.queues[lq->q].active)
		luaL_error(L, "%s: %s: driver queue is no longer set up (reset?)",
			   qname(lq, n, sizeof(n)), op);
	return lq->drv;
}

static int q_fail(lua_State *L, struct lvq_queue *lq, int rc, uint64_t before)
{
	char n[48];

	if (rc == -VQ_E_RING_BROKEN || lq->slot->dev.stats.errors != before)
		lvq_fail_dev(L, &lq->slot->dev, rc, before);
	lvq_fail(L, qname(lq, n, sizeof(n)), rc);
}

unsigned lvq_checkbufs(lua_State *L, int arg, struct vq_buf *out, unsigned max)
{
	unsigned n = 0;

	luaL_checktype(L, arg, LUA_TTABLE);
	for (lua_Integer i = 1; lua_geti(L, arg, i) != LUA_TNIL; i++) {
		int t = lua_gettop(L);
		lua_Integer gpa, len;

		if (n >= max)
			luaL_argerror(L, arg, lua_pushfstring(L, "more than %d buffers", (int)max));
		if (!lua_istable(L, t))
			luaL_argerror(L, arg, lua_pushfstring(L, "buffer %d: {gpa, len, \"r\"|\"w\"} "
							      "expected", (int)i));
		if (lua_geti(L, t, 1) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_getfield(L, t, "gpa");
		}
		if (lua_geti(L, t, 2) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_getfield(L, t, "len");
		}
		if (lua_geti(L, t, 3) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_getfield(L, t, "write");
		}
		if (!lvq_tointeger(L, t + 1, &gpa))
			luaL_argerror(L, arg, lua_pushfstring(L, "buffer %d: gpa must be an integer",
							      (int)i));
		if (!lvq_tointeger(L, t + 2, &len) || len < 0 || len > (lua_Integer)UINT32_MAX)
			luaL_argerror(L, arg, lua_pushfstring(L, "buffer %d: len must be an integer "
							      "0..2^32-1", (int)i));
		out[n].gpa = (uint64_t)gpa;
		out[n].len = (uint32_t)len;
		if (lua_type(L, t + 3) == LUA_TSTRING) {
			const char *d = lua_tostring(L, t + 3);
			if (strcmp(d, "w") && strcmp(d, "r"))
				luaL_argerror(L, arg, lua_pushfstring(L, "buffer %d: direction must be "
								      "\"r\" or \"w\"", (int)i));
			out[n].writable = d[0] == 'w';
		} else {
			out[n].writable = lua_toboolean(L, t + 3);
		}
		n++;
		lua_settop(L, t - 1);
	}
	lua_pop(L, 1);
	if (!n)
		luaL_argerror(L, arg, "at least one buffer expected");
	return n;
}

static int q_add(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	struct lvq_driver *dr = need_driver(L, lq, "add");
	struct vq_buf bufs[LVQ_MAX_BUFS];
	unsigned n = lvq_checkbufs(L, 2, bufs, LVQ_MAX_BUFS);
	uint64_t token = lua_isnoneornil(L, 3) ? ++dr->drv.next_token
					       : (uint64_t)luaL_checkinteger(L, 3);
	int rc = vq_drv_add(&dr->drv, lq->q, bufs, n, token);
	char nm[48];

	if (rc < 0)
		return luaL_error(L, "%s: add: %s: %s%s", qname(lq, nm, sizeof(nm)), vq_errname(rc),
				  vq_strerror(rc), rc == -VQ_E_INVAL ? " (readable buffers must "
				  "come before writable ones)" : "");
	lua_pushinteger(L, rc);
	lua_pushinteger(L, (lua_Integer)token);
	return 2;
}

static int q_add_indirect(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	struct lvq_driver *dr = need_driver(L, lq, "add_indirect");
	struct vq_buf bufs[LVQ_MAX_BUFS];
	unsigned n = lvq_checkbufs(L, 2, bufs, LVQ_MAX_BUFS);
	uint64_t table = lvq_checksize(L, 3);
	uint64_t token = lua_isnoneornil(L, 4) ? ++dr->drv.next_token
					       : (uint64_t)luaL_checkinteger(L, 4);
	int rc = vq_ring_drv_add_indirect(&dr->drv.queues[lq->q].ring, bufs, n, table, token);
	char nm[48];

	if (rc < 0)
		return luaL_error(L, "%s: add_indirect: %s: %s%s", qname(lq, nm, sizeof(nm)),
				  vq_errname(rc), vq_strerror(rc), rc == -VQ_E_INVAL ?
				  " (INDIRECT_DESC negotiated? table inside RAM?)" : "");
	lua_pushinteger(L, rc);
	lua_pushinteger(L, (lua_Integer)token);
	return 2;
}

static int q_kick(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	struct lvq_driver *dr = need_driver(L, lq, "kick");
	uint64_t before = lq->slot->dev.stats.errors;
	int rc = vq_drv_kick(&dr->drv, lq->q);

	if (rc < 0)
		return q_fail(L, lq, rc, before);
	lua_pushboolean(L, rc);
	return 1;
}

static int q_reap(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	struct lvq_driver *dr = need_driver(L, lq, "reap");
	uint64_t token;
	uint32_t len;
	int rc = vq_drv_get_used(&dr->drv, lq->q, &token, &len);
	char nm[48];

	if (rc < 0)
		return luaL_error(L, "%s: reap: %s: %s", qname(lq, nm, sizeof(nm)), vq_errname(rc),
				  vq_strerror(rc));
	if (rc == 0) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushinteger(L, (lua_Integer)token);
	lua_pushinteger(L, len);
	return 2;
}

static int q_wait(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	struct lvq_driver *dr = need_driver(L, lq, "wait");
	uint64_t before = lq->slot->dev.stats.errors;
	int rc = vq_drv_wait_used(&dr->drv, lq->q);

	if (rc != 1 && (lq->slot->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return q_fail(L, lq, -VQ_E_RING_BROKEN, before);
	lua_pushboolean(L, rc == 1);
	return 1;
}

static int q_interrupts(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	struct lvq_driver *dr = need_driver(L, lq, "interrupts");
	int rc;

	luaL_checktype(L, 2, LUA_TBOOLEAN);
	rc = vq_ring_drv_set_interrupts(&dr->drv.queues[lq->q].ring, lua_toboolean(L, 2));
	if (rc < 0)
		return q_fail(L, lq, rc, lq->slot->dev.stats.errors);
	lua_pushboolean(L, rc);
	return 1;
}

/* ---- printing ---- */

static void addf(luaL_Buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(luaL_Buffer *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	luaL_addlstring(b, line, n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static const char *event_str(uint16_t flags)
{
	static const char *const names[] = {"ENABLE", "DISABLE", "DESC", "reserved"};

	return flags <= 3 ? names[flags] : "?";
}

/* The packed form of dump(): the descriptor ring (flags A/U decoded, and
 * each slot's state for the device's wrap counters), both event
 * structures and both sides' cursors. */
static void dump_packed(lua_State *L, struct lvq_queue *lq, bool all)
{
	const struct vq_queue *vq = &lq->slot->dev.queues[lq->q];
	uint16_t num;
	struct vq_ring_addr a;
	const uint8_t *ring, *drv, *dev;
	unsigned rows = 0;
	char nm[48], fl[40];
	luaL_Buffer b;

	geometry(L, lq, &num, &a);
	ring = ringptr(L, lq, a.desc, VIRTQ_PACKED_DESC_SIZE(num), "descriptor ring");
	drv = ringptr(L, lq, a.driver, 4, "driver event area");
	dev = ringptr(L, lq, a.device, 4, "device event area");
	luaL_buffinit(L, &b);
	addf(&b, "%s (%s view, packed): size %u, ring 0x%" PRIx64 ", driver event 0x%" PRIx64
	     ", device event 0x%" PRIx64 "\n", qname(lq, nm, sizeof(nm)),
	     lq->drv ? "driver" : "raw", num, a.desc, a.driver, a.device);
	addf(&b, "  slot  %-18s  %10s  %5s  %-22s\n", "addr", "len", "id", "flags");
	for (unsigned i = 0; i < num; i++) {
		const uint8_t *p = ring + 16u * i;
		uint64_t addr;
		uint32_t len;
		uint16_t id, f = vq_load16_acquire(p + 14);

		memcpy(&addr, p, 8);
		memcpy(&len, p + 8, 4);
		memcpy(&id, p + 12, 2);
		if (!all && !addr && !len && !id && !f)
			continue;
		if (!all && rows == DUMP_ROWS) {
			addf(&b, "  ...   (q:dump(true) shows every descriptor)\n");
			break;
		}
		rows++;
		addf(&b, "  %4u  0x%016" PRIx64 "  %10" PRIu32 "  %5u  %-22s%s%s\n", i,
		     VQ_LE64(addr), VQ_LE32(len), VQ_LE16(id), flags_str(f, fl, sizeof(fl)),
		     vq->ready && i == vq->ring.last_avail ? "  <- device next avail" : "",
		     vq->ready && i == vq->ring.used_idx ? "  <- device next used" : "");
	}
	if (!rows)
		addf(&b, "  (all descriptors zero)\n");
	addf(&b, "driver event: off %u wrap %u flags %u (%s)\n", vq_load16_acquire(drv) & 0x7fffu,
	     vq_load16_acquire(drv) >> 15, vq_load16_acquire(drv + 2),
	     event_str(vq_load16_acquire(drv + 2)));
	addf(&b, "device event: off %u wrap %u flags %u (%s)\n", vq_load16_acquire(dev) & 0x7fffu,
	     vq_load16_acquire(dev) >> 15, vq_load16_acquire(dev + 2),
	     event_str(vq_load16_acquire(dev + 2)));
	if (lq->drv) {
		const struct vq_ring_drv *r = &lq->drv->drv.queues[lq->q].ring;
		addf(&b, "driver: %u free descriptors, next avail %u (wrap %u), next used to reap "
		     "%u (wrap %u)\n", r->num_free, r->avail_idx, r->avail_wrap, r->last_used,
		     r->used_wrap);
	}
	addf(&b, "device: %s, last_avail %u (wrap %u), used_idx %u (wrap %u), %u in flight%s%s\n",
	     vq->ready ? "ready" : "not ready", vq->ring.last_avail, vq->ring.avail_wrap,
	     vq->ring.used_idx, vq->ring.used_wrap, vq->ring.inflight_desc,
	     vq->ring.error ? ", broken: " : "", vq->ring.error ? vq_errname(vq->ring.error) : "");
	luaL_pushresult(&b);
}

/* Build the aligned table of the ring; all: every descriptor and slot. */
static void dump(lua_State *L, struct lvq_queue *lq, bool all)
{
	uint16_t num, aidx, uidx;
	struct vq_ring_addr a;
	const struct virtq_desc *desc;
	const uint8_t *av, *us;
	unsigned rows = 0, shown;
	char nm[48], fl[32];
	luaL_Buffer b;

	if (is_packed(lq)) {
		dump_packed(L, lq, all);
		return;
	}
	geometry(L, lq, &num, &a);
	desc = ringptr(L, lq, a.desc, VIRTQ_DESC_SIZE(num), "descriptor table");
	av = ringptr(L, lq, a.driver, VIRTQ_AVAIL_SIZE(num), "avail ring");
	us = ringptr(L, lq, a.device, VIRTQ_USED_SIZE(num), "used ring");
	aidx = vq_load16_acquire(av + 2);
	uidx = vq_load16_acquire(us + 2);
	luaL_buffinit(L, &b);
	addf(&b, "%s (%s view): size %u, desc 0x%" PRIx64 ", avail 0x%" PRIx64 ", used 0x%"
	     PRIx64 "\n", qname(lq, nm, sizeof(nm)), lq->drv ? "driver" : "raw", num, a.desc,
	     a.driver, a.device);
	addf(&b, "  desc  %-18s  %10s  %-14s  %5s\n", "addr", "len", "flags", "next");
	for (unsigned i = 0; i < num; i++) {
		struct virtq_desc d = desc[i];
		if (!all && !d.addr && !d.len && !d.flags && !d.next)
			continue;
		if (!all && rows == DUMP_ROWS) {
			addf(&b, "  ...   (q:dump(true) shows every descriptor)\n");
			break;
		}
		rows++;
		addf(&b, "  %4u  0x%016" PRIx64 "  %10" PRIu32 "  %-14s  %5u\n", i, VQ_LE64(d.addr),
		     VQ_LE32(d.len), flags_str(VQ_LE16(d.flags), fl, sizeof(fl)), VQ_LE16(d.next));
	}
	if (!rows)
		addf(&b, "  (all descriptors zero)\n");
	addf(&b, "avail: flags 0x%04x  idx %u  used_event %u\n", vq_load16_acquire(av), aidx,
	     vq_load16_acquire(av + 4 + 2u * num));
	shown = all ? num : (aidx < num ? aidx : num);
	if (shown) {
		unsigned first = all ? 0 : (unsigned)(uint16_t)(aidx - shown);
		addf(&b, "  slot  head\n");
		for (unsigned k = 0, r = 0; k < shown; k++) {
			unsigned slot = all ? k : (first + k) % num;
			if (!all && shown - k > DUMP_ROWS && r == 0) {
				addf(&b, "  ...   (%u earlier)\n", shown - DUMP_ROWS);
				k = shown - DUMP_ROWS - 1;
				r = 1;
				continue;
			}
			addf(&b, "  %4u  %4u%s\n", slot, vq_load16_relaxed(av + 4 + 2u * slot),
			     slot == aidx % num ? "   <- next" : "");
		}
	}
	addf(&b, "used:  flags 0x%04x  idx %u  avail_event %u\n", vq_load16_acquire(us), uidx,
	     vq_load16_acquire(us + 4 + 8u * num));
	shown = all ? num : (uidx < num ? uidx : num);
	if (shown) {
		unsigned first = all ? 0 : (unsigned)(uint16_t)(uidx - shown);
		addf(&b, "  slot    id         len\n");
		for (unsigned k = 0, r = 0; k < shown; k++) {
			unsigned slot = all ? k : (first + k) % num;
			struct virtq_used_elem e;
			if (!all && shown - k > DUMP_ROWS && r == 0) {
				addf(&b, "  ...   (%u earlier)\n", shown - DUMP_ROWS);
				k = shown - DUMP_ROWS - 1;
				r = 1;
				continue;
			}
			memcpy(&e, us + 4 + 8u * slot, sizeof(e));
			addf(&b, "  %4u  %4" PRIu32 "  %10" PRIu32 "\n", slot, VQ_LE32(e.id),
			     VQ_LE32(e.len));
		}
	}
	if (lq->drv) {
		const struct vq_ring_drv *r = &lq->drv->drv.queues[lq->q].ring;
		addf(&b, "driver: %u free descriptors, next avail %u, next used to reap %u\n",
		     r->num_free, r->avail_idx, r->last_used);
	}
	{
		const struct vq_queue *vq = &lq->slot->dev.queues[lq->q];
		addf(&b, "device: %s, last_avail %u, used_idx %u%s%s\n",
		     vq->ready ? "ready" : "not ready", vq->ring.last_avail, vq->ring.used_idx,
		     vq->ring.error ? ", broken: " : "", vq->ring.error ? vq_errname(vq->ring.error) : "");
	}
	luaL_pushresult(&b);
}

static int q_dump(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);

	dump(L, lq, lua_toboolean(L, 2));
	return 1;
}

static int q_tostring(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);

	size_t len;
	const char *s;

	dump(L, lq, false);
	s = lua_tolstring(L, -1, &len);
	lua_pushlstring(L, s, len ? len - 1 : 0); /* print adds the newline */
	return 1;
}

static int q_getter(lua_State *L)
{
	struct lvq_queue *lq = checkqueue(L, 1);
	const char *k = lua_tostring(L, 2);
	char nm[48];

	if (strcmp(k, "index") == 0) {
		lua_pushinteger(L, lq->q);
	} else if (strcmp(k, "name") == 0) {
		lua_pushstring(L, qname(lq, nm, sizeof(nm)));
	} else if (strcmp(k, "kind") == 0) {
		lua_pushstring(L, lq->drv ? "driver" : "raw");
	} else if (strcmp(k, "layout") == 0) {
		lua_pushstring(L, is_packed(lq) ? "packed" : "split");
	} else if (strcmp(k, "num") == 0 || strcmp(k, "addrs") == 0) {
		uint16_t num;
		struct vq_ring_addr a;
		geometry(L, lq, &num, &a);
		if (k[0] == 'n') {
			lua_pushinteger(L, num);
		} else {
			lua_createtable(L, 0, 3);
			lvq_setint(L, "desc", (lua_Integer)a.desc);
			lvq_setint(L, "driver", (lua_Integer)a.driver);
			lvq_setint(L, "device", (lua_Integer)a.device);
		}
	} else if (strcmp(k, "num_free") == 0 && lq->drv) {
		lua_pushinteger(L, need_driver(L, lq, "num_free")->drv.queues[lq->q].ring.num_free);
	} else if (strcmp(k, "device") == 0) {
		lua_getiuservalue(L, 1, 1);
		if (lq->drv) {
			lua_getiuservalue(L, -1, 1);
			lua_remove(L, -2);
		}
	} else {
		return 0;
	}
	return 1;
}

static const luaL_Reg methods[] = {
	{"desc", q_desc},           {"avail", q_avail},         {"avail_idx", q_avail_idx},
	{"avail_flags", q_avail_flags}, {"used_event", q_used_event}, {"used", q_used},
	{"used_idx", q_used_idx},   {"used_flags", q_used_flags}, {"avail_event", q_avail_event},
	{"post", q_post},           {"notify", q_notify},       {"add", q_add},
	{"add_indirect", q_add_indirect}, {"kick", q_kick},     {"reap", q_reap},
	{"wait", q_wait},           {"interrupts", q_interrupts}, {"dump", q_dump},
	{"driver_event", q_driver_event}, {"device_event", q_device_event},
	{NULL, NULL},
};

static const luaL_Reg meta[] = {{"__tostring", q_tostring}, {NULL, NULL}};

static const char *const fields[] = {"index", "name", "kind", "num", "addrs", "num_free",
				     "device", "layout", NULL};

void lvq_open_ring(lua_State *L)
{
	lvq_newclass(L, LVQ_QUEUE, methods, meta, q_getter, fields);
}
