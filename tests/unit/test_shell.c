/* test_shell.c - the Lua bindings (shell/l_*.c) driven from C: each test
 * runs a chunk in a fresh state with the vqsim module and checks what it
 * returns or the error it raises, against the C library's own results. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "lvq.h"
#include "testutil.h"

static lua_State *L;

static void setup(void)
{
	L = luaL_newstate();
	ck_assert_ptr_nonnull(L);
	luaL_openlibs(L);
	luaopen_vqsim(L);
	lua_pop(L, 1);
}

static void teardown(void)
{
	lua_close(L);
}

/* Run code; it must succeed. Its results stay on the stack. */
static void run(const char *code)
{
	int top = lua_gettop(L);

	if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, LUA_MULTRET, 0) != LUA_OK)
		ck_abort_msg("chunk failed: %s\n--- chunk:\n%s", lua_tostring(L, -1), code);
	(void)top;
}

/* Run code; it must raise an error containing each of the needles. */
static void run_fails(const char *code, const char *needle1, const char *needle2)
{
	const char *msg;

	ck_assert_int_eq(luaL_loadstring(L, code), LUA_OK);
	ck_assert_msg(lua_pcall(L, 0, 0, 0) != LUA_OK, "chunk did not fail:\n%s", code);
	msg = lua_tostring(L, -1);
	ck_assert_msg(msg && strstr(msg, needle1), "error '%s' lacks '%s'", msg, needle1);
	if (needle2)
		ck_assert_msg(strstr(msg, needle2), "error '%s' lacks '%s'", msg, needle2);
	lua_pop(L, 1);
}

START_TEST(memory_round_trip_and_bounds)
{
	run("local m = vqsim.machine{seed=1, ram='16M'}\n"
	    "m.mem:write(0x40001000, 'virtio')\n"
	    "m.mem:u32(0x40002000, 0x11223344)\n"
	    "return m.mem:read(0x40001000, 6), m.mem:u8(0x40002000), m.mem:u16(0x40002002)");
	ck_assert_str_eq(lua_tostring(L, -3), "virtio");
	ck_assert_int_eq(lua_tointeger(L, -2), 0x44); /* little-endian */
	ck_assert_int_eq(lua_tointeger(L, -1), 0x1122);
	run_fails("local m = vqsim.machine{ram='16M'}; m.mem:read(0x50000000, 4)",
		  "MEM_UNMAPPED", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m.mem:write('x', 'y')", "bad argument #1",
		  NULL);
}
END_TEST

START_TEST(registers_by_offset_and_name)
{
	run("local m = vqsim.machine{ram='16M'}\n"
	    "local rng = m:add('rng')\n"
	    "return rng:read(0), rng:reg('Version'), rng:reg('DeviceID'), rng.name");
	ck_assert_int_eq(lua_tointeger(L, -4), VIRTIO_MMIO_MAGIC);
	ck_assert_int_eq(lua_tointeger(L, -3), 2);
	ck_assert_int_eq(lua_tointeger(L, -2), VIRTIO_ID_RNG);
	ck_assert_str_eq(lua_tostring(L, -1), "rng0");
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('nosuch')", "unknown device type",
		  "nosuch");
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('rng', {colour='red'})",
		  "unknown option 'colour'", NULL);
}
END_TEST

START_TEST(driver_reads_the_seeded_prng)
{
	struct vq_prng p;
	uint8_t want[16];
	size_t len;
	const char *got;

	run("local m = vqsim.machine{seed=77, ram='16M'}\n"
	    "local d = m:driver(m:add('rng'))\n"
	    "d:init{features={'EVENT_IDX'}, queues=1}\n"
	    "return d:rng_read(16), d:has('EVENT_IDX'), d:has('INDIRECT_DESC')");
	vq_prng_seed(&p, 77);
	vq_prng_fill(&p, want, sizeof(want));
	got = lua_tolstring(L, -3, &len);
	ck_assert_uint_eq(len, 16);
	ck_assert_int_eq(memcmp(got, want, 16), 0);
	ck_assert(lua_toboolean(L, -2));
	ck_assert(!lua_toboolean(L, -1));
}
END_TEST

