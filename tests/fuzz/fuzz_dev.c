/* fuzz_dev.c - one harness per device type: the input decoded into what a
 * guest can do to the device. Built once per type with FUZZ_DEV set to the
 * type's name ("blk", "net", ...): tests/fuzz/fuzz_blk, fuzz_net, ...
 *
 * Operations: register writes and reads (offsets biased to the real ones,
 * values to the meaningful ones), config accesses of every width, guest
 * memory writes biased to the ring areas and the driver's buffers, the
 * reference driver's initialisation with fuzzed features, chains of fuzzed
 * buffers (payloads from the input) on any queue, notifications, machine
 * steps, device resets and fault ranges. Checked after every operation:
 * - the negotiated features are a subset of the offered ones;
 * - DEVICE_NEEDS_RESET only ever comes with an error the device counted;
 * - a machine run to idle is bounded (no notification makes endless work);
 * - every used element of a chain the harness made has a length no larger
 *   than the chain's writable bytes, and the chain's device-readable
 *   buffers still hold what the harness put there (the device never writes
 *   a buffer it was given to read; balloon excepted, whose inflate and
 *   report requests ask it to give pages back, and any buffer the input
 *   itself overwrote);
 * - a run writes guest memory only where the device may: the writable
 *   buffers of chains not yet reaped and the ring areas the device owns
 *   (split: the used ring; packed: the descriptor ring and the device
 *   event area). A shadow copy of the driver's heap (its rings and every
 *   buffer, plus a page either side) taken before each run is compared
 *   after it, byte by byte; balloon excepted (it gives pages back) and
 *   off while the input has rewritten the rings behind the driver.
 *
 * An input whose first byte is 0x52-0x55 runs on virtio-mmio or virtio-pci
 * (bit 0; pci register accesses go to the common cfg, notification, ISR,
 * device cfg and MSI-X structures of BAR 0 and to the function's config
 * space through ECAM) with split or packed rings (bit 1: the driver never
 * or always asks for RING_PACKED; packed queues then take any size the
 * initialisation's spare byte bits give, powers of two or not); any other
 * input runs on mmio, its layout following the features it negotiates.
 *
 * The machine and its device are made once per process and transport; each
 * input starts from a device reset, zeroed RAM, no fault ranges and a fresh
 * driver (pci: the function's config space and MSI-X state as the firmware
 * left them).
 *
 * With fuzz_lua set (replay --lua, vqsim --from-fuzz) every operation is
 * also written as the vqsim Lua that does the same, with the values the
 * harness used (addresses, payloads, tokens), and every check as an assert:
 * run in a fresh process, the script replays the input in the shell. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "driver.h"
#include "machine.h"
#include "transport/pci.h"
#include "fuzz_dev_regs.h"

#ifndef FUZZ_DEV
#error "FUZZ_DEV: the device type this harness drives"
#endif

#define RAM       0x40000000ull
#define RAM_SIZE  (4ull << 20)
#define HEAP      (RAM + RAM_SIZE / 2)   /* the driver's rings and buffers */
#define MMIO      0x0a000000ull
#define IRQ       5
#define RUN_BOUND 20000                  /* events; a run to idle stays below */
#define MAX_TOKENS 256
#define PCI_BAR   0x10000000ull          /* + 0x8000 per device number, as the shell's firmware */

/* The input's first byte, when it is one of these four, chooses the
 * transport (bit 0: pci) and the ring layout (bit 1: packed) and is
 * consumed; any other first byte is an operation of an mmio input whose
 * layout follows the features it negotiates (no input of the committed
 * corpora started with one of these values, so they decode as before). */
#define SEL_FIRST 0x52
enum { T_MMIO, T_PCI };
enum { LAYOUT_FEATURES, LAYOUT_SPLIT, LAYOUT_PACKED };

/* What the harness knows of a chain it made. */
struct sent {
	uint64_t token;
	uint64_t write_bytes;
	unsigned nread;
	uint64_t rgpa[4];
	uint32_t rlen[4];
	uint64_t rhash[4];     /* of the bytes the harness put there */
	bool clobbered;        /* the input wrote over its buffers since */
	unsigned nwrite;
	uint64_t wgpa[4];      /* device-writable buffers */
	uint32_t wlen[4];
	bool reaped;           /* its used element was seen: no more writes */
};

