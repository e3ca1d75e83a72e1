/* fuzz_pci.c - the reference driver's virtio-pci probe against a function
 * whose config space the input writes: the identification registers,
 * any config byte the hardware could present (BAR registers, the
 * capability list, MSI-X), capabilities added with any field values
 * (reserved cfg_type and BAR, short or long cap_len, offsets and lengths
 * outside the BAR) or taken off the list. Then the driver probes it (MSI-X
 * or INTx, the input's first byte says), and if it takes the function,
 * initialises the device and reads a sector.
 *
 * Checked for each input:
 * - the probe ends (the capability walk is bounded whatever the list);
 * - it either takes the function or refuses it with -VQ_E_NO_DEVICE and a
 *   reason in d->pci.refused, nothing else;
 * - a function it took is virtio's: a device type 1..63, the BAR it placed
 *   aligned to its size (sized again here, as firmware does), and the
 *   parts of the structures it uses inside that BAR (the common
 *   configuration's fields, the notification structure of at least 2
 *   bytes, the ISR byte, the device configuration of at most 4 KiB);
 * - initialisation and the read end with 0 or a named error code;
 * - the device never raised DEVICE_NEEDS_RESET without counting an error.
 * AddressSanitizer and UBSan do the rest (no read past config space or a
 * stack buffer, no overflow in the address arithmetic).
 *
 * With fuzz_lua set (replay --lua, vqsim --from-fuzz pci FILE) each step is
 * written as the vqsim Lua that does the same: dev:pci_strap,
 * dev:pci_add_cap, dev:pci_hide_cap, dev:pci_ids, m:driver.
 */
#include "fuzz.h"
#include "driver.h"
#include "drv/blk.h"
#include "machine.h"
#include "transport/pci.h"

#define RAM       0x40000000ull
#define RAM_SIZE  (1ull << 20)
#define HEAP      RAM
#define BAR       0x10000000ull
#define MAX_OPS   48
#define RUN_BOUND 20000

static struct vq_machine *m;
static struct vq_slot *slot;
static struct vq_pci fresh; /* the function as the machine made it */
static struct vq_drv drv;

static void setup_once(void)
{
	char err[256];

	m = vq_machine_new(1);
	if (!m || vq_machine_add_ram(m, RAM, RAM_SIZE) < 0 ||
	    !vq_machine_add_pci(m, "blk", NULL, NULL, err, sizeof(err)))
		abort();
	slot = vq_machine_slot(m, 0);
	fresh = slot->pci;
}

/* A value biased towards what a probe compares against. */
static uint32_t pick_offset(struct fuzz_in *in)
{
	static const uint32_t near[] = {0, VQ_PCI_COMMON_OFF, VQ_PCI_ISR_OFF, VQ_PCI_DEVICE_OFF,
					VQ_PCI_NOTIFY_OFF, VQ_PCI_BAR_SIZE, 0xfffffff0u};
	uint8_t k = fuzz_u8(in);

	if (k < 0xe0)
		return near[k % 7] + (uint32_t)(int8_t)fuzz_u8(in);
	return fuzz_u32(in);
}

static void op_strap(struct fuzz_in *in)
{
	unsigned width = 1u << (fuzz_u8(in) % 3);
	uint32_t off = fuzz_u8(in) & ~(width - 1u), val = fuzz_u32(in);

	if (width < 4)
		val &= (1u << (8 * width)) - 1u;

	if (vq_pci_cfg_strap(&slot->pci, off, width, val) == 0)
		FUZZ_LUA("dev:pci_strap(0x%02x, 0x%x, %u)\n", off, val, width);
}

static void op_add_cap(struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	struct vq_pci_cap_quirk c = {
		.type = sel < 0xc0 ? (uint8_t)(1 + sel % 9) : fuzz_u8(in),
		.bar = (uint8_t)(fuzz_u8(in) % 9),
		.id = fuzz_u8(in),
		.vndr = (sel & 0x0f) == 0x0f ? fuzz_u8(in) : 0,
		.cap_len = (sel & 0x30) == 0x30 ? fuzz_u8(in) : 0,
		.last = (sel >> 6) & 1,
	};

	c.offset = pick_offset(in);
	c.length = pick_offset(in);
	c.extra = (sel & 0x80) ? fuzz_u32(in) : 4;
	if (vq_pci_quirk_add_cap(&slot->pci, &c) < 0)
		return;
	FUZZ_LUA("dev:pci_add_cap{type = %u, bar = %u, id = %u, vndr = %u, cap_len = %u, "
		 "offset = 0x%x, length = 0x%x, extra = 0x%x, last = %s}\n",
		 c.type, c.bar, c.id, c.vndr ? c.vndr : VQ_PCI_CAP_ID_VNDR, c.cap_len, c.offset,
		 c.length, c.extra, c.last ? "true" : "false");
}

