/* device.h - the generic virtio device (spec 2 and 3.1).
 *
 * Feature negotiation, the status state machine, config space with its
 * generation counter, queues, reset and DEVICE_NEEDS_RESET. A device class
 * (blk, net, rng, ...) is a small ops table; classes see chains through
 * vq_dev_pop()/vq_dev_push()/vq_dev_publish() and never touch registers.
 * Transports call the vq_dev_* entry points below and receive interrupts
 * through the vq_dev_host callbacks they install.
 */
#ifndef VQSIM_DEVICE_H
#define VQSIM_DEVICE_H

#include "base.h"
#include "fault.h"
#include "mem.h"
#include "ring.h"
#include "iommu.h"

#define VQ_FEATURE_WORDS 2   /* 128 feature bits */
#define VQ_DEV_MAX_QUEUES 64
#define VQ_DEV_NAME_MAX 32

struct vq_dev;

/* Deferred work and fd watches run from the machine's event loop. */
typedef void (*vq_dev_timer_fn)(struct vq_dev *d, uint64_t data);
typedef void (*vq_dev_fd_fn)(struct vq_dev *d, int fd, unsigned revents, void *arg);

/* Installed by the machine before the class's realize hook: what a device
 * and its backends may ask of the world. Timers fire as machine events (in
 * virtual time, deterministic); fd watches fire only when the machine is
 * asked to poll (vq_machine_poll), so a run without I/O stays deterministic.
 * A class must tolerate a timer that fires after its device was reset
 * (keep a generation number in data). */
struct vq_dev_env {
	uint64_t (*now)(void *ctx);
	int (*schedule)(void *ctx, struct vq_dev *d, uint64_t delay_ns, vq_dev_timer_fn fn,
			uint64_t data);
	/* events: POLLIN/POLLOUT mask; replaces this device's earlier watch of fd */
	int (*watch)(void *ctx, struct vq_dev *d, int fd, unsigned events, vq_dev_fd_fn fn,
		     void *arg);
	void (*unwatch)(void *ctx, struct vq_dev *d, int fd);
	void *ctx;
};

/* Device class: what makes a device a blk, a net, an rng. Every hook but
 * queue_notify is optional. */
struct vq_dev_class {
	const char *name;         /* "virtio-rng" */
	uint32_t device_id;       /* VIRTIO_ID_* */
	/* Called once the device is on a machine (d->env set): start backends,
	 * watch fds. 0 or a negative error (the device is then not added). */
	int (*realize)(struct vq_dev *d);
	/* Check the driver's features when it sets FEATURES_OK; 0 to accept or a
	 * negative error to refuse (the device then keeps FEATURES_OK clear). */
	int (*validate_features)(struct vq_dev *d, const uint64_t *features);
	/* Called after the driver sets DRIVER_OK. */
	void (*driver_ok)(struct vq_dev *d);
	/* The driver notified queue q (already checked: DRIVER_OK, ready, not broken). */
	void (*queue_notify)(struct vq_dev *d, unsigned q);
	/* Queue q stops (QueueReady=0, a queue reset): drop every chain of q
	 * the class holds, without using or returning it (spec 4.2.2.1: no
	 * access to queue contents while not ready; 2.6.1: buffers made
	 * available before a reset are not executed). Called before the ring
	 * is cleared. A held chain of a stopped queue is refused by
	 * vq_dev_chain_check() anyway; this hook lets the class forget it. */
	void (*queue_stop)(struct vq_dev *d, unsigned q);
	/* Refresh d->config before the driver reads [off, off+len). */
	void (*config_read)(struct vq_dev *d, uint32_t off, uint32_t len);
	/* The driver wrote [off, off+len) of config; the bytes are already stored. */
	void (*config_write)(struct vq_dev *d, uint32_t off, uint32_t len);
	/* Return the device to its initial state (driver wrote status 0). */
	void (*reset)(struct vq_dev *d);
	/* Free class-private state. */
	void (*destroy)(struct vq_dev *d);
};

