/* l_devring.c - m:device_ring{...}: the device side of a virtqueue, driven
 * by the script instead of a device.
 *
 * The script plays the device: it pops chains (fully validated by emu/ring,
 * exactly as a device's pops are), pushes used elements with the lengths it
 * chooses, publishes, and turns notifications on and off. Ring errors are
 * results here, not Lua errors: pop() returns nil, the error's name and its
 * detail, and the ring stays broken until r:reset() and r:init(). What it is
 * for: replaying the ring fuzz harness's inputs (vqsim --from-fuzz ring),
 * and checking a driver written by hand against chosen completions.
 *
 * Popped chains are kept in the object, by head, until pushed. */
#include <stdlib.h>
#include <string.h>

#include "lvq.h"

#define LVQ_DEVRING "vqsim.devring"

struct lvq_devring {
	struct vq_ring r;
	enum vq_ring_layout layout;
	uint16_t num;
	struct vq_ring_addr addr;
	unsigned features;        /* VQ_RING_F_* */
	bool inited;              /* r was initialised (reset() clears it) */
	struct vq_chain *held;    /* num chains, by head; */
	uint32_t *in_flight;      /* times head h was popped and not yet pushed */
	struct vq_chain scratch;  /* a batch pop's storage before filing by head */
};

/* The ring object at arg, its machine still open. */
static struct lvq_devring *checkring(lua_State *L, int arg)
{
	struct lvq_devring *dr = luaL_checkudata(L, arg, LVQ_DEVRING);
	struct lvq_machine *lm;

	lua_getiuservalue(L, arg, 1);
	lm = luaL_checkudata(L, -1, LVQ_MACHINE);
	lua_pop(L, 1);
	if (!lm->m)
		luaL_argerror(L, arg, "the ring's machine is closed");
	if (!dr->held)
		luaL_argerror(L, arg, "the ring is closed");
	return dr;
}

/* Push nil, the error's name and a detail: 3 results. The call that broke
 * the ring gets that error's name and values; a later call on the broken
 * ring gets RING_BROKEN, the detail naming the first error. */
static int push_ring_error(lua_State *L, const struct lvq_devring *dr, int rc)
{
	const char *detail = dr->r.error_detail;

	lua_pushnil(L);
	lua_pushstring(L, vq_errname(rc));
	if (rc == -VQ_E_RING_BROKEN && dr->r.error)
		lua_pushfstring(L, "%s: first %s: %s", vq_strerror(rc), vq_errname(dr->r.error),
				detail);
	else if (rc == dr->r.error && detail[0])
		lua_pushfstring(L, "%s: %s", vq_strerror(rc), detail);
	else
		lua_pushstring(L, vq_strerror(rc));
	return 3;
}

/* Push chain c as {head=, ndesc=, read_bytes=, write_bytes=, segs={{gpa=,
 * len=, write=}, ...}}. */
static void push_chain(lua_State *L, const struct vq_chain *c)
{
	lua_createtable(L, 0, 5);
	lvq_setint(L, "head", c->head);
	lvq_setint(L, "ndesc", c->ndesc);
	lvq_setint(L, "read_bytes", (lua_Integer)c->read_bytes);
	lvq_setint(L, "write_bytes", (lua_Integer)c->write_bytes);
	lua_createtable(L, (int)c->nseg, 0);
	for (uint32_t i = 0; i < c->nseg; i++) {
		lvq_pushseg(L, c->seg[i].gpa, c->seg[i].len, c->seg[i].writable);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "segs");
}

/* File the chain just popped into c under its head, swapping storage so
 * nothing is copied and each slot keeps its own segment array. A head the
 * driver made available twice while in flight (the split ring cannot tell)
 * keeps the later chain and is counted twice. */
static void file_chain(struct lvq_devring *dr, struct vq_chain *c)
{
	uint16_t h = c->head;
	struct vq_chain t = dr->held[h];

	dr->held[h] = *c;
	*c = t;
	dr->in_flight[h]++;
}

static void release(struct lvq_devring *dr)
{
	if (dr->held) {
		for (unsigned i = 0; i < dr->num; i++)
			vq_chain_release(&dr->held[i]);
		free(dr->held);
		dr->held = NULL;
	}
	free(dr->in_flight);
	dr->in_flight = NULL;
	vq_chain_release(&dr->scratch);
}

