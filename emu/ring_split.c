/* ring_split.c - the split virtqueue (virtio 1.2, section 2.7), device side
 * (the driver side is ring_split_drv.c, the shared pieces ring_split.h).
 *
 * Areas (all little-endian): the descriptor table (16 bytes an entry), the
 * available ring (flags, idx, ring[num], used_event) written by the driver,
 * and the used ring (flags, idx, ring[num] of {id, len}, avail_event) written
 * by the device. Each side keeps host pointers to the areas; the device side
 * re-translates them whenever the memory generation moves.
 */
#include "ring_split.h"

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
