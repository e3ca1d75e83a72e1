/* ring_internal.h - private to emu/ring*.c: the error funnel, the chain
 * walker pieces every layout shares, and the per-layout functions that the
 * public entry points in ring.c dispatch to.
 *
 * A layout's walker fetches each descriptor once into a local copy, checks
 * its layout-specific flags and hands the buffer to vq_walk_buf(), which owns
 * the rules common to split and packed: chain length, read-before-write
 * order, total bytes, translation and segment storage. Indirect tables are
 * checked and mapped by vq_walk_table().
 */
#ifndef VQSIM_RING_INTERNAL_H
#define VQSIM_RING_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "ring.h"

/* Internal to libvqsim: direct calls (no PLT) inside the shared library. */
#define VQ_HIDDEN __attribute__((visibility("hidden")))

#define VQ_LIKELY(x)   __builtin_expect(!!(x), 1)
#define VQ_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Spec 2.7.5: a chain may describe at most 2^32 bytes in total. */
#define VQ_CHAIN_MAX_BYTES (1ull << 32)

/* Every device-side ring error goes through here: the first one is kept in
 * r->error, which makes the public entry points return -VQ_E_RING_BROKEN
 * until vq_ring_init(). Takes the positive code, returns it negated. */
__attribute__((cold, unused)) static int vq_ring_fail(struct vq_ring *r, int code)
{
	if (!r->error)
		r->error = -code;
	return -code;
}

/* The same, recording what the guest wrote in r->error_detail so that the
 * message can name the values ("descriptor 7: next 300, queue size 256"). */
VQ_HIDDEN int vq_ring_failf(struct vq_ring *r, int code, const char *fmt, ...)
	__attribute__((cold, format(printf, 3, 4)));

/* ---- single-fetch and single-copy accessors ---------------------------- */

/* 32-bit field store in one access (used element id/len). */
static inline void vq_store32_relaxed(void *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, VQ_LE32(v), __ATOMIC_RELAXED);
}

static inline uint32_t vq_load32_relaxed(const void *p)
{
	return VQ_LE32(__atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED));
}

/* Copy a 16-byte descriptor out of guest memory exactly once, as two 64-bit
 * words. Aligned copies use atomic loads so the compiler can never re-read
 * the guest's copy; unaligned ones (an indirect table may sit anywhere) use
 * memcpy followed by a compiler barrier for the same effect. */
