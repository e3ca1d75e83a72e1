/* ring.h - virtqueue logic over guest memory, device side and driver side.
 *
 * Knows nothing of transports or devices. The device side pops descriptor
 * chains, fully validated, and pushes used elements; a device sees a chain
 * only as an array of segments (host pointer, length, direction). The driver
 * side (used by the reference driver and by tests) adds chains and reaps
 * used elements. The layout (split now, packed later) is dispatched inside:
 * callers of vq_ring_pop()/vq_ring_push()/vq_ring_publish() do not change
 * when the packed layout is added.
 *
 * Shared-memory rules (design.md): 16-bit indices and flags are single atomic
 * accesses (acquire loads, release stores); a descriptor is copied out once
 * before it is validated and used; used.len is written before used.idx.
 */
#ifndef VQSIM_RING_H
#define VQSIM_RING_H

#include "base.h"
#include "mem.h"
#include "virtio.h"

enum vq_ring_layout {
	VQ_RING_SPLIT = 0,
	VQ_RING_PACKED = 1  /* spec 2.8 (ring_packed.c) */
};

/* Negotiated ring features that change how the ring behaves. */
#define VQ_RING_F_EVENT_IDX  (1u << 0)
#define VQ_RING_F_INDIRECT   (1u << 1)
/* VIRTIO_F_IN_ORDER (spec 2.7.9): the device uses chains in the order they
 * were made available and may write one used element for a batch (the id
 * of its last chain, at the batch's first slot), advancing used idx by the
 * batch size. Device side: vq_ring_publish() writes each publish's pushes
 * as one such batch (the caller must push in pop order); driver side: a
 * used id completes every outstanding chain up to it, in order (the last
 * with the element's len, the others with len 0).
 * Packed (spec 2.8.8): the same, with one used descriptor per publish at
 * the batch's first slot, the slots of the batch's later chains left
 * unwritten; the driver gives each chain the id of its first slot, so a
 * used id says where the batch ends. */
#define VQ_RING_F_IN_ORDER   (1u << 2)

/* ---- chains: what a device sees --------------------------------------- */

/* One buffer of a chain, already translated and bounds-checked. */
struct vq_seg {
	void *host;       /* host pointer to the whole buffer */
	uint64_t gpa;     /* guest-physical address */
	uint32_t len;     /* bytes */
	bool writable;    /* device-writable (VIRTQ_DESC_F_WRITE) */
};

/* A popped chain: readable segments first (seg[0..nread)), then writable.
 * A zero-length descriptor counts towards the chain's length and order rules
 * but adds no segment (its address is never used, so it is not checked). */
struct vq_chain {
	uint16_t head;        /* id to return in the used element */
	uint16_t ndesc;       /* ring descriptors consumed (packed needs it) */
	uint32_t nseg;        /* segments */
	uint32_t nread;       /* readable segments (the first nread) */
	uint64_t read_bytes;  /* sum of readable lengths */
	uint64_t write_bytes; /* sum of writable lengths */
	struct vq_seg *seg;   /* nseg entries, owned by the chain */
	uint32_t cap;         /* allocated entries in seg */
	/* what the segments' host pointers were translated against, for a
	 * device that holds the chain past the call that popped it (stamped by
	 * vq_dev_pop(); see vq_chain_revalidate() and vq_dev_chain_check()) */
	uint32_t epoch;       /* the queue's epoch (vq_queue.epoch) */
	uint64_t mem_gen;     /* vq_mem_generation() (0: never stamped) */
};

/* Make c an empty chain with no storage. */
void vq_chain_init(struct vq_chain *c);
/* Free c's segment storage. */
void vq_chain_release(struct vq_chain *c);
/* Copy up to len bytes from the readable part of c, starting off bytes into
 * it, to dst. Returns bytes copied (less than len at the end of the data). */
size_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst, size_t len);
/* Copy up to len bytes of src into the writable part of c, starting off bytes
 * into it. Returns bytes copied (less than len when the chain is full). */
size_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src, size_t len);

/* Re-check a held chain against guest memory as it is now: when the memory
 * generation moved since c->mem_gen (a fault range, a region added or
 * removed), translate every segment again for its direction and update the
 * host pointers and c->mem_gen. 0, or the -VQ_E_MEM_* code of the first
 * segment that is no longer reachable (*bad = its index, bad may be NULL;
 * c must not be used then). Cheap when nothing moved: one compare. */
