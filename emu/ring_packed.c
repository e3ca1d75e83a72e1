/* ring_packed.c - the packed virtqueue (virtio 1.2, section 2.8), device side
 * (the driver side is ring_packed_drv.c, the shared pieces ring_packed.h).
 *
 * Areas (all little-endian): the descriptor ring (16 bytes a slot: addr, len,
 * id, flags), read and written by both sides, and two event suppression
 * structures (off_wrap, flags): the driver area, written by the driver, says
 * when the device should interrupt; the device area, written by the device,
 * says when the driver should notify.
 *
 * Both sides keep a ring slot and a wrap counter per direction: a descriptor
 * is available when its AVAIL bit equals the driver's wrap counter and its
 * USED bit does not, used when both equal the device's. The queue size need
 * not be a power of two here, so slots advance by comparison, not by mask.
 *
 * Positions in the notification decisions are (slot, wrap) pairs mapped onto
 * [0, 2*num): wrap 1 gives slot, wrap 0 gives num + slot. "Has position e
 * been passed going from old to new" is then vring_need_event() computed
 * modulo 2*num.
 */
#include "ring_packed.h"

/* ==== device side ======================================================= */

/* The bitmap of ids in flight: id's bit is bit id / ID_WORDS of word
 * id % ID_WORDS, so that consecutive ids (the common case: a driver hands
 * out ids in order) live in different words. A pop's or a push's update of
 * one then never waits for the store of the chain before it, as it would
 * if 64 consecutive ids shared a word (about 2.5 TSC ticks a chain in
 * bench_ring's single calls). Callers check id < num (<= 32768) first. */
#define ID_WORDS (VIRTQ_MAX_SIZE / 64)

_Static_assert(sizeof(((struct vq_ring *)0)->id_busy) == ID_WORDS * sizeof(uint64_t),
	       "one bit an id");

static inline uint64_t *id_word(uint64_t *busy, uint16_t id)
{
	return &busy[id % ID_WORDS];
}

static inline uint64_t id_bit(uint16_t id)
{
	return 1ull << (id / ID_WORDS);
}

static inline bool id_busy(const struct vq_ring *r, uint16_t id)
{
	return (r->id_busy[id % ID_WORDS] & id_bit(id)) != 0;
}

static inline void id_set(struct vq_ring *r, uint16_t id, bool busy)
{
	if (busy)
		*id_word(r->id_busy, id) |= id_bit(id);
	else
		*id_word(r->id_busy, id) &= ~id_bit(id);
}

/* The device reads and writes the descriptor ring, reads the driver area
 * and writes the device area. */
__attribute__((cold, noinline)) static int remap_packed(struct vq_ring *r)
{
	uint64_t gen = vq_mem_generation(r->mem);

	/* behind an IOMMU the areas are translated again at every operation
	 * (mem_gen stays 0), as on the split ring */
	if (r->iommu && vq_ring_iommu_phys(r) < 0)
		return -1;
	if (map_areas(r->mem, r->num, &r->phys, VQ_ACC_RW, VQ_ACC_READ, VQ_ACC_WRITE, &r->desc,
		      &r->avail, &r->used) < 0)
		return -1;
	r->mem_gen = r->iommu ? 0 : gen;
	return 0;
}

static inline int check_mem(struct vq_ring *r)
{
	if (VQ_LIKELY(vq_mem_generation(r->mem) == r->mem_gen))
		return 0;
	if (remap_packed(r) < 0)
		return r->error ? r->error : vq_ring_failf(r, VQ_E_RING_RING_MEM,
				     "descriptor ring 0x%llx, driver area 0x%llx or device area "
				     "0x%llx is no longer accessible",
				     (unsigned long long)r->addr.desc, (unsigned long long)r->addr.driver,
				     (unsigned long long)r->addr.device);
	return 0;
}

int vq_ring_init_packed(struct vq_ring *r)
{
	bool ok = layout_ok(r->num, &r->addr);

	/* an area the IOMMU refuses keeps its own error (RING_IOMMU) */
	if (ok && remap_packed(r) < 0 && r->error)
		return r->error;
	if (!ok || !r->desc)
		return vq_ring_failf(r, VQ_E_RING_LAYOUT,
				     "packed size %u, desc 0x%llx, driver 0x%llx, device 0x%llx",
				     r->num, (unsigned long long)r->addr.desc,
				     (unsigned long long)r->addr.driver,
				     (unsigned long long)r->addr.device);
	r->avail_wrap = true;
	r->used_wrap = true;
	r->last_pop_id = VQ_RING_NO_POP;
	return 0;
}

