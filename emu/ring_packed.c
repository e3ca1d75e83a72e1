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

static inline bool id_busy(const struct vq_ring *r, uint16_t id)
{
	return r->id_busy[id / 64] >> (id % 64) & 1u;
}

static inline void id_set(struct vq_ring *r, uint16_t id, bool busy)
{
	if (busy)
		r->id_busy[id / 64] |= 1ull << (id % 64);
	else
		r->id_busy[id / 64] &= ~(1ull << (id % 64));
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
 * d0 the caller copied out (flags read with acquire and found available,
 * then addr, len and id, once). Every further descriptor's flags are read
 * first, with acquire, and must say available too; then its addr, len and
 * id are copied once. The chain may not run into descriptors still in
 * flight (free = num - inflight), so the loop ends within num slots. */
__attribute__((noinline)) static int walk_packed(struct vq_ring *r, struct vq_chain *c,
						 uint64_t addr0, uint64_t w0)
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
			d.flags = flags;
		} else {
			d.addr = addr0;
			d.len = (uint32_t)w0;
			d.id = (uint16_t)(w0 >> 32);
			d.flags = flags = (uint16_t)(w0 >> 48);
		}
		ndesc++;
		advance(r->num, &slot, &wrap, 1);
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
	r->last_pop_valid = true;
	return 1;
}

/* One pop after the memory check: 1, 0 (nothing available) or an error.
 * The first descriptor is copied out once (flags with acquire, then addr,
 * len and id; the ring is 16-aligned) and handed as two words (addr; len,
 * id and the flags read first) to walk_packed() unless it is the commonest
 * chain: one plain non-empty descriptor whose buffer lies in the memory's
 * hit region away from the ring areas, with an id in range and not in
 * flight, and a free descriptor for it. That one passes every rule of
 * walk_packed() by construction and fills c with straight stores. Anything
 * else (a longer or indirect chain, an IOMMU, a translation off the inline
 * hit path, a chain with no segment storage yet, a buffer near the ring
 * areas, a bad id) goes to walk_packed() with the same copy, nothing
 * changed; by a tail call, so that the fast path keeps no frame. */
static inline __attribute__((always_inline)) int pop_checked(struct vq_ring *r,
							       struct vq_chain *c)
{
	const uint8_t *p = slot_ptr(r->desc, r->last_avail);
	const uint16_t num = r->num;
	uint16_t flags = vq_load16_acquire(p + PD_FLAGS), id, slot;
	uint64_t addr, w1, wr, *busy, bit;
	struct vq_seg *seg;
	uint32_t len;
	void *host;

	if (!is_avail(flags, r->avail_wrap))
		return 0;
	addr = VQ_LE64(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
	w1 = VQ_LE64(__atomic_load_n((const uint64_t *)p + 1, __ATOMIC_RELAXED));
	/* the flags are those read first: the copy's are not used */
	w1 = (w1 & 0xffffffffffffull) | (uint64_t)flags << 48;
	len = (uint32_t)w1;
	id = (uint16_t)(w1 >> 32);
	seg = c->seg;
	/* one branch a test (see ring_split.c's pop_stretch()) */
	if (VQ_UNLIKELY(flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)))
		goto general;
	if (VQ_UNLIKELY(id >= num))
		goto general;
	/* only now: an id past the bitmap must not even index it */
	busy = &r->id_busy[id / 64];
	bit = 1ull << (id % 64);
	if (VQ_UNLIKELY(*busy & bit))
		goto general;
	if (VQ_UNLIKELY(len == 0 || !seg))
		goto general;
	if (VQ_UNLIKELY(r->inflight_desc >= num || r->iommu))
		goto general;
	if (VQ_UNLIKELY(!vq_mem_translate_hit(r->mem, addr, len, &host)))
		goto general;
	/* inside the envelope of the ring areas: walk_packed() checks a
	 * writable buffer area by area (no wrap: the translation succeeded) */
	if (VQ_UNLIKELY(addr + len - 1 - r->areas_gpa < r->areas_len + len - 1))
		goto general;
	wr = (flags >> 1) & 1u; /* VIRTQ_DESC_F_WRITE */
	seg->host = host;
	seg->gpa = addr;
	seg->len = len;
	seg->writable = wr;
	c->head = id;
	c->ndesc = 1;
	c->nseg = 1;
	c->nread = (uint32_t)(wr ^ 1u);
	c->read_bytes = len & (wr - 1);     /* wr 0: len, 1: 0 */
	c->write_bytes = len & -wr;         /* wr 1: len, 0: 0 */
	*busy |= bit;
	slot = (uint16_t)(r->last_avail + 1);
	if (VQ_UNLIKELY(slot == num)) {
		slot = 0;
		r->avail_wrap = !r->avail_wrap;
	}
	r->last_avail = slot;
	r->inflight_desc++;
	r->last_pop_id = id;
	r->last_pop_valid = true;
	return 1;
general:
	return walk_packed(r, c, addr, w1);
}