/* One queue: transport-visible configuration plus the ring behind it. */
struct vq_queue {
	uint16_t num_max;          /* QueueNumMax (0 = queue does not exist) */
	uint16_t num_max_init;     /* num_max as created; restored by reset */
	uint16_t num;              /* QueueNum chosen by the driver */
	bool ready;                /* QueueReady */
	struct vq_ring_addr addr;  /* QueueDesc/Driver/Device */
	struct vq_ring ring;       /* valid while ready */
	uint32_t epoch;            /* moves at every stop/reset: older chains are stale */
	uint64_t notifies, chains, used, interrupts, errors;
	uint64_t held_dropped;     /* held chains refused by vq_dev_chain_check() */
	/* VIRTIO_F_NOTIFICATION_DATA: the last notification's data (spec 2.9) */
	uint64_t notify_datas;     /* notifications that carried data */
	uint16_t notify_next_off;  /* split: avail idx bits 0-14; packed: next_off */
	bool notify_next_wrap;     /* split: avail idx bit 15; packed: wrap counter */
};

/* Interrupt kinds a device raises through its transport. */
enum vq_irq_kind {
	VQ_IRQ_VRING = 1,   /* used buffer notification for a queue */
	VQ_IRQ_CONFIG = 2   /* configuration change (also on DEVICE_NEEDS_RESET) */
};

/* Installed by the transport: how the device reaches the outside. */
struct vq_dev_host {
	void (*interrupt)(void *ctx, enum vq_irq_kind kind, unsigned queue);
	void *ctx;
};

struct vq_dev_stats {
	uint64_t notifies;       /* notifications delivered to the class */
	uint64_t notifies_ignored; /* notifications refused (not ready, broken, ...) */
	uint64_t chains;         /* chains popped */
	uint64_t used;           /* used elements pushed */
	uint64_t interrupts;     /* interrupts raised (vring + config) */
	uint64_t suppressed;     /* publishes where the driver asked for no interrupt */
	uint64_t errors;         /* rule violations seen */
	uint64_t resets;
};

struct vq_dev {
	const struct vq_dev_class *cls;
	void *priv;                          /* class state */
	char name[VQ_DEV_NAME_MAX];          /* "rng0" */
	struct vq_mem *mem;
	struct vq_tracer *tracer;            /* may be NULL */
	struct vq_prng *prng;                /* machine's PRNG, may be NULL */
	struct vq_faults *faults;            /* machine's fault registry (set by the
						machine; fault.h), may be NULL */
	struct vq_iommu *iommu;              /* machine's IOMMU, used with
						VIRTIO_F_ACCESS_PLATFORM; may be NULL */
	struct vq_dev_host host;
	struct vq_dev_env env;               /* all NULL until on a machine */
	uint64_t host_features[VQ_FEATURE_WORDS];   /* offered */
	uint64_t driver_features[VQ_FEATURE_WORDS]; /* written by the driver */
	uint8_t status;
	uint32_t config_generation;
	uint8_t *config;                     /* class-owned bytes */
	uint32_t config_len;
	unsigned nqueues;
	struct vq_queue queues[VQ_DEV_MAX_QUEUES];
	struct vq_dev_stats stats;
	int last_error;                      /* last rule broken (negative), 0 if none */
	unsigned outside_ms;                 /* > 0: the device's logic runs in another
						process (vhost-user front-end); waits for
						its used buffers last at most this long */
	char last_error_msg[256];
};

/* Initialise d as a device of class cls named name over mem, with nqueues
 * queues of at most queue_max entries each, offering features (always adds
 * VIRTIO_F_VERSION_1). Returns 0 or -VQ_E_INVAL. The class sets d->priv,
 * d->config and d->config_len after this call. */
int vq_dev_init(struct vq_dev *d, const struct vq_dev_class *cls, const char *name,
		struct vq_mem *mem, unsigned nqueues, uint16_t queue_max, uint64_t features_lo,
		uint64_t features_hi);
/* Call the class's destroy hook and free queue state (not d itself). */
void vq_dev_destroy(struct vq_dev *d);

/* Is feature bit (0..127) set in the negotiated (driver) features? */
bool vq_dev_has_feature(const struct vq_dev *d, unsigned bit);
/* 32-bit window sel of the offered / driver feature bits (0 past the end). */
uint32_t vq_dev_host_features_word(const struct vq_dev *d, uint32_t sel);
uint32_t vq_dev_driver_features_word(const struct vq_dev *d, uint32_t sel);
/* Driver writes 32-bit window sel of its features. -VQ_E_STATE after
 * FEATURES_OK or before DRIVER, -VQ_E_INVAL for sel out of range; bits the
 * device does not offer are stored (and refused at FEATURES_OK). */