/* one machine per transport, made on first use */
static struct vq_machine *machines[2];
static struct vq_dev *devs[2];
static uint8_t *ram_hosts[2];
static struct vq_machine *m;
static struct vq_dev *dev;
static unsigned transport;
static unsigned layout;
/* pci: the function's config space (ECAM), its BAR 0 and the transport's
 * state as the firmware left it, restored at every input (an input may
 * move the BAR, turn decoding or MSI-X on, fill the vector table) */
static struct vq_slot *pci_slot;
static uint64_t pci_cfg, pci_bar;
static struct vq_pci pci_fresh;
static struct vq_drv drv;
static struct sent sent[MAX_TOKENS];
static unsigned nsent;
/* A raw register write placed or enabled a queue behind the driver's back
 * since it last set the device up: the device may write a used ring over
 * anything, so the readable-buffer check is off until the next init. */
static bool raw_queue;
/* pci: the input wrote the function's command register or BAR: the
 * driver's later writes may no longer reach the device (an init that does
 * not reset it), so the checks stay off for the rest of the input. */
static bool cfg_lost;
/* Guest RAM as the host sees it (no fault ranges in the way), and the
 * shadow of [shadow_lo, shadow_hi) taken before a run. */
static uint8_t *ram_host;
static uint8_t shadow[RAM_SIZE];
static uint64_t shadow_lo, shadow_hi;

/* FNV-1a: enough to tell whether a buffer's bytes changed. */
static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* bytes as a Lua hex[[...]] literal (see the script's hex()), 32 a line */
static void lua_bytes(const uint8_t *p, size_t n)
{
	FUZZ_LUA("hex[[");
	for (size_t i = 0; i < n; i++)
		FUZZ_LUA("%s%02x", i % 32 == 0 && n > 32 ? "\n  " : "", p[i]);
	FUZZ_LUA("]]");
}

/* The script's head: the same machine, device and driver heap. */
static void lua_head(void)
{
	FUZZ_LUA("-- A reproducer of a fuzz_" FUZZ_DEV " input (vqsim --from-fuzz): the operations\n"
		 "-- the harness ran, in order, with the values it used; check() and the\n"
		 "-- asserts are its invariants. Run it with vqsim FILE.\n"
		 "local m = vqsim.machine{seed = 1, ram = 0x%llx, ram_base = 0x%llx}\n",
		 (unsigned long long)RAM_SIZE, (unsigned long long)RAM);
	if (transport == T_PCI)
		FUZZ_LUA("local dev = m:add(\"" FUZZ_DEV "\", {transport = \"pci\"}) -- config "
			 "space at 0x%llx, BAR 0 at 0x%llx\n", (unsigned long long)pci_cfg,
			 (unsigned long long)pci_bar);
	else
		FUZZ_LUA("local dev = m:add(\"" FUZZ_DEV "\", {base = 0x%llx, irq = %u})\n",
			 (unsigned long long)MMIO, IRQ);
	FUZZ_LUA("local d = m:driver(dev, {heap = 0x%llx, heap_size = 0x%llx})\n"
		 "local function hex(s)\n"
		 "  return (s:gsub(\"%%s\", \"\"):gsub(\"..\", function(x) return string.char(tonumber(x, 16)) end))\n"
		 "end\n"
		 "local R = {} -- device-readable buffers as the harness left them\n"
		 "local function check()\n"
		 "  if dev.status & vqsim.status.FEATURES_OK ~= 0 then\n"
		 "    local offered = {}\n"
		 "    for _, f in ipairs(dev.offered) do offered[f] = true end\n"
		 "    for _, f in ipairs(dev.features) do\n"
		 "      assert(offered[f], \"negotiated \" .. tostring(f) .. \" was not offered\")\n"
		 "    end\n"
		 "  end\n"
		 "  assert(not dev.needs_reset or dev:stats().errors > 0,\n"
		 "         \"DEVICE_NEEDS_RESET with no error counted\")\n"
		 "end\n%s\n",
		 (unsigned long long)HEAP, (unsigned long long)(RAM_SIZE / 2),
		 layout == LAYOUT_SPLIT ? "-- split rings: the driver never asks for RING_PACKED\n"
		 : layout == LAYOUT_PACKED ? "-- packed rings: the driver always asks for RING_PACKED\n"
		 : "");
}

static void setup_once(unsigned t)
{
	char err[256];

	m = machines[t] = vq_machine_new(1);
	if (!m || vq_machine_add_ram(m, RAM, RAM_SIZE) < 0)
		abort();
	if (t == T_PCI)
		dev = vq_machine_add_pci(m, FUZZ_DEV, NULL, NULL, err, sizeof(err));
	else
		dev = vq_machine_add_mmio(m, FUZZ_DEV, NULL, NULL, MMIO, IRQ, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "fuzz_dev: %s\n", err);
		abort();
	}
	devs[t] = dev;
	if (t == T_PCI) {
		/* the firmware's part, as the shell's m:add does it */
		pci_slot = vq_machine_slot(m, 0);
		pci_cfg = pci_slot->base;
		pci_bar = PCI_BAR + (uint64_t)pci_slot->pci_dev * VQ_PCI_BAR_SIZE;
		vq_machine_write(m, pci_cfg + VQ_PCI_BAR0, 4, (uint32_t)pci_bar);
		vq_machine_write(m, pci_cfg + VQ_PCI_BAR0 + 4, 4, (uint32_t)(pci_bar >> 32));
		vq_machine_write(m, pci_cfg + VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_MASTER);
		pci_fresh = pci_slot->pci;
	}
	ram_host = ram_hosts[t] = vq_mem_translate(vq_machine_mem(m), RAM, RAM_SIZE, VQ_ACC_READ,
						   NULL);
	if (!ram_host)
		abort();
}