int vq_chain_revalidate(struct vq_mem *mem, struct vq_chain *c, uint32_t *bad);

/* Segment iterator: for (vq_chain_iter_init(&it, c); vq_chain_next(&it, &s);) */
struct vq_chain_iter {
	const struct vq_chain *c;
	uint32_t i;
};
static inline void vq_chain_iter_init(struct vq_chain_iter *it, const struct vq_chain *c)
{
	it->c = c;
	it->i = 0;
}
static inline bool vq_chain_next(struct vq_chain_iter *it, const struct vq_seg **s)
{
	if (it->i >= it->c->nseg)
		return false;
	*s = &it->c->seg[it->i++];
	return true;
}

/* ---- device side ------------------------------------------------------- */

/* Guest-physical placement of a queue (the three addresses of spec 2.6). */
struct vq_ring_addr {
	uint64_t desc;    /* descriptor table (packed: the ring) */
	uint64_t driver;  /* split: available ring; packed: driver event suppression */
	uint64_t device;  /* split: used ring; packed: device event suppression */
};

struct vq_ring {
	struct vq_mem *mem;
	enum vq_ring_layout layout;
	unsigned features;        /* VQ_RING_F_* */
	uint16_t num;             /* queue size */
	struct vq_ring_addr addr;
	/* cached host pointers to the ring areas, valid while mem_gen matches */
	struct virtq_desc *desc;
	uint8_t *avail;           /* flags, idx, ring[num], used_event */
	uint8_t *used;            /* flags, idx, ring[num], avail_event */
	uint64_t mem_gen;
	/* device-private state */
	uint16_t last_avail;      /* next avail slot to pop */
	uint16_t avail_shadow;    /* last avail idx read from the driver */
	uint16_t used_idx;        /* next used slot (not yet published) */
	uint16_t used_published;  /* used idx last stored to memory */
	uint16_t signalled_used;  /* used idx at the last interrupt decision */
	bool signalled_valid;
	bool notify_enabled;      /* device wants driver notifications */
	int error;                /* sticky: first error that broke the queue (negative) */
	char error_detail[112];   /* its values: "avail slot 3: head 9999, queue size 256" */
	uint32_t max_chain;       /* longest chain accepted: num (spec 2.7.5.3.1) */
	/* the smallest guest-physical range holding every ring area: a
	 * writable buffer outside it cannot overlap one (a quick test; one
	 * inside it is checked area by area) */
	uint64_t areas_gpa, areas_len;
	/* VIRTIO_F_ACCESS_PLATFORM: addresses are IOVAs translated through
	 * iommu (NULL: addresses are guest-physical). phys holds the ring
	 * areas' guest-physical addresses (= addr without an IOMMU); with an
	 * IOMMU every operation re-translates them (mem_gen stays 0) */
	struct vq_iommu *iommu;
	struct vq_ring_addr phys;
	/* packed layout only (ring_packed.c): last_avail and used_idx are
	 * ring slots there, these the rest of the state */
	bool avail_wrap;          /* wrap counter of last_avail (1 after init) */
	bool used_wrap;           /* wrap counter of used_idx (1 after init) */
	bool pub_pending;         /* a used descriptor waits for its flags */
	uint16_t pub_slot;        /* ... at this slot (the first one pushed) */
	uint16_t pub_flags;       /* ... with these flags, stored at publish */
	uint16_t inflight_desc;   /* ring descriptors popped and not yet used */
	uint16_t last_pop_id;     /* id of the last popped chain while unpop
				     may take it back, else VQ_RING_NO_POP */
	uint64_t id_busy[VIRTQ_MAX_SIZE / 64]; /* buffer ids in flight */
};

/* vq_ring.last_pop_id when no chain can be unpopped (no id is that high). */
#define VQ_RING_NO_POP 0xffffu

/* Validate a queue's placement and set r up to serve it: num a power of two
 * in [1, 32768], areas aligned (16/2/4) and wholly inside guest memory
 * (desc and avail readable, used writable by the device). Guest memory is
 * not touched. Returns 0 or -VQ_E_RING_LAYOUT (-VQ_E_INVAL for NULL mem or
 * addr, or a layout not implemented: packed for now); after a failure r is
 * broken. */
