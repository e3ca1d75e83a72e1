/* driver_pci.c - the reference driver's virtio-pci transport: what Linux's
 * virtio_pci_modern_dev.c does. The device is learnt only from its config
 * space: ids, the capability list, the BAR it sizes and places; then MSI-X
 * (or INTx) is set up. The rest of the driver reaches it through the ops
 * table (driver.h), naming fields by their virtio-mmio register offset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"

#define CAP_WALK_MAX 48 /* a capability list longer than this is a loop */

static int crd(struct vq_drv *d, uint32_t off, unsigned w, uint32_t *v)
{
	return vq_machine_read(d->m, d->pci.cfg + off, w, v);
}

static int cwr(struct vq_drv *d, uint32_t off, unsigned w, uint32_t v)
{
	return vq_machine_write(d->m, d->pci.cfg + off, w, v);
}

/* Handle the MSI-X messages for this device that came since the last
 * call: the ISR bits they stand for. */
static uint32_t msix_take(struct vq_drv *d)
{
	uint64_t count = vq_machine_msi_count(d->m), kept = count, first;
	uint32_t bits = 0;

	if (kept > VQ_MACHINE_MSI_LOG)
		kept = VQ_MACHINE_MSI_LOG;
	first = count - kept;
	if (d->pci.msi_next < first)
		d->pci.msi_next = first; /* older ones were lost */
	for (; d->pci.msi_next < count; d->pci.msi_next++) {
		struct vq_msi msg;

		if (vq_machine_msi_get(d->m, (unsigned)(d->pci.msi_next - first), &msg) < 0)
			break;
		if (msg.addr != VQ_DRV_MSI_ADDR || (msg.data >> 8) != d->pci.msi_tag)
			continue;
		bits |= (msg.data & 0xff) == 0 ? VIRTIO_MMIO_INT_CONFIG : VIRTIO_MMIO_INT_VRING;
	}
	return bits;
}

static bool pci_irq_pending(struct vq_drv *d)
{
	if (d->pci.msix)
		return vq_machine_msi_count(d->m) != d->pci.msi_next;
	return vq_machine_irq_level(d->m, d->irq);
}

static int pci_rd(struct vq_drv *d, uint32_t reg, uint32_t *val)
{
	uint32_t off;
	unsigned w;

	*val = 0;
	if (reg == VIRTIO_MMIO_INTERRUPT_STATUS) {
		if (d->pci.msix) {
			*val = msix_take(d);
			return 0;
		}
		return vq_machine_read(d->m, d->pci.isr, 1, val); /* read-to-clear */
	}
	if (vq_pci_common_field(reg, &off, &w) < 0)
		return -VQ_E_INVAL;
	return vq_machine_read(d->m, d->pci.common + off, w, val);
}

