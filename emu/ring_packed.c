/* ring_packed.c - the packed virtqueue (virtio 1.2, section 2.8), device side
 * and driver side.
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
#include "ring_internal.h"

/* Byte offsets inside a descriptor and an event suppression structure. */
#define PD_LEN   8
#define PD_ID    12
#define PD_FLAGS 14
#define EV_OFF_WRAP 0
#define EV_FLAGS    2

#define F_AVAIL VIRTQ_DESC_F_AVAIL
#define F_USED  VIRTQ_DESC_F_USED

static inline uint8_t *slot_ptr(void *ring, uint16_t slot)
{
	return (uint8_t *)ring + 16u * slot;
}

/* Available: AVAIL == wrap, USED != wrap (spec 2.8.1). */
static inline bool is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) != wrap;
}

/* Used: AVAIL == USED == wrap. */
static inline bool is_used(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) == wrap;
}

/* Step a (slot, wrap) cursor forward by n (n <= num). */
static inline void advance(uint16_t num, uint16_t *slot, bool *wrap, uint16_t n)
{
	uint32_t s = (uint32_t)*slot + n;

	if (s >= num) {
		s -= num;
		*wrap = !*wrap;
	}
	*slot = (uint16_t)s;
}

static inline uint32_t pos_of(uint16_t num, uint16_t slot, bool wrap)
{
	return wrap ? slot : (uint32_t)num + slot;
}

/* vring_need_event modulo 2*num: was event in [old, new)? */
static inline bool need_event_mod(uint16_t num, uint32_t event, uint32_t new_pos, uint32_t old)
{
	uint32_t m = 2u * num;

	event %= m;
	return (new_pos + 2 * m - event - 1) % m < (new_pos + m - old) % m;
}

/* off_wrap of an event suppression structure as a position. */
static inline uint32_t event_pos(uint16_t num, uint16_t off_wrap)
{
	return pos_of(num, off_wrap & 0x7fffu, !!(off_wrap & VIRTQ_PACKED_EVENT_WRAP));
}

/* One descriptor as copied out of guest memory (never re-read). */
struct desc_packed {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/* addr, len and id of a descriptor whose flags were already read (acquire):
 * one copy; the flags of that copy are not used. */
static inline void desc_body(const void *p, struct desc_packed *d)
{
	uint64_t w0, w1;

	vq_fetch16(p, &w0, &w1);
	d->addr = w0;
	d->len = (uint32_t)w1;
	d->id = (uint16_t)(w1 >> 32);
}

static inline void desc_store(void *p, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	__atomic_store_n((uint64_t *)p, VQ_LE64(addr), __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)p + 1,
			 VQ_LE64((uint64_t)len | (uint64_t)id << 32 | (uint64_t)flags << 48),
			 __ATOMIC_RELAXED);
}

/* Queue size in [1, 32768] (any value: spec 2.8) and alignment (16, 4, 4). */
static bool layout_ok(uint16_t num, const struct vq_ring_addr *a)
{
	return num >= 1 && num <= VIRTQ_MAX_SIZE && a->desc % VIRTQ_PACKED_DESC_ALIGN == 0 &&
	       a->driver % VIRTQ_PACKED_EVENT_ALIGN == 0 &&
	       a->device % VIRTQ_PACKED_EVENT_ALIGN == 0;
}

static int map_areas(struct vq_mem *mem, uint16_t num, const struct vq_ring_addr *a,
		     unsigned desc_acc, unsigned drv_acc, unsigned dev_acc, struct virtq_desc **desc,
		     uint8_t **drv, uint8_t **dev)
{
	void *d = vq_mem_translate(mem, a->desc, VIRTQ_PACKED_DESC_SIZE(num), desc_acc, NULL);
	void *dr = vq_mem_translate(mem, a->driver, VIRTQ_PACKED_EVENT_SIZE, drv_acc, NULL);
	void *dv = vq_mem_translate(mem, a->device, VIRTQ_PACKED_EVENT_SIZE, dev_acc, NULL);

	if (!d || !dr || !dv)
		return -1;
	*desc = d;
	*drv = dr;
	*dev = dv;
	return 0;
}

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
	busy = &r->id_busy[id / 64];
	bit = 1ull << (id % 64);
	seg = c->seg;
	/* one branch a test (see ring_split.c's pop_stretch()) */
	if (VQ_UNLIKELY(flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)))
		goto general;
	if (VQ_UNLIKELY(id >= num))
		goto general;
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

/* ==== driver side ======================================================= */

