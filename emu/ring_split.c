/* ring_split.c - the split virtqueue (virtio 1.2, section 2.7), device side
 * and driver side.
 *
 * Areas (all little-endian): the descriptor table (16 bytes an entry), the
 * available ring (flags, idx, ring[num], used_event) written by the driver,
 * and the used ring (flags, idx, ring[num] of {id, len}, avail_event) written
 * by the device. Each side keeps host pointers to the areas; the device side
 * re-translates them whenever the memory generation moves.
 */
#include "ring_internal.h"

/* Offsets of the 16-bit header fields of the avail and used areas. */
#define RING_FLAGS 0
#define RING_IDX   2

static inline uint8_t *avail_entry(uint8_t *avail, uint16_t slot)
{
	return avail + 4 + 2u * slot;
}

static inline uint8_t *used_event_field(uint8_t *avail, uint16_t num)
{
	return avail + 4 + 2u * num;
}

static inline uint8_t *used_elem(uint8_t *used, uint16_t slot)
{
	return used + 4 + 8u * slot;
}

static inline uint8_t *avail_event_field(uint8_t *used, uint16_t num)
{
	return used + 4 + 8u * (uint32_t)num;
}

/* One descriptor, as copied out of guest memory (never re-read). */
struct desc_split {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static inline void desc_fetch(const void *p, struct desc_split *d)
{
	uint64_t w0, w1;

	vq_fetch16(p, &w0, &w1);
	d->addr = w0;
	d->len = (uint32_t)w1;
	d->flags = (uint16_t)(w1 >> 32);
	d->next = (uint16_t)(w1 >> 48);
}

/* A descriptor of the ring's own table (16-byte aligned by layout_ok()):
 * two aligned 64-bit loads. */
static inline void desc_fetch_ring(const struct virtq_desc *p, struct desc_split *d)
{
	uint64_t w1;

	d->addr = VQ_LE64(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
	w1 = VQ_LE64(__atomic_load_n((const uint64_t *)p + 1, __ATOMIC_RELAXED));
	d->len = (uint32_t)w1;
	d->flags = (uint16_t)(w1 >> 32);
	d->next = (uint16_t)(w1 >> 48);
}

/* The driver's store into its own table: two aligned 64-bit stores. */
static inline void desc_store_ring(struct virtq_desc *p, uint64_t addr, uint32_t len,
				   uint16_t flags, uint16_t next)
{
	__atomic_store_n((uint64_t *)p, VQ_LE64(addr), __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)p + 1,
			 VQ_LE64((uint64_t)len | (uint64_t)flags << 32 | (uint64_t)next << 48),
			 __ATOMIC_RELAXED);
}

static inline void desc_store(void *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t w[2] = {
		VQ_LE64(addr),
		VQ_LE64((uint64_t)len | (uint64_t)flags << 32 | (uint64_t)next << 48),
	};

	memcpy(p, w, sizeof(w));
}

/* Queue size and area alignment (spec 2.7: 16, 2 and 4 bytes). */
static bool layout_ok(uint16_t num, const struct vq_ring_addr *a)
{
	return vq_ring_num_ok(num) && a->desc % VIRTQ_DESC_ALIGN == 0 &&
	       a->driver % VIRTQ_AVAIL_ALIGN == 0 && a->device % VIRTQ_USED_ALIGN == 0;
}

/* Translate the three areas wholly, each for its own access; the outputs are
 * only written when all three succeed. 0 or -1. */
static int map_areas(struct vq_mem *mem, uint16_t num, const struct vq_ring_addr *a,
		     unsigned desc_acc, unsigned avail_acc, unsigned used_acc,
		     struct virtq_desc **desc, uint8_t **avail, uint8_t **used)
{
	void *d = vq_mem_translate(mem, a->desc, VIRTQ_DESC_SIZE(num), desc_acc, NULL);
	void *av = vq_mem_translate(mem, a->driver, VIRTQ_AVAIL_SIZE(num), avail_acc, NULL);
	void *u = vq_mem_translate(mem, a->device, VIRTQ_USED_SIZE(num), used_acc, NULL);