/* Take the k-th capability of the list off it. */
static void op_hide_cap(struct fuzz_in *in)
{
	unsigned k = fuzz_u8(in) % 16, at = slot->pci.cfg[VQ_PCI_CAP_PTR] & 0xfcu;

	for (unsigned n = 0; at && n < k && n < 48; n++)
		at = slot->pci.cfg[at + 1] & 0xfcu;
	if (at && vq_pci_quirk_unlink_cap(&slot->pci, at) == 0)
		FUZZ_LUA("dev:pci_hide_cap(0x%02x)\n", at);
}

static void op_ids(struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	struct vq_pci_ids ids;

	vq_pci_get_ids(&slot->pci, &ids);
	ids.vendor = (sel & 1) ? fuzz_u16(in) : VQ_PCI_VENDOR_ID;
	ids.device = (sel & 2) ? fuzz_u16(in) : (uint16_t)(0x1000 + fuzz_u8(in) % 0x80);
	ids.subsys = (sel & 4) ? fuzz_u16(in) : (uint16_t)(fuzz_u8(in) % 0x42);
	ids.revision = fuzz_u8(in);
	vq_pci_quirk_ids(&slot->pci, &ids);
	FUZZ_LUA("dev:pci_ids{vendor = 0x%04x, device = 0x%04x, subsystem_vendor = 0x%04x, "
		 "subsystem = 0x%04x, revision = %u}\n",
		 ids.vendor, ids.device, ids.subsys_vendor, ids.subsys, ids.revision);
}

/* The size of BAR register i (0-5) as a driver sizes it: all ones
 * written, the mask read back, the register restored. 0: no memory BAR. */
static uint64_t bar_size(unsigned i)
{
	uint64_t reg = slot->base + VQ_PCI_BAR0 + 4 * i;
	uint32_t lo = 0, hi = 0, olo = 0, ohi = 0;
	bool wide;

	vq_machine_read(m, reg, 4, &olo);
	vq_machine_write(m, reg, 4, 0xffffffffu);
	vq_machine_read(m, reg, 4, &lo);
	vq_machine_write(m, reg, 4, olo);
	if (lo & 1)
		return 0;
	wide = (lo & 6) == 4 && i < 5;
	if (wide) {
		vq_machine_read(m, reg + 4, 4, &ohi);
		vq_machine_write(m, reg + 4, 4, 0xffffffffu);
		vq_machine_read(m, reg + 4, 4, &hi);
		vq_machine_write(m, reg + 4, 4, ohi);
	} else {
		hi = 0xffffffffu;
	}
	return ~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1;
}

