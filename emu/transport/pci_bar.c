/* pci_bar.c - BAR 0 of the virtio-pci transport: the common configuration
 * structure (spec 4.1.4.3), ISR (4.1.4.5), notifications (4.1.4.4), device
 * configuration (4.1.4.6); MSI-X table and PBA go to pci_msix.c.
 */
#include <stdio.h>
#include <string.h>

#include "pci_internal.h"

enum { RO = 1, RW = 3, Q64 = 4 };

struct cc_field {
	uint32_t off;
	unsigned width;
	unsigned flags;
	const char *name;
};

static const struct cc_field fields[] = {
	{VQ_PCI_CC_DFSELECT, 4, RW, "device_feature_select"},
	{VQ_PCI_CC_DF, 4, RO, "device_feature"},
	{VQ_PCI_CC_GFSELECT, 4, RW, "driver_feature_select"},
	{VQ_PCI_CC_GF, 4, RW, "driver_feature"},
	{VQ_PCI_CC_MSIX, 2, RW, "config_msix_vector"},
	{VQ_PCI_CC_NUMQ, 2, RO, "num_queues"},
	{VQ_PCI_CC_STATUS, 1, RW, "device_status"},
	{VQ_PCI_CC_CFGGEN, 1, RO, "config_generation"},
	{VQ_PCI_CC_Q_SELECT, 2, RW, "queue_select"},
	{VQ_PCI_CC_Q_SIZE, 2, RW, "queue_size"},
	{VQ_PCI_CC_Q_MSIX, 2, RW, "queue_msix_vector"},
	{VQ_PCI_CC_Q_ENABLE, 2, RW, "queue_enable"},
	{VQ_PCI_CC_Q_NOFF, 2, RO, "queue_notify_off"},
	{VQ_PCI_CC_Q_DESCLO, 4, RW | Q64, "queue_desc"},
	{VQ_PCI_CC_Q_DESCHI, 4, RW | Q64, "queue_desc"},
	{VQ_PCI_CC_Q_AVAILLO, 4, RW | Q64, "queue_driver"},
	{VQ_PCI_CC_Q_AVAILHI, 4, RW | Q64, "queue_driver"},
	{VQ_PCI_CC_Q_USEDLO, 4, RW | Q64, "queue_device"},
	{VQ_PCI_CC_Q_USEDHI, 4, RW | Q64, "queue_device"},
	{VQ_PCI_CC_Q_NDATA, 2, RO, "queue_notify_data"},
	{VQ_PCI_CC_Q_RESET, 2, RW, "queue_reset"},
};

static const struct cc_field *cc_find(uint32_t off)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].off == off)
			return &fields[i];
	return NULL;
}

int vq_pci_common_field(uint32_t mmio_off, uint32_t *off, unsigned *width)
{
	static const struct {
		uint32_t mmio, off;
	} map[] = {
		{VIRTIO_MMIO_DEVICE_FEATURES, VQ_PCI_CC_DF},
		{VIRTIO_MMIO_DEVICE_FEATURES_SEL, VQ_PCI_CC_DFSELECT},
		{VIRTIO_MMIO_DRIVER_FEATURES, VQ_PCI_CC_GF},
		{VIRTIO_MMIO_DRIVER_FEATURES_SEL, VQ_PCI_CC_GFSELECT},
		{VIRTIO_MMIO_QUEUE_SEL, VQ_PCI_CC_Q_SELECT},
		{VIRTIO_MMIO_QUEUE_NUM_MAX, VQ_PCI_CC_Q_SIZE},
		{VIRTIO_MMIO_QUEUE_NUM, VQ_PCI_CC_Q_SIZE},
		{VIRTIO_MMIO_QUEUE_READY, VQ_PCI_CC_Q_ENABLE},
		{VIRTIO_MMIO_STATUS, VQ_PCI_CC_STATUS},
		{VIRTIO_MMIO_QUEUE_DESC_LOW, VQ_PCI_CC_Q_DESCLO},
		{VIRTIO_MMIO_QUEUE_DESC_HIGH, VQ_PCI_CC_Q_DESCHI},
		{VIRTIO_MMIO_QUEUE_DRIVER_LOW, VQ_PCI_CC_Q_AVAILLO},
		{VIRTIO_MMIO_QUEUE_DRIVER_HIGH, VQ_PCI_CC_Q_AVAILHI},
		{VIRTIO_MMIO_QUEUE_DEVICE_LOW, VQ_PCI_CC_Q_USEDLO},
		{VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VQ_PCI_CC_Q_USEDHI},
		{VIRTIO_MMIO_QUEUE_RESET, VQ_PCI_CC_Q_RESET},
		{VIRTIO_MMIO_CONFIG_GENERATION, VQ_PCI_CC_CFGGEN},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].mmio == mmio_off) {
			*off = map[i].off;
			*width = cc_find(map[i].off)->width;
			return 0;
		}
	}
	return -VQ_E_INVAL;
}

