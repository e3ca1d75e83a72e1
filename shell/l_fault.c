/* l_fault.c - fault injection from Lua: m:fault{...}, m:unfault(id), m:faults().
 *
 * A thin layer over emu/fault.h: the options table becomes a struct
 * vq_fault_spec, the registry is the machine's (vq_machine_faults).
 */
#include <string.h>

#include "lvq.h"

#define FN "fault"

/* Field name of t (at idx) as a [lo, hi) pair {lo, hi}; false when absent. */
static bool opt_range(lua_State *L, int idx, const char *name, uint64_t *lo, uint64_t *hi)
{
	int t;

	if (lua_getfield(L, idx, name) == LUA_TNIL) {
		lua_pop(L, 1);
		return false;
	}
	t = lua_gettop(L);
	if (!lua_istable(L, t) || lua_rawlen(L, t) != 2)
		luaL_error(L, FN ": trigger field '%s' must be {lo, hi} (the range [lo, hi))", name);
	lua_geti(L, t, 1);
	*lo = lvq_fieldsize(L, lua_gettop(L), FN, name);
	lua_geti(L, t, 2);
	*hi = lvq_fieldsize(L, lua_gettop(L), FN, name);
	lua_settop(L, t - 1);
	if (*lo >= *hi)
		luaL_error(L, FN ": trigger field '%s': empty range (lo must be below hi)", name);
	return true;
}

/* Optional size field name of the table at idx (def when absent). */
static uint64_t opt_size(lua_State *L, int idx, const char *name, uint64_t def)
{
	uint64_t v = def;

	if (lua_getfield(L, idx, name) != LUA_TNIL)
		v = lvq_fieldsize(L, lua_gettop(L), FN, name);
	lua_pop(L, 1);
	return v;
}

/* Optional device name field at idx into who. */
static void opt_dev(lua_State *L, int idx, char *who, size_t len)
{
	if (lua_getfield(L, idx, "dev") != LUA_TNIL) {
		const char *s = NULL;

		if (luaL_testudata(L, -1, LVQ_DEVICE))
			s = lvq_checkdevice(L, lua_gettop(L))->slot->dev.name;
		else if (lua_type(L, -1) == LUA_TSTRING)
			s = lua_tostring(L, -1);
		else
			luaL_error(L, FN ": field 'dev' must be a device or its name");
		if (strlen(s) >= len)
			luaL_error(L, FN ": field 'dev': name '%s' too long", s);
		strcpy(who, s);
	}
	lua_pop(L, 1);
}

static void parse_trigger(lua_State *L, int idx, struct vq_fault_trigger *t)
{
	static const char *const allowed[] = {"dev", "every", "gpa", "nth", "prob", "sector",
					      "time", NULL};
	int ty;

	lvq_checkopts(L, idx, FN " trigger", allowed);
	if ((ty = lua_getfield(L, idx, "nth")) != LUA_TNIL) {
		t->nth = lvq_fieldsize(L, lua_gettop(L), FN, "nth");
		if (t->nth == 0)
			luaL_error(L, FN ": trigger nth counts from 1");
	}
	lua_pop(L, 1);
	if ((ty = lua_getfield(L, idx, "every")) != LUA_TNIL) {
		if (ty == LUA_TBOOLEAN)
			t->every = lua_toboolean(L, -1) ? 1 : 0;
		else
			t->every = lvq_fieldsize(L, lua_gettop(L), FN, "every");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, idx, "prob") != LUA_TNIL) {
		int isnum;

		t->prob = lua_tonumberx(L, -1, &isnum);
		if (!isnum || !(t->prob > 0 && t->prob <= 1))
			luaL_error(L, FN ": trigger prob must be a number in (0, 1]");
	}
	lua_pop(L, 1);
	t->has_gpa = opt_range(L, idx, "gpa", &t->gpa0, &t->gpa1);
	t->has_sector = opt_range(L, idx, "sector", &t->sector0, &t->sector1);
	t->has_time = opt_range(L, idx, "time", &t->t0, &t->t1);
	opt_dev(L, idx, t->who, sizeof(t->who));
	if (t->nth && t->every)
		luaL_error(L, FN ": trigger takes nth or every, not both");
}

/* m:fault{point=, trigger={...}, action=, max=, delay=, bytes=, offset=,
 * xor=, fill=, dev=} -> id */