int vq_ring_init(struct vq_ring *r, struct vq_mem *mem, enum vq_ring_layout layout,
		 uint16_t num, const struct vq_ring_addr *addr, unsigned features);
/* vq_ring_init() for a device that negotiated VIRTIO_F_ACCESS_PLATFORM:
 * addr and every descriptor address are IOVAs translated through iommu
 * (NULL: same as vq_ring_init()). An IOVA that is unmapped, read-only for
 * a device write, or (for a ring area or an indirect table) not
 * contiguous in guest-physical space fails with -VQ_E_RING_IOMMU, the
 * detail naming the IOVA; a buffer whose IOVA range maps to several
 * guest-physical pieces becomes one segment per piece. */
struct vq_iommu;
int vq_ring_init_iommu(struct vq_ring *r, struct vq_mem *mem, struct vq_iommu *iommu,
		       enum vq_ring_layout layout, uint16_t num, const struct vq_ring_addr *addr,
		       unsigned features);
/* Forget all state (queue reset); r must be re-initialised before use: until
 * then every call returns -VQ_E_RING_BROKEN. */
void vq_ring_reset(struct vq_ring *r);

/* Pop the next available chain into c, fully validated (a device-writable
 * buffer over a ring area or the chain's own indirect table is
 * -VQ_E_RING_WRITE_RING: the device must never write a descriptor, spec
 * 2.7.5.1, nor the driver's or its own ring areas). Returns 1 when a
 * chain was popped, 0 when the ring is empty, or a negative VQ_E_RING_* /
 * -VQ_E_NOMEM. After a VQ_E_RING_* error the ring is broken: every later call
 * returns -VQ_E_RING_BROKEN until vq_ring_init() is called again (r->error
 * keeps the first error). -VQ_E_NOMEM (c's segment array could not grow; it
 * never grows past num entries) leaves the ring intact and the chain
 * available. On error c's contents are unspecified; c keeps its storage. */
int vq_ring_pop(struct vq_ring *r, struct vq_chain *c);
/* Put c back so that the next pop returns it again (device could not serve
 * it yet, e.g. no backend data). Only the last popped chain can be undone.
 * No-op on a broken ring, or when every popped chain was already pushed. */
void vq_ring_unpop(struct vq_ring *r, const struct vq_chain *c);
/* Queue a used element for c with written bytes written. Visible to the
 * driver only after vq_ring_publish(). 0, -VQ_E_RING_USED_LEN (written >
 * writable bytes: clamped, element still pushed), -VQ_E_INVAL (c->head out
 * of range, or no popped chain left to complete: refused, ring not broken),
 * -VQ_E_RING_RING_MEM or -VQ_E_RING_BROKEN. */
int vq_ring_push(struct vq_ring *r, const struct vq_chain *c, uint32_t written);
/* Publish pushed used elements (used.idx, release) and decide whether the
 * driver wants an interrupt (NO_INTERRUPT flag or used_event). Returns 1 to
 * interrupt, 0 not to (always 0 when nothing was pushed since the last
 * publish), or a negative error. With EVENT_IDX the first decision after
 * vq_ring_init() interrupts, having no earlier one to measure from. The used
 * ring writes are logged dirty here, when they become visible. */
int vq_ring_publish(struct vq_ring *r);
/* Publish the used elements pushed before the ring broke: their buffers
 * were really written, so the driver must be able to reap them. The ring
 * stays broken. Same result as vq_ring_publish() (on a ring that is not
 * broken it is vq_ring_publish()); -VQ_E_RING_BROKEN when the used ring
 * itself is unreachable or the ring was never set up. */
int vq_ring_publish_broken(struct vq_ring *r);
/* Ask the driver to notify (enable=true) or not (VIRTQ_USED_F_NO_NOTIFY or,
 * with EVENT_IDX, avail_event = the last avail idx read; disabling then
 * writes nothing, the driver kicking at most once past that index). On
 * enable returns 1 if chains arrived in the meantime (the caller should poll
 * again), else 0; negative on error. */
int vq_ring_set_notify(struct vq_ring *r, bool enable);
/* Number of chains the driver made available and the device has not popped
 * (reads avail idx). Negative on error (including an over-large jump). */
