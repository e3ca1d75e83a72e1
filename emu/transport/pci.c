/* pci.c - virtio-pci modern transport (spec 4.1): config space, the
 * capability list and the PCI_CFG_ACCESS window. The BAR's contents (common
 * cfg, ISR, notifications, device cfg) are in pci_bar.c, MSI-X and INTx in
 * pci_msix.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pci_internal.h"

void vq_pci_put(uint8_t *p, unsigned width, uint32_t v)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t vq_pci_get(const uint8_t *p, unsigned width)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < width; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

bool vq_pci_tracing(const struct vq_pci *t)
{
	return t->tracer && t->tracer->on;
}

void vq_pci_note(struct vq_pci *t, int queue, int err, const char *msg)
{
	struct vq_dev *d = t->dev;

	d->last_error = err;
	snprintf(d->last_error_msg, sizeof(d->last_error_msg), "%s", msg);
	vq_trace(t->tracer, VQ_EV_ERROR, d->name, queue, "pci: %s [%s]", msg, vq_errname(err));
}

int vq_pci_bad(struct vq_pci *t, const char *where, bool write, uint32_t off, unsigned width,
	       const char *fmt, ...)
{
	char why[112], msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s of width %u at %s 0x%03x refused: %s",
		 write ? "write" : "read", width, where, off, why);
	t->stats.bad_accesses++;
	vq_pci_note(t, -1, -VQ_E_BAD_ACCESS, msg);
	return -VQ_E_BAD_ACCESS;
}

int vq_pci_refuse(struct vq_pci *t, int queue, int err, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->dev->stats.errors++;
	vq_pci_note(t, queue, err, msg);
	return err;
}

/* A virtio vendor capability (struct virtio_pci_cap, spec 4.1.4). */
static void vendor_cap(struct vq_pci *t, unsigned at, unsigned next, unsigned len,
		       unsigned type, uint32_t off, uint32_t length)
{
	uint8_t *c = t->cfg + at;

	c[0] = VQ_PCI_CAP_ID_VNDR;
	c[1] = (uint8_t)next;
	c[2] = (uint8_t)len;
	c[3] = (uint8_t)type;
	c[4] = 0; /* bar */
	c[5] = 0; /* id */
	vq_pci_put(c + 8, 4, off);
	vq_pci_put(c + 12, 4, length);
}

/* PCI class code by virtio device type (what QEMU reports). */
static uint32_t class_code(uint32_t id)
{
	switch (id) {
	case 1:
		return 0x020000; /* network controller */
	case 2:
		return 0x010000; /* mass storage (SCSI) */
	case 3:
		return 0x078000; /* simple communication: other */
	default:
		return 0x00ff00; /* unclassified */
	}
}

