/* l_driver.c - the reference driver object: init sequence, queues, guest
 * heap, config space and per-device helpers (vqsim-lua(7) DRIVER).
 */
#include <string.h>

#include "lvq.h"

struct lvq_driver *lvq_checkdriver(lua_State *L, int arg)
{
	struct lvq_driver *dr = luaL_checkudata(L, arg, LVQ_DRIVER);

	if (!dr->attached)
		luaL_argerror(L, arg, "driver is detached");
	lua_getiuservalue(L, arg, 1); /* the device keeps the machine alive */
	lvq_checkdevice(L, lua_gettop(L));
	lua_pop(L, 1);
	return dr;
}

/* Raise for rc, naming the device and, for a broken ring, the queue. */
static int drv_fail(lua_State *L, struct lvq_driver *dr, int rc, uint64_t errors_before)
{
	lvq_fail_dev(L, &dr->slot->dev, rc, errors_before);
}

/* The ring layout asked for: field ring of the option table at arg
 * ("split" or "packed"), else vqsim.defaults.ring (vqsim --ring), else
 * split. True for packed: the caller then asks for VIRTIO_F_RING_PACKED
 * (a device that does not offer it keeps the split layout). */
static bool opt_packed(lua_State *L, int arg, const char *fn)
{
	const char *ring = NULL;
	int top = lua_gettop(L);
	bool packed;

	if (lua_istable(L, arg) && lua_getfield(L, arg, "ring") != LUA_TNIL) {
		ring = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		if (!ring || (strcmp(ring, "split") != 0 && strcmp(ring, "packed") != 0))
			return luaL_error(L, "bad field 'ring' to '%s' (\"split\" or \"packed\")",
					  fn);
	} else if (lua_getglobal(L, "vqsim") == LUA_TTABLE &&
		   lua_getfield(L, -1, "defaults") == LUA_TTABLE &&
		   lua_getfield(L, -1, "ring") == LUA_TSTRING) {
		ring = lua_tostring(L, -1);
	}
	packed = ring && strcmp(ring, "packed") == 0;
	lua_settop(L, top);
	return packed;
}

#define RING_PACKED_BIT (1ull << (VIRTIO_F_RING_PACKED % 64))

static int r_init(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t want[VQ_FEATURE_WORDS] = {0}, before = dr->slot->dev.stats.errors;
	/* by default every queue the device has after negotiation */
	lua_Integer nq = VQ_DRV_ALL_QUEUES;
	int rc;

	if (!lua_isnoneornil(L, 2)) {
		static const char *const allowed[] = {"features", "queues", "ring", NULL};

		luaL_checktype(L, 2, LUA_TTABLE);
		lvq_checkopts(L, 2, "driver: init", allowed);
		if (lua_getfield(L, 2, "features") != LUA_TNIL)
			lvq_fieldfeatures(L, -1, want, dr->drv.device_id, "init");
		if (lua_getfield(L, 2, "queues") != LUA_TNIL)
			nq = lvq_fieldint(L, -1, "init", "queues", 0,
					  (lua_Integer)dr->slot->dev.nqueues);
		lua_settop(L, 2);
	}
	if (opt_packed(L, 2, "init"))
		want[VIRTIO_F_RING_PACKED / 64] |= RING_PACKED_BIT;
	rc = vq_drv_init(&dr->drv, want, (unsigned)nq);
	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	lua_settop(L, 1);
	return 1;
}

static int r_negotiate(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t want[VQ_FEATURE_WORDS], before = dr->slot->dev.stats.errors;
	int rc;

	lvq_checkfeatures_for(L, 2, want, dr->drv.device_id);
	rc = vq_drv_negotiate(&dr->drv, want);
	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	lvq_pushfeatures_for(L, dr->drv.features, dr->drv.device_id);
	return 1;
}

static int r_setup_queue(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	unsigned q = (unsigned)lvq_checkrange(L, 2, VQ_DEV_MAX_QUEUES - 1);
	uint16_t num = (uint16_t)(lua_isnoneornil(L, 3) ? 0 : lvq_checkrange(L, 3, VIRTQ_MAX_SIZE));
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_setup_queue(&dr->drv, q, num);

	if (rc < 0) {
		char who[VQ_DEV_NAME_MAX + 16];
		snprintf(who, sizeof(who), "%s.q%u", dr->slot->dev.name, q);
		if (dr->slot->dev.stats.errors != before)
			return luaL_error(L, "%s: %s: %s", who, vq_errname(rc),
					  dr->slot->dev.last_error_msg);
		lvq_fail(L, who, rc);
	}
	lvq_pushqueue(L, 1, dr->slot, dr, q);
	return 1;
}

static int r_driver_ok(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_driver_ok(&dr->drv);

	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	return 0;
}

static int r_reset(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_reset(&dr->drv);

	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	return 0;
}

static int r_status_str(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	char buf[96];

	lua_pushstring(L, vq_dev_status_str(vq_drv_status(&dr->drv), buf, sizeof(buf)));
	return 1;
}

static int r_features(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);

	lvq_pushfeatures_for(L, dr->drv.features, dr->drv.device_id);
	return 1;
}

static int r_offered(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);

	lvq_pushfeatures_for(L, dr->drv.offered, dr->drv.device_id);
	return 1;
}

static int r_has(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	int bit = lua_type(L, 2) == LUA_TNUMBER
			  ? (int)lvq_checkint(L, 2, "feature", 0, 64 * VQ_FEATURE_WORDS - 1)
			  : lvq_feature_bit_for(dr->drv.device_id, luaL_checkstring(L, 2));

	if (bit < 0 || bit >= 64 * VQ_FEATURE_WORDS)
		return luaL_argerror(L, 2, "unknown feature (see vqsim.features)");
	lua_pushboolean(L, vq_drv_has_feature(&dr->drv, (unsigned)bit));
	return 1;
}