int vq_ring_pending(struct vq_ring *r);
/* Ring state as vhost-user carries it (SET/GET_VRING_BASE). split: the next
 * avail slot to pop; packed: that slot in bits 0-14 with the avail wrap
 * counter in bit 15 (get adds the used slot and wrap in bits 16-31).
 * get: 0 or -VQ_E_INVAL (layout without it). */
int vq_ring_get_base(const struct vq_ring *r, uint32_t *base);
/* Resume a ring another party ran: the next avail slot to pop is base; the
 * used index continues from the used idx found in memory. 0, or
 * -VQ_E_RING_BROKEN / -VQ_E_RING_RING_MEM / -VQ_E_INVAL. */
int vq_ring_set_base(struct vq_ring *r, uint32_t base);

/* Batches: one call for many chains (vhost fetches descriptors the same
 * way). Same validation, same error codes and the same guest bytes as the
 * equivalent sequence of single calls.
 *
 * Pop up to max chains into c[0..max) (each chain keeps its own segment
 * storage). Returns how many were popped (0 when the ring is empty or max is
 * 0), or an error. An error stops the batch at the chain that caused it:
 * when chains were popped before it, their count is returned (c[0..count)
 * are valid, fully validated chains) and the error is left for the next
 * call: after a VQ_E_RING_* error the ring is already broken (r->error holds
 * the code; the next call, like every push, returns -VQ_E_RING_BROKEN);
 * after -VQ_E_NOMEM the chain stays available and the next call retries it.
 * When the first chain fails, its error is returned as vq_ring_pop() would.
 * So a device loops while the result is > 0 and treats < 0 as vq_ring_pop's
 * errors. vq_ring_unpop() undoes only the last chain of a batch. */
int vq_ring_pop_batch(struct vq_ring *r, struct vq_chain *c, unsigned max);
/* Queue used elements for c[0..n), c[i] with written[i] bytes, in order;
 * visible after vq_ring_publish(). All or nothing: 0 (all pushed),
 * -VQ_E_RING_USED_LEN (all pushed, at least one written[i] clamped to its
 * chain's writable bytes), -VQ_E_INVAL (a head out of range, or n more than
 * the chains popped and not pushed: nothing pushed, ring not broken),
 * -VQ_E_RING_RING_MEM or -VQ_E_RING_BROKEN (nothing pushed). n = 0 is a
 * no-op returning 0, even on a broken ring. */
int vq_ring_push_batch(struct vq_ring *r, const struct vq_chain *c, const uint32_t *written,
		       unsigned n);

/* ---- driver side ------------------------------------------------------- */

/* One buffer the driver offers: guest-physical address and length. */
struct vq_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

struct vq_ring_drv {
	struct vq_mem *mem;
	enum vq_ring_layout layout;
	unsigned features;
	uint16_t num;
	struct vq_ring_addr addr;
	struct virtq_desc *desc;
	uint8_t *avail;
	uint8_t *used;
	uint16_t free_head;   /* first free descriptor (linked through next) */
	uint16_t num_free;
	uint16_t avail_idx;   /* next avail slot (shadow of avail.idx) */
	uint16_t kicked_idx;  /* avail idx at the last notification decision */
	uint16_t last_used;   /* next used slot to reap */
	uint16_t used_shadow; /* last used idx read (and validated) from the device */
	uint64_t *token;      /* per head: caller's token */
	uint16_t *chain_len;  /* per head: descriptors in the chain (0 = free) */
	uint64_t *indirect;   /* per head in flight: gpa of its indirect table, or 0 */
	uint16_t *next;       /* per descriptor: private copy of next (free list, chains) */
	/* VQ_RING_F_IN_ORDER: chains still to complete in the batch being
	 * reaped, and the used length its element gave (the last chain's) */
	uint16_t inorder_left;
	uint32_t inorder_len;
	/* packed layout only: avail_idx and last_used are ring slots there,
	 * free_head the first free buffer id (linked through next) */
	bool avail_wrap;      /* wrap counter of avail_idx (1 after init) */
	bool used_wrap;       /* wrap counter of last_used (1 after init) */
	bool pub_pending;     /* the first unpublished chain's head waits for flags */
	uint16_t pub_slot, pub_flags;
};

