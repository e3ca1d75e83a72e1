/* l_machine.c - the machine object: memory, devices, the event loop, trace
 * and statistics (vqsim-lua(7) MACHINE).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvq.h"

#define RUN_CHUNK 4096u        /* events between two Ctrl-C checks */
#define RUN_UNTIL_DEFAULT 1000000
#define POLL_SLICE_MS 50       /* m:poll waits this long between Ctrl-C checks */

struct lvq_machine *lvq_checkmachine(lua_State *L, int arg)
{
	struct lvq_machine *lm = luaL_checkudata(L, arg, LVQ_MACHINE);

	if (!lm->m)
		luaL_argerror(L, arg, "machine is closed");
	return lm;
}


/* Where new machines trace by default (--trace); NULL: nowhere. */
FILE *lvq_trace_default;
const char *lvq_default_ring = "split";
/* Push the machine's cache table (user value 1): device objects by slot,
 * the mem object under "mem". */
static void push_cache(lua_State *L, int mobj)
{
	lua_getiuservalue(L, mobj, 1);
}

void lvq_pushdevice(lua_State *L, int mobj, struct vq_slot *s)
{
	struct lvq_device *ld;

	mobj = lua_absindex(L, mobj);
	push_cache(L, mobj);
	lua_rawgetp(L, -1, s);
	if (!lua_isnil(L, -1)) {
		lua_remove(L, -2);
		return;
	}
	lua_pop(L, 1);
	ld = lvq_newobj(L, sizeof(*ld), LVQ_DEVICE, mobj);
	ld->slot = s;
	lua_pushvalue(L, -1);
	lua_rawsetp(L, -3, s);
	lua_remove(L, -2);
}

/* The collector sees a machine as a small userdata, not as the memfds,
 * mappings and backend descriptors it holds, so a loop that drops
 * machines without closing them piles up hundreds before a collection
 * comes. Like CPython's generation thresholds: count the open machines and
 * collect in full when a new one would pass collect_at; after that the
 * threshold is twice the machines still open (never below MACHINES_MIN),
 * so keeping many machines alive costs amortised O(1) collections. */
#define MACHINES_MIN 8
static unsigned machines_open, collect_at = MACHINES_MIN;

static void account_new_machine(lua_State *L)
{
	if (machines_open >= collect_at) {
		lua_gc(L, LUA_GCCOLLECT);
		collect_at = machines_open * 2 > MACHINES_MIN ? machines_open * 2 : MACHINES_MIN;
	}
	machines_open++;
}

int lvq_machine_new(lua_State *L)
{
	struct lvq_machine *lm;
	uint64_t ram = UINT64_C(64) << 20, ram_base = LVQ_RAM_BASE, seed = 1;
	int rc;

	static const char *const allowed[] = {"ram", "ram_base", "seed", NULL};
	lua_Integer i;

	if (!lua_isnoneornil(L, 1))
		luaL_checktype(L, 1, LUA_TTABLE);
	lvq_checkopts(L, 1, "vqsim.machine", allowed);
	/* default seed: vqsim.seed (the --seed option) */
	if (lua_getglobal(L, "vqsim") == LUA_TTABLE &&
	    lua_getfield(L, -1, "seed") == LUA_TNUMBER && lvq_tointeger(L, -1, &i))
		seed = (uint64_t)i;
	lua_settop(L, 1);
	if (lua_istable(L, 1)) {
		if (lua_getfield(L, 1, "seed") != LUA_TNIL)
			seed = (uint64_t)lvq_fieldint(L, -1, "vqsim.machine", "seed", LUA_MININTEGER,
						      LUA_MAXINTEGER);
		/* ram = false or 0: no RAM */
		if (lua_getfield(L, 1, "ram") != LUA_TNIL)
			ram = lua_toboolean(L, -1) && !(lvq_tointeger(L, -1, &i) && i == 0)
				      ? lvq_fieldsize(L, lua_gettop(L), "machine", "ram") : 0;
		if (lua_getfield(L, 1, "ram_base") != LUA_TNIL)
			ram_base = lvq_fieldsize(L, lua_gettop(L), "machine", "ram_base");
		lua_settop(L, 1);
	}
	account_new_machine(L);
	lm = lvq_newobj(L, sizeof(*lm), LVQ_MACHINE, 0);
	lua_newtable(L);
	lua_setiuservalue(L, -2, 1);
	lm->m = vq_machine_new(seed);
	if (!lm->m) {
		machines_open--;
		return luaL_error(L, "vqsim.machine: out of memory");
	}
	lm->seed = seed;
	if (lvq_trace_default)
		vq_machine_trace_sink(lm->m, lvq_trace_default, lvq_trace_format,
				      &lvq_trace_filter);
	if (ram && (rc = vq_machine_add_ram(lm->m, ram_base, ram)) < 0)
		return luaL_error(L, "vqsim.machine: ram %s+%s: %s: %s", LVQ_HEX(ram_base),
				  LVQ_HEX(ram), vq_errname(rc), vq_strerror(rc));
	return 1;
}