/* The entries of a packed indirect table: consecutive, as many as its
 * length says; only WRITE may be set in them (spec 2.8.19: no NEXT, no
 * INDIRECT; AVAIL/USED mean nothing there and a driver leaves them 0). */
static int walk_indirect(struct vq_ring *r, struct vq_walk *w, struct vq_chain *c,
			 const struct desc_packed *ind)
{
	const uint8_t *table;
	uint32_t n = 0;
	int rc;

	if ((rc = vq_walk_table(r, w, ind->addr, ind->len, &table, &n)) < 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t w0, w1;
		uint16_t flags;

		vq_fetch16(table + 16u * i, &w0, &w1);
		flags = (uint16_t)(w1 >> 48);
		if (VQ_UNLIKELY(flags & ~VIRTQ_DESC_F_WRITE))
			return vq_ring_failf(r, VQ_E_RING_PACKED_INDIRECT_FLAGS,
					     "indirect table 0x%llx, entry %u: flags 0x%x",
					     (unsigned long long)ind->addr, i, flags);
		rc = vq_walk_buf(r, w, c, w0, (uint32_t)w1, flags & VIRTQ_DESC_F_WRITE);
		if (VQ_UNLIKELY(rc < 0))
			return rc;
	}
	return 0;
}

/* Walk the chain starting at the device's cursor, whose first descriptor
 * the caller copied out: flags0 read with acquire and found available, then
 * addr0 and w0 (len, id; its flags bits are not used). Every further
 * descriptor's flags are read first, with acquire, and must say available
 * too; then its addr, len and id are copied once. The chain may not run
 * into descriptors still in flight (free = num - inflight), so the loop
 * ends within num slots. */
__attribute__((noinline)) static int walk_packed(struct vq_ring *r, struct vq_chain *c,
						 uint64_t addr0, uint64_t w0, uint16_t flags0)
{
	uint16_t slot = r->last_avail, ndesc = 0, first = slot, flags;
	uint16_t free = (uint16_t)(r->num - r->inflight_desc);
	bool wrap = r->avail_wrap;
	struct desc_packed d;
	struct vq_walk w;
	int rc;

	vq_walk_begin(&w, c);
	for (;;) {
		const uint8_t *p = slot_ptr(r->desc, slot);

		if (VQ_UNLIKELY(ndesc >= free))
			return vq_ring_failf(r, VQ_E_RING_PACKED_CHAIN,
					     "chain at slot %u: %u free descriptors (%u in flight), "
					     "queue size %u", first, free, r->inflight_desc, r->num);
		if (ndesc) {
			flags = vq_load16_acquire(p + PD_FLAGS);
			if (VQ_UNLIKELY(!is_avail(flags, wrap)))
				return vq_ring_failf(r, VQ_E_RING_PACKED_AVAIL,
						     "chain at slot %u: slot %u flags 0x%x, wrap %u",
						     first, slot, flags, wrap);
			desc_body(p, &d);
		} else {
			d.addr = addr0;
			d.len = (uint32_t)w0;
			d.id = (uint16_t)(w0 >> 32);
			flags = flags0;
		}
		d.flags = flags;
		ndesc++;
		if (VQ_UNLIKELY(++slot == r->num)) {
			slot = 0;
			wrap = !wrap;
		}
		if (VQ_UNLIKELY(flags & VIRTQ_DESC_F_INDIRECT)) {
			if (!(r->features & VQ_RING_F_INDIRECT))
				return vq_ring_failf(r, VQ_E_RING_INDIRECT_FEATURE,
						     "descriptor %u of chain at slot %u", ndesc, first);
			if (flags & VIRTQ_DESC_F_NEXT)
				return vq_ring_failf(r, VQ_E_RING_INDIRECT_NEXT,
						     "chain at slot %u: flags 0x%x", first, flags);
			/* spec 2.8.19: no INDIRECT descriptor in a list
			 * linked by NEXT (it must be the only one) */
			if (VQ_UNLIKELY(ndesc > 1))
				return vq_ring_failf(r, VQ_E_RING_INDIRECT_NEXT,
						     "chain at slot %u: INDIRECT descriptor %u after "
						     "NEXT (an indirect chain is one descriptor)",
						     first, ndesc);
			if ((rc = walk_indirect(r, &w, c, &d)) < 0)
				return rc;
			break;
		}
		rc = vq_walk_buf(r, &w, c, d.addr, d.len, flags & VIRTQ_DESC_F_WRITE);
		if (VQ_UNLIKELY(rc < 0))
			return rc;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
	}
	/* the buffer id is the last descriptor's (spec 2.8.6) */
	if (VQ_UNLIKELY(d.id >= r->num))
		return vq_ring_failf(r, VQ_E_RING_PACKED_ID, "chain at slot %u: id %u, queue size %u",
				     first, d.id, r->num);
	if (VQ_UNLIKELY(id_busy(r, d.id)))
		return vq_ring_failf(r, VQ_E_RING_PACKED_ID_BUSY,
				     "chain at slot %u: id %u is already in flight", first, d.id);
	id_set(r, d.id, true);
	c->head = d.id;
	c->ndesc = ndesc;
	r->last_avail = slot;
	r->avail_wrap = wrap;
	r->inflight_desc = (uint16_t)(r->inflight_desc + ndesc);
	r->last_pop_id = d.id;
	return 1;
}