static int r_alloc(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t size = lvq_checksize(L, 2), align = lvq_optsize(L, 3, 16), gpa;

	if (!align || (align & (align - 1)))
		return luaL_argerror(L, 3, "alignment must be a power of two");
	gpa = vq_drv_alloc(&dr->drv, size, align);
	if (!gpa)
		return luaL_error(L, "%s: driver: alloc(%I): heap exhausted (%I of %I bytes left)",
				  dr->slot->dev.name, (lua_Integer)size,
				  (lua_Integer)(dr->drv.heap_end - dr->drv.heap_next),
				  (lua_Integer)(dr->drv.heap_end - dr->drv.heap_start));
	lua_pushinteger(L, (lua_Integer)gpa);
	return 1;
}

static int r_queue(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	unsigned q = (unsigned)lvq_checkrange(L, 2, VQ_DEV_MAX_QUEUES - 1);

	if (!dr->drv.queues[q].active)
		return luaL_error(L, "%s.q%d: queue is not set up (d:init or d:setup_queue)",
				  dr->slot->dev.name, (int)q);
	lvq_pushqueue(L, 1, dr->slot, dr, q);
	return 1;
}

static int r_ack(lua_State *L)
{
	lua_pushinteger(L, vq_drv_ack_interrupt(&lvq_checkdriver(L, 1)->drv));
	return 1;
}

static int r_config_read(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, 0xff);
	uint32_t len = (uint32_t)lvq_checkrange(L, 3, 0x100 - off);
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	int rc = vq_drv_config_read(&dr->drv, off, luaL_buffinitsize(L, &b, len ? len : 1), len);

	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	luaL_pushresultsize(&b, len);
	return 1;
}

static int r_config_write(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, 0xff);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (off + len > 0x100)
		return luaL_argerror(L, 3, "write runs past the config window (256 bytes)");
	rc = vq_drv_config_write(&dr->drv, off, s, (uint32_t)len);
	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	return 0;
}

static int r_submit(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	unsigned q = (unsigned)lvq_checkrange(L, 2, VQ_DEV_MAX_QUEUES - 1);
	struct vq_buf bufs[LVQ_MAX_BUFS];
	unsigned n = lvq_checkbufs(L, 3, bufs, LVQ_MAX_BUFS);
	uint64_t before = dr->slot->dev.stats.errors;
	uint32_t used = 0;
	int rc;

	if (!dr->drv.queues[q].active)
		return luaL_error(L, "%s.q%d: queue is not set up", dr->slot->dev.name, (int)q);
	rc = vq_drv_submit(&dr->drv, q, bufs, n, &used);
	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	lua_pushinteger(L, used);
	return 1;
}

/* ---- per-device helpers ---- */

static int r_rng_read(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint32_t len = (uint32_t)lvq_checkrange(L, 2, UINT32_C(1) << 20);
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	long n;

	if (dr->drv.device_id != VIRTIO_ID_RNG)
		return luaL_error(L, "%s: rng_read: not a virtio-rng device", dr->slot->dev.name);
	if (!dr->drv.queues[0].active)
		return luaL_error(L, "%s.q0: rng_read: queue is not set up (d:init first)",
				  dr->slot->dev.name);
	if (len == 0)
		return luaL_argerror(L, 2, "length must be at least 1");
	n = vq_drv_rng_read(&dr->drv, luaL_buffinitsize(L, &b, len), len);
	if (n < 0)
		return drv_fail(L, dr, (int)n, before);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/* ---- per-device helpers: blk, net, balloon, console ----
 * Conventions (help "driver"): a device's answer comes back as a name
 * ("OK", "IOERR", "UNSUPP" for blk; "OK", "ERR" for net control), an
 * integer if the byte has no name; the request not being answered at all
 * (transport errors, DEVICE_NEEDS_RESET, guest heap exhausted) raises. */

static const char *const dev_type_names[] = {
	[VIRTIO_ID_NET] = "virtio-net", [VIRTIO_ID_BLOCK] = "virtio-blk",
	[VIRTIO_ID_CONSOLE] = "virtio-console", [VIRTIO_ID_RNG] = "virtio-rng",
	[VIRTIO_ID_BALLOON] = "virtio-balloon",
};

/* The driver at 1, checked to drive a device of type id. Raises
 * "NAME: fn: not a virtio-TYPE device" otherwise. */
static struct lvq_driver *check_helper(lua_State *L, uint32_t id, const char *fn)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);

	if (dr->drv.device_id != id)
		luaL_error(L, "%s: %s: not a %s device (device id %d)", dr->slot->dev.name, fn,
			   dev_type_names[id], (int)dr->drv.device_id);
	return dr;
}

/* Also require queue q set up by the driver. */
static struct lvq_driver *check_ready(lua_State *L, uint32_t id, const char *fn, unsigned q,
				      const char *init)
{
	struct lvq_driver *dr = check_helper(L, id, fn);

	if (!dr->drv.queues[q].active)
		luaL_error(L, "%s.q%d: %s: queue is not set up (%s first)", dr->slot->dev.name,
			   (int)q, fn, init);
	return dr;
}

/* Raise for a helper's negative rc: "NAME: fn: ERRNAME: description". */
static int helper_fail(lua_State *L, struct lvq_driver *dr, const char *fn, int rc,
		       uint64_t errors_before)
{
	if (rc == -VQ_E_RING_BROKEN || dr->slot->dev.stats.errors != errors_before)
		drv_fail(L, dr, rc, errors_before);
	luaL_error(L, "%s: %s: %s: %s", dr->slot->dev.name, fn, vq_errname(rc), vq_strerror(rc));
	return 0;
}

/* A non-negative integer argument up to max (any size: sectors may be huge). */
static uint64_t check_u64(lua_State *L, int arg, uint64_t max)
{
	lua_Integer v = luaL_checkinteger(L, arg);

	if (v < 0 || (uint64_t)v > max)
		luaL_argerror(L, arg, lua_pushfstring(L, "out of range 0..%I", (lua_Integer)max));
	return (uint64_t)v;
}