/* ---- common cfg ---- */

static const struct cc_field *cc_check(struct vq_pci *t, bool write, uint32_t off,
				       unsigned width, int *rc)
{
	const struct cc_field *f = cc_find(off);

	*rc = -VQ_E_BAD_ACCESS;
	if (!f) {
		vq_pci_bad(t, "common cfg", write, off, width,
			   "no field starts here (spec 4.1.4.3)");
		return NULL;
	}
	if (f->width != width) {
		vq_pci_bad(t, "common cfg", write, off, width,
			   "%s is %u bytes wide: access it with its width (spec 4.1.3.1)",
			   f->name, f->width);
		return NULL;
	}
	if (write && f->flags == RO) {
		vq_pci_bad(t, "common cfg", write, off, width, "%s is read-only (spec 4.1.4.3)",
			   f->name);
		return NULL;
	}
	*rc = 0;
	return f;
}

static struct vq_queue *sel_queue(struct vq_pci *t, const char *field, int *rc)
{
	struct vq_queue *q = vq_dev_queue(t->dev, t->queue_sel);

	if (!q)
		*rc = vq_pci_refuse(t, -1, -VQ_E_INVAL,
				    "%s written for queue_select %u: no such queue (ignored, "
				    "spec 4.1.4.3.1)",
				    field, t->queue_sel);
	return q;
}

static struct vq_queue *setup_queue(struct vq_pci *t, const char *field, int *rc)
{
	struct vq_queue *q = sel_queue(t, field, rc);

	if (q && q->ready) {
		*rc = vq_pci_refuse(t, t->queue_sel, -VQ_E_STATE,
				    "%s written while queue %u is enabled (spec 4.1.4.3.2)", field,
				    t->queue_sel);
		return NULL;
	}
	return q;
}

static uint32_t cc_read(struct vq_pci *t, uint32_t off)
{
	struct vq_dev *d = t->dev;
	struct vq_queue *q = vq_dev_queue(d, t->queue_sel);

	switch (off) {
	case VQ_PCI_CC_DFSELECT:
		return t->device_features_sel;
	case VQ_PCI_CC_DF:
		return vq_dev_host_features_word(d, t->device_features_sel);
	case VQ_PCI_CC_GFSELECT:
		return t->driver_features_sel;
	case VQ_PCI_CC_GF:
		return vq_dev_driver_features_word(d, t->driver_features_sel);
	case VQ_PCI_CC_MSIX:
		return t->config_vector;
	case VQ_PCI_CC_NUMQ:
		return d->nqueues;
	case VQ_PCI_CC_STATUS:
		return d->status;
	case VQ_PCI_CC_CFGGEN:
		return d->config_generation & 0xff;
	case VQ_PCI_CC_Q_SELECT:
		return t->queue_sel;
	case VQ_PCI_CC_Q_SIZE:
		return q ? q->num : 0;
	case VQ_PCI_CC_Q_MSIX:
		return q ? t->queue_vector[t->queue_sel] : VQ_PCI_NO_VECTOR;
	case VQ_PCI_CC_Q_ENABLE:
		return q && q->ready;
	case VQ_PCI_CC_Q_NOFF:
	case VQ_PCI_CC_Q_NDATA:
		return q ? t->queue_sel : 0;
	case VQ_PCI_CC_Q_DESCLO:
		return q ? (uint32_t)q->addr.desc : 0;
	case VQ_PCI_CC_Q_DESCHI:
		return q ? (uint32_t)(q->addr.desc >> 32) : 0;
	case VQ_PCI_CC_Q_AVAILLO:
		return q ? (uint32_t)q->addr.driver : 0;
	case VQ_PCI_CC_Q_AVAILHI:
		return q ? (uint32_t)(q->addr.driver >> 32) : 0;
	case VQ_PCI_CC_Q_USEDLO:
		return q ? (uint32_t)q->addr.device : 0;
	case VQ_PCI_CC_Q_USEDHI:
		return q ? (uint32_t)(q->addr.device >> 32) : 0;
	case VQ_PCI_CC_Q_RESET:
		return 0; /* a reset completes within the write */
	}
	return 0;
}

static void set_half(uint64_t *a, bool high, uint32_t val)
{
	if (high)
		*a = (*a & 0xffffffffull) | (uint64_t)val << 32;
	else
		*a = (*a & ~0xffffffffull) | val;
}