/* The general pop: copy the descriptor at the cursor (flags with acquire,
 * then addr, len and id, once) and walk it. 1, 0 or an error. */
__attribute__((noinline)) static int pop_general(struct vq_ring *r, struct vq_chain *c)
{
	const uint8_t *p = slot_ptr(r->desc, r->last_avail);
	uint16_t flags = vq_load16_acquire(p + PD_FLAGS);
	uint64_t w0, w1;

	if (!is_avail(flags, r->avail_wrap))
		return 0;
	vq_fetch16(p, &w0, &w1);
	return walk_packed(r, c, w0, w1, flags);
}

/* A pop after the memory generation moved, and every pop behind an IOMMU
 * (whose mem_gen stays 0): remap, then the general pop. */
__attribute__((cold, noinline)) static int pop_remap(struct vq_ring *r, struct vq_chain *c)
{
	int rc = check_mem(r);

	return rc < 0 ? rc : pop_general(r, c);
}

/* The fast path is a leaf for the commonest chain: one plain non-empty
 * descriptor whose buffer lies in the memory's hit region away from the
 * ring areas, with an id in range and not in flight, and a free descriptor
 * for it. That one passes every rule of walk_packed() by construction and
 * fills c with straight stores. Anything else (a longer or indirect chain,
 * a translation off the inline hit path, a chain with no segment storage
 * yet, a buffer near the ring areas, a bad id, a full ring) goes to
 * walk_packed() with the same copy, by a tail call; a memory generation
 * change (and an IOMMU) to pop_remap(). Each test is a branch of its own
 * (see ring_split.c's pop_stretch()). */
int vq_ring_pop_packed(struct vq_ring *r, struct vq_chain *c)
{
	const uint8_t *p;
	uint64_t addr, w1, *busy, bit, wr;
	uint16_t flags, id, slot;
	uint32_t len;
	void *host;

	if (VQ_UNLIKELY(vq_mem_generation(r->mem) != r->mem_gen))
		return pop_remap(r, c);
	p = slot_ptr(r->desc, r->last_avail);
	flags = vq_load16_acquire(p + PD_FLAGS);
	if (!is_avail(flags, r->avail_wrap))
		return 0;
	addr = VQ_LE64(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
	w1 = VQ_LE64(__atomic_load_n((const uint64_t *)p + 1, __ATOMIC_RELAXED));
	len = (uint32_t)w1;
	id = (uint16_t)(w1 >> 32);
	if (VQ_UNLIKELY(flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)))
		goto general;
	__asm__("");
	if (VQ_UNLIKELY(id >= r->num))
		goto general;
	__asm__("");
	/* only now: an id past the bitmap must not even index it */
	busy = id_word(r->id_busy, id);
	bit = id_bit(id);
	if (VQ_UNLIKELY(*busy & bit))
		goto general;
	__asm__("");
	if (VQ_UNLIKELY(!c->seg))
		goto general;
	__asm__("");
	if (VQ_UNLIKELY(r->inflight_desc >= r->num))
		goto general;
	__asm__("");
	/* len 0 too: vq_mem_translate_hit() passes it as if it were 1 */
	if (VQ_UNLIKELY(len == 0))
		goto general;
	if (VQ_UNLIKELY(!vq_mem_translate_hit(r->mem, addr, len, &host)))
		goto general;
	/* inside the envelope of the ring areas: walk_packed() checks a
	 * writable buffer area by area (no wrap: the translation succeeded) */
	if (VQ_UNLIKELY(addr + len - 1 - r->areas_gpa < r->areas_len + len - 1))
		goto general;
	wr = (flags >> 1) & 1u; /* VIRTQ_DESC_F_WRITE */
	chain_fill_one(c, id, host, addr, len, wr);
	*busy |= bit;
	slot = (uint16_t)(r->last_avail + 1);
	if (VQ_UNLIKELY(slot == r->num)) {
		slot = 0;
		r->avail_wrap = !r->avail_wrap;
	}
	r->last_avail = slot;
	r->inflight_desc++;
	r->last_pop_id = id;
	return 1;
general:
	return walk_packed(r, c, addr, w1, flags);
}

