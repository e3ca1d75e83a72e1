/* base.h - what every layer of vqsim shares: error codes, the trace hook,
 * the seeded PRNG and little-endian/atomic access helpers.
 *
 * Conventions used across libvqsim: functions that can fail return a
 * negative VQ_E_* code on failure and, on success, 0 or the non-negative
 * value their comment names (a count, an id, a device's status or ack
 * byte); functions returning pointers return NULL on failure (a message in
 * err where they take one). vq_strerror() names the rule that was broken.
 */
#ifndef VQSIM_BASE_H
#define VQSIM_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Error codes. Functions return the negated value (-VQ_E_LOOP, ...). */
enum vq_err {
	VQ_OK = 0,
	/* generic */
	VQ_E_NOMEM = 1,        /* out of host memory */
	VQ_E_INVAL,            /* bad argument from the caller */
	VQ_E_SYS,              /* an operating-system call failed (errno kept) */
	VQ_E_NOSPC,            /* no room: ring full, table full */
	VQ_E_STATE,            /* operation not allowed in the current state */
	/* guest memory */
	VQ_E_MEM_UNMAPPED,     /* range touches guest-physical space with no memory */
	VQ_E_MEM_WRAP,         /* address + length wraps past 2^64 */
	VQ_E_MEM_FAULT,        /* range touches an injected fault */
	/* split/packed ring, device side: one code per validation rule */
	VQ_E_RING_LAYOUT,      /* size not a power of two / 0 / too big, misaligned or unmapped ring area */
	VQ_E_RING_AVAIL_IDX,   /* avail idx more than the queue size ahead of the used chains */
	VQ_E_RING_HEAD,        /* avail ring entry (head index) >= queue size */
	VQ_E_RING_NEXT,        /* descriptor next index >= queue (or indirect table) size */
	VQ_E_RING_LOOP,        /* chain longer than the queue size: a loop */
	VQ_E_RING_DESC_MEM,    /* a buffer is not wholly inside guest memory */
	VQ_E_RING_ORDER,       /* device-readable descriptor after a device-writable one */
	VQ_E_RING_INDIRECT_LEN,    /* indirect table length 0 or not a multiple of 16 */
	VQ_E_RING_INDIRECT_NEXT,   /* INDIRECT and NEXT set in one descriptor */
	VQ_E_RING_INDIRECT_NESTED, /* INDIRECT descriptor inside an indirect table */
	VQ_E_RING_INDIRECT_MEM,    /* indirect table not wholly inside guest memory */
	VQ_E_RING_INDIRECT_FEATURE,/* INDIRECT used but VIRTIO_F_INDIRECT_DESC not negotiated */
	VQ_E_RING_CHAIN_BYTES, /* total chain length exceeds 2^32 bytes */
	VQ_E_RING_RING_MEM,    /* a ring area became unreachable (fault, unmapped) */
	VQ_E_RING_USED_ID,     /* driver side: device used an id not in flight / out of range */
	VQ_E_RING_USED_IDX,    /* driver side: used idx moved by more than in flight */
	VQ_E_RING_USED_LEN,    /* device: used length larger than the writable bytes */
	VQ_E_RING_BROKEN,      /* queue is broken until reset */
	/* device / transport */
	VQ_E_FEATURES,         /* feature set rejected (FEATURES_OK not accepted) */
	VQ_E_STATUS,           /* illegal device-status transition */
	VQ_E_BAD_ACCESS,       /* register access of wrong width/offset/direction */
	VQ_E_NOT_READY,        /* queue or device not ready for this operation */
	VQ_E_TIMEOUT,          /* a bounded wait ran out (virtual time or events) */
	VQ_E_RING_WRITE_RING,  /* a device-writable buffer overlaps a descriptor table or ring area */
	/* vhost-user */
	VQ_E_VHOST_MSG,        /* a vhost-user message breaks the protocol (size, fds, order, values) */
	/* advanced ring features (feat) */
	VQ_E_RING_IOMMU,       /* a device address (IOVA) is unmapped, read-only for a write, or not contiguous */
	/* packed ring, device side (ring_packed.c) */
	VQ_E_RING_PACKED_ID,       /* buffer id not below the queue size */
	VQ_E_RING_PACKED_ID_BUSY,  /* buffer id already in flight */
	VQ_E_RING_PACKED_CHAIN,    /* chain runs over descriptors still in flight (longer than the free ring) */
	VQ_E_RING_PACKED_AVAIL,    /* chain continues into a descriptor not made available */
	VQ_E_RING_PACKED_INDIRECT_FLAGS, /* indirect table entry with flags other than WRITE */
	/* vhost-user front-end (emu/dev/vhost_user.c) */
	VQ_E_VHOST_PEER,           /* the outside device broke the protocol, did not answer in time or left */
	/* reference driver's probe (driver.c, driver_pci.c) */
	VQ_E_NO_DEVICE,            /* no device the driver can drive: not virtio's ids, or a required structure absent or unusable */
	VQ_E__COUNT
};