static int pci_wr(struct vq_drv *d, uint32_t reg, uint32_t val)
{
	uint32_t off, sel = 0;
	unsigned w;
	int rc;

	switch (reg) {
	case VIRTIO_MMIO_INTERRUPT_ACK:
		return 0; /* reading the ISR acknowledged it */
	case VIRTIO_MMIO_QUEUE_NOTIFY: {
		uint32_t qn = val & 0xffff;
		uint64_t at;

		if (qn >= VQ_DEV_MAX_QUEUES)
			return -VQ_E_INVAL;
		at = d->pci.notify + (uint64_t)d->pci.notify_off[qn] * d->pci.notify_mult;
		/* NOTIFICATION_DATA (spec 4.1.5.2): the kick composed vqn | next_off
		 * << 16 | next_wrap << 31 (vq_drv_kick); it goes out as 32 bits */
		if (vq_drv_has_feature(d, VIRTIO_F_NOTIFICATION_DATA))
			return vq_machine_write(d->m, at, 4, val);
		return vq_machine_write(d->m, at, 2, qn);
	}
	case VIRTIO_MMIO_QUEUE_READY:
		/* before enabling: where to notify, and the queue's vector */
		if (val != 1 ||
		    (rc = vq_machine_read(d->m, d->pci.common + VQ_PCI_CC_Q_SELECT, 2, &sel)) < 0)
			break;
		if (sel < VQ_DEV_MAX_QUEUES) {
			uint32_t noff = 0, vec = 0;

			if ((rc = vq_machine_read(d->m, d->pci.common + VQ_PCI_CC_Q_NOFF, 2, &noff)) <
			    0)
				return rc;
			/* the queue's notification address inside the structure (as
			 * Linux's vp_modern_map_vq_notify checks) */
			if ((uint64_t)noff * d->pci.notify_mult +
				    (vq_drv_has_feature(d, VIRTIO_F_NOTIFICATION_DATA) ? 4 : 2) >
			    d->pci.notify_len)
				return -VQ_E_BAD_ACCESS;
			d->pci.notify_off[sel] = (uint16_t)noff;
			if (d->pci.msix) {
				uint32_t want = sel + 1 < d->pci.nvectors ? sel + 1 : 1;

				if ((rc = vq_machine_write(d->m, d->pci.common + VQ_PCI_CC_Q_MSIX, 2,
							   want)) < 0 ||
				    (rc = vq_machine_read(d->m, d->pci.common + VQ_PCI_CC_Q_MSIX, 2,
							  &vec)) < 0)
					return rc;
				if (vec != want)
					return -VQ_E_NOT_READY;
			}
		}
		break;
	}
	if (vq_pci_common_field(reg, &off, &w) < 0)
		return -VQ_E_INVAL;
	rc = vq_machine_write(d->m, d->pci.common + off, w, val);
	if (rc == 0 && reg == VIRTIO_MMIO_STATUS && val == 0 && d->pci.msix)
		/* a reset forgot the vectors: config changes on vector 0 again */
		rc = vq_machine_write(d->m, d->pci.common + VQ_PCI_CC_MSIX, 2, 0);
	return rc;
}

/* Device cfg accesses stay inside the structure the capability names
 * (none: no access). */
static int pci_cfg_read(struct vq_drv *d, uint32_t off, unsigned width, uint32_t *val)
{
	*val = 0;
	if (off > d->pci.device_len || width > d->pci.device_len - off)
		return -VQ_E_BAD_ACCESS;
	return vq_machine_read(d->m, d->pci.device + off, width, val);
}

static int pci_cfg_write(struct vq_drv *d, uint32_t off, unsigned width, uint32_t val)
{
	if (off > d->pci.device_len || width > d->pci.device_len - off)
		return -VQ_E_BAD_ACCESS;
	return vq_machine_write(d->m, d->pci.device + off, width, val);
}

static const struct vq_drv_ops pci_ops = {
	.rd = pci_rd, .wr = pci_wr, .cfg_read = pci_cfg_read, .cfg_write = pci_cfg_write,
	.irq_pending = pci_irq_pending,
};

/* ---- probe: ids, BARs, capabilities (spec 4.1.2.2, 4.1.4.1) ---- */

/* Why the probe turned the function down, kept in d->pci.refused. */
static int refuse(struct vq_drv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(struct vq_drv *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->pci.refused, sizeof(d->pci.refused), fmt, ap);
	va_end(ap);
	return -VQ_E_NO_DEVICE;
}

/* Transitional PCI device ids and the device type each stands for (spec
 * 4.1.2.1's table). */
static const struct {
	uint16_t pci, virtio;
} transitional[] = {
	{0x1000, 1}, {0x1001, 2}, {0x1002, 5}, {0x1003, 3}, {0x1004, 8}, {0x1005, 4}, {0x1009, 9},
};

/* Spec 4.1.2.2: vendor 0x1af4 with device 0x1040 + type, or a transitional
 * id; any revision. Sets d->device_id. 0 or -VQ_E_NO_DEVICE. */