_Static_assert(VIRTQ_DESC_F_WRITE == 2, "the fast paths' shift");

/* What pop_stretch() works against, read once per batch, and its report
 * on the descriptor that stopped it. */
struct pop_ctx {
	uint64_t sgpa, ssize;   /* the span: copy of the memory's hit region */
	uint8_t *shost;
	uint64_t agpa, alen;    /* the ring areas' envelope */
	uint64_t *busy;         /* the ring's id bitmap */
	uint16_t num;
	uint16_t want;          /* avail_bits() of the stretch's wrap counter */
	/* out: the stopping descriptor as copied once (avail false: it was
	 * not available, nothing else was read) */
	bool avail;
	uint16_t flags;
	uint64_t addr, w1;
};

/* The batch pop's loop over slots p.. of one stretch of the ring (no wrap,
 * no more chains than free descriptors) into ck..cend, for the fast path's
 * chains only; returns where it stopped (cend when done), with the
 * stopping descriptor in x. Nothing live but the stretch, so that GCC keeps
 * it in registers; the caller updates the ring's cursor. */
__attribute__((noinline, hot)) static struct vq_chain *
pop_stretch(struct pop_ctx *x, const uint8_t *p, struct vq_chain *ck, struct vq_chain *const cend)
{
	const uint64_t sgpa = x->sgpa, ssize = x->ssize, agpa = x->agpa, alen = x->alen;
	uint8_t *const shost = x->shost;
	uint64_t *const busy = x->busy;
	const uint16_t num = x->num, want = x->want;

	for (; ck != cend; p += 16, ck++) {
		uint64_t addr, w1, off, lastb, wr, *bw, bit;
		uint16_t flags, id;
		struct vq_seg *seg;
		uint32_t len;

		flags = vq_load16_acquire(p + PD_FLAGS);
		if ((flags & (F_AVAIL | F_USED)) != want) {
			x->avail = false;
			return ck;
		}
		addr = VQ_LE64(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
		w1 = VQ_LE64(__atomic_load_n((const uint64_t *)p + 1, __ATOMIC_RELAXED));
		len = (uint32_t)w1;
		id = (uint16_t)(w1 >> 32);
		seg = ck->seg;
		off = addr - sgpa;
		/* the span test with the zero test (see ring_split.c) */
		lastb = off + len - 1;
		if (VQ_UNLIKELY(flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)))
			goto general;
		__asm__("");
		if (VQ_UNLIKELY(id >= num))
			goto general;
		__asm__("");
		bw = id_word(busy, id);
		bit = id_bit(id);
		if (VQ_UNLIKELY(*bw & bit))
			goto general;
		__asm__("");
		if (VQ_UNLIKELY(!seg))
			goto general;
		__asm__("");
		if (VQ_UNLIKELY(lastb >= ssize))
			goto general;
		if (VQ_UNLIKELY(lastb < off))
			goto general;
		if (VQ_UNLIKELY(addr + len - 1 - agpa < alen + len - 1))
			goto general;
		*bw |= bit;
		wr = (flags >> 1) & 1u;
		chain_fill_one(ck, id, shost + off, addr, len, wr);
		continue;
general:
		x->avail = true;
		x->flags = flags;
		x->addr = addr;
		x->w1 = w1;
		return ck;
	}
	return ck;
}

/* The same validation and the same guest bytes as single pops: stretches
 * of one-descriptor chains through pop_stretch(), translated against a copy
 * of the memory's hit region (nothing changes guest memory's layout during
 * the call; the hits are counted once), anything else through
 * walk_packed() with the descriptor as copied once. An error after the
 * first chain returns the count so far (the ring is broken already, or,
 * for -VQ_E_NOMEM, the chain stays available). */