int vq_ring_drv_init_packed(struct vq_ring_drv *d)
{
	uint16_t num = d->num;

	if (!layout_ok(num, &d->addr) ||
	    map_areas(d->mem, num, &d->addr, VQ_ACC_RW, VQ_ACC_RW, VQ_ACC_RW, &d->desc, &d->avail,
		      &d->used) < 0)
		return -VQ_E_RING_LAYOUT;
	memset(d->desc, 0, VIRTQ_PACKED_DESC_SIZE(num));
	memset(d->avail, 0, VIRTQ_PACKED_EVENT_SIZE);
	memset(d->used, 0, VIRTQ_PACKED_EVENT_SIZE);
	/* free buffer ids, linked through next */
	for (uint32_t i = 0; i < num; i++)
		d->next[i] = (uint16_t)(i + 1 < num ? i + 1 : 0);
	d->free_head = 0;
	d->num_free = num;
	d->avail_idx = d->last_used = 0;
	d->avail_wrap = d->used_wrap = true;
	d->kicked_idx = 0;
	d->pub_pending = false;
	d->added_desc = 0;
	d->inorder_left = 0;
	return 0;
}

/* Flags that make a slot neither available nor used for the side's wrap
 * counter: what a chain's first descriptor holds until publish. */
static inline uint16_t flags_hidden(bool wrap)
{
	return (uint16_t)(wrap ? 0 : F_AVAIL | F_USED);
}

/* Write descriptor slot at the driver's cursor, advance it. The first
 * descriptor of the first chain since the last publish keeps hidden flags;
 * its real flags are stored (release) at publish. */
static inline void drv_put(struct vq_ring_drv *d, uint64_t addr, uint32_t len, uint16_t id,
			   uint16_t flags)
{
	uint16_t slot = d->avail_idx;

	flags |= d->avail_wrap ? F_AVAIL : F_USED;
	if (!d->pub_pending) {
		d->pub_pending = true;
		d->pub_slot = slot;
		d->pub_flags = flags;
		flags = flags_hidden(d->avail_wrap);
	}
	desc_store(slot_ptr(d->desc, slot), addr, len, id, flags);
	advance(d->num, &d->avail_idx, &d->avail_wrap, 1);
	d->added_desc++;
}

/* Take a free id for a chain of ndesc ring descriptors. With IN_ORDER the
 * id is the slot of the chain's first descriptor (free: chains complete in
 * order), so that a batch's used id tells where the batch ends. */
static inline uint16_t drv_take_id(struct vq_ring_drv *d, uint16_t ndesc, uint64_t token,
				   uint64_t table)
{
	uint16_t id = d->free_head;

	if (VQ_UNLIKELY(d->features & VQ_RING_F_IN_ORDER))
		id = d->avail_idx;
	else
		d->free_head = d->next[id];
	d->num_free = (uint16_t)(d->num_free - ndesc);
	d->token[id] = token;
	d->chain_len[id] = ndesc;
	d->indirect[id] = table;
	return id;
}

