/* test_shell.c - the Lua bindings (shell/l_*.c) driven from C: each test
 * runs a chunk in a fresh state with the vqsim module and checks what it
 * returns or the error it raises, against the C library's own results. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
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
	tcase_add_test(tc, unclosed_machines_do_not_pile_up);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(shell_suite());
}