/* Zero guest RAM for the next input. Pages never touched are not resident
 * and read as zeroes already; zeroing the resident ones in place is far
 * cheaper than punching the region (which unmaps them, flushes TLBs and
 * faults every page in again on the next input), even when all are. A
 * punch only when mincore() cannot say. */
static void ram_wipe(void)
{
	static unsigned char vec[RAM_SIZE / 4096];

	if (sysconf(_SC_PAGESIZE) == 4096 && mincore(ram_host, RAM_SIZE, vec) == 0) {
		for (size_t i = 0; i < RAM_SIZE / 4096; i++)
			if (vec[i] & 1)
				memset(ram_host + 4096 * i, 0, 4096);
		return;
	}
	vq_mem_punch(vq_machine_mem(m), RAM, RAM_SIZE);
}

/* The device as a fresh guest finds it. */
static void start_input(unsigned t)
{
	vq_drv_detach(&drv);
	transport = t;
	if (!machines[t])
		setup_once(t);
	m = machines[t];
	dev = devs[t];
	ram_host = ram_hosts[t];
	if (t == T_PCI) {
		/* the BAR where the firmware put it, MSI-X off; reset the
		 * device through it (the interrupt line goes down); then the
		 * whole function as it was */
		memcpy(pci_slot->pci.cfg, pci_fresh.cfg, sizeof(pci_fresh.cfg));
		vq_machine_write(m, pci_bar + VQ_PCI_COMMON_OFF + VQ_PCI_CC_STATUS, 1, 0);
		vq_machine_run(m, RUN_BOUND);
		pci_slot->pci = pci_fresh;
	} else {
		vq_machine_write(m, MMIO + VIRTIO_MMIO_STATUS, 4, 0);
		vq_machine_run(m, RUN_BOUND);
	}
	vq_mem_fault_clear(vq_machine_mem(m));
	ram_wipe();
	vq_machine_seed(m, 1);
	if ((t == T_PCI ? vq_drv_attach_pci(&drv, m, pci_cfg, pci_bar, false, HEAP, RAM_SIZE / 2)
			: vq_drv_attach(&drv, m, MMIO, IRQ, HEAP, RAM_SIZE / 2)) < 0)
		abort();
	nsent = 0;
	raw_queue = false;
	cfg_lost = false;
	lua_head();
}

