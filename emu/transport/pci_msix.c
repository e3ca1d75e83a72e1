/* pci_msix.c - interrupts of the virtio-pci transport: MSI-X (table, PBA,
 * per-vector and function masks; spec 4.1.5.1.2 and PCI's MSI-X) and,
 * with MSI-X off, INTx driven by the ISR (spec 4.1.4.5).
 */
#include <string.h>

#include "pci_internal.h"

bool vq_pci_msix_enabled(const struct vq_pci *t)
{
	return vq_pci_get(t->cfg + VQ_PCI_CAP_MSIX_AT + 2, 2) & VQ_PCI_MSIX_CTRL_ENABLE;
}

static bool function_masked(const struct vq_pci *t)
{
	return vq_pci_get(t->cfg + VQ_PCI_CAP_MSIX_AT + 2, 2) & VQ_PCI_MSIX_CTRL_MASKALL;
}

uint16_t vq_pci_vector_accept(struct vq_pci *t, uint16_t v)
{
	return v < t->nvectors ? v : VQ_PCI_NO_VECTOR;
}

static void send(struct vq_pci *t, unsigned v)
{
	uint64_t addr = t->msix_table[v][0] | (uint64_t)t->msix_table[v][1] << 32;
	uint32_t data = t->msix_table[v][2];

	t->stats.msi_sent++;
	if (vq_pci_tracing(t))
		vq_trace(t->tracer, VQ_EV_IRQ, t->dev->name, -1,
			 "MSI-X vector %u: addr 0x%llx data 0x%x", v, (unsigned long long)addr,
			 data);
	if (t->host.msi)
		t->host.msi(t->host.ctx, addr, data);
}

/* Raise vector v: send it, or set its pending bit while masked. */
static void raise_vector(struct vq_pci *t, uint16_t v)
{
	if (v >= t->nvectors) { /* NO_VECTOR: the interrupt is lost (spec 4.1.5.1.2) */
		t->stats.msi_dropped++;
		if (vq_pci_tracing(t))
			vq_trace(t->tracer, VQ_EV_IRQ, t->dev->name, -1,
				 "interrupt dropped: no MSI-X vector assigned");
		return;
	}
	if (function_masked(t) || (t->msix_table[v][3] & 1)) {
		t->pba[v / 64] |= 1ull << (v % 64);
		t->stats.msi_pended++;
		if (vq_pci_tracing(t))
			vq_trace(t->tracer, VQ_EV_IRQ, t->dev->name, -1,
				 "MSI-X vector %u masked: pending", v);
		return;
	}
	send(t, v);
}

void vq_pci_msix_update(struct vq_pci *t)
{
	if (!vq_pci_msix_enabled(t) || function_masked(t))
		return;
	for (unsigned v = 0; v < t->nvectors; v++) {
		if (!(t->pba[v / 64] >> (v % 64) & 1) || (t->msix_table[v][3] & 1))
			continue;
		t->pba[v / 64] &= ~(1ull << (v % 64));
		send(t, v);
	}
}

void vq_pci_update_intx(struct vq_pci *t)
{
	bool level = t->isr != 0 && !vq_pci_msix_enabled(t) &&
		     !(vq_pci_get(t->cfg + VQ_PCI_COMMAND, 2) & VQ_PCI_CMD_INTX_DISABLE);
	uint16_t st = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_STATUS, 2);

	st = (uint16_t)(t->isr ? st | VQ_PCI_STATUS_INTX : st & ~VQ_PCI_STATUS_INTX);
	t->cfg[VQ_PCI_STATUS] = (uint8_t)st;
	if (level == t->irq_level)
		return;
	t->irq_level = level;
	if (t->host.set_irq)
		t->host.set_irq(t->host.ctx, level);
}

void vq_pci_set_isr(struct vq_pci *t, uint8_t isr)
{
	t->isr = isr;
	vq_pci_update_intx(t);
}

void vq_pci_interrupt(void *ctx, enum vq_irq_kind kind, unsigned q)
{
	struct vq_pci *t = ctx;
	uint8_t old = t->isr;
	bool msix = vq_pci_msix_enabled(t);

	t->stats.interrupts++;
	/* the configuration bit is set whatever carries the change (spec
	 * 4.1.4.5.1); the queue bit and INTx are for INTx only */
	if (kind != VQ_IRQ_VRING)
		t->isr |= VIRTIO_MMIO_INT_CONFIG;
	else if (!msix)
		t->isr |= VIRTIO_MMIO_INT_VRING;
	if (vq_pci_tracing(t) && (!msix || old != t->isr))
		vq_trace(t->tracer, VQ_EV_IRQ, t->dev->name, -1, "ISR 0x%x -> 0x%x", old, t->isr);
	if (!msix) {
		vq_pci_update_intx(t);
		return;
	}
	raise_vector(t, kind == VQ_IRQ_VRING
				? (q < VQ_DEV_MAX_QUEUES ? t->queue_vector[q] : VQ_PCI_NO_VECTOR)
				: t->config_vector);
}

int vq_pci_msix_read(struct vq_pci *t, uint32_t off, unsigned width, uint32_t *val)
{
	*val = 0;
	if (width != 4 || off % 4)
		return vq_pci_bad(t, "MSI-X", false, off, width, "takes aligned 32-bit accesses");
	if (off < VQ_PCI_MSIX_PBA_OFF - VQ_PCI_MSIX_TABLE_OFF) {
		if (off / 16 >= t->nvectors)
			return vq_pci_bad(t, "MSI-X table", false, off, width,
					  "past the %u-entry table", t->nvectors);
		*val = t->msix_table[off / 16][off % 16 / 4];
		return 0;
	}
	off -= VQ_PCI_MSIX_PBA_OFF - VQ_PCI_MSIX_TABLE_OFF;
	if (off >= sizeof(t->pba))
		return vq_pci_bad(t, "MSI-X PBA", false, off, width, "past the PBA");
	*val = (uint32_t)(t->pba[off / 8] >> (32 * (off % 8 / 4)));
	return 0;
}

int vq_pci_msix_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val)
{
	unsigned v, f;

	if (width != 4 || off % 4)
		return vq_pci_bad(t, "MSI-X", true, off, width, "takes aligned 32-bit accesses");
	if (off >= VQ_PCI_MSIX_PBA_OFF - VQ_PCI_MSIX_TABLE_OFF)
		return vq_pci_bad(t, "MSI-X PBA", true, off, width, "the PBA is read-only");
	v = off / 16;
	f = off % 16 / 4;
	if (v >= t->nvectors)
		return vq_pci_bad(t, "MSI-X table", true, off, width, "past the %u-entry table",
				  t->nvectors);
	if (f == 3)
		val &= 1; /* vector control: only the mask bit */
	t->msix_table[v][f] = val;
	if (vq_pci_tracing(t))
		vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1, "write MsixTable[%u].%s=0x%x", v,
			 (const char *[]){"addr_lo", "addr_hi", "data", "ctrl"}[f], val);
	if (f == 3 && !val)
		vq_pci_msix_update(t);
	return 0;
}