/* Read the option table at arg (nil: none) for fn, refusing keys outside
 * allowed: its features field, scoped to the driver's device type, into
 * the low feature word. */
static uint64_t opt_features(lua_State *L, struct lvq_driver *dr, int arg, const char *fn,
			     const char *const *allowed)
{
	uint64_t want[VQ_FEATURE_WORDS] = {0};
	uint64_t ring = opt_packed(L, arg, fn) ? RING_PACKED_BIT : 0;

	if (lua_isnoneornil(L, arg))
		return ring;
	luaL_checktype(L, arg, LUA_TTABLE);
	lvq_checkopts(L, arg, fn, allowed);
	if (lua_getfield(L, arg, "features") != LUA_TNIL)
		lvq_fieldfeatures(L, -1, want, dr->drv.device_id, fn);
	lua_pop(L, 1);
	for (unsigned w = 1; w < VQ_FEATURE_WORDS; w++)
		if (want[w])
			luaL_error(L, "bad field 'features' to '%s' (bits above 63 cannot be asked for "
				      "by this helper; use d:negotiate)", fn);
	return want[0] | ring;
}

/* Integer field k of the table at arg, 0..max, or def when absent. */
static uint64_t opt_field(lua_State *L, int arg, const char *k, uint64_t max, uint64_t def,
			  const char *fn)
{
	uint64_t v = def;

	if (lua_isnoneornil(L, arg))
		return def;
	if (lua_getfield(L, arg, k) != LUA_TNIL)
		v = (uint64_t)lvq_fieldint(L, -1, fn, k, 0, (lua_Integer)max);
	lua_pop(L, 1);
	return v;
}

/* ---- blk (spec 5.2) ---- */

#define LVQ_BLK_MAX_BYTES (UINT32_C(16) << 20)

static void push_blk_status(lua_State *L, int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: lua_pushliteral(L, "OK"); break;
	case VIRTIO_BLK_S_IOERR: lua_pushliteral(L, "IOERR"); break;
	case VIRTIO_BLK_S_UNSUPP: lua_pushliteral(L, "UNSUPP"); break;
	default: lua_pushinteger(L, st); break;
	}
}

#define BLK_READY(fn) check_ready(L, VIRTIO_ID_BLOCK, fn, 0, "d:init")

static int r_blk_read(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_read");
	uint64_t sector = check_u64(L, 2, UINT64_MAX >> 1);
	uint32_t len = (uint32_t)lvq_checkrange(L, 3, LVQ_BLK_MAX_BYTES);
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	int st = vq_drv_blk_read(&dr->drv, sector, luaL_buffinitsize(L, &b, len ? len : 1), len);

	if (st < 0)
		return helper_fail(L, dr, "blk_read", st, before);
	if (st != VIRTIO_BLK_S_OK) {
		lua_pushnil(L);
		push_blk_status(L, st);
		return 2;
	}
	luaL_pushresultsize(&b, len);
	return 1;
}

