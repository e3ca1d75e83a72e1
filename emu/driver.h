/* driver.h - the reference guest driver.
 *
 * Does what a Linux virtio driver does, through the machine's bus and guest
 * memory only: the init sequence of spec 3.1.1 with features the caller
 * chooses, queue setup, adding chains, kicking, reaping used elements,
 * interrupt acknowledgement. Guest memory for rings and buffers comes from
 * a bump allocator over a window of guest RAM that the caller gives it.
 */
#ifndef VQSIM_DRIVER_H
#define VQSIM_DRIVER_H

#include "machine.h"
#include "ring.h"

struct vq_drv_queue {
	bool active;
	struct vq_ring_drv ring;
	uint64_t ring_gpa;        /* where the ring areas were placed */
};

struct vq_drv;
/* How the driver reaches its device's registers (driver.c: mmio, pci). reg
 * is a virtio-mmio register offset (VIRTIO_MMIO_*) standing for the field
 * of the same meaning; config bytes go through cfg_read/cfg_write. */
struct vq_drv_ops {
	int (*rd)(struct vq_drv *d, uint32_t reg, uint32_t *val);
	int (*wr)(struct vq_drv *d, uint32_t reg, uint32_t val);
	int (*cfg_read)(struct vq_drv *d, uint32_t off, unsigned width, uint32_t *val);
	int (*cfg_write)(struct vq_drv *d, uint32_t off, unsigned width, uint32_t val);
	/* is an interrupt waiting for the handler (vq_drv_ack_interrupt)? */
	bool (*irq_pending)(struct vq_drv *d);
};

/* What the driver learnt of a virtio-pci function from its capabilities. */
struct vq_drv_pci {
	uint64_t cfg;             /* its config space (ECAM) */
	uint64_t bar;             /* where the driver placed BAR 0 */
	uint64_t common, notify, isr, device; /* structures' gpas */
	uint32_t notify_mult, device_len;
	uint32_t notify_len;      /* bytes of the notification structure used */
	unsigned bar_index;       /* the BAR register (0-5) the structures are in */
	uint16_t notify_off[VQ_DEV_MAX_QUEUES];
	bool msix;                /* MSI-X enabled: vector 0 config, q+1 queue q */
	unsigned nvectors;
	uint32_t msi_tag;         /* data bits 8-15 of its messages: its device number */
	uint64_t msi_next;        /* machine message count already handled */
	char refused[200];        /* why vq_drv_attach_pci() turned the function down */
};

struct vq_drv {
	struct vq_machine *m;
	const struct vq_drv_ops *ops; /* transport (NULL: mmio) */
	struct vq_drv_pci pci;
	uint64_t base;            /* mmio window */
	unsigned irq;
	uint32_t device_id;
	uint64_t offered[VQ_FEATURE_WORDS];
	uint64_t features[VQ_FEATURE_WORDS];  /* negotiated */
	uint64_t heap_start, heap_end, heap_next;
	uint32_t isr_seen;        /* InterruptStatus bits acknowledged so far (OR) */
	uint64_t config_irqs, vring_irqs;
	struct vq_drv_queue queues[VQ_DEV_MAX_QUEUES];
	uint64_t scratch_gpa;     /* reusable buffer for the per-device helpers */
	uint32_t scratch_len;
	uint64_t next_token;      /* vq_drv_submit's tokens */
	void *dev_state;          /* per-device helper state (drv/blk.c, ...) */
	void (*dev_state_free)(struct vq_drv *d);
};

/* Bind d to the mmio device at base (line irq) of machine m, with guest
 * memory [heap, heap+heap_size) for its allocations. Reads MagicValue,
 * Version and DeviceID, and stops there when they do not name a device
 * (spec 4.2.3.1.1). 0, -VQ_E_NO_DEVICE (no virtio-mmio v2 device there:
 * bad magic or version, or DeviceID 0, an empty transport) or
 * -VQ_E_INVAL. */
int vq_drv_attach(struct vq_drv *d, struct vq_machine *m, uint64_t base, unsigned irq,
		  uint64_t heap, uint64_t heap_size);
/* MSI address the driver programs (x86's, for the record). */
#define VQ_DRV_MSI_ADDR 0xfee00000u
/* Bind d to the virtio-pci function whose config space is at cfg (an ECAM
 * address, vq_machine_slot()->base): match vendor and device id (spec
 * 4.1.2.2: 0x1af4 and 0x1041-0x107f, or a transitional 0x1000-0x103f: the
 * spec's table, else the subsystem device id names the type; any
 * revision), size the BARs, walk the capabilities and take for each virtio
 * structure the first one it can use (spec 4.1.4.1: reserved cfg_type or
 * BAR, cap_len shorter than the structure, a BAR that is not 64-bit
 * memory or not the one of the common configuration, offset misaligned or
 * the structure's needed part outside the BAR: ignored; cap_len and length
 * larger than needed: accepted, length clamped to the BAR and device cfg to
 * 4 KiB), place that BAR at bar_gpa (rounded up to its size), enable memory
 * decoding and bus mastering, and with msix the MSI-X capability (vector 0
 * config, vector q+1 queue q; messages at VQ_DRV_MSI_ADDR with data
 * device<<8|vector), else INTx on the line the interrupt-line register
 * names. Heap as vq_drv_attach. 0, -VQ_E_NO_DEVICE (ids not virtio's, or
 * no usable common, notify or ISR structure, or msix asked and the MSI-X
 * table unusable; d->pci.refused says why, naming the values) or
 * -VQ_E_INVAL. */
