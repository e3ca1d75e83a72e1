/* driver_pci.c - the reference driver's virtio-pci transport: what Linux's
 * virtio_pci_modern_dev.c does. The device is learnt only from its config
 * space: ids, the capability list, the BAR it sizes and places; then MSI-X
 * (or INTx) is set up. The rest of the driver reaches it through the ops
 * table (driver.h), naming fields by their virtio-mmio register offset.
 */
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

static int pci_cfg_read(struct vq_drv *d, uint32_t off, unsigned width, uint32_t *val)
{
	return vq_machine_read(d->m, d->pci.device + off, width, val);
}

static int pci_cfg_write(struct vq_drv *d, uint32_t off, unsigned width, uint32_t val)
{
	return vq_machine_write(d->m, d->pci.device + off, width, val);
}

static const struct vq_drv_ops pci_ops = {
	.rd = pci_rd, .wr = pci_wr, .cfg_read = pci_cfg_read, .cfg_write = pci_cfg_write,
	.irq_pending = pci_irq_pending,
};

/* Size BAR bar (64-bit memory) and place it at or above at: its gpa, or 0. */
static uint64_t place_bar(struct vq_drv *d, unsigned bar, uint64_t at)
{
	uint32_t reg = VQ_PCI_BAR0 + 4 * bar, lo = 0, hi = 0;
	uint64_t size;

	if (bar > 4 || cwr(d, reg, 4, 0xffffffff) < 0 || cwr(d, reg + 4, 4, 0xffffffff) < 0 ||
	    crd(d, reg, 4, &lo) < 0 || crd(d, reg + 4, 4, &hi) < 0)
		return 0;
	if ((lo & 0x7) != 0x4) /* not a 64-bit memory BAR */
		return 0;
	size = ~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1;
	if (size == 0 || (size & (size - 1)))
		return 0;
	at = (at + size - 1) & ~(size - 1);
	if (cwr(d, reg, 4, (uint32_t)at) < 0 || cwr(d, reg + 4, 4, (uint32_t)(at >> 32)) < 0)
		return 0;
	return at;
}

int vq_drv_attach_pci(struct vq_drv *d, struct vq_machine *m, uint64_t cfg, uint64_t bar_gpa,
		      bool msix, uint64_t heap, uint64_t heap_size)
{
	uint32_t v = 0, st = 0, at = 0, msix_at = 0, line = 0;
	uint64_t cap_gpa[6] = {0};
	uint32_t cap_len[6] = {0};
	int cap_bar = -1;
	uint64_t bar;

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
	if (crd(d, VQ_PCI_VENDOR, 2, &v) < 0 || v != VQ_PCI_VENDOR_ID ||
	    crd(d, VQ_PCI_DEVICE, 2, &v) < 0 || v < VQ_PCI_DEVICE_ID_BASE + 1 ||
	    v > VQ_PCI_DEVICE_ID_BASE + 0x3f)
		return -VQ_E_NOT_READY;
	d->device_id = v - VQ_PCI_DEVICE_ID_BASE;
	if (crd(d, VQ_PCI_STATUS, 2, &st) < 0 || !(st & VQ_PCI_STATUS_CAPS) ||
	    crd(d, VQ_PCI_CAP_PTR, 1, &at) < 0)
		return -VQ_E_NOT_READY;
	/* first pass: which structures, in which BAR (spec 4.1.4.1) */
	for (unsigned n = 0; (at &= 0xfc) && n < CAP_WALK_MAX; n++) {
		uint32_t id = 0, next = 0, type = 0, b = 0;

		if (crd(d, at, 1, &id) < 0 || crd(d, at + 1, 1, &next) < 0)
			return -VQ_E_NOT_READY;
		if (id == VQ_PCI_CAP_ID_MSIX && !msix_at)
			msix_at = at;
		if (id == VQ_PCI_CAP_ID_VNDR && crd(d, at + 3, 1, &type) == 0 && type >= 1 &&
		    type <= 4 && !cap_len[type] && crd(d, at + 4, 1, &b) == 0 && b < 6) {
			uint32_t off = 0, len = 0;

			crd(d, at + 8, 4, &off);
			crd(d, at + 12, 4, &len);
			if (cap_bar >= 0 && (int)b != cap_bar)
				return -VQ_E_NOT_READY; /* our driver handles one BAR */
			cap_bar = (int)b;
			cap_gpa[type] = off;
			cap_len[type] = len ? len : 1;
			if (type == VQ_PCI_CAP_NOTIFY_CFG && crd(d, at + 16, 4, &d->pci.notify_mult) < 0)
				return -VQ_E_NOT_READY;
		}
		at = next;
	}
	if (!cap_len[VQ_PCI_CAP_COMMON_CFG] || !cap_len[VQ_PCI_CAP_NOTIFY_CFG] ||
	    !cap_len[VQ_PCI_CAP_ISR_CFG])
		return -VQ_E_NOT_READY;
	bar = place_bar(d, (unsigned)cap_bar, bar_gpa);
	if (!bar)
		return -VQ_E_NOT_READY;
	d->pci.bar = bar;
	d->pci.common = bar + cap_gpa[VQ_PCI_CAP_COMMON_CFG];
	d->pci.notify = bar + cap_gpa[VQ_PCI_CAP_NOTIFY_CFG];
	d->pci.isr = bar + cap_gpa[VQ_PCI_CAP_ISR_CFG];
	d->pci.device = bar + cap_gpa[VQ_PCI_CAP_DEVICE_CFG];
	d->pci.device_len = cap_len[VQ_PCI_CAP_DEVICE_CFG];
	if (cwr(d, VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_MASTER) < 0 ||
	    crd(d, VQ_PCI_INT_LINE, 1, &line) < 0)
		return -VQ_E_NOT_READY;
	d->irq = line;
	d->pci.msi_tag = (uint32_t)((cfg >> 15) & 0xff);
	d->pci.msi_next = vq_machine_msi_count(m);
	if (msix && msix_at) {
		uint32_t ctl = 0, tbl = 0, vec = 0;

		if (crd(d, msix_at + 2, 2, &ctl) < 0 || crd(d, msix_at + 4, 4, &tbl) < 0 ||
		    (tbl & 7) != (uint32_t)cap_bar)
			return -VQ_E_NOT_READY;
		d->pci.nvectors = (ctl & 0x7ff) + 1;
		for (unsigned i = 0; i < d->pci.nvectors; i++) {
			uint64_t e = bar + (tbl & ~7u) + 16ull * i;

			if (vq_machine_write(m, e, 4, VQ_DRV_MSI_ADDR) < 0 ||
			    vq_machine_write(m, e + 4, 4, 0) < 0 ||
			    vq_machine_write(m, e + 8, 4, d->pci.msi_tag << 8 | i) < 0 ||
			    vq_machine_write(m, e + 12, 4, 0) < 0)
				return -VQ_E_NOT_READY;
		}
		if (cwr(d, msix_at + 2, 2, VQ_PCI_MSIX_CTRL_ENABLE) < 0)
			return -VQ_E_NOT_READY;
		d->pci.msix = true;
		/* config changes on vector 0; read back: NO_VECTOR means refused */
		if (vq_machine_write(m, d->pci.common + VQ_PCI_CC_MSIX, 2, 0) < 0 ||
		    vq_machine_read(m, d->pci.common + VQ_PCI_CC_MSIX, 2, &vec) < 0 || vec != 0)
			return -VQ_E_NOT_READY;
	}
	return 0;
}