static void trace_stop(struct lvq_machine *lm)
{
	vq_machine_trace_file(lm->m, NULL, 0);
	if (lm->trace_f && lm->trace_f != stdout)
		fclose(lm->trace_f);
	lm->trace_f = NULL;
	lm->trace_is_file = false;
	free(lm->cap_buf);
	lm->cap_buf = NULL;
	lm->cap_len = lm->cap_taken = 0;
}

static int m_gc(lua_State *L)
{
	struct lvq_machine *lm = luaL_checkudata(L, 1, LVQ_MACHINE);

	if (lm->m) {
		trace_stop(lm);
		lvq_debug_release(lm);
		vq_machine_free(lm->m);
		lm->m = NULL;
		machines_open--;
	}
	return 0;
}

static int m_tostring(lua_State *L)
{
	struct lvq_machine *lm = luaL_checkudata(L, 1, LVQ_MACHINE);
	struct vq_mem *mem;
	uint64_t total = 0, gpa, size;
	unsigned n;

	if (!lm->m) {
		lua_pushliteral(L, "machine (closed)");
		return 1;
	}
	mem = vq_machine_mem(lm->m);
	for (unsigned i = 0; i < vq_mem_region_count(mem); i++)
		if (vq_mem_region_info(mem, i, &gpa, &size, NULL, NULL) == 0)
			total += size;
	n = vq_machine_device_count(lm->m);
	lua_pushfstring(L, "machine: seed %I, %I MiB RAM in %d region(s), %d device(s)",
			(lua_Integer)lm->seed, (lua_Integer)(total >> 20),
			(int)vq_mem_region_count(mem), (int)n);
	for (unsigned i = 0; i < n; i++)
		lua_pushfstring(L, "%s %s", i ? "," : ":", vq_machine_slot(lm->m, i)->dev.name);
	lua_pushfstring(L, ", now %I ns, %d event(s) pending", (lua_Integer)vq_machine_now(lm->m),
			(int)vq_machine_pending(lm->m));
	lua_concat(L, (int)n + 2);
	return 1;
}

static int m_add_ram(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t gpa = lvq_checksize(L, 2), size = lvq_checksize(L, 3);
	int rc = vq_machine_add_ram(lm->m, gpa, size);

	if (rc < 0)
		return luaL_error(L, "machine: add_ram(%s, %s): %s: %s (regions must be "
				  "page-aligned and must not overlap)", LVQ_HEX(gpa),
				  LVQ_HEX(size), vq_errname(rc), vq_strerror(rc));
	return 0;
}

/* First mmio window and irq line no device uses. */
static void free_base_irq(struct vq_machine *m, uint64_t *base, unsigned *irq)
{
	unsigned n = vq_machine_device_count(m);
	bool taken;

	for (*base = LVQ_MMIO_BASE;; *base += VIRTIO_MMIO_SIZE) {
		taken = false;
		for (unsigned i = 0; i < n; i++)
			taken |= vq_machine_slot(m, i)->base == *base;
		if (!taken)
			break;
	}
	for (*irq = LVQ_IRQ_BASE; *irq < VQ_MACHINE_MAX_IRQS; (*irq)++) {
		taken = false;
		for (unsigned i = 0; i < n; i++)
			taken |= vq_machine_slot(m, i)->irq == *irq;
		if (!taken)
			break;
	}
}

/* An option list owned by a userdata, so a Lua error midway frees it. */
#define LVQ_OPTS "vqsim.opts"

static int opts_gc(lua_State *L)
{
	struct vq_opts **lo = luaL_checkudata(L, 1, LVQ_OPTS);

	vq_opts_free(*lo);
	*lo = NULL;
	return 0;
}

/* vqsim.defaults.outside[type] (--device vhost-user:PATH,type=KIND): the
 * device m:add(type, ...) makes is that outside back-end. Argument 3
 * becomes its options: the outside spec's, plus the caller's name and
 * placement and the front-end's own options (queue-size, packed); the
 * options of vqsim's model (size, backend, ...) do not apply to it. */
