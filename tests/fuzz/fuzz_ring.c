/* fuzz_ring.c - the ring harness: the device side of the split ring fed
 * whatever a guest can write.
 *
 * The input picks a memory map (one region; two regions back to back; two
 * with a hole between them), a queue size, the ring features, the placement
 * of the three areas and an optional fault range, then runs a program of
 * operations: descriptor, avail entry, avail idx and indirect-table writes
 * (values biased towards the interesting ones), drains, pushes, publishes,
 * notification changes and re-initialisations. Beyond crashes and the
 * sanitizers it checks, at every drain:
 * - the single pop and the batch pop, started from the same state, return
 *   the same chains (heads, segments, host pointers) and the same error;
 * - a drain pops at most the chains the driver made available (never more
 *   than the queue size) and does a bounded number of translations;
 * - every segment is still the translation of its own range, a writable
 *   one overlaps no ring area, a chain holds at most queue-size segments;
 * - after an error every entry point says the ring is broken;
 * and at every push that used.len never exceeds the chain's writable bytes.
 *
 * Memory maps are built once per process and wiped per input, so an input
 * costs what the ring does, not a machine's set-up. */
#include "fuzz.h"
#include "ring.h"

#define MAXQ 128                 /* largest queue size tried */
#define LO   0x10000ull          /* guest RAM starts here in every map */
#define SPAN 0x10000ull          /* and spans 64 KiB of guest-physical space */

enum { MAP_ONE, MAP_ADJACENT, MAP_HOLE, MAP__COUNT };

static struct vq_mem *maps[MAP__COUNT];
static struct vq_chain ca[MAXQ], cb[MAXQ];

static struct vq_mem *map_make(unsigned kind)
{
	struct vq_mem *m = vq_mem_new();
	int rc = -1;

	if (!m)
		abort();
	switch (kind) {
	case MAP_ONE:
		rc = vq_mem_add_region(m, "ram", LO, SPAN);
		break;
	case MAP_ADJACENT:
		rc = vq_mem_add_region(m, "lo", LO, SPAN / 2) |
		     vq_mem_add_region(m, "hi", LO + SPAN / 2, SPAN / 2);
		break;
	case MAP_HOLE:
		rc = vq_mem_add_region(m, "lo", LO, SPAN / 2 - 0x1000) |
		     vq_mem_add_region(m, "hi", LO + SPAN / 2, SPAN / 2);
		break;
	}
	if (rc)
		abort();
	return m;
}

/* Zero every region and drop the fault ranges of the last input. */
static struct vq_mem *map_get(unsigned kind)
{
	struct vq_mem *m = maps[kind];

	if (!m)
		m = maps[kind] = map_make(kind);
	vq_mem_fault_clear(m);
	for (unsigned i = 0; i < vq_mem_region_count(m); i++) {
		uint64_t gpa, size;

		vq_mem_region_info(m, i, &gpa, &size, NULL, NULL);
		vq_mem_fill(m, gpa, 0, size);
	}
	return m;
}

/* A guest-physical address: mostly inside or at the edges of RAM, the
 * region boundary and the hole, sometimes anything. */
static uint64_t pick_addr(struct fuzz_in *in)
{
	uint16_t off = fuzz_u16(in);

	switch (fuzz_u8(in) & 7) {
	case 0:
		return fuzz_u64(in);
	case 1:
		return LO + SPAN / 2 - 64 + (off & 127);        /* the boundary */
	case 2:
		return LO + SPAN - 64 + (off & 127);            /* the end of RAM */
	case 3:
		return LO - 64 + (off & 127);                   /* the start */
	default:
		return LO + (off % SPAN);
	}
}

static uint32_t pick_len(struct fuzz_in *in)
{
	switch (fuzz_u8(in) & 3) {
	case 0:
		return fuzz_u32(in);
	case 1:
		return 0;
	default:
		return fuzz_u16(in) & 0x1fff;
	}
}