	if (!d || !av || !u)
		return -1;
	*desc = d;
	*avail = av;
	*used = u;
	return 0;
}

/* ==== device side ======================================================= */

/* The device reads descriptors and the avail ring and writes the used ring.
 * Cold and out of line: it runs only when the memory generation moves. */
__attribute__((cold, noinline)) static int remap_split(struct vq_ring *r)
{
	uint64_t gen = vq_mem_generation(r->mem);

	/* behind an IOMMU the areas are translated again at every operation
	 * (mem_gen stays 0, so mem_ok() never holds): a mapping changed
	 * since is seen at once */
	if (r->iommu && vq_ring_iommu_phys(r) < 0)
		return -1;
	if (map_areas(r->mem, r->num, &r->phys, VQ_ACC_READ, VQ_ACC_READ, VQ_ACC_WRITE,
		      &r->desc, &r->avail, &r->used) < 0)
		return -1;
	r->mem_gen = r->iommu ? 0 : gen;
	return 0;
}

/* Cached pointers are good while the memory generation has not moved; after
 * a change (a fault range over the ring, say) the areas must translate again
 * or the ring is broken. */
static inline bool mem_ok(const struct vq_ring *r)
{
	return VQ_LIKELY(vq_mem_generation(r->mem) == r->mem_gen);
}

/* The ring areas after a generation change: 0, or the ring is broken. */
__attribute__((cold, noinline)) static int remap_or_fail(struct vq_ring *r)
{
	if (remap_split(r) < 0)
		return r->error ? r->error : vq_ring_failf(r, VQ_E_RING_RING_MEM,
				     "desc 0x%llx, avail 0x%llx or used 0x%llx is no longer accessible",
				     (unsigned long long)r->addr.desc, (unsigned long long)r->addr.driver,
				     (unsigned long long)r->addr.device);
	return 0;
}

static inline int check_mem(struct vq_ring *r)
{
	return mem_ok(r) ? 0 : remap_or_fail(r);
}

int vq_ring_init_split(struct vq_ring *r)
{
	if (layout_ok(r->num, &r->addr) && remap_split(r) < 0 && r->error)
		return r->error;   /* the IOMMU refused an area */
	if (!layout_ok(r->num, &r->addr) || !r->desc)
		return vq_ring_failf(r, VQ_E_RING_LAYOUT, "size %u, desc 0x%llx, avail 0x%llx, used 0x%llx",
				     r->num, (unsigned long long)r->addr.desc,
				     (unsigned long long)r->addr.driver,
				     (unsigned long long)r->addr.device);
	return 0;
}

/* avail idx runs too far ahead: the ring breaks, the detail saying how. */
__attribute__((cold, noinline)) static int avail_too_far(struct vq_ring *r, uint16_t idx,
							  uint16_t n)
{
	if (n > r->num)
		return vq_ring_failf(r, VQ_E_RING_AVAIL_IDX,
				     "avail idx %u after %u: %u new chains, queue size %u", idx,
				     r->last_avail, n, r->num);
	return vq_ring_failf(r, VQ_E_RING_AVAIL_IDX,
			     "avail idx %u: %u chains not yet used (%u of them popped), "
			     "queue size %u", idx, (uint16_t)(idx - r->used_idx),
			     (uint16_t)(r->last_avail - r->used_idx), r->num);
}

/* Read avail idx (acquire: the ring entries and descriptors below it are
 * visible afterwards) and validate it before use. Returns the chains
 * available and not yet popped, or a ring error. */
static inline int avail_refresh(struct vq_ring *r)
{
	uint16_t idx = vq_load16_acquire(r->avail + RING_IDX);
	uint16_t n = (uint16_t)(idx - r->last_avail);

	/* at most num new chains, and, since a driver has num descriptors, at
	 * most num chains out that the device has not used (popped ones
	 * included), or the same descriptors would be in flight twice. The
	 * first test also catches an idx that moved backwards */
	if (VQ_UNLIKELY(n > r->num || (uint16_t)(idx - r->used_idx) > r->num))
		return avail_too_far(r, idx, n);
	r->avail_shadow = idx;
	return n;
}

/* The buffers of an indirect table. Every entry counts towards the chain
 * length checked in vq_walk_buf(), so a loop inside the table ends there. */
static int walk_indirect(struct vq_ring *r, struct vq_walk *w, struct vq_chain *c,
			 const struct desc_split *ind)
{
	const uint8_t *table;
	struct desc_split d;
	uint32_t n = 0, i = 0;
	int rc;

	if ((rc = vq_walk_table(r, w, ind->addr, ind->len, &table, &n)) < 0)
		return rc;
	for (;;) {
		desc_fetch(table + 16u * i, &d);
		if (VQ_UNLIKELY(d.flags & VIRTQ_DESC_F_INDIRECT))
			return vq_ring_failf(r, VQ_E_RING_INDIRECT_NESTED,
					     "indirect table 0x%llx, entry %u",
					     (unsigned long long)ind->addr, i);
		rc = vq_walk_buf(r, w, c, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE);
		if (VQ_UNLIKELY(rc < 0))
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (VQ_UNLIKELY(d.next >= n))
			return vq_ring_failf(r, VQ_E_RING_NEXT,
					     "indirect table 0x%llx, entry %u: next %u, table size %u",
					     (unsigned long long)ind->addr, i, d.next, n);
		i = d.next;
	}
}

/* Walk the chain whose head descriptor d (already copied out) is at head
 * into c. Every iteration either stores a buffer, which vq_walk_buf() counts
 * against max_chain, or ends the walk (an indirect descriptor has no NEXT),
 * so the loop is bounded by the queue size whatever the guest wrote. */
static int walk_split(struct vq_ring *r, struct vq_chain *c, uint16_t head,
						  struct desc_split d)
{
	struct vq_walk w;
	uint16_t i = head, ndesc = 0;
	int rc;

	vq_walk_begin(&w, c);
	for (;;) {
		ndesc++;
		if (VQ_UNLIKELY(d.flags & VIRTQ_DESC_F_INDIRECT)) {
			/* the WRITE flag of a table descriptor means nothing (2.7.5.3.2) */
			if (!(r->features & VQ_RING_F_INDIRECT))
				return vq_ring_failf(r, VQ_E_RING_INDIRECT_FEATURE,
						     "descriptor %u of chain %u", i, head);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return vq_ring_failf(r, VQ_E_RING_INDIRECT_NEXT,
						     "descriptor %u of chain %u: flags 0x%x", i,
						     head, d.flags);
			if ((rc = walk_indirect(r, &w, c, &d)) < 0)
				return rc;
			break;
		}
		rc = vq_walk_buf(r, &w, c, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE);
		if (VQ_UNLIKELY(rc < 0))
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (VQ_UNLIKELY(d.next >= r->num))
			return vq_ring_failf(r, VQ_E_RING_NEXT, "descriptor %u: next %u, queue size %u",
					     i, d.next, r->num);
		i = d.next;
		desc_fetch(&r->desc[i], &d);
	}
	c->head = head;
	c->ndesc = ndesc;
	return 0;
}

/* The head of the next available chain: 1 with *head set (in range), 0
 * when the ring is empty, or a ring error. avail idx is read once per batch,
 * when the shadow copy is used up. */
static inline int avail_next(struct vq_ring *r, uint16_t *head)
{
	uint16_t last = r->last_avail;

	if (last == r->avail_shadow) {
		int n = avail_refresh(r);
		if (n <= 0)
			return n;
	}
	*head = vq_load16_relaxed(avail_entry(r->avail, last & (r->num - 1)));
	if (VQ_UNLIKELY(*head >= r->num))
		return vq_ring_failf(r, VQ_E_RING_HEAD, "avail slot %u: head %u, queue size %u",
				     last & (r->num - 1u), *head, r->num);
	return 1;
}

/* pop's slow continuation, for every chain but the commonest: d is the head
 * descriptor, already copied out. */
__attribute__((noinline)) static int pop_walk(struct vq_ring *r, struct vq_chain *c, uint16_t head,
					      struct desc_split d)
{
	int rc = walk_split(r, c, head, d);

	if (VQ_UNLIKELY(rc < 0))
		return rc;
	r->last_avail++;
	return 1;
}

/* pop after the memory generation moved: remap, then the general case. */
__attribute__((cold, noinline)) static int pop_remap(struct vq_ring *r, struct vq_chain *c)
{
	struct desc_split d;
	uint16_t head;
	int rc;

	if ((rc = check_mem(r)) < 0 || (rc = avail_next(r, &head)) <= 0)
		return rc;
	desc_fetch_ring(&r->desc[head], &d);
	return pop_walk(r, c, head, d);
}

/* The commonest chain, one plain non-empty descriptor whose buffer lies in
 * the region of the previous translation, passes every length, order and
 * byte-count rule by construction and fills c with straight stores: true.
 * Anything else (a longer or indirect chain, a translation off the inline
 * hit path, a chain with no segment storage yet, a buffer near the ring
 * areas) is left to the general case: false, c untouched. */
static inline bool pop_one_desc(struct vq_ring *r, struct vq_chain *c, uint16_t head,
				const struct desc_split *d)
{
	uint32_t len = d->len;
	void *host;

	if (VQ_UNLIKELY((d->flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)) || len == 0 ||
			c->cap == 0 || !vq_mem_translate_hit(r->mem, d->addr, len, &host)))
		return false;
	/* a buffer inside the envelope of the ring areas: the general case
	 * checks it area by area (no wrap: the translation succeeded) */
	if (VQ_UNLIKELY(d->addr + len - 1 - r->areas_gpa < r->areas_len + len - 1))
		return false;
	chain_fill_one(c, head, host, d->addr, len, !!(d->flags & VIRTQ_DESC_F_WRITE));
	return true;
}

