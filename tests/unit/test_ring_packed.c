/* test_ring_packed.c - unit tests for the packed virtqueue (emu/ring_packed.c),
 * device side and driver side: the wrap at every position with chains of
 * 1..4 descriptors, used descriptors at the chain's first slot with its id,
 * out-of-order completion, event suppression in every mode, each validation
 * error (the ring then broken until vq_ring_init()), indirect tables, batch
 * and single paths writing the same bytes, and the vhost-user ring base.
 *
 * Hostile rings are built by writing raw descriptors into guest memory. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "ring_internal.h"

#define MEM_GPA  0x10000ull
#define MEM_SIZE 0x100000ull
#define RING_GPA 0x10000ull
#define TBL      0x60000ull
#define BUF      0x80000ull

#define F_NEXT VIRTQ_DESC_F_NEXT
#define F_WR   VIRTQ_DESC_F_WRITE
#define F_IND  VIRTQ_DESC_F_INDIRECT
#define F_A    VIRTQ_DESC_F_AVAIL
#define F_U    VIRTQ_DESC_F_USED

static struct vq_mem *m;
static struct vq_ring r;
static struct vq_ring_drv drv;
static struct vq_chain c;
static struct vq_ring_addr ra;
static uint16_t cur_num;

static void ring_setup(uint16_t num, unsigned features)
{
	uint64_t bytes;

	vq_ring_drv_free(&drv);
	ck_assert_int_eq(vq_ring_size(VQ_RING_PACKED, num, RING_GPA, &ra, &bytes), 0);
	ck_assert_uint_eq(bytes, 16ull * num + 8);
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_PACKED, num, &ra, features), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_PACKED, num, &ra, features), 0);
	cur_num = num;
}

static void setup(void)
{
	m = vq_mem_new();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_mem_add_region(m, "ram", MEM_GPA, MEM_SIZE), 0);
	memset(&drv, 0, sizeof(drv));
	vq_chain_init(&c);
	ring_setup(8, VQ_RING_F_INDIRECT);
}

static void teardown(void)
{
	vq_chain_release(&c);
	vq_ring_drv_free(&drv);
	vq_mem_free(m);
}

/* ---- raw guest-side helpers ------------------------------------------- */

static void raw_desc(uint16_t slot, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	uint64_t p = ra.desc + 16ull * slot;

	ck_assert_int_eq(vq_mem_write64(m, p, addr), 0);
	ck_assert_int_eq(vq_mem_write32(m, p + 8, len), 0);
	ck_assert_int_eq(vq_mem_write16(m, p + 12, id), 0);
	ck_assert_int_eq(vq_mem_write16(m, p + 14, flags), 0);
}

static uint16_t raw_flags(uint16_t slot)
{
	uint16_t v;

	ck_assert_int_eq(vq_mem_read16(m, ra.desc + 16ull * slot + 14, &v), 0);
	return v;
}

static uint16_t raw_id(uint16_t slot)
{
	uint16_t v;

	ck_assert_int_eq(vq_mem_read16(m, ra.desc + 16ull * slot + 12, &v), 0);
	return v;
}

static uint32_t raw_len(uint16_t slot)
{
	uint32_t v;

	ck_assert_int_eq(vq_mem_read32(m, ra.desc + 16ull * slot + 8, &v), 0);
	return v;
}

/* event suppression structure: off_wrap, flags */
static void raw_event(uint64_t area, uint16_t off_wrap, uint16_t flags)
{
	ck_assert_int_eq(vq_mem_write16(m, area, off_wrap), 0);
	ck_assert_int_eq(vq_mem_write16(m, area + 2, flags), 0);
}

static uint16_t read16(uint64_t gpa)
{
	uint16_t v;

	ck_assert_int_eq(vq_mem_read16(m, gpa, &v), 0);
	return v;
}

/* A chain of n buffers through the driver: n-1 readable, the last writable. */
static int drv_add_n(unsigned n, uint64_t token)
{
	struct vq_buf b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (struct vq_buf){BUF + 0x100 * i, 16, i + 1 == n};
	return vq_ring_drv_add(&drv, b, n, token);
}

/* The ring is broken with code, stays so, and comes back after init. */
static void assert_broken(int code)
{
	ck_assert_int_eq(r.error, -code);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_pending(&r), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_push(&r, &c, 0), VQ_E_RING_BROKEN);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_PACKED, cur_num, &ra, r.features), 0);
	ck_assert_int_eq(r.error, 0);
}

/* ---- the wrap, chains of every length --------------------------------- */

/* Long runs with chains of len 1..4 on queues of 8 and 5 (packed sizes need
 * not be powers of two): the driver's id comes back, the used descriptor sits
 * at the chain's first slot with the chain's id and the wrap counter in both
 * bits, and the ring wraps where the slots run out. */