/* Short symbolic name of an error code ("RING_LOOP"); accepts +code or -code. */
const char *vq_errname(int err);
/* One-line description of the rule an error code stands for; accepts +/-. */
const char *vq_strerror(int err);

/* ---- trace hook ---------------------------------------------------------
 * Lower layers report events through a vq_tracer the machine owns. Calls are
 * cheap when tracing is off (one branch on t->on). The machine formats one
 * readable line per event, stamped with its virtual clock.
 */
enum vq_ev {
	VQ_EV_REG,        /* register access */
	VQ_EV_NOTIFY,     /* driver -> device notification */
	VQ_EV_CHAIN,      /* chain popped */
	VQ_EV_USED,       /* used element pushed / published */
	VQ_EV_IRQ,        /* interrupt raised / lowered */
	VQ_EV_STATUS,     /* device status change */
	VQ_EV_FEATURES,   /* feature negotiation */
	VQ_EV_CONFIG,     /* config space access / change */
	VQ_EV_ERROR,      /* a rule was broken */
	VQ_EV_FAULT,      /* an injected fault fired */
	VQ_EV_DEVICE,     /* device-specific event */
	VQ_EV_MACHINE,    /* machine-level event (step, schedule) */
	VQ_EV__COUNT
};

struct vq_trace_arg;

struct vq_tracer {
	bool on;
	void (*emit)(void *ctx, enum vq_ev kind, const char *who, int queue,
		     const char *text);
	void *ctx;
	/* kind-specific fields of the event being emitted (trace.h's
	 * vq_trace_args() sets them for the emit call only), else NULL/0 */
	const struct vq_trace_arg *args;
	unsigned nargs;
};

/* vq_trace() with a va_list (for wrappers that add structured fields). */
void vq_tracev(struct vq_tracer *t, enum vq_ev kind, const char *who, int queue,
	       const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* Name of a trace event kind ("notify", "chain", ...). */
const char *vq_ev_name(enum vq_ev kind);

/* Emit one trace event if t is non-NULL and on; who names the object
 * (a device name or "mem"), queue is -1 when not about a queue. */
void vq_trace(struct vq_tracer *t, enum vq_ev kind, const char *who, int queue,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- seeded PRNG (xoshiro256**, seeded through splitmix64) ------------- */
struct vq_prng {
	uint64_t s[4];
};

/* Seed the generator; the same seed gives the same sequence everywhere. */
void vq_prng_seed(struct vq_prng *p, uint64_t seed);
/* Next 64 random bits. */
uint64_t vq_prng_next(struct vq_prng *p);
/* Fill len bytes at dst with random bytes. */
void vq_prng_fill(struct vq_prng *p, void *dst, size_t len);

/* ---- little-endian and single-copy-atomic accessors on host pointers --- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VQ_LE16(x) (x)
#define VQ_LE32(x) (x)
#define VQ_LE64(x) (x)
#else
#define VQ_LE16(x) __builtin_bswap16(x)
#define VQ_LE32(x) __builtin_bswap32(x)
#define VQ_LE64(x) __builtin_bswap64(x)
#endif

/* Little-endian fields at any alignment in a byte buffer (config space,
 * request headers, control messages, file formats). */
static inline uint16_t vq_get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return VQ_LE16(v);
}
static inline uint32_t vq_get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return VQ_LE32(v);
}
static inline uint64_t vq_get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return VQ_LE64(v);
}
static inline void vq_put_le16(void *p, uint16_t v)
{
	v = VQ_LE16(v);
	memcpy(p, &v, 2);
}
static inline void vq_put_le32(void *p, uint32_t v)
{
	v = VQ_LE32(v);
	memcpy(p, &v, 4);
}
static inline void vq_put_le64(void *p, uint64_t v)
{
	v = VQ_LE64(v);
	memcpy(p, &v, 8);
}

/* 16-bit ring index/flags: one atomic access, acquire on load. */
static inline uint16_t vq_load16_acquire(const void *p)
{
	return VQ_LE16(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}
/* 16-bit ring index/flags: one atomic access, release on store. */
static inline void vq_store16_release(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, VQ_LE16(v), __ATOMIC_RELEASE);
}
/* 16-bit field read once, no ordering beyond single-copy atomicity. */
static inline uint16_t vq_load16_relaxed(const void *p)
{
	return VQ_LE16(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}
static inline void vq_store16_relaxed(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, VQ_LE16(v), __ATOMIC_RELAXED);
}
/* Full barrier between a store and a later load (event-idx checks). */
static inline void vq_mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif
