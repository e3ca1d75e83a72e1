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

/* The device reads descriptors and the avail ring and writes the used ring. */
static int remap_split(struct vq_ring *r)
{
	uint64_t gen = vq_mem_generation(r->mem);

	if (map_areas(r->mem, r->num, &r->addr, VQ_ACC_READ, VQ_ACC_READ, VQ_ACC_WRITE,
		      &r->desc, &r->avail, &r->used) < 0)
		return -1;
	r->mem_gen = gen;
	return 0;
}

/* Cached pointers are good while the memory generation has not moved; after
 * a change (a fault range over the ring, say) the areas must translate again
 * or the ring is broken. */
static inline int check_mem(struct vq_ring *r)
{
	if (VQ_LIKELY(vq_mem_generation(r->mem) == r->mem_gen))
		return 0;
	if (remap_split(r) < 0)
		return vq_ring_fail(r, VQ_E_RING_RING_MEM);
	return 0;
}

int vq_ring_init_split(struct vq_ring *r)
{
	if (!layout_ok(r->num, &r->addr) || remap_split(r) < 0)
		return vq_ring_fail(r, VQ_E_RING_LAYOUT);
	return 0;
}

/* Read avail idx (acquire: the ring entries and descriptors below it are
 * visible afterwards) and validate it before use. Returns the chains
 * available and not yet popped, or a ring error. */
static inline int avail_refresh(struct vq_ring *r)
{
	uint16_t idx = vq_load16_acquire(r->avail + RING_IDX);
	uint16_t n = (uint16_t)(idx - r->last_avail);

	if (VQ_UNLIKELY(n > r->num))
		return vq_ring_fail(r, VQ_E_RING_AVAIL_IDX);
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
	uint32_t n, i = 0;
	int rc;

	if ((rc = vq_walk_table(r, ind->addr, ind->len, &table, &n)) < 0)
		return rc;
	for (;;) {
		desc_fetch(table + 16u * i, &d);
		if (VQ_UNLIKELY(d.flags & VIRTQ_DESC_F_INDIRECT))
			return vq_ring_fail(r, VQ_E_RING_INDIRECT_NESTED);
		rc = vq_walk_buf(r, w, c, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE);
		if (VQ_UNLIKELY(rc < 0))
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (VQ_UNLIKELY(d.next >= n))
			return vq_ring_fail(r, VQ_E_RING_NEXT);
		i = d.next;
	}
}

/* Walk the chain whose head descriptor d (already copied out) is at head
 * into c. Every iteration either stores a buffer, which vq_walk_buf() counts
 * against max_chain, or ends the walk (an indirect descriptor has no NEXT),
 * so the loop is bounded by the queue size whatever the guest wrote.
 * Out of line so that pop's one-descriptor fast path keeps a small frame. */
__attribute__((noinline)) static int walk_split(struct vq_ring *r, struct vq_chain *c, uint16_t head,
						  struct desc_split d)
{
	struct vq_walk w;
	uint16_t i, ndesc = 0;
	int rc;

	vq_walk_begin(&w, c);
	for (;;) {
		ndesc++;
		if (VQ_UNLIKELY(d.flags & VIRTQ_DESC_F_INDIRECT)) {
			/* the WRITE flag of a table descriptor means nothing (2.7.5.3.2) */
			if (!(r->features & VQ_RING_F_INDIRECT))
				return vq_ring_fail(r, VQ_E_RING_INDIRECT_FEATURE);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return vq_ring_fail(r, VQ_E_RING_INDIRECT_NEXT);
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
			return vq_ring_fail(r, VQ_E_RING_NEXT);
		i = d.next;
		desc_fetch(&r->desc[i], &d);
	}
	c->head = head;
	c->ndesc = ndesc;
	return 0;
}

/* The commonest chain, one plain non-empty descriptor, passes every
 * length, order and byte-count rule by construction: only its buffer needs
 * checking. Anything else goes through the full walker. */
static inline int pop_chain(struct vq_ring *r, struct vq_chain *c, uint16_t head)
{
	struct desc_split d;
	bool wr;
	void *host;

	desc_fetch(&r->desc[head], &d);
	if (VQ_UNLIKELY((d.flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)) || d.len == 0))
		return walk_split(r, c, head, d);
	wr = d.flags & VIRTQ_DESC_F_WRITE;
	host = vq_mem_translate(r->mem, d.addr, d.len, wr ? VQ_ACC_WRITE : VQ_ACC_READ, NULL);
	if (VQ_UNLIKELY(!host))
		return vq_ring_fail(r, VQ_E_RING_DESC_MEM);
	c->nseg = 0;
	c->nread = 0;
	c->read_bytes = 0;
	c->write_bytes = 0;
	c->head = head;
	c->ndesc = 1;
	return vq_chain_put(r, c, host, d.addr, d.len, wr);
}