static int r_blk_write(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_write");
	uint64_t sector = check_u64(L, 2, UINT64_MAX >> 1);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int st;

	if (len > LVQ_BLK_MAX_BYTES)
		return luaL_argerror(L, 3, "data longer than 16 MiB");
	st = vq_drv_blk_write(&dr->drv, sector, s, (uint32_t)len);
	if (st < 0)
		return helper_fail(L, dr, "blk_write", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_flush(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_flush");
	uint64_t before = dr->slot->dev.stats.errors;
	int st = vq_drv_blk_flush(&dr->drv);

	if (st < 0)
		return helper_fail(L, dr, "blk_flush", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_get_id(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_get_id");
	uint64_t before = dr->slot->dev.stats.errors;
	uint8_t id[VIRTIO_BLK_ID_BYTES];
	size_t n = 0;
	int st = vq_drv_blk_get_id(&dr->drv, id);

	if (st < 0)
		return helper_fail(L, dr, "blk_get_id", st, before);
	if (st != VIRTIO_BLK_S_OK) {
		lua_pushnil(L);
		push_blk_status(L, st);
		return 2;
	}
	while (n < sizeof(id) && id[n])
		n++;
	lua_pushlstring(L, (const char *)id, n);
	return 1;
}

static int r_blk_discard(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_discard");
	uint64_t sector = check_u64(L, 2, UINT64_MAX >> 1);
	uint32_t n = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);
	uint64_t before = dr->slot->dev.stats.errors;
	int st = vq_drv_blk_discard(&dr->drv, sector, n);

	if (st < 0)
		return helper_fail(L, dr, "blk_discard", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_write_zeroes(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_write_zeroes");
	uint64_t sector = check_u64(L, 2, UINT64_MAX >> 1);
	uint32_t n = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);
	bool unmap = lua_toboolean(L, 4);
	uint64_t before = dr->slot->dev.stats.errors;
	int st = vq_drv_blk_write_zeroes(&dr->drv, sector, n, unmap);

	if (st < 0)
		return helper_fail(L, dr, "blk_write_zeroes", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_capacity(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BLOCK, "blk_capacity");
	uint64_t before = dr->slot->dev.stats.errors;
	int64_t cap = vq_drv_blk_capacity(&dr->drv);

	if (cap < 0)
		return helper_fail(L, dr, "blk_capacity", (int)cap, before);
	lua_pushinteger(L, (lua_Integer)cap);
	return 1;
}

static int r_blk_used_len(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BLOCK, "blk_used_len");

	lua_pushinteger(L, vq_drv_blk_used_len(&dr->drv));
	return 1;
}

/* ---- net (spec 5.1) ---- */

static int r_net_init(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_init");
	static const char *const allowed[] = {"features", "no_rx", "rx_buf_len", "rx_bufs", "ring", NULL};
	uint64_t feats = opt_features(L, dr, 2, "net_init", allowed);
	struct vq_drv_net_cfg cfg = {
		.rx_buf_len = (uint32_t)opt_field(L, 2, "rx_buf_len", VQ_NET_FRAME_MAX + 12u, 0,
						  "net_init"),
		.rx_bufs = (uint16_t)opt_field(L, 2, "rx_bufs", VIRTQ_MAX_SIZE, 0, "net_init"),
	};
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "no_rx");
		cfg.no_rx = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (cfg.rx_buf_len && cfg.rx_buf_len < VIRTIO_NET_HDR_LEN)
		return luaL_error(L, "bad field 'rx_buf_len' to 'net_init' (at least the %d-byte "
				     "header, spec 5.1.6.3.1)", (int)VIRTIO_NET_HDR_LEN);
	rc = vq_drv_net_init(&dr->drv, feats, &cfg);
	if (rc < 0)
		return helper_fail(L, dr, "net_init", rc, before);
	lua_settop(L, 1);
	return 1;
}

/* Which pair at arg (default 0), checked against the pairs set up. */
static unsigned check_pair(lua_State *L, struct lvq_driver *dr, int arg, const char *fn)
{
	lua_Integer p = luaL_optinteger(L, arg, 0);
	unsigned n = vq_drv_net_pairs(&dr->drv);

	if (!n)
		luaL_error(L, "%s: %s: driver not initialised (d:net_init first)",
			   dr->slot->dev.name, fn);
	if (p < 0 || p >= (lua_Integer)n)
		luaL_argerror(L, arg, lua_pushfstring(L, "no queue pair %I (%d set up)", p, (int)n));
	return (unsigned)p;
}

static const char *const net_hdr_fields[] = {
	"flags", "gso_type", "hdr_len", "gso_size", "csum_start", "csum_offset", "num_buffers",
	NULL,
};

static int r_net_send(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_send");
	size_t len;
	const char *frame = luaL_checklstring(L, 2, &len);
	unsigned pair = check_pair(L, dr, 3, "net_send");
	struct virtio_net_hdr hdr = {0};
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (len > VQ_NET_FRAME_MAX)
		return luaL_argerror(L, 2, "frame longer than 65553 bytes (mtu 65535 + a tagged Ethernet header)");
	if (!lua_isnoneornil(L, 4)) {
		uint16_t v[7] = {0};
		luaL_checktype(L, 4, LUA_TTABLE);
		lvq_checkopts(L, 4, "net_send", net_hdr_fields);
		for (int i = 0; net_hdr_fields[i]; i++)
			v[i] = (uint16_t)opt_field(L, 4, net_hdr_fields[i], i < 2 ? 0xff : 0xffff, 0,
						   "net_send");
		hdr.flags = (uint8_t)v[0];
		hdr.gso_type = (uint8_t)v[1];
		vq_put_le16(&hdr.hdr_len, v[2]);
		vq_put_le16(&hdr.gso_size, v[3]);
		vq_put_le16(&hdr.csum_start, v[4]);
		vq_put_le16(&hdr.csum_offset, v[5]);
		vq_put_le16(&hdr.num_buffers, v[6]);
	}
	rc = vq_drv_net_send(&dr->drv, pair, frame, (uint32_t)len, &hdr);
	if (rc < 0)
		return helper_fail(L, dr, "net_send", rc, before);
	return 0;
}

static int r_net_recv(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_recv");
	unsigned pair = check_pair(L, dr, 2, "net_recv");
	struct virtio_net_hdr hdr;
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	long n = vq_drv_net_recv(&dr->drv, pair, luaL_buffinitsize(L, &b, VQ_NET_FRAME_MAX),
				 VQ_NET_FRAME_MAX, &hdr);

	if (n < 0)
		return helper_fail(L, dr, "net_recv", (int)n, before);
	if (n == 0) {
		lua_pushnil(L);
		return 1;
	}
	luaL_pushresultsize(&b, (size_t)n > VQ_NET_FRAME_MAX ? VQ_NET_FRAME_MAX : (size_t)n);
	lua_createtable(L, 0, 7);
	lvq_setint(L, "flags", hdr.flags);
	lvq_setint(L, "gso_type", hdr.gso_type);
	lvq_setint(L, "hdr_len", vq_get_le16(&hdr.hdr_len));
	lvq_setint(L, "gso_size", vq_get_le16(&hdr.gso_size));
	lvq_setint(L, "csum_start", vq_get_le16(&hdr.csum_start));
	lvq_setint(L, "csum_offset", vq_get_le16(&hdr.csum_offset));
	lvq_setint(L, "num_buffers", vq_get_le16(&hdr.num_buffers));
	return 2;
}

static int r_net_post_rx(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_post_rx");
	unsigned n = (unsigned)lvq_checkrange(L, 2, VIRTQ_MAX_SIZE);
	unsigned pair = check_pair(L, dr, 3, "net_post_rx");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_net_post_rx(&dr->drv, pair, n);

	if (rc < 0)
		return helper_fail(L, dr, "net_post_rx", rc, before);
	lua_pushinteger(L, rc);
	return 1;
}

/* Control classes and their commands by name (spec 5.1.6.5). */
static const struct {
	const char *cls;
	uint8_t cls_v;
	const char *cmd;
	uint8_t cmd_v;
} net_ctrl_names[] = {
	{"RX", VIRTIO_NET_CTRL_RX, "PROMISC", VIRTIO_NET_CTRL_RX_PROMISC},
	{"RX", VIRTIO_NET_CTRL_RX, "ALLMULTI", VIRTIO_NET_CTRL_RX_ALLMULTI},
	{"RX", VIRTIO_NET_CTRL_RX, "ALLUNI", VIRTIO_NET_CTRL_RX_ALLUNI},
	{"RX", VIRTIO_NET_CTRL_RX, "NOMULTI", VIRTIO_NET_CTRL_RX_NOMULTI},
	{"RX", VIRTIO_NET_CTRL_RX, "NOUNI", VIRTIO_NET_CTRL_RX_NOUNI},
	{"RX", VIRTIO_NET_CTRL_RX, "NOBCAST", VIRTIO_NET_CTRL_RX_NOBCAST},
	{"MAC", VIRTIO_NET_CTRL_MAC, "TABLE_SET", VIRTIO_NET_CTRL_MAC_TABLE_SET},
	{"MAC", VIRTIO_NET_CTRL_MAC, "ADDR_SET", VIRTIO_NET_CTRL_MAC_ADDR_SET},
	{"VLAN", VIRTIO_NET_CTRL_VLAN, "ADD", VIRTIO_NET_CTRL_VLAN_ADD},
	{"VLAN", VIRTIO_NET_CTRL_VLAN, "DEL", VIRTIO_NET_CTRL_VLAN_DEL},
	{"ANNOUNCE", VIRTIO_NET_CTRL_ANNOUNCE, "ACK", VIRTIO_NET_CTRL_ANNOUNCE_ACK},
	{"MQ", VIRTIO_NET_CTRL_MQ, "VQ_PAIRS_SET", VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET},
	{"GUEST_OFFLOADS", VIRTIO_NET_CTRL_GUEST_OFFLOADS, "SET",
	 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET},
};
#define NNET_CTRL (sizeof(net_ctrl_names) / sizeof(net_ctrl_names[0]))

static int r_net_ctrl(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_ctrl");
	int cls = -1, cmd = -1;
	size_t len = 0;
	const char *data = luaL_optlstring(L, 4, "", &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (lua_type(L, 2) == LUA_TSTRING) {
		for (size_t i = 0; i < NNET_CTRL; i++)
			if (strcmp(net_ctrl_names[i].cls, lua_tostring(L, 2)) == 0)
				cls = net_ctrl_names[i].cls_v;
		if (cls < 0)
			return luaL_argerror(L, 2, "unknown class (RX, MAC, VLAN, ANNOUNCE, MQ, "
						   "GUEST_OFFLOADS, or a number)");
	} else {
		cls = (int)lvq_checkrange(L, 2, 255);
	}
	if (lua_type(L, 3) == LUA_TSTRING) {
		for (size_t i = 0; i < NNET_CTRL; i++)
			if (net_ctrl_names[i].cls_v == cls &&
			    strcmp(net_ctrl_names[i].cmd, lua_tostring(L, 3)) == 0)
				cmd = net_ctrl_names[i].cmd_v;
		if (cmd < 0)
			return luaL_argerror(L, 3, lua_pushfstring(L, "unknown command '%s' of class "
						"%d (see help \"net_ctrl\")", lua_tostring(L, 3), cls));
	} else {
		cmd = (int)lvq_checkrange(L, 3, 255);
	}
	if (len > VQ_NET_CTRL_DATA_MAX)
		return luaL_argerror(L, 4, "command data longer than 16384 bytes");
	if (vq_drv_net_ctrlq(&dr->drv) < 0)
		return luaL_error(L, "%s: net_ctrl: no control queue (d:net_init with "
				     "features={\"CTRL_VQ\"}, spec 5.1.2)", dr->slot->dev.name);
	rc = vq_drv_net_ctrl(&dr->drv, (uint8_t)cls, (uint8_t)cmd, data, (uint32_t)len);
	if (rc < 0)
		return helper_fail(L, dr, "net_ctrl", rc, before);
	if (rc == VIRTIO_NET_OK)
		lua_pushliteral(L, "OK");
	else if (rc == VIRTIO_NET_ERR)
		lua_pushliteral(L, "ERR");
	else
		lua_pushinteger(L, rc);
	return 1;
}

static int r_net_set_pairs(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_set_pairs");
	unsigned n = (unsigned)lvq_checkrange(L, 2, 0xffff);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (vq_drv_net_ctrlq(&dr->drv) < 0)
		return luaL_error(L, "%s: net_set_pairs: no control queue (d:net_init with "
				     "features={\"CTRL_VQ\", \"MQ\"})", dr->slot->dev.name);
	rc = vq_drv_net_set_pairs(&dr->drv, n);
	if (rc < 0)
		return helper_fail(L, dr, "net_set_pairs", rc, before);
	if (rc == VIRTIO_NET_OK)
		lua_pushliteral(L, "OK");
	else if (rc == VIRTIO_NET_ERR)
		lua_pushliteral(L, "ERR");
	else
		lua_pushinteger(L, rc);
	return 1;
}

static int r_net_mac(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_NET, "net_mac");
	uint64_t before = dr->slot->dev.stats.errors;
	uint8_t mac[6];
	int rc = vq_drv_net_mac(&dr->drv, mac);
	char s[18];

	if (rc < 0)
		return helper_fail(L, dr, "net_mac", rc, before);
	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	lua_pushstring(L, s);
	return 1;
}

/* ---- balloon (spec 5.5) ---- */

static int r_balloon_init(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BALLOON, "balloon_init");
	static const char *const allowed[] = {"features", "poison", "ring", NULL};
	uint64_t feats = opt_features(L, dr, 2, "balloon_init", allowed);
	uint64_t poison = opt_field(L, 2, "poison", UINT32_MAX, 0, "balloon_init");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_balloon_init_poison(&dr->drv, feats, (uint32_t)poison);

	if (rc < 0)
		return helper_fail(L, dr, "balloon_init", rc, before);
	lua_settop(L, 1);
	return 1;
}

typedef int (*pfn_fn)(struct vq_drv *, const uint32_t *, uint32_t);

static int balloon_pfns(lua_State *L, const char *fn, pfn_fn op)
{
	struct lvq_driver *dr = check_ready(L, VIRTIO_ID_BALLOON, fn, 0, "d:balloon_init");
	lua_Integer n;
	uint32_t *pfns;
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	luaL_checktype(L, 2, LUA_TTABLE);
	n = (lua_Integer)lua_rawlen(L, 2);
	if (n > (1 << 20))
		return luaL_argerror(L, 2, "more than 1048576 PFNs");
	pfns = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(*pfns), 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_Integer v;
		if (lua_geti(L, 2, i) != LUA_TNUMBER || !lvq_tointeger(L, -1, &v) || v < 0 ||
		    v > (lua_Integer)UINT32_MAX)
			return luaL_argerror(L, 2, lua_pushfstring(L, "PFN #%I is not a 32-bit page "
						"frame number (spec 5.5.6)", i));
		pfns[i - 1] = (uint32_t)v;
		lua_pop(L, 1);
	}
	rc = op(&dr->drv, pfns, (uint32_t)n);
	if (rc < 0)
		return helper_fail(L, dr, fn, rc, before);
	return 0;
}

static int r_balloon_inflate(lua_State *L)
{
	return balloon_pfns(L, "balloon_inflate", vq_drv_balloon_inflate);
}

static int r_balloon_deflate(lua_State *L)
{
	return balloon_pfns(L, "balloon_deflate", vq_drv_balloon_deflate);
}

static int r_balloon_set_actual(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BALLOON, "balloon_set_actual");
	uint32_t n = (uint32_t)lvq_checkrange(L, 2, UINT32_MAX);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_balloon_set_actual(&dr->drv, n);

	if (rc < 0)
		return helper_fail(L, dr, "balloon_set_actual", rc, before);
	return 0;
}