static void build_config(struct vq_pci *t)
{
	struct vq_dev *d = t->dev;
	uint32_t id = d->cls ? d->cls->device_id : 0;
	uint8_t *c = t->cfg, *w = t->wmask;

	memset(c, 0, sizeof(t->cfg));
	memset(w, 0, sizeof(t->wmask));
	vq_pci_put(c + VQ_PCI_VENDOR, 2, VQ_PCI_VENDOR_ID);
	vq_pci_put(c + VQ_PCI_DEVICE, 2, (uint16_t)(VQ_PCI_DEVICE_ID_BASE + id));
	vq_pci_put(c + VQ_PCI_STATUS, 2, VQ_PCI_STATUS_CAPS);
	c[VQ_PCI_REVISION] = 1; /* spec 4.1.2.1: non-transitional, revision 1 */
	vq_pci_put(c + VQ_PCI_CLASS_PROG, 4, class_code(id) & 0xffffff);
	c[VQ_PCI_REVISION] = 1;
	c[VQ_PCI_HEADER_TYPE] = 0;
	/* BAR 0: 64-bit memory, non-prefetchable; BAR 1 its upper half */
	vq_pci_put(c + VQ_PCI_BAR0, 4, 0x4);
	vq_pci_put(w + VQ_PCI_BAR0, 4, ~(VQ_PCI_BAR_SIZE - 1) & 0xfffffff0u);
	vq_pci_put(w + VQ_PCI_BAR0 + 4, 4, 0xffffffffu);
	vq_pci_put(c + VQ_PCI_SUBSYS_VENDOR, 2, VQ_PCI_VENDOR_ID);
	vq_pci_put(c + VQ_PCI_SUBSYS, 2, VQ_PCI_SUBSYS_ID);
	c[VQ_PCI_CAP_PTR] = VQ_PCI_CAP_COMMON_AT;
	c[VQ_PCI_INT_PIN] = 1; /* INTA# */
	w[VQ_PCI_INT_LINE] = 0xff;
	vq_pci_put(w + VQ_PCI_COMMAND, 2,
		   VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_MASTER | VQ_PCI_CMD_INTX_DISABLE);

	vendor_cap(t, VQ_PCI_CAP_COMMON_AT, VQ_PCI_CAP_NOTIFY_AT, 16, VQ_PCI_CAP_COMMON_CFG,
		   VQ_PCI_COMMON_OFF, VQ_PCI_COMMON_LEN);
	vendor_cap(t, VQ_PCI_CAP_NOTIFY_AT, VQ_PCI_CAP_ISR_AT, 20, VQ_PCI_CAP_NOTIFY_CFG,
		   VQ_PCI_NOTIFY_OFF, (d->nqueues ? d->nqueues : 1) * VQ_PCI_NOTIFY_MULT);
	vq_pci_put(c + VQ_PCI_CAP_NOTIFY_AT + 16, 4, VQ_PCI_NOTIFY_MULT);
	vendor_cap(t, VQ_PCI_CAP_ISR_AT, VQ_PCI_CAP_DEVICE_AT, 16, VQ_PCI_CAP_ISR_CFG,
		   VQ_PCI_ISR_OFF, 1);
	vendor_cap(t, VQ_PCI_CAP_DEVICE_AT, VQ_PCI_CAP_PCICFG_AT, 16, VQ_PCI_CAP_DEVICE_CFG,
		   VQ_PCI_DEVICE_OFF, d->config_len);
	vendor_cap(t, VQ_PCI_CAP_PCICFG_AT, VQ_PCI_CAP_MSIX_AT, 20, VQ_PCI_CAP_PCI_CFG, 0, 0);
	/* the window's bar, offset, length and data are the driver's */
	w[VQ_PCI_CAP_PCICFG_AT + 4] = 0xff;
	memset(w + VQ_PCI_CAP_PCICFG_AT + 8, 0xff, 12);
	/* MSI-X: table and PBA in BAR 0 */
	c[VQ_PCI_CAP_MSIX_AT] = VQ_PCI_CAP_ID_MSIX;
	c[VQ_PCI_CAP_MSIX_AT + 1] = 0;
	vq_pci_put(c + VQ_PCI_CAP_MSIX_AT + 2, 2, (uint16_t)(t->nvectors - 1));
	vq_pci_put(c + VQ_PCI_CAP_MSIX_AT + 4, 4, VQ_PCI_MSIX_TABLE_OFF);
	vq_pci_put(c + VQ_PCI_CAP_MSIX_AT + 8, 4, VQ_PCI_MSIX_PBA_OFF);
	w[VQ_PCI_CAP_MSIX_AT + 3] = (VQ_PCI_MSIX_CTRL_ENABLE | VQ_PCI_MSIX_CTRL_MASKALL) >> 8;
	t->quirk_next = VQ_PCI_QUIRK_FIRST; /* pci_quirk.c's capabilities go after ours */
}

int vq_pci_init(struct vq_pci *t, struct vq_dev *d, const struct vq_transport_host *host,
		struct vq_tracer *tracer)
{
	if (!t || !d || d->config_len > VQ_PCI_DEVICE_MAX)
		return -VQ_E_INVAL;
	memset(t, 0, sizeof(*t));
	t->dev = d;
	if (host)
		t->host = *host;
	t->tracer = tracer;
	t->nvectors = d->nqueues + 1;
	if (t->nvectors > VQ_PCI_MSIX_MAX)
		t->nvectors = VQ_PCI_MSIX_MAX;
	for (unsigned v = 0; v < VQ_PCI_MSIX_MAX; v++)
		t->msix_table[v][3] = 1; /* masked at reset (PCI MSI-X) */
	build_config(t);
	vq_pci_reset(t);
	d->host.interrupt = vq_pci_interrupt;
	d->host.ctx = t;
	return 0;
}

void vq_pci_reset(struct vq_pci *t)
{
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->queue_sel = 0;
	t->config_vector = VQ_PCI_NO_VECTOR;
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++)
		t->queue_vector[q] = VQ_PCI_NO_VECTOR;
	vq_pci_set_isr(t, 0);
}

uint64_t vq_pci_bar_base(const struct vq_pci *t)
{
	uint64_t lo = vq_pci_get(t->cfg + VQ_PCI_BAR0, 4) & ~0xfu;
	uint64_t base = lo | (uint64_t)vq_pci_get(t->cfg + VQ_PCI_BAR0 + 4, 4) << 32;

	if (!(vq_pci_get(t->cfg + VQ_PCI_COMMAND, 2) & VQ_PCI_CMD_MEMORY) || base == 0 ||
	    base > UINT64_MAX - VQ_PCI_BAR_SIZE)
		return UINT64_MAX;
	return base;
}

/* ---- config space accesses ---- */

static int cfg_check(struct vq_pci *t, bool write, uint32_t off, unsigned width)
{
	if (width != 1 && width != 2 && width != 4)
		return vq_pci_bad(t, "config", write, off, width,
				  "config space takes widths 1, 2 or 4");
	if (off % width)
		return vq_pci_bad(t, "config", write, off, width, "not naturally aligned");
	if (off >= VQ_PCI_ECAM_FN_SIZE)
		return vq_pci_bad(t, "config", write, off, width,
				  "beyond the 4 KiB configuration space");
	return 0;
}