int vq_ring_pop_batch_packed(struct vq_ring *r, struct vq_chain *c, unsigned max)
{
	const uint16_t num = r->num;
	struct vq_mem_span span;
	struct pop_ctx x;
	unsigned k = 0, n, got, hits = 0;
	int rc = 0;

	if (VQ_UNLIKELY(vq_mem_generation(r->mem) != r->mem_gen)) {
		/* behind an IOMMU, and after a generation change: one at a
		 * time through the general pop */
		if ((rc = check_mem(r)) < 0)
			return rc;
		while (k < max && (rc = pop_general(r, &c[k])) > 0)
			k++;
		return k ? (int)k : rc;
	}
	vq_mem_span_load(r->mem, &span);
	x.sgpa = span.gpa;
	x.ssize = span.size;
	x.shost = span.host;
	x.agpa = r->areas_gpa;
	x.alen = r->areas_len;
	x.busy = r->id_busy;
	x.num = num;
	while (k < max) {
		uint16_t slot = r->last_avail, free = (uint16_t)(num - r->inflight_desc);

		/* within the ring's stretch to its end, and within the free
		 * descriptors: one-descriptor chains cannot run into those in
		 * flight */
		n = max - k;
		if (n > (unsigned)(num - slot))
			n = num - slot;
		if (n > free)
			n = free;
		if (VQ_UNLIKELY(n == 0)) {
			/* a full ring: the general pop says what is there */
			if ((rc = pop_general(r, &c[k])) <= 0)
				break;
			k++;
			continue;
		}
		x.want = avail_bits(r->avail_wrap);
		/* longer chains tend to come together: while the next one
		 * looks like one (its flags read as a hint only: the general
		 * pop reads them again and goes by its own read), no stretch
		 * is set up for it */
		if (k && VQ_UNLIKELY(vq_load16_relaxed(slot_ptr(r->desc, slot) + PD_FLAGS) &
				     (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT))) {
			if ((rc = pop_general(r, &c[k])) <= 0)
				break;
			k++;
			continue;
		}
		got = (unsigned)(pop_stretch(&x, slot_ptr(r->desc, slot), c + k, c + k + n) - (c + k));
		if (got) {
			hits += got;
			k += got;
			slot = (uint16_t)(slot + got);
			if (slot == num) {
				slot = 0;
				r->avail_wrap = !r->avail_wrap;
			}
			r->last_avail = slot;
			r->inflight_desc = (uint16_t)(r->inflight_desc + got);
			r->last_pop_id = c[k - 1].head;
		}
		if (got == n)
			continue;
		if (!x.avail) {
			rc = 0;
			break;
		}
		if ((rc = walk_packed(r, &c[k], x.addr, x.w1, x.flags)) < 0)
			break;
		k++;
		/* the walk may have moved the region that serves hits */
		vq_mem_span_load(r->mem, &span);
		x.sgpa = span.gpa;
		x.ssize = span.size;
		x.shost = span.host;
	}
	vq_mem_count_hits(r->mem, hits);
	return k ? (int)k : rc;
}

void vq_ring_unpop_packed(struct vq_ring *r, const struct vq_chain *c)
{
	uint16_t n = c->ndesc;
	uint32_t s;

	/* only the last popped chain, while it is still in flight */
	if (c->head != r->last_pop_id || c->head >= r->num || !id_busy(r, c->head) || n == 0 ||
	    n > r->inflight_desc)
		return;
	s = (uint32_t)r->last_avail + r->num - n;
	if (s >= r->num)
		s -= r->num;
	else
		r->avail_wrap = !r->avail_wrap;
	r->last_avail = (uint16_t)s;
	r->inflight_desc = (uint16_t)(r->inflight_desc - n);
	id_set(r, c->head, false);
	r->last_pop_id = VQ_RING_NO_POP;
}

/* Can c be completed now? (an id in flight, its descriptors not more than
 * those in flight) */
static inline bool push_ok(const struct vq_ring *r, const struct vq_chain *c)
{
	return c->head < r->num && id_busy(r, c->head) && c->ndesc != 0 &&
	       c->ndesc <= r->inflight_desc;
}

/* The flags of a used descriptor for wrap counter wrap (AVAIL == USED ==
 * wrap), and WRITE when the chain had writable buffers. */
static inline uint16_t used_flags(bool wrap, uint64_t write_bytes)
{
	return (uint16_t)(used_bits(wrap) | (write_bytes ? VIRTQ_DESC_F_WRITE : 0));
}