static int r_balloon_target(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BALLOON, "balloon_target");
	uint64_t before = dr->slot->dev.stats.errors;
	int64_t t = vq_drv_balloon_target(&dr->drv);

	if (t < 0)
		return helper_fail(L, dr, "balloon_target", (int)t, before);
	lua_pushinteger(L, (lua_Integer)t);
	return 1;
}

static int r_balloon_stats_requested(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BALLOON, "balloon_stats_requested");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_balloon_stats_requested(&dr->drv);

	if (rc < 0)
		return helper_fail(L, dr, "balloon_stats_requested", rc, before);
	lua_pushboolean(L, rc);
	return 1;
}

/* Memory statistics tags by name (spec 5.5.6.3.1). */
static const char *const balloon_tags[VIRTIO_BALLOON_S_NR] = {
	"SWAP_IN", "SWAP_OUT", "MAJFLT", "MINFLT", "MEMFREE", "MEMTOT", "AVAIL", "CACHES",
	"HTLB_PGALLOC", "HTLB_PGFAIL",
};

static int balloon_tag(const char *name)
{
	if (strncmp(name, "VIRTIO_BALLOON_", 15) == 0)
		name += 15;
	if (strncmp(name, "S_", 2) == 0)
		name += 2;
	for (int t = 0; t < VIRTIO_BALLOON_S_NR; t++)
		if (strcmp(balloon_tags[t], name) == 0)
			return t;
	return -1;
}

