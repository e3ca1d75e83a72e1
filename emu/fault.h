/* fault.h - the fault-injection registry: named fault points with triggers.
 *
 * A fault is (point, trigger, action, max). Code at a fault point asks
 * vq_fault_check() whether a fault fires for this hit; the answer is the
 * fault (the caller then carries out its action) or NULL. Every fault that
 * fires is one VQ_EV_FAULT trace event naming the fault, the point, the
 * trigger and what happened.
 *
 * Layering: this module uses only base.h and mem.h, so every layer above
 * mem may use it. The machine owns the one registry of a machine
 * (vq_machine_faults()) and hands it down: struct vq_dev.faults is set by
 * the machine when a device is added, so devices and their backends reach
 * the registry through the device they already hold; guest memory reaches
 * it through the mem fault hook (vq_mem_set_fault_hook) the registry
 * installs. Nothing below knows the machine.
 *
 * Cost when nothing is armed: vq_fault_check() is an inline test of one
 * per-point counter; guest memory keeps its inline fast path (mem faults go
 * through mem's existing fault ranges, which move mem to its slow path only
 * while one exists).
 *
 * Triggers. Filters decide whether a hit counts at all: gpa range (the
 * access or buffer overlaps [gpa0, gpa1)), sector range (the request
 * overlaps sectors [s0, s1)), time window (virtual clock in [t0, t1)),
 * device name. A hit that passes the filters is counted (hits), then fires
 * when: nth: on exactly the nth counted hit; every: on every k-th counted
 * hit (k = 1: every hit); prob: with probability p, drawn from the
 * machine's seeded PRNG (same seed, same faults); none of the three: every
 * counted hit. max limits how often it fires (0: no limit). Every fault of
 * a point counts every hit that passes its own filters; when several fire
 * on one hit, the lowest id (first armed) wins and the others only count
 * it. Memory points count per access (one translation), against the
 * ranges of the access that touch the fault's range.
 *
 * Memory corruption is done in place at the moment of the read (a bit flip
 * in RAM that this read and later ones see). Rings cached by the device
 * (descriptor table, avail, used) are translated once per memory
 * generation, so mem faults are meant for buffers, not ring areas.
 */
#ifndef VQSIM_FAULT_H
#define VQSIM_FAULT_H

#include "base.h"
#include "mem.h"

#define VQ_FAULT_MAX 64
#define VQ_FAULT_WHO_MAX 32

/* Where a fault can be injected. */
enum vq_fault_point {
	VQ_FP_MEM_READ,      /* "mem.read": a guest-memory read translation */
	VQ_FP_MEM_WRITE,     /* "mem.write": a guest-memory write translation */
	VQ_FP_BLK_READ,      /* "blk.read": a blk IN request, before the backend */
	VQ_FP_BLK_WRITE,     /* "blk.write": a blk OUT request */
	VQ_FP_BLK_FLUSH,     /* "blk.flush": a blk FLUSH (and writethrough syncs) */
	VQ_FP_BLK_DISCARD,   /* "blk.discard": DISCARD and WRITE_ZEROES ranges */
	VQ_FP_NET_TX,        /* "net.tx": a frame the guest sent, before the backend */
	VQ_FP_NET_RX,        /* "net.rx": a frame arriving for the guest */
	VQ_FP_CONSOLE_WRITE, /* "console.write": guest bytes going to the host side */
	VQ_FP_NOTIFY,        /* "notify": a driver notification reaching the machine */
	VQ_FP_IRQ,           /* "irq": a device raising its interrupt line */
	VQ_FP_DEV_POP,       /* "dev.pop": a device has just popped a chain */
	VQ_FP__COUNT
};

/* What a fault does; VQ_FA_DEFAULT picks the point's usual one. */
enum vq_fault_action {
	VQ_FA_DEFAULT,
	VQ_FA_FAIL,        /* mem: the access fails (-VQ_E_MEM_FAULT) */
	VQ_FA_CORRUPT,     /* mem.read: bytes corrupted; net: a byte of the frame */
	VQ_FA_IOERR,       /* blk: the backend fails, status IOERR */
	VQ_FA_SHORT,       /* blk.read/write: only arg bytes move, status IOERR */
	VQ_FA_DROP,        /* net frame, notify, irq: lost */
	VQ_FA_DUP,         /* net frame, notify, irq: delivered twice */
	VQ_FA_REORDER,     /* net frame: held back and delivered after the next */
	VQ_FA_DELAY,       /* notify, irq: delivered arg ns later */
	VQ_FA_SPURIOUS,    /* notify: the device's line pulses with nothing new */
	VQ_FA_HANGUP,      /* console.write: the host-side peer hangs up */
	VQ_FA_RESET,       /* dev.pop: the device is reset, the chain is lost */
	VQ_FA_CONFIG,      /* dev.pop: config change (generation + interrupt) */
	VQ_FA_NEEDS_RESET, /* dev.pop: DEVICE_NEEDS_RESET, the chain is lost */
	VQ_FA__COUNT
};