/* (Re-)initialise the ring from its stored geometry. 0 or the error. */
static int ring_init(struct vq_machine *m, struct lvq_devring *dr)
{
	memset(dr->in_flight, 0, dr->num * sizeof(*dr->in_flight));
	dr->inited = true;
	return vq_ring_init(&dr->r, vq_machine_mem(m), dr->layout, dr->num, &dr->addr,
			    dr->features);
}

static const char *const layouts[] = {"split", "packed", NULL};

/* m:device_ring{num=, desc=, driver=, device=, features={...}, layout=}
 * -> ring, or nil, error name, detail when the geometry is refused (the
 * object is then still returned as the 4th value, broken, for inspection). */
static int m_device_ring(lua_State *L)
{
	static const char *const allowed[] = {"desc", "device", "driver", "features",
					      "layout", "num", NULL};
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct lvq_devring *dr;
	uint64_t fw[VQ_FEATURE_WORDS] = {0};
	int rc;

	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, "machine:device_ring", allowed);
	dr = lvq_newobj(L, sizeof(*dr), LVQ_DEVRING, 1);
	lua_getfield(L, 2, "num");
	dr->num = (uint16_t)lvq_fieldint(L, -1, "machine:device_ring", "num", 1, VIRTQ_MAX_SIZE);
	lua_getfield(L, 2, "desc");
	dr->addr.desc = lvq_fieldsize(L, lua_gettop(L), "machine:device_ring", "desc");
	lua_getfield(L, 2, "driver");
	dr->addr.driver = lvq_fieldsize(L, lua_gettop(L), "machine:device_ring", "driver");
	lua_getfield(L, 2, "device");
	dr->addr.device = lvq_fieldsize(L, lua_gettop(L), "machine:device_ring", "device");
	lua_pop(L, 4);
	lua_getfield(L, 2, "layout");
	dr->layout = lua_isnil(L, -1) ? VQ_RING_SPLIT
				      : (enum vq_ring_layout)luaL_checkoption(L, -1, NULL, layouts);
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "features") != LUA_TNIL)
		lvq_fieldfeatures(L, lua_gettop(L), fw, 0, "machine:device_ring");
	lua_pop(L, 1);
	if (fw[0] & (1ull << VIRTIO_F_EVENT_IDX))
		dr->features |= VQ_RING_F_EVENT_IDX;
	if (fw[0] & (1ull << VIRTIO_F_INDIRECT_DESC))
		dr->features |= VQ_RING_F_INDIRECT;
	if (fw[0] & (1ull << VIRTIO_F_IN_ORDER))
		dr->features |= VQ_RING_F_IN_ORDER;
	dr->held = calloc(dr->num, sizeof(*dr->held));
	dr->in_flight = calloc(dr->num, sizeof(*dr->in_flight));
	if (!dr->held || !dr->in_flight)
		return luaL_error(L, "machine:device_ring: out of memory");
	for (unsigned i = 0; i < dr->num; i++)
		vq_chain_init(&dr->held[i]);
	vq_chain_init(&dr->scratch);
	rc = ring_init(lm->m, dr);
	if (rc < 0) {
		int n = push_ring_error(L, dr, rc);

		lua_pushvalue(L, -n - 1);
		return n + 1;
	}
	return 1;
}

/* r:pop() -> chain | nil (nothing available) | nil, name, detail */
static int r_pop(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	int rc = vq_ring_pop(&dr->r, &dr->scratch);
	uint16_t h;

	if (rc < 0)
		return push_ring_error(L, dr, rc);
	if (rc == 0) {
		lua_pushnil(L);
		return 1;
	}
	h = dr->scratch.head;
	file_chain(dr, &dr->scratch);
	push_chain(L, &dr->held[h]);
	return 1;
}

/* r:pop_batch(max) -> list of chains [, name, detail after an error]: the
 * batched pop path (vq_ring_pop_batch), up to max chains. */