static const char *outside_substitute(lua_State *L, const char *type)
{
	static const char *const kept[] = {"name", "transport", "base", "irq", "queue-size",
					   "packed"};

	lua_settop(L, 3);
	if (strcmp(type, "vhost-user") == 0 || lua_getglobal(L, "vqsim") != LUA_TTABLE ||
	    lua_getfield(L, 4, "defaults") != LUA_TTABLE ||
	    lua_getfield(L, 5, "outside") != LUA_TTABLE || lua_getfield(L, 6, type) != LUA_TTABLE) {
		lua_settop(L, 3);
		return type;
	}
	lua_newtable(L); /* 8 */
	lua_pushnil(L);
	while (lua_next(L, 7)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_settable(L, 8);
	}
	for (size_t i = 0; lua_istable(L, 3) && i < sizeof(kept) / sizeof(kept[0]); i++) {
		if (lua_getfield(L, 3, kept[i]) == LUA_TNIL)
			lua_pop(L, 1);
		else
			lua_setfield(L, 8, kept[i]);
	}
	lua_replace(L, 3);
	lua_settop(L, 3);
	return "vhost-user";
}

/* One front-end per back-end socket: qemu-storage-daemon serves one at a
 * time and lets a second wait unanswered. A new vhost-user device on a
 * path takes it over from the device that had it (that one fails with
 * VHOST_PEER, saying why). The registry maps path -> device (weak). */
#define LVQ_OUTSIDE_LIVE "vqsim.outside_live"

static void outside_takeover(lua_State *L, const char *path)
{
	int top = lua_gettop(L);

	if (luaL_getsubtable(L, LUA_REGISTRYINDEX, LVQ_OUTSIDE_LIVE) == 0) {
		lua_newtable(L);
		lua_pushliteral(L, "v");
		lua_setfield(L, -2, "__mode");
		lua_setmetatable(L, -2);
	}
	if (lua_getfield(L, -1, path) == LUA_TUSERDATA) {
		struct lvq_device *ld = luaL_testudata(L, -1, LVQ_DEVICE);
		struct lvq_machine *lm;

		lua_getiuservalue(L, -1, 1);
		lm = lua_touserdata(L, -1);
		if (ld && lm && lm->m)
			vq_vhost_frontend_disconnect(&ld->slot->dev,
						     "another front-end device took the socket over");
	}
	lua_settop(L, top);
}

static void outside_register(lua_State *L, const char *path, int dev)
{
	dev = lua_absindex(L, dev);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LVQ_OUTSIDE_LIVE);
	lua_pushvalue(L, dev);
	lua_setfield(L, -2, path);
	lua_pop(L, 1);
}