/* An index: mostly in range, sometimes just past it, sometimes anything. */
static uint16_t pick_index(struct fuzz_in *in, uint16_t num)
{
	uint16_t v = fuzz_u16(in);

	switch (v & 3) {
	case 0:
		return (uint16_t)(num + ((v >> 2) & 3));
	case 1:
		return fuzz_u16(in);
	default:
		return (uint16_t)((v >> 2) % num);
	}
}

static void put_desc(struct vq_mem *m, uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	/* the guest may point its writes anywhere: misses are its problem */
	vq_mem_write64(m, gpa, addr);
	vq_mem_write32(m, gpa + 8, len);
	vq_mem_write16(m, gpa + 12, flags);
	vq_mem_write16(m, gpa + 14, next);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* What every popped chain must satisfy. */
static void check_chain(const struct vq_ring *r, const struct vq_chain *c)
{
	uint64_t rd = 0, wr = 0;

	FUZZ_CHECK(c->head < r->num, "head %u, num %u", c->head, r->num);
	FUZZ_CHECK(c->nseg <= r->num, "%u segments, num %u", c->nseg, r->num);
	FUZZ_CHECK(c->nread <= c->nseg, "nread %u > nseg %u", c->nread, c->nseg);
	for (uint32_t i = 0; i < c->nseg; i++) {
		const struct vq_seg *s = &c->seg[i];
		unsigned acc = s->writable ? VQ_ACC_WRITE : VQ_ACC_READ;

		FUZZ_CHECK(s->writable == (i >= c->nread), "segment %u direction", i);
		FUZZ_CHECK(s->len > 0, "empty segment %u", i);
		FUZZ_CHECK(vq_mem_translate(r->mem, s->gpa, s->len, acc, NULL) == s->host,
			   "segment %u (0x%llx+%u) is not its own translation", i,
			   (unsigned long long)s->gpa, s->len);
		if (s->writable) {
			FUZZ_CHECK(!overlaps(s->gpa, s->len, r->addr.desc, VIRTQ_DESC_SIZE(r->num)) &&
					   !overlaps(s->gpa, s->len, r->addr.driver,
						     VIRTQ_AVAIL_SIZE(r->num)) &&
					   !overlaps(s->gpa, s->len, r->addr.device,
						     VIRTQ_USED_SIZE(r->num)),
				   "writable segment 0x%llx+%u over a ring area",
				   (unsigned long long)s->gpa, s->len);
			wr += s->len;
		} else {
			rd += s->len;
		}
	}
	FUZZ_CHECK(rd == c->read_bytes && wr == c->write_bytes, "byte counts");
	FUZZ_CHECK(rd + wr <= (1ull << 32), "chain of %llu bytes", (unsigned long long)(rd + wr));
}

static bool same_chain(const struct vq_chain *a, const struct vq_chain *b)
{
	if (a->head != b->head || a->ndesc != b->ndesc || a->nseg != b->nseg ||
	    a->nread != b->nread || a->read_bytes != b->read_bytes ||
	    a->write_bytes != b->write_bytes)
		return false;
	for (uint32_t i = 0; i < a->nseg; i++)
		if (a->seg[i].host != b->seg[i].host || a->seg[i].gpa != b->seg[i].gpa ||
		    a->seg[i].len != b->seg[i].len || a->seg[i].writable != b->seg[i].writable)
			return false;
	return true;
}

/* The ring is broken: every entry point says so. */
static void check_broken(struct vq_ring *r)
{
	FUZZ_CHECK(r->error != 0, "no error kept");
	FUZZ_CHECK(vq_ring_pop(r, &ca[0]) == -VQ_E_RING_BROKEN, "pop on a broken ring");
	FUZZ_CHECK(vq_ring_pop_batch(r, ca, 1) == -VQ_E_RING_BROKEN, "batch pop on a broken ring");
	FUZZ_CHECK(vq_ring_publish(r) == -VQ_E_RING_BROKEN, "publish on a broken ring");
	FUZZ_CHECK(vq_ring_push_batch(r, ca, NULL, 0) == 0, "empty batch push is a no-op");
}

/* Pop everything from r one by one and, from a copy of r's state, in
 * batches of max; compare. Returns how many chains ca[] holds. */
static unsigned drain(struct vq_ring *r, unsigned max)
{
	struct vq_ring rb = *r;
	struct vq_mem_stats s0, s1;
	unsigned na = 0, nb = 0;
	int rca = 0, rcb = 0, got = 0;

	vq_mem_get_stats(r->mem, &s0);
	while (na <= r->num && (rca = vq_ring_pop(r, &ca[na])) == 1)
		na++;
	vq_mem_get_stats(r->mem, &s1);
	/* each buffer of each chain, its table, and a remap of the areas */
	FUZZ_CHECK(s1.translations - s0.translations <= (uint64_t)(r->num + 1) * (r->num + 2) + 8,
		   "%llu translations for one drain of a queue of %u",
		   (unsigned long long)(s1.translations - s0.translations), r->num);
	FUZZ_CHECK(na <= r->num, "%u chains popped from a queue of %u", na, r->num);
	while (nb <= rb.num && (got = vq_ring_pop_batch(&rb, &cb[nb], max)) > 0) {
		FUZZ_CHECK((unsigned)got <= max, "batch of %d for max %u", got, max);
		nb += (unsigned)got;
	}
	rcb = nb <= rb.num ? got : 0;
	/* after a short batch the error comes on the next call: here, as
	 * -RING_BROKEN, the ring having kept the first error */
	FUZZ_CHECK(na == nb, "single pops %u chains, batches %u", na, nb);
	FUZZ_CHECK(r->error == rb.error, "errors differ: single %d, batch %d", r->error, rb.error);
	FUZZ_CHECK(rca <= 0 && rcb <= 0, "drain did not end");
	FUZZ_CHECK((rca == 0) == (rcb == 0) || rcb == -VQ_E_RING_BROKEN,
		   "single ends with %d, batch with %d", rca, rcb);
	FUZZ_CHECK(r->last_avail == rb.last_avail, "last_avail %u vs %u", r->last_avail,
		   rb.last_avail);
	for (unsigned i = 0; i < na; i++) {
		check_chain(r, &ca[i]);
		FUZZ_CHECK(same_chain(&ca[i], &cb[i]), "chain %u differs between single and batch", i);
	}
	if (r->error && r->error != -VQ_E_NOMEM)
		check_broken(r);
	return na;
}

/* Push chain c with written bytes and check the element as the driver
 * will read it. */
static void push_one(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	uint16_t slot = r->used_idx & (r->num - 1);
	uint32_t id = 0, len = 0;
	int rc = vq_ring_push(r, c, written);

	if (rc == -VQ_E_INVAL || rc == -VQ_E_RING_BROKEN || rc == -VQ_E_RING_RING_MEM)
		return;
	FUZZ_CHECK(rc == 0 || rc == -VQ_E_RING_USED_LEN, "push: %d", rc);
	FUZZ_CHECK((rc == -VQ_E_RING_USED_LEN) == (written > c->write_bytes), "USED_LEN for %u of %llu",
		   written, (unsigned long long)c->write_bytes);
	if (vq_mem_read32(r->mem, r->addr.device + 4 + 8u * slot, &id) == 0 &&
	    vq_mem_read32(r->mem, r->addr.device + 8 + 8u * slot, &len) == 0) {
		FUZZ_CHECK(id == c->head, "used id %u, head %u", id, c->head);
		FUZZ_CHECK(len <= c->write_bytes, "used.len %u > %llu writable bytes", len,
			   (unsigned long long)c->write_bytes);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct vq_mem *m = map_get(fuzz_u8(&in) % MAP__COUNT);
	uint16_t num = (uint16_t)(1u << (fuzz_u8(&in) % 8));
	unsigned feat = fuzz_u8(&in) & (VQ_RING_F_EVENT_IDX | VQ_RING_F_INDIRECT);
	struct vq_ring_addr a;
	struct vq_ring r;
	unsigned held = 0, steps = 0;
	uint16_t avail_idx = 0;
	uint64_t bytes;
	bool zeroed;

	/* the areas back to back from a base, or each anywhere */
	if (fuzz_u8(&in) & 1) {
		a.desc = pick_addr(&in);
		a.driver = pick_addr(&in);
		a.device = pick_addr(&in);
	} else if (vq_ring_size(VQ_RING_SPLIT, num, pick_addr(&in), &a, &bytes) < 0) {
		return 0;
	}
	if (fuzz_u8(&in) & 1) {
		uint64_t gpa = pick_addr(&in);
		uint64_t len = (fuzz_u16(&in) & 0xfff) + 1;
		unsigned acc = fuzz_u8(&in) % 3 + 1;

		vq_mem_fault_add(m, gpa, len, acc);
	}
	if (vq_ring_init(&r, m, VQ_RING_SPLIT, num, &a, feat) < 0) {
		FUZZ_CHECK(r.error == -VQ_E_RING_LAYOUT, "init failed with %d", r.error);
		check_broken(&r);
		return 0;
	}
	/* one read a statement: the order of a call's arguments is the
	 * compiler's choice, and gcc's replay and clang's fuzzer must decode
	 * an input the same way */
	while (in.n && steps++ < 256) {
		unsigned op = fuzz_u8(&in) % 9;

		switch (op) {
		case 0: /* a descriptor of the ring's table */
		case 3: { /* an indirect table entry, anywhere */
			uint64_t at = op == 0 ? a.desc + 16u * (fuzz_u16(&in) % num) : pick_addr(&in);
			uint64_t addr = pick_addr(&in);
			uint32_t len = pick_len(&in);
			uint16_t flags = fuzz_u8(&in) & 7;

			put_desc(m, at, addr, len, flags, pick_index(&in, num));
			break;
		}
		case 1: { /* an avail entry */
			uint64_t at = a.driver + 4 + 2u * (fuzz_u16(&in) % num);

			vq_mem_write16(m, at, pick_index(&in, num));
			break;
		}
		case 2: /* avail idx: mostly a few more chains, sometimes anything */
			avail_idx = (fuzz_u8(&in) & 1) ? fuzz_u16(&in)
						      : (uint16_t)(avail_idx + fuzz_u8(&in) % (num + 2));
			vq_mem_write16(m, a.driver + 2, avail_idx);
			break;
		case 4:
			held = drain(&r, fuzz_u8(&in) % num + 1);
			break;
		case 5: /* give back what the last drain popped */
			for (unsigned i = 0; i < held; i++)
				push_one(&r, &ca[i], (fuzz_u8(&in) & 1) ? fuzz_u32(&in)
									 : (uint32_t)ca[i].write_bytes);
			held = 0;
			break;
		case 6:
			vq_ring_publish(&r);
			break;
		case 7:
			vq_ring_set_notify(&r, fuzz_u8(&in) & 1);
			vq_ring_pending(&r);
			break;
		case 8: /* the driver resets the queue and sets it up again */
			held = 0;
			avail_idx = 0;
			/* (a write fault range may keep the old bytes) */
			zeroed = vq_mem_fill(m, a.driver, 0, VIRTQ_AVAIL_SIZE(num)) == 0 &&
				 vq_mem_fill(m, a.device, 0, VIRTQ_USED_SIZE(num)) == 0;
			vq_ring_reset(&r);
			FUZZ_CHECK(vq_ring_pop(&r, &ca[0]) == -VQ_E_RING_BROKEN, "pop after reset");
			if (vq_ring_init(&r, m, VQ_RING_SPLIT, num, &a, feat) < 0)
				return 0; /* a fault range over an area: refused, fine */
			FUZZ_CHECK(!zeroed || vq_ring_pending(&r) == 0, "fresh ring not empty");
			break;
		}
	}
	return 0;
}