int vq_dev_write_driver_features(struct vq_dev *d, uint32_t sel, uint32_t val);

/* Driver writes the status register. 0 resets the device. Otherwise the new
 * value must keep every bit already set and follow spec 3.1.1 order:
 * ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; FAILED any time, but once
 * FAILED is set nothing more until a reset (spec 2.1.1);
 * DEVICE_NEEDS_RESET and the reserved bits are never the driver's to set.
 * Setting FEATURES_OK checks the features (subset of offered, VERSION_1,
 * class check) and leaves FEATURES_OK clear when they are refused (returns
 * -VQ_E_FEATURES; a DRIVER_OK in the same write is dropped too, other new
 * bits such as FAILED apply). Illegal transitions are refused whole and
 * return -VQ_E_STATUS; status is unchanged. */
int vq_dev_write_status(struct vq_dev *d, uint8_t status);
/* Reset: status 0, features cleared, every queue back to its initial state,
 * class reset hook; stats (device and per-queue counters), last_error and
 * config_generation are kept. */
void vq_dev_reset(struct vq_dev *d);

/* For classes whose queue count depends on the negotiated features (blk
 * without MQ, balloon's optional queues): queues n and above read
 * QueueNumMax 0, i.e. do not exist, until the next device reset brings
 * every queue back. Call it from validate_features or later. */
void vq_dev_limit_queues(struct vq_dev *d, unsigned n);
/* Queue q, or NULL if q is out of range or does not exist. */
struct vq_queue *vq_dev_queue(struct vq_dev *d, unsigned q);
/* Driver sets QueueReady=1 for q: validates size and placement and starts
 * the ring. 0, -VQ_E_INVAL (no such queue), -VQ_E_STATE (already ready,
 * before FEATURES_OK, while DEVICE_NEEDS_RESET, or after DRIVER_OK without
 * VIRTIO_F_RING_RESET negotiated), -VQ_E_RING_LAYOUT. */
int vq_dev_queue_enable(struct vq_dev *d, unsigned q);
/* For transports whose rings start one at a time while the device runs
 * (vhost-user): vq_dev_queue_enable, also after DRIVER_OK, then resume the
 * ring at avail slot base (vq_ring_set_base). 0 or the errors of both. */
int vq_dev_queue_start(struct vq_dev *d, unsigned q, uint32_t base);
/* Queue reset of a single queue (VIRTIO_F_RING_RESET) or QueueReady=0:
 * ready cleared, size back to num_max, addresses 0. 0 or -VQ_E_INVAL. */
int vq_dev_queue_reset(struct vq_dev *d, unsigned q);
/* Driver notified queue q: delivered to the class if the device is
 * DRIVER_OK, not NEEDS_RESET, and q is ready and not broken. 0 when
 * delivered, else -VQ_E_NOT_READY / -VQ_E_INVAL / -VQ_E_RING_BROKEN. */
int vq_dev_notify(struct vq_dev *d, unsigned q);
/* A transport's notification value with VIRTIO_F_NOTIFICATION_DATA
 * negotiated (spec 2.9: le32 vqn:16, next_off:15, next_wrap:1; for a
 * split ring next_off|next_wrap<<15 is the driver's avail idx): returns
 * vqn and, when vqn names a queue, records next_off/next_wrap in it (and
 * traces them). Without the feature the whole value is the queue index,
 * returned unchanged. Layout- and transport-neutral: mmio's QueueNotify
 * and pci's notify area both call it. */
unsigned vq_dev_notify_decode(struct vq_dev *d, uint32_t val);

/* Config space access by the driver (little-endian bytes). Returns 0 or
 * -VQ_E_BAD_ACCESS (out of range). */
int vq_dev_config_read(struct vq_dev *d, uint32_t off, void *buf, uint32_t len);
int vq_dev_config_write(struct vq_dev *d, uint32_t off, const void *buf, uint32_t len);
/* The device changed its config: bump the generation, and raise a config
 * interrupt if the driver has set DRIVER_OK (before that it reads config
 * during initialisation anyway). */