static int m_add(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	const char *type = luaL_checkstring(L, 2);
	const char *name = NULL, *transport = NULL;
	uint64_t base;
	unsigned irq;
	bool placed = false;
	char err[256];
	struct vq_dev *d;
	const char **keys = NULL;
	size_t nkeys = 0;
	struct vq_opts **lo;
	int top;

	type = outside_substitute(L, type);
	free_base_irq(lm->m, &base, &irq);
	if (!vq_dev_type_find(type)) {
		luaL_Buffer list;
		luaL_buffinit(L, &list);
		for (unsigned i = 0; vq_dev_type_at(i); i++) {
			if (i)
				luaL_addstring(&list, ", ");
			luaL_addstring(&list, vq_dev_type_at(i)->name);
		}
		luaL_pushresult(&list);
		return luaL_argerror(L, 2, lua_pushfstring(L, "unknown device type '%s' (known: %s)",
							   type, lua_tostring(L, -1)));
	}
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	if (lua_istable(L, 3))
		keys = lvq_sortedkeys(L, 3, "machine: add", &nkeys); /* at 4 */
	/* the device's options go to it one by one, never joined into a
	 * string: a value with a comma needs no escaping. Sorted keys make the
	 * first unknown one (the one named) the same on every run. */
	lo = lua_newuserdatauv(L, sizeof(*lo), 0);
	*lo = NULL;
	luaL_setmetatable(L, LVQ_OPTS);
	*lo = vq_opts_new(type);
	if (!*lo)
		return luaL_error(L, "machine: add: out of memory");
	top = lua_gettop(L);
	for (size_t i = 0; i < nkeys; i++) {
		const char *k = keys[i], *v = NULL;
		lua_Integer n;

		lua_getfield(L, 3, k);
		if (strcmp(k, "base") == 0) {
			base = lvq_fieldsize(L, -1, "add", "base");
			placed = true;
		} else if (strcmp(k, "irq") == 0) {
			irq = (unsigned)lvq_fieldint(L, -1, "add", "irq", 0, VQ_MACHINE_MAX_IRQS - 1);
			placed = true;
		} else if (strcmp(k, "transport") == 0) {
			transport = lua_tostring(L, -1); /* anchored by the table */
			if (lua_type(L, -1) != LUA_TSTRING ||
			    (strcmp(transport, "mmio") && strcmp(transport, "pci")))
				return luaL_argerror(L, 3, "field 'transport' must be \"mmio\" or "
							   "\"pci\"");
		} else if (strcmp(k, "name") == 0) {
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_argerror(L, 3, "field 'name' must be a string");
			name = lua_tostring(L, -1); /* anchored by the table */
		} else if (lua_type(L, -1) == LUA_TBOOLEAN) {
			v = lua_toboolean(L, -1) ? "on" : "off";
		} else if (lua_type(L, -1) == LUA_TSTRING) {
			v = lua_tostring(L, -1);
		} else if (lua_type(L, -1) == LUA_TNUMBER) {
			n = lvq_fieldint(L, -1, "add", k, 0, LUA_MAXINTEGER);
			v = lua_pushfstring(L, "%I", n);
		} else {
			return luaL_argerror(L, 3, lua_pushfstring(L, "option '%s' must be a "
						"string, number or boolean", k));
		}
		if (v && vq_opts_add(*lo, k, v, err, sizeof(err)) < 0)
			return luaL_error(L, "machine: add(\"%s\"): %s", type, err);
		lua_settop(L, top);
	}
	if (!transport) { /* vqsim.defaults.transport, else mmio */
		transport = "mmio";
		if (lua_getglobal(L, "vqsim") == LUA_TTABLE &&
		    lua_getfield(L, -1, "defaults") == LUA_TTABLE &&
		    lua_getfield(L, -1, "transport") == LUA_TSTRING &&
		    strcmp(lua_tostring(L, -1), "pci") == 0)
			transport = "pci";
		lua_settop(L, top);
	}
	if (strcmp(type, "vhost-user") == 0 && lua_istable(L, 3) &&
	    lua_getfield(L, 3, "socket") == LUA_TSTRING)
		outside_takeover(L, lua_tostring(L, -1));
	lua_settop(L, top);
	if (strcmp(transport, "pci") == 0) {
		if (placed)
			return luaL_error(L, "machine: add(\"%s\"): base and irq are mmio options; "
					  "a pci device gets its slot and line from the bus", type);
		d = vq_machine_add_pci_opts(lm->m, type, name, *lo, err, sizeof(err));
	} else {
		d = vq_machine_add_mmio_opts(lm->m, type, name, *lo, base, irq, err, sizeof(err));
	}
	vq_opts_free(*lo);
	*lo = NULL;
	if (!d)
		return luaL_error(L, "machine: add(\"%s\"): %s", type, err);
	if (strcmp(transport, "pci") == 0) {
		/* firmware: place BAR 0 and turn memory decoding on */
		struct vq_slot *s = vq_machine_find(lm->m, d->name);
		uint64_t bar = LVQ_PCI_BAR_BASE + (uint64_t)s->pci_dev * VQ_PCI_BAR_SIZE;

		vq_machine_write(lm->m, s->base + VQ_PCI_BAR0, 4, (uint32_t)bar);
		vq_machine_write(lm->m, s->base + VQ_PCI_BAR0 + 4, 4, (uint32_t)(bar >> 32));
		vq_machine_write(lm->m, s->base + VQ_PCI_COMMAND, 2,
				 VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_MASTER);
	}
	lvq_pushdevice(L, 1, vq_machine_find(lm->m, d->name));
	if (vq_vhost_frontend_kind(d) && lua_getfield(L, 3, "socket") == LUA_TSTRING) {
		outside_register(L, lua_tostring(L, -1), -2);
		lua_pop(L, 1);
	}
	return 1;
}

static int m_device(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_slot *s;

	if (lua_type(L, 2) == LUA_TNUMBER)
		s = vq_machine_slot(lm->m, (unsigned)lvq_checkint(L, 2, "index", 0, UINT_MAX));
	else
		s = vq_machine_find(lm->m, luaL_checkstring(L, 2));
	if (!s)
		return luaL_error(L, "machine: no device '%s'", luaL_tolstring(L, 2, NULL));
	lvq_pushdevice(L, 1, s);
	return 1;
}

