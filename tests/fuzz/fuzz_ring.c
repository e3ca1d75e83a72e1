/* fuzz_ring.c - the ring harness: the device side of the split and the
 * packed ring fed whatever a guest can write.
 *
 * The input picks a memory map (one region; two regions back to back; two
 * with a hole between them), a queue size, the ring features, the placement
 * of the three areas and an optional fault range, then runs a program of
 * operations: descriptor, avail entry, avail idx and indirect-table writes
 * (values biased towards the interesting ones), drains, pushes, publishes,
 * notification changes and re-initialisations. The feature byte's bits
 * 0-2 turn on EVENT_IDX, INDIRECT_DESC and IN_ORDER; 0x88-0x8f picks the
 * packed layout (any size up to 128, not only powers of two), whose
 * program is run_packed()'s: descriptors at the driver's
 * cursor with its wrap counter's AVAIL/USED bits (or any), raw slots,
 * indirect tables, the driver's event suppression structure, pushes in
 * order or reversed. Beyond crashes and the sanitizers it checks, at every
 * drain:
 * - the single pop and the batch pop, started from the same state, return
 *   the same chains (heads, segments, host pointers reaching the same
 *   bytes) and the same error;
 * - a drain pops at most the chains the driver made available (never more
 *   than the queue size) and does a bounded number of translations;
 * - every segment is still the translation of its own range, a writable
 *   one overlaps no ring area, a chain holds at most queue-size segments;
 * - after an error every entry point says the ring is broken;
 * and at every push that used.len never exceeds the chain's writable bytes.
 *
 * Memory maps are built once per process and wiped per input, so an input
 * costs what the ring does, not a machine's set-up.
 *
 * With fuzz_lua set (replay --lua, vqsim --from-fuzz ring) the input is also
 * written as a vqsim script over m:device_ring{}: the same memory map, the
 * same guest writes, pops, pushes and resets, and the checks a script can
 * make as asserts (chain shapes, single pops against batched pops of a
 * clone, used elements, a broken ring staying broken). */
#include "fuzz.h"
#include "fuzz_ring_lua.h"
#include "ring.h"

#define MAXQ 128                 /* largest queue size tried */
#define LO   0x10000ull          /* guest RAM starts here in every map */
#define SPAN 0x10000ull          /* and spans 64 KiB of guest-physical space */

enum { MAP_ONE, MAP_ADJACENT, MAP_HOLE, MAP__COUNT };

/* An address as the shell takes it: above 2^63 a Lua integer would be
 * negative, so those are written as strings. */
static const char *lua_addr(char buf[24], uint64_t v)
{
	snprintf(buf, 24, v >> 63 ? "\"0x%llx\"" : "0x%llx", (unsigned long long)v);
	return buf;
}
#define LA(v) lua_addr((char[24]){0}, (v))

static struct vq_mem *maps[MAP__COUNT];
/* one more than a queue's chains: a drain tries once past the end */
static struct vq_chain ca[MAXQ + 1], cb[MAXQ + 1];

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

/* The bytes of the three ring areas of a layout. */
static void area_sizes(enum vq_ring_layout layout, uint16_t num, uint64_t sz[3])
{
	if (layout == VQ_RING_PACKED) {
		sz[0] = VIRTQ_PACKED_DESC_SIZE(num);
		sz[1] = sz[2] = VIRTQ_PACKED_EVENT_SIZE;
	} else {
		sz[0] = VIRTQ_DESC_SIZE(num);
		sz[1] = VIRTQ_AVAIL_SIZE(num);
		sz[2] = VIRTQ_USED_SIZE(num);
	}
}

/* Do host pointers a (the translation now) and b (a segment's) reach the
 * same guest bytes? Equal pointers do; so do two views of the same pages
 * (a range that crossed from one region into the next made a run, which
 * maps both regions again side by side, and later translations may
 * answer from it): a byte changed through a shows through b, probed at
 * the start, at every page and at the end. */
static bool probe(uint8_t *a, const uint8_t *b, uint64_t at)
{
	uint8_t was = a[at], flip = (uint8_t)~was;
	bool same;

	a[at] = flip;
	same = b[at] == flip;
	a[at] = was;
	return same;
}