static int r_balloon_send_stats(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BALLOON, "balloon_send_stats");
	uint16_t tags[VQ_DRV_BALLOON_STATS_MAX];
	uint64_t vals[VQ_DRV_BALLOON_STATS_MAX], before = dr->slot->dev.stats.errors;
	uint32_t n = 0;
	int rc;

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		lua_Integer t, v;
		int tag = -1;
		if (lua_type(L, -2) == LUA_TSTRING)
			tag = balloon_tag(lua_tostring(L, -2));
		else if (lvq_tointeger(L, -2, &t) && t >= 0 && t <= 0xffff)
			tag = (int)t;
		if (tag < 0)
			return luaL_argerror(L, 2, lua_pushfstring(L, "unknown statistics tag '%s' "
						"(MEMFREE, MEMTOT, ... or a number 0..65535)",
						luaL_tolstring(L, -2, NULL)));
		if (!lvq_tointeger(L, -1, &v))
			return luaL_argerror(L, 2, lua_pushfstring(L, "value of tag %d must be an "
						"integer", tag));
		if (n == VQ_DRV_BALLOON_STATS_MAX)
			return luaL_argerror(L, 2, "more than 32 entries");
		/* insertion sort by tag: table order is not deterministic */
		uint32_t i = n++;
		while (i > 0 && tags[i - 1] > tag) {
			tags[i] = tags[i - 1];
			vals[i] = vals[i - 1];
			i--;
		}
		tags[i] = (uint16_t)tag;
		vals[i] = (uint64_t)v;
		lua_pop(L, 1);
	}
	rc = vq_drv_balloon_send_stats(&dr->drv, tags, vals, n);
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: balloon_send_stats: STATE: the device holds the stats "
				     "buffer (wait for balloon:request_stats(), spec 5.5.6.3) or "
				     "STATS_VQ was not negotiated", dr->slot->dev.name);
	if (rc < 0)
		return helper_fail(L, dr, "balloon_send_stats", rc, before);
	return 0;
}