static int r_pop_batch(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	unsigned max = (unsigned)lvq_checkint(L, 2, "max", 1, dr->num);
	struct vq_chain *c = calloc(max, sizeof(*c));
	int got, n = 0;

	if (!c)
		return luaL_error(L, "devring:pop_batch: out of memory");
	for (unsigned i = 0; i < max; i++)
		vq_chain_init(&c[i]);
	got = vq_ring_pop_batch(&dr->r, c, max);
	lua_createtable(L, got > 0 ? got : 0, 0);
	for (int i = 0; i < got; i++) {
		uint16_t h = c[i].head;

		file_chain(dr, &c[i]);
		push_chain(L, &dr->held[h]);
		lua_rawseti(L, -2, ++n);
	}
	for (unsigned i = 0; i < max; i++)
		vq_chain_release(&c[i]);
	free(c);
	if (got < 0) {
		push_ring_error(L, dr, got);
		lua_remove(L, -3); /* the nil */
		return 3;
	}
	return 1;
}

/* The held chain named by the chain table or head number at arg. */
static struct vq_chain *checkheld(lua_State *L, struct lvq_devring *dr, int arg)
{
	lua_Integer h;

	if (lua_istable(L, arg)) {
		lua_getfield(L, arg, "head");
		h = lvq_fieldint(L, lua_gettop(L), "devring:push", "head", 0, dr->num - 1);
		lua_pop(L, 1);
	} else {
		h = lvq_checkint(L, arg, "chain", 0, dr->num - 1);
	}
	if (!dr->in_flight[h])
		luaL_argerror(L, arg, lua_pushfstring(L, "no chain with head %d is in flight "
						      "(popped and not pushed)", (int)h));
	return &dr->held[h];
}

/* r:push(chain | head, written) -> true | nil, name, detail. Written past
 * the chain's writable bytes: pushed with the length clamped, and nil,
 * "RING_USED_LEN", detail (a device bug, not a broken ring). */
static int r_push(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	struct vq_chain *c = checkheld(L, dr, 2);
	uint32_t written = (uint32_t)lvq_checkint(L, 3, "written", 0, UINT32_MAX);
	int rc = vq_ring_push(&dr->r, c, written);

	if (rc == -VQ_E_RING_USED_LEN) {
		dr->in_flight[c->head]--;
		lua_pushnil(L);
		lua_pushstring(L, vq_errname(rc));
		lua_pushfstring(L, "%s: %d bytes written, the chain has %d writable: pushed as %d",
				vq_strerror(rc), (int)written, (int)c->write_bytes,
				(int)c->write_bytes);
		return 3;
	}
	if (rc < 0)
		return push_ring_error(L, dr, rc);
	dr->in_flight[c->head]--;
	lua_pushboolean(L, 1);
	return 1;
}

/* r:publish() -> true (an interrupt is due) | false | nil, name, detail */
static int r_publish(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	int rc = vq_ring_publish(&dr->r);

	if (rc < 0)
		return push_ring_error(L, dr, rc);
	lua_pushboolean(L, rc > 0);
	return 1;
}

/* r:set_notify(enable) -> true | nil, name, detail */
static int r_set_notify(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	int rc;

	luaL_checktype(L, 2, LUA_TBOOLEAN);
	rc = vq_ring_set_notify(&dr->r, lua_toboolean(L, 2));
	if (rc < 0)
		return push_ring_error(L, dr, rc);
	lua_pushboolean(L, 1);
	return 1;
}

/* r:pending() -> chains available | nil, name, detail */
static int r_pending(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	int rc = vq_ring_pending(&dr->r);

	if (rc < 0)
		return push_ring_error(L, dr, rc);
	lua_pushinteger(L, rc);
	return 1;
}

/* r:reset(): the queue is stopped; chains in flight are forgotten. */
static int r_reset(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);

	vq_ring_reset(&dr->r);
	memset(dr->in_flight, 0, dr->num * sizeof(*dr->in_flight));
	dr->inited = false;
	return 0;
}

/* r:init() -> true | nil, name, detail: set the ring up again from the
 * same geometry (after reset(), or to re-read a rewritten ring). */
static int r_init(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1);
	struct lvq_machine *lm;
	int rc;

	lua_getiuservalue(L, 1, 1);
	lm = lua_touserdata(L, -1);
	lua_pop(L, 1);
	rc = ring_init(lm->m, dr);
	if (rc < 0)
		return push_ring_error(L, dr, rc);
	lua_pushboolean(L, 1);
	return 1;
}

