/* ring_split_drv.c - the split virtqueue (virtio 1.2, section 2.7), driver
 * side: what the reference driver and the tests use to add chains, publish
 * them, reap used elements and ask for interrupts; and the placement of a
 * split queue's areas. The device side is ring_split.c.
 */
#include "ring_split.h"

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
