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

static int r_init(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	uint64_t want[VQ_FEATURE_WORDS] = {0}, before = dr->slot->dev.stats.errors;
	lua_Integer nq = dr->slot->dev.nqueues;
	int rc;

	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "features") != LUA_TNIL)
			lvq_checkfeatures(L, lua_gettop(L), want);
		if (lua_getfield(L, 2, "queues") != LUA_TNIL) {
			if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 ||
			    lua_tointeger(L, -1) > (lua_Integer)dr->slot->dev.nqueues)
				return luaL_argerror(L, 2, lua_pushfstring(L, "field 'queues' must be "
							"0..%d", (int)dr->slot->dev.nqueues));
			nq = lua_tointeger(L, -1);
		}
		lua_settop(L, 2);
	}
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

	lvq_checkfeatures(L, 2, want);
	rc = vq_drv_negotiate(&dr->drv, want);
	if (rc < 0)
		return drv_fail(L, dr, rc, before);
	lvq_pushfeatures(L, dr->drv.features);
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
	lvq_pushfeatures(L, lvq_checkdriver(L, 1)->drv.features);
	return 1;
}

static int r_offered(lua_State *L)
{
	lvq_pushfeatures(L, lvq_checkdriver(L, 1)->drv.offered);
	return 1;
}

static int r_has(lua_State *L)
{
	struct lvq_driver *dr = lvq_checkdriver(L, 1);
	int bit = lua_isinteger(L, 2) ? (int)lua_tointeger(L, 2)
				      : lvq_feature_bit(luaL_checkstring(L, 2));

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
	{"submit", r_submit},       {"rng_read", r_rng_read},   {NULL, NULL},
};

static const luaL_Reg meta[] = {{"__tostring", r_tostring}, {"__gc", r_gc}, {NULL, NULL}};

static const char *const fields[] = {
	"status", "device", "device_id", "heap", "heap_size", "heap_free", "config_irqs",
	"vring_irqs", NULL,
};

void lvq_open_driver(lua_State *L)
{
	lvq_newclass(L, LVQ_DRIVER, methods, meta, r_getter, fields);
}