int vq_drv_attach_pci(struct vq_drv *d, struct vq_machine *m, uint64_t cfg, uint64_t bar_gpa,
		      bool msix, uint64_t heap, uint64_t heap_size);
/* Register access through the transport: reg is a VIRTIO_MMIO_* offset
 * naming the field (on pci the common cfg field of the same meaning). 0 or
 * the bus error; -VQ_E_INVAL when the transport has no such field. */
int vq_drv_reg_read(struct vq_drv *d, uint32_t reg, uint32_t *val);
int vq_drv_reg_write(struct vq_drv *d, uint32_t reg, uint32_t val);
/* Is an interrupt waiting for the driver's handler (line high, or an
 * unhandled MSI-X message for this device)? */
bool vq_drv_irq_pending(struct vq_drv *d);
/* Free driver-side state (guest memory stays). */
void vq_drv_detach(struct vq_drv *d);

/* Allocate size bytes of guest memory aligned to align (a power of two);
 * returns the gpa, or 0 when the heap is exhausted. */
uint64_t vq_drv_alloc(struct vq_drv *d, uint64_t size, uint64_t align);

/* Steps 1-6 of spec 3.1.1: reset, ACKNOWLEDGE, DRIVER, read offered
 * features, write offered & want (VERSION_1 always requested), FEATURES_OK
 * and read it back. want is VQ_FEATURE_WORDS words. 0, or -VQ_E_FEATURES
 * when the device refused (status left without FEATURES_OK; the driver
 * sets FAILED), or a register error. */
int vq_drv_negotiate(struct vq_drv *d, const uint64_t *want);
/* Set up queue q with size num (0: QueueNumMax): allocate and lay out the
 * rings, program the addresses, QueueReady=1 and read it back. 0,
 * -VQ_E_INVAL (no such queue, num too large), -VQ_E_NOMEM (heap),
 * -VQ_E_RING_LAYOUT (device refused), or the refusal of the QueueReady
 * write (pci: -VQ_E_BAD_ACCESS when the queue's notification address falls
 * outside the notification structure). */
int vq_drv_setup_queue(struct vq_drv *d, unsigned q, uint16_t num);
/* Step 8: set DRIVER_OK. 0 or -VQ_E_STATUS. */
int vq_drv_driver_ok(struct vq_drv *d);
/* For vq_drv_init(): every queue the device has once the features are
 * negotiated (a blk without MQ has one, whatever it was created with). */
#define VQ_DRV_ALL_QUEUES (~0u)
/* negotiate + setup queues 0..nqueues-1 at full size + driver_ok. With
 * nqueues VQ_DRV_ALL_QUEUES: queues from 0 up to the first that reads
 * QueueNumMax 0. 0 or the first step's error. */
int vq_drv_init(struct vq_drv *d, const uint64_t *want, unsigned nqueues);
/* Write 0 to status and forget queue state. */
int vq_drv_reset(struct vq_drv *d);
/* Read the status register. */
uint8_t vq_drv_status(struct vq_drv *d);
/* Is bit negotiated? */
bool vq_drv_has_feature(const struct vq_drv *d, unsigned bit);

/* Add a chain of n buffers to queue q under token (see vq_ring_drv_add). */
int vq_drv_add(struct vq_drv *d, unsigned q, const struct vq_buf *bufs, unsigned n,
	       uint64_t token);
/* Publish added chains of q and write QueueNotify if the device wants it.
 * Returns 1 if notified, 0 if suppressed, negative on error. */
int vq_drv_kick(struct vq_drv *d, unsigned q);
/* Reap one used element of q (see vq_ring_drv_get_used). */
int vq_drv_get_used(struct vq_drv *d, unsigned q, uint64_t *token, uint32_t *len);
/* Read InterruptStatus and acknowledge what is set; returns the bits. */
uint32_t vq_drv_ack_interrupt(struct vq_drv *d);
/* Run the machine until queue q has a used element or the event queue is
 * empty; 1 if one is there, 0 if none came (device did not answer). */
int vq_drv_wait_used(struct vq_drv *d, unsigned q);

/* One request the synchronous way: add the chain under a fresh token, kick,
 * run the machine until it is used, reap it. *used_len gets the bytes the
 * device wrote. 0, or an error: -VQ_E_RING_BROKEN if the device went to
 * NEEDS_RESET, -VQ_E_TIMEOUT if it never answered, -VQ_E_RING_USED_ID if
 * another chain came back first (use add/kick/get_used for many in flight). */
int vq_drv_submit(struct vq_drv *d, unsigned q, const struct vq_buf *bufs, unsigned n,
		  uint32_t *used_len);
/* Write config bytes at off with accesses of natural width. 0 or an error. */
int vq_drv_config_write(struct vq_drv *d, uint32_t off, const void *buf, uint32_t len);

/* Config space of the device, read with the generation-counter loop of
 * spec 2.5.1 (retries while the generation changes). 0 or an error. */
int vq_drv_config_read(struct vq_drv *d, uint32_t off, void *buf, uint32_t len);

/* virtio-rng helper: post one device-writable buffer of len bytes, kick,
 * run, reap; copies the bytes the device wrote to out and returns their
 * count (may be less than len), or a negative error. */
long vq_drv_rng_read(struct vq_drv *d, void *out, uint32_t len);

/* Per-device helpers. */
#include "drv/blk.h"
#include "drv/net.h"
#include "drv/balloon.h"
#include "drv/console.h"

#endif