_Static_assert(VIRTQ_DESC_F_WRITE == 2, "pop_checked's shift");

int vq_ring_pop_packed(struct vq_ring *r, struct vq_chain *c)
{
	int rc;

	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	return pop_checked(r, c);
}

/* The same validation and the same guest bytes as single pops, with one
 * memory check for the batch (nothing changes guest memory's layout
 * during the call). */
int vq_ring_pop_batch_packed(struct vq_ring *r, struct vq_chain *c, unsigned max)
{
	unsigned k = 0;
	int rc;

	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	while (k < max && (rc = pop_checked(r, &c[k])) > 0)
		k++;
	return k ? (int)k : rc;
}

void vq_ring_unpop_packed(struct vq_ring *r, const struct vq_chain *c)
{
	uint16_t n = c->ndesc;
	uint32_t s;

	/* only the last popped chain, while it is still in flight */
	if (!r->last_pop_valid || c->head != r->last_pop_id || c->head >= r->num ||
	    !id_busy(r, c->head) || n == 0 || n > r->inflight_desc)
		return;
	s = (uint32_t)r->last_avail + r->num - n;
	if (s >= r->num)
		s -= r->num;
	else
		r->avail_wrap = !r->avail_wrap;
	r->last_avail = (uint16_t)s;
	r->inflight_desc = (uint16_t)(r->inflight_desc - n);
	id_set(r, c->head, false);
	r->last_pop_valid = false;
}

/* Can c be completed now? (an id in flight, its descriptors not more than
 * those in flight) */
static inline bool push_ok(const struct vq_ring *r, const struct vq_chain *c)
{
	return c->head < r->num && id_busy(r, c->head) && c->ndesc != 0 &&
	       c->ndesc <= r->inflight_desc;
}

/* Write the used descriptor for c at the device's used cursor: id and len,
 * then the flags (release) unless it is the first one since the last
 * publish, whose flags wait for vq_ring_publish() so that nothing becomes
 * visible before it (the driver reads the ring in order).
 * VIRTIO_F_IN_ORDER (spec 2.8.8): the pushes since the last publish are one
 * batch: its single used descriptor, at the batch's first slot, takes the
 * id and len of each push in turn (the last one's stay), and the slots of
 * the later chains are skipped, not written. */