/* Write the used descriptor for c (checked by the caller) at the device's
 * used cursor: id and len, then the flags (release) unless it is the first
 * one since the last publish, whose flags wait for vq_ring_publish() so
 * that nothing becomes visible before it (the driver reads the ring in
 * order). VIRTIO_F_IN_ORDER (spec 2.8.8): the pushes since the last
 * publish are one batch: its single used descriptor, at the batch's first
 * slot, takes the id and len of each push in turn (the last one's stay),
 * and the slots of the later chains are skipped, not written. */
static int push_elem(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	/* read before the stores into guest memory, which may alias it */
	const uint16_t head = c->head, n = c->ndesc;
	const uint64_t wb = c->write_bytes;
	uint8_t *p = slot_ptr(r->desc, r->used_idx);
	uint16_t flags = used_flags(r->used_wrap, wb);
	int rc = 0;

	if (VQ_UNLIKELY(written > wb)) {
		written = (uint32_t)wb;
		rc = -VQ_E_RING_USED_LEN;
	}
	if (VQ_UNLIKELY(r->features & VQ_RING_F_IN_ORDER) && r->pub_pending) {
		/* the batch's used descriptor; the first slot's wrap bits
		 * stay, WRITE is the last chain's */
		p = slot_ptr(r->desc, r->pub_slot);
		vq_store32_relaxed(p + PD_LEN, written);
		vq_store16_relaxed(p + PD_ID, head);
		r->pub_flags = (uint16_t)((r->pub_flags & ~VIRTQ_DESC_F_WRITE) |
					  (flags & VIRTQ_DESC_F_WRITE));
	} else {
		vq_store32_relaxed(p + PD_LEN, written);
		vq_store16_relaxed(p + PD_ID, head);
		if (!r->pub_pending) {
			r->pub_pending = true;
			r->pub_slot = r->used_idx;
			r->pub_flags = flags;
		} else {
			vq_store16_release(p + PD_FLAGS, flags);
		}
	}
	advance(r->num, &r->used_idx, &r->used_wrap, n);
	r->inflight_desc = (uint16_t)(r->inflight_desc - n);
	id_set(r, head, false);
	/* no unpop of a chain completed */
	if (head == r->last_pop_id)
		r->last_pop_id = VQ_RING_NO_POP;
	return rc;
}

/* The single push for what the fast path leaves: a memory generation
 * change (and an IOMMU), the first push since the last publish, IN_ORDER,
 * a clamped length, and every refusal. */
__attribute__((noinline)) static int push_general(struct vq_ring *r, const struct vq_chain *c,
						  uint32_t written)
{
	int rc = check_mem(r);

	if (VQ_UNLIKELY(rc < 0))
		return rc;
	if (!push_ok(r, c))
		return -VQ_E_INVAL;
	return push_elem(r, c, written);
}

/* The fast path, a leaf: a used descriptor after the first of this
 * publish, id and len, then its flags (release). */
int vq_ring_push_packed(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	const uint16_t head = c->head, n = c->ndesc;
	const uint64_t wb = c->write_bytes;
	uint64_t *busy, bit;
	uint16_t used, flags;
	uint8_t *p;

	if (VQ_UNLIKELY(vq_mem_generation(r->mem) != r->mem_gen))
		goto general;
	__asm__("");
	if (VQ_UNLIKELY(!r->pub_pending || (r->features & VQ_RING_F_IN_ORDER)))
		goto general;
	__asm__("");
	if (VQ_UNLIKELY(head >= r->num || written > wb))
		goto general;
	__asm__("");
	busy = id_word(r->id_busy, head);
	bit = id_bit(head);
	if (VQ_UNLIKELY(!(*busy & bit)))
		goto general;
	__asm__("");
	if (VQ_UNLIKELY(n == 0 || n > r->inflight_desc))
		goto general;
	/* the ring's state first, the guest's bytes last (they may alias
	 * it as far as the compiler knows) */
	*busy &= ~bit;
	r->inflight_desc = (uint16_t)(r->inflight_desc - n);
	if (head == r->last_pop_id)
		r->last_pop_id = VQ_RING_NO_POP;
	used = r->used_idx;
	flags = used_flags(r->used_wrap, wb);
	p = slot_ptr(r->desc, used);
	used = (uint16_t)(used + n);
	if (VQ_UNLIKELY(used >= r->num)) {
		used = (uint16_t)(used - r->num);
		r->used_wrap = !r->used_wrap;
	}
	r->used_idx = used;
	vq_store32_relaxed(p + PD_LEN, written);
	vq_store16_relaxed(p + PD_ID, head);
	vq_store16_release(p + PD_FLAGS, flags);
	return 0;
general:
	return push_general(r, c, written);
}

