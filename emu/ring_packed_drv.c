/* ring_packed_drv.c - the packed virtqueue (virtio 1.2, section 2.8),
 * driver side: what the reference driver and the tests use to add chains,
 * publish them, reap used descriptors and ask for interrupts; and the
 * placement of a packed queue's areas. The device side is ring_packed.c.
 */
#include "ring_packed.h"

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

/* The add for every chain the fast paths leave: the first since the last
 * publish (its flags wait for publish), IN_ORDER, chains of several
 * buffers, a full ring. */
__attribute__((noinline)) static int drv_add_general(struct vq_ring_drv *d,
						     const struct vq_buf *bufs, unsigned n,
						     uint64_t token)
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
	}
	return id;
}

/* The fast path, a leaf: one buffer after the first chain of a publish
 * (whose flags wait for it), without IN_ORDER. The driver's state first,
 * the guest's bytes last (they may alias it as far as the compiler
 * knows). */
int vq_ring_drv_add_packed(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n,
			   uint64_t token)
{
	uint16_t id, slot, flags;

	if (VQ_UNLIKELY(n != 1 || !d->pub_pending || (d->features & VQ_RING_F_IN_ORDER) ||
			d->num_free == 0))
		return drv_add_general(d, bufs, n, token);
	id = d->free_head;
	d->free_head = d->next[id];
	d->num_free--;
	d->token[id] = token;
	d->chain_len[id] = 1;
	d->indirect[id] = 0;
	slot = d->avail_idx;
	flags = (uint16_t)(avail_bits(d->avail_wrap) | (bufs->writable ? VIRTQ_DESC_F_WRITE : 0));
	if (VQ_UNLIKELY(slot + 1 == d->num)) {
		d->avail_idx = 0;
		d->avail_wrap = !d->avail_wrap;
	} else {
		d->avail_idx = (uint16_t)(slot + 1);
	}
	desc_store(slot_ptr(d->desc, slot), bufs->gpa, bufs->len, id, flags);
	return id;
}

/* The fast path's chains over reqs[0..n) (one buffer each, at most as many
 * as there are free ids), the state in locals; stops at the first other
 * request. Returns how many were added. */