/* A guest address: the driver's rings and buffers, RAM, or anything. */
static uint64_t pick_gpa(struct fuzz_in *in)
{
	uint32_t off = fuzz_u32(in);

	switch (fuzz_u8(in) & 3) {
	case 0:
		return HEAP + off % 0x20000;          /* the first rings and buffers */
	case 1:
		return RAM + off % RAM_SIZE;
	case 2: {
		unsigned q = off % VQ_DEV_MAX_QUEUES;  /* a live queue's rings */
		return drv.queues[q].active ? drv.queues[q].ring_gpa + (off >> 8) % 0x3000
					    : HEAP + off % 0x1000;
	}
	default:
		return fuzz_u64(in);
	}
}

static void op_guest_write(struct fuzz_in *in)
{
	uint64_t gpa = pick_gpa(in);
	unsigned len = fuzz_u8(in) % 64 + 1;
	uint8_t buf[64];

	for (unsigned i = 0; i < len; i++)
		buf[i] = fuzz_u8(in);
	FUZZ_LUA("-- the guest writes %u bytes at 0x%llx (refused outside RAM or on a fault)\n"
		 "pcall(m.mem.write, m.mem, 0x%llx, ", len, (unsigned long long)gpa,
		 (unsigned long long)gpa);
	lua_bytes(buf, len);
	FUZZ_LUA(")\n");
	if (vq_mem_write(vq_machine_mem(m), gpa, buf, len) < 0)
		return;
	/* into a ring: descriptors may now point anywhere, with any flags */
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
		struct vq_ring_addr a;
		uint64_t bytes;

		if (drv.queues[q].active &&
		    vq_ring_size(drv.queues[q].ring.layout, drv.queues[q].ring.num,
				 drv.queues[q].ring_gpa, &a, &bytes) == 0 &&
		    gpa < drv.queues[q].ring_gpa + bytes && drv.queues[q].ring_gpa < gpa + len)
			raw_queue = true;
	}
	for (unsigned k = 0; k < nsent; k++)
		for (unsigned i = 0; i < sent[k].nread; i++)
			if (gpa < sent[k].rgpa[i] + sent[k].rlen[i] && sent[k].rgpa[i] < gpa + len)
				sent[k].clobbered = true;
}

/* A chain of 1..4 buffers on a queue the driver set up, payloads from the
 * input; remembered for the checks at reap time. */
static void op_chain(struct fuzz_in *in)
{
	unsigned q = fuzz_u8(in) % VQ_DEV_MAX_QUEUES, n = fuzz_u8(in) % 4 + 1, nread;
	struct vq_buf b[4];
	struct sent *s;
	uint64_t tok;
	int rc;

	if (!drv.queues[q].active) {
		for (q = 0; q < VQ_DEV_MAX_QUEUES && !drv.queues[q].active; q++)
			;
		if (q == VQ_DEV_MAX_QUEUES)
			return;
	}
	nread = fuzz_u8(in) % (n + 1);
	if (nsent == MAX_TOKENS)
		return;
	s = &sent[nsent];
	memset(s, 0, sizeof(*s));
	tok = 0x1000 + nsent;
	FUZZ_LUA("do -- a chain of %u buffers (%u device-readable) on queue %u, token 0x%llx\n"
		 "  local b = {}\n  R[0x%llx] = {}\n", n, nread, q, (unsigned long long)tok,
		 (unsigned long long)tok);
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = fuzz_u16(in) % 4096 + 1;
		uint64_t gpa = vq_drv_alloc(&drv, len, 8);

		if (!gpa) {
			FUZZ_LUA("  -- %u more bytes do not fit in the driver's heap: no chain\nend\n",
				 len);
			return;
		}
		FUZZ_LUA("  b[%u] = d:alloc(%u, 8); assert(b[%u] == 0x%llx)\n", i + 1, len, i + 1,
			 (unsigned long long)gpa);
		b[i] = (struct vq_buf){gpa, len, i >= nread};
		if (i < nread) {
			uint8_t payload[4096];
			const uint8_t *p;

			for (uint32_t k = 0; k < len; k++)
				payload[k] = in->n ? fuzz_u8(in) : (uint8_t)k;
			s->rgpa[i] = gpa;
			s->rlen[i] = len;
			FUZZ_LUA("  pcall(m.mem.write, m.mem, b[%u], ", i + 1);
			lua_bytes(payload, len);
			FUZZ_LUA(")\n");
			/* a write fault range keeps the old bytes: the check is
			 * against what the buffer holds */
			vq_mem_write(vq_machine_mem(m), gpa, payload, len);
			p = vq_mem_translate(vq_machine_mem(m), gpa, len, VQ_ACC_READ, NULL);
			if (p) {
				s->rhash[i] = hash(p, len);
				FUZZ_LUA("  R[0x%llx][%u] = m.mem:read(b[%u], %u)\n",
					 (unsigned long long)tok, i + 1, i + 1, len);
			} else {
				s->clobbered = true; /* unreadable: nothing to compare */
			}
		} else {
			s->write_bytes += len;
			s->wgpa[s->nwrite] = gpa;
			s->wlen[s->nwrite++] = len;
		}
	}
	s->nread = nread;
	FUZZ_LUA("  local q = d:queue(%u)\n  if pcall(q.add, q, {", q);
	for (unsigned i = 0; i < n; i++)
		FUZZ_LUA("%s{b[%u], %u, \"%s\"}", i ? ", " : "", i + 1, b[i].len,
			 b[i].writable ? "w" : "r");
	FUZZ_LUA("}, 0x%llx) then pcall(q.kick, q) end\nend\n", (unsigned long long)tok);
	rc = vq_drv_add(&drv, q, b, n, tok);
	if (rc < 0)
		return;
	s->token = tok;
	nsent++;
	vq_drv_kick(&drv, q);
}