static void run_wrap(uint16_t num, unsigned len, bool batch)
{
	uint16_t slot = 0;
	bool wrap = true;

	ring_setup(num, 0);
	for (unsigned it = 0; it < 3u * num + 1; it++) {
		uint64_t tok = 0;
		uint32_t ulen = 0;
		int id = drv_add_n(len, 1000 + it), rc;

		ck_assert_int_ge(id, 0);
		ck_assert_int_eq(vq_ring_pending(&r), 0);
		ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
		ck_assert_int_eq(vq_ring_pending(&r), 1);
		rc = batch ? vq_ring_pop_batch(&r, &c, 4) : vq_ring_pop(&r, &c);
		ck_assert_int_eq(rc, 1);
		ck_assert_uint_eq(c.head, (unsigned)id);
		ck_assert_uint_eq(c.ndesc, len);
		ck_assert_uint_eq(c.nseg, len);
		ck_assert_uint_eq(c.nread, len - 1);
		ck_assert_uint_eq(c.write_bytes, 16);
		ck_assert_uint_eq(c.seg[0].gpa, BUF);
		if (batch) {
			uint32_t w = 7;
			ck_assert_int_eq(vq_ring_push_batch(&r, &c, &w, 1), 0);
		} else {
			ck_assert_int_eq(vq_ring_push(&r, &c, 7), 0);
		}
		/* not visible before publish */
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &ulen), 0);
		ck_assert_int_eq(vq_ring_publish(&r), 1);
		ck_assert_uint_eq(raw_id(slot), (unsigned)id);
		ck_assert_uint_eq(raw_len(slot), 7);
		ck_assert_uint_eq(raw_flags(slot), (wrap ? F_A | F_U : 0) | F_WR);
		rc = batch ? vq_ring_drv_get_used_batch(&drv, &tok, &ulen, 4)
			   : vq_ring_drv_get_used(&drv, &tok, &ulen);
		ck_assert_int_eq(rc, 1);
		ck_assert_uint_eq(tok, 1000 + it);
		ck_assert_uint_eq(ulen, 7);
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &ulen), 0);
		slot = (uint16_t)(slot + len);
		if (slot >= num) {
			slot = (uint16_t)(slot - num);
			wrap = !wrap;
		}
		ck_assert_uint_eq(r.last_avail, slot);
		ck_assert_uint_eq(r.avail_wrap, wrap);
		ck_assert_uint_eq(r.used_idx, slot);
		ck_assert_uint_eq(r.used_wrap, wrap);
		ck_assert_uint_eq(drv.avail_idx, slot);
		ck_assert_uint_eq(drv.last_used, slot);
		ck_assert_uint_eq(drv.used_wrap, wrap);
	}
}

START_TEST(test_wrap_every_length)
{
	for (unsigned len = 1; len <= 4; len++) {
		run_wrap(8, len, false);
		run_wrap(8, len, true);
		run_wrap(5, len, false);
		run_wrap(5, len, true);
	}
}
END_TEST

/* Several chains in flight across the wrap, mixed lengths, full ring. */
START_TEST(test_full_ring_mixed)
{
	struct vq_chain cs[8];
	uint32_t w[8] = {0};
	uint64_t toks[8];
	int n;

	ring_setup(8, 0);
	for (unsigned i = 0; i < 8; i++)
		vq_chain_init(&cs[i]);
	for (unsigned lap = 0; lap < 20; lap++) {
		unsigned len = 1 + lap % 3, added = 0, used = 0;

		while (drv_add_n(len, lap * 100 + added) >= 0)
			added++;
		ck_assert_uint_eq(added, 8 / len);
		ck_assert_err(drv_add_n(len, 0), VQ_E_NOSPC);
		vq_ring_drv_publish(&drv);
		n = vq_ring_pop_batch(&r, cs, 8);
		ck_assert_int_eq(n, (int)added);
		ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
		ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, (unsigned)n), 0);
		vq_ring_publish(&r);
		used = (unsigned)vq_ring_drv_get_used_batch(&drv, toks, NULL, 8);
		ck_assert_uint_eq(used, added);
		for (unsigned i = 0; i < used; i++)
			ck_assert_uint_eq(toks[i], lap * 100 + i);
	}
	for (unsigned i = 0; i < 8; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* ---- out-of-order completion ------------------------------------------ */

/* Chains of 1, 2 and 1 descriptors (slots 0, 1-2, 3) completed 3rd, 1st,
 * 2nd: the used descriptors go to slots 0, 1 and 2 (each advancing by the
 * completed chain's length), with the ids in completion order. */
START_TEST(test_out_of_order)
{
	struct vq_chain cs[3];
	uint64_t tok;
	int id[3];

	for (unsigned i = 0; i < 3; i++)
		vq_chain_init(&cs[i]);
	id[0] = drv_add_n(1, 10);
	id[1] = drv_add_n(2, 11);
	id[2] = drv_add_n(1, 12);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 3), 3);
	ck_assert_int_eq(vq_ring_push(&r, &cs[2], 1), 0);
	ck_assert_int_eq(vq_ring_push(&r, &cs[0], 2), 0);
	ck_assert_int_eq(vq_ring_push(&r, &cs[1], 3), 0);
	/* a chain already completed cannot be completed again */
	ck_assert_err(vq_ring_push(&r, &cs[1], 3), VQ_E_INVAL);
	vq_ring_publish(&r);
	ck_assert_uint_eq(raw_id(0), (unsigned)id[2]);
	ck_assert_uint_eq(raw_id(1), (unsigned)id[0]);
	ck_assert_uint_eq(raw_id(2), (unsigned)id[1]);
	ck_assert_uint_eq(r.used_idx, 4);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, NULL), 1);
	ck_assert_uint_eq(tok, 12);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, NULL), 1);
	ck_assert_uint_eq(tok, 10);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, NULL), 1);
	ck_assert_uint_eq(tok, 11);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, NULL), 0);
	ck_assert_uint_eq(drv.num_free, 8);
	for (unsigned i = 0; i < 3; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* ---- event suppression ------------------------------------------------ */

static void one_round(void)
{
	ck_assert_int_ge(drv_add_n(1, 1), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
}

/* Used-buffer notifications without EVENT_IDX: ENABLE interrupts, DISABLE
 * does not, DESC (undefined without EVENT_IDX) and the reserved 3 act as
 * ENABLE. */
START_TEST(test_interrupt_modes)
{
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 1); /* ENABLE (zeroed area) */
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, false), 0);
	ck_assert_uint_eq(read16(ra.driver + 2), VIRTQ_PACKED_EVENT_DISABLE);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 0);
	/* enabling with a used descriptor unreaped says so */
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 1);
	ck_assert_uint_eq(read16(ra.driver + 2), VIRTQ_PACKED_EVENT_ENABLE);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 0);
	raw_event(ra.driver, 0, VIRTQ_PACKED_EVENT_RESERVED);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	raw_event(ra.driver, 7, VIRTQ_PACKED_EVENT_DESC);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	/* nothing pushed: nothing to publish, no interrupt */
	ck_assert_int_eq(vq_ring_publish(&r), 0);
}
END_TEST