/* Do the BAR access the PCI_CFG_ACCESS window asks for (spec 4.1.4.9). */
static int window_access(struct vq_pci *t, bool write)
{
	uint8_t *c = t->cfg + VQ_PCI_CAP_PCICFG_AT;
	unsigned bar = c[4];
	uint32_t off = vq_pci_get(c + 8, 4), len = vq_pci_get(c + 12, 4), val = 0;
	int rc;

	if (bar != 0)
		return vq_pci_bad(t, "pci_cfg window", write, off, len,
				  "cap.bar %u is not a BAR of this function (only BAR 0)", bar);
	if (len != 1 && len != 2 && len != 4)
		return vq_pci_bad(t, "pci_cfg window", write, off, len,
				  "cap.length %u is not 1, 2 or 4 (spec 4.1.4.9)", len);
	if (off % len)
		return vq_pci_bad(t, "pci_cfg window", write, off, len,
				  "cap.offset not aligned to cap.length (spec 4.1.4.9)");
	if (off >= VQ_PCI_BAR_SIZE || len > VQ_PCI_BAR_SIZE - off)
		return vq_pci_bad(t, "pci_cfg window", write, off, len,
				  "cap.offset past the %u-byte BAR", VQ_PCI_BAR_SIZE);
	if (write)
		return vq_pci_bar_write(t, off, len, vq_pci_get(c + 16, len));
	rc = vq_pci_bar_read(t, off, len, &val);
	vq_pci_put(c + 16, 4, val);
	return rc;
}

#define WINDOW_DATA (VQ_PCI_CAP_PCICFG_AT + 16)

int vq_pci_cfg_read(struct vq_pci *t, uint32_t off, unsigned width, uint32_t *val)
{
	int rc = cfg_check(t, false, off, width);

	*val = 0;
	if (rc < 0)
		return rc;
	if (off >= VQ_PCI_CFG_SIZE)
		return 0; /* no extended capabilities */
	if (off < WINDOW_DATA + 4 && off + width > WINDOW_DATA) {
		rc = window_access(t, false);
		if (rc == -VQ_E_BAD_ACCESS)
			memset(t->cfg + WINDOW_DATA, 0, 4);
	}
	t->stats.reads++;
	*val = vq_pci_get(t->cfg + off, width);
	if (vq_pci_tracing(t))
		vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1, "read PciCfg[0x%02x]/%u=0x%x",
			 off, width, *val);
	return rc < 0 ? rc : 0;
}

int vq_pci_cfg_strap(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val)
{
	if (!t || (width != 1 && width != 2 && width != 4) || off % width ||
	    off + width > VQ_PCI_CFG_SIZE)
		return -VQ_E_INVAL;
	vq_pci_put(t->cfg + off, width, val);
	vq_trace(t->tracer, VQ_EV_MACHINE, t->dev->name, -1,
		 "config space strapped: PciCfg[0x%02x]/%u=0x%x", off, width, val);
	return 0;
}

int vq_pci_cfg_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val)
{
	int rc = cfg_check(t, true, off, width);
	uint16_t ctrl_before = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_CAP_MSIX_AT + 2, 2);
	uint16_t cmd_before = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_COMMAND, 2);

	if (rc < 0)
		return rc;
	if (off >= VQ_PCI_CFG_SIZE)
		return 0;
	t->stats.writes++;
	if (vq_pci_tracing(t))
		vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1, "write PciCfg[0x%02x]/%u=0x%x",
			 off, width, val);
	for (unsigned i = 0; i < width; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i)), m = t->wmask[off + i];

		t->cfg[off + i] = (uint8_t)((t->cfg[off + i] & ~m) | (b & m));
	}
	if (off < WINDOW_DATA + 4 && off + width > WINDOW_DATA)
		rc = window_access(t, true);
	if (vq_pci_get(t->cfg + VQ_PCI_CAP_MSIX_AT + 2, 2) != ctrl_before) {
		if (vq_pci_tracing(t))
			vq_trace(t->tracer, VQ_EV_IRQ, t->dev->name, -1,
				 "MSI-X %s, function %s", vq_pci_msix_enabled(t) ? "on" : "off",
				 vq_pci_get(t->cfg + VQ_PCI_CAP_MSIX_AT + 2, 2) &
						 VQ_PCI_MSIX_CTRL_MASKALL
					 ? "masked"
					 : "unmasked");
		vq_pci_msix_update(t);
	}
	if ((vq_pci_get(t->cfg + VQ_PCI_COMMAND, 2) ^ cmd_before) & VQ_PCI_CMD_INTX_DISABLE)
		vq_pci_update_intx(t);
	return rc;
}