static int cc_write(struct vq_pci *t, const struct cc_field *f, uint32_t val)
{
	struct vq_dev *d = t->dev;
	struct vq_queue *q;
	int rc = 0;

	switch (f->off) {
	case VQ_PCI_CC_DFSELECT:
		t->device_features_sel = val;
		return 0;
	case VQ_PCI_CC_GFSELECT:
		t->driver_features_sel = val;
		return 0;
	case VQ_PCI_CC_GF:
		return vq_dev_write_driver_features(d, t->driver_features_sel, val);
	case VQ_PCI_CC_MSIX:
		t->config_vector = vq_pci_vector_accept(t, (uint16_t)val);
		return 0;
	case VQ_PCI_CC_STATUS:
		rc = vq_dev_write_status(d, (uint8_t)val);
		if (val == 0)
			vq_pci_reset(t);
		return rc;
	case VQ_PCI_CC_Q_SELECT:
		t->queue_sel = (uint16_t)val;
		return 0;
	case VQ_PCI_CC_Q_SIZE:
		if (!(q = setup_queue(t, f->name, &rc)))
			return rc;
		q->num = (uint16_t)val; /* vq_dev_queue_enable() judges it */
		return 0;
	case VQ_PCI_CC_Q_MSIX:
		if (!sel_queue(t, f->name, &rc))
			return rc;
		t->queue_vector[t->queue_sel] = vq_pci_vector_accept(t, (uint16_t)val);
		return 0;
	case VQ_PCI_CC_Q_ENABLE:
		if (!sel_queue(t, f->name, &rc))
			return rc;
		if (val != 1)
			return vq_pci_refuse(t, t->queue_sel, -VQ_E_INVAL,
					     "queue_enable written %u: the driver MUST NOT write "
					     "anything but 1 (spec 4.1.4.3.2; ignored)",
					     val);
		return vq_dev_queue_enable(d, t->queue_sel);
	case VQ_PCI_CC_Q_DESCLO:
	case VQ_PCI_CC_Q_DESCHI:
	case VQ_PCI_CC_Q_AVAILLO:
	case VQ_PCI_CC_Q_AVAILHI:
	case VQ_PCI_CC_Q_USEDLO:
	case VQ_PCI_CC_Q_USEDHI:
		if (!(q = setup_queue(t, f->name, &rc)))
			return rc;
		set_half(f->off < VQ_PCI_CC_Q_AVAILLO	? &q->addr.desc
			 : f->off < VQ_PCI_CC_Q_USEDLO ? &q->addr.driver
						       : &q->addr.device,
			 f->off % 8 == 4, val);
		return 0;
	case VQ_PCI_CC_Q_RESET:
		if (val != 1)
			return vq_pci_refuse(t, t->queue_sel, -VQ_E_INVAL,
					     "queue_reset written %u, only 1 resets (spec 4.1.4.3)",
					     val);
		if (!vq_dev_has_feature(d, VIRTIO_F_RING_RESET))
			return vq_pci_refuse(t, t->queue_sel, -VQ_E_STATE,
					     "queue_reset written without VIRTIO_F_RING_RESET "
					     "negotiated (spec 4.1.4.3.2)");
		if (!sel_queue(t, f->name, &rc))
			return rc;
		return vq_dev_queue_reset(d, t->queue_sel);
	}
	return 0;
}

/* ---- notifications, ISR, device cfg ---- */

static int notify_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val)
{
	struct vq_dev *d = t->dev;
	unsigned q = off / VQ_PCI_NOTIFY_MULT;
	bool ndata = vq_dev_has_feature(d, VIRTIO_F_NOTIFICATION_DATA);

	if (off % VQ_PCI_NOTIFY_MULT || (width != 2 && !(width == 4 && ndata)))
		return vq_pci_bad(t, "notify", true, off, width,
				  "a notification is a 16-bit write at queue_notify_off * "
				  "notify_off_multiplier%s (spec 4.1.4.4)",
				  ndata ? " or 32-bit with NOTIFICATION_DATA" : "");
	if ((val & 0xffff) != q)
		return vq_pci_refuse(t, (int)q, -VQ_E_INVAL,
				     "notification for queue %u carries queue index %u (spec "
				     "4.1.5.2)",
				     q, val & 0xffff);
	t->stats.notifies++;
	t->notify_data = val;
	if (vq_pci_tracing(t) && ndata)
		vq_trace(t->tracer, VQ_EV_REG, d->name, (int)q,
			 "notification data: next_off %u next_wrap %u", (val >> 16) & 0x7fff,
			 val >> 31);
	/* the queue records next_off/next_wrap as on mmio (a 16-bit kick
	 * carries none) */
	if (width == 4)
		vq_dev_notify_decode(d, val);
	if (t->host.notify)
		t->host.notify(t->host.ctx, d, q);
	return 0;
}