START_TEST(raw_chain_lands_in_the_used_ring)
{
	run("local m = vqsim.machine{ram='16M'}\n"
	    "local d = m:driver(m:add('rng'))\n"
	    "d:init{queues=1}\n"
	    "local q = d:queue(0)\n"
	    "q:desc(5, {addr=0x40100000, len=24, flags='WRITE'})\n"
	    "q:avail(0, 5); q:avail_idx(1); q:notify(); m:run()\n"
	    "local id, len = q:used(0)\n"
	    "return id, len, q:used_idx(), #m.mem:read(0x40100000, 24)");
	ck_assert_int_eq(lua_tointeger(L, -4), 5);
	ck_assert_int_eq(lua_tointeger(L, -3), 24);
	ck_assert_int_eq(lua_tointeger(L, -2), 1);
	ck_assert_int_eq(lua_tointeger(L, -1), 24);
}
END_TEST

START_TEST(broken_driver_error_names_rule_and_values)
{
	run("local m = vqsim.machine{ram='16M'}\n"
	    "local rng = m:add('rng')\n"
	    "local d = m:driver(rng)\n"
	    "d:init{queues=1}\n"
	    "local q = d:queue(0)\n"
	    "q:avail(0, 9999); q:avail_idx(1); q:notify(); m:run()\n"
	    "return rng.needs_reset, rng.error_msg, rng:reg('InterruptStatus')");
	ck_assert(lua_toboolean(L, -3));
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -2), "RING_HEAD"));
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -2), "head 9999"));
	ck_assert_int_eq(lua_tointeger(L, -1), VIRTIO_MMIO_INT_CONFIG);
	run_fails("local m = vqsim.machine{ram='16M'}\n"
		  "local d = m:driver(m:add('rng')); d:init{queues=1}\n"
		  "local q = d:queue(0); q:avail(0, 9999); q:avail_idx(1); q:notify(); m:run()\n"
		  "d:rng_read(8)",
		  "rng0.q0: RING_HEAD", "head 9999, queue size 256");
}
END_TEST

START_TEST(queue_prints_as_a_table)
{
	run("local m = vqsim.machine{ram='16M'}\n"
	    "local d = m:driver(m:add('rng')); d:init{queues=1}\n"
	    "d:rng_read(4)\n"
	    "return tostring(d:queue(0)), m.mem:hexdump(0x40000000, 16)");
	ck_assert(lua_isstring(L, -2) && lua_isstring(L, -1));
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -2), "desc"));
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -2), "WRITE"));
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "40000000"));
}
END_TEST

START_TEST(machine_is_deterministic)
{
	run("local function once()\n"
	    "  local m = vqsim.machine{seed=5, ram='16M'}\n"
	    "  local log = {}\n"
	    "  m:trace({capture=log})\n"
	    "  local d = m:driver(m:add('rng')); d:init{queues=1}\n"
	    "  local b = d:rng_read(32)\n"
	    "  return b .. table.concat(m:trace_log(), '\\n')\n"
	    "end\n"
	    "local a, b = once(), once()\n"
	    "return a == b, #a");
	ck_assert(lua_toboolean(L, -2));
	ck_assert_int_gt(lua_tointeger(L, -1), 100);
}
END_TEST

START_TEST(trace_table_honours_capture)
{
	run("local m = vqsim.machine{ram='16M'}\n"
	    "local d = m:driver(m:add('rng')); d:init{queues=1}\n"
	    "m:trace{capture=false}\n"
	    "d:rng_read(4)\n"
	    "local off = #m:trace_log()\n"
	    "m:trace{capture=true, kinds={'notify'}}\n"
	    "d:rng_read(4)\n"
	    "local log = m:trace_log()\n"
	    "m:trace{capture=false}\n"
	    "d:rng_read(4)\n"
	    "return off, #log, log[1], #m:trace_log()");
	ck_assert_int_eq(lua_tointeger(L, -4), 0);
	ck_assert_int_eq(lua_tointeger(L, -3), 2); /* kick, delivered */
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -2), "notify"));
	ck_assert_int_eq(lua_tointeger(L, -1), 0);
}
END_TEST