struct vq_fault_trigger {
	uint64_t nth;              /* fire on the nth counted hit (1-based); 0: unused */
	uint64_t every;            /* fire on every k-th counted hit; 0: unused */
	double prob;               /* 0 < prob <= 1: fire with this probability; 0: unused */
	bool has_gpa, has_sector, has_time;
	uint64_t gpa0, gpa1;       /* [gpa0, gpa1) */
	uint64_t sector0, sector1; /* [sector0, sector1) */
	uint64_t t0, t1;           /* [t0, t1) in virtual ns */
	char who[VQ_FAULT_WHO_MAX]; /* only hits from this device ("": any) */
};

struct vq_fault_spec {
	enum vq_fault_point point;
	enum vq_fault_action action;
	struct vq_fault_trigger trig;
	uint64_t max;              /* fire at most max times; 0: no limit */
	uint64_t arg;              /* delay: ns; short: bytes moved; corrupt (net): offset */
	uint8_t xor_mask;          /* corrupt: xor each byte with this (0: 0xff) ... */
	bool use_fill;             /* ... unless use_fill: set each byte to fill */
	uint8_t fill;
};

/* One armed fault (read-only outside fault.c). */
struct vq_fault {
	struct vq_fault_spec spec;
	int id;
	int mem_id;                /* mem points: the mem fault range behind it */
	uint64_t hits;             /* hits that passed the filters */
	uint64_t fired;            /* times it fired */
};

/* What a fault point knows about the hit. */
struct vq_fault_ctx {
	const char *who;           /* device name ("mem" for memory); may be NULL */
	int queue;                 /* -1 when not about a queue */
	bool has_gpa, has_sector;
	uint64_t gpa, len;         /* guest range [gpa, gpa+len) */
	uint64_t sector, nsectors; /* sectors [sector, sector+nsectors) */
};

struct vq_faults {
	unsigned armed[VQ_FP__COUNT]; /* faults armed per point: the fast check */
	unsigned count;
	struct vq_fault *slot[VQ_FAULT_MAX]; /* by id; NULL when free */
	struct vq_mem *mem;
	struct vq_prng *prng;
	struct vq_tracer *tracer;
	const uint64_t *now;       /* the virtual clock */
	uint64_t fired_total;
};

/* Create a registry over mem (installs mem's fault hook), drawing from
 * prng, tracing to tracer (may be NULL), reading the clock at *now. NULL
 * when out of memory. */
struct vq_faults *vq_faults_new(struct vq_mem *mem, struct vq_prng *prng,
				struct vq_tracer *tracer, const uint64_t *now);
/* Remove every fault (and its mem range), uninstall the hook, free f. NULL is fine. */
void vq_faults_free(struct vq_faults *f);

/* Arm a fault. Returns its id (>= 0), or -VQ_E_INVAL (action not valid at
 * that point, prob outside (0, 1], nth with every, an empty range, a gpa
 * filter on a point other than mem.*, a sector filter on a point without
 * sectors) or -VQ_E_NOSPC (VQ_FAULT_MAX armed, or mem's fault ranges
 * full). */
int vq_fault_add(struct vq_faults *f, const struct vq_fault_spec *spec);
/* Disarm fault id. 0 or -VQ_E_INVAL (no such fault). */
int vq_fault_remove(struct vq_faults *f, int id);
/* Disarm every fault. */
void vq_fault_clear(struct vq_faults *f);
/* Fault id, or NULL. */
const struct vq_fault *vq_fault_get(const struct vq_faults *f, int id);
/* Counted hits of fault id, or -VQ_E_INVAL. */
int64_t vq_fault_hits(const struct vq_faults *f, int id);

/* Names: "blk.read", "ioerr", ...; NULL when out of range. The parsers
 * return the value or -1 for an unknown name. */
const char *vq_fault_point_name(enum vq_fault_point p);
const char *vq_fault_action_name(enum vq_fault_action a);
int vq_fault_point_parse(const char *name);
int vq_fault_action_parse(const char *name);
/* Do hits at p carry sectors (so a sector filter applies)? Only mem
 * points carry a gpa. */
bool vq_fault_point_has_sector(enum vq_fault_point p);
/* The action DEFAULT stands for at point p. */
enum vq_fault_action vq_fault_default_action(enum vq_fault_point p);

/* The slow path of vq_fault_check(). */
const struct vq_fault *vq_fault_check_slow(struct vq_faults *f, enum vq_fault_point p,
					   const struct vq_fault_ctx *c);

/* At a fault point: does a fault fire for this hit? Returns the fault
 * that fired (spec.action is never DEFAULT: it is resolved at add) and
 * traces it, or NULL. f may be NULL (device not on a machine). */
static inline const struct vq_fault *vq_fault_check(struct vq_faults *f, enum vq_fault_point p,
						    const struct vq_fault_ctx *c)
{
	if (__builtin_expect(!f || !f->armed[p], 1))
		return NULL;
	return vq_fault_check_slow(f, p, c);
}

/* Describe fl's trigger ("nth=3 sector=[0,100)") in buf; returns buf. */
const char *vq_fault_trigger_str(const struct vq_fault *fl, char *buf, size_t len);

/* Apply a corrupt action's byte change to len bytes at p. */
void vq_fault_corrupt(const struct vq_fault *fl, uint8_t *p, size_t len);

#endif