/* The fast path is a leaf: everything but pop_one_desc()'s chain, and a
 * memory generation change, goes to the general case by a tail call. */
int vq_ring_pop_split(struct vq_ring *r, struct vq_chain *c)
{
	struct desc_split d;
	uint16_t head;
	int rc;

	if (!mem_ok(r))
		return pop_remap(r, c);
	if ((rc = avail_next(r, &head)) <= 0)
		return rc;
	desc_fetch_ring(&r->desc[head], &d);
	if (VQ_UNLIKELY(!pop_one_desc(r, c, head, &d)))
		return pop_walk(r, c, head, d);
	r->last_avail++;
	return 1;
}

/* pop_one_desc() chains from avail slot r->last_avail on, at most n of
 * them, into c[0..n). Returns how many; when fewer than n, the next head
 * (*head) was read and is in range, and its descriptor (*d, copied once)
 * needs the general case. -1 for a head out of range (nothing is failed
 * yet: the caller does). Only locals live in the loop: it calls nothing.
 * The translations run against a copy of the memory's hit region taken
 * here (nothing can change guest memory during the call) and are counted
 * once at the end. Out of line, so that its loop has the registers. */
/* What pop_stretch() works against: read once, on entry. */
struct pop_ctx {
	const struct virtq_desc *desc;
	uint64_t sgpa, ssize;   /* the span: copy of the memory's hit region */
	uint64_t agpa, alen;    /* the ring areas' envelope (vq_ring.areas_*) */
	uint8_t *shost;
	unsigned mask;
};

/* pop_stretch()'s report on the chain that stopped it, kept in that chain
 * (which the general case rewrites, or which stays unused after an error),
 * so that the loop needs no pointer for it: ndesc 0 for a head out of
 * range (in head), else ndesc 1 and the descriptor, as copied once, in
 * read_bytes (addr) and write_bytes (len, flags, next). */
static inline void pop_stopped(const struct vq_chain *ck, uint16_t *head, struct desc_split *d)
{
	*head = ck->head;
	d->addr = ck->read_bytes;
	d->len = (uint32_t)ck->write_bytes;
	d->flags = (uint16_t)(ck->write_bytes >> 32);
	d->next = (uint16_t)(ck->write_bytes >> 48);
}

/* pop_run()'s loop over one stretch of the avail ring (ap on) into
 * ck..cend, which it returns when done; it returns the chain that stopped
 * it otherwise (see pop_stopped()). A function of its own, with nothing
 * live but the stretch, so that GCC keeps the span in registers. */
__attribute__((noinline, hot)) static struct vq_chain *
pop_stretch(struct pop_ctx *x, const uint8_t *ap, struct vq_chain *ck, struct vq_chain *const cend)
{
	const struct virtq_desc *const desc = x->desc;
	const uint64_t sgpa = x->sgpa, ssize = x->ssize;
	uint8_t *const shost = x->shost;
	/* num is a power of two, so h >= num is h > mask */
	const unsigned mask = x->mask;

	for (; ck != cend; ap += 2, ck++) {
		const uint64_t *dp;
		uint64_t addr, w1, off, lastb, wr, rd, w;
		struct vq_seg *seg;
		unsigned h;
		uint32_t len;

		h = vq_load16_relaxed(ap);
		if (VQ_UNLIKELY(h > mask)) {
			ck->head = (uint16_t)h; /* for the error message */
			ck->ndesc = 0;
			break;
		}
		/* the fill goes in the order that frees registers soonest; a
		 * chain that then turns out to need the general case is
		 * rewritten by it (head, ndesc and nseg stored first, so h is
		 * not kept) */
		dp = (const uint64_t *)&desc[h];
		if (CHAIN_WORD_STORES) {
			/* head, ndesc = 1 and nseg = 1 in one store */
			w = h | 1u << 16 | 1ull << 32;
			memcpy(ck, &w, sizeof(w));
		} else {
			chain_store_head(ck, h);
		}
		addr = VQ_LE64(__atomic_load_n(dp, __ATOMIC_RELAXED));
		w1 = VQ_LE64(__atomic_load_n(dp + 1, __ATOMIC_RELAXED));
		len = (uint32_t)w1;
		seg = ck->seg;
		off = addr - sgpa;
		/* one plain descriptor, storage ready (seg is NULL exactly
		 * while cap is 0) and its buffer non-empty and in the hit
		 * region: vq_mem_span_hit() with the zero test. lastb, the
		 * offset of the buffer's last byte, wraps below off exactly
		 * when len is 0 or the buffer runs past 2^64 (off 0 with len 0
		 * gives 2^64 - 1, past any size); below size, it puts off
		 * there too */
		lastb = off + len - 1;
		/* one branch a test: GCC would otherwise combine them with
		 * setcc and spend registers on it (the empty asm statements
		 * keep them apart) */
		if (VQ_UNLIKELY(w1 & (uint64_t)(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT) << 32))
			goto general;
		__asm__("");
		if (VQ_UNLIKELY(!seg))
			goto general;
		__asm__("");
		if (VQ_UNLIKELY(lastb >= ssize))
			goto general;
		if (VQ_UNLIKELY(lastb < off))
			goto general;
		/* near the ring areas: the general case checks a writable
		 * buffer area by area (no wrap here: the span test passed) */
		if (VQ_UNLIKELY(addr + len - 1 - x->agpa < x->alen + len - 1))
			goto general;
		wr = (w1 >> (32 + 1)) & 1u; /* VIRTQ_DESC_F_WRITE */
		rd = wr ^ 1u;
		seg_store(seg, shost + off, addr, len, wr);
		if (CHAIN_WORD_STORES) {
			/* nread (and the padding after it), then len to the
			 * byte count of the buffer's direction, 0 to the
			 * other */
			memcpy((uint8_t *)ck + 8, &rd, sizeof(rd));
			w = 0;
			memcpy((uint8_t *)ck + 16 + 8 * rd, &w, sizeof(w));
			w = len;
			memcpy((uint8_t *)ck + 16 + 8 * wr, &w, sizeof(w));
		} else {
			chain_store_counts(ck, len, wr);
		}
		continue;
general:
		ck->read_bytes = addr;
		ck->write_bytes = w1;
		break;
	}
	return ck;
}