/* [at, at + len) inside [base, base + size). */
static bool inside(uint64_t at, uint64_t len, uint64_t base, uint64_t size)
{
	return at >= base && at - base <= size && len <= size - (at - base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_u8(&in);
	bool msix = flags & 1;
	uint8_t sector[512];
	uint64_t bar_bytes;
	int rc;

	if (!m)
		setup_once();
	vq_drv_detach(&drv);
	/* the device reset and its interrupt line down, then the function
	 * as the machine made it */
	vq_dev_reset(&slot->dev);
	vq_pci_reset(&slot->pci);
	vq_machine_run(m, RUN_BOUND);
	slot->pci = fresh;
	FUZZ_LUA("-- A reproducer of a fuzz_pci input (vqsim --from-fuzz): a blk function's\n"
		 "-- config space as the input wrote it, then the reference driver's probe.\n"
		 "local m = vqsim.machine{seed = 1, ram = 0x%llx, ram_base = 0x%llx}\n"
		 "local dev = m:add(\"blk\", {transport = \"pci\"})\n",
		 (unsigned long long)RAM_SIZE, (unsigned long long)RAM);
	for (unsigned n = 0; in.n && n < MAX_OPS; n++) {
		switch (fuzz_u8(&in) % 4) {
		case 0: op_strap(&in); break;
		case 1: op_add_cap(&in); break;
		case 2: op_hide_cap(&in); break;
		default: op_ids(&in); break;
		}
	}
	rc = vq_drv_attach_pci(&drv, m, slot->base, BAR, msix, HEAP, RAM_SIZE);
	FUZZ_LUA("local ok, d = pcall(m.driver, m, dev, {msix = %s, heap = 0x%llx, "
		 "heap_size = 0x%llx})\n",
		 msix ? "true" : "false", (unsigned long long)HEAP, (unsigned long long)RAM_SIZE);
	FUZZ_CHECK(rc == 0 || rc == -VQ_E_NO_DEVICE, "probe returned %d (%s)", rc, vq_errname(rc));
	if (rc < 0) {
		FUZZ_CHECK(drv.pci.refused[0] != 0, "probe refused the function without a reason");
		FUZZ_LUA("assert(not ok and tostring(d):find(\"NO_DEVICE\"), tostring(d))\n"
			 "print(\"every invariant held\")\n");
		return 0;
	}
	FUZZ_LUA("assert(ok, tostring(d))\n");
	FUZZ_CHECK(drv.device_id >= 1 && drv.device_id <= 0x3f, "device type %u",
		   (unsigned)drv.device_id);
	bar_bytes = bar_size(drv.pci.bar_index);
	FUZZ_CHECK(drv.pci.bar >= BAR && bar_bytes && drv.pci.bar % bar_bytes == 0,
		   "BAR %u of 0x%llx bytes placed at 0x%llx", drv.pci.bar_index,
		   (unsigned long long)bar_bytes, (unsigned long long)drv.pci.bar);
	FUZZ_CHECK(inside(drv.pci.common, VQ_PCI_CC_Q_NDATA, drv.pci.bar, bar_bytes) &&
			   inside(drv.pci.notify, drv.pci.notify_len, drv.pci.bar, bar_bytes) &&
			   inside(drv.pci.isr, 1, drv.pci.bar, bar_bytes) &&
			   (drv.pci.device_len == 0 ||
			    inside(drv.pci.device, drv.pci.device_len, drv.pci.bar, bar_bytes)),
		   "a structure outside BAR %u (0x%llx bytes at 0x%llx): common 0x%llx, notify "
		   "0x%llx+%u, isr 0x%llx, device 0x%llx+%u",
		   drv.pci.bar_index, (unsigned long long)bar_bytes, (unsigned long long)drv.pci.bar,
		   (unsigned long long)drv.pci.common, (unsigned long long)drv.pci.notify,
		   drv.pci.notify_len, (unsigned long long)drv.pci.isr,
		   (unsigned long long)drv.pci.device, drv.pci.device_len);
	FUZZ_CHECK(drv.pci.device_len <= 4096 && drv.pci.notify_len >= 2,
		   "device cfg of %u bytes, notify structure of %u", drv.pci.device_len,
		   drv.pci.notify_len);
	rc = vq_drv_init(&drv, NULL, VQ_DRV_ALL_QUEUES);
	FUZZ_CHECK(rc == 0 || (rc < 0 && strcmp(vq_errname(rc), "UNKNOWN") != 0),
		   "init returned %d", rc);
	FUZZ_LUA("local ok2, e2 = pcall(d.init, d, {})\n");
	if (rc == 0 && drv.device_id == VIRTIO_ID_BLOCK) {
		rc = vq_drv_blk_read(&drv, 0, sector, sizeof(sector));
		FUZZ_CHECK(rc >= 0 || strcmp(vq_errname(rc), "UNKNOWN") != 0,
			   "blk read returned %d", rc);
		FUZZ_LUA("if ok2 then pcall(d.blk_read, d, 0, 1) end\n");
	}
	vq_machine_run(m, RUN_BOUND);
	FUZZ_CHECK(!(slot->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ||
			   slot->dev.stats.errors > 0,
		   "DEVICE_NEEDS_RESET with no error counted");
	FUZZ_LUA("assert(not dev.needs_reset or dev:stats().errors > 0, "
		 "\"DEVICE_NEEDS_RESET with no error counted\")\n"
		 "print(\"every invariant held\")\n");
	return 0;
}