/* With EVENT_IDX, DESC interrupts exactly when the used cursor passes the
 * slot and wrap counter in off_wrap, also a lap later and when a chain
 * jumps over the slot. */
START_TEST(test_interrupt_desc)
{
	int irq[32];

	ring_setup(8, VQ_RING_F_EVENT_IDX);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 1); /* first decision */
	vq_ring_drv_get_used(&drv, NULL, NULL);
	/* slot 3, wrap 1 */
	raw_event(ra.driver, 3 | VIRTQ_PACKED_EVENT_WRAP, VIRTQ_PACKED_EVENT_DESC);
	for (unsigned i = 0; i < 10; i++) {
		one_round();
		irq[i] = vq_ring_publish(&r); /* used cursor 1 -> 2, ... */
		vq_ring_drv_get_used(&drv, NULL, NULL);
	}
	/* chain at slot 3 (round 2) passes slot 3; a lap later (wrap 0)
	 * it does not match */
	for (unsigned i = 0; i < 10; i++)
		ck_assert_int_eq(irq[i], i == 2);
	/* used cursor now at slot 3, wrap 0: ask for slot 4 wrap 0 */
	ck_assert_uint_eq(r.used_idx, 3);
	ck_assert_uint_eq(r.used_wrap, 0);
	raw_event(ra.driver, 4, VIRTQ_PACKED_EVENT_DESC);
	/* a chain of 3 (slots 3-5) jumps over slot 4 */
	ck_assert_int_ge(drv_add_n(3, 1), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	vq_ring_push(&r, &c, 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	vq_ring_drv_get_used(&drv, NULL, NULL);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 0);
	vq_ring_drv_get_used(&drv, NULL, NULL);
	/* the driver's own enable asks for the next slot to reap */
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 0);
	ck_assert_uint_eq(read16(ra.driver), 7);
	ck_assert_uint_eq(read16(ra.driver + 2), VIRTQ_PACKED_EVENT_DESC);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	/* the reserved value with EVENT_IDX: interrupt */
	raw_event(ra.driver, 0, VIRTQ_PACKED_EVENT_RESERVED);
	vq_ring_drv_get_used(&drv, NULL, NULL);
	one_round();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
}
END_TEST

/* Driver notifications: the device area in every mode. */
START_TEST(test_notify_modes)
{
	/* ENABLE (zeroed) */
	ck_assert_int_ge(drv_add_n(1, 1), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0); /* nothing new */
	ck_assert_int_eq(vq_ring_set_notify(&r, false), 0);
	ck_assert_uint_eq(read16(ra.device + 2), VIRTQ_PACKED_EVENT_DISABLE);
	ck_assert_int_ge(drv_add_n(1, 2), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0);
	/* enable with chains waiting says so */
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 1);
	ck_assert_uint_eq(read16(ra.device + 2), VIRTQ_PACKED_EVENT_ENABLE);
	raw_event(ra.device, 0, VIRTQ_PACKED_EVENT_RESERVED);
	ck_assert_int_ge(drv_add_n(1, 3), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	raw_event(ra.device, 0, VIRTQ_PACKED_EVENT_DESC); /* no EVENT_IDX: as ENABLE */
	ck_assert_int_ge(drv_add_n(1, 4), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
}
END_TEST

START_TEST(test_notify_desc)
{
	ring_setup(8, VQ_RING_F_EVENT_IDX);
	/* the device asks for slot 0 wrap 1 */
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 0);
	ck_assert_uint_eq(read16(ra.device), VIRTQ_PACKED_EVENT_WRAP);
	ck_assert_uint_eq(read16(ra.device + 2), VIRTQ_PACKED_EVENT_DESC);
	ck_assert_int_ge(drv_add_n(2, 1), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	/* the device did not re-arm: slot 0 is behind */
	ck_assert_int_ge(drv_add_n(1, 2), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 1); /* slot 2 waits */
	ck_assert_uint_eq(read16(ra.device), 2 | VIRTQ_PACKED_EVENT_WRAP);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	/* slot 3 wrap 1: the next chain passes it */
	raw_event(ra.device, 4 | VIRTQ_PACKED_EVENT_WRAP, VIRTQ_PACKED_EVENT_DESC);
	ck_assert_int_ge(drv_add_n(1, 3), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0); /* slot 3 */
	ck_assert_int_ge(drv_add_n(2, 4), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1); /* slots 4-5 */
	/* a slot of the wrong lap does not match */
	raw_event(ra.device, 6, VIRTQ_PACKED_EVENT_DESC);
	ck_assert_int_ge(drv_add_n(1, 5), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0);
}
END_TEST

/* ---- validation -------------------------------------------------------- */

START_TEST(test_bad_id)
{
	raw_desc(0, BUF, 16, 8, F_A);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_ID);
	ck_assert_ptr_nonnull(strstr(r.error_detail, "id 8"));
	assert_broken(VQ_E_RING_PACKED_ID);
}
END_TEST

/* An id past the in-flight bitmap (0xffff: word 1023 of 512) is refused
 * before the bitmap is indexed: the fast path formed &id_busy[1023] first
 * (UBSan's index-out-of-bounds; the ring fuzzer's first ASan+UBSan run). */