static int match_ids(struct vq_drv *d)
{
	uint32_t vendor = 0, dev = 0, subsys = 0;

	if (crd(d, VQ_PCI_VENDOR, 2, &vendor) < 0 || crd(d, VQ_PCI_DEVICE, 2, &dev) < 0 ||
	    crd(d, VQ_PCI_SUBSYS, 2, &subsys) < 0)
		return refuse(d, "config space at 0x%llx does not answer",
			      (unsigned long long)d->pci.cfg);
	if (vendor != VQ_PCI_VENDOR_ID)
		return refuse(d, "vendor id 0x%04x is not virtio's 0x1af4 (spec 4.1.2.2)", vendor);
	if (dev > VQ_PCI_DEVICE_ID_BASE && dev <= VQ_PCI_DEVICE_ID_BASE + 0x3f) {
		d->device_id = dev - VQ_PCI_DEVICE_ID_BASE;
		return 0;
	}
	if (dev == VQ_PCI_DEVICE_ID_BASE)
		return refuse(d, "device id 0x%04x names virtio device type 0, which is reserved",
			      dev);
	if (dev < 0x1000 || dev > 0x103f)
		return refuse(d, "device id 0x%04x is outside virtio's 0x1000-0x107f (spec 4.1.2.2)",
			      dev);
	for (size_t i = 0; i < sizeof(transitional) / sizeof(transitional[0]); i++) {
		if (transitional[i].pci == dev) {
			d->device_id = transitional[i].virtio;
			return 0;
		}
	}
	/* another transitional id: its subsystem device id is the type (4.1.2.3) */
	if (subsys == 0 || subsys > 0x3f)
		return refuse(d, "transitional device id 0x%04x is not in the spec's table and its "
				 "subsystem device id 0x%04x names no virtio device type",
			      dev, subsys);
	d->device_id = subsys;
	return 0;
}

enum bar_kind { BAR_NONE, BAR_IO, BAR_MEM32, BAR_MEM64, BAR_UPPER };

struct bar_info {
	enum bar_kind kind;
	uint64_t size;
};

static const char *const bar_kind_name[] = {
	[BAR_NONE] = "not implemented", [BAR_IO] = "an I/O BAR", [BAR_MEM32] = "a 32-bit BAR",
	[BAR_MEM64] = "64-bit memory", [BAR_UPPER] = "the upper half of a 64-bit BAR",
};

/* Size the six BAR registers as firmware does (write all ones, read the
 * mask back, restore); a 64-bit BAR takes the next register too. */
static int size_bars(struct vq_drv *d, struct bar_info *b)
{
	memset(b, 0, 6 * sizeof(*b));
	for (unsigned i = 0; i < 6; i++) {
		uint32_t reg = VQ_PCI_BAR0 + 4 * i, orig = 0, v = 0, ohi = 0, hi = 0;

		if (b[i].kind == BAR_UPPER)
			continue;
		if (crd(d, reg, 4, &orig) < 0 || cwr(d, reg, 4, 0xffffffffu) < 0 ||
		    crd(d, reg, 4, &v) < 0 || cwr(d, reg, 4, orig) < 0)
			return -1;
		if (v == 0)
			continue;
		if (v & 1) {
			b[i].kind = BAR_IO;
			b[i].size = (uint32_t)(~(v & ~3u) + 1);
		} else if ((v & 6) == 4 && i < 5) {
			if (crd(d, reg + 4, 4, &ohi) < 0 || cwr(d, reg + 4, 4, 0xffffffffu) < 0 ||
			    crd(d, reg + 4, 4, &hi) < 0 || cwr(d, reg + 4, 4, ohi) < 0)
				return -1;
			b[i].kind = BAR_MEM64;
			b[i].size = ~(((uint64_t)hi << 32) | (v & ~0xfu)) + 1;
			b[i + 1].kind = BAR_UPPER;
		} else {
			b[i].kind = BAR_MEM32;
			b[i].size = (uint32_t)(~(v & ~0xfu) + 1);
		}
		if (b[i].size & (b[i].size - 1))
			b[i].size = 0; /* not a power of two: not a BAR we can place */
	}
	return 0;
}

/* A virtio structure capability as the walk read it. */
struct vcap {
	unsigned at, type, bar;
	uint32_t off, len, mult;
};

#define DRV_MAP_MAX 0x1000u /* device cfg mapped at most (spec 4.1.4, note on length) */