/* Lay out and zero a fresh queue at addr (the caller chose the addresses,
 * e.g. from vq_ring_size()), and allocate driver state. 0, -VQ_E_RING_LAYOUT,
 * -VQ_E_INVAL (packed, for now) or -VQ_E_NOMEM. The driver plays the guest
 * CPU: it maps the areas once, and fault ranges (which model what the device
 * cannot reach) do not affect it. */
int vq_ring_drv_init(struct vq_ring_drv *d, struct vq_mem *mem, enum vq_ring_layout layout,
		     uint16_t num, const struct vq_ring_addr *addr, unsigned features);
/* Free driver state (not guest memory). Safe after a failed init, twice. */
void vq_ring_drv_free(struct vq_ring_drv *d);
/* Add a chain of n buffers (all readable ones first) under token. Returns
 * the head index, -VQ_E_NOSPC when too few descriptors are free, or
 * -VQ_E_INVAL (n == 0, readable after writable). Not visible to the device
 * until vq_ring_drv_publish(). */
int vq_ring_drv_add(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n, uint64_t token);
/* Same, but the n buffers go into an indirect table the caller placed at
 * table_gpa (16*n bytes); one ring descriptor is used. -VQ_E_INVAL also when
 * INDIRECT was not negotiated, n > num or the table is not in guest memory. */
int vq_ring_drv_add_indirect(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n,
			     uint64_t table_gpa, uint64_t token);
/* Make added chains visible (avail.idx, release) and decide whether the
 * device wants a notification (NO_NOTIFY flag or avail_event). 1 = notify;
 * 0 also when nothing was added since the last publish. */
int vq_ring_drv_publish(struct vq_ring_drv *d);
/* Reap one used element: 1 with *token and *len set (either may be NULL), 0
 * when none, or -VQ_E_RING_USED_ID / -VQ_E_RING_USED_IDX when the device
 * broke the rules (the element stays unreaped, so the error repeats). */
int vq_ring_drv_get_used(struct vq_ring_drv *d, uint64_t *token, uint32_t *len);
/* One chain of a batch for vq_ring_drv_add_batch(): as vq_ring_drv_add(). */
struct vq_ring_req {
	const struct vq_buf *bufs;
	unsigned n;
	uint64_t token;
};
/* Add the chains reqs[0..n) in order, as vq_ring_drv_add() each. Returns how
 * many were added, from the front (0 for n = 0); the batch stops at the
 * first chain that cannot be added (-VQ_E_NOSPC, -VQ_E_INVAL): when that is
 * reqs[0] its error is returned instead, so a call that adds nothing always
 * says why, and a short count means the next call starting at reqs[count]
 * returns the reason. Not visible until vq_ring_drv_publish(). */
int vq_ring_drv_add_batch(struct vq_ring_drv *d, const struct vq_ring_req *reqs, unsigned n);
/* Reap up to max used elements: tokens[i] and lens[i] for the i-th (either
 * array may be NULL). Returns how many (0 when none or max is 0), or an
 * error as vq_ring_drv_get_used(): when elements were reaped before the bad
 * one, their count is returned and the bad element stays unreaped, so the
 * next call returns -VQ_E_RING_USED_ID / -VQ_E_RING_USED_IDX. */
int vq_ring_drv_get_used_batch(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens,
			       unsigned max);
/* Ask the device for interrupts (enable) or not (NO_INTERRUPT / used_event).
 * With EVENT_IDX flags stay 0: enable sets used_event to the next element to
 * reap, disable parks it just behind (passed again only after 65535 more).
 * On enable returns 1 if used elements arrived meanwhile, else 0. */
int vq_ring_drv_set_interrupts(struct vq_ring_drv *d, bool enable);

/* Has the device published a used element the driver has not reaped? 1
 * yes, 0 no (split: used idx moved; packed: the next slot to reap is
 * marked used), -VQ_E_INVAL for an unknown layout. Nothing is consumed. */
int vq_ring_drv_has_used(const struct vq_ring_drv *d);

/* Bytes of guest memory a queue of num needs, and its natural placement
 * starting at base: split = desc at base rounded up to 16, avail right after
 * it, used after avail rounded up to 4 (the 1.x alignment, not legacy's
 * page); *bytes counts from base. 0 or -VQ_E_INVAL. */
int vq_ring_size(enum vq_ring_layout layout, uint16_t num, uint64_t base,
		 struct vq_ring_addr *addr, uint64_t *bytes);

#endif