int vq_ring_pop_split(struct vq_ring *r, struct vq_chain *c)
{
	uint16_t last = r->last_avail, head;
	int rc;

	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	/* avail idx is read once per batch, when the shadow copy is used up */
	if (last == r->avail_shadow) {
		rc = avail_refresh(r);
		if (rc <= 0)
			return rc;
	}
	head = vq_load16_relaxed(avail_entry(r->avail, last & (r->num - 1)));
	if (VQ_UNLIKELY(head >= r->num))
		return vq_ring_fail(r, VQ_E_RING_HEAD);
	rc = pop_chain(r, c, head);
	if (VQ_UNLIKELY(rc < 0))
		return rc;
	r->last_avail = last + 1;
	return 1;
}

void vq_ring_unpop_split(struct vq_ring *r, const struct vq_chain *c)
{
	(void)c;
	/* only a chain still in flight (popped, not pushed) can go back */
	if (r->last_avail != r->used_idx)
		r->last_avail--;
}

int vq_ring_push_split(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	uint16_t slot;
	uint8_t *e;
	int rc;

	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
	/* more used elements than popped chains would overrun the driver: a
	 * device bug, refused without breaking the ring */
	if (VQ_UNLIKELY(c->head >= r->num || r->used_idx == r->last_avail))
		return -VQ_E_INVAL;
	if (VQ_UNLIKELY(written > c->write_bytes)) {
		written = (uint32_t)c->write_bytes;
		rc = -VQ_E_RING_USED_LEN;
	}
	slot = r->used_idx & (r->num - 1);
	e = used_elem(r->used, slot);
	vq_store32_relaxed(e, c->head);
	vq_store32_relaxed(e + 4, written);
	r->used_idx++; /* marked dirty at publish, when it becomes visible */
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

int vq_ring_publish_split(struct vq_ring *r)
{
	uint16_t new_idx = r->used_idx, old, event;
	bool valid;
	int rc;

	if (new_idx == r->used_published)
		return 0;
	/* the elements are already in guest memory: log them even if the ring
	 * breaks below */
	used_mark_dirty(r, r->used_published, new_idx);
	if (VQ_UNLIKELY((rc = check_mem(r)) < 0))
		return rc;
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
	d->avail_idx = d->kicked_idx = d->last_used = 0;
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

int vq_ring_drv_add_split(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n,
			  uint64_t token)
{
	uint16_t head = d->free_head, i = head;
	bool seen_write = false;

	if (n > d->num_free)
		return -VQ_E_NOSPC;
	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		uint16_t flags = (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (more ? VIRTQ_DESC_F_NEXT : 0));

		/* what is written to free descriptors is harmless until exposed */
		if (bufs[k].writable)
			seen_write = true;
		else if (seen_write)
			return -VQ_E_INVAL;
		desc_store(&d->desc[i], bufs[k].gpa, bufs[k].len, flags, more ? d->next[i] : 0);
		i = d->next[i];
	}
	d->free_head = i;
	d->num_free = (uint16_t)(d->num_free - n);
	drv_expose(d, head, (uint16_t)n, token, 0);
	return head;
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

int vq_ring_drv_get_used_split(struct vq_ring_drv *d, uint64_t *token, uint32_t *len)
{
	uint16_t last = d->last_used, idx = vq_load16_acquire(d->used + RING_IDX);
	uint16_t i, n;
	const uint8_t *e;
	uint32_t id, ulen;

	if (idx == last)
		return 0;
	/* the device can only have used chains we published and not reaped */
	if ((uint16_t)(idx - last) > (uint16_t)(d->kicked_idx - last))
		return -VQ_E_RING_USED_IDX;
	e = used_elem(d->used, last & (d->num - 1));
	id = vq_load32_relaxed(e);
	ulen = vq_load32_relaxed(e + 4);
	if (id >= d->num || d->chain_len[id] == 0)
		return -VQ_E_RING_USED_ID;
	/* give the chain back: its last descriptor links to the old free head */
	n = d->chain_len[id];
	for (i = (uint16_t)id; --n;)
		i = d->next[i];
	d->next[i] = d->free_head;
	d->free_head = (uint16_t)id;
	d->num_free = (uint16_t)(d->num_free + d->chain_len[id]);
	d->chain_len[id] = 0;
	d->indirect[id] = 0;
	d->last_used = (uint16_t)(last + 1);
	if (token)
		*token = d->token[id];
	if (len)
		*len = ulen;
	return 1;
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
