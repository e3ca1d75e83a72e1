/* l_drv_balloon.c - the driver object's virtio-balloon (spec 5.5): d:balloon_init, balloon_inflate,
 * balloon_deflate, balloon_set_actual, balloon_target, balloon_stats_requested,
 * balloon_send_stats, balloon_report helpers (vqsim-lua(7) DRIVER).
 */
#include <string.h>

#include "l_driver.h"

/* ---- balloon (spec 5.5) ---- */

static int r_balloon_init(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BALLOON, "balloon_init");
	static const char *const allowed[] = {"features", "poison", "ring", NULL};
	uint64_t feats = lvq_drv_opt_features(L, dr, 2, "balloon_init", allowed);
	uint64_t poison = lvq_drv_opt_field(L, 2, "poison", UINT32_MAX, 0, "balloon_init");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_balloon_init_poison(&dr->drv, feats, (uint32_t)poison);

	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "balloon_init", rc, before);
	lua_settop(L, 1);
	return 1;
}

typedef int (*pfn_fn)(struct vq_drv *, const uint32_t *, uint32_t);

static int balloon_pfns(lua_State *L, const char *fn, pfn_fn op)
{
	struct lvq_driver *dr = lvq_drv_check_ready(L, VIRTIO_ID_BALLOON, fn, 0, "d:balloon_init");
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
		return lvq_drv_helper_fail(L, dr, fn, rc, before);
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
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BALLOON, "balloon_set_actual");
	uint32_t n = (uint32_t)lvq_checkrange(L, 2, UINT32_MAX);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_balloon_set_actual(&dr->drv, n);

	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "balloon_set_actual", rc, before);
	return 0;
}

static int r_balloon_target(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BALLOON, "balloon_target");
	uint64_t before = dr->slot->dev.stats.errors;
	int64_t t = vq_drv_balloon_target(&dr->drv);

	if (t < 0)
		return lvq_drv_helper_fail(L, dr, "balloon_target", (int)t, before);
	lua_pushinteger(L, (lua_Integer)t);
	return 1;
}

static int r_balloon_stats_requested(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BALLOON, "balloon_stats_requested");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_balloon_stats_requested(&dr->drv);

	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "balloon_stats_requested", rc, before);
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
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BALLOON, "balloon_send_stats");
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
		return lvq_drv_helper_fail(L, dr, "balloon_send_stats", rc, before);
	return 0;
}

static int r_balloon_report(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BALLOON, "balloon_report");
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
		return lvq_drv_helper_fail(L, dr, "balloon_report", rc, before);
	return 0;
}

const luaL_Reg lvq_drv_balloon_methods[] = {
	{"balloon_init", r_balloon_init},
	{"balloon_inflate", r_balloon_inflate},
	{"balloon_deflate", r_balloon_deflate},
	{"balloon_set_actual", r_balloon_set_actual},
	{"balloon_target", r_balloon_target},
	{"balloon_stats_requested", r_balloon_stats_requested},
	{"balloon_send_stats", r_balloon_send_stats},
	{"balloon_report", r_balloon_report},
	{NULL, NULL},
};