/* What the driver needs of each structure type: the bytes it uses, the
 * offset's alignment (as Linux's vp_modern_map_capability). */
static const struct {
	uint32_t min, align;
	const char *name;
} need[5] = {
	[VQ_PCI_CAP_COMMON_CFG] = {VQ_PCI_CC_Q_NDATA, 4, "COMMON_CFG"},
	[VQ_PCI_CAP_NOTIFY_CFG] = {2, 2, "NOTIFY_CFG"},
	[VQ_PCI_CAP_ISR_CFG] = {1, 1, "ISR_CFG"},
	[VQ_PCI_CAP_DEVICE_CFG] = {0, 4, "DEVICE_CFG"},
};

/* Can the driver use c, with the structures in BAR bar (-1: not chosen
 * yet)? NULL, or why not. */
static const char *unusable(const struct vcap *c, const struct bar_info *b, int bar,
			    char *why, size_t n)
{
	const struct bar_info *bi = &b[c->bar];

	if (bi->kind != BAR_MEM64 || bi->size == 0)
		snprintf(why, n, "names BAR %u, %s", c->bar,
			 bi->kind == BAR_MEM64 ? "of no usable size" : bar_kind_name[bi->kind]);
	else if (bar >= 0 && c->bar != (unsigned)bar)
		snprintf(why, n, "names BAR %u, the common configuration is in BAR %d", c->bar, bar);
	else if (c->off % need[c->type].align)
		snprintf(why, n, "offset 0x%x is not %u-byte aligned", c->off, need[c->type].align);
	else if (c->len < need[c->type].min)
		snprintf(why, n, "length %u is less than the %u bytes the driver uses", c->len,
			 need[c->type].min);
	else if (c->off > bi->size || need[c->type].min > bi->size - c->off)
		snprintf(why, n, "offset 0x%x + %u bytes is outside the 0x%llx-byte BAR %u",
			 c->off, need[c->type].min, (unsigned long long)bi->size, c->bar);
	else
		return NULL;
	return why;
}

/* Walk the capability list: the virtio structure capabilities the driver
 * may use (cfg_type 1-4), in list order, and the MSI-X capability. Others
 * are ignored: reserved or unused cfg_type, reserved BAR, cap_len too short
 * to hold the fields (spec 4.1.4.1). Returns how many, or -1. */
static int walk_caps(struct vq_drv *d, struct vcap *caps, uint32_t *msix_at)
{
	uint32_t at = 0;
	int n = 0;

	if (crd(d, VQ_PCI_CAP_PTR, 1, &at) < 0)
		return -1;
	for (unsigned k = 0; (at &= 0xfc) >= 0x40 && k < CAP_WALK_MAX; k++) {
		uint32_t id = 0, next = 0, clen = 0, type = 0, bar = 0;
		struct vcap *c = &caps[n];

		if (crd(d, at, 1, &id) < 0 || crd(d, at + 1, 1, &next) < 0)
			return -1;
		if (id == VQ_PCI_CAP_ID_MSIX && !*msix_at)
			*msix_at = at;
		if (id == VQ_PCI_CAP_ID_VNDR &&
		    (crd(d, at + 2, 1, &clen) < 0 || crd(d, at + 3, 1, &type) < 0 ||
		     crd(d, at + 4, 1, &bar) < 0))
			return -1;
		if (id == VQ_PCI_CAP_ID_VNDR && type >= VQ_PCI_CAP_COMMON_CFG &&
		    type <= VQ_PCI_CAP_DEVICE_CFG && bar < 6 &&
		    clen >= (type == VQ_PCI_CAP_NOTIFY_CFG ? 20u : 16u)) {
			*c = (struct vcap){.at = at, .type = type, .bar = bar};
			if (crd(d, at + 8, 4, &c->off) < 0 || crd(d, at + 12, 4, &c->len) < 0 ||
			    (type == VQ_PCI_CAP_NOTIFY_CFG && crd(d, at + 16, 4, &c->mult) < 0))
				return -1;
			n++;
		}
		at = next;
	}
	return n;
}

