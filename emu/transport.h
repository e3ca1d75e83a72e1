/* transport.h - register files that put a vq_dev on a bus.
 *
 * mmio.c decodes virtio-mmio version 2 (spec 4.2.2) accesses into vq_dev
 * calls. A transport never runs device code directly on a notification: it
 * hands the notification to its host (the machine), which queues it as an
 * event; interrupts go out the same way. Bad accesses (wrong width,
 * misaligned, read of a write-only register, write of a read-only one,
 * unknown offset) are traced, counted and ignored: reads return 0.
 */
#ifndef VQSIM_TRANSPORT_H
#define VQSIM_TRANSPORT_H

#include "device.h"

/* Installed by the machine: where notifications and the interrupt line go. */
struct vq_transport_host {
	/* The driver notified queue q of the transport's device. */
	void (*notify)(void *ctx, struct vq_dev *d, unsigned q);
	/* Drive the interrupt line to level (mmio: level = InterruptStatus != 0). */
	void (*set_irq)(void *ctx, bool level);
	void *ctx;
	/* pci: deliver an MSI-X message (NULL: messages are lost) */
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
};

struct vq_mmio_stats {
	uint64_t reads, writes, bad_accesses, notifies, interrupts;
};

struct vq_mmio {
	struct vq_dev *dev;
	struct vq_transport_host host;
	struct vq_tracer *tracer;
	uint32_t vendor_id;          /* VendorID: vq_mmio_init sets "VQSM" (0x4d535156) */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t interrupt_status;   /* VIRTIO_MMIO_INT_* bits */
	struct vq_mmio_stats stats;
};

/* Attach t to device d (installs d->host) with the given host callbacks.
 * Returns 0 or -VQ_E_INVAL. */
int vq_mmio_init(struct vq_mmio *t, struct vq_dev *d, const struct vq_transport_host *host,
		 struct vq_tracer *tracer);
/* Read width (1, 2 or 4) bytes at register offset off (0..0x1ff) into *val.
 * 0, or -VQ_E_BAD_ACCESS (traced, *val = 0). */
int vq_mmio_read(struct vq_mmio *t, uint32_t off, unsigned width, uint32_t *val);
/* Write width bytes of val at register offset off. 0, -VQ_E_BAD_ACCESS for
 * an access the register file refuses, or the device's error for a refused
 * operation (-VQ_E_STATUS, -VQ_E_FEATURES, -VQ_E_RING_LAYOUT, ...); both are
 * traced and leave the device as it was. */
int vq_mmio_write(struct vq_mmio *t, uint32_t off, unsigned width, uint32_t val);
/* Reset transport-side state (selectors, interrupt status); the device is
 * reset through its status register. */
void vq_mmio_reset(struct vq_mmio *t);

#include "transport/pci.h"

#endif