START_TEST(test_bad_id_past_the_bitmap)
{
	raw_desc(0, BUF, 16, 0xffff, F_A);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_ID);
	ck_assert_ptr_nonnull(strstr(r.error_detail, "id 65535"));
	assert_broken(VQ_E_RING_PACKED_ID);
}
END_TEST

START_TEST(test_id_busy)
{
	raw_desc(0, BUF, 16, 3, F_A);
	raw_desc(1, BUF, 16, 3, F_A);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, 3);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_ID_BUSY);
	assert_broken(VQ_E_RING_PACKED_ID_BUSY);
	/* after completion the id may come again */
	raw_desc(0, BUF, 16, 3, F_A);
	raw_desc(1, BUF, 16, 3, F_A);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, 3);
}
END_TEST

/* A chain running round the whole ring, and one running into descriptors
 * still in flight. */
START_TEST(test_chain_too_long)
{
	for (uint16_t s = 0; s < 8; s++)
		raw_desc(s, BUF, 16, 0, F_A | F_NEXT);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_CHAIN);
	assert_broken(VQ_E_RING_PACKED_CHAIN);
	/* 6 in flight, then a chain of 3 */
	for (uint16_t s = 0; s < 6; s++)
		raw_desc(s, BUF, 16, s, F_A);
	for (unsigned i = 0; i < 6; i++)
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	raw_desc(6, BUF, 16, 6, F_A | F_NEXT);
	raw_desc(7, BUF, 16, 6, F_A | F_NEXT);
	raw_desc(0, BUF, 16, 6, F_U | F_NEXT); /* wrap 0: available */
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_CHAIN);
	assert_broken(VQ_E_RING_PACKED_CHAIN);
}
END_TEST

START_TEST(test_chain_not_avail)
{
	raw_desc(0, BUF, 16, 0, F_A | F_NEXT);
	raw_desc(1, BUF, 16, 0, 0);
	ck_assert_int_eq(vq_ring_pending(&r), 0); /* incomplete chain */
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_AVAIL);
	assert_broken(VQ_E_RING_PACKED_AVAIL);
}
END_TEST

START_TEST(test_indirect_next)
{
	raw_desc(0, TBL, 32, 0, F_A | F_IND | F_NEXT);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_INDIRECT_NEXT);
	assert_broken(VQ_E_RING_INDIRECT_NEXT);
}
END_TEST

START_TEST(test_indirect_entry_flags)
{
	static const uint16_t bad[] = {F_NEXT, F_IND, F_A, F_U, F_WR | F_NEXT};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t e[4] = {BUF, 16, BUF + 16, 16 | (uint64_t)bad[i] << 48};

		ck_assert_int_eq(vq_mem_write(m, TBL, e, sizeof(e)), 0);
		raw_desc(0, TBL, 32, 0, F_A | F_IND);
		ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_INDIRECT_FLAGS);
		ck_assert_ptr_nonnull(strstr(r.error_detail, "entry 1"));
		assert_broken(VQ_E_RING_PACKED_INDIRECT_FLAGS);
	}
}
END_TEST

START_TEST(test_indirect_feature_and_mem)
{
	raw_desc(0, TBL, 20, 0, F_A | F_IND);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_INDIRECT_LEN);
	assert_broken(VQ_E_RING_INDIRECT_LEN);
	raw_desc(0, MEM_GPA + MEM_SIZE - 16, 32, 0, F_A | F_IND);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_INDIRECT_MEM);
	assert_broken(VQ_E_RING_INDIRECT_MEM);
	ring_setup(8, 0);
	raw_desc(0, TBL, 32, 0, F_A | F_IND);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_INDIRECT_FEATURE);
	assert_broken(VQ_E_RING_INDIRECT_FEATURE);
}
END_TEST

START_TEST(test_desc_mem_and_order)
{
	raw_desc(0, MEM_GPA + MEM_SIZE - 8, 16, 0, F_A);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_DESC_MEM);
	assert_broken(VQ_E_RING_DESC_MEM);
	raw_desc(0, BUF, 16, 0, F_A | F_WR | F_NEXT);
	raw_desc(1, BUF, 16, 0, F_A);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_ORDER);
	assert_broken(VQ_E_RING_ORDER);
	/* the device never writes the descriptor ring */
	raw_desc(0, RING_GPA, 16, 0, F_A | F_WR);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_WRITE_RING);
	assert_broken(VQ_E_RING_WRITE_RING);
}
END_TEST

/* Flags are what count: a descriptor whose flags do not say available is
 * not read, whatever else it holds; the first flags seen are the ones used. */
START_TEST(test_not_avail_not_read)
{
	raw_desc(0, MEM_GPA + MEM_SIZE, 16, 99, F_U); /* wrap 1: not available */
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
	raw_desc(0, MEM_GPA + MEM_SIZE, 16, 99, F_A | F_U); /* used, not available */
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
	ck_assert_int_eq(vq_ring_pending(&r), 0);
	ck_assert_int_eq(r.error, 0);
}
END_TEST

START_TEST(test_layout)
{
	struct vq_ring_addr a = ra;

	a.driver += 2;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_PACKED, 8, &a, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.desc += 8;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_PACKED, 8, &a, 0), VQ_E_RING_LAYOUT);
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_PACKED, 0, &ra, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.device = MEM_GPA + MEM_SIZE;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_PACKED, 8, &a, 0), VQ_E_RING_LAYOUT);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_PACKED, 3, &ra, 0), 0);
}
END_TEST

/* ---- indirect, unpop, batch/single, base -------------------------------- */