static struct sent *find_sent(uint64_t tok)
{
	if (tok < 0x1000 || tok - 0x1000 >= nsent)
		return NULL;
	return &sent[tok - 0x1000];
}

/* Reap every queue; check each used element of the harness's chains. */
static void op_reap(void)
{
	struct vq_mem *mem = vq_machine_mem(m);

	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
		uint64_t tok;
		uint32_t len;

		if (!drv.queues[q].active)
			continue;
		while (vq_drv_get_used(&drv, q, &tok, &len) == 1) {
			struct sent *s = find_sent(tok);

			FUZZ_LUA("do -- reap queue %u\n  local tok, len = d:queue(%u):reap()\n"
				 "  assert(tok == 0x%llx and len == %u, \"the harness reaped token "
				 "0x%llx, %u bytes\")\n", q, q, (unsigned long long)tok, len,
				 (unsigned long long)tok, len);
			/* a driver helper's own chain; or the rings were
			 * rewritten under the driver: the device saw other chains */
			if (s)
				s->reaped = true;
			if (!s || raw_queue || cfg_lost) {
				FUZZ_LUA("end\n");
				continue;
			}
			FUZZ_LUA("  assert(len <= %llu, \"used.len beyond the chain's %llu writable "
				 "bytes\")\n", (unsigned long long)s->write_bytes,
				 (unsigned long long)s->write_bytes);
			FUZZ_CHECK(len <= s->write_bytes, "queue %u: used.len %u, %llu writable bytes",
				   q, len, (unsigned long long)s->write_bytes);
			for (unsigned i = 0; i < s->nread && !s->clobbered &&
					     dev->cls->device_id != VIRTIO_ID_BALLOON; i++) {
				/* a read fault range hides the bytes: nothing to compare */
				const uint8_t *p = vq_mem_translate(mem, s->rgpa[i], s->rlen[i],
								    VQ_ACC_READ, NULL);

				if (!p)
					continue;
				FUZZ_LUA("  assert(m.mem:read(0x%llx, %u) == R[0x%llx][%u], "
					 "\"device-readable buffer 0x%llx+%u was written\")\n",
					 (unsigned long long)s->rgpa[i], s->rlen[i],
					 (unsigned long long)tok, i + 1, (unsigned long long)s->rgpa[i],
					 s->rlen[i]);
				FUZZ_CHECK(hash(p, s->rlen[i]) == s->rhash[i],
					   "queue %u: device-readable buffer 0x%llx+%u was written", q,
					   (unsigned long long)s->rgpa[i], s->rlen[i]);
			}
			FUZZ_LUA("end\n");
		}
	}
}