static inline void vq_fetch16(const void *p, uint64_t *w0, uint64_t *w1)
{
	if (VQ_LIKELY(((uintptr_t)p & 7) == 0)) {
		*w0 = VQ_LE64(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
		*w1 = VQ_LE64(__atomic_load_n((const uint64_t *)p + 1, __ATOMIC_RELAXED));
	} else {
		uint64_t w[2];
		memcpy(w, p, sizeof(w));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		*w0 = VQ_LE64(w[0]);
		*w1 = VQ_LE64(w[1]);
	}
}

/* ---- the shared walker ------------------------------------------------- */

struct vq_walk {
	uint32_t count;   /* buffer descriptors seen: direct + indirect entries */
	bool seen_write;  /* a writable descriptor was seen (even of length 0) */
	uint64_t table_gpa, table_len; /* the indirect table being walked (len 0: none) */
};

/* Does [a, a+alen) overlap [b, b+blen)? Both non-empty, neither wrapping. */
static inline bool vq_ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* The ring area or indirect table a writable buffer [gpa, gpa+len) would
 * overwrite: its name, with *at and *alen set; NULL when none. */
VQ_HIDDEN const char *vq_walk_write_target(const struct vq_ring *r, const struct vq_walk *w,
					   uint64_t gpa, uint64_t len, uint64_t *at,
					   uint64_t *alen);

/* Grow c->seg to hold at least one more entry, never beyond limit entries.
 * 0 or -VQ_E_NOMEM. Cold: a chain reuses its storage from pop to pop. */
VQ_HIDDEN int vq_chain_grow(struct vq_chain *c, uint32_t limit);

static inline void vq_walk_begin(struct vq_walk *w, struct vq_chain *c)
{
	w->count = 0;
	w->seen_write = false;
	w->table_len = 0;
	c->nseg = 0;
	c->nread = 0;
	c->read_bytes = 0;
	c->write_bytes = 0;
}

/* Append a translated buffer to c. 0 or -VQ_E_NOMEM. */
static inline int vq_chain_put(struct vq_ring *r, struct vq_chain *c, void *host, uint64_t gpa,
			       uint32_t len, bool writable)
{
	struct vq_seg *s;

	if (VQ_UNLIKELY(c->nseg == c->cap) && vq_chain_grow(c, r->max_chain) < 0)
		return -VQ_E_NOMEM;
	s = &c->seg[c->nseg++];
	s->host = host;
	s->gpa = gpa;
	s->len = len;
	s->writable = writable;
	if (writable) {
		c->write_bytes += len;
	} else {
		c->nread++;
		c->read_bytes += len;
	}
	return 0;
}

/* ---- one-segment chains: the pop fast paths of both layouts ----------- */

/* A one-segment chain filled with fewer stores: head and ndesc in one
 * 32-bit word, nseg and nread in one 64-bit word, and len stored to the
 * byte count of the buffer's direction (0 to the other) by index rather
 * than by a choice. The layout this relies on is checked below (the bytes
 * after nread are padding); a big-endian host gets the field stores. wr is
 * 0 or 1 throughout. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
_Static_assert(offsetof(struct vq_chain, head) == 0 && offsetof(struct vq_chain, ndesc) == 2 &&
		       offsetof(struct vq_chain, nseg) == 4 &&
		       offsetof(struct vq_chain, nread) == 8 &&
		       offsetof(struct vq_chain, read_bytes) == 16 &&
		       offsetof(struct vq_chain, write_bytes) == 24,
	       "chain_store_*'s word stores");
#define CHAIN_WORD_STORES 1
#else
#define CHAIN_WORD_STORES 0
#endif

/* head, ndesc = 1 */
static inline void chain_store_head(struct vq_chain *c, unsigned head)
{
	if (CHAIN_WORD_STORES) {
		uint32_t w0 = head | 1u << 16;
		memcpy(c, &w0, sizeof(w0));
	} else {
		c->head = (uint16_t)head;
		c->ndesc = 1;
	}
}

/* nseg = 1, nread, read_bytes, write_bytes of a one-segment chain of len
 * bytes, writable when wr (0 or 1) */
static inline void chain_store_counts(struct vq_chain *c, uint32_t len, uint64_t wr)
{
	uint64_t rd = wr ^ 1u;

	if (CHAIN_WORD_STORES) {
		uint64_t w = 1u | rd << 32;

		memcpy((uint8_t *)c + 4, &w, sizeof(w));
		/* len goes to the byte count of the buffer's direction */
		w = 0;
		memcpy((uint8_t *)c + 16 + 8 * rd, &w, sizeof(w));
		w = len;
		memcpy((uint8_t *)c + 16 + 8 * wr, &w, sizeof(w));
	} else {
		c->nseg = 1;
		c->nread = (uint32_t)rd;
		c->read_bytes = rd ? len : 0;
		c->write_bytes = wr ? len : 0;
	}
}

static inline void seg_store(struct vq_seg *s, void *host, uint64_t gpa, uint32_t len,
			     uint64_t wr)
{
	uint8_t b = (uint8_t)wr;   /* a bool's representation: 0 or 1 */

	s->gpa = gpa;
	s->host = host;
	s->len = len;
	memcpy(&s->writable, &b, 1);
}

static inline void chain_fill_one(struct vq_chain *c, unsigned head, void *host, uint64_t gpa,
				  uint32_t len, uint64_t wr)
{
	chain_store_head(c, head);
	seg_store(c->seg, host, gpa, len, wr);
	chain_store_counts(c, len, wr);
}

/* vq_walk_buf()'s continuation for a ring behind an IOMMU (r->iommu):
 * translate the IOVA range piece by piece, one segment per guest-physical
 * piece. Same results as vq_walk_buf()'s tail, plus VQ_E_RING_IOMMU. */
VQ_HIDDEN int vq_walk_buf_iommu(struct vq_ring *r, struct vq_walk *w, struct vq_chain *c,
				uint64_t iova, uint32_t len, bool writable);
/* Translate a ring area or indirect table [iova, iova+len) wholly through
 * r->iommu: 0 with *gpa, or the ring broken with VQ_E_RING_IOMMU naming
 * what (e.g. "used ring") and the first bad IOVA. */
VQ_HIDDEN int vq_ring_iommu_area(struct vq_ring *r, const char *what, uint64_t iova,
				 uint64_t len, unsigned access, uint64_t *gpa);
/* Re-translate r->addr into r->phys through r->iommu (desc and driver
 * readable, device writable; packed: the descriptor ring writable too) and
 * refresh the areas' envelope. 0 or a ring error (ring broken). */
VQ_HIDDEN int vq_ring_iommu_phys(struct vq_ring *r);

/* One buffer descriptor of the chain being walked, already copied out of
 * guest memory. Checks, in order: chain length (LOOP), readable after
 * writable (ORDER), total bytes (CHAIN_BYTES), translation for the buffer's
 * direction (DESC_MEM). A zero-length buffer counts for length and order but
 * is neither translated nor stored: it carries no bytes, so its address is
 * never used. Returns 0, a ring error (ring now broken) or -VQ_E_NOMEM (ring
 * intact: the pop can be retried). */
static inline int vq_walk_buf(struct vq_ring *r, struct vq_walk *w, struct vq_chain *c,
			      uint64_t gpa, uint32_t len, bool writable)
{
	void *host;

	if (VQ_UNLIKELY(++w->count > r->max_chain))
		return vq_ring_failf(r, VQ_E_RING_LOOP, "more than %u descriptors in one chain",
				     r->max_chain);
	if (writable)
		w->seen_write = true;
	else if (VQ_UNLIKELY(w->seen_write))
		return vq_ring_failf(r, VQ_E_RING_ORDER,
				     "readable buffer 0x%llx+%u after a writable one",
				     (unsigned long long)gpa, len);
	if (VQ_UNLIKELY(c->read_bytes + c->write_bytes + len > VQ_CHAIN_MAX_BYTES))
		return vq_ring_failf(r, VQ_E_RING_CHAIN_BYTES, "buffer 0x%llx+%u takes the chain past 4 GiB",
				     (unsigned long long)gpa, len);
	if (VQ_UNLIKELY(len == 0))
		return 0;
	if (VQ_UNLIKELY(r->iommu))
		return vq_walk_buf_iommu(r, w, c, gpa, len, writable);
	int err = 0;
	host = vq_mem_translate(r->mem, gpa, len, writable ? VQ_ACC_WRITE : VQ_ACC_READ, &err);
	if (VQ_UNLIKELY(!host))
		return vq_ring_failf(r, VQ_E_RING_DESC_MEM, "%s buffer 0x%llx+%u: %s",
				     writable ? "writable" : "readable", (unsigned long long)gpa,
				     len, vq_strerror(err));
	if (writable) {
		uint64_t at, alen;
		const char *what = vq_walk_write_target(r, w, gpa, len, &at, &alen);

		if (VQ_UNLIKELY(what))
			return vq_ring_failf(r, VQ_E_RING_WRITE_RING,
					     "writable buffer 0x%llx+%u overlaps the %s 0x%llx+%llu",
					     (unsigned long long)gpa, len, what,
					     (unsigned long long)at, (unsigned long long)alen);
	}
	return vq_chain_put(r, c, host, gpa, len, writable);
}

/* An indirect descriptor's table: length a non-zero multiple of 16
 * (INDIRECT_LEN), wholly readable guest memory (INDIRECT_MEM). Stores the
 * host pointer and the entry count, and notes the table in w so that no
 * writable buffer of the chain may overlap it. */
static inline int vq_walk_table(struct vq_ring *r, struct vq_walk *w, uint64_t gpa,
				uint32_t len, const uint8_t **table, uint32_t *n)
{
	int err = 0;

	if (VQ_UNLIKELY(len == 0 || len % 16))
		return vq_ring_failf(r, VQ_E_RING_INDIRECT_LEN, "indirect table 0x%llx has length %u",
				     (unsigned long long)gpa, len);
	if (VQ_UNLIKELY(r->iommu) &&
	    vq_ring_iommu_area(r, "indirect table", gpa, len, VQ_ACC_READ, &gpa) < 0)
		return -VQ_E_RING_IOMMU;
	*table = vq_mem_translate(r->mem, gpa, len, VQ_ACC_READ, &err);
	if (VQ_UNLIKELY(!*table))
		return vq_ring_failf(r, VQ_E_RING_INDIRECT_MEM, "indirect table 0x%llx+%u: %s",
				     (unsigned long long)gpa, len, vq_strerror(err));
	*n = len / 16;
	w->table_gpa = gpa;
	w->table_len = len;
	return 0;
}

/* ---- per-layout implementations (ring_split.c) ------------------------- */

VQ_HIDDEN int vq_ring_init_split(struct vq_ring *r);
VQ_HIDDEN int vq_ring_pop_split(struct vq_ring *r, struct vq_chain *c);
VQ_HIDDEN void vq_ring_unpop_split(struct vq_ring *r, const struct vq_chain *c);
VQ_HIDDEN int vq_ring_push_split(struct vq_ring *r, const struct vq_chain *c, uint32_t written);
VQ_HIDDEN int vq_ring_publish_split(struct vq_ring *r);
VQ_HIDDEN int vq_ring_set_notify_split(struct vq_ring *r, bool enable);
VQ_HIDDEN int vq_ring_pending_split(struct vq_ring *r);
VQ_HIDDEN int vq_ring_set_base_split(struct vq_ring *r, uint32_t base);
VQ_HIDDEN int vq_ring_pop_batch_split(struct vq_ring *r, struct vq_chain *c, unsigned max);
VQ_HIDDEN int vq_ring_push_batch_split(struct vq_ring *r, const struct vq_chain *c,
				       const uint32_t *written, unsigned n);

VQ_HIDDEN int vq_ring_drv_init_split(struct vq_ring_drv *d);
VQ_HIDDEN int vq_ring_drv_add_split(struct vq_ring_drv *d, const struct vq_buf *bufs,
				    unsigned n, uint64_t token);
VQ_HIDDEN int vq_ring_drv_add_indirect_split(struct vq_ring_drv *d, const struct vq_buf *bufs,
					     unsigned n, uint64_t table_gpa, uint64_t token);
VQ_HIDDEN int vq_ring_drv_publish_split(struct vq_ring_drv *d);
VQ_HIDDEN int vq_ring_drv_get_used_split(struct vq_ring_drv *d, uint64_t *token, uint32_t *len);
VQ_HIDDEN int vq_ring_drv_add_batch_split(struct vq_ring_drv *d, const struct vq_ring_req *reqs,
					  unsigned n);
VQ_HIDDEN int vq_ring_drv_get_used_batch_split(struct vq_ring_drv *d, uint64_t *tokens,
					       uint32_t *lens, unsigned max);
VQ_HIDDEN int vq_ring_drv_set_interrupts_split(struct vq_ring_drv *d, bool enable);

VQ_HIDDEN int vq_ring_size_split(uint16_t num, uint64_t base, struct vq_ring_addr *addr,
				 uint64_t *bytes);

/* ---- per-layout implementations (ring_packed.c) ------------------------ */

VQ_HIDDEN int vq_ring_init_packed(struct vq_ring *r);
VQ_HIDDEN int vq_ring_pop_packed(struct vq_ring *r, struct vq_chain *c);
VQ_HIDDEN void vq_ring_unpop_packed(struct vq_ring *r, const struct vq_chain *c);
VQ_HIDDEN int vq_ring_push_packed(struct vq_ring *r, const struct vq_chain *c, uint32_t written);
VQ_HIDDEN int vq_ring_publish_packed(struct vq_ring *r);
VQ_HIDDEN int vq_ring_set_notify_packed(struct vq_ring *r, bool enable);
VQ_HIDDEN int vq_ring_pending_packed(struct vq_ring *r);
VQ_HIDDEN int vq_ring_pop_batch_packed(struct vq_ring *r, struct vq_chain *c, unsigned max);
VQ_HIDDEN int vq_ring_push_batch_packed(struct vq_ring *r, const struct vq_chain *c,
					const uint32_t *written, unsigned n);
/* vhost-user ring base of a packed ring (SHARED_DECISIONS.md): get gives
 * last_avail | avail_wrap << 15 | (used_idx | used_wrap << 15) << 16; set
 * takes bits 0-15 (slot, wrap) for both cursors and forgets what was in
 * flight. 0, or -VQ_E_INVAL (NULL base, slot >= queue size). */
VQ_HIDDEN int vq_ring_get_base_packed(const struct vq_ring *r, uint32_t *base);
VQ_HIDDEN int vq_ring_set_base_packed(struct vq_ring *r, uint32_t base);

VQ_HIDDEN int vq_ring_drv_init_packed(struct vq_ring_drv *d);
VQ_HIDDEN int vq_ring_drv_add_packed(struct vq_ring_drv *d, const struct vq_buf *bufs,
				     unsigned n, uint64_t token);
VQ_HIDDEN int vq_ring_drv_add_indirect_packed(struct vq_ring_drv *d, const struct vq_buf *bufs,
					      unsigned n, uint64_t table_gpa, uint64_t token);
VQ_HIDDEN int vq_ring_drv_publish_packed(struct vq_ring_drv *d);
VQ_HIDDEN int vq_ring_drv_get_used_packed(struct vq_ring_drv *d, uint64_t *token, uint32_t *len);
VQ_HIDDEN int vq_ring_drv_add_batch_packed(struct vq_ring_drv *d, const struct vq_ring_req *reqs,
					   unsigned n);
VQ_HIDDEN int vq_ring_drv_get_used_batch_packed(struct vq_ring_drv *d, uint64_t *tokens,
						uint32_t *lens, unsigned max);
VQ_HIDDEN int vq_ring_drv_set_interrupts_packed(struct vq_ring_drv *d, bool enable);

VQ_HIDDEN int vq_ring_size_packed(uint16_t num, uint64_t base, struct vq_ring_addr *addr,
				  uint64_t *bytes);

/* Queue size and area checks shared by device and driver init: num a power
 * of two in [1, 32768]. */
static inline bool vq_ring_num_ok(uint16_t num)
{
	return num != 0 && (num & (num - 1)) == 0 && num <= VIRTQ_MAX_SIZE;
}

#endif