static bool aliases(void *a, void *b, uint32_t len)
{
	if (a == b)
		return true;
	if (!a || !b || len == 0)
		return false;
	for (uint64_t off = 0; off < len; off += 4096)
		if (!probe(a, b, off))
			return false;
	return probe(a, b, len - 1u);
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
		FUZZ_CHECK(aliases(vq_mem_translate(r->mem, s->gpa, s->len, acc, NULL), s->host,
				   s->len),
			   "segment %u (0x%llx+%u) is not its own translation", i,
			   (unsigned long long)s->gpa, s->len);
		if (s->writable) {
			uint64_t sz[3];

			area_sizes(r->layout, r->num, sz);
			FUZZ_CHECK(!overlaps(s->gpa, s->len, r->addr.desc, sz[0]) &&
					   !overlaps(s->gpa, s->len, r->addr.driver, sz[1]) &&
					   !overlaps(s->gpa, s->len, r->addr.device, sz[2]),
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
		if (a->seg[i].gpa != b->seg[i].gpa || a->seg[i].len != b->seg[i].len ||
		    a->seg[i].writable != b->seg[i].writable ||
		    !aliases(a->seg[i].host, b->seg[i].host, a->seg[i].len))
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

/* The packed slot the next push writes: the used cursor, or with
 * IN_ORDER after the first push since a publish, the batch's one used
 * descriptor at its first slot (spec 2.8.8). */
static uint16_t push_slot(const struct vq_ring *r)
{
	return (r->features & VQ_RING_F_IN_ORDER) && r->pub_pending ? r->pub_slot : r->used_idx;
}

/* Push chain c with written bytes and check the element as the driver
 * will read it. */
static void push_one(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	bool packed = r->layout == VQ_RING_PACKED;
	uint16_t slot = packed ? push_slot(r) : r->used_idx & (r->num - 1);
	/* split: used ring element {id32, len32}; packed: the descriptor
	 * slot at the used cursor, len at 8, id (16 bits) at 12 */
	uint64_t id_at = packed ? r->addr.desc + 16u * slot + 12 : r->addr.device + 4 + 8u * slot;
	uint64_t len_at = packed ? r->addr.desc + 16u * slot + 8 : r->addr.device + 8 + 8u * slot;
	uint32_t id = 0, len = 0;
	uint16_t id16 = 0;
	int rc = vq_ring_push(r, c, written);

	if (rc == -VQ_E_INVAL || rc == -VQ_E_RING_BROKEN || rc == -VQ_E_RING_RING_MEM)
		return;
	FUZZ_CHECK(rc == 0 || rc == -VQ_E_RING_USED_LEN, "push: %d", rc);
	FUZZ_CHECK((rc == -VQ_E_RING_USED_LEN) == (written > c->write_bytes), "USED_LEN for %u of %llu",
		   written, (unsigned long long)c->write_bytes);
	if ((packed ? vq_mem_read16(r->mem, id_at, &id16) : vq_mem_read32(r->mem, id_at, &id)) == 0 &&
	    vq_mem_read32(r->mem, len_at, &len) == 0) {
		if (packed)
			id = id16;
		FUZZ_CHECK(id == c->head, "used id %u, head %u", id, c->head);
		FUZZ_CHECK(len <= c->write_bytes, "used.len %u > %llu writable bytes", len,
			   (unsigned long long)c->write_bytes);
	}
}

/* After a reset and a fresh init over zeroed rings: the ring works. The
 * driver offers one readable 16-byte buffer as the first chain (split:
 * descriptor 0, avail slot 0, avail idx 1; packed: slot 0, id 0, AVAIL in
 * wrap 1); it pops as exactly that chain, and is used back. Skipped when
 * the areas overlap, or a fault range keeps the guest's writes out or
 * covers every candidate buffer. Returns whether the driver's cursor moved by one. */
static bool check_works(struct vq_ring *r, struct vq_mem *m, const struct vq_ring_addr *a)
{
	bool packed = r->layout == VQ_RING_PACKED;
	uint64_t buf = 0, sz[3];
	int rc;

	/* areas over each other: the driver's writes would clobber each other */
	area_sizes(r->layout, r->num, sz);
	if (overlaps(a->desc, sz[0], a->driver, sz[1]) || overlaps(a->desc, sz[0], a->device, sz[2]) ||
	    overlaps(a->driver, sz[1], a->device, sz[2]))
		return false;
	for (uint64_t k = 0; k < 8 && !buf; k++)
		if (vq_mem_translate(m, LO + 0x1000 * k + 0x40, 16, VQ_ACC_READ, NULL))
			buf = LO + 0x1000 * k + 0x40;
	if (!buf)
		return false;
	if (packed ? vq_mem_write64(m, a->desc, buf) || vq_mem_write32(m, a->desc + 8, 16) ||
			     vq_mem_write16(m, a->desc + 12, 0) ||
			     vq_mem_write16(m, a->desc + 14, VIRTQ_DESC_F_AVAIL)
		   : vq_mem_write64(m, a->desc, buf) || vq_mem_write32(m, a->desc + 8, 16) ||
			     vq_mem_write32(m, a->desc + 12, 0) ||
			     vq_mem_write16(m, a->driver + 4, 0) ||
			     vq_mem_write16(m, a->driver + 2, 1))
		return false; /* (some writes may have landed: the ring is as the guest left it) */
	FUZZ_LUA("-- the fresh ring works: one readable buffer at 0x%llx as its first chain\n"
		 "pcall(m.mem.u64, m.mem, %s, 0x%llx); pcall(m.mem.u32, m.mem, %s, 16)\n",
		 (unsigned long long)buf, LA(a->desc), (unsigned long long)buf, LA(a->desc + 8));
	if (packed)
		FUZZ_LUA("pcall(m.mem.u16, m.mem, %s, 0); pcall(m.mem.u16, m.mem, %s, 0x%x)\n",
			 LA(a->desc + 12), LA(a->desc + 14), VIRTQ_DESC_F_AVAIL);
	else
		FUZZ_LUA("pcall(m.mem.u32, m.mem, %s, 0); pcall(m.mem.u16, m.mem, %s, 0)\n"
			 "pcall(m.mem.u16, m.mem, %s, 1)\n", LA(a->desc + 12), LA(a->driver + 4),
			 LA(a->driver + 2));
	FUZZ_LUA("do\n  local c = r:pop()\n"
		 "  assert(c and c.head == 0 and #c.segs == 1 and c.segs[1].gpa == 0x%llx and\n"
		 "         c.segs[1].len == 16 and not c.segs[1].write, \"the fresh ring's first chain\")\n"
		 "  assert(r:push(c, 0)); r:publish()\nend\n", (unsigned long long)buf);
	rc = vq_ring_pop(r, &ca[0]);
	FUZZ_CHECK(rc == 1 && ca[0].head == 0 && ca[0].nseg == 1 && ca[0].seg[0].gpa == buf &&
			   ca[0].read_bytes == 16 && ca[0].write_bytes == 0,
		   "the fresh ring's first chain: pop %d (%s)", rc, r->error_detail);
	FUZZ_CHECK(vq_ring_push(r, &ca[0], 0) == 0, "pushing it back: %s", r->error_detail);
	vq_ring_publish(r);
	return true;
}

/* A packed descriptor: addr, len, id, then the flags. */
static void put_pdesc(struct vq_mem *m, uint64_t gpa, uint64_t addr, uint32_t len, uint16_t id,
		      uint16_t flags)
{
	FUZZ_LUA("pcall(m.mem.u64, m.mem, %s, 0x%llx); pcall(m.mem.u32, m.mem, %s, %u)\n"
		 "pcall(m.mem.u16, m.mem, %s, %u); pcall(m.mem.u16, m.mem, %s, 0x%x)\n", LA(gpa),
		 (unsigned long long)addr, LA(gpa + 8), len, LA(gpa + 12), id, LA(gpa + 14), flags);
	vq_mem_write64(m, gpa, addr);
	vq_mem_write32(m, gpa + 8, len);
	vq_mem_write16(m, gpa + 12, id);
	vq_mem_write16(m, gpa + 14, flags);
}

/* The packed layout's program: the driver's descriptors at its own cursor
 * (the AVAIL/USED bits of its wrap counter, or any), raw slots, indirect
 * tables, the driver's event suppression structure; the device's drains,
 * pushes (in order or not: packed ids complete in any order), publishes,
 * notification changes and queue resets. The checks are the split ones. */
static int run_packed(struct fuzz_in *in, struct vq_mem *m, struct vq_ring *r,
		      const struct vq_ring_addr *a, unsigned feat)
{
	uint16_t num = r->num, dslot = 0;
	bool dwrap = true;
	unsigned held = 0, steps = 0;
	bool zeroed;

	while (in->n && steps++ < 256) {
		unsigned op = fuzz_u8(in) % 10;

		switch (op) {
		case 0:
		case 9: { /* the driver's next descriptor, at its cursor */
			uint64_t addr = pick_addr(in);
			uint32_t len = pick_len(in);
			uint16_t id = pick_index(in, num);
			uint8_t fl = fuzz_u8(in);
			uint16_t flags = fl & 7; /* NEXT, WRITE, INDIRECT */

			if (fl & 0x80) /* AVAIL and USED as the input says */
				flags |= (fl & 0x20 ? VIRTQ_DESC_F_AVAIL : 0) |
					 (fl & 0x40 ? VIRTQ_DESC_F_USED : 0);
			else /* available in the driver's wrap */
				flags |= dwrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
			FUZZ_LUA("-- driver: slot %u (wrap %u): addr 0x%llx, len %u, id %u, flags "
				 "0x%x%s%s%s\n", dslot, dwrap, (unsigned long long)addr, len, id, flags,
				 flags & 1 ? " NEXT" : "", flags & 2 ? " WRITE" : "",
				 flags & 4 ? " INDIRECT" : "");
			put_pdesc(m, a->desc + 16u * dslot, addr, len, id, flags);
			if (++dslot >= num) {
				dslot = 0;
				dwrap = !dwrap;
			}
			break;
		}
		case 1: { /* any slot, any flags */
			uint64_t at = a->desc + 16u * (fuzz_u16(in) % num);
			uint64_t addr = pick_addr(in);
			uint32_t len = pick_len(in);
			uint16_t id = pick_index(in, num);
			uint16_t flags = fuzz_u16(in);

			FUZZ_LUA("-- a raw descriptor slot\n");
			put_pdesc(m, at, addr, len, id, flags);
			break;
		}
		case 2: { /* an indirect table entry, anywhere */
			uint64_t at = pick_addr(in);
			uint64_t addr = pick_addr(in);
			uint32_t len = pick_len(in);
			uint8_t fl = fuzz_u8(in);
			uint16_t flags = fl & 0x80 ? fuzz_u16(in) : (uint16_t)(fl & VIRTQ_DESC_F_WRITE);

			FUZZ_LUA("-- an indirect table entry\n");
			put_pdesc(m, at, addr, len, 0, flags);
			break;
		}
		case 3: { /* the driver's event suppression: when to interrupt */
			uint16_t off = fuzz_u16(in);
			uint16_t off_wrap = (uint16_t)((off & 0x8000) | ((off & 0x7fff) % (num + 1)));
			uint16_t flags = fuzz_u8(in) & 3;

			FUZZ_LUA("pcall(m.mem.u16, m.mem, %s, 0x%x); pcall(m.mem.u16, m.mem, %s, %u) "
				 "-- driver event suppression\n", LA(a->driver), off_wrap,
				 LA(a->driver + 2), flags);
			vq_mem_write16(m, a->driver, off_wrap);
			vq_mem_write16(m, a->driver + 2, flags);
			break;
		}
		case 4: {
			unsigned max = fuzz_u8(in) % num + 1;

			FUZZ_LUA("held = drain(r, %u, areas)\n", max);
			held = drain(r, max);
			FUZZ_CHECK(r->inflight_desc <= num, "%u descriptors in flight, size %u",
				   r->inflight_desc, num);
			break;
		}
		case 5: { /* give back what the last drain popped, in order or reversed */
			bool rev = fuzz_u8(in) & 1;

			for (unsigned k = 0; k < held; k++) {
				unsigned i = rev ? held - 1 - k : k;
				uint32_t written = (fuzz_u8(in) & 1) ? fuzz_u32(in)
								     : (uint32_t)ca[i].write_bytes;

				FUZZ_LUA("push_one_packed(m, r, held[%u], %u, %s, %u)\n", i + 1,
					 written, LA(a->desc), push_slot(r));
				push_one(r, &ca[i], written);
			}
			FUZZ_LUA("held = {}\n");
			held = 0;
			break;
		}
		case 6: {
			uint16_t slot = r->pub_slot, flags = r->pub_flags;
			bool pending = r->pub_pending;
			uint16_t got = 0;

			FUZZ_LUA("r:publish()\n");
			/* the first used descriptor of the batch gets its flags */
			if (vq_ring_publish(r) >= 0 && pending &&
			    vq_mem_read16(m, a->desc + 16u * slot + 14, &got) == 0)
				FUZZ_CHECK(got == flags, "slot %u flags 0x%x after publish, 0x%x due",
					   slot, got, flags);
			break;
		}
		case 7: {
			bool on = fuzz_u8(in) & 1;

			FUZZ_LUA("r:set_notify(%s); r:pending()\n", on ? "true" : "false");
			vq_ring_set_notify(r, on);
			vq_ring_pending(r);
			break;
		}
		case 8: /* the driver resets the queue and sets it up again */
			held = 0;
			dslot = 0;
			dwrap = true;
			zeroed = vq_mem_fill(m, a->desc, 0, VIRTQ_PACKED_DESC_SIZE(num)) == 0 &&
				 vq_mem_fill(m, a->driver, 0, VIRTQ_PACKED_EVENT_SIZE) == 0;
			FUZZ_LUA("-- the driver resets the queue, zeroes its ring, sets it up again\n"
				 "local zeroed = pcall(m.mem.fill, m.mem, %s, %u, 0) and "
				 "pcall(m.mem.fill, m.mem, %s, %u, 0)\n"
				 "r:reset(); assert(not r:pop(), \"pop after reset\")\n"
				 "if not r:init() then return end -- a fault range over an area: refused\n"
				 "assert(not zeroed or r:pending() == 0, \"fresh ring not empty\")\n"
				 "held = {}\n", LA(a->desc), (unsigned)VIRTQ_PACKED_DESC_SIZE(num),
				 LA(a->driver), VIRTQ_PACKED_EVENT_SIZE);
			vq_ring_reset(r);
			FUZZ_CHECK(vq_ring_pop(r, &ca[0]) == -VQ_E_RING_BROKEN, "pop after reset");
			if (vq_ring_init(r, m, VQ_RING_PACKED, num, a, feat) < 0)
				return 0; /* a fault range over an area: refused, fine */
			FUZZ_CHECK(r->inflight_desc == 0 && r->last_avail == 0 && r->avail_wrap,
				   "fresh ring: %u in flight, slot %u", r->inflight_desc, r->last_avail);
			FUZZ_CHECK(!zeroed || vq_ring_pending(r) == 0, "fresh ring not empty");
			if (zeroed && check_works(r, m, a)) {
				/* the driver's cursor is past slot 0 */
				dslot = num > 1 ? 1 : 0;
				dwrap = num > 1;
			}
			break;
		}
	}
	FUZZ_LUA("print(\"every invariant held\")\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	unsigned map = fuzz_u8(&in) % MAP__COUNT;
	struct vq_mem *m = map_get(map);
	uint8_t nb = fuzz_u8(&in);
	uint8_t fb = fuzz_u8(&in);
	/* the feature byte's bits 0-2 are EVENT_IDX, INDIRECT and IN_ORDER;
	 * 0x88..0x8f picks the packed layout (values no split input of the
	 * corpus had); packed sizes need not be powers of two */
	enum vq_ring_layout lay = (fb & 0xf8) == 0x88 ? VQ_RING_PACKED : VQ_RING_SPLIT;
	uint16_t num = lay == VQ_RING_PACKED && (nb & 0x80) ? (uint16_t)((nb & 0x7f) + 1)
							     : (uint16_t)(1u << (nb % 8));
	unsigned feat = fb & (VQ_RING_F_EVENT_IDX | VQ_RING_F_INDIRECT | VQ_RING_F_IN_ORDER);
	uint64_t sz[3];
	struct vq_ring_addr a;
	struct vq_ring r;
	unsigned held = 0, steps = 0;
	uint16_t avail_idx = 0;
	uint64_t bytes;
	bool zeroed;

	FUZZ_LUA("%slocal m = vqsim.machine{seed = 1, ram = 0}\n", lua_prelude);
	switch (map) {
	case MAP_ONE:
		FUZZ_LUA("m:add_ram(0x%llx, 0x%llx)\n", LO, SPAN);
		break;
	case MAP_ADJACENT:
		FUZZ_LUA("m:add_ram(0x%llx, 0x%llx) -- two regions back to back\n"
			 "m:add_ram(0x%llx, 0x%llx)\n", LO, SPAN / 2, LO + SPAN / 2, SPAN / 2);
		break;
	default:
		FUZZ_LUA("m:add_ram(0x%llx, 0x%llx) -- two regions, a page of hole between\n"
			 "m:add_ram(0x%llx, 0x%llx)\n", LO, SPAN / 2 - 0x1000, LO + SPAN / 2, SPAN / 2);
		break;
	}
	/* the areas back to back from a base, or each anywhere */
	if (fuzz_u8(&in) & 1) {
		a.desc = pick_addr(&in);
		a.driver = pick_addr(&in);
		a.device = pick_addr(&in);
	} else if (vq_ring_size(lay, num, pick_addr(&in), &a, &bytes) < 0) {
		FUZZ_LUA("print(\"the ring's areas do not fit below 2^64: nothing to try\")\n");
		return 0;
	}
	if (fuzz_u8(&in) & 1) {
		uint64_t gpa = pick_addr(&in);
		uint64_t len = (fuzz_u16(&in) & 0xfff) + 1;
		unsigned acc = fuzz_u8(&in) % 3 + 1;
		static const char *const dir[] = {"", "r", "w", "rw"};

		FUZZ_LUA("pcall(m.mem.fault, m.mem, %s, %llu, \"%s\")\n", LA(gpa),
			 (unsigned long long)len, dir[acc]);
		vq_mem_fault_add(m, gpa, len, acc);
	}
	area_sizes(lay, num, sz);
	FUZZ_LUA("local areas = {{%s, %u}, {%s, %u}, {%s, %u}}\n"
		 "local r, err, detail = m:device_ring{num = %u, desc = %s, driver = %s, device = %s, "
		 "features = {%s%s%s}%s}\n", LA(a.desc), (unsigned)sz[0], LA(a.driver),
		 (unsigned)sz[1], LA(a.device), (unsigned)sz[2], num,
		 LA(a.desc), LA(a.driver), LA(a.device),
		 feat & VQ_RING_F_EVENT_IDX ? "\"EVENT_IDX\", " : "",
		 feat & VQ_RING_F_INDIRECT ? "\"INDIRECT_DESC\", " : "",
		 feat & VQ_RING_F_IN_ORDER ? "\"IN_ORDER\"" : "",
		 lay == VQ_RING_PACKED ? ", layout = \"packed\"" : "");
	if (vq_ring_init(&r, m, lay, num, &a, feat) < 0) {
		FUZZ_LUA("assert(not r and err == \"RING_LAYOUT\", \"the ring is refused\")\n"
			 "print(\"refused: \" .. detail)\n");
		FUZZ_CHECK(r.error == -VQ_E_RING_LAYOUT, "init failed with %d", r.error);
		check_broken(&r);
		return 0;
	}
	FUZZ_LUA("assert(r, detail)\nlocal held = {}\n");
	if (lay == VQ_RING_PACKED)
		return run_packed(&in, m, &r, &a, feat);
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
			uint16_t next = pick_index(&in, num);

			FUZZ_LUA("-- %s at %s: addr 0x%llx, len %u, flags %u%s%s%s, next %u\n"
				 "pcall(m.mem.u64, m.mem, %s, 0x%llx); pcall(m.mem.u32, m.mem, %s, %u)\n"
				 "pcall(m.mem.u16, m.mem, %s, %u); pcall(m.mem.u16, m.mem, %s, %u)\n",
				 op == 0 ? "descriptor" : "an indirect table entry", LA(at),
				 (unsigned long long)addr, len, flags, flags & 1 ? " NEXT" : "",
				 flags & 2 ? " WRITE" : "", flags & 4 ? " INDIRECT" : "", next, LA(at),
				 (unsigned long long)addr, LA(at + 8), len, LA(at + 12), flags,
				 LA(at + 14), next);
			put_desc(m, at, addr, len, flags, next);
			break;
		}
		case 1: { /* an avail entry */
			uint64_t at = a.driver + 4 + 2u * (fuzz_u16(&in) % num);
			uint16_t head = pick_index(&in, num);

			FUZZ_LUA("pcall(m.mem.u16, m.mem, %s, %u) -- avail ring entry: head %u\n", LA(at),
				 head, head);
			vq_mem_write16(m, at, head);
			break;
		}
		case 2: /* avail idx: mostly a few more chains, sometimes anything */
			avail_idx = (fuzz_u8(&in) & 1) ? fuzz_u16(&in)
						      : (uint16_t)(avail_idx + fuzz_u8(&in) % (num + 2));
			FUZZ_LUA("pcall(m.mem.u16, m.mem, %s, %u) -- avail idx\n", LA(a.driver + 2),
				 avail_idx);
			vq_mem_write16(m, a.driver + 2, avail_idx);
			break;
		case 4: {
			unsigned max = fuzz_u8(&in) % num + 1;

			FUZZ_LUA("held = drain(r, %u, areas)\n", max);
			held = drain(&r, max);
			break;
		}
		case 5: /* give back what the last drain popped */
			for (unsigned i = 0; i < held; i++) {
				uint32_t written = (fuzz_u8(&in) & 1) ? fuzz_u32(&in)
								      : (uint32_t)ca[i].write_bytes;

				FUZZ_LUA("push_one(m, r, held[%u], %u, %s)\n", i + 1, written,
					 LA(a.device));
				push_one(&r, &ca[i], written);
			}
			FUZZ_LUA("held = {}\n");
			held = 0;
			break;
		case 6:
			FUZZ_LUA("r:publish()\n");
			vq_ring_publish(&r);
			break;
		case 7: {
			bool on = fuzz_u8(&in) & 1;

			FUZZ_LUA("r:set_notify(%s); r:pending()\n", on ? "true" : "false");
			vq_ring_set_notify(&r, on);
			vq_ring_pending(&r);
			break;
		}
		case 8: /* the driver resets the queue and sets it up again */
			held = 0;
			avail_idx = 0;
			/* (a write fault range may keep the old bytes) */
			zeroed = vq_mem_fill(m, a.driver, 0, VIRTQ_AVAIL_SIZE(num)) == 0 &&
				 vq_mem_fill(m, a.device, 0, VIRTQ_USED_SIZE(num)) == 0;
			FUZZ_LUA("-- the driver resets the queue, zeroes its rings, sets it up again\n"
				 "local zeroed = pcall(m.mem.fill, m.mem, %s, %u, 0) and "
				 "pcall(m.mem.fill, m.mem, %s, %u, 0)\n"
				 "r:reset(); assert(not r:pop(), \"pop after reset\")\n"
				 "if not r:init() then return end -- a fault range over an area: refused\n"
				 "assert(not zeroed or r:pending() == 0, \"fresh ring not empty\")\n"
				 "held = {}\n", LA(a.driver), (unsigned)VIRTQ_AVAIL_SIZE(num),
				 LA(a.device), (unsigned)VIRTQ_USED_SIZE(num));
			vq_ring_reset(&r);
			FUZZ_CHECK(vq_ring_pop(&r, &ca[0]) == -VQ_E_RING_BROKEN, "pop after reset");
			if (vq_ring_init(&r, m, VQ_RING_SPLIT, num, &a, feat) < 0)
				return 0; /* a fault range over an area: refused, fine */
			FUZZ_CHECK(!zeroed || vq_ring_pending(&r) == 0, "fresh ring not empty");
			if (zeroed && check_works(&r, m, &a))
				avail_idx = 1;
			break;
		}
	}
	FUZZ_LUA("print(\"every invariant held\")\n");
	return 0;
}
