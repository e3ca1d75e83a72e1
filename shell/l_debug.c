/* l_debug.c - structured tracing options and the debugger from Lua:
 * m:trace{file=, format=, kinds=, devices=, queues=}, m:break{...},
 * m:watch{...}, m:delete(id), m:breakpoints(), m:step() reporting the
 * events it ran, and m:run()/m:continue() stopping at a hit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvq.h"

int lvq_trace_format = VQ_TRACE_TEXT;
struct vq_trace_filter lvq_trace_filter = {.kinds = ~0u};

/* List field name of the options table at arg, calling fn on each entry
 * (at index -1). Nothing when absent. */
static void each_in(lua_State *L, int arg, const char *name,
		    void (*fn)(lua_State *L, int arg, struct vq_trace_filter *f),
		    struct vq_trace_filter *f)
{
	int t = lua_getfield(L, arg, name);

	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (t != LUA_TTABLE) { /* a single value stands for a list of one */
		fn(L, arg, f);
		lua_pop(L, 1);
		return;
	}
	for (lua_Integer i = 1; lua_geti(L, -1, i) != LUA_TNIL; i++) {
		fn(L, arg, f);
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
}

static void add_kind(lua_State *L, int arg, struct vq_trace_filter *f)
{
	const char *k = lua_tostring(L, -1);
	int e = vq_ev_parse(k);

	if (e < 0)
		luaL_argerror(L, arg, lua_pushfstring(L, "unknown trace kind '%s' (kinds: reg, "
				"notify, chain, used, irq, status, features, config, error, fault, "
				"device, machine)", k ? k : luaL_typename(L, -1)));
	f->kinds |= 1u << e;
}

static void add_dev(lua_State *L, int arg, struct vq_trace_filter *f)
{
	const char *d = lua_tostring(L, -1);

	if (!d || vq_trace_filter_add_dev(f, d) < 0)
		luaL_argerror(L, arg, "devices: names of at most 31 characters, at most 8 of them");
}

static void add_queue(lua_State *L, int arg, struct vq_trace_filter *f)
{
	lua_Integer q;

	if (!lvq_tointeger(L, -1, &q) || q < 0 || q >= 64)
		luaL_argerror(L, arg, "queues: integers 0..63");
	f->queues |= 1ull << q;
}

int lvq_trace_opts(lua_State *L, int arg, struct vq_trace_filter *f, int *fmt)
{
	vq_trace_filter_all(f);
	*fmt = VQ_TRACE_TEXT;
	if (!lua_istable(L, arg))
		return 0;
	if (lua_getfield(L, arg, "kinds") != LUA_TNIL) {
		f->kinds = 0;
		lua_pop(L, 1);
		each_in(L, arg, "kinds", add_kind, f);
	} else {
		lua_pop(L, 1);
	}
	each_in(L, arg, "devices", add_dev, f);
	each_in(L, arg, "queues", add_queue, f);
	if (lua_getfield(L, arg, "format") != LUA_TNIL) {
		*fmt = vq_trace_format_parse(lua_tostring(L, -1));
		if (*fmt < 0)
			luaL_argerror(L, arg, "format must be \"text\" or \"json\"");
	}
	lua_pop(L, 1);
	return 0;
}

void lvq_push_trace_rec(lua_State *L, const struct vq_trace_rec *r)
{
	char line[512];
	FILE *f;

	lua_createtable(L, 0, 10);
	lvq_setint(L, "time", (lua_Integer)r->time);
	lvq_setint(L, "seq", (lua_Integer)r->seq);
	lua_pushstring(L, vq_trace_rec_kind(r));
	lua_setfield(L, -2, "kind");
	lua_pushstring(L, r->dev);
	lua_setfield(L, -2, "dev");
	if (r->queue >= 0)
		lvq_setint(L, "queue", r->queue);
	lua_pushstring(L, r->text);
	lua_setfield(L, -2, "text");
	for (unsigned i = 0; i < r->nargs; i++) {
		if (r->args[i].type == VQ_TA_U64) {
			lvq_setint(L, r->args[i].key, (lua_Integer)r->args[i].u);
		} else if (r->args[i].type == VQ_TA_STR) {
			lua_pushstring(L, r->args[i].s);
			lua_setfield(L, -2, r->args[i].key);
		} else {
			lua_createtable(L, (int)r->nseg, 0);
			for (unsigned s = 0; s < r->nseg; s++) {
				lvq_pushseg(L, r->seg[s].gpa, r->seg[s].len, r->seg[s].write);
				lua_rawseti(L, -2, (lua_Integer)s + 1);
			}
			lua_setfield(L, -2, r->args[i].key);
		}
	}
	/* the line as a text trace shows it, for printing */
	f = fmemopen(line, sizeof(line), "w");
	if (f) {
		vq_trace_rec_write_text(f, r);
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		lua_pushstring(L, line);
		lua_setfield(L, -2, "line");
	}
}

/* The machine's debugger, created on first use. */
static struct vq_debug *debugger(lua_State *L, struct lvq_machine *lm)
{
	if (!lm->dbg && !(lm->dbg = vq_debug_new(lm->m)))
		luaL_error(L, "machine: out of memory");
	return lm->dbg;
}

void lvq_debug_release(struct lvq_machine *lm)
{
	vq_debug_free(lm->dbg);
	lm->dbg = NULL;
}

uint64_t lvq_debug_run(struct lvq_machine *lm, uint64_t max)
{
	uint64_t n = 0;

	if (!lm->dbg)
		return vq_machine_run(lm->m, max);
	while (n < max && !lm->dbg->hit && vq_machine_step(lm->m))
		n++;
	return n;
}

bool lvq_announce_hits;

/* Print "breakpoint 1 hit: <event line>" (or "breakpoints 1, 2 hit") for
 * the hit table at -1. */
static void announce(lua_State *L, const int *ids, unsigned n)
{
	const char *line;

	fflush(stdout);
	printf("%s ", n > 1 ? "breakpoints" : "breakpoint");
	for (unsigned i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", ids[i]);
	lua_getfield(L, -1, "line");
	line = lua_tostring(L, -1);
	printf(" hit: %s\n", line ? line : "?");
	lua_pop(L, 1);
	fflush(stdout);
}

bool lvq_debug_hit(const struct lvq_machine *lm)
{
	return lm->dbg && lm->dbg->hit;
}

int lvq_debug_push_hit(lua_State *L, struct lvq_machine *lm)
{
	struct vq_trace_rec *r;
	int id, ids[VQ_DEBUG_MAX_BPS];
	unsigned nhit;

	if (!lm->dbg || !lm->dbg->hit)
		return 0;
	r = malloc(sizeof(*r));
	if (!r)
		return luaL_error(L, "machine: out of memory");
	nhit = lm->dbg->nhit;
	memcpy(ids, lm->dbg->hit_ids, sizeof(ids));
	id = vq_debug_take_hit(lm->dbg, r);
	lvq_push_trace_rec(L, r);
	free(r);
	lvq_setint(L, "bp", id);
	/* every breakpoint that matched the event, in slot order */
	lua_createtable(L, (int)nhit, 0);
	for (unsigned i = 0; i < nhit; i++) {
		lua_pushinteger(L, ids[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "bps");
	if (lvq_announce_hits)
		announce(L, ids, nhit);
	return 1;
}

/* m:break{kind=, dev=, queue=, <field>=value...} -> id */
int lvq_m_break(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_bp b = {.queue = -1};
	const char **keys;
	size_t nkeys;
	int id;

	luaL_checktype(L, 2, LUA_TTABLE);
	/* sorted: conditions and the first error do not depend on hash order */
	keys = lvq_sortedkeys(L, 2, "machine: break", &nkeys);
	for (size_t i = 0; i < nkeys; i++) {
		const char *k = keys[i];
		lua_Integer v;

		lua_getfield(L, 2, k);
		if (!strcmp(k, "kind")) {
			int e = vq_ev_parse(lua_tostring(L, -1));
			if (e < 0)
				luaL_argerror(L, 2, lua_pushfstring(L, "unknown event kind '%s'",
								    lua_tostring(L, -1)));
			b.kinds |= 1u << e;
		} else if (!strcmp(k, "dev") || !strcmp(k, "device")) {
			const char *d = lua_tostring(L, -1);
			if (!d || strlen(d) >= sizeof(b.dev))
				luaL_argerror(L, 2, "dev: a device name");
			strcpy(b.dev, d);
		} else if (!strcmp(k, "queue")) {
			b.queue = (int)lvq_fieldint(L, -1, "break", "queue", 0, 63);
		} else {
			if (b.ncond >= VQ_DEBUG_MAX_CONDS || strlen(k) >= sizeof(b.cond[0].key))
				luaL_argerror(L, 2, "at most 4 field conditions, names under 16 bytes");
			strcpy(b.cond[b.ncond].key, k);
			if (lvq_tointeger(L, -1, &v)) {
				b.cond[b.ncond].u = (uint64_t)v;
			} else if (lua_type(L, -1) == LUA_TBOOLEAN) {
				b.cond[b.ncond].u = lua_toboolean(L, -1);
			} else if (lua_type(L, -1) == LUA_TSTRING) {
				b.cond[b.ncond].is_str = true;
				snprintf(b.cond[b.ncond].s, sizeof(b.cond[0].s), "%s",
					 lua_tostring(L, -1));
			} else {
				luaL_argerror(L, 2, lua_pushfstring(L, "field '%s': integer or string",
								    k));
			}
			b.ncond++;
		}
		lua_pop(L, 1);
	}
	id = vq_debug_break(debugger(L, lm), &b);
	if (id < 0)
		lvq_fail(L, "machine: break", id);
	lua_pushinteger(L, id);
	return 1;
}

static const char *const watch_keys[] = {"gpa", "len", "on", NULL};

/* m:watch{gpa=, len=, on="write"} -> id */
int lvq_m_watch(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t gpa, len = 1;
	int id;

	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, "machine: watch", watch_keys);
	if (lua_getfield(L, 2, "gpa") == LUA_TNIL)
		luaL_argerror(L, 2, "field 'gpa' is required");
	gpa = lvq_fieldsize(L, lua_gettop(L), "machine:watch", "gpa");
	if (lua_getfield(L, 2, "len") != LUA_TNIL)
		len = lvq_fieldsize(L, lua_gettop(L), "machine:watch", "len");
	if (lua_getfield(L, 2, "on") != LUA_TNIL && strcmp(lua_tostring(L, -1) ? lua_tostring(L, -1)
							  : "", "write") != 0)
		luaL_argerror(L, 2, "on: only \"write\" is supported");
	lua_settop(L, 2);
	id = vq_debug_watch(debugger(L, lm), gpa, len);
	if (id < 0)
		lvq_fail(L, "machine: watch", id);
	lua_pushinteger(L, id);
	return 1;
}

/* m:delete(id) -> true, or false when no such id */
int lvq_m_delete(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);

	lua_pushboolean(L, lm->dbg && id > 0 && id <= INT32_MAX &&
			   vq_debug_delete(lm->dbg, (int)id) == 0);
	return 1;
}

/* m:breakpoints() -> {{id=, type="break"|"watch", hits=, ...}, ...} */
int lvq_m_breakpoints(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	lua_Integer n = 0;

	lua_newtable(L);
	for (unsigned i = 0; lm->dbg && i < VQ_DEBUG_MAX_BPS; i++) {
		const struct vq_bp *b = &lm->dbg->bp[i];

		if (b->id <= 0)
			continue;
		lua_createtable(L, 0, 6);
		lvq_setint(L, "id", b->id);
		lua_pushstring(L, b->watch ? "watch" : "break");
		lua_setfield(L, -2, "type");
		lvq_setint(L, "hits", (lua_Integer)b->hits);
		if (b->watch) {
			lvq_setint(L, "gpa", (lua_Integer)b->gpa);
			lvq_setint(L, "len", (lua_Integer)b->len);
		} else {
			if (b->dev[0]) {
				lua_pushstring(L, b->dev);
				lua_setfield(L, -2, "dev");
			}
			if (b->queue >= 0)
				lvq_setint(L, "queue", b->queue);
			for (int e = 0; e < VQ_EV__COUNT; e++)
				if (b->kinds & (1u << e)) {
					lua_pushstring(L, vq_ev_name((enum vq_ev)e));
					lua_setfield(L, -2, "kind");
				}
			for (unsigned c = 0; c < b->ncond; c++) {
				if (b->cond[c].is_str)
					lua_pushstring(L, b->cond[c].s);
				else
					lua_pushinteger(L, (lua_Integer)b->cond[c].u);
				lua_setfield(L, -2, b->cond[c].key);
			}
		}
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

/* m:step() -> true, {events it emitted}[, hit] ; false when nothing is queued */
int lvq_m_step(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_debug *d = debugger(L, lm);
	unsigned n;
	int ran;

	vq_debug_log(d, true);
	ran = vq_machine_step(lm->m);
	n = d->nlog < VQ_DEBUG_LOG ? d->nlog : VQ_DEBUG_LOG;
	lua_pushboolean(L, ran);
	lua_createtable(L, (int)n, 0);
	for (unsigned i = 0; i < n; i++) {
		lvq_push_trace_rec(L, &d->log[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	vq_debug_log(d, false);
	return 2 + lvq_debug_push_hit(L, lm);
}