START_TEST(machine_write_rejects_values_wider_than_the_access)
{
	/* QueueSel (0x30): a write the device accepts */
	run("local m = vqsim.machine{ram='16M'}; m:add('rng')\n"
	    "return m:write(0x0a000030, 0), m:read(0x0a000030)");
	ck_assert(lua_toboolean(L, -2));
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('rng')\n"
		  "m:write(0x0a000030, 0x100000000)", "bad argument #2 to 'write'", "fit in 32 bits");
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('rng')\n"
		  "m:write(0x0a000030, -1)", "bad argument #2 to 'write'", "fit in 32 bits");
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('rng')\n"
		  "m:write(0x0a000030, 0x100, 1)", "bad argument #2 to 'write'",
		  "fit in 8 bits for width 1");
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('rng')\n"
		  "m:write(0x0a000030, 0x10000, 2)", "bad argument #2 to 'write'", "fit in 16 bits");
}
END_TEST

/* scripts/lib/test.lua from the source tree, its output to a temporary
 * file that the chunk reads back. */
#define TESTLIB_PRE                                                                        \
	"package.path = '" VQSIM_SRCDIR "/scripts/lib/?.lua;' .. package.path\n"          \
	"local t = require('test')\n"                                                      \
	"local out = io.tmpfile(); io.output(out)\n"                                       \
	"local function output() io.output(io.stdout); out:seek('set')\n"                  \
	"  return out:read('a') end\n"

START_TEST(test_library_raises_takes_a_message)
{
	run(TESTLIB_PRE
	    "local r1 = t.raises(function() error('boom 42') end, '%d+')\n"
	    "local _, e2 = pcall(t.raises, function() end, nil, 'mine')\n"
	    "local _, e3 = pcall(t.raises, function() error('boom') end, 'nope', 'mine too')\n"
	    "local _, e4 = pcall(t.raises, function() error('boom') end, 'nope')\n"
	    "output()\n"
	    "return r1, e2.message, e3.message, e4.message, e4.actual");
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -5), "boom 42"));
	ck_assert_str_eq(lua_tostring(L, -4), "mine");
	ck_assert_str_eq(lua_tostring(L, -3), "mine too");
	ck_assert_str_eq(lua_tostring(L, -2), "error message does not match");
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "boom"));
}
END_TEST

START_TEST(test_library_summary_for_a_plain_script)
{
	run(TESTLIB_PRE
	    "local none = t.summary()\n"
	    "t.test('passes', function() end)\n"
	    "t.test('fails', function() t.eq(1, 2) end)\n"
	    "t.test('skips', function() t.skip('later') end)\n"
	    "local failed = t.summary()\n"
	    "return none, failed, output()");
	ck_assert_int_eq(lua_tointeger(L, -3), 0);
	ck_assert_int_eq(lua_tointeger(L, -2), 1);
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "not ok 2 - fails\n"));
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "\n1..3\n# 1 passed, 1 failed, 1 skipped\n"));
}
END_TEST

/* Item 11: a number is an integer by Lua's own rule (2^20 and 1024.0 are,
 * 1.5 is not) in every binding, and the error names the argument. */
START_TEST(integral_floats_are_integers_everywhere)
{
	run("local m = vqsim.machine{ram=2^24, ram_base=2^30, seed=3.0}\n"
	    "local rng = m:add('rng', {irq=20.0, base=0x0a000000 + 2^9, ['queue-size']=2^6})\n"
	    "local blk = m:add('blk', {size=2^20, queues=1.0})\n"
	    "local d = m:driver(blk)\n"
	    "d:init()\n"
	    "m.mem:write(2^30 + 4096.0, 'x')\n"
	    "return tostring(m), rng.irq, rng.base, d:blk_capacity(), m.mem:read(2^30 + 4096, 1.0),\n"
	    "  d:has(9.0) == d:has(9) and blk:has(32.0) == blk:has(32), m:device(0.0).name");
	ck_assert_ptr_nonnull(strstr(lua_tostring(L, -7), "seed 3, 16 MiB RAM"));
	ck_assert_int_eq(lua_tointeger(L, -6), 20);
	ck_assert_int_eq(lua_tointeger(L, -5), 0x0a000200);
	ck_assert_int_eq(lua_tointeger(L, -4), 2048);
	ck_assert_str_eq(lua_tostring(L, -3), "x");
	ck_assert(lua_toboolean(L, -2)); /* 9.0 is bit 9 */
	ck_assert_str_eq(lua_tostring(L, -1), "rng0");
	run_fails("vqsim.machine{ram=1.5}", "bad field 'ram' to 'machine'", "got 1.5");
	run_fails("vqsim.machine{seed=0.5}", "bad field 'seed' to 'vqsim.machine'", "got 0.5");
	run_fails("vqsim.machine{ram='16M'}:add('blk', {size=1.5})", "bad field 'size' to 'add'",
		  "got 1.5");
	run_fails("vqsim.machine{ram='16M'}:add('rng', {irq=16.5})", "bad field 'irq' to 'add'",
		  "got 16.5");
	run_fails("local m = vqsim.machine{ram='16M'}; m:driver(m:add('rng')):init{queues=0.5}",
		  "bad field 'queues' to 'init'", "got 0.5");
	run_fails("local m = vqsim.machine{ram='16M'}; m:device(0.5)", "bad argument #1",
		  "index: integer expected, got 0.5");
	run_fails("local m = vqsim.machine{ram='16M'}; m:add('rng'):has(1.5)", "feature",
		  "got 1.5");
}
END_TEST