static inline __attribute__((always_inline)) int push_elem(struct vq_ring *r,
							     const struct vq_chain *c,
							     uint32_t written)
{
	/* read before the stores into guest memory, which may alias it */
	const uint16_t head = c->head, n = c->ndesc;
	const uint64_t wb = c->write_bytes;
	uint8_t *p = slot_ptr(r->desc, r->used_idx);
	uint16_t flags, wbit = wb ? VIRTQ_DESC_F_WRITE : 0;
	int rc = 0;

	if (VQ_UNLIKELY(written > wb)) {
		written = (uint32_t)wb;
		rc = -VQ_E_RING_USED_LEN;
	}
	flags = (uint16_t)((r->used_wrap ? F_AVAIL | F_USED : 0) | wbit);
	if (VQ_UNLIKELY(r->features & VQ_RING_F_IN_ORDER) && r->pub_pending) {
		/* the batch's used descriptor; the first slot's wrap bits
		 * stay, WRITE is the last chain's */
		p = slot_ptr(r->desc, r->pub_slot);
		vq_store32_relaxed(p + PD_LEN, written);
		vq_store16_relaxed(p + PD_ID, head);
		r->pub_flags = (uint16_t)((r->pub_flags & ~VIRTQ_DESC_F_WRITE) | wbit);
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
	r->last_pop_valid = r->last_pop_valid && head != r->last_pop_id;
	return rc;
}

/* push_elem() for what the fast path leaves: the first push since the
 * last publish, IN_ORDER, a clamped length. */
__attribute__((noinline)) static int push_general(struct vq_ring *r, const struct vq_chain *c,
						  uint32_t written)
{
	return push_elem(r, c, written);
}

int vq_ring_push_packed(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	const uint16_t head = c->head, n = c->ndesc, num = r->num;
	uint64_t *busy, bit;
	uint8_t *p;
	uint32_t s;
	int rc;

	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	/* an id in flight, its descriptors not more than those in flight */
	if (VQ_UNLIKELY(head >= num))
		return -VQ_E_INVAL;
	busy = &r->id_busy[head / 64];
	bit = 1ull << (head % 64);
	if (VQ_UNLIKELY(!(*busy & bit) || n == 0 || n > r->inflight_desc))
		return -VQ_E_INVAL;
	if (VQ_UNLIKELY(!r->pub_pending || (r->features & VQ_RING_F_IN_ORDER) ||
			written > c->write_bytes))
		return push_general(r, c, written);
	/* a used descriptor after the first of this publish: id and len,
	 * then its flags (release) */
	p = slot_ptr(r->desc, r->used_idx);
	vq_store32_relaxed(p + PD_LEN, written);
	vq_store16_relaxed(p + PD_ID, head);
	vq_store16_release(p + PD_FLAGS,
			   (uint16_t)((r->used_wrap ? F_AVAIL | F_USED : 0) |
				      (c->write_bytes ? VIRTQ_DESC_F_WRITE : 0)));
	s = (uint32_t)r->used_idx + n;
	if (VQ_UNLIKELY(s >= num)) {
		s -= num;
		r->used_wrap = !r->used_wrap;
	}
	r->used_idx = (uint16_t)s;
	r->inflight_desc = (uint16_t)(r->inflight_desc - n);
	*busy &= ~bit;
	if (head == r->last_pop_id)
		r->last_pop_valid = false;
	return 0;
}

/* All or nothing: every chain is checked (each id in flight once, the
 * descriptors not more than those in flight) before any is written. */
int vq_ring_push_batch_packed(struct vq_ring *r, const struct vq_chain *c,
			      const uint32_t *written, unsigned n)
{
	const uint16_t num = r->num;
	uint32_t desc = 0, s;
	uint16_t used, last_pop = r->last_pop_id;
	bool wrap, last_pop_done = false;
	unsigned i;
	int rc;

	if ((rc = check_mem(r)) < 0)
		return rc;
	/* claim every id first (a second use of one fails), give them back
	 * if any chain is refused */
	for (i = 0; i < n; i++) {
		if (!push_ok(r, &c[i]) || (desc += c[i].ndesc) > r->inflight_desc)
			break;
		id_set(r, c[i].head, false);
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
	/* the used descriptors, from locals: id and len, then the flags
	 * (release), but the first of a publish whose flags wait for it */
	used = r->used_idx;
	wrap = r->used_wrap;
	for (i = 0; i < n; i++) {
		const uint16_t head = c[i].head, nd = c[i].ndesc;
		const uint64_t wb = c[i].write_bytes;
		uint32_t w = written[i];
		uint16_t flags = (uint16_t)((wrap ? F_AVAIL | F_USED : 0) |
					    (wb ? VIRTQ_DESC_F_WRITE : 0));
		uint8_t *p = slot_ptr(r->desc, used);

		if (VQ_UNLIKELY(w > wb)) {
			w = (uint32_t)wb;
			rc = -VQ_E_RING_USED_LEN;
		}
		last_pop_done |= head == last_pop;
		vq_store32_relaxed(p + PD_LEN, w);
		vq_store16_relaxed(p + PD_ID, head);
		if (VQ_UNLIKELY(!r->pub_pending)) {
			r->pub_pending = true;
			r->pub_slot = used;
			r->pub_flags = flags;
		} else {
			vq_store16_release(p + PD_FLAGS, flags);
		}
		s = (uint32_t)used + nd;
		if (VQ_UNLIKELY(s >= num)) {
			s -= num;
			wrap = !wrap;
		}
		used = (uint16_t)s;
	}
	r->used_idx = used;
	r->used_wrap = wrap;
	r->inflight_desc = (uint16_t)(r->inflight_desc - desc);
	if (last_pop_done)
		r->last_pop_valid = false;
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
	r->last_pop_valid = false;
	r->signalled_valid = false;
	memset(r->id_busy, 0, sizeof(r->id_busy));
	return 0;
}