/* vq_ring_drv_add_packed(), inlined into the batch add too. */
static inline __attribute__((always_inline)) int drv_add_one(struct vq_ring_drv *d,
							     const struct vq_buf *bufs,
							     unsigned n, uint64_t token)
{
	bool seen_write = false;
	uint16_t id;

	if (n > d->num_free)
		return -VQ_E_NOSPC;
	if (VQ_LIKELY(n == 1)) {   /* the commonest chain: no order to check */
		id = drv_take_id(d, 1, token, 0);
		drv_put(d, bufs->gpa, bufs->len, id, bufs->writable ? VIRTQ_DESC_F_WRITE : 0);
		return id;
	}
	for (unsigned k = 0; k < n; k++) {
		if (bufs[k].writable)
			seen_write = true;
		else if (seen_write)
			return -VQ_E_INVAL;
	}
	id = drv_take_id(d, (uint16_t)n, token, 0);
	/* the first descriptor through drv_put() (it may be the one whose
	 * flags wait for publish); the rest with the cursor in locals. The
	 * device reads the id of the last descriptor; every one gets it */
	drv_put(d, bufs[0].gpa, bufs[0].len, id,
		(uint16_t)((bufs[0].writable ? VIRTQ_DESC_F_WRITE : 0) | VIRTQ_DESC_F_NEXT));
	{
		uint16_t slot = d->avail_idx, num = d->num;
		bool wrap = d->avail_wrap;

		for (unsigned k = 1; k < n; k++) {
			desc_store(slot_ptr(d->desc, slot), bufs[k].gpa, bufs[k].len, id,
				   (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
					      (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
					      (wrap ? F_AVAIL : F_USED)));
			if (VQ_UNLIKELY(++slot == num)) {
				slot = 0;
				wrap = !wrap;
			}
		}
		d->avail_idx = slot;
		d->avail_wrap = wrap;
		d->added_desc = (uint16_t)(d->added_desc + n - 1);
	}
	return id;
}

int vq_ring_drv_add_packed(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n,
			   uint64_t token)
{
	return drv_add_one(d, bufs, n, token);
}

int vq_ring_drv_add_indirect_packed(struct vq_ring_drv *d, const struct vq_buf *bufs,
				    unsigned n, uint64_t table_gpa, uint64_t token)
{
	uint32_t bytes = 16u * n;
	uint8_t *table;
	uint16_t id;

	if (d->num_free == 0)
		return -VQ_E_NOSPC;
	table = vq_mem_translate(d->mem, table_gpa, bytes, VQ_ACC_WRITE, NULL);
	if (!table)
		return -VQ_E_INVAL;
	for (unsigned k = 0; k < n; k++) {
		uint64_t w[2] = {
			VQ_LE64(bufs[k].gpa),
			VQ_LE64((uint64_t)bufs[k].len |
				(uint64_t)(bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) << 48),
		};
		memcpy(table + 16u * k, w, sizeof(w));
	}
	id = drv_take_id(d, 1, token, table_gpa);
	drv_put(d, table_gpa, bytes, id, VIRTQ_DESC_F_INDIRECT);
	return id;
}

int vq_ring_drv_add_batch_packed(struct vq_ring_drv *d, const struct vq_ring_req *reqs,
				 unsigned n)
{
	unsigned k;
	int rc;

	for (k = 0; k < n; k++) {
		if (reqs[k].n == 0 || !reqs[k].bufs)
			rc = -VQ_E_INVAL;
		else
			rc = drv_add_one(d, reqs[k].bufs, reqs[k].n, reqs[k].token);
		if (rc < 0)
			return k ? (int)k : rc;
	}
	return (int)k;
}

int vq_ring_drv_publish_packed(struct vq_ring_drv *d)
{
	uint32_t old = d->kicked_idx, new_pos;
	uint16_t flags, off_wrap;

	if (!d->pub_pending)
		return 0;
	/* release: every descriptor written since is visible first */
	vq_store16_release(slot_ptr(d->desc, d->pub_slot) + PD_FLAGS, d->pub_flags);
	d->pub_pending = false;
	d->added_desc = 0;
	new_pos = pos_of(d->num, d->avail_idx, d->avail_wrap);
	d->kicked_idx = (uint16_t)new_pos;
	/* the device's suppression state must be read after the flags store */
	vq_mb();
	flags = vq_load16_relaxed(d->used + EV_FLAGS) & 3u;
	off_wrap = vq_load16_relaxed(d->used + EV_OFF_WRAP);
	if (flags == VIRTQ_PACKED_EVENT_DISABLE)
		return 0;
	if (flags == VIRTQ_PACKED_EVENT_DESC && (d->features & VQ_RING_F_EVENT_IDX))
		return need_event_mod(d->num, event_pos(d->num, off_wrap), new_pos, old);
	return 1; /* ENABLE; DESC without EVENT_IDX and the reserved 3 as ENABLE */
}

/* get_used with VIRTIO_F_IN_ORDER (spec 2.8.8): the used descriptor at the
 * first slot of a batch names its last chain, whose id is that chain's
 * first slot (drv_take_id); the chains from the cursor up to it complete
 * in order, the last with the descriptor's len, the others with len 0
 * (the device wrote nothing for them). An id that is no outstanding
 * chain's is -VQ_E_RING_USED_ID (nothing reaped). */
__attribute__((noinline)) static int drv_get_used_in_order(struct vq_ring_drv *d,
							   uint64_t *token, uint32_t *len)
{
	uint16_t head = d->last_used, n;

	if (d->inorder_left == 0) {
		const uint8_t *p = slot_ptr(d->desc, head);
		uint16_t flags = vq_load16_acquire(p + PD_FLAGS), id, s = head, left, b = 0;
		bool w = d->used_wrap;

		if (!is_used(flags, d->used_wrap))
			return 0;
		id = vq_load16_relaxed(p + PD_ID);
		/* walk the outstanding chains from the cursor to id */
		left = (uint16_t)(d->num - d->num_free);
		for (;;) {
			n = d->chain_len[s];
			if (VQ_UNLIKELY(n == 0 || n > left))
				return -VQ_E_RING_USED_ID;
			b++;
			if (s == id)
				break;
			left = (uint16_t)(left - n);
			advance(d->num, &s, &w, n);
		}
		d->inorder_left = b;
		d->inorder_len = vq_load32_relaxed(p + PD_LEN);
	}
	n = d->chain_len[head];
	advance(d->num, &d->last_used, &d->used_wrap, n);
	d->num_free = (uint16_t)(d->num_free + n);
	d->chain_len[head] = 0;
	d->inorder_left--;
	if (token)
		*token = d->token[head];
	if (len)
		*len = d->inorder_left ? 0 : d->inorder_len;
	return 1;
}

/* vq_ring_drv_get_used_packed(), inlined into the batch reap too. */
static inline __attribute__((always_inline)) int drv_get_used_one(struct vq_ring_drv *d,
								  uint64_t *token, uint32_t *len)
{
	const uint16_t num = d->num, last = d->last_used;
	const bool wrap = d->used_wrap;
	const uint8_t *p = slot_ptr(d->desc, last);
	uint16_t flags, id, n;
	uint32_t ulen, s;

	if (VQ_UNLIKELY(d->features & VQ_RING_F_IN_ORDER))
		return drv_get_used_in_order(d, token, len);
	flags = vq_load16_acquire(p + PD_FLAGS);
	if (!is_used(flags, wrap))
		return 0;
	id = vq_load16_relaxed(p + PD_ID);
	ulen = vq_load32_relaxed(p + PD_LEN);
	if (VQ_UNLIKELY(id >= num || (n = d->chain_len[id]) == 0))
		return -VQ_E_RING_USED_ID;
	/* the device skips the chain's descriptors (spec 2.8.7) */
	s = (uint32_t)last + n;
	if (VQ_UNLIKELY(s >= num)) {
		s -= num;
		d->used_wrap = !wrap;
	}
	d->last_used = (uint16_t)s;
	d->num_free = (uint16_t)(d->num_free + n);
	d->chain_len[id] = 0;
	d->next[id] = d->free_head;
	d->free_head = id;
	if (token)
		*token = d->token[id];
	if (len)
		*len = ulen;
	return 1;
}

int vq_ring_drv_get_used_packed(struct vq_ring_drv *d, uint64_t *token, uint32_t *len)
{
	return drv_get_used_one(d, token, len);
}

int vq_ring_drv_get_used_batch_packed(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens,
				      unsigned max)
{
	unsigned k = 0;
	int rc = 0;

	while (k < max && (rc = drv_get_used_one(d, tokens ? tokens + k : NULL,
						      lens ? lens + k : NULL)) > 0)
		k++;
	return k ? (int)k : rc;
}

int vq_ring_drv_set_interrupts_packed(struct vq_ring_drv *d, bool enable)
{
	uint16_t flags;

	if (!enable) {
		vq_store16_relaxed(d->avail + EV_FLAGS, VIRTQ_PACKED_EVENT_DISABLE);
		return 0;
	}
	if (d->features & VQ_RING_F_EVENT_IDX) {
		/* interrupt once the device uses the next slot to reap */
		vq_store16_relaxed(d->avail + EV_OFF_WRAP,
				   (uint16_t)(d->last_used |
					      (d->used_wrap ? VIRTQ_PACKED_EVENT_WRAP : 0)));
		vq_store16_release(d->avail + EV_FLAGS, VIRTQ_PACKED_EVENT_DESC);
	} else {
		vq_store16_relaxed(d->avail + EV_FLAGS, VIRTQ_PACKED_EVENT_ENABLE);
	}
	/* used descriptors written before the device saw our request would
	 * raise no interrupt: look again after a full barrier */
	vq_mb();
	flags = vq_load16_acquire(slot_ptr(d->desc, d->last_used) + PD_FLAGS);
	return is_used(flags, d->used_wrap);
}

/* ==== placement ========================================================= */

/* Descriptor ring at base rounded up to 16, the driver area right after it,
 * the device area after that (both 4-aligned by construction). */
int vq_ring_size_packed(uint16_t num, uint64_t base, struct vq_ring_addr *addr, uint64_t *bytes)
{
	uint64_t desc;

	if (base > UINT64_MAX - (1ull << 21))
		return -VQ_E_INVAL;
	desc = (base + VIRTQ_PACKED_DESC_ALIGN - 1) & ~(uint64_t)(VIRTQ_PACKED_DESC_ALIGN - 1);
	addr->desc = desc;
	addr->driver = desc + VIRTQ_PACKED_DESC_SIZE(num);
	addr->device = addr->driver + VIRTQ_PACKED_EVENT_SIZE;
	*bytes = addr->device + VIRTQ_PACKED_EVENT_SIZE - base;
	return 0;
}
