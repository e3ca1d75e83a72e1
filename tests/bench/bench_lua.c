/* bench_lua.c - descriptors per second injected from a Lua loop through
 * the shell's bindings, beside the same loop written in C against
 * libvqsim, in the same run.
 *
 * One round, in both: write 256 one-buffer descriptors (64 device-writable
 * bytes each) and their avail entries into a virtio-rng queue of 256 by raw
 * ring access, move avail idx by 256, write QueueNotify, run the machine
 * (the device pops, fills and pushes all 256). The C loop makes the same
 * guest-memory writes with vq_mem_write*; the difference is the cost of
 * the Lua interpreter and the bindings. Figures are ratios, never pass/fail.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#include "lvq.h"
#include "vqsim.h"
#include "bench.h"

#define QSZ 256
#define BUF (UINT64_C(0x40100000))
#define TARGET_S 0.5

static const char *lua_setup =
	"local m = vqsim.machine{seed=1, ram='64M'}\n"
	"local dev = m:add('rng')\n"
	"local d = m:driver(dev)\n"
	"d:init{queues=1}\n"
	"local q = d:queue(0)\n"
	"local idx = q:avail_idx()\n"
	"local t = {addr=0, len=64, flags=2} -- WRITE\n"
	"function rounds(n)\n"
	"  for _ = 1, n do\n"
	"    for i = 0, 255 do\n"
	"      t.addr = 0x40100000 + i * 64\n"
	"      q:desc(i, t)\n"
	"      q:avail((idx + i) % 256, i)\n"
	"    end\n"
	"    idx = (idx + 256) % 65536\n"
	"    q:avail_idx(idx)\n"
	"    q:notify()\n"
	"    m:run()\n"
	"  end\n"
	"  -- every chain served, none refused\n"
	"  assert(not dev.needs_reset, dev.error_msg)\n"
	"  assert(q:used_idx() == idx, 'device did not serve every chain')\n"
	"  return q:used_idx()\n"
	"end\n";

/* Descriptors/s of n rounds through Lua. */
static double lua_rate(lua_State *L, long n)
{
	double t = bench_now();

	lua_getglobal(L, "rounds");
	lua_pushinteger(L, n);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		fprintf(stderr, "bench_lua: %s\n", lua_tostring(L, -1));
		exit(1);
	}
	lua_pop(L, 1);
	return (double)n * QSZ / (bench_now() - t);
}

struct cbench {
	struct vq_machine *m;
	struct vq_drv drv;
	uint16_t idx;
};

/* Descriptors/s of n rounds in C. */
static double c_rate(struct cbench *b, long n)
{
	struct vq_mem *mem = vq_machine_mem(b->m);
	const struct vq_ring_drv *r = &b->drv.queues[0].ring;
	double t = bench_now();

	for (long k = 0; k < n; k++) {
		for (unsigned i = 0; i < QSZ; i++) {
			vq_mem_write64(mem, r->addr.desc + 16u * i, BUF + 64u * i);
			vq_mem_write32(mem, r->addr.desc + 16u * i + 8, 64);
			vq_mem_write16(mem, r->addr.desc + 16u * i + 12, VIRTQ_DESC_F_WRITE);
			vq_mem_write16(mem, r->addr.desc + 16u * i + 14, 0);
			vq_mem_write16(mem, r->addr.driver + 4 + 2u * ((b->idx + i) % QSZ),
				       (uint16_t)i);
		}
		b->idx = (uint16_t)(b->idx + QSZ);
		vq_mem_write16(mem, r->addr.driver + 2, b->idx);
		vq_machine_write(b->m, b->drv.base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
		vq_machine_run(b->m, UINT64_MAX);
	}
	return (double)n * QSZ / (bench_now() - t);
}

/* Rounds that take about TARGET_S at the given rate. */
static long rounds_for(double rate)
{
	long n = (long)(rate * TARGET_S / QSZ);
	return n < 1 ? 1 : n;
}

int main(void)
{
	lua_State *L = luaL_newstate();
	struct cbench cb = {0};
	char err[200];
	struct vq_dev *dev;
	double lua_best = 0, c_best = 0;
	long lua_n, c_n;

	luaL_openlibs(L);
	luaopen_vqsim(L);
	lua_pop(L, 1);
	if (luaL_dostring(L, lua_setup) != LUA_OK) {
		fprintf(stderr, "bench_lua: %s\n", lua_tostring(L, -1));
		return 1;
	}
	cb.m = vq_machine_new(1);
	vq_machine_add_ram(cb.m, UINT64_C(0x40000000), UINT64_C(64) << 20);
	dev = vq_machine_add_mmio(cb.m, "rng", NULL, NULL, UINT64_C(0x0a000000), 16, err,
				  sizeof(err));
	if (!dev || vq_drv_attach(&cb.drv, cb.m, UINT64_C(0x0a000000), 16,
				  UINT64_C(0x40000000) + (UINT64_C(56) << 20), UINT64_C(8) << 20) < 0 ||
	    vq_drv_init(&cb.drv, NULL, 1) < 0) {
		fprintf(stderr, "bench_lua: cannot set up the C machine: %s\n", dev ? "" : err);
		return 1;
	}
	lua_n = rounds_for(lua_rate(L, 16));
	c_n = rounds_for(c_rate(&cb, 16));
	for (int i = 0; i < 3; i++) { /* best of 3, interleaved */
		double l = lua_rate(L, lua_n), c = c_rate(&cb, c_n);
		if (l > lua_best)
			lua_best = l;
		if (c > c_best)
			c_best = c;
	}
	if (dev->stats.errors || vq_drv_status(&cb.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
		fprintf(stderr, "bench_lua: the device refused the C loop's chains\n");
		return 1;
	}
	printf("raw descriptor injection into a virtio-rng queue of %d, device serving\n", QSZ);
	printf("loop   descriptors/s   ratio to C\n");
	printf("Lua    %13.0f   %9.1f%%\n", lua_best, 100.0 * lua_best / c_best);
	printf("C      %13.0f   %9.1f%%\n", c_best, 100.0);
	vq_drv_detach(&cb.drv);
	vq_machine_free(cb.m);
	lua_close(L);
	return 0;
}