/* Is the shadow check on? Not for balloon (inflating gives pages back to
 * the host, which may zero them), nor once the input rewrote the rings. */
static bool shadow_on(void)
{
	return dev->cls->device_id != VIRTIO_ID_BALLOON && !raw_queue && !cfg_lost;
}

/* Before a run: copy the driver's heap as far as it was used, a page
 * either side. */
static void shadow_take(void)
{
	shadow_lo = HEAP - 4096;
	shadow_hi = drv.heap_next + 4096 < RAM + RAM_SIZE ? drv.heap_next + 4096 : RAM + RAM_SIZE;
	memcpy(shadow + (shadow_lo - RAM), ram_host + (shadow_lo - RAM), shadow_hi - shadow_lo);
}

/* May the device have written the byte at gpa? The end of a range that
 * allows it (the device may write every byte up to there), or 0. */
static uint64_t may_write_end(uint64_t gpa)
{
	for (unsigned k = 0; k < nsent; k++)
		for (unsigned i = 0; i < sent[k].nwrite && !sent[k].reaped; i++)
			if (gpa - sent[k].wgpa[i] < sent[k].wlen[i])
				return sent[k].wgpa[i] + sent[k].wlen[i];
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
		const struct vq_drv_queue *dq = &drv.queues[q];
		struct vq_ring_addr a;
		uint64_t bytes;

		if (!dq->active ||
		    vq_ring_size(dq->ring.layout, dq->ring.num, dq->ring_gpa, &a, &bytes) < 0)
			continue;
		if (dq->ring.layout == VQ_RING_SPLIT) {
			if (gpa - a.device < bytes - (a.device - dq->ring_gpa))
				return dq->ring_gpa + bytes;
		} else if (gpa - dq->ring_gpa < bytes) {
			return dq->ring_gpa + bytes; /* packed: used descriptors and the device area */
		}
	}
	return 0;
}

/* After a run: every byte that changed is one the device may write. */
static void shadow_check(void)
{
	const uint8_t *now = ram_host + (shadow_lo - RAM), *was = shadow + (shadow_lo - RAM);
	uint64_t len = shadow_hi - shadow_lo, end;

	for (uint64_t i = 0; i < len; i++) {
		/* skip equal stretches 512 bytes at a time (few memcmp calls:
		 * each is traced under the fuzzer's instrumentation) */
		while (i < len) {
			uint64_t n = len - i < 512 ? len - i : 512;

			if (memcmp(now + i, was + i, n) != 0)
				break;
			i += n;
		}
		if (i >= len)
			break;
		while (now[i] == was[i])
			i++; /* the first difference: memcmp saw one */
		end = may_write_end(shadow_lo + i);
		if (end) { /* every byte up to end may have changed */
			i = end - shadow_lo - 1;
			continue;
		}
		FUZZ_LUA("assert(m.mem:read(0x%llx, 1) == string.char(%u), \"the device wrote "
			 "0x%llx: no writable buffer in flight and no device ring area there\")\n",
			 (unsigned long long)(shadow_lo + i), was[i], (unsigned long long)(shadow_lo + i));
		FUZZ_CHECK(end != 0,
			   "the device wrote 0x%llx (0x%02x -> 0x%02x): no writable buffer "
			   "in flight and no device ring area there",
			   (unsigned long long)(shadow_lo + i), was[i], now[i]);
	}
}

/* Run the machine to idle, bounded, with the shadow check around it. */
static void run_checked(void)
{
	bool on = shadow_on();

	FUZZ_LUA("assert(m:run(%u) < %u, \"no end to the work\")\n", RUN_BOUND, RUN_BOUND);
	if (on)
		shadow_take();
	FUZZ_CHECK(vq_machine_run(m, RUN_BOUND) < RUN_BOUND, "no end to the work");
	if (on)
		shadow_check();
}

static void check_state(void)
{
	uint8_t st = dev->status;

	FUZZ_LUA("check()\n");
	if (st & VIRTIO_STATUS_FEATURES_OK)
		for (unsigned w = 0; w < VQ_FEATURE_WORDS; w++)
			FUZZ_CHECK(!(dev->driver_features[w] & ~dev->host_features[w]),
				   "negotiated 0x%llx not offered (word %u)",
				   (unsigned long long)dev->driver_features[w], w);
	FUZZ_CHECK(!(st & VIRTIO_STATUS_DEVICE_NEEDS_RESET) || dev->stats.errors > 0,
		   "DEVICE_NEEDS_RESET with no error counted");
}