/* All or nothing: every chain is checked (each id in flight once, the
 * descriptors not more than those in flight) and its id given back before
 * any is written; the ids are taken again if one is refused. */
int vq_ring_push_batch_packed(struct vq_ring *r, const struct vq_chain *c,
			      const uint32_t *written, unsigned n)
{
	const uint16_t num = r->num, inflight = r->inflight_desc, last_pop = r->last_pop_id;
	uint64_t *const busy = r->id_busy;
	uint32_t desc = 0, s;
	uint16_t used, wflags;
	uint8_t *ring;
	unsigned i;
	int rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		const uint16_t head = c[i].head, nd = c[i].ndesc;
		uint64_t *bw, bit;

		if (VQ_UNLIKELY(head >= num))
			break;
		bw = id_word(busy, head);
		bit = id_bit(head);
		if (VQ_UNLIKELY(!(*bw & bit) || nd == 0 || (desc += nd) > inflight))
			break;
		*bw &= ~bit;
	}
	if (VQ_UNLIKELY(i < n || (r->features & VQ_RING_F_IN_ORDER))) {
		for (unsigned j = 0; j < i; j++)
			id_set(r, c[j].head, true);
		if (i < n)
			return -VQ_E_INVAL;
		/* IN_ORDER: one batch descriptor, push_elem() knows how */
		for (i = 0; i < n; i++)
			if (push_elem(r, &c[i], written[i]) < 0)
				rc = -VQ_E_RING_USED_LEN;
		return rc;
	}
	if (n == 0)
		return 0;
	/* no unpop of a chain completed: its id was given back above */
	if (last_pop < num && !id_busy(r, last_pop))
		r->last_pop_id = VQ_RING_NO_POP;
	r->inflight_desc = (uint16_t)(inflight - desc);
	/* the used descriptors, from locals: id and len, then the flags
	 * (release); the first one of a publish keeps its flags for it */
	used = r->used_idx;
	wflags = used_bits(r->used_wrap);
	ring = (uint8_t *)r->desc;
	i = 0;
	if (!r->pub_pending) {
		r->pub_pending = true;
		r->pub_slot = used;
		r->pub_flags = (uint16_t)(wflags | (c[0].write_bytes ? VIRTQ_DESC_F_WRITE : 0));
		i = 1;
	}
	for (unsigned j = 0; j < n; j++) {
		const uint16_t head = c[j].head, nd = c[j].ndesc;
		const uint64_t wb = c[j].write_bytes;
		uint32_t w = written[j];
		uint8_t *p = ring + 16u * used;

		if (VQ_UNLIKELY(w > wb)) {
			w = (uint32_t)wb;
			rc = -VQ_E_RING_USED_LEN;
		}
		vq_store32_relaxed(p + PD_LEN, w);
		vq_store16_relaxed(p + PD_ID, head);
		if (VQ_LIKELY(j >= i))
			vq_store16_release(p + PD_FLAGS,
					   (uint16_t)(wflags | (wb ? VIRTQ_DESC_F_WRITE : 0)));
		s = (uint32_t)used + nd;
		if (VQ_UNLIKELY(s >= num)) {
			s -= num;
			wflags ^= F_AVAIL | F_USED;
		}
		used = (uint16_t)s;
	}
	r->used_idx = used;
	r->used_wrap = wflags != 0;
	return rc;
}

/* Log the descriptor slots from..to (to excluded; the whole ring when equal)
 * written since the last publish. */
static void used_mark_dirty(struct vq_ring *r, uint16_t from, uint16_t to)
{
	uint64_t ring = r->phys.desc;

	if (from < to) {
		vq_mem_mark_dirty(r->mem, ring + 16ull * from, 16ull * (to - from));
	} else {
		vq_mem_mark_dirty(r->mem, ring + 16ull * from, 16ull * (r->num - from));
		if (to)
			vq_mem_mark_dirty(r->mem, ring, 16ull * to);
	}
}