START_TEST(test_indirect)
{
	struct vq_buf b[3] = {{BUF, 10, false}, {BUF + 0x100, 20, false}, {BUF + 0x200, 30, true}};
	uint64_t tok;
	uint32_t len;
	int id = vq_ring_drv_add_indirect(&drv, b, 3, TBL, 77);

	ck_assert_int_ge(id, 0);
	vq_ring_drv_publish(&drv);
	ck_assert_uint_eq(raw_flags(0), F_A | F_IND);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)id);
	ck_assert_uint_eq(c.ndesc, 1);
	ck_assert_uint_eq(c.nseg, 3);
	ck_assert_uint_eq(c.read_bytes, 30);
	ck_assert_uint_eq(c.write_bytes, 30);
	ck_assert_int_eq(vq_ring_push(&r, &c, 40), -VQ_E_RING_USED_LEN); /* clamped */
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 77);
	ck_assert_uint_eq(len, 30);
	/* the device may not write its own table */
	b[2].gpa = TBL + 16;
	ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, b, 3, TBL, 78), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_WRITE_RING);
}
END_TEST

START_TEST(test_unpop)
{
	int id = drv_add_n(3, 5);

	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	vq_ring_unpop(&r, &c);
	ck_assert_uint_eq(r.last_avail, 0);
	ck_assert_uint_eq(r.inflight_desc, 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)id);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	vq_ring_unpop(&r, &c); /* already completed: no-op */
	ck_assert_uint_eq(r.last_avail, 3);
	/* across the wrap */
	ring_setup(4, 0);
	ck_assert_int_ge(drv_add_n(3, 1), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	vq_ring_push(&r, &c, 0);
	vq_ring_publish(&r);
	vq_ring_drv_get_used(&drv, NULL, NULL);
	ck_assert_int_ge(drv_add_n(3, 2), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(r.last_avail, 2);
	ck_assert_uint_eq(r.avail_wrap, 0);
	vq_ring_unpop(&r, &c);
	ck_assert_uint_eq(r.last_avail, 3);
	ck_assert_uint_eq(r.avail_wrap, 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.ndesc, 3);
}
END_TEST

/* The same work through single and batch calls leaves the same bytes. */
static void drive(uint16_t num, bool batch, uint8_t *out)
{
	struct vq_chain cs[8];
	uint32_t w[8];
	static const unsigned lens[] = {1, 3, 2, 1, 4, 2, 1, 1, 2, 3};

	ring_setup(num, 0);
	for (unsigned i = 0; i < 8; i++)
		vq_chain_init(&cs[i]);
	for (unsigned round = 0; round < 12; round++) {
		unsigned n = 0;
		int got;

		while (drv_add_n(lens[(round + n) % 10], round * 16 + n) >= 0)
			n++;
		vq_ring_drv_publish(&drv);
		if (batch) {
			got = vq_ring_pop_batch(&r, cs, 8);
		} else {
			for (got = 0; vq_ring_pop(&r, &cs[got]) == 1; got++)
				;
		}
		ck_assert_int_eq(got, (int)n);
		for (int i = 0; i < got; i++)
			w[i] = (uint32_t)i;
		if (batch) {
			ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, (unsigned)got), 0);
		} else {
			for (int i = 0; i < got; i++)
				ck_assert_int_eq(vq_ring_push(&r, &cs[i], w[i]), 0);
		}
		vq_ring_publish(&r);
		ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, 8), got);
	}
	ck_assert_int_eq(vq_mem_read(m, ra.desc, out, 16u * num + 8), 0);
	for (unsigned i = 0; i < 8; i++)
		vq_chain_release(&cs[i]);
}

/* Queues of 8, 7 and 5: batches cross the wrap at every offset. */
START_TEST(test_batch_single_agree)
{
	static const uint16_t nums[] = {8, 7, 5};

	for (unsigned i = 0; i < 3; i++) {
		uint8_t a[136], b[136];

		drive(nums[i], false, a);
		drive(nums[i], true, b);
		ck_assert_mem_eq(a, b, 16u * nums[i] + 8);
	}
}
END_TEST

START_TEST(test_push_batch_all_or_nothing)
{
	struct vq_chain cs[2];
	uint32_t w[2] = {0, 0};

	vq_chain_init(&cs[0]);
	vq_chain_init(&cs[1]);
	drv_add_n(1, 1);
	drv_add_n(1, 2);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 2), 2);
	cs[1].head = cs[0].head; /* the same id twice */
	ck_assert_err(vq_ring_push_batch(&r, cs, w, 2), VQ_E_INVAL);
	ck_assert_uint_eq(r.used_idx, 0);
	ck_assert_uint_eq(r.inflight_desc, 2);
	cs[1].head = 1;
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, 2), 0);
	ck_assert_err(vq_ring_push(&r, &cs[0], 0), VQ_E_INVAL);
	vq_chain_release(&cs[0]);
	vq_chain_release(&cs[1]);
}
END_TEST

START_TEST(test_base)
{
	uint32_t base;

	drv_add_n(3, 1);
	vq_ring_drv_publish(&drv);
	vq_ring_pop(&r, &c);
	vq_ring_push(&r, &c, 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_get_base_packed(&r, &base), 0);
	ck_assert_uint_eq(base, (3u | 0x8000u) | (3u | 0x8000u) << 16);
	ck_assert_err(vq_ring_set_base_packed(&r, 8), VQ_E_INVAL);
	ck_assert_int_eq(vq_ring_set_base_packed(&r, 5), 0); /* slot 5, wrap 0 */
	ck_assert_uint_eq(r.last_avail, 5);
	ck_assert_uint_eq(r.avail_wrap, 0);
	ck_assert_uint_eq(r.used_wrap, 0);
	raw_desc(5, BUF, 16, 2, F_U); /* available for wrap 0 */
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_get_base_packed(&r, &base), 0);
	ck_assert_uint_eq(base, 6u | 5u << 16);
}
END_TEST

/* What the reference driver polls while it waits (it read the split used
 * idx before, so every device timed out on a packed ring). */
