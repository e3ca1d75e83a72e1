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
#include "vhost/vhost_user.h"

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

/* ---- vhost-user back-end (vhost_backend.c) ------------------------------ */

/* What the front-end told the back-end about one ring. */
struct vq_vhost_vring {
	uint16_t num;              /* SET_VRING_NUM (0: not yet) */
	bool addr_set, enabled, started;
	struct vq_vhost_addr addr; /* front-end virtual addresses */
	uint32_t base;             /* SET_VRING_BASE; the state at the last stop */
	int kick, call, err;       /* eventfds, -1 when none */
};

struct vq_vhost_stats {
	uint64_t connections, messages, refused, kicks, calls;
};

struct vq_vhost_backend {
	struct vq_dev *dev;
	struct vq_dev_host saved_host;     /* the device's interrupts before serving */
	struct vq_transport_host host;     /* notifications go to the machine */
	struct vq_tracer *tracer;
	char path[108];
	int listen_fd, conn;
	uint64_t features, protocol;       /* negotiated with the front-end */
	bool protocol_set;                 /* SET_PROTOCOL_FEATURES was received */
	bool owner, dev_up;
	unsigned nregions;
	struct vq_vhost_region regions[VHOST_USER_MAX_REGIONS];
	struct vq_vhost_vring vr[VQ_DEV_MAX_QUEUES];
	struct vq_vhost_stats stats;
	char last_error[240];              /* why the last message was refused */
};

/* Serve d over vhost-user: d's interrupts go to the rings' call eventfds
 * from now on, notifications (kicks) to host->notify; d's guest memory
 * will be replaced by the front-end's memory table. 0 or -VQ_E_INVAL. */
int vq_vhost_backend_init(struct vq_vhost_backend *b, struct vq_dev *d,
			  const struct vq_transport_host *host, struct vq_tracer *tracer);
/* Listen on the UNIX socket path (a stale socket file is replaced); the
 * front-end that connects is served, one at a time, through d's fd
 * watches (vq_machine_poll). 0, or -VQ_E_INVAL / -VQ_E_SYS with err set. */
int vq_vhost_backend_listen(struct vq_vhost_backend *b, const char *path, char *err,
			    size_t errlen);
/* Serve an already connected socket (tests: one end of a socketpair).
 * 0, -VQ_E_STATE (a front-end is connected) or the watch's error. */
int vq_vhost_backend_attach(struct vq_vhost_backend *b, int conn);
/* Read and handle one message from the connected front-end (the fd watch
 * calls this). 1 handled (refused ones included: b->last_error says why),
 * 0 the front-end left, negative when the connection was closed on a
 * framing error. */
int vq_vhost_backend_message(struct vq_vhost_backend *b);
/* Disconnect, stop listening (unlinking the path), give d its interrupts
 * back. The device stays on its machine, reset. */
void vq_vhost_backend_close(struct vq_vhost_backend *b);
#include "transport/pci.h"

#endif