/* vq_drv_init() with queues of num entries: negotiate, set up queues from
 * 0 while the device has them (QueueNumMax not 0), DRIVER_OK, stopping at
 * the first step that fails. Returns how many queues it tried to set up
 * (the reproducer's loop does the same setups, stopping at the same one). */
static unsigned init_sized(const uint64_t *want, uint16_t num)
{
	int rc = vq_drv_negotiate(&drv, want);
	unsigned q;

	for (q = 0; rc == 0 && q < VQ_DEV_MAX_QUEUES; q++) {
		uint32_t max = 0;

		if (vq_drv_reg_write(&drv, VIRTIO_MMIO_QUEUE_SEL, q) < 0 ||
		    vq_drv_reg_read(&drv, VIRTIO_MMIO_QUEUE_NUM_MAX, &max) < 0 || max == 0)
			break;
		rc = vq_drv_setup_queue(&drv, q, num);
	}
	if (rc == 0)
		vq_drv_driver_ok(&drv);
	return q;
}

/* The fuzzer's reads are sequenced one statement each: the order of a
 * call's arguments is the compiler's choice, and gcc's replay and clang's
 * fuzzer must decode an input the same way. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	unsigned steps = 0, t = T_MMIO;

	layout = LAYOUT_FEATURES;
	if (size && data[0] >= SEL_FIRST && data[0] < SEL_FIRST + 4) {
		unsigned sel = fuzz_u8(&in) - SEL_FIRST;

		t = sel & 1 ? T_PCI : T_MMIO;
		layout = sel & 2 ? LAYOUT_PACKED : LAYOUT_SPLIT;
	}
	start_input(t);
	while (in.n && steps++ < 128) {
		switch (fuzz_u8(&in) % 10) {
		case 0: {
			const char *name = NULL;
			uint64_t at = transport == T_PCI ? pick_pci_reg(&in, pci_cfg, pci_bar, &name) : 0;
			uint32_t off = transport == T_PCI ? 0 : pick_reg(&in), v;
			unsigned width;

			switch (fuzz_u8(&in) & 7) {
			case 0:
				v = fuzz_u32(&in);
				break;
			case 1:
				v = fuzz_u8(&in) & 0x7f; /* status bits */
				break;
			default:
				v = fuzz_u8(&in) % 8; /* selectors, indices */
				break;
			}
			/* the widths a guest CPU makes (and the shell's m:write takes) */
			width = (fuzz_u8(&in) & 3) ? 4 : 1u << (fuzz_u8(&in) % 3);
			if (width < 4)
				v &= (1u << (8 * width)) - 1; /* a narrow store has no more bits */
			if (transport == T_PCI) {
				/* a queue's fields, directly or through the
				 * pci_cfg window of config space */
				if ((at >= pci_bar + VQ_PCI_COMMON_OFF + VQ_PCI_CC_Q_SELECT &&
				     at < pci_bar + VQ_PCI_COMMON_OFF + VQ_PCI_COMMON_LEN) ||
				    (at >= pci_cfg + VQ_PCI_CAP_PCICFG_AT &&
				     at < pci_cfg + VQ_PCI_CAP_MSIX_AT))
					raw_queue = true;
				/* decoding, bus mastering, the BAR's place */
				if (at >= pci_cfg && at < pci_cfg + VQ_PCI_BAR0 + 8)
					cfg_lost = true;
			} else {
				at = MMIO + off;
				name = reg_name(off);
				if (off >= VIRTIO_MMIO_QUEUE_SEL && off <= VIRTIO_MMIO_QUEUE_RESET)
					raw_queue = true;
			}
			FUZZ_LUA("m:write(0x%llx, 0x%x, %u) -- %s\n", (unsigned long long)at, v, width,
				 name);
			vq_machine_write(m, at, width, v);
			break;
		}
		case 1: {
			const char *name = NULL;
			uint64_t at = transport == T_PCI ? pick_pci_reg(&in, pci_cfg, pci_bar, &name) : 0;
			uint32_t v;
			unsigned width = 4;

			if (transport == T_PCI) {
				width = 1u << (fuzz_u8(&in) % 3);
			} else {
				uint32_t off = pick_reg(&in);

				at = MMIO + off;
				name = reg_name(off);
			}
			FUZZ_LUA("m:read(0x%llx, %u) -- %s\n", (unsigned long long)at, width, name);
			vq_machine_read(m, at, width, &v);
			break;
		}
		case 2:
			op_guest_write(&in);
			break;
		case 3: {
			uint64_t want[VQ_FEATURE_WORDS];
			uint8_t hi = 0;
			uint16_t num = 0;

			want[0] = fuzz_u64(&in);
			hi = fuzz_u8(&in);
			want[1] = hi & 1 ? ~0ull : 0;
			if (layout == LAYOUT_SPLIT)
				want[0] &= ~(1ull << VIRTIO_F_RING_PACKED);
			else if (layout == LAYOUT_PACKED)
				want[0] |= 1ull << VIRTIO_F_RING_PACKED;
			/* packed inputs: the byte's other bits, when set, are
			 * the queues' size (any size, spec 2.8) */
			if (layout == LAYOUT_PACKED)
				num = hi >> 1;
			FUZZ_LUA("%s", num ? "pcall(function()\n  d:negotiate{"
					   : "pcall(d.init, d, {features = {");
			for (unsigned bit = 0, k = 0; bit < 64 * VQ_FEATURE_WORDS; bit++)
				if (want[bit / 64] >> (bit % 64) & 1)
					FUZZ_LUA("%s%u", k++ ? ", " : "", bit);
			if (num) {
				unsigned nq = init_sized(want, num);

				FUZZ_LUA("}\n  for q = 0, %d do d:setup_queue(q, %u) end\n  d:driver_ok()\n"
					 "end) -- the driver initialises the device again, queues of %u\n",
					 (int)nq - 1, num, num);
			} else {
				FUZZ_LUA("}}) -- the driver initialises the device again\n");
				vq_drv_init(&drv, want, VQ_DRV_ALL_QUEUES);
			}
			nsent = 0; /* new rings: older tokens are gone */
			raw_queue = false;
			break;
		}
		case 4:
			op_chain(&in);
			break;
		case 5:
			run_checked();
			break;
		case 6:
			op_reap();
			break;
		case 7:
			FUZZ_LUA("pcall(d.reset, d) -- refused when the BAR moved\n");
			vq_drv_reset(&drv);
			nsent = 0;
			break;
		case 8: {
			uint64_t gpa = pick_gpa(&in);
			unsigned len = fuzz_u16(&in) % 0x2000 + 1, acc = fuzz_u8(&in) % 3 + 1;
			static const char *const dir[] = {"", "r", "w", "rw"};

			FUZZ_LUA("pcall(m.mem.fault, m.mem, 0x%llx, %u, \"%s\")\n", (unsigned long long)gpa,
				 len, dir[acc]);
			vq_mem_fault_add(vq_machine_mem(m), gpa, len, acc);
			break;
		}
		case 9: {
			uint8_t buf[16] = {0};
			uint32_t off = fuzz_u8(&in) % 0x80, len = fuzz_u8(&in) % 16 + 1;

			if (fuzz_u8(&in) & 1) {
				for (unsigned i = 0; i < len; i++)
					buf[i] = fuzz_u8(&in);
				FUZZ_LUA("pcall(d.config_write, d, %u, ", off);
				lua_bytes(buf, len);
				FUZZ_LUA(")\n");
				vq_drv_config_write(&drv, off, buf, len);
			} else {
				FUZZ_LUA("pcall(d.config_read, d, %u, %u)\n", off, len);
				vq_drv_config_read(&drv, off, buf, len);
			}
			break;
		}
		}
		check_state();
	}
	FUZZ_LUA("-- the end of the input: run to idle, reap, check\n");
	run_checked();
	op_reap();
	check_state();
	FUZZ_LUA("print(\"every invariant held\")\n");
	return 0;
}