/* For each structure type the first capability the driver can use
 * (chosen[type], NULL if none; why[type] says what was wrong with the
 * first one seen). The common configuration's BAR decides for the rest. */
static void choose(const struct vcap *caps, int n, const struct bar_info *b,
		   const struct vcap **chosen, char why[5][128])
{
	static const unsigned order[] = {VQ_PCI_CAP_COMMON_CFG, VQ_PCI_CAP_NOTIFY_CFG,
					 VQ_PCI_CAP_ISR_CFG, VQ_PCI_CAP_DEVICE_CFG};
	int bar = -1;

	for (unsigned o = 0; o < 4; o++) {
		unsigned type = order[o];

		chosen[type] = NULL;
		snprintf(why[type], sizeof(why[type]), "the list has none");
		for (int i = 0, seen = 0; i < n && !chosen[type]; i++) {
			char w[96];
			const char *r;

			if (caps[i].type != type)
				continue;
			if (!(r = unusable(&caps[i], b, bar, w, sizeof(w))))
				chosen[type] = &caps[i];
			else if (!seen++)
				snprintf(why[type], sizeof(why[type]), "the one at 0x%02x %s", caps[i].at, r);
		}
		if (type == VQ_PCI_CAP_COMMON_CFG && chosen[type])
			bar = (int)chosen[type]->bar;
	}
}

/* Place 64-bit memory BAR bar of size size at or above at: its gpa, or 0. */
static uint64_t place_bar(struct vq_drv *d, unsigned bar, uint64_t size, uint64_t at)
{
	uint32_t reg = VQ_PCI_BAR0 + 4 * bar;

	if (at > UINT64_MAX - (size - 1))
		return 0;
	at = (at + size - 1) & ~(size - 1);
	if (at == 0 || cwr(d, reg, 4, (uint32_t)at) < 0 ||
	    cwr(d, reg + 4, 4, (uint32_t)(at >> 32)) < 0)
		return 0;
	return at;
}

/* A structure's usable length: length clamped to the BAR (device cfg also
 * to DRV_MAP_MAX). */
static uint32_t usable_len(const struct vcap *c, const struct bar_info *b)
{
	uint64_t len = c->len, room = b[c->bar].size - c->off;

	if (len > room)
		len = room;
	if (c->type == VQ_PCI_CAP_DEVICE_CFG && len > DRV_MAP_MAX)
		len = DRV_MAP_MAX;
	return (uint32_t)len;
}