__attribute__((noinline, hot)) static unsigned drv_add_singles(struct vq_ring_drv *d,
								 const struct vq_ring_req *reqs,
								 unsigned n)
{
	uint8_t *const ring = (uint8_t *)d->desc;
	uint64_t *const token = d->token, *const indirect = d->indirect;
	uint16_t *const chain_len = d->chain_len;
	const uint16_t *const next = d->next;
	const uint16_t num = d->num;
	unsigned id = d->free_head, slot = d->avail_idx, k;
	uint16_t bits = avail_bits(d->avail_wrap);

	if (n > d->num_free)
		n = d->num_free;
	for (k = 0; k < n; k++) {
		const struct vq_buf *b = reqs[k].bufs;
		uint64_t *dp;

		if (VQ_UNLIKELY(reqs[k].n != 1 || !b))
			break;
		token[id] = reqs[k].token;
		chain_len[id] = 1;
		indirect[id] = 0;
		dp = (uint64_t *)(ring + 16u * slot);
		__atomic_store_n(dp, VQ_LE64(b->gpa), __ATOMIC_RELAXED);
		__atomic_store_n(dp + 1,
				 VQ_LE64((uint64_t)b->len | (uint64_t)id << 32 |
					 (uint64_t)(bits | (b->writable ? VIRTQ_DESC_F_WRITE : 0))
						 << 48),
				 __ATOMIC_RELAXED);
		id = next[id];
		if (VQ_UNLIKELY(++slot == num)) {
			slot = 0;
			bits ^= F_AVAIL | F_USED;
		}
	}
	d->free_head = (uint16_t)id;
	d->num_free = (uint16_t)(d->num_free - k);
	d->avail_idx = (uint16_t)slot;
	d->avail_wrap = bits == F_AVAIL;
	return k;
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

/* Runs of one-buffer requests through drv_add_singles(); any other
 * request, the first of a publish and the one that finds the ring full
 * through the general add (which says why). */
int vq_ring_drv_add_batch_packed(struct vq_ring_drv *d, const struct vq_ring_req *reqs,
				 unsigned n)
{
	unsigned k = 0;
	int rc;

	while (k < n) {
		if (reqs[k].n == 1 && d->pub_pending && !(d->features & VQ_RING_F_IN_ORDER) &&
		    (k += drv_add_singles(d, reqs + k, n - k)) == n)
			break;
		if (reqs[k].n == 0 || !reqs[k].bufs)
			rc = -VQ_E_INVAL;
		else
			rc = drv_add_general(d, reqs[k].bufs, reqs[k].n, reqs[k].token);
		if (rc < 0)
			return k ? (int)k : rc;
		k++;
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

/* get_used for what the fast path leaves: IN_ORDER, a descriptor not
 * used yet, an id that is no outstanding chain's (nothing reaped), NULL
 * outputs. */
__attribute__((noinline)) static int drv_get_used_general(struct vq_ring_drv *d,
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

/* The fast path, a leaf: the used descriptor at the cursor (flags with
 * acquire, then id and len, once) of an outstanding chain, both outputs
 * wanted, without IN_ORDER. */
int vq_ring_drv_get_used_packed(struct vq_ring_drv *d, uint64_t *token, uint32_t *len)
{
	const uint8_t *p = slot_ptr(d->desc, d->last_used);
	uint16_t flags, id, n;
	uint32_t ulen, s;

	if (VQ_UNLIKELY(!token || !len || (d->features & VQ_RING_F_IN_ORDER)))
		return drv_get_used_general(d, token, len);
	flags = vq_load16_acquire(p + PD_FLAGS);
	if (!is_used(flags, d->used_wrap))
		return 0;
	id = vq_load16_relaxed(p + PD_ID);
	ulen = vq_load32_relaxed(p + PD_LEN);
	if (VQ_UNLIKELY(id >= d->num || (n = d->chain_len[id]) == 0))
		return -VQ_E_RING_USED_ID;
	/* a branch, not a data dependency: the next reap's slot need not
	 * wait for the loads of id and chain_len (see reap_run()) */
	s = (uint32_t)d->last_used + 1;
	if (VQ_UNLIKELY(n != 1)) {
		__asm__("");
		s = (uint32_t)d->last_used + n;
	}
	if (VQ_UNLIKELY(s >= d->num)) {
		s -= d->num;
		d->used_wrap = !d->used_wrap;
	}
	d->last_used = (uint16_t)s;
	d->num_free = (uint16_t)(d->num_free + n);
	d->chain_len[id] = 0;
	d->next[id] = d->free_head;
	d->free_head = id;
	*token = d->token[id];
	*len = ulen;
	return 1;
}

/* The fast path's reap over up to max used descriptors, the state in
 * locals, into tokens[] and lens[]; stops at the first descriptor not
 * used yet or with an id that is no outstanding chain's (left unreaped
 * for the general path to report). Returns how many were reaped. */
__attribute__((noinline, hot)) static unsigned reap_run(struct vq_ring_drv *d, uint64_t *tokens,
							uint32_t *lens, unsigned max)
{
	const uint8_t *const ring = (const uint8_t *)d->desc;
	const uint64_t *const token = d->token;
	uint16_t *const chain_len = d->chain_len, *const next = d->next;
	const uint16_t num = d->num;
	unsigned last = d->last_used, head = d->free_head, freed = 0, k;
	uint16_t bits = used_bits(d->used_wrap);

	for (k = 0; k < max; k++) {
		const uint8_t *p = ring + 16u * last;
		uint16_t flags = vq_load16_acquire(p + PD_FLAGS), id, n;

		if ((flags & (F_AVAIL | F_USED)) != bits)
			break;
		id = vq_load16_relaxed(p + PD_ID);
		if (VQ_UNLIKELY(id >= num || (n = chain_len[id]) == 0))
			break;
		lens[k] = vq_load32_relaxed(p + PD_LEN);
		tokens[k] = token[id];
		chain_len[id] = 0;
		next[id] = (uint16_t)head;
		head = id;
		freed += n;
		/* the cursor moves by a branch, not by n: otherwise each
		 * slot's address waits for the previous id and chain_len
		 * loads, two dependent loads a chain (one-descriptor chains
		 * predicted, the rest pay a mispredict) */
		if (VQ_LIKELY(n == 1)) {
			last++;
		} else {
			__asm__("");
			last += n;
		}
		if (VQ_UNLIKELY(last >= num)) {
			last -= num;
			bits ^= F_AVAIL | F_USED;
		}
	}
	d->last_used = (uint16_t)last;
	d->used_wrap = bits != 0;
	d->free_head = (uint16_t)head;
	d->num_free = (uint16_t)(d->num_free + freed);
	return k;
}

int vq_ring_drv_get_used_batch_packed(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens,
				      unsigned max)
{
	unsigned k = 0;
	int rc = 0;

	if (VQ_LIKELY(tokens && lens && !(d->features & VQ_RING_F_IN_ORDER)) &&
	    (k = reap_run(d, tokens, lens, max)) == max)
		return (int)k;
	/* what stopped the run (or every element without both outputs, or
	 * IN_ORDER) through the general path, which says why */
	while (k < max && (rc = drv_get_used_general(d, tokens ? tokens + k : NULL,
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