/* r:clone() -> a second ring object in the same state (indices, error,
 * notification setting) over the same memory, with no chain in flight:
 * the same pops can be tried two ways (r:pop() beside r2:pop_batch()). */
static int r_clone(lua_State *L)
{
	struct lvq_devring *dr = checkring(L, 1), *cp;

	lua_getiuservalue(L, 1, 1); /* the machine: the clone's owner too */
	cp = lvq_newobj(L, sizeof(*cp), LVQ_DEVRING, lua_gettop(L));
	cp->r = dr->r;
	cp->layout = dr->layout;
	cp->num = dr->num;
	cp->addr = dr->addr;
	cp->features = dr->features;
	cp->inited = dr->inited;
	cp->held = calloc(cp->num, sizeof(*cp->held));
	cp->in_flight = calloc(cp->num, sizeof(*cp->in_flight));
	if (!cp->held || !cp->in_flight)
		return luaL_error(L, "devring:clone: out of memory");
	for (unsigned i = 0; i < cp->num; i++)
		vq_chain_init(&cp->held[i]);
	vq_chain_init(&cp->scratch);
	return 1;
}

static int r_gc(lua_State *L)
{
	release(luaL_checkudata(L, 1, LVQ_DEVRING));
	return 0;
}

static int r_tostring(lua_State *L)
{
	struct lvq_devring *dr = luaL_checkudata(L, 1, LVQ_DEVRING);
	unsigned n = 0;

	for (unsigned i = 0; dr->held && i < dr->num; i++)
		n += dr->in_flight[i];
	lua_pushfstring(L, "device ring (%s, size %d, desc %s, driver %s, device %s): %s, "
			"%d chains in flight", layouts[dr->layout], (int)dr->num,
			LVQ_HEX(dr->addr.desc), LVQ_HEX(dr->addr.driver), LVQ_HEX(dr->addr.device),
			!dr->inited ? "reset" : dr->r.error ? vq_errname(dr->r.error) : "working", (int)n);
	return 1;
}

static int r_getter(lua_State *L)
{
	struct lvq_devring *dr = luaL_checkudata(L, 1, LVQ_DEVRING);
	const char *k = lua_tostring(L, 2);

	if (!k)
		return 0;
	if (strcmp(k, "num") == 0) {
		lua_pushinteger(L, dr->num);
	} else if (strcmp(k, "layout") == 0) {
		lua_pushstring(L, layouts[dr->layout]);
	} else if (strcmp(k, "error") == 0) {
		if (dr->r.error && dr->inited)
			lua_pushstring(L, vq_errname(dr->r.error));
		else
			lua_pushnil(L);
	} else if (strcmp(k, "error_detail") == 0) {
		lua_pushstring(L, dr->r.error_detail);
	} else if (strcmp(k, "last_avail") == 0) {
		lua_pushinteger(L, dr->r.last_avail);
	} else if (strcmp(k, "used_idx") == 0) {
		lua_pushinteger(L, dr->r.used_idx);
	} else if (strcmp(k, "in_flight") == 0) {
		lua_newtable(L);
		for (unsigned i = 0, n = 0; dr->held && i < dr->num; i++)
			for (uint32_t t = 0; t < dr->in_flight[i]; t++) {
				lua_pushinteger(L, i);
				lua_rawseti(L, -2, ++n);
			}
	} else {
		return 0;
	}
	return 1;
}

static const luaL_Reg methods[] = {
	{"pop", r_pop},           {"pop_batch", r_pop_batch}, {"push", r_push},
	{"publish", r_publish},   {"set_notify", r_set_notify}, {"pending", r_pending},
	{"reset", r_reset},       {"init", r_init},           {"clone", r_clone},
	{NULL, NULL},
};

static const luaL_Reg meta[] = {
	{"__gc", r_gc}, {"__close", r_gc}, {"__tostring", r_tostring}, {NULL, NULL},
};

static const char *const fields[] = {"num", "layout", "error", "error_detail", "last_avail",
				     "used_idx", "in_flight", NULL};

int lvq_m_device_ring(lua_State *L)
{
	return m_device_ring(L);
}

void lvq_open_devring(lua_State *L)
{
	lvq_newclass(L, LVQ_DEVRING, methods, meta, r_getter, fields);
}