START_TEST(test_drv_has_used)
{
	for (unsigned it = 0; it < 20; it++) {
		ck_assert_int_ge(drv_add_n(1 + it % 3, it), 0);
		vq_ring_drv_publish(&drv);
		ck_assert_int_eq(vq_ring_drv_has_used(&drv), 0);
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
		vq_ring_push(&r, &c, 0);
		ck_assert_int_eq(vq_ring_drv_has_used(&drv), 0); /* not published */
		vq_ring_publish(&r);
		ck_assert_int_eq(vq_ring_drv_has_used(&drv), 1);
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
		ck_assert_int_eq(vq_ring_drv_has_used(&drv), 0);
	}
}
END_TEST

/* The one-descriptor fast paths (pop and push) keep every rule: a
 * one-descriptor chain whose id is in flight, out of range or whose buffer
 * leaves memory still breaks the ring with its own code; a second push in
 * a publish clamps its length, and a chain pushed twice is refused. */
START_TEST(test_fast_paths_keep_the_rules)
{
	struct vq_chain c2;
	uint32_t len;
	uint16_t id;

	vq_chain_init(&c2);
	/* prime the segment storage of both chains (the fast path needs it) */
	raw_desc(0, BUF, 16, 0, F_A | F_WR);
	raw_desc(1, BUF + 16, 16, 1, F_A | F_WR);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c2), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 16), 0);           /* first: general */
	ck_assert_err(vq_ring_push(&r, &c2, 99), VQ_E_RING_USED_LEN); /* clamped */
	ck_assert_err(vq_ring_push(&r, &c2, 1), VQ_E_INVAL);      /* not in flight */
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_uint_eq(raw_flags(1), F_A | F_U | F_WR);
	ck_assert_int_eq(vq_mem_read32(m, ra.desc + 16 + 8, &len), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_int_eq(vq_mem_read16(m, ra.desc + 16 + 12, &id), 0);
	ck_assert_uint_eq(id, 1);
	/* fast-path pops that must fall back and fail: id in flight */
	raw_desc(2, BUF, 16, 5, F_A | F_WR);
	raw_desc(3, BUF + 16, 16, 5, F_A | F_WR);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_err(vq_ring_pop(&r, &c2), VQ_E_RING_PACKED_ID_BUSY);
	/* id out of range; a buffer outside memory */
	ring_setup(8, 0);
	raw_desc(0, BUF, 16, 8, F_A | F_WR);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_PACKED_ID);
	ring_setup(8, 0);
	raw_desc(0, MEM_GPA + MEM_SIZE - 8, 16, 0, F_A | F_WR);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_DESC_MEM);
	/* a writable buffer over the descriptor ring */
	ring_setup(8, 0);
	raw_desc(0, ra.desc + 32, 16, 0, F_A | F_WR);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_WRITE_RING);
	vq_chain_release(&c2);
}
END_TEST

/* The batch pop's stretches (ring_packed.c's pop_stretch()): one-descriptor
 * chains straight, anything else through the general walk in the middle of
 * a batch, the stretch cut where the ring wraps (queue size 5), buffers in
 * two memory regions, and what each chain holds afterwards. */