/* Item 10: one syntax for sizes and paths, whether RAM or a blk size, a
 * string or a Lua table; a value with a comma needs no escaping in a table. */
START_TEST(one_option_syntax_from_lua)
{
	char code[600], path[] = "/tmp/vqsim,shell-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	close(fd);
	snprintf(code, sizeof(code),
		 "local m = vqsim.machine{ram='1M', ram_base='01073741824'}\n"
		 "local d = m:driver(m:add('blk', {size='1M', readonly='yes'}), {heap=0x40000000,"
		 " heap_size='512K'})\n"
		 "d:init()\n"
		 "local f = m:driver(m:add('blk', {backend='file', path='%s', readonly=true}),"
		 " {heap=0x40080000, heap_size='512K'})\n"
		 "f:init()\n"
		 "return tostring(m), d:blk_capacity(), f:blk_capacity()", path);
	run(code);
	unlink(path);
	ck_assert_msg(strstr(lua_tostring(L, -3), "1 MiB RAM"), "%s", lua_tostring(L, -3));
	ck_assert_int_eq(lua_tointeger(L, -2), 2048);
	ck_assert_int_eq(lua_tointeger(L, -1), 8);
	/* "1MB" is refused alike for RAM and for a blk size */
	run_fails("vqsim.machine{ram='1MB'}", "bad field 'ram'", "'1MB'");
	run_fails("vqsim.machine{ram='1M'}:add('blk', {size='1MB'})", "blk: size '1MB'", NULL);
	run_fails("vqsim.machine{ram='1M'}:add('blk', {readonly=1})",
		  "blk: readonly '1' must be on or off", NULL);
}
END_TEST

/* Item 12: every options table refuses unknown keys, naming the key and
 * the accepted ones. */
START_TEST(unknown_keys_are_refused_everywhere)
{
	run_fails("vqsim.machine{sed=7}",
		  "vqsim.machine: unknown option 'sed' (accepted: ram, ram_base, seed)", NULL);
	run_fails("vqsim.machine{[1]=7}", "options must be given as name = value", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m:driver(m:add('rng'), {heep=1})",
		  "unknown option 'heep' (accepted: heap, heap_size, msix)", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m:driver(m:add('rng')):init{queue=1}",
		  "unknown option 'queue' (accepted: features, queues, ring)", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m:trace{kind={'reg'}}",
		  "unknown option 'kind'", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m:watch{gpa=0x40000000, size=4}",
		  "unknown option 'size' (accepted: gpa, len, on)", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m:fault{point='mem.read', when=1}",
		  "fault: unknown option 'when'", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}; m:fault{point='mem.read', "
		  "trigger={nht=1}}", "fault trigger: unknown option 'nht'", NULL);
	run_fails("local m = vqsim.machine{ram='16M'}\n"
		  "local d = m:driver(m:add('net'))\n"
		  "d:net_init{rx_buf=1}", "net_init: unknown option 'rx_buf'", NULL);
}
END_TEST

/* Several wrong keys: the one named is the same in every Lua state, whose
 * hash seeds (and so pairs() orders) differ. */