/* pop_one_desc() chains from avail slot r->last_avail on, at most n of
 * them, into c[0..n). Returns how many; when fewer than n, the next head
 * (*head) was read and is in range, and its descriptor (*d, copied once)
 * needs the general case; *bad_head is set when that head is out of range
 * instead (nothing is failed yet: the caller does, after counting the
 * chains popped before it). The translations run against a copy of the
 * memory's hit region taken here (nothing can change guest memory during
 * the call) and are counted once at the end. */
static unsigned pop_run(struct vq_ring *r, struct vq_chain *c, unsigned n, uint16_t *head,
			struct desc_split *d, bool *bad_head)
{
	struct vq_mem_span span;
	struct pop_ctx x;
	const uint8_t *ring = r->avail + 4;
	unsigned last = r->last_avail, mask = r->num - 1u, i = last, cnt, got;
	struct vq_chain *ck = c, *cend;

	*bad_head = false;
	vq_mem_span_load(r->mem, &span);
	x.desc = r->desc;
	x.sgpa = span.gpa;
	x.ssize = r->iommu ? 0 : span.size;   /* IOVAs: the general case */
	x.shost = span.host;
	x.agpa = r->areas_gpa;
	x.alen = r->areas_len;
	x.mask = mask;
	/* the run in at most two stretches of the avail ring, split where it
	 * wraps: no index arithmetic in the loop */
	for (; n; n -= cnt, i += cnt) {
		cnt = mask + 1 - (i & mask);
		if (cnt > n)
			cnt = n;
		cend = ck + cnt;
		if ((ck = pop_stretch(&x, ring + 2 * (i & mask), ck, cend)) != cend) {
			pop_stopped(ck, head, d);
			*bad_head = ck->ndesc == 0;
			break;
		}
	}
	got = (unsigned)(ck - c);
	vq_mem_count_hits(r->mem, got);
	r->last_avail = (uint16_t)(last + got);
	return got;
}

_Static_assert(VIRTQ_DESC_F_WRITE == 2, "pop_stretch's shift");

/* The same, max times over. avail idx is read (acquire) only when the
 * chains of the last read are used up, as in single pops, and then bounds
 * the run. An error after the first chain returns the count so far (the
 * ring is broken already, or, for -VQ_E_NOMEM, the chain stays available). */
int vq_ring_pop_batch_split(struct vq_ring *r, struct vq_chain *c, unsigned max)
{
	struct desc_split d;
	unsigned k = 0, n, got;
	uint16_t head = 0;
	bool bad_head;
	int rc = 0;

	if (VQ_UNLIKELY(!mem_ok(r)) && (rc = remap_or_fail(r)) < 0)
		return rc;
	while (k < max) {
		n = (uint16_t)(r->avail_shadow - r->last_avail);
		if (n == 0 && (rc = avail_refresh(r)) <= 0)
			break;
		if (n == 0)
			n = (unsigned)rc;
		if (n > max - k)
			n = max - k;
		got = pop_run(r, c + k, n, &head, &d, &bad_head);
		/* the chains before a bad head are popped and counted: they are
		 * returned, the error comes on the next call (ring.h) */
		k += got;
		if (VQ_UNLIKELY(bad_head)) {
			rc = vq_ring_failf(r, VQ_E_RING_HEAD, "avail slot %u: head %u, queue size %u",
					   r->last_avail & (r->num - 1u), head, r->num);
			break;
		}
		if (got < n) {
			/* pop_walk() advances last_avail on success */
			if ((rc = pop_walk(r, &c[k], head, d)) < 0)
				break;
			k++;
			/* longer chains tend to come together: the rest of this
			 * run one at a time, each walk without a run's set-up */
			for (n -= got + 1; n; n--, k++)
				if ((rc = vq_ring_pop_split(r, &c[k])) <= 0)
					goto out;
		}
	}
out:
	return k ? (int)k : rc;
}

void vq_ring_unpop_split(struct vq_ring *r, const struct vq_chain *c)
{
	(void)c;
	/* only a chain still in flight (popped, not pushed) can go back */
	if (r->last_avail != r->used_idx)
		r->last_avail--;
}

/* The used element for c, after the memory check. */
static inline int push_elem(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	uint16_t used_idx = r->used_idx, head = c->head;
	uint8_t *e;
	int rc = 0;

	/* more used elements than popped chains would overrun the driver: a
	 * device bug, refused without breaking the ring */
	if (VQ_UNLIKELY(head >= r->num || used_idx == r->last_avail))
		return -VQ_E_INVAL;
	if (VQ_UNLIKELY(written > c->write_bytes)) {
		written = (uint32_t)c->write_bytes;
		rc = -VQ_E_RING_USED_LEN;
	}
	e = used_elem(r->used, used_idx & (r->num - 1));
	vq_store32_relaxed(e, head);
	vq_store32_relaxed(e + 4, written);
	r->used_idx = used_idx + 1; /* marked dirty at publish, when it becomes visible */
	return rc;
}

__attribute__((cold, noinline)) static int push_remap(struct vq_ring *r,
						       const struct vq_chain *c, uint32_t written)
{
	int rc = check_mem(r);

	return rc < 0 ? rc : push_elem(r, c, written);
}

int vq_ring_push_split(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	if (!mem_ok(r))
		return push_remap(r, c, written);
	return push_elem(r, c, written);
}

/* All or nothing: the elements are written past used_idx, where the driver
 * does not look until publish, and used_idx moves only when every one was
 * accepted. */
int vq_ring_push_batch_split(struct vq_ring *r, const struct vq_chain *c, const uint32_t *written,
			     unsigned n)
{
	unsigned used_idx = r->used_idx, mask = r->num - 1u;
	uint8_t *ring;
	int rc;

	if (VQ_UNLIKELY(!mem_ok(r)) && (rc = remap_or_fail(r)) < 0)
		return rc;
	/* no more used elements than chains in flight (see push_elem) */
	if (VQ_UNLIKELY(n > (uint16_t)(r->last_avail - used_idx)))
		return -VQ_E_INVAL;
	ring = r->used + 4;
	rc = 0;
	/* in at most two stretches of the used ring, split where it wraps */
	for (unsigned left = n, idx = used_idx, cnt; left; left -= cnt, idx += cnt) {
		uint8_t *e;
		ptrdiff_t j;

		cnt = mask + 1 - (idx & mask);
		if (cnt > left)
			cnt = left;
		/* one index, from -cnt up to 0, for the elements and written */
		e = ring + 8 * (idx & mask) + 8 * (size_t)cnt;
		written += cnt;
		for (j = -(ptrdiff_t)cnt; j; j++, c++) {
			unsigned head = c->head;
			uint32_t w = written[j];

			if (VQ_UNLIKELY(head > mask))
				return -VQ_E_INVAL;
			if (VQ_UNLIKELY(w > c->write_bytes)) {
				w = (uint32_t)c->write_bytes;
				rc = -VQ_E_RING_USED_LEN;
			}
			vq_store32_relaxed(e + 8 * j, head);
			vq_store32_relaxed(e + 8 * j + 4, w);
		}
	}
	r->used_idx = (uint16_t)(used_idx + n);
	return rc;
}