START_TEST(test_batch_pop_stretches)
{
	struct vq_chain cs[8];
	static const unsigned lens[] = {1, 1, 3, 1, 1, 2, 1};
	unsigned total = 0;
	int ids[7];

	ck_assert_int_eq(vq_mem_add_region(m, "hi", 0x40000000ull, 0x10000), 0);
	for (unsigned i = 0; i < 8; i++)
		vq_chain_init(&cs[i]);
	ring_setup(5, 0);
	/* move the cursors to slot 3 so that the batch below wraps */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_ge(drv_add_n(1, 90 + i), 0);
		vq_ring_drv_publish(&drv);
		ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 8), 1);
		ck_assert_int_eq(vq_ring_push_batch(&r, cs, &(uint32_t){0}, 1), 0);
		vq_ring_publish(&r);
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	}
	/* 1, 1 (in the second region), then a chain of 3 across the wrap */
	ids[0] = drv_add_n(1, 0);
	{
		struct vq_buf hi = {0x40000000ull + 0x800, 32, true};
		ids[1] = vq_ring_drv_add(&drv, &hi, 1, 1);
	}
	ids[2] = drv_add_n(3, 2);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_ge(ids[i], 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 8), 3);
	ck_assert_uint_eq(cs[0].head, (unsigned)ids[0]);
	ck_assert_uint_eq(cs[0].ndesc, 1);
	ck_assert_uint_eq(cs[0].nseg, 1);
	ck_assert_uint_eq(cs[0].seg[0].gpa, BUF);
	ck_assert_uint_eq(cs[0].write_bytes, 16);
	ck_assert_uint_eq(cs[0].read_bytes, 0);
	ck_assert_uint_eq(cs[1].head, (unsigned)ids[1]);
	ck_assert_uint_eq(cs[1].seg[0].gpa, 0x40000000ull + 0x800);
	ck_assert_uint_eq(cs[1].write_bytes, 32);
	ck_assert_ptr_eq(cs[1].seg[0].host,
			 vq_mem_translate(m, 0x40000000ull + 0x800, 32, VQ_ACC_WRITE, NULL));
	ck_assert_uint_eq(cs[2].head, (unsigned)ids[2]);
	ck_assert_uint_eq(cs[2].ndesc, 3);
	ck_assert_uint_eq(cs[2].nread, 2);
	ck_assert_uint_eq(cs[2].read_bytes, 32);
	/* slots 3, 4, then 0-2 after the wrap: the cursor at 3, wrap 0 */
	ck_assert_uint_eq(r.last_avail, 3);
	ck_assert_uint_eq(r.avail_wrap, 0);
	ck_assert_uint_eq(r.inflight_desc, 5);
	ck_assert_uint_eq(r.last_pop_id, (unsigned)ids[2]);
	/* a full ring: nothing more, and the batch says so without error */
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs + 3, 4), 0);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){1, 2, 3}, 3), 0);
	ck_assert_uint_eq(r.last_pop_id, VQ_RING_NO_POP);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, 8), 3);
	/* mixed lengths in one batch, more than one stretch */
	for (unsigned k = 0; k < 3; k++) {
		const unsigned *l = lens + 2 * k;  /* 1 1 3; 3 1 1; 1 2 1 */
		unsigned n = 0;

		while (n < 3 && total + l[n] <= 5 && (ids[n] = drv_add_n(l[n], n)) >= 0)
			total += l[n++];
		ck_assert_uint_eq(n, 3);
		vq_ring_drv_publish(&drv);
		ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 8), (int)n);
		for (unsigned i = 0; i < n; i++) {
			ck_assert_uint_eq(cs[i].head, (unsigned)ids[i]);
			ck_assert_uint_eq(cs[i].ndesc, l[i]);
		}
		ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){0, 0, 0, 0, 0}, n), 0);
		vq_ring_publish(&r);
		ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, 8), (int)n);
		total = 0;
	}
	ck_assert_int_eq(r.error, 0);
	for (unsigned i = 0; i < 8; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* Errors met inside a batch: the chains before them are returned, the ring
 * is broken with the rule's code; an id used twice in one stretch; a full
 * ring whose next slot a hostile driver marks available again. */
START_TEST(test_batch_pop_errors)
{
	struct vq_chain cs[4];

	for (unsigned i = 0; i < 4; i++)
		vq_chain_init(&cs[i]);
	/* prime the chains' segment storage (the stretch needs it) */
	for (unsigned i = 0; i < 4; i++)
		raw_desc((uint16_t)i, BUF, 16, (uint16_t)i, F_A | F_WR);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 4), 4);
	ring_setup(8, 0);
	raw_desc(0, BUF, 16, 3, F_A | F_WR);
	raw_desc(1, BUF, 16, 4, F_A | F_WR);
	raw_desc(2, BUF, 16, 3, F_A | F_WR);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 4), 2);
	ck_assert_uint_eq(cs[1].head, 4);
	ck_assert_int_eq(r.error, -VQ_E_RING_PACKED_ID_BUSY);
	ck_assert_err(vq_ring_pop_batch(&r, cs, 4), VQ_E_RING_BROKEN);
	/* an id past the queue size in the middle */
	ring_setup(8, 0);
	raw_desc(0, BUF, 16, 1, F_A | F_WR);
	raw_desc(1, BUF, 16, 8, F_A | F_WR);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 4), 1);
	ck_assert_int_eq(r.error, -VQ_E_RING_PACKED_ID);
	/* all four slots in flight, slot 0 made available again for the
	 * next lap: no free descriptor for it */
	ring_setup(4, 0);
	for (unsigned i = 0; i < 4; i++)
		raw_desc((uint16_t)i, BUF, 16, (uint16_t)i, F_A | F_WR);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 4), 4);
	raw_desc(0, BUF, 16, 0, F_U | F_WR);
	ck_assert_err(vq_ring_pop_batch(&r, cs, 4), VQ_E_RING_PACKED_CHAIN);
	for (unsigned i = 0; i < 4; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* unpop after a batch: the last chain goes back; after a push of it,
 * nothing does. */
START_TEST(test_batch_unpop)
{
	struct vq_chain cs[3];

	for (unsigned i = 0; i < 3; i++)
		vq_chain_init(&cs[i]);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_ge(drv_add_n(1, i), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 3), 3);
	vq_ring_unpop(&r, &cs[1]);      /* not the last: no-op */
	ck_assert_uint_eq(r.last_avail, 3);
	vq_ring_unpop(&r, &cs[2]);
	ck_assert_uint_eq(r.last_avail, 2);
	ck_assert_uint_eq(r.inflight_desc, 2);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs + 2, 1), 1);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){0, 0, 0}, 3), 0);
	vq_ring_unpop(&r, &cs[2]);
	ck_assert_uint_eq(r.last_avail, 3);
	ck_assert_uint_eq(r.inflight_desc, 0);
	for (unsigned i = 0; i < 3; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* The driver's batch paths (ring_packed_drv.c's drv_add_singles() and
 * reap_run()) against its single calls: chains of 1-3 buffers mixed in one
 * add_batch, queues of 7 and 5 so that runs wrap in the middle, the ring
 * filling up mid-batch, reaps of at most 2 at a time; the same guest bytes,
 * the same ids, tokens and lengths in the same order. */