int lvq_m_fault(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_fault_spec spec;
	const char *s;
	int p, a, rc;

	static const char *const allowed[] = {"action", "bytes", "delay", "dev", "fill", "max",
					      "offset", "point", "trigger", "xor", NULL};

	memset(&spec, 0, sizeof(spec));
	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, FN, allowed);
	lua_getfield(L, 2, "point");
	s = lua_tostring(L, -1);
	if (!s || (p = vq_fault_point_parse(s)) < 0) {
		luaL_Buffer b;

		luaL_buffinit(L, &b);
		for (int i = 0; i < VQ_FP__COUNT; i++) {
			luaL_addstring(&b, i ? ", " : "");
			luaL_addstring(&b, vq_fault_point_name((enum vq_fault_point)i));
		}
		luaL_pushresult(&b);
		return luaL_error(L, FN ": point '%s' unknown (expected one of %s)", s ? s : "nil",
				  lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	spec.point = (enum vq_fault_point)p;
	lua_getfield(L, 2, "action");
	if (!lua_isnil(L, -1)) {
		s = lua_tostring(L, -1);
		if (!s || (a = vq_fault_action_parse(s)) < 0)
			return luaL_error(L, FN ": action '%s' unknown", s ? s : "?");
		spec.action = (enum vq_fault_action)a;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "trigger") != LUA_TNIL) {
		luaL_argexpected(L, lua_istable(L, -1), 2, "trigger table");
		parse_trigger(L, lua_gettop(L), &spec.trig);
	}
	lua_pop(L, 1);
	if (!spec.trig.who[0])
		opt_dev(L, 2, spec.trig.who, sizeof(spec.trig.who));
	spec.max = opt_size(L, 2, "max", 0);
	spec.arg = opt_size(L, 2, "delay", 0);
	spec.arg = opt_size(L, 2, "bytes", spec.arg);
	spec.arg = opt_size(L, 2, "offset", spec.arg);
	if (lua_getfield(L, 2, "xor") != LUA_TNIL)
		spec.xor_mask = (uint8_t)lvq_fieldint(L, -1, FN, "xor", 0, 0xff);
	lua_pop(L, 1);
	lua_getfield(L, 2, "fill");
	if (!lua_isnil(L, -1)) {
		spec.use_fill = true;
		spec.fill = (uint8_t)lvq_fieldint(L, -1, FN, "fill", 0, 0xff);
	}
	lua_pop(L, 1);
	if (spec.trig.has_gpa && spec.point != VQ_FP_MEM_READ && spec.point != VQ_FP_MEM_WRITE)
		return luaL_error(L, FN ": trigger gpa applies to mem.read and mem.write only");
	if (spec.trig.has_sector && !vq_fault_point_has_sector(spec.point))
		return luaL_error(L, FN ": trigger sector applies to blk.read, blk.write and "
				  "blk.discard only");
	rc = vq_fault_add(vq_machine_faults(lm->m), &spec);
	if (rc == -VQ_E_INVAL)
		return luaL_error(L, FN ": action '%s' is not one point '%s' can carry out "
				  "(see help \"fault\")",
				  vq_fault_action_name(spec.action == VQ_FA_DEFAULT
							       ? vq_fault_default_action(spec.point)
							       : spec.action),
				  vq_fault_point_name(spec.point));
	if (rc < 0)
		lvq_fail(L, FN, rc);
	lua_pushinteger(L, rc);
	return 1;
}

/* m:unfault(id) -> true; m:unfault() removes every fault. */
int lvq_m_unfault(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_faults *f = vq_machine_faults(lm->m);

	if (lua_isnoneornil(L, 2)) {
		vq_fault_clear(f);
	} else {
		lua_Integer id = luaL_checkinteger(L, 2);

		if (id < 0 || id >= VQ_FAULT_MAX || vq_fault_remove(f, (int)id) < 0)
			return luaL_error(L, "unfault: no fault %d", (int)id);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* m:faults() -> {{id=, point=, action=, trigger=, hits=, fired=, max=}, ...} */
int lvq_m_faults(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_faults *f = vq_machine_faults(lm->m);
	lua_Integer n = 0;

	lua_newtable(L);
	for (int i = 0; i < VQ_FAULT_MAX; i++) {
		const struct vq_fault *fl = vq_fault_get(f, i);
		char tb[160];

		if (!fl)
			continue;
		lua_newtable(L);
		lvq_setint(L, "id", fl->id);
		lua_pushstring(L, vq_fault_point_name(fl->spec.point));
		lua_setfield(L, -2, "point");
		lua_pushstring(L, vq_fault_action_name(fl->spec.action));
		lua_setfield(L, -2, "action");
		lua_pushstring(L, vq_fault_trigger_str(fl, tb, sizeof(tb)));
		lua_setfield(L, -2, "trigger");
		lvq_setint(L, "hits", (lua_Integer)fl->hits);
		lvq_setint(L, "fired", (lua_Integer)fl->fired);
		lvq_setint(L, "max", (lua_Integer)fl->spec.max);
		lua_seti(L, -2, ++n);
	}
	return 1;
}