/* Log the used elements written since the last publish and the idx: one or
 * two ranges of the ring per publish rather than one call per push. */
static void used_mark_dirty(struct vq_ring *r, uint16_t from, uint16_t to)
{
	uint64_t ring = r->addr.device + 4;
	uint32_t n = (uint16_t)(to - from), s = from & (r->num - 1u);

	if (n >= r->num) {
		vq_mem_mark_dirty(r->mem, ring, 8ull * r->num);
	} else if (s + n <= r->num) {
		vq_mem_mark_dirty(r->mem, ring + 8ull * s, 8ull * n);
	} else {
		vq_mem_mark_dirty(r->mem, ring + 8ull * s, 8ull * (r->num - s));
		vq_mem_mark_dirty(r->mem, ring, 8ull * (s + n - r->num));
	}
	vq_mem_mark_dirty(r->mem, r->addr.device + RING_IDX, 2);
}

/* VIRTIO_F_IN_ORDER (spec 2.7.9): the elements pushed since the last
 * publish, [from, to), become one batch: the last one's id and len go to
 * the first slot, where the driver reads them (the other slots keep what
 * push wrote; the driver does not read them). */
__attribute__((cold, noinline)) static void in_order_batch(struct vq_ring *r, uint16_t from,
							   uint16_t to)
{
	uint8_t *first = used_elem(r->used, from & (r->num - 1u));
	const uint8_t *last = used_elem(r->used, (uint16_t)(to - 1) & (r->num - 1u));

	if ((uint16_t)(to - from) < 2)
		return;
	vq_store32_relaxed(first, vq_load32_relaxed(last));
	vq_store32_relaxed(first + 4, vq_load32_relaxed(last + 4));
}

