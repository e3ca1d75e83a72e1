/* ring_packed.h - private to emu/ring_packed*.c: the packed ring's layout
 * (descriptor and event suppression offsets), the wrap-counter arithmetic
 * and the descriptor accessors that the device side (ring_packed.c) and the
 * driver side (ring_packed_drv.c) share.
 */
#ifndef VQSIM_RING_PACKED_H
#define VQSIM_RING_PACKED_H

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

/* The AVAIL and USED bits of a descriptor available for wrap counter wrap
 * (AVAIL == wrap, USED != wrap, spec 2.8.1): 0x0080 for 1, 0x8000 for 0;
 * and of a used one (both == wrap): 0x8080 or 0. One mask compare tests a
 * descriptor's flags against them. */
static inline uint16_t avail_bits(bool wrap)
{
	return (uint16_t)(F_USED >> (8 * wrap));
}

static inline uint16_t used_bits(bool wrap)
{
	return (uint16_t)(wrap ? F_AVAIL | F_USED : 0);
}

_Static_assert(F_AVAIL == F_USED >> 8, "avail_bits()'s shift");

static inline bool is_avail(uint16_t flags, bool wrap)
{
	return (flags & (F_AVAIL | F_USED)) == avail_bits(wrap);
}

static inline bool is_used(uint16_t flags, bool wrap)
{
	return (flags & (F_AVAIL | F_USED)) == used_bits(wrap);
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
static inline bool layout_ok(uint16_t num, const struct vq_ring_addr *a)
{
	return num >= 1 && num <= VIRTQ_MAX_SIZE && a->desc % VIRTQ_PACKED_DESC_ALIGN == 0 &&
	       a->driver % VIRTQ_PACKED_EVENT_ALIGN == 0 &&
	       a->device % VIRTQ_PACKED_EVENT_ALIGN == 0;
}

static inline int map_areas(struct vq_mem *mem, uint16_t num, const struct vq_ring_addr *a,
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

#endif