static int r_balloon_report(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_BALLOON, "balloon_report");
	uint64_t gpas[LVQ_MAX_BUFS], before = dr->slot->dev.stats.errors;
	uint32_t lens[LVQ_MAX_BUFS];
	lua_Integer n;
	int rc;

	luaL_checktype(L, 2, LUA_TTABLE);
	n = (lua_Integer)lua_rawlen(L, 2);
	if (n > LVQ_MAX_BUFS)
		return luaL_argerror(L, 2, "more than 256 ranges");
	for (lua_Integer i = 1; i <= n; i++) {
		lua_Integer g, l;
		lua_geti(L, 2, i);
		if (!lua_istable(L, -1))
			return luaL_argerror(L, 2, lua_pushfstring(L, "range #%I: {gpa, len} expected", i));
		lua_geti(L, -1, 1);
		lua_geti(L, -2, 2);
		if (!lvq_tointeger(L, -2, &g) || !lvq_tointeger(L, -1, &l) || g < 0 || l < 0 ||
		    l > (lua_Integer)UINT32_MAX)
			return luaL_argerror(L, 2, lua_pushfstring(L, "range #%I: {gpa, len} with "
						"integers, len below 4 GiB", i));
		gpas[i - 1] = (uint64_t)g;
		lens[i - 1] = (uint32_t)l;
		lua_pop(L, 3);
	}
	rc = vq_drv_balloon_report(&dr->drv, gpas, lens, (uint32_t)n);
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: balloon_report: STATE: PAGE_REPORTING not negotiated "
				     "(spec 5.5.6.6)", dr->slot->dev.name);
	if (rc < 0)
		return helper_fail(L, dr, "balloon_report", rc, before);
	return 0;
}

/* ---- console (spec 5.3) ---- */

static int r_console_init(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_init");
	static const char *const allowed[] = {"features", "ring", NULL};
	uint64_t feats = opt_features(L, dr, 2, "console_init", allowed);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_console_init(&dr->drv, feats);

	if (rc < 0)
		return helper_fail(L, dr, "console_init", rc, before);
	lua_settop(L, 1);
	return 1;
}

static unsigned check_port(lua_State *L, struct lvq_driver *dr, int arg, const char *fn)
{
	lua_Integer p = luaL_checkinteger(L, arg);
	unsigned n = vq_drv_console_ports(&dr->drv);

	if (!n)
		luaL_error(L, "%s: %s: driver not initialised (d:console_init first)",
			   dr->slot->dev.name, fn);
	if (p < 0 || p >= (lua_Integer)n)
		luaL_argerror(L, arg, lua_pushfstring(L, "no port %I (the driver has %d)", p, (int)n));
	return (unsigned)p;
}

static int r_console_write(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_write");
	unsigned port = check_port(L, dr, 2, "console_write");
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	long n = vq_drv_console_write(&dr->drv, port, s, len);

	if (n < 0)
		return helper_fail(L, dr, "console_write", (int)n, before);
	lua_pushinteger(L, n);
	return 1;
}

static int r_console_read(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_read");
	unsigned port = check_port(L, dr, 2, "console_read");
	size_t cap = lua_isnoneornil(L, 3) ? 65536 : (size_t)lvq_checkrange(L, 3, 1u << 24);
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	long n;

	n = vq_drv_console_read(&dr->drv, port, luaL_buffinitsize(L, &b, cap ? cap : 1), cap);
	if (n < 0)
		return helper_fail(L, dr, "console_read", (int)n, before);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

static int r_console_open(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_open");
	unsigned port = check_port(L, dr, 2, "console_open");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	luaL_checktype(L, 3, LUA_TBOOLEAN);
	rc = vq_drv_console_open(&dr->drv, port, lua_toboolean(L, 3));
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: console_open: STATE: port %d is not ready or MULTIPORT "
				     "was not negotiated (spec 5.3.6.2)", dr->slot->dev.name,
				  (int)port);
	if (rc < 0)
		return helper_fail(L, dr, "console_open", rc, before);
	return 0;
}

static int r_console_port_name(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_port_name");
	unsigned port = check_port(L, dr, 2, "console_port_name");
	const char *name = vq_drv_console_port_name(&dr->drv, port);

	if (name)
		lua_pushstring(L, name);
	else
		lua_pushnil(L);
	return 1;
}

static int r_console_host_open(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_host_open");
	unsigned port = check_port(L, dr, 2, "console_host_open");

	lua_pushboolean(L, vq_drv_console_host_open(&dr->drv, port));
	return 1;
}

static int r_console_emerg_write(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_emerg_write");
	uint64_t before = dr->slot->dev.stats.errors;
	uint8_t ch;
	int rc;

	if (lua_type(L, 2) == LUA_TSTRING) {
		if (lua_rawlen(L, 2) != 1)
			return luaL_argerror(L, 2, "one character expected");
		ch = (uint8_t)lua_tostring(L, 2)[0];
	} else {
		ch = (uint8_t)lvq_checkrange(L, 2, 255);
	}
	rc = vq_drv_console_emerg_write(&dr->drv, ch);
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: console_emerg_write: STATE: EMERG_WRITE not offered "
				     "(option emerg=on, spec 5.3.4)", dr->slot->dev.name);
	if (rc < 0)
		return helper_fail(L, dr, "console_emerg_write", rc, before);
	return 0;
}

static int r_console_send_ctrl(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_send_ctrl");
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (len < 1 || len > VQ_DRV_CONSOLE_CTRL_TX_SIZE)
		return luaL_argerror(L, 2, "message must be 1..64 bytes");
	rc = vq_drv_console_send_ctrl(&dr->drv, s, (uint32_t)len);
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: console_send_ctrl: STATE: MULTIPORT not negotiated "
				     "(no control queue, spec 5.3.2)", dr->slot->dev.name);
	if (rc < 0)
		return helper_fail(L, dr, "console_send_ctrl", rc, before);
	return 0;
}

static const char *const console_events[] = {
	"DEVICE_READY", "DEVICE_ADD", "DEVICE_REMOVE", "PORT_READY", "CONSOLE_PORT", "RESIZE",
	"PORT_OPEN", "PORT_NAME",
};