int vq_pci_bar_read(struct vq_pci *t, uint32_t off, unsigned width, uint32_t *val)
{
	const struct cc_field *f;
	int rc;

	*val = 0;
	if (off >= VQ_PCI_MSIX_TABLE_OFF && off < VQ_PCI_BAR_SIZE)
		return vq_pci_msix_read(t, off - VQ_PCI_MSIX_TABLE_OFF, width, val);
	if (off >= VQ_PCI_DEVICE_OFF && off < VQ_PCI_DEVICE_OFF + VQ_PCI_DEVICE_MAX) {
		uint8_t b[4] = {0};
		uint32_t coff = off - VQ_PCI_DEVICE_OFF;

		if ((width != 1 && width != 2 && width != 4) || off % width ||
		    coff + width > t->dev->config_len)
			return vq_pci_bad(t, "device cfg", false, off, width,
					  "not a naturally aligned access inside the %u-byte "
					  "config space",
					  t->dev->config_len);
		rc = vq_dev_config_read(t->dev, coff, b, width);
		if (rc < 0)
			return rc;
		t->stats.reads++;
		*val = vq_pci_get(b, width);
		if (vq_pci_tracing(t))
			vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
				 "read Config[0x%x]/%u=0x%x", coff, width, *val);
		return 0;
	}
	if (off == VQ_PCI_ISR_OFF) {
		if (width != 1)
			return vq_pci_bad(t, "ISR", false, off, width, "ISR status is one byte");
		t->stats.reads++;
		t->stats.isr_reads++;
		*val = t->isr;
		if (vq_pci_tracing(t))
			vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1, "read ISR=0x%x (cleared)",
				 *val);
		vq_pci_set_isr(t, 0); /* read-to-clear (spec 4.1.4.5) */
		return 0;
	}
	if (off >= VQ_PCI_NOTIFY_OFF && off < VQ_PCI_NOTIFY_OFF + 0x1000)
		return vq_pci_bad(t, "notify", false, off, width,
				  "the notification area is write-only");
	if (off >= VQ_PCI_COMMON_LEN)
		return vq_pci_bad(t, "BAR 0", false, off, width, "no structure at this offset");
	if (!(f = cc_check(t, false, off, width, &rc)))
		return rc;
	t->stats.reads++;
	*val = cc_read(t, off);
	if (vq_pci_tracing(t))
		vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1, "read %s%s=0x%x", f->name,
			 f->flags & Q64 ? (off % 8 ? ".hi" : ".lo") : "", *val);
	return 0;
}

int vq_pci_bar_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val)
{
	const struct cc_field *f;
	int rc;

	if (off >= VQ_PCI_MSIX_TABLE_OFF && off < VQ_PCI_BAR_SIZE)
		return vq_pci_msix_write(t, off - VQ_PCI_MSIX_TABLE_OFF, width, val);
	if (off >= VQ_PCI_DEVICE_OFF && off < VQ_PCI_DEVICE_OFF + VQ_PCI_DEVICE_MAX) {
		uint8_t b[4] = {(uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
				(uint8_t)(val >> 24)};
		uint32_t coff = off - VQ_PCI_DEVICE_OFF;

		if ((width != 1 && width != 2 && width != 4) || off % width ||
		    coff + width > t->dev->config_len)
			return vq_pci_bad(t, "device cfg", true, off, width,
					  "not a naturally aligned access inside the %u-byte "
					  "config space",
					  t->dev->config_len);
		t->stats.writes++;
		if (vq_pci_tracing(t))
			vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
				 "write Config[0x%x]/%u=0x%x", coff, width, val);
		return vq_dev_config_write(t->dev, coff, b, width);
	}
	if (off >= VQ_PCI_NOTIFY_OFF && off < VQ_PCI_NOTIFY_OFF + 0x1000) {
		if (off - VQ_PCI_NOTIFY_OFF >= t->dev->nqueues * VQ_PCI_NOTIFY_MULT)
			return vq_pci_bad(t, "notify", true, off, width,
					  "past the notification area of %u queues",
					  t->dev->nqueues);
		t->stats.writes++;
		return notify_write(t, off - VQ_PCI_NOTIFY_OFF, width, val);
	}
	if (off == VQ_PCI_ISR_OFF)
		return vq_pci_bad(t, "ISR", true, off, width, "ISR status is read-only");
	if (off >= VQ_PCI_COMMON_LEN)
		return vq_pci_bad(t, "BAR 0", true, off, width, "no structure at this offset");
	if (!(f = cc_check(t, true, off, width, &rc)))
		return rc;
	t->stats.writes++;
	if (vq_pci_tracing(t))
		vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1, "write %s%s=0x%x", f->name,
			 f->flags & Q64 ? (off % 8 ? ".hi" : ".lo") : "", val);
	return cc_write(t, f, val);
}
