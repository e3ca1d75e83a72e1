/* pci_internal.h - what pci.c, pci_bar.c and pci_msix.c share. */
#ifndef VQSIM_TRANSPORT_PCI_INTERNAL_H
#define VQSIM_TRANSPORT_PCI_INTERNAL_H

#include "../trace.h"
#include "../virtio.h"
#include "pci.h"

/* Store v as width little-endian bytes at p. */
void vq_pci_put(uint8_t *p, unsigned width, uint32_t v);
/* Little-endian value of width bytes at p. */
uint32_t vq_pci_get(const uint8_t *p, unsigned width);
bool vq_pci_tracing(const struct vq_pci *t);
/* Record msg as the device's last error and trace it. */
void vq_pci_note(struct vq_pci *t, int queue, int err, const char *msg);
/* An access the register file refuses: counted, traced; -VQ_E_BAD_ACCESS. */
int vq_pci_bad(struct vq_pci *t, const char *where, bool write, uint32_t off, unsigned width,
	       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* An operation the transport refuses: traced; returns err. */
int vq_pci_refuse(struct vq_pci *t, int queue, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The device's interrupt callback (vq_dev_host.interrupt). */
void vq_pci_interrupt(void *ctx, enum vq_irq_kind kind, unsigned q);
/* Set ISR and drive INTx from it. */
void vq_pci_set_isr(struct vq_pci *t, uint8_t isr);
/* Re-drive INTx after the command register's INTx disable bit moved. */
void vq_pci_update_intx(struct vq_pci *t);
/* Send the pending MSI-X vectors that are now unmasked. */
void vq_pci_msix_update(struct vq_pci *t);
/* MSI-X table / PBA access at offset off from the table's start. */
int vq_pci_msix_read(struct vq_pci *t, uint32_t off, unsigned width, uint32_t *val);
int vq_pci_msix_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val);
/* A vector the driver writes to config_msix_vector / queue_msix_vector:
 * itself, or NO_VECTOR when the table has no such entry (spec 4.1.5.1.2). */
uint16_t vq_pci_vector_accept(struct vq_pci *t, uint16_t v);

#endif
