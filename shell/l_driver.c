/* l_driver.c - the reference driver object: init sequence, queues, guest
 * heap, config space, rng (vqsim-lua(7) DRIVER); the other devices'
 * helpers are in l_drv_*.c (l_driver.h).
 */
#include <string.h>

#include "l_driver.h"

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

int lvq_drv_fail(lua_State *L, struct lvq_driver *dr, int rc, uint64_t errors_before)
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
		return lvq_drv_fail(L, dr, rc, before);
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
		return lvq_drv_fail(L, dr, rc, before);
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
		return lvq_drv_fail(L, dr, rc, before);
	return 0;
}

static int r_reset(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_reset(&dr->drv);

	if (rc < 0)
		return lvq_drv_fail(L, dr, rc, before);
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
		return lvq_drv_fail(L, dr, rc, before);
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
		return lvq_drv_fail(L, dr, rc, before);
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
		return lvq_drv_fail(L, dr, rc, before);
	lua_pushinteger(L, used);
	return 1;
}

/* ---- rng (spec 5.4); the other devices' helpers are in l_drv_*.c ---- */

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
		return lvq_drv_fail(L, dr, (int)n, before);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/* ---- what the per-device helpers share (l_driver.h) ---- */

static const char *const dev_type_names[] = {
	[VIRTIO_ID_NET] = "virtio-net", [VIRTIO_ID_BLOCK] = "virtio-blk",
	[VIRTIO_ID_CONSOLE] = "virtio-console", [VIRTIO_ID_RNG] = "virtio-rng",
	[VIRTIO_ID_BALLOON] = "virtio-balloon",
};

/* The driver at 1, checked to drive a device of type id. Raises
 * "NAME: fn: not a virtio-TYPE device" otherwise. */
struct lvq_driver *lvq_drv_check_type(lua_State *L, uint32_t id, const char *fn)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);

	if (dr->drv.device_id != id)
		luaL_error(L, "%s: %s: not a %s device (device id %d)", dr->slot->dev.name, fn,
			   dev_type_names[id], (int)dr->drv.device_id);
	return dr;
}

/* Also require queue q set up by the driver. */
struct lvq_driver *lvq_drv_check_ready(lua_State *L, uint32_t id, const char *fn, unsigned q,
				      const char *init)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, id, fn);

	if (!dr->drv.queues[q].active)
		luaL_error(L, "%s.q%d: %s: queue is not set up (%s first)", dr->slot->dev.name,
			   (int)q, fn, init);
	return dr;
}

/* Raise for a helper's negative rc: "NAME: fn: ERRNAME: description". */
int lvq_drv_helper_fail(lua_State *L, struct lvq_driver *dr, const char *fn, int rc,
		       uint64_t errors_before)
{
	if (rc == -VQ_E_RING_BROKEN || dr->slot->dev.stats.errors != errors_before)
		lvq_drv_fail(L, dr, rc, errors_before);
	luaL_error(L, "%s: %s: %s: %s", dr->slot->dev.name, fn, vq_errname(rc), vq_strerror(rc));
	return 0;
}

/* A non-negative integer argument up to max (any size: sectors may be huge). */
uint64_t lvq_drv_check_u64(lua_State *L, int arg, uint64_t max)
{
	lua_Integer v = luaL_checkinteger(L, arg);

	if (v < 0 || (uint64_t)v > max)
		luaL_argerror(L, arg, lua_pushfstring(L, "out of range 0..%I", (lua_Integer)max));
	return (uint64_t)v;
}

/* Read the option table at arg (nil: none) for fn, refusing keys outside
 * allowed: its features field, scoped to the driver's device type, into
 * the low feature word. */
uint64_t lvq_drv_opt_features(lua_State *L, struct lvq_driver *dr, int arg, const char *fn,
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
uint64_t lvq_drv_opt_field(lua_State *L, int arg, const char *k, uint64_t max, uint64_t def,
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
	{"init", r_init},
	{"negotiate", r_negotiate},
	{"setup_queue", r_setup_queue},
	{"driver_ok", r_driver_ok},
	{"reset", r_reset},
	{"status_str", r_status_str},
	{"features", r_features},
	{"offered", r_offered},
	{"has", r_has},
	{"alloc", r_alloc},
	{"queue", r_queue},
	{"ack", r_ack},
	{"config_read", r_config_read},
	{"config_write", r_config_write},
	{"submit", r_submit},
	{"rng_read", r_rng_read},
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
	lvq_class_add(L, LVQ_DRIVER, lvq_drv_blk_methods);
	lvq_class_add(L, LVQ_DRIVER, lvq_drv_net_methods);
	lvq_class_add(L, LVQ_DRIVER, lvq_drv_balloon_methods);
	lvq_class_add(L, LVQ_DRIVER, lvq_drv_console_methods);
}