static int m_devices(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);

	lua_newtable(L);
	for (unsigned i = 0; i < vq_machine_device_count(lm->m); i++) {
		lvq_pushdevice(L, 1, vq_machine_slot(lm->m, i));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static void check_interrupt(lua_State *L)
{
	if (lvq_interrupted) {
		lvq_interrupted = 0;
		luaL_error(L, "interrupted!");
	}
}

static int m_run(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t max = lua_isnoneornil(L, 2) ? UINT64_MAX : lvq_checkrange(L, 2, LUA_MAXINTEGER);
	uint64_t done = 0, n;

	do {
		n = lvq_debug_run(lm, max - done < RUN_CHUNK ? max - done : RUN_CHUNK);
		done += n;
		check_interrupt(L);
	} while (n == RUN_CHUNK && done < max);
	/* outside devices answer in their own time: let them settle */
	if (done < max && !lvq_debug_hit(lm) && vq_machine_outside_count(lm->m)) {
		vq_machine_settle(lm->m, LVQ_OUTSIDE_QUIET_MS);
		done += lvq_debug_run(lm, max - done);
	}
	lua_pushinteger(L, (lua_Integer)done);
	return 1 + lvq_debug_push_hit(L, lm); /* n[, the event that hit a breakpoint] */
}

static int m_run_until(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	lua_Integer max, n = 0;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	max = (lua_Integer)(lua_isnoneornil(L, 3) ? RUN_UNTIL_DEFAULT
						  : lvq_checkrange(L, 3, LUA_MAXINTEGER));
	for (;;) {
		lua_pushvalue(L, 2);
		lua_call(L, 0, 1);
		if (lua_toboolean(L, -1)) {
			lua_pushboolean(L, 1);
			break;
		}
		lua_pop(L, 1);
		if (n >= max || !vq_machine_step(lm->m)) {
			lua_pushboolean(L, 0);
			break;
		}
		n++;
	}
	lua_pushinteger(L, n);
	return 2;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* m:poll([ms]): wait up to ms (-1: for ever) in slices of POLL_SLICE_MS,
 * so that Ctrl-C (lvq_interrupted) ends even an endless wait with an
 * "interrupted!" error. */
static int m_poll(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	lua_Integer ms = luaL_optinteger(L, 2, 0);
	int64_t end = ms >= 0 ? now_ms() + (ms > INT32_MAX ? INT32_MAX : ms) : 0;
	int rc;

	for (;;) {
		int64_t left = ms >= 0 ? end - now_ms() : POLL_SLICE_MS;

		rc = vq_machine_poll(lm->m, (int)(left < 0 ? 0
						  : left > POLL_SLICE_MS ? POLL_SLICE_MS : left));
		if (rc < 0)
			lvq_fail(L, "machine: poll", rc);
		check_interrupt(L);
		if (rc > 0 || (ms >= 0 && left <= POLL_SLICE_MS) ||
		    vq_machine_watch_count(lm->m) == 0)
			break;
	}
	lua_pushinteger(L, rc);
	return 1;
}

static int m_pending(lua_State *L)
{
	lua_pushinteger(L, vq_machine_pending(lvq_checkmachine(L, 1)->m));
	return 1;
}

static int m_stats(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_machine_stats st;
	struct vq_mem_stats ms;

	vq_machine_get_stats(lm->m, &st);
	vq_mem_get_stats(vq_machine_mem(lm->m), &ms);
	lua_createtable(L, 0, 12);
	lvq_setint(L, "events", (lua_Integer)st.events);
	lvq_setint(L, "reg_reads", (lua_Integer)st.reg_reads);
	lvq_setint(L, "reg_writes", (lua_Integer)st.reg_writes);
	lvq_setint(L, "bad_accesses", (lua_Integer)st.bad_accesses);
	lvq_setint(L, "notifies", (lua_Integer)st.notifies);
	lvq_setint(L, "notifies_coalesced", (lua_Integer)st.notifies_coalesced);
	lvq_setint(L, "interrupts", (lua_Integer)st.interrupts);
	lvq_setint(L, "mem_translations", (lua_Integer)ms.translations);
	lvq_setint(L, "mem_refused", (lua_Integer)ms.refused);
	lvq_setint(L, "fault_hits", (lua_Integer)ms.fault_hits);
	lvq_setint(L, "now", (lua_Integer)vq_machine_now(lm->m));
	lvq_setint(L, "pending", vq_machine_pending(lm->m));
	return 1;
}

static int m_trace(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	int optarg = lua_istable(L, 2) ? 2 : 3;
	struct vq_trace_filter flt;
	bool capture = false;
	int fmt;
	FILE *f;

	static const char *const trace_keys[] = {"capture", "devices", "file", "format", "kinds",
						 "queues", NULL};
	static const char *const filter_keys[] = {"devices", "format", "kinds", "queues", NULL};

	lvq_checkopts(L, optarg, "machine: trace", optarg == 2 ? trace_keys : filter_keys);
	lvq_trace_opts(L, optarg, &flt, &fmt);
	if (lua_istable(L, 2)) {
		/* {capture = true, kinds = {...}}: capture, read back with
		 * m:trace_log(); capture defaults to true (false when file= is
		 * given), false stops tracing */
		if (lua_getfield(L, 2, "file") != LUA_TNIL) {
			luaL_checktype(L, -1, LUA_TSTRING);
			lua_replace(L, 2); /* the path, as in m:trace(path, opts) */
			lua_settop(L, 2);
		} else {
			lua_pop(L, 1);
			capture = lua_getfield(L, 2, "capture") == LUA_TNIL || lua_toboolean(L, -1);
			lua_pop(L, 1);
		}
	}
	if (lua_isnoneornil(L, 2) || (lua_isboolean(L, 2) && !lua_toboolean(L, 2)) ||
	    (lua_istable(L, 2) && !capture)) {
		trace_stop(lm);
		return 0;
	}
	if (capture) {
		trace_stop(lm);
		f = open_memstream(&lm->cap_buf, &lm->cap_len);
		if (!f)
			return luaL_error(L, "machine: trace: cannot capture: %s", strerror(errno));
	} else if (lua_isboolean(L, 2)) {
		trace_stop(lm);
		f = stdout;
	} else {
		const char *path = luaL_checkstring(L, 2);
		f = fopen(path, "w");
		if (!f)
			return luaL_error(L, "machine: trace: cannot open '%s': %s", path,
					  strerror(errno));
		trace_stop(lm);
		setvbuf(f, NULL, _IOLBF, 0);
	}
	lm->trace_is_file = lua_type(L, 2) == LUA_TSTRING;
	lm->trace_f = f;
	vq_machine_trace_sink(lm->m, f, fmt, &flt);
	return 0;
}

static int m_trace_log(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	size_t from;

	lua_newtable(L);
	if (!lm->trace_f || lm->trace_is_file || lm->trace_f == stdout)
		return 1;
	fflush(lm->trace_f); /* updates cap_buf and cap_len */
	if (!lm->cap_buf)
		return 1;
	from = lm->cap_taken;
	for (lua_Integer n = 1; from < lm->cap_len;) {
		const char *nl = memchr(lm->cap_buf + from, '\n', lm->cap_len - from);
		size_t end = nl ? (size_t)(nl - lm->cap_buf) : lm->cap_len;
		lua_pushlstring(L, lm->cap_buf + from, end - from);
		lua_rawseti(L, -2, n++);
		from = nl ? end + 1 : end;
	}
	lm->cap_taken = from;
	return 1;
}

static int m_irq(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	unsigned line = (unsigned)lvq_checkrange(L, 2, VQ_MACHINE_MAX_IRQS - 1);

	lua_pushboolean(L, vq_machine_irq_level(lm->m, line));
	lua_pushinteger(L, (lua_Integer)vq_machine_irq_count(lm->m, line));
	return 2;
}

static unsigned check_width(lua_State *L, int arg)
{
	lua_Integer w = luaL_optinteger(L, arg, 4);

	if (w != 1 && w != 2 && w != 4)
		luaL_argerror(L, arg, "width must be 1, 2 or 4");
	return (unsigned)w;
}

static int m_read(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t gpa = lvq_checksize(L, 2);
	uint32_t v = 0;
	int rc = vq_machine_read(lm->m, gpa, check_width(L, 3), &v);

	lua_pushinteger(L, v);
	if (rc < 0) {
		lua_pushstring(L, vq_errname(rc));
		return 2;
	}
	return 1;
}

static int m_write(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t gpa = lvq_checksize(L, 2);
	lua_Integer v = luaL_checkinteger(L, 3);
	unsigned width = check_width(L, 4);
	int rc;

	if (v < 0 || (uint64_t)v >> (8 * width) != 0)
		return luaL_argerror(L, 3, lua_pushfstring(L, "value does not fit in %d bits "
							   "for width %d", (int)(8 * width), (int)width));
	rc = vq_machine_write(lm->m, gpa, width, (uint32_t)v);

	if (rc < 0) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, vq_errname(rc));
		lua_pushstring(L, vq_strerror(rc));
		return 3;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int m_seed(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);

	lm->seed = (uint64_t)luaL_checkinteger(L, 2);
	vq_machine_seed(lm->m, lm->seed);
	return 0;
}

static int m_driver(lua_State *L);

/* ---- the IOMMU (VIRTIO_F_ACCESS_PLATFORM; emu/iommu.h) ---- */

/* The size field key of the options table at 2 (required). */
static uint64_t iommu_field(lua_State *L, const char *fn, const char *key)
{
	uint64_t v;

	if (lua_getfield(L, 2, key) == LUA_TNIL)
		return (uint64_t)luaL_error(L, "%s: option '%s' is required", fn, key);
	v = lvq_fieldsize(L, -1, fn, key);
	lua_pop(L, 1);
	return v;
}

/* m:iommu_map{iova=, gpa=, len=, write=bool}: map an IOVA range. */
static int m_iommu_map(lua_State *L)
{
	static const char *const allowed[] = {"gpa", "iova", "len", "write", NULL};
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t iova, gpa, len;
	bool write;
	int rc;

	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, "machine: iommu_map", allowed);
	iova = iommu_field(L, "machine: iommu_map", "iova");
	gpa = iommu_field(L, "machine: iommu_map", "gpa");
	len = iommu_field(L, "machine: iommu_map", "len");
	lua_getfield(L, 2, "write");
	write = lua_isnil(L, -1) ? true : lua_toboolean(L, -1);
	lua_pop(L, 1);
	rc = vq_iommu_map(vq_machine_iommu(lm->m), iova, gpa, len, write);
	if (rc < 0)
		return luaL_error(L, "machine: iommu_map(iova %s, gpa %s, len %s): %s: %s "
				  "(page-aligned, no overlap with a mapped IOVA, at most %d "
				  "mappings)", LVQ_HEX(iova), LVQ_HEX(gpa), LVQ_HEX(len),
				  vq_errname(rc), vq_strerror(rc), VQ_IOMMU_MAX_MAPPINGS);
	return 0;
}