static int r_console_ctrl_log(lua_State *L)
{
	struct lvq_driver *dr = check_helper(L, VIRTIO_ID_CONSOLE, "console_ctrl_log");
	const struct vq_drv_console_msg *log;
	unsigned n = vq_drv_console_ctrl_log(&dr->drv, &log);

	lua_createtable(L, (int)n, 0);
	for (unsigned i = 0; i < n; i++) {
		lua_createtable(L, 0, 6);
		lvq_setint(L, "id", log[i].id);
		if (log[i].event < sizeof(console_events) / sizeof(console_events[0]))
			lua_pushstring(L, console_events[log[i].event]);
		else
			lua_pushinteger(L, log[i].event);
		lua_setfield(L, -2, "event");
		lvq_setint(L, "value", log[i].value);
		lvq_setint(L, "len", log[i].len);
		if (log[i].event == VIRTIO_CONSOLE_PORT_NAME) {
			lua_pushstring(L, log[i].name);
			lua_setfield(L, -2, "name");
		} else if (log[i].event == VIRTIO_CONSOLE_RESIZE) {
			lvq_setint(L, "cols", log[i].cols);
			lvq_setint(L, "rows", log[i].rows);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int r_getter(lua_State *L)
{
	struct lvq_driver *dr = luaL_checkudata(L, 1, LVQ_DRIVER);
	const char *k = lua_tostring(L, 2);

	if (!dr->attached)
		return 0;
	if (strcmp(k, "status") == 0) {
		lua_pushinteger(L, vq_drv_status(&dr->drv));
	} else if (strcmp(k, "device") == 0) {
		lua_getiuservalue(L, 1, 1);
	} else if (strcmp(k, "device_id") == 0) {
		lua_pushinteger(L, dr->drv.device_id);
	} else if (strcmp(k, "heap") == 0) {
		lua_pushinteger(L, (lua_Integer)dr->drv.heap_start);
	} else if (strcmp(k, "heap_size") == 0) {
		lua_pushinteger(L, (lua_Integer)(dr->drv.heap_end - dr->drv.heap_start));
	} else if (strcmp(k, "heap_free") == 0) {
		lua_pushinteger(L, (lua_Integer)(dr->drv.heap_end - dr->drv.heap_next));
	} else if (strcmp(k, "config_irqs") == 0) {
		lua_pushinteger(L, (lua_Integer)dr->drv.config_irqs);
	} else if (strcmp(k, "vring_irqs") == 0) {
		lua_pushinteger(L, (lua_Integer)dr->drv.vring_irqs);
	} else if (strcmp(k, "pci") == 0) {
		lvq_push_drv_pci(L, &dr->drv);
	} else {
		return 0;
	}
	return 1;
}

static int r_tostring(lua_State *L)
{
	struct lvq_driver *dr = luaL_checkudata(L, 1, LVQ_DRIVER);
	char buf[96];
	int nq = 0;

	if (!dr->attached) {
		lua_pushliteral(L, "driver (detached)");
		return 1;
	}
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++)
		nq += dr->drv.queues[q].active;
	lua_pushfstring(L, "driver for %s: status %s, %d queue(s), heap %s+%s (%I free)",
			dr->slot->dev.name,
			vq_dev_status_str(vq_drv_status(&dr->drv), buf, sizeof(buf)), nq,
			LVQ_HEX(dr->drv.heap_start), LVQ_HEX(dr->drv.heap_end - dr->drv.heap_start),
			(lua_Integer)(dr->drv.heap_end - dr->drv.heap_next));
	return 1;
}

static int r_gc(lua_State *L)
{
	struct lvq_driver *dr = luaL_checkudata(L, 1, LVQ_DRIVER);

	if (dr->attached)
		vq_drv_detach(&dr->drv);
	dr->attached = false;
	return 0;
}

static const luaL_Reg methods[] = {
	{"init", r_init},           {"negotiate", r_negotiate}, {"setup_queue", r_setup_queue},
	{"driver_ok", r_driver_ok}, {"reset", r_reset},         {"status_str", r_status_str},
	{"features", r_features},   {"offered", r_offered},     {"has", r_has},
	{"alloc", r_alloc},         {"queue", r_queue},         {"ack", r_ack},
	{"config_read", r_config_read}, {"config_write", r_config_write},
	{"submit", r_submit},       {"rng_read", r_rng_read},
	{"blk_read", r_blk_read},   {"blk_write", r_blk_write}, {"blk_flush", r_blk_flush},
	{"blk_get_id", r_blk_get_id}, {"blk_discard", r_blk_discard},
	{"blk_write_zeroes", r_blk_write_zeroes}, {"blk_capacity", r_blk_capacity},
	{"blk_used_len", r_blk_used_len},
	{"net_init", r_net_init},   {"net_send", r_net_send},   {"net_recv", r_net_recv},
	{"net_post_rx", r_net_post_rx}, {"net_ctrl", r_net_ctrl},
	{"net_set_pairs", r_net_set_pairs}, {"net_mac", r_net_mac},
	{"balloon_init", r_balloon_init}, {"balloon_inflate", r_balloon_inflate},
	{"balloon_deflate", r_balloon_deflate}, {"balloon_set_actual", r_balloon_set_actual},
	{"balloon_target", r_balloon_target},
	{"balloon_stats_requested", r_balloon_stats_requested},
	{"balloon_send_stats", r_balloon_send_stats}, {"balloon_report", r_balloon_report},
	{"console_init", r_console_init}, {"console_write", r_console_write},
	{"console_read", r_console_read}, {"console_open", r_console_open},
	{"console_port_name", r_console_port_name}, {"console_host_open", r_console_host_open},
	{"console_emerg_write", r_console_emerg_write},
	{"console_send_ctrl", r_console_send_ctrl}, {"console_ctrl_log", r_console_ctrl_log},
	{NULL, NULL},
};

static const luaL_Reg meta[] = {{"__tostring", r_tostring}, {"__gc", r_gc}, {NULL, NULL}};

static const char *const fields[] = {
	"status", "device", "device_id", "heap", "heap_size", "heap_free", "config_irqs",
	"vring_irqs", "pci", NULL,
};

void lvq_open_driver(lua_State *L)
{
	lvq_newclass(L, LVQ_DRIVER, methods, meta, r_getter, fields);
}