void vq_dev_config_changed(struct vq_dev *d);

/* For classes: pop the next chain of queue q (see vq_ring_pop). A ring error
 * is funnelled to vq_dev_fail_queue() before it is returned. With
 * VIRTIO_F_EVENT_IDX, finding the queue empty re-arms avail_event so the
 * driver notifies again for its next chain. */
int vq_dev_pop(struct vq_dev *d, unsigned q, struct vq_chain *c);
/* For classes, before each use of a chain held past the call that popped
 * it (a stashed rx buffer, a transmit chain waiting for the backend): 0
 * when c may be used now, with its host pointers re-translated if guest
 * memory changed meanwhile (vq_chain_revalidate). Otherwise the chain must
 * be dropped, neither used nor pushed: -VQ_E_STATE when q was stopped or
 * reset since the pop (or the device reset), -VQ_E_NOT_READY /
 * -VQ_E_RING_BROKEN when q cannot be used now, -VQ_E_RING_DESC_MEM when a
 * buffer is no longer reachable: the queue is then failed through
 * vq_dev_fail_queue() (DEVICE_NEEDS_RESET), the error naming the buffer. */
int vq_dev_chain_check(struct vq_dev *d, unsigned q, struct vq_chain *c);
/* For classes: push a used element for c (see vq_ring_push). -VQ_E_RING_USED_LEN
 * (written larger than the chain) is recorded as an error but does not break
 * the queue: the element is pushed with the length clamped. */
int vq_dev_push(struct vq_dev *d, unsigned q, const struct vq_chain *c, uint32_t written);
/* For classes: publish used elements of q and interrupt if the driver wants. */
int vq_dev_publish(struct vq_dev *d, unsigned q);
/* The one place where a broken ring goes: mark q broken, trace the error,
 * set DEVICE_NEEDS_RESET and raise a config interrupt (if DRIVER_OK). */
void vq_dev_fail_queue(struct vq_dev *d, unsigned q, int err);
/* For classes whose rings are served elsewhere (the vhost-user front-end):
 * raise an interrupt of kind for queue q through the transport, counted and
 * traced as vq_dev_publish's are. */
void vq_dev_interrupt(struct vq_dev *d, enum vq_irq_kind kind, unsigned q);
/* Device-level failure not tied to a queue: DEVICE_NEEDS_RESET + config irq. */
void vq_dev_needs_reset(struct vq_dev *d, int err, const char *why);

/* For classes and backends: virtual time in ns (0 without a machine). */
uint64_t vq_dev_now(const struct vq_dev *d);
/* For classes and backends: run fn(d, data) delay_ns from now as a machine
 * event. 0, -VQ_E_NOT_READY (no machine) or -VQ_E_NOSPC (event queue full). */
int vq_dev_schedule(struct vq_dev *d, uint64_t delay_ns, vq_dev_timer_fn fn, uint64_t data);
/* For backends: call fn when fd is ready for events (POLLIN/POLLOUT) at the
 * machine's next poll. 0, -VQ_E_NOT_READY or -VQ_E_NOSPC (too many fds). */
int vq_dev_watch_fd(struct vq_dev *d, int fd, unsigned events, vq_dev_fd_fn fn, void *arg);
/* Stop watching fd (no-op if not watched). */
void vq_dev_unwatch_fd(struct vq_dev *d, int fd);

/* Name of a status value as "ACKNOWLEDGE|DRIVER|..." into buf; returns buf. */
const char *vq_dev_status_str(uint8_t status, char *buf, size_t len);

/* Options every device takes, whatever its type (read by the machine before
 * the type's own create sees the rest). */
struct vq_dev_generic {
	bool packed;   /* packed=on|off: offer VIRTIO_F_RING_PACKED (default on) */
};
struct vq_opts;
/* Read the generic options into g (defaults for those not given) and
 * remove them from o (o may be NULL). 0, or -VQ_E_INVAL with a message
 * naming the value in err. */
int vq_dev_generic_opts(struct vq_opts *o, struct vq_dev_generic *g, char *err, size_t errlen);
/* Apply g to a created device's offered features. */
void vq_dev_generic_apply(struct vq_dev *d, const struct vq_dev_generic *g);

#endif