/* m:iommu_unmap{iova=, len=}: unmap; returns the bytes that were mapped. */
static int m_iommu_unmap(lua_State *L)
{
	static const char *const allowed[] = {"iova", "len", NULL};
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	uint64_t iova, len;
	long long rc;

	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, "machine: iommu_unmap", allowed);
	iova = iommu_field(L, "machine: iommu_unmap", "iova");
	len = iommu_field(L, "machine: iommu_unmap", "len");
	rc = vq_iommu_unmap(vq_machine_iommu(lm->m), iova, len);
	if (rc < 0)
		return luaL_error(L, "machine: iommu_unmap(iova %s, len %s): %s: %s", LVQ_HEX(iova),
				  LVQ_HEX(len), vq_errname((int)rc), vq_strerror((int)rc));
	lua_pushinteger(L, (lua_Integer)rc);
	return 1;
}

/* m:iommu_mappings(): {{iova=, gpa=, len=, write=}, ...} in IOVA order. */
static int m_iommu_mappings(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_iommu *io = vq_machine_iommu(lm->m);
	unsigned n = vq_iommu_count(io);
	struct vq_iommu_map mp;

	lua_createtable(L, (int)n, 0);
	for (unsigned i = 0; i < n && vq_iommu_get(io, i, &mp) == 0; i++) {
		lua_createtable(L, 0, 4);
		lua_pushinteger(L, (lua_Integer)mp.iova);
		lua_setfield(L, -2, "iova");
		lua_pushinteger(L, (lua_Integer)mp.gpa);
		lua_setfield(L, -2, "gpa");
		lua_pushinteger(L, (lua_Integer)mp.len);
		lua_setfield(L, -2, "len");
		lua_pushboolean(L, mp.write);
		lua_setfield(L, -2, "write");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int m_getter(lua_State *L)
{
	struct lvq_machine *lm = luaL_checkudata(L, 1, LVQ_MACHINE);
	const char *k = lua_tostring(L, 2);

	if (!lm->m)
		return 0;
	if (strcmp(k, "now") == 0) {
		lua_pushinteger(L, (lua_Integer)vq_machine_now(lm->m));
	} else if (strcmp(k, "seed") == 0) {
		lua_pushinteger(L, (lua_Integer)lm->seed);
	} else if (strcmp(k, "mem") == 0) {
		push_cache(L, 1);
		if (lua_getfield(L, -1, "mem") == LUA_TNIL) {
			struct vq_machine **pm;
			lua_pop(L, 1);
			pm = lvq_newobj(L, sizeof(*pm), LVQ_MEM, 1);
			*pm = lm->m;
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, "mem");
		}
		lua_remove(L, -2);
	} else {
		return 0;
	}
	return 1;
}

static int m_driver(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct lvq_device *ld = lvq_checkdevice(L, 2);
	struct lvq_driver *dr;
	uint64_t heap = 0, heap_size = LVQ_DRIVER_HEAP;
	bool explicit_heap = false, msix = false;
	int rc;

	if (!lua_isnoneornil(L, 3)) {
		static const char *const allowed[] = {"heap", "heap_size", "msix", NULL};

		luaL_checktype(L, 3, LUA_TTABLE);
		lvq_checkopts(L, 3, "machine: driver", allowed);
		if (lua_getfield(L, 3, "heap") != LUA_TNIL) {
			heap = lvq_fieldsize(L, lua_gettop(L), "driver", "heap");
			explicit_heap = true;
		}
		if (lua_getfield(L, 3, "heap_size") != LUA_TNIL)
			heap_size = lvq_fieldsize(L, lua_gettop(L), "driver", "heap_size");
		if (lua_getfield(L, 3, "msix") != LUA_TNIL)
			msix = lua_toboolean(L, -1);
		lua_settop(L, 3);
	}
	if (ld->slot->machine != lm->m)
		return luaL_argerror(L, 2, "device belongs to another machine");
	if (!explicit_heap) {
		uint64_t gpa, size;
		if (vq_mem_region_info(vq_machine_mem(lm->m), 0, &gpa, &size, NULL, NULL) < 0)
			return luaL_error(L, "machine: driver: no RAM (add RAM first, or pass "
					  "{heap=gpa, heap_size=n})");
		if (!lm->heap_top)
			lm->heap_top = gpa + size;
		if (lm->heap_top - gpa < heap_size)
			return luaL_error(L, "machine: driver: RAM region 0 has no %I bytes left for "
					  "a driver heap (pass {heap=gpa, heap_size=n})",
					  (lua_Integer)heap_size);
		heap = lm->heap_top - heap_size;
	}
	dr = lvq_newobj(L, sizeof(*dr), LVQ_DRIVER, 2);
	dr->slot = ld->slot;
	if (ld->slot->transport == VQ_SLOT_PCI)
		rc = vq_drv_attach_pci(&dr->drv, lm->m, ld->slot->base,
				       LVQ_PCI_BAR_BASE + (uint64_t)ld->slot->pci_dev * VQ_PCI_BAR_SIZE,
				       msix, heap, heap_size);
	else if (msix)
		return luaL_error(L, "%s: driver: msix needs the pci transport (device is on "
				  "mmio)", ld->slot->dev.name);
	else
		rc = vq_drv_attach(&dr->drv, lm->m, ld->slot->base, ld->slot->irq, heap, heap_size);
	if (rc < 0 && dr->drv.ops && dr->drv.pci.refused[0]) /* pci: the probe says why */
		return luaL_error(L, "%s: driver: %s: %s", ld->slot->dev.name, vq_errname(rc),
				  dr->drv.pci.refused);
	if (rc < 0)
		return luaL_error(L, "%s: driver: %s: %s%s", ld->slot->dev.name, vq_errname(rc),
				  vq_strerror(rc), rc == -VQ_E_INVAL ? " (heap must be inside RAM)" : "");
	dr->attached = true;
	if (!explicit_heap)
		lm->heap_top = heap;
	return 1;
}

/* m:msi(): the MSI messages kept, oldest first: {time, addr, data, dev}
 * each, and the count ever received. */
static int m_msi(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct vq_msi msg;

	lua_newtable(L);
	for (unsigned i = 0; vq_machine_msi_get(lm->m, i, &msg) == 0; i++) {
		lua_createtable(L, 0, 4);
		lvq_setint(L, "time", (lua_Integer)msg.time);
		lvq_setint(L, "addr", (lua_Integer)msg.addr);
		lvq_setint(L, "data", (lua_Integer)msg.data);
		lua_pushstring(L, msg.dev);
		lua_setfield(L, -2, "dev");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_pushinteger(L, (lua_Integer)vq_machine_msi_count(lm->m));
	return 2;
}

static const luaL_Reg methods[] = {
	{"msi", m_msi},
	{"add_ram", m_add_ram},   {"add", m_add},       {"device", m_device},
	{"devices", m_devices},   {"driver", m_driver}, {"run", m_run},
	{"step", lvq_m_step},     {"continue", m_run},  {"breakpoint", lvq_m_break},
	{"break", lvq_m_break}, /* m["break"](m, {...}): "break" is a Lua keyword */
	{"watch", lvq_m_watch},   {"delete", lvq_m_delete},
	{"breakpoints", lvq_m_breakpoints},         {"run_until", m_run_until}, {"poll", m_poll},
	{"pending", m_pending},   {"stats", m_stats},   {"trace", m_trace},
	{"trace_log", m_trace_log}, {"irq", m_irq},     {"read", m_read},
	{"write", m_write},       {"reseed", m_seed},
	{"iommu_map", m_iommu_map}, {"iommu_unmap", m_iommu_unmap},
	{"iommu_mappings", m_iommu_mappings},
	{"fault", lvq_m_fault},   {"unfault", lvq_m_unfault}, {"faults", lvq_m_faults},
	{"device_ring", lvq_m_device_ring},
	{"serve", lvq_m_serve},   {"unserve", lvq_m_unserve}, {"vhost", lvq_m_vhost},
	{NULL, NULL},
};

static const luaL_Reg meta[] = {
	{"__gc", m_gc}, {"__close", m_gc}, {"__tostring", m_tostring}, {NULL, NULL},
};

static const char *const fields[] = {"now", "seed", "mem", NULL};

void lvq_open_machine(lua_State *L)
{
	lvq_newclass(L, LVQ_MACHINE, methods, meta, m_getter, fields);
	luaL_newmetatable(L, LVQ_OPTS);
	lua_pushcfunction(L, opts_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
}
