/* dev.h - the device classes of emu/dev and how to create them by name.
 *
 * Each class lives in one file (emu/dev/rng.c, ...). A device is created
 * into a caller-provided struct vq_dev from a type name and an option list
 * (opts.h: parsed from "key=value,key=value" or built key by key), so the
 * machine, the shell and tests all create devices the same way.
 */
#ifndef VQSIM_DEV_H
#define VQSIM_DEV_H

#include "device.h"
#include "opts.h"

struct vq_dev_type {
	const char *name;       /* "rng" */
	const char *summary;    /* one line for help */
	const char *options;    /* option syntax for help: "source=prng|urandom" */
	/* Initialise d (vq_dev_init + class state) from the options o (an
	 * empty list for none; the type refuses keys it does not know). 0 or
	 * a negative error with a message naming the problem in err. */
	int (*create)(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
		      const char *name, struct vq_opts *o, char *err, size_t errlen);
};

/* The device type called name, or NULL. */
const struct vq_dev_type *vq_dev_type_find(const char *name);
/* The i-th known device type, or NULL past the end (for listings). */
const struct vq_dev_type *vq_dev_type_at(unsigned i);

/* ---- virtio-rng (spec 5.4) ---- */
extern const struct vq_dev_type vq_rng_type;
/* Bytes one request is served at most: the spec lets the device use less
 * than the whole buffer (5.4.6.1), and a chain can alias one region up to
 * 4 GiB, so this bounds a notification's work by queue size x 64 KiB (and
 * keeps used.len far from a 32-bit wrap). Drivers ask again for more. */
#define VQ_RNG_REQUEST_MAX 65536u
/* What an rng device has done since it was created (reset keeps them). */
struct vq_rng_stats {
	uint64_t bytes_served; /* random bytes written into guest buffers */
	uint64_t requests;     /* chains returned */
	uint64_t capped;       /* requests with more than VQ_RNG_REQUEST_MAX
				  writable bytes: served VQ_RNG_REQUEST_MAX */
};
/* Bytes of entropy served by an rng device (for tests and statistics). */
uint64_t vq_rng_bytes_served(const struct vq_dev *d);
/* Copy d's counters to st. 0, or -VQ_E_INVAL if d is not an rng device. */
int vq_rng_get_stats(const struct vq_dev *d, struct vq_rng_stats *st);

/* ---- an empty virtio-mmio transport (emu/dev/empty.c): DeviceID 0, every
 * register but MagicValue, Version, DeviceID and VendorID refused ---- */
extern const struct vq_dev_type vq_empty_type;

/* ---- the other device classes: one header each ---- */
#include "dev/blk.h"
#include "dev/net.h"
#include "dev/balloon.h"
#include "dev/console.h"

/* ---- vhost-user front-end (emu/dev/vhost_user.c) ----
 * Type "vhost-user": a device on the bus whose logic is a vhost-user
 * back-end in another process (socket=PATH, type=blk|net|...). */
extern const struct vq_dev_type vq_vhost_user_type;
struct vq_vhost_frontend_stats {
	uint64_t messages;       /* requests sent */
	uint64_t kicks;          /* notifications forwarded to the kick eventfds */
	uint64_t calls;          /* call eventfd signals received */
	uint64_t calls_ignored;  /* of those, for a stopped ring (no interrupt) */
	uint64_t used_seen;      /* used entries the back-end wrote (split rings, traced) */
	uint64_t starts;         /* DRIVER_OK hand-overs (memory table + rings) */
	uint64_t failures;       /* times the back-end failed (it is then dead until a reset) */
	uint64_t reconnects;     /* a device reset connected again after a failure */
	uint64_t features;       /* what GET_FEATURES answered */
	uint64_t protocol;       /* protocol features both sides speak */
	bool dead;               /* no message goes out any more */
	char last_error[240];    /* what the back-end did wrong */
};
/* Copy a vhost-user front-end device's counters to st. 0, or -VQ_E_INVAL if
 * d is not such a device. */
int vq_vhost_frontend_get_stats(const struct vq_dev *d, struct vq_vhost_frontend_stats *st);
/* Close d's connection (d then needs a reset, its last error saying why);
 * a no-op if d is not a vhost-user front-end device. */
void vq_vhost_frontend_disconnect(struct vq_dev *d, const char *why);
/* The kind of device a front-end device stands for ("blk"), or NULL if d is
 * not a vhost-user front-end device. */
const char *vq_vhost_frontend_kind(const struct vq_dev *d);

#endif