int vq_ring_publish_packed(struct vq_ring *r)
{
	uint32_t new_pos, old;
	uint16_t flags, off_wrap;
	bool valid;
	int rc;

	if (!r->pub_pending)
		return 0;
	if (VQ_UNLIKELY(vq_mem_dirty_logging(r->mem)))
		used_mark_dirty(r, r->pub_slot, r->used_idx);
	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	/* release: every used descriptor written since is visible first */
	vq_store16_release(slot_ptr(r->desc, r->pub_slot) + PD_FLAGS, r->pub_flags);
	r->pub_pending = false;
	new_pos = pos_of(r->num, r->used_idx, r->used_wrap);
	old = r->signalled_used;
	valid = r->signalled_valid;
	r->signalled_used = (uint16_t)new_pos;
	r->signalled_valid = true;
	/* read the driver's suppression state only after the flags store */
	vq_mb();
	flags = vq_load16_relaxed(r->avail + EV_FLAGS) & 3u;
	off_wrap = vq_load16_relaxed(r->avail + EV_OFF_WRAP);
	switch (flags) {
	case VIRTQ_PACKED_EVENT_DISABLE:
		return 0;
	case VIRTQ_PACKED_EVENT_DESC:
		/* DESC is only defined with EVENT_IDX (spec 2.8.10): without
		 * it, as the reserved value, it cannot suppress anything */
		if (!(r->features & VQ_RING_F_EVENT_IDX) || !valid)
			return 1;
		return need_event_mod(r->num, event_pos(r->num, off_wrap), new_pos, old);
	default:
		/* ENABLE, and the reserved value 3: interrupt (a reserved
		 * value must not lose the driver an event) */
		return 1;
	}
}

int vq_ring_set_notify_packed(struct vq_ring *r, bool enable)
{
	uint16_t flags;
	int rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	r->notify_enabled = enable;
	if (!enable) {
		vq_store16_relaxed(r->used + EV_FLAGS, VIRTQ_PACKED_EVENT_DISABLE);
	} else if (r->features & VQ_RING_F_EVENT_IDX) {
		/* notify once the driver makes the next slot available */
		vq_store16_relaxed(r->used + EV_OFF_WRAP,
				   (uint16_t)(r->last_avail |
					      (r->avail_wrap ? VIRTQ_PACKED_EVENT_WRAP : 0)));
		vq_store16_release(r->used + EV_FLAGS, VIRTQ_PACKED_EVENT_DESC);
	} else {
		vq_store16_relaxed(r->used + EV_FLAGS, VIRTQ_PACKED_EVENT_ENABLE);
	}
	vq_mem_mark_dirty(r->mem, r->phys.device, VIRTQ_PACKED_EVENT_SIZE);
	if (!enable)
		return 0;
	/* chains made available before the driver saw our request get no
	 * notification: look again after a full barrier */
	vq_mb();
	flags = vq_load16_acquire(slot_ptr(r->desc, r->last_avail) + PD_FLAGS);
	return is_avail(flags, r->avail_wrap);
}

/* Complete chains available from the cursor, counted by their flags alone
 * (nothing is validated or consumed), within the descriptors not in flight. */
int vq_ring_pending_packed(struct vq_ring *r)
{
	uint16_t slot = r->last_avail, free = (uint16_t)(r->num - r->inflight_desc), flags;
	bool wrap = r->avail_wrap;
	int n = 0, rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	for (uint16_t k = 0; k < free; k++) {
		flags = vq_load16_acquire(slot_ptr(r->desc, slot) + PD_FLAGS);
		if (!is_avail(flags, wrap))
			break;
		advance(r->num, &slot, &wrap, 1);
		if (!(flags & VIRTQ_DESC_F_NEXT) || (flags & VIRTQ_DESC_F_INDIRECT))
			n++;
	}
	return n;
}

int vq_ring_get_base_packed(const struct vq_ring *r, uint32_t *base)
{
	if (!base)
		return -VQ_E_INVAL;
	*base = (uint32_t)r->last_avail | (r->avail_wrap ? 1u << 15 : 0) |
		((uint32_t)r->used_idx | (r->used_wrap ? 1u << 15 : 0)) << 16;
	return 0;
}

/* vhost-user's SET_VRING_BASE for packed: bits 0-14 the next slot, bit 15
 * its wrap counter; the used cursor starts at the same place, nothing in
 * flight. */
int vq_ring_set_base_packed(struct vq_ring *r, uint32_t base)
{
	uint16_t slot = base & 0x7fffu;

	if (slot >= r->num)
		return -VQ_E_INVAL;
	r->last_avail = r->used_idx = slot;
	r->avail_wrap = r->used_wrap = !!(base & 0x8000u);
	r->inflight_desc = 0;
	r->pub_pending = false;
	r->last_pop_id = VQ_RING_NO_POP;
	r->signalled_valid = false;
	memset(r->id_busy, 0, sizeof(r->id_busy));
	return 0;
}