int vq_drv_attach_pci(struct vq_drv *d, struct vq_machine *m, uint64_t cfg, uint64_t bar_gpa,
		      bool msix, uint64_t heap, uint64_t heap_size)
{
	uint32_t msix_at = 0, line = 0;
	struct vcap caps[CAP_WALK_MAX];
	const struct vcap *chosen[5];
	char why[5][128];
	struct bar_info bars[6];
	uint64_t bar;
	int n, rc;

	if (!d || !m || heap_size == 0 || heap > UINT64_MAX - heap_size)
		return -VQ_E_INVAL;
	memset(d, 0, sizeof(*d));
	d->m = m;
	d->ops = &pci_ops;
	d->pci.cfg = cfg;
	d->heap_start = d->heap_next = heap;
	d->heap_end = heap + heap_size;
	if (!vq_mem_translate(vq_machine_mem(m), heap, heap_size, VQ_ACC_RW, NULL))
		return -VQ_E_INVAL;
	if ((rc = match_ids(d)) < 0)
		return rc;
	/* memory decoding off while the BARs are sized */
	if (cwr(d, VQ_PCI_COMMAND, 2, 0) < 0 || size_bars(d, bars) < 0)
		return refuse(d, "config space at 0x%llx does not answer", (unsigned long long)cfg);
	if ((n = walk_caps(d, caps, &msix_at)) < 0)
		return refuse(d, "config space at 0x%llx does not answer", (unsigned long long)cfg);
	choose(caps, n, bars, chosen, why);
	for (unsigned t = VQ_PCI_CAP_COMMON_CFG; t <= VQ_PCI_CAP_ISR_CFG; t++)
		if (!chosen[t])
			return refuse(d, "no usable %s capability: %s (spec 4.1.4.1)", need[t].name,
				      why[t]);
	d->pci.bar_index = chosen[VQ_PCI_CAP_COMMON_CFG]->bar;
	bar = place_bar(d, d->pci.bar_index, bars[d->pci.bar_index].size, bar_gpa);
	if (!bar)
		return refuse(d, "BAR %u (0x%llx bytes) cannot be placed at 0x%llx", d->pci.bar_index,
			      (unsigned long long)bars[d->pci.bar_index].size,
			      (unsigned long long)bar_gpa);
	d->pci.bar = bar;
	d->pci.common = bar + chosen[VQ_PCI_CAP_COMMON_CFG]->off;
	d->pci.notify = bar + chosen[VQ_PCI_CAP_NOTIFY_CFG]->off;
	d->pci.notify_mult = chosen[VQ_PCI_CAP_NOTIFY_CFG]->mult;
	d->pci.notify_len = usable_len(chosen[VQ_PCI_CAP_NOTIFY_CFG], bars);
	d->pci.isr = bar + chosen[VQ_PCI_CAP_ISR_CFG]->off;
	if (chosen[VQ_PCI_CAP_DEVICE_CFG]) {
		d->pci.device = bar + chosen[VQ_PCI_CAP_DEVICE_CFG]->off;
		d->pci.device_len = usable_len(chosen[VQ_PCI_CAP_DEVICE_CFG], bars);
	}
	if (cwr(d, VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_MASTER) < 0 ||
	    crd(d, VQ_PCI_INT_LINE, 1, &line) < 0)
		return refuse(d, "config space at 0x%llx does not answer", (unsigned long long)cfg);
	d->irq = line;
	d->pci.msi_tag = (uint32_t)((cfg >> 15) & 0xff);
	d->pci.msi_next = vq_machine_msi_count(m);
	if (msix && msix_at) {
		uint32_t ctl = 0, tbl = 0, vec = 0;
		uint64_t bsize = bars[d->pci.bar_index].size;

		if (crd(d, msix_at + 2, 2, &ctl) < 0 || crd(d, msix_at + 4, 4, &tbl) < 0)
			return refuse(d, "MSI-X capability at 0x%02x does not answer", msix_at);
		d->pci.nvectors = (ctl & 0x7ff) + 1;
		if ((tbl & 7) != d->pci.bar_index || (tbl & ~7u) > bsize ||
		    16ull * d->pci.nvectors > bsize - (tbl & ~7u))
			return refuse(d, "MSI-X table of %u entries at BAR %u offset 0x%x is not "
					 "inside BAR %u",
				      d->pci.nvectors, tbl & 7, tbl & ~7u, d->pci.bar_index);
		for (unsigned i = 0; i < d->pci.nvectors; i++) {
			uint64_t e = bar + (tbl & ~7u) + 16ull * i;

			if (vq_machine_write(m, e, 4, VQ_DRV_MSI_ADDR) < 0 ||
			    vq_machine_write(m, e + 4, 4, 0) < 0 ||
			    vq_machine_write(m, e + 8, 4, d->pci.msi_tag << 8 | i) < 0 ||
			    vq_machine_write(m, e + 12, 4, 0) < 0)
				return refuse(d, "MSI-X table entry %u does not take writes", i);
		}
		if (cwr(d, msix_at + 2, 2, VQ_PCI_MSIX_CTRL_ENABLE) < 0)
			return refuse(d, "MSI-X capability at 0x%02x does not answer", msix_at);
		d->pci.msix = true;
		/* config changes on vector 0; read back: NO_VECTOR means refused */
		if (vq_machine_write(m, d->pci.common + VQ_PCI_CC_MSIX, 2, 0) < 0 ||
		    vq_machine_read(m, d->pci.common + VQ_PCI_CC_MSIX, 2, &vec) < 0 || vec != 0)
			return refuse(d, "config_msix_vector 0 refused (read back 0x%x)", vec);
	}
	return 0;
}