int vq_ring_publish_split(struct vq_ring *r)
{
	uint16_t new_idx = r->used_idx, old, event;
	bool valid;
	int rc;

	if (new_idx == r->used_published)
		return 0;
	/* the elements are already in guest memory: log them even if the ring
	 * breaks below */
	if (VQ_UNLIKELY(vq_mem_dirty_logging(r->mem)))
		used_mark_dirty(r, r->used_published, new_idx);
	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	if (VQ_UNLIKELY(r->features & VQ_RING_F_IN_ORDER))
		in_order_batch(r, r->used_published, new_idx);
	/* release: the elements (and len before idx) are visible first */
	vq_store16_release(r->used + RING_IDX, new_idx);
	r->used_published = new_idx;
	/* read the driver's suppression state only after our idx store is
	 * visible, or a driver re-enabling interrupts meanwhile is missed */
	vq_mb();
	if (!(r->features & VQ_RING_F_EVENT_IDX))
		return !(vq_load16_relaxed(r->avail + RING_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = vq_load16_relaxed(used_event_field(r->avail, r->num));
	old = r->signalled_used;
	valid = r->signalled_valid;
	r->signalled_used = new_idx;
	r->signalled_valid = true;
	/* no decision since init to measure from: interrupt to be safe */
	if (!valid)
		return 1;
	return virtq_need_event(event, new_idx, old);
}

int vq_ring_set_notify_split(struct vq_ring *r, bool enable)
{
	int rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	r->notify_enabled = enable;
	if (r->features & VQ_RING_F_EVENT_IDX) {
		/* disabling writes nothing: the driver kicks at most once past
		 * the avail_event written by the last enable */
		if (!enable)
			return 0;
		vq_store16_relaxed(avail_event_field(r->used, r->num), r->avail_shadow);
		vq_mem_mark_dirty(r->mem, r->addr.device + 4 + 8u * (uint32_t)r->num, 2);
	} else {
		vq_store16_relaxed(r->used + RING_FLAGS, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
		vq_mem_mark_dirty(r->mem, r->addr.device + RING_FLAGS, 2);
		if (!enable)
			return 0;
	}
	/* chains published before the driver could see our request would get
	 * no notification: look again after a full barrier */
	vq_mb();
	rc = avail_refresh(r);
	return rc < 0 ? rc : rc > 0;
}

int vq_ring_pending_split(struct vq_ring *r)
{
	int rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	return avail_refresh(r);
}

int vq_ring_set_base_split(struct vq_ring *r, uint32_t base)
{
	int rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	r->last_avail = r->avail_shadow = (uint16_t)base;
	r->used_idx = r->used_published = vq_load16_acquire(r->used + RING_IDX);
	r->signalled_valid = false;
	return 0;
}

/* ==== driver side ======================================================= */

/* The driver plays the guest CPU: fault ranges model what the device cannot
 * reach, not the guest, and regions are never removed, so its pointers are
 * mapped once and stay valid. */
int vq_ring_drv_init_split(struct vq_ring_drv *d)
{
	uint16_t num = d->num;

	if (!layout_ok(num, &d->addr) ||
	    map_areas(d->mem, num, &d->addr, VQ_ACC_RW, VQ_ACC_RW, VQ_ACC_RW, &d->desc, &d->avail,
		      &d->used) < 0)
		return -VQ_E_RING_LAYOUT;
	memset(d->desc, 0, VIRTQ_DESC_SIZE(num));
	memset(d->avail, 0, VIRTQ_AVAIL_SIZE(num));
	memset(d->used, 0, VIRTQ_USED_SIZE(num));
	for (uint32_t i = 0; i < num; i++)
		d->next[i] = (uint16_t)((i + 1) & (num - 1u));
	d->free_head = 0;
	d->num_free = num;
	d->avail_idx = d->kicked_idx = d->last_used = d->used_shadow = 0;
	return 0;
}

/* Make head visible in the next avail slot; avail.idx moves at publish. */
static inline void drv_expose(struct vq_ring_drv *d, uint16_t head, uint16_t ndesc,
			      uint64_t token, uint64_t table)
{
	d->token[head] = token;
	d->chain_len[head] = ndesc;
	d->indirect[head] = table;
	vq_store16_relaxed(avail_entry(d->avail, d->avail_idx & (d->num - 1)), head);
	d->avail_idx++;
}

/* Chains of two or more buffers (and n beyond the free count). */
__attribute__((noinline)) static int drv_add_chain(struct vq_ring_drv *d, const struct vq_buf *bufs,
						   unsigned n, uint64_t token)
{
	struct virtq_desc *desc = d->desc;
	const uint16_t *next = d->next;
	uint16_t head = d->free_head, i = head;
	bool seen_write = false;

	if (n > d->num_free)
		return -VQ_E_NOSPC;
	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		uint16_t nx = next[i];
		uint16_t flags = (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (more ? VIRTQ_DESC_F_NEXT : 0));

		/* what is written to free descriptors is harmless until exposed */
		if (bufs[k].writable)
			seen_write = true;
		else if (seen_write)
			return -VQ_E_INVAL;
		desc_store_ring(&desc[i], bufs[k].gpa, bufs[k].len, flags, more ? nx : 0);
		i = nx;
	}
	d->free_head = i;
	d->num_free = (uint16_t)(d->num_free - n);
	drv_expose(d, head, (uint16_t)n, token, 0);
	return head;
}

/* One buffer: no order to check, no link to write, no loop. The stores into
 * guest memory come last, as the compiler must assume they may alias d. */
int vq_ring_drv_add_split(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n,
			  uint64_t token)
{
	uint16_t head = d->free_head, slot;
	struct virtq_desc *desc;

	if (VQ_UNLIKELY(n != 1))
		return drv_add_chain(d, bufs, n, token);
	if (VQ_UNLIKELY(d->num_free == 0))
		return -VQ_E_NOSPC;
	d->num_free--;
	d->free_head = d->next[head];
	slot = d->avail_idx++ & (uint16_t)(d->num - 1);
	d->token[head] = token;
	d->chain_len[head] = 1;
	d->indirect[head] = 0;
	desc = &d->desc[head];
	vq_store16_relaxed(avail_entry(d->avail, slot), head);
	desc_store_ring(desc, bufs[0].gpa, bufs[0].len, bufs[0].writable ? VIRTQ_DESC_F_WRITE : 0,
			0);
	return head;
}

/* vq_ring_drv_add_split()'s one-buffer path over reqs[0..n), at most as
 * many as there are free descriptors, state in locals (guest stores may
 * alias d's fields as far as the compiler knows). Stops at the first other
 * request; returns how many were added. */
__attribute__((noinline)) static unsigned drv_add_singles(struct vq_ring_drv *d,
							  const struct vq_ring_req *reqs, unsigned n)
{
	struct virtq_desc *desc = d->desc;
	uint8_t *ring = d->avail + 4, *ap, *aend;
	uint64_t *token = d->token, *indirect = d->indirect;
	uint16_t *chain_len = d->chain_len;
	const uint16_t *next = d->next;
	const struct vq_ring_req *q = reqs;
	unsigned head = d->free_head, avail_idx = d->avail_idx, mask = d->num - 1u, cnt, k;

	if (n > d->num_free)
		n = d->num_free;
	/* in at most two stretches of the avail ring, split where it wraps */
	for (; n; n -= cnt, avail_idx += cnt) {
		cnt = mask + 1 - (avail_idx & mask);
		if (cnt > n)
			cnt = n;
		ap = ring + 2 * (avail_idx & mask);
		for (aend = ap + 2 * cnt; ap != aend; ap += 2, q++) {
			const struct vq_buf *b = q->bufs;
			uint64_t *dp;

			if (VQ_UNLIKELY(q->n != 1 || !b))
				goto out;
			token[head] = q->token;
			chain_len[head] = 1;
			indirect[head] = 0;
			vq_store16_relaxed(ap, (uint16_t)head);
			dp = (uint64_t *)&desc[head];
			head = next[head];
			__atomic_store_n(dp, VQ_LE64(b->gpa), __ATOMIC_RELAXED);
			__atomic_store_n(dp + 1,
					 VQ_LE64((uint64_t)b->len |
						 (uint64_t)(b->writable ? VIRTQ_DESC_F_WRITE : 0)
							 << 32),
					 __ATOMIC_RELAXED);
		}
	}
out:
	k = (unsigned)(q - reqs);
	d->free_head = (uint16_t)head;
	d->num_free = (uint16_t)(d->num_free - k);
	d->avail_idx = (uint16_t)(d->avail_idx + k);
	return k;
}

/* Runs of one-buffer requests inline; any other request, and the one that
 * finds the queue full, through the single add (which says why). */
int vq_ring_drv_add_batch_split(struct vq_ring_drv *d, const struct vq_ring_req *reqs, unsigned n)
{
	unsigned k = 0;
	int rc;

	while (k < n) {
		/* no run set up for a multi-buffer request */
		if (reqs[k].n == 1 && (k += drv_add_singles(d, reqs + k, n - k)) == n)
			break;
		if (reqs[k].n == 0 || !reqs[k].bufs)
			rc = -VQ_E_INVAL;
		else
			rc = vq_ring_drv_add_split(d, reqs[k].bufs, reqs[k].n, reqs[k].token);
		if (rc < 0)
			return k ? (int)k : rc;
		k++;
	}
	return (int)k;
}

int vq_ring_drv_add_indirect_split(struct vq_ring_drv *d, const struct vq_buf *bufs,
				   unsigned n, uint64_t table_gpa, uint64_t token)
{
	uint16_t head = d->free_head;
	uint32_t bytes = 16u * n;
	uint8_t *table;

	if (d->num_free == 0)
		return -VQ_E_NOSPC;
	table = vq_mem_translate(d->mem, table_gpa, bytes, VQ_ACC_WRITE, NULL);
	if (!table)
		return -VQ_E_INVAL;
	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		uint16_t flags = (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (more ? VIRTQ_DESC_F_NEXT : 0));

		desc_store(table + 16u * k, bufs[k].gpa, bufs[k].len, flags,
			   more ? (uint16_t)(k + 1) : 0);
	}
	desc_store(&d->desc[head], table_gpa, bytes, VIRTQ_DESC_F_INDIRECT, 0);
	d->free_head = d->next[head];
	d->num_free--;
	drv_expose(d, head, 1, token, table_gpa);
	return head;
}

int vq_ring_drv_publish_split(struct vq_ring_drv *d)
{
	uint16_t old = d->kicked_idx, new_idx = d->avail_idx, flags;

	if (new_idx == old)
		return 0;
	/* release: descriptors and ring entries are visible before the index */
	vq_store16_release(d->avail + RING_IDX, new_idx);
	d->kicked_idx = new_idx;
	/* the device's suppression state must be read after the idx store */
	vq_mb();
	if (d->features & VQ_RING_F_EVENT_IDX)
		return virtq_need_event(vq_load16_relaxed(avail_event_field(d->used, d->num)),
					new_idx, old);
	flags = vq_load16_relaxed(d->used + RING_FLAGS);
	return !(flags & VIRTQ_USED_F_NO_NOTIFY);
}

/* Read used idx (acquire: the elements below it are visible afterwards) and
 * validate it before use. Returns the elements to reap, or an error. */
static inline int used_refresh(struct vq_ring_drv *d)
{
	uint16_t last = d->last_used, idx = vq_load16_acquire(d->used + RING_IDX);

	/* the device can only have used chains we published and not reaped */
	if (VQ_UNLIKELY((uint16_t)(idx - last) > (uint16_t)(d->kicked_idx - last)))
		return -VQ_E_RING_USED_IDX;
	d->used_shadow = idx;
	return (uint16_t)(idx - last);
}

/* Give chain id back to the free list: its last descriptor links to the
 * old free head. */
static inline void drv_free_chain(struct vq_ring_drv *d, uint16_t id, uint16_t n)
{
	uint16_t i;

	d->num_free = (uint16_t)(d->num_free + n);
	for (i = id; --n;)
		i = d->next[i];
	d->next[i] = d->free_head;
	d->free_head = id;
	d->chain_len[id] = 0;
}

/* get_used with VIRTIO_F_IN_ORDER (spec 2.7.9): the element at the first
 * slot of a batch names the batch's last chain; the chains made available
 * from that slot on up to it complete in order, the last with the
 * element's len, the others with len 0 (the device wrote no length for
 * them). An id that is no outstanding chain's head within the used idx
 * is -VQ_E_RING_USED_ID (element left unreaped). */
__attribute__((noinline)) static int drv_get_used_in_order(struct vq_ring_drv *d,
							   uint64_t *token, uint32_t *len)
{
	uint16_t last = d->last_used, mask = (uint16_t)(d->num - 1u), head, n;
	int rc;

	if (d->inorder_left == 0) {
		const uint8_t *e;
		uint32_t id;
		uint16_t avail, b;

		if (last == d->used_shadow && (rc = used_refresh(d)) <= 0)
			return rc;
		e = used_elem(d->used, last & mask);
		id = vq_load32_relaxed(e);
		avail = (uint16_t)(d->used_shadow - last);
		/* the driver's own avail ring holds the heads in the order made
		 * available; the batch ends at id, within the used idx */
		for (b = 0; b < avail; b++)
			if (vq_load16_relaxed(avail_entry(d->avail, (uint16_t)(last + b) & mask)) == id)
				break;
		if (VQ_UNLIKELY(id >= d->num || b == avail || d->chain_len[id] == 0))
			return -VQ_E_RING_USED_ID;
		d->inorder_left = (uint16_t)(b + 1);
		d->inorder_len = vq_load32_relaxed(e + 4);
	}
	head = vq_load16_relaxed(avail_entry(d->avail, last & mask));
	if (VQ_UNLIKELY(head >= d->num || (n = d->chain_len[head]) == 0))
		return -VQ_E_RING_USED_ID;
	drv_free_chain(d, head, n);
	d->last_used = (uint16_t)(last + 1);
	d->inorder_left--;
	if (token)
		*token = d->token[head];
	if (len)
		*len = d->inorder_left ? 0 : d->inorder_len;
	return 1;
}

int vq_ring_drv_get_used_split(struct vq_ring_drv *d, uint64_t *token, uint32_t *len)
{
	uint16_t last = d->last_used, i, n;
	uint16_t *next = d->next, *chain_len = d->chain_len;
	const uint8_t *e;
	uint32_t id, ulen;
	int rc;

	if (VQ_UNLIKELY(d->features & VQ_RING_F_IN_ORDER))
		return drv_get_used_in_order(d, token, len);

	/* used idx is read once per batch, when the shadow copy is used up */
	if (last == d->used_shadow && (rc = used_refresh(d)) <= 0)
		return rc;
	e = used_elem(d->used, last & (d->num - 1));
	id = vq_load32_relaxed(e);
	ulen = vq_load32_relaxed(e + 4);
	if (VQ_UNLIKELY(id >= d->num || (n = chain_len[id]) == 0))
		return -VQ_E_RING_USED_ID;
	/* give the chain back: its last descriptor links to the old free head */
	d->num_free = (uint16_t)(d->num_free + n);
	for (i = (uint16_t)id; --n;)
		i = next[i];
	next[i] = d->free_head;
	d->free_head = (uint16_t)id;
	chain_len[id] = 0;
	d->last_used = (uint16_t)(last + 1);
	if (token)
		*token = d->token[id];
	if (len)
		*len = ulen;
	return 1;
}

/* Reap the elements [last, last + n) (all below the validated used idx)
 * into tokens/lens from k on. Returns how many were reaped: fewer than n
 * when an element names a head that is not in flight (the caller reports
 * it). On locals, so that the loop has the registers; for callers without
 * both arrays (reap_run_both() has its own loop, reap_stretch()). */
static inline __attribute__((always_inline)) unsigned
reap_run(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens, unsigned last, unsigned n)
{
	const uint8_t *ring = d->used + 4, *e, *eend;
	const uint64_t *token = d->token;
	uint16_t *next = d->next, *chain_len = d->chain_len;
	/* id >= num is id > mask */
	unsigned mask = d->num - 1u, free_head = d->free_head, num_free = d->num_free, k = 0, cnt;

	/* in at most two stretches of the used ring, split where it wraps */
	for (; n; n -= cnt, last += cnt) {
		cnt = mask + 1 - (last & mask);
		if (cnt > n)
			cnt = n;
		e = ring + 8 * (last & mask);
		for (eend = e + 8 * cnt; e != eend; e += 8, k++) {
			uint32_t id = vq_load32_relaxed(e), ulen = vq_load32_relaxed(e + 4);
			unsigned i, len;

			if (VQ_UNLIKELY(id > mask || (len = chain_len[id]) == 0))
				goto out;
			num_free += len;
			chain_len[id] = 0;
			/* give the chain back: its last descriptor links to
			 * the old free head */
			for (i = id; VQ_UNLIKELY(--len);)
				i = next[i];
			next[i] = (uint16_t)free_head;
			free_head = id;
			if (tokens)
				tokens[k] = token[id];
			if (lens)
				lens[k] = ulen;
		}
	}
out:
	d->free_head = (uint16_t)free_head;
	d->num_free = (uint16_t)num_free;
	d->last_used = (uint16_t)(d->last_used + k);
	return k;
}

/* The free list and the per-head arrays, for reap_stretch(). */
struct reap_ctx {
	uint16_t *next, *chain_len;
	const uint64_t *token;
	unsigned mask, free_head, num_free;
};

/* reap_run()'s loop with both arrays over cnt elements from e, in a
 * function of its own so that its loop has the registers. One index, from
 * -cnt up to 0, addresses the elements and both arrays from their ends.
 * Returns how many were reaped: fewer than cnt when an element names a head
 * that is not in flight. */
__attribute__((noinline, hot)) static size_t reap_stretch(struct reap_ctx *x, const uint8_t *e,
							  uint64_t *tokens, uint32_t *lens,
							  size_t cnt)
{
	uint16_t *const next = x->next, *const chain_len = x->chain_len;
	const uint64_t *const token = x->token;
	/* id >= num is id > mask */
	const unsigned mask = x->mask;
	unsigned free_head = x->free_head;
	ptrdiff_t j = -(ptrdiff_t)cnt;

	e += 8 * cnt;
	tokens += cnt;
	lens += cnt;
	for (; j; j++) {
		size_t id = vq_load32_relaxed(e + 8 * j), i;
		uint32_t ulen = vq_load32_relaxed(e + 8 * j + 4);
		unsigned len;

		if (VQ_UNLIKELY(id > mask))
			break;
		if (VQ_UNLIKELY((len = chain_len[id]) == 0))
			break;
		chain_len[id] = 0;
		/* give the chain back: its last descriptor links to the old
		 * free head. The free count grows by one a chain at the end,
		 * here by the rest of a longer one (no register for it) */
		i = id;
		if (VQ_UNLIKELY(len > 1)) {
			x->num_free += len - 1;
			while (--len)
				i = next[i];
		}
		next[i] = (uint16_t)free_head;
		free_head = (unsigned)id;
		tokens[j] = token[id];
		lens[j] = ulen;
	}
	x->free_head = free_head;
	x->num_free += (unsigned)((ptrdiff_t)cnt + j);
	return (size_t)((ptrdiff_t)cnt + j);
}

/* reap_run() with both arrays, its stretches through reap_stretch(). */
static unsigned reap_run_both(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens,
			      unsigned last, unsigned n)
{
	struct reap_ctx x = {
		.next = d->next, .chain_len = d->chain_len, .token = d->token,
		.mask = d->num - 1u, .free_head = d->free_head, .num_free = d->num_free,
	};
	const uint8_t *ring = d->used + 4;
	unsigned k = 0, cnt, got;

	/* in at most two stretches of the used ring, split where it wraps */
	for (; n; n -= cnt, last += cnt) {
		cnt = x.mask + 1 - (last & x.mask);
		if (cnt > n)
			cnt = n;
		got = (unsigned)reap_stretch(&x, ring + 8 * (last & x.mask), tokens + k, lens + k,
					     cnt);
		k += got;
		if (got < cnt)
			break;
	}
	d->free_head = (uint16_t)x.free_head;
	d->num_free = (uint16_t)x.num_free;
	d->last_used = (uint16_t)(d->last_used + k);
	return k;
}

__attribute__((noinline)) static unsigned reap_run_any(struct vq_ring_drv *d, uint64_t *tokens,
							 uint32_t *lens, unsigned last, unsigned n)
{
	return reap_run(d, tokens, lens, last, n);
}

/* vq_ring_drv_get_used_split() in a loop; used idx is read (acquire) only
 * when the elements of the last read are reaped. */
int vq_ring_drv_get_used_batch_split(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens,
				     unsigned max)
{
	unsigned k = 0, n, got;
	int rc = 0;

	if (VQ_UNLIKELY(d->features & VQ_RING_F_IN_ORDER)) {
		/* batches of elements: one call each */
		while (k < max && (rc = drv_get_used_in_order(d, tokens ? tokens + k : NULL,
							      lens ? lens + k : NULL)) > 0)
			k++;
		return k ? (int)k : rc;
	}
	while (k < max) {
		n = (uint16_t)(d->used_shadow - d->last_used);
		if (n == 0) {
			if ((rc = used_refresh(d)) <= 0)
				break;
			n = (unsigned)rc;
		}
		if (n > max - k)
			n = max - k;
		if (tokens && lens)
			got = reap_run_both(d, tokens + k, lens + k, d->last_used, n);
		else
			got = reap_run_any(d, tokens ? tokens + k : NULL, lens ? lens + k : NULL,
					   d->last_used, n);
		k += got;
		if (VQ_UNLIKELY(got < n)) {
			rc = -VQ_E_RING_USED_ID;
			break;
		}
	}
	return k ? (int)k : rc;
}

int vq_ring_drv_set_interrupts_split(struct vq_ring_drv *d, bool enable)
{
	if (d->features & VQ_RING_F_EVENT_IDX) {
		/* spec 2.7.7: flags stay 0 with EVENT_IDX. To disable, park
		 * used_event just behind what was reaped: the device passes it
		 * again only after 65535 more completions. */
		uint16_t ev = enable ? d->last_used : (uint16_t)(d->last_used - 1);
		vq_store16_relaxed(used_event_field(d->avail, d->num), ev);
	} else {
		vq_store16_relaxed(d->avail + RING_FLAGS, enable ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (!enable)
		return 0;
	/* used elements published before the device saw our request would
	 * raise no interrupt: look again after a full barrier */
	vq_mb();
	return vq_load16_acquire(d->used + RING_IDX) != d->last_used;
}

/* ==== placement ========================================================= */

/* Areas back to back: desc at base rounded up to 16, avail right after it
 * (16*num keeps it 2-aligned), used rounded up to 4 (the virtio 1.x
 * alignment, not legacy's 4096). */
int vq_ring_size_split(uint16_t num, uint64_t base, struct vq_ring_addr *addr, uint64_t *bytes)
{
	uint64_t desc, avail, used;

	/* leaves room for the largest queue (under 1 MiB) without wrapping */
	if (base > UINT64_MAX - (1ull << 21))
		return -VQ_E_INVAL;
	desc = (base + VIRTQ_DESC_ALIGN - 1) & ~(uint64_t)(VIRTQ_DESC_ALIGN - 1);
	avail = desc + VIRTQ_DESC_SIZE(num);
	used = (avail + VIRTQ_AVAIL_SIZE(num) + VIRTQ_USED_ALIGN - 1) &
	       ~(uint64_t)(VIRTQ_USED_ALIGN - 1);
	addr->desc = desc;
	addr->driver = avail;
	addr->device = used;
	*bytes = used + VIRTQ_USED_SIZE(num) - base;
	return 0;
}