START_TEST(unknown_keys_named_deterministically)
{
	static const char *const chunks[] = {
		"vqsim.machine{zeta=1, beta=2, kappa=3, omega=5, delta=6, gamma=7, sigma=8, "
		"alpha=9, ram='1M'}",
		"vqsim.machine{ram='16M'}:add('blk', {zeta=1, beta=2, kappa=3, omega=5, delta=6, "
		"gamma=7, sigma=8, alpha=9})",
		"local m = vqsim.machine{ram='16M'}; m:fault{point='mem.read', zeta=1, beta=2, "
		"kappa=3, omega=5, delta=6, gamma=7, sigma=8, alpha=9}",
	};

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		for (int run = 0; run < 16; run++) {
			lua_State *S = luaL_newstate();
			const char *msg;

			luaL_openlibs(S);
			luaopen_vqsim(S);
			lua_pop(S, 1);
			ck_assert_int_eq(luaL_loadstring(S, chunks[c]), LUA_OK);
			ck_assert_int_ne(lua_pcall(S, 0, 0, 0), LUA_OK);
			msg = lua_tostring(S, -1);
			ck_assert_msg(strstr(msg, "unknown option 'alpha'"), "run %d: %s", run, msg);
			lua_close(S);
		}
	}
}
END_TEST

/* Open descriptors of this process that are memfds (guest RAM). */
static int count_memfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[300];
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strncmp(target, "/memfd:", 7) == 0;
		}
	}
	closedir(d);
	return n;
}

/* Machines left to the collector: it sees a small userdata, so without
 * accounting for what a machine holds (memfds, mappings) hundreds pile up. */
START_TEST(unclosed_machines_do_not_pile_up)
{
	int before = count_memfds(), most = 0;

	for (int i = 0; i < 1000; i++) {
		int n;

		run("local m = vqsim.machine{} m:add('rng')");
		n = count_memfds() - before;
		if (n > most)
			most = n;
	}
	ck_assert_int_le(most, 20);
	run("collectgarbage()");
	ck_assert_int_eq(count_memfds(), before);
	/* machines that stay reachable are not collected early */
	run("keep = {} for i = 1, 40 do keep[i] = vqsim.machine{} end");
	run("for i = 1, 40 do assert(keep[i].now == 0) end");
	ck_assert_int_ge(count_memfds() - before, 40);
	run("keep = nil collectgarbage()");
	ck_assert_int_eq(count_memfds(), before);
}
END_TEST

/* Errors whose message carries hex or unsigned values name them (Lua's own
 * lua_pushfstring knows neither %x nor %u: such a message used to raise
 * "invalid option" instead). */
START_TEST(error_messages_format_their_values)
{
	run("m = vqsim.machine{ram='16M'}\n"
	    "d = m:add('rng', {transport = 'pci'})\n");
	run_fails("d:pci_strap(0x41, 0, 2)", "offset 0x41 is not aligned to width 2",
		  "256-byte config space");
	run_fails("d:pci_strap(0x40, 0x10000, 2)", "value 0x10000 does not fit in 2 bytes", NULL);
	run_fails("d:pci_hide_cap(0x44)", "no capability at 0x44 on the list", NULL);
	run_fails("for i = 1, 32 do d:pci_add_cap{type = 1, bar = 0, cap_len = 64} end",
		  "no room left in config space (0xa4-0xff", NULL);
	run_fails("d:read(0x0f0)", "register 0xf0 does not exist on the pci transport", NULL);
}
END_TEST

static Suite *shell_suite(void)
{
	Suite *s = suite_create("shell");
	TCase *tc = tcase_create("bindings");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, memory_round_trip_and_bounds);
	tcase_add_test(tc, registers_by_offset_and_name);
	tcase_add_test(tc, driver_reads_the_seeded_prng);
	tcase_add_test(tc, raw_chain_lands_in_the_used_ring);
	tcase_add_test(tc, broken_driver_error_names_rule_and_values);
	tcase_add_test(tc, queue_prints_as_a_table);
	tcase_add_test(tc, machine_is_deterministic);
	tcase_add_test(tc, trace_table_honours_capture);
	tcase_add_test(tc, machine_write_rejects_values_wider_than_the_access);
	tcase_add_test(tc, test_library_raises_takes_a_message);
	tcase_add_test(tc, test_library_summary_for_a_plain_script);
	tcase_add_test(tc, integral_floats_are_integers_everywhere);
	tcase_add_test(tc, one_option_syntax_from_lua);
	tcase_add_test(tc, unknown_keys_are_refused_everywhere);
	tcase_add_test(tc, unknown_keys_named_deterministically);
	tcase_add_test(tc, unclosed_machines_do_not_pile_up);
	tcase_add_test(tc, error_messages_format_their_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(shell_suite());
}
