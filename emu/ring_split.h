/* ring_split.h - private to emu/ring_split*.c: the split ring's layout
 * (offsets of the avail and used fields), the descriptor copies and stores,
 * and the area checks that the device side (ring_split.c) and the driver
 * side (ring_split_drv.c) share.
 */
#ifndef VQSIM_RING_SPLIT_H
#define VQSIM_RING_SPLIT_H

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
static inline bool layout_ok(uint16_t num, const struct vq_ring_addr *a)
{
	return vq_ring_num_ok(num) && a->desc % VIRTQ_DESC_ALIGN == 0 &&
	       a->driver % VIRTQ_AVAIL_ALIGN == 0 && a->device % VIRTQ_USED_ALIGN == 0;
}

/* Translate the three areas wholly, each for its own access; the outputs are
 * only written when all three succeed. 0 or -1. */
static inline int map_areas(struct vq_mem *mem, uint16_t num, const struct vq_ring_addr *a,
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

#endif