static void drive_drv(uint16_t num, bool batch, uint8_t *out, uint64_t *toks, uint32_t *lens,
		      unsigned *nreaped)
{
	static const unsigned shape[] = {1, 1, 3, 1, 2, 1, 1, 1, 3, 1};
	struct vq_buf bufs[10][3];
	struct vq_ring_req reqs[10];
	struct vq_chain cs[8];
	uint32_t w[8];
	unsigned reaped = 0, next = 0;

	ring_setup(num, 0);
	for (unsigned i = 0; i < 8; i++)
		vq_chain_init(&cs[i]);
	for (unsigned i = 0; i < 10; i++)
		for (unsigned j = 0; j < 3; j++)
			bufs[i][j] = (struct vq_buf){BUF + 0x100 * j + 0x1000 * i, 16 + i,
						     j + 1 == shape[i]};
	for (unsigned round = 0; round < 9; round++) {
		unsigned n = 0, want = 0;
		int got, rc;

		for (unsigned i = 0; i < 10; i++) {
			unsigned k = (next + i) % 10;
			reqs[i] = (struct vq_ring_req){bufs[k], shape[k], 100u * round + i};
		}
		if (batch) {
			rc = vq_ring_drv_add_batch(&drv, reqs, 10);
			ck_assert_int_gt(rc, 0);
			n = (unsigned)rc;
			/* the ring is full: the next request says so */
			ck_assert_err(vq_ring_drv_add_batch(&drv, reqs + n, 10 - n), VQ_E_NOSPC);
		} else {
			while (n < 10 && vq_ring_drv_add(&drv, reqs[n].bufs, reqs[n].n, reqs[n].token) >= 0)
				n++;
		}
		next = (next + n) % 10;
		vq_ring_drv_publish(&drv);
		got = vq_ring_pop_batch(&r, cs, 8);
		ck_assert_int_eq(got, (int)n);
		for (int i = 0; i < got; i++)
			w[i] = (uint32_t)(round + i);
		ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, (unsigned)got), 0);
		vq_ring_publish(&r);
		while (want < n) {
			if (batch) {
				rc = vq_ring_drv_get_used_batch(&drv, toks + reaped, lens + reaped, 2);
				ck_assert_int_eq(rc, n - want < 2 ? (int)(n - want) : 2);
			} else {
				rc = vq_ring_drv_get_used(&drv, toks + reaped, lens + reaped);
				ck_assert_int_eq(rc, 1);
			}
			want += (unsigned)rc;
			reaped += (unsigned)rc;
		}
		ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, lens, 2), 0);
	}
	ck_assert_uint_eq(drv.num_free, num);
	ck_assert_int_eq(vq_mem_read(m, ra.desc, out, 16u * num + 8), 0);
	*nreaped = reaped;
	for (unsigned i = 0; i < 8; i++)
		vq_chain_release(&cs[i]);
}

START_TEST(test_drv_batch_single_agree)
{
	static const uint16_t nums[] = {7, 5, 8};

	for (unsigned i = 0; i < 3; i++) {
		uint8_t a[136], b[136];
		uint64_t ta[128], tb[128];
		uint32_t la[128], lb[128];
		unsigned na, nb;

		drive_drv(nums[i], false, a, ta, la, &na);
		drive_drv(nums[i], true, b, tb, lb, &nb);
		ck_assert_uint_eq(na, nb);
		ck_assert_uint_gt(na, 9);
		ck_assert_mem_eq(a, b, 16u * nums[i] + 8);
		ck_assert_mem_eq(ta, tb, na * sizeof(ta[0]));
		ck_assert_mem_eq(la, lb, na * sizeof(la[0]));
	}
}
END_TEST

/* A used id that is no outstanding chain's in the middle of a batch reap:
 * the ones before it are reaped, it stays unreaped and the next call says
 * so; NULL outputs reap through the general path. */
START_TEST(test_drv_reap_bad_id_mid_batch)
{
	struct vq_chain cs[3];
	uint64_t toks[3];
	uint32_t lens[3];

	for (unsigned i = 0; i < 3; i++)
		vq_chain_init(&cs[i]);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_ge(drv_add_n(1, 40 + i), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 3), 3);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){5, 6, 7}, 3), 0);
	vq_ring_publish(&r);
	/* the second used descriptor names id 6, not in flight */
	ck_assert_int_eq(vq_mem_write16(m, ra.desc + 16 + 12, 6), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, lens, 3), 1);
	ck_assert_uint_eq(toks[0], 40);
	ck_assert_uint_eq(lens[0], 5);
	ck_assert_err(vq_ring_drv_get_used_batch(&drv, toks, lens, 3), VQ_E_RING_USED_ID);
	ck_assert_err(vq_ring_drv_get_used(&drv, toks, lens), VQ_E_RING_USED_ID);
	ck_assert_uint_eq(drv.last_used, 1);
	/* put it right: the rest reap, without outputs */
	ck_assert_int_eq(vq_mem_write16(m, ra.desc + 16 + 12, cs[1].head), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, lens, 3), 2);
	ck_assert_uint_eq(lens[1], 7);
	ck_assert_uint_eq(drv.num_free, 8);
	for (unsigned i = 0; i < 3; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ring_packed");
	TCase *tc = tcase_create("packed");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_wrap_every_length);
	tcase_add_test(tc, test_full_ring_mixed);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_interrupt_modes);
	tcase_add_test(tc, test_interrupt_desc);
	tcase_add_test(tc, test_notify_modes);
	tcase_add_test(tc, test_notify_desc);
	tcase_add_test(tc, test_bad_id);
	tcase_add_test(tc, test_bad_id_past_the_bitmap);
	tcase_add_test(tc, test_id_busy);
	tcase_add_test(tc, test_chain_too_long);
	tcase_add_test(tc, test_chain_not_avail);
	tcase_add_test(tc, test_indirect_next);
	tcase_add_test(tc, test_indirect_entry_flags);
	tcase_add_test(tc, test_indirect_feature_and_mem);
	tcase_add_test(tc, test_desc_mem_and_order);
	tcase_add_test(tc, test_not_avail_not_read);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_indirect);
	tcase_add_test(tc, test_unpop);
	tcase_add_test(tc, test_batch_single_agree);
	tcase_add_test(tc, test_push_batch_all_or_nothing);
	tcase_add_test(tc, test_base);
	tcase_add_test(tc, test_drv_has_used);
	tcase_add_test(tc, test_fast_paths_keep_the_rules);
	tcase_add_test(tc, test_batch_pop_stretches);
	tcase_add_test(tc, test_batch_pop_errors);
	tcase_add_test(tc, test_batch_unpop);
	tcase_add_test(tc, test_drv_batch_single_agree);
	tcase_add_test(tc, test_drv_reap_bad_id_mid_batch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(suite());
}
