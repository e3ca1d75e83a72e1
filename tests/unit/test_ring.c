/* test_ring.c - unit tests for emu/ring: the split virtqueue, device side
 * (pop validation rule by rule, push, publish, notification suppression) and
 * driver side (add, publish, reap, validation of what the device wrote).
 *
 * Malformed chains are built by writing raw descriptors and avail entries
 * into guest memory; each validation test checks the exact error, that the
 * ring then stays broken, and that vq_ring_init() brings it back. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define MEM_GPA  0x10000ull
#define MEM_SIZE 0x100000ull           /* 1 MiB: [0x10000, 0x110000) */
#define MEM_END  (MEM_GPA + MEM_SIZE)
#define RING_GPA 0x10000ull
#define TBL      0x60000ull            /* indirect tables */
#define BUF      0x80000ull            /* data buffers */
#define BIG_GPA  0x100000000ull        /* 2 GiB region for the 2^32-byte test */
#define BIG_SIZE 0x80000000ull
#define NUM      8

#define F_NEXT VIRTQ_DESC_F_NEXT
#define F_WR   VIRTQ_DESC_F_WRITE
#define F_IND  VIRTQ_DESC_F_INDIRECT

static struct vq_mem *m;
static struct vq_ring r;
static struct vq_ring_drv drv;
static struct vq_chain c;
static struct vq_ring_addr ra;
static uint16_t cur_num;
static unsigned cur_features;

/* A fresh queue: the driver side zeroes the areas, the device side starts. */
static void ring_setup(uint16_t num, unsigned features)
{
	uint64_t bytes;

	vq_ring_drv_free(&drv);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, num, RING_GPA, &ra, &bytes), 0);
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, num, &ra, features), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, num, &ra, features), 0);
	cur_num = num;
	cur_features = features;
}

/* Same, with the used ring moved to device (to put it across pages). */
static void ring_place(uint16_t num, unsigned features, uint64_t device)
{
	uint64_t bytes;

	vq_ring_drv_free(&drv);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, num, RING_GPA, &ra, &bytes), 0);
	ra.device = device;
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, num, &ra, features), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, num, &ra, features), 0);
	cur_num = num;
	cur_features = features;
}

static void setup(void)
{
	m = vq_mem_new();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_mem_add_region(m, "ram", MEM_GPA, MEM_SIZE), 0);
	memset(&drv, 0, sizeof(drv));
	vq_chain_init(&c);
	ring_setup(NUM, VQ_RING_F_INDIRECT);
}

static void teardown(void)
{
	vq_chain_release(&c);
	vq_ring_drv_free(&drv);
	vq_mem_free(m);
	m = NULL;
}

/* ---- raw guest-side helpers ------------------------------------------- */

static void put_desc_at(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	ck_assert_int_eq(vq_mem_write64(m, gpa, addr), 0);
	ck_assert_int_eq(vq_mem_write32(m, gpa + 8, len), 0);
	ck_assert_int_eq(vq_mem_write16(m, gpa + 12, flags), 0);
	ck_assert_int_eq(vq_mem_write16(m, gpa + 14, next), 0);
}

/* Descriptor i of the ring's table. */
static void put_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_desc_at(ra.desc + 16ull * i, addr, len, flags, next);
}

/* Entry i of an indirect table at table. */
static void put_tdesc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	put_desc_at(table + 16ull * i, addr, len, flags, next);
}

/* Make head available and publish it (entry, then idx). The driver side's
 * avail index follows, so raw chains and driver chains can be mixed. */
static void raw_avail(uint16_t head)
{
	uint64_t slot = drv.avail_idx & (cur_num - 1);

	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 4 + 2 * slot, head), 0);
	drv.avail_idx++;
	drv.kicked_idx = drv.avail_idx;
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, drv.avail_idx), 0);
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v = 0;

	ck_assert_int_eq(vq_mem_read16(m, gpa, &v), 0);
	return v;
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v = 0;

	ck_assert_int_eq(vq_mem_read32(m, gpa, &v), 0);
	return v;
}

#define USED_IDX   (ra.device + 2)
#define USED_FLAGS (ra.device)
#define USED_ID(i)  (ra.device + 4 + 8ull * (i))
#define USED_LEN(i) (ra.device + 8 + 8ull * (i))
#define AVAIL_FLAGS (ra.driver)
#define USED_EVENT  (ra.driver + 4 + 2ull * cur_num)
#define AVAIL_EVENT (ra.device + 4 + 8ull * cur_num)

/* For hot loops: Check's assertions cost a message to the parent each. */
#define REQUIRE(cond)                                                    \
	do {                                                             \
		if (!(cond))                                             \
			ck_abort_msg("line %d: %s", __LINE__, #cond);    \
	} while (0)

/* One good chain all the way round: the ring works. */
static void roundtrip(void)
{
	struct vq_buf b[2] = {{BUF, 64, false}, {BUF + 0x100, 128, true}};
	uint64_t tok = 0;
	uint32_t len = 0;
	int head = vq_ring_drv_add(&drv, b, 2, 0xabcull);

	ck_assert_int_ge(head, 0);
	ck_assert_int_ge(vq_ring_drv_publish(&drv), 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)head);
	ck_assert_int_eq(vq_ring_push(&r, &c, 100), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 0xabc);
	ck_assert_uint_eq(len, 100);
}

/* The ring is broken: every entry point says so until vq_ring_init(). */
static void assert_broken(int code)
{
	ck_assert_int_eq(r.error, -code);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_push(&r, &c, 0), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_publish(&r), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_set_notify(&r, true), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_pending(&r), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_pop_batch(&r, &c, 1), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_pop_batch(&r, &c, 0), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_push_batch(&r, &c, &(uint32_t){0}, 1), VQ_E_RING_BROKEN);
	vq_ring_unpop(&r, &c); /* a no-op on a broken ring */
	ck_assert_int_eq(r.error, -code);
}

/* Re-zero the guest's rings (a driver resetting the queue), re-init the
 * device side, and check a good chain goes through. */
static void recover(void)
{
	vq_ring_drv_free(&drv);
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, cur_num, &ra, cur_features), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, cur_num, &ra, cur_features), 0);
	ck_assert_int_eq(r.error, 0);
	roundtrip();
}

/* Pop must fail with exactly code, then the ring is broken, then it recovers. */
static void expect_pop_error(int code)
{
	ck_assert_err(vq_ring_pop(&r, &c), code);
	assert_broken(code);
	recover();
}

/* ---- positive: pop ----------------------------------------------------- */

START_TEST(test_pop_one_desc)
{
	struct vq_buf b = {BUF, 512, true};
	int head = vq_ring_drv_add(&drv, &b, 1, 7);

	ck_assert_int_ge(head, 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0); /* not published yet */
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	ck_assert_int_eq(vq_ring_pending(&r), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)head);
	ck_assert_uint_eq(c.ndesc, 1);
	ck_assert_uint_eq(c.nseg, 1);
	ck_assert_uint_eq(c.nread, 0);
	ck_assert_uint_eq(c.read_bytes, 0);
	ck_assert_uint_eq(c.write_bytes, 512);
	ck_assert_ptr_eq(c.seg[0].host, vq_mem_translate(m, BUF, 512, VQ_ACC_WRITE, NULL));
	ck_assert_uint_eq(c.seg[0].gpa, BUF);
	ck_assert_uint_eq(c.seg[0].len, 512);
	ck_assert(c.seg[0].writable);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
	ck_assert_int_eq(vq_ring_pending(&r), 0);
}
END_TEST

START_TEST(test_pop_three_desc)
{
	struct vq_buf b[3] = {{BUF, 100, false}, {BUF + 0x1000, 200, false}, {BUF + 0x2000, 300, true}};
	int head = vq_ring_drv_add(&drv, b, 3, 9);

	ck_assert_int_ge(head, 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)head);
	ck_assert_uint_eq(c.ndesc, 3);
	ck_assert_uint_eq(c.nseg, 3);
	ck_assert_uint_eq(c.nread, 2);
	ck_assert_uint_eq(c.read_bytes, 300);
	ck_assert_uint_eq(c.write_bytes, 300);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(c.seg[i].gpa, b[i].gpa);
		ck_assert_uint_eq(c.seg[i].len, b[i].len);
		ck_assert(c.seg[i].writable == b[i].writable);
		ck_assert_ptr_eq(c.seg[i].host,
				 vq_mem_translate(m, b[i].gpa, b[i].len, VQ_ACC_READ, NULL));
	}
}
END_TEST

START_TEST(test_pop_indirect)
{
	struct vq_buf b[3] = {{BUF, 16, false}, {BUF + 0x100, 32, true}, {BUF + 0x200, 48, true}};
	uint64_t tok = 0;
	uint32_t len = 0;
	int head = vq_ring_drv_add_indirect(&drv, b, 3, TBL, 42);

	ck_assert_int_ge(head, 0);
	ck_assert_uint_eq(drv.num_free, NUM - 1);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)head);
	ck_assert_uint_eq(c.ndesc, 1);
	ck_assert_uint_eq(c.nseg, 3);
	ck_assert_uint_eq(c.nread, 1);
	ck_assert_uint_eq(c.read_bytes, 16);
	ck_assert_uint_eq(c.write_bytes, 80);
	ck_assert_ptr_eq(c.seg[2].host, vq_mem_translate(m, BUF + 0x200, 48, VQ_ACC_READ, NULL));
	ck_assert_int_eq(vq_ring_push(&r, &c, 80), 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 42);
	ck_assert_uint_eq(len, 80);
	ck_assert_uint_eq(drv.num_free, NUM);
}
END_TEST

/* A direct descriptor followed by a table descriptor (spec allows it). */
START_TEST(test_pop_direct_then_indirect)
{
	put_desc(3, BUF, 10, F_NEXT, 5);
	put_desc(5, TBL, 32, F_IND | F_WR /* ignored */, 0);
	put_tdesc(TBL, 0, BUF + 0x100, 20, F_NEXT, 1);
	put_tdesc(TBL, 1, BUF + 0x200, 30, F_WR, 0);
	raw_avail(3);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, 3);
	ck_assert_uint_eq(c.ndesc, 2);
	ck_assert_uint_eq(c.nseg, 3);
	ck_assert_uint_eq(c.nread, 2);
	ck_assert_uint_eq(c.read_bytes, 30);
	ck_assert_uint_eq(c.write_bytes, 30);
}
END_TEST

/* Exactly num descriptors is the longest legal chain, direct or indirect. */
START_TEST(test_chain_of_num)
{
	struct vq_buf b[NUM];

	for (unsigned i = 0; i < NUM; i++)
		b[i] = (struct vq_buf){BUF + 0x100 * i, 16, i >= NUM / 2};
	ck_assert_int_ge(vq_ring_drv_add(&drv, b, NUM, 1), 0);
	ck_assert_err(vq_ring_drv_add(&drv, b, 1, 2), VQ_E_NOSPC);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, NUM);
	ck_assert_uint_eq(c.ndesc, NUM);
	ck_assert_uint_eq(c.nread, NUM / 2);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);

	/* the same through an indirect table of num entries */
	ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, b, NUM, TBL, 3), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, NUM);
	ck_assert_uint_eq(c.ndesc, 1);
}
END_TEST

/* Zero-length buffers: counted for length and order, no segment. */
START_TEST(test_zero_length)
{
	put_desc(0, 0 /* address never used */, 0, F_NEXT, 1);
	put_desc(1, BUF, 16, F_WR | F_NEXT, 2);
	put_desc(2, 0xdead0000ull, 0, F_WR, 0);
	raw_avail(0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.ndesc, 3);
	ck_assert_uint_eq(c.nseg, 1);
	ck_assert_uint_eq(c.nread, 0);
	ck_assert_uint_eq(c.seg[0].gpa, BUF);
	ck_assert_uint_eq(c.write_bytes, 16);
	/* a chain of one empty descriptor pointing nowhere */
	put_desc(6, 0xdead0000ull, 0, F_WR, 0);
	raw_avail(6);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, 6);
	ck_assert_uint_eq(c.ndesc, 1);
	ck_assert_uint_eq(c.nseg, 0);
	ck_assert_uint_eq(c.write_bytes, 0);

	/* a zero-length writable still forbids a readable after it */
	put_desc(4, BUF, 0, F_WR | F_NEXT, 5);
	put_desc(5, BUF, 16, 0, 0);
	raw_avail(4);
	expect_pop_error(VQ_E_RING_ORDER);
}
END_TEST

START_TEST(test_unpop_and_pending)
{
	struct vq_buf b = {BUF, 64, true};
	int h1 = vq_ring_drv_add(&drv, &b, 1, 1);
	int h2 = vq_ring_drv_add(&drv, &b, 1, 2);

	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pending(&r), 2);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)h1);
	ck_assert_int_eq(vq_ring_pending(&r), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)h2);
	vq_ring_unpop(&r, &c);
	ck_assert_int_eq(vq_ring_pending(&r), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.head, (unsigned)h2);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
	/* nothing left in flight: nothing to put back */
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	vq_ring_unpop(&r, &c);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
	ck_assert_uint_eq(r.last_avail, 2);
}
END_TEST

/* avail idx exactly num ahead is legal: the whole ring available at once. */
START_TEST(test_avail_full_ring)
{
	for (uint16_t i = 0; i < NUM; i++) {
		put_desc(i, BUF + 0x100 * i, 8, F_WR, 0);
		raw_avail((uint16_t)(NUM - 1 - i));
	}
	ck_assert_int_eq(vq_ring_pending(&r), NUM);
	for (unsigned i = 0; i < NUM; i++) {
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
		ck_assert_uint_eq(c.head, NUM - 1 - i);
	}
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);
}
END_TEST

/* The seg array grows to the queue size at most and is then reused. */
START_TEST(test_chain_storage)
{
	enum { N = 64 };
	struct vq_buf b[N];
	struct vq_seg *seg;

	ring_setup(N, VQ_RING_F_INDIRECT);
	for (unsigned i = 0; i < N; i++)
		b[i] = (struct vq_buf){BUF + 16 * i, 16, false};
	ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, b, N, TBL, 1), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, N);
	ck_assert_uint_ge(c.cap, N);
	ck_assert_uint_le(c.cap, N);
	seg = c.seg;
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	for (unsigned i = 0; i < 100; i++) {
		ck_assert_int_ge(vq_ring_drv_add(&drv, b, 3, i), 0);
		vq_ring_drv_publish(&drv);
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
		ck_assert_ptr_eq(c.seg, seg);
		ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
		vq_ring_publish(&r);
		while (vq_ring_drv_get_used(&drv, NULL, NULL) == 1)
			;
	}
	vq_chain_release(&c);
	ck_assert_ptr_null(c.seg);
	ck_assert_uint_eq(c.cap, 0);
}
END_TEST

/* ---- chain data copies ------------------------------------------------- */

START_TEST(test_chain_read_write)
{
	struct vq_buf b[5] = {{BUF, 3, false},       {BUF + 0x100, 5, false}, {BUF + 0x200, 7, false},
			      {BUF + 0x300, 4, true}, {BUF + 0x400, 6, true}};
	uint8_t pattern[15], out[20], in[10], back[6];

	for (unsigned i = 0; i < 15; i++)
		pattern[i] = (uint8_t)(0xa0 + i);
	ck_assert_int_eq(vq_mem_write(m, BUF, pattern, 3), 0);
	ck_assert_int_eq(vq_mem_write(m, BUF + 0x100, pattern + 3, 5), 0);
	ck_assert_int_eq(vq_mem_write(m, BUF + 0x200, pattern + 8, 7), 0);
	ck_assert_int_ge(vq_ring_drv_add(&drv, b, 5, 0), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);

	ck_assert_uint_eq(vq_chain_read(&c, 0, out, 15), 15);
	ck_assert_mem_eq(out, pattern, 15);
	ck_assert_uint_eq(vq_chain_read(&c, 2, out, 10), 10); /* crosses both boundaries */
	ck_assert_mem_eq(out, pattern + 2, 10);
	ck_assert_uint_eq(vq_chain_read(&c, 8, out, 20), 7);  /* short at the end */
	ck_assert_mem_eq(out, pattern + 8, 7);
	ck_assert_uint_eq(vq_chain_read(&c, 15, out, 1), 0);
	ck_assert_uint_eq(vq_chain_read(&c, 100, out, 1), 0);

	for (unsigned i = 0; i < 10; i++)
		in[i] = (uint8_t)(0x50 + i);
	ck_assert_uint_eq(vq_chain_write(&c, 0, in, 10), 10);
	ck_assert_int_eq(vq_mem_read(m, BUF + 0x300, back, 4), 0);
	ck_assert_mem_eq(back, in, 4);
	ck_assert_int_eq(vq_mem_read(m, BUF + 0x400, back, 6), 0);
	ck_assert_mem_eq(back, in + 4, 6);
	ck_assert_uint_eq(vq_chain_write(&c, 3, in, 10), 7); /* full after 7 */
	ck_assert_int_eq(vq_mem_read(m, BUF + 0x300, back, 4), 0);
	ck_assert_uint_eq(back[3], in[0]);
	ck_assert_int_eq(vq_mem_read(m, BUF + 0x400, back, 6), 0);
	ck_assert_mem_eq(back, in + 1, 6);
	ck_assert_uint_eq(vq_chain_write(&c, 10, in, 1), 0);
	/* readable part untouched by writes */
	ck_assert_uint_eq(vq_chain_read(&c, 0, out, 15), 15);
	ck_assert_mem_eq(out, pattern, 15);
}
END_TEST

/* ---- push / publish ---------------------------------------------------- */

START_TEST(test_used_ring_bytes)
{
	struct vq_buf b[2] = {{BUF, 8, false}, {BUF + 0x100, 200, true}};
	int h0 = vq_ring_drv_add(&drv, b, 2, 0);
	int h1 = vq_ring_drv_add(&drv, b, 2, 1);
	struct vq_chain c2;

	vq_chain_init(&c2);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c2), 1);
	/* completed out of order */
	ck_assert_int_eq(vq_ring_push(&r, &c2, 123), 0);
	ck_assert_uint_eq(rd32(USED_ID(0)), (unsigned)h1);
	ck_assert_uint_eq(rd32(USED_LEN(0)), 123);
	ck_assert_uint_eq(rd16(USED_IDX), 0); /* not published yet */
	ck_assert_int_eq(vq_ring_push(&r, &c, 200), 0);
	ck_assert_uint_eq(rd32(USED_ID(1)), (unsigned)h0);
	ck_assert_uint_eq(rd32(USED_LEN(1)), 200);
	ck_assert_uint_eq(rd16(USED_IDX), 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_uint_eq(rd16(USED_IDX), 2);
	ck_assert_int_eq(vq_ring_publish(&r), 0); /* nothing new */
	ck_assert_uint_eq(rd16(USED_IDX), 2);
	vq_chain_release(&c2);
}
END_TEST

START_TEST(test_push_used_len)
{
	struct vq_buf b[2] = {{BUF, 8, false}, {BUF + 0x100, 200, true}};
	uint32_t len = 0;

	vq_ring_drv_add(&drv, b, 2, 5);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_err(vq_ring_push(&r, &c, 201), VQ_E_RING_USED_LEN);
	ck_assert_int_eq(r.error, 0); /* a device bug: the ring is not broken */
	ck_assert_uint_eq(rd32(USED_LEN(0)), 200);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, &len), 1);
	ck_assert_uint_eq(len, 200);
	roundtrip();
}
END_TEST

START_TEST(test_push_not_in_flight)
{
	struct vq_buf b = {BUF, 8, true};

	vq_ring_drv_add(&drv, &b, 1, 5);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 8), 0);
	ck_assert_err(vq_ring_push(&r, &c, 8), VQ_E_INVAL); /* twice */
	ck_assert_int_eq(r.error, 0);
	ck_assert_uint_eq(r.used_idx, 1);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 0);
}
END_TEST

/* Indices wrap past 65535; the free list keeps working through many reuses
 * of every descriptor with chains of varying length and batch. */
START_TEST(test_wrap_and_free_list)
{
	struct vq_buf b[4] = {{BUF, 8, false}, {BUF + 0x100, 8, false}, {BUF + 0x200, 8, true},
			      {BUF + 0x300, 8, true}};
	struct vq_prng p;
	uint64_t next_tok = 0, want_tok = 0, tok;
	unsigned total = 0;
	uint32_t len;

	vq_prng_seed(&p, 1);
	while (total < 70000) {
		unsigned batch = 1 + (unsigned)(vq_prng_next(&p) % NUM), added = 0;
		int rc;

		for (unsigned i = 0; i < batch; i++) {
			unsigned n = 1 + (unsigned)(vq_prng_next(&p) % 4);
			unsigned first = n > 2 ? 0 : (unsigned)(vq_prng_next(&p) % (4 - n + 1));
			rc = vq_ring_drv_add(&drv, b + first, n, next_tok);
			if (rc == -VQ_E_NOSPC)
				break;
			REQUIRE(rc >= 0);
			next_tok++;
			added++;
		}
		vq_ring_drv_publish(&drv);
		while ((rc = vq_ring_pop(&r, &c)) == 1)
			REQUIRE(vq_ring_push(&r, &c, (uint32_t)c.write_bytes) == 0);
		REQUIRE(rc == 0);
		REQUIRE(vq_ring_publish(&r) >= 0);
		for (unsigned i = 0; i < added; i++) {
			REQUIRE(vq_ring_drv_get_used(&drv, &tok, &len) == 1);
			REQUIRE(tok == want_tok);
			want_tok++;
		}
		REQUIRE(vq_ring_drv_get_used(&drv, &tok, &len) == 0);
		REQUIRE(drv.num_free == NUM);
		total += added;
	}
	ck_assert_uint_eq(rd16(ra.driver + 2), (uint16_t)total);
	ck_assert_uint_eq(rd16(USED_IDX), (uint16_t)total);
	ck_assert_uint_eq(r.last_avail, (uint16_t)total);
	ck_assert_uint_lt(r.last_avail, total); /* it did wrap */
}
END_TEST

/* ---- interrupt suppression --------------------------------------------- */

static void complete_one(void)
{
	struct vq_buf b = {BUF, 8, true};

	ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 0), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
}

START_TEST(test_no_interrupt_flag)
{
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, false), 0);
	ck_assert_uint_eq(rd16(AVAIL_FLAGS), VIRTQ_AVAIL_F_NO_INTERRUPT);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 0);
	/* re-enabling sees the element published while disabled */
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 1);
	ck_assert_uint_eq(rd16(AVAIL_FLAGS), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 0);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
}
END_TEST

START_TEST(test_event_idx_interrupts)
{
	ring_setup(NUM, VQ_RING_F_EVENT_IDX);
	/* the first decision always interrupts */
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);              /* used idx 1 */
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	/* used_event 0 already passed: no interrupt */
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 0);              /* 2 */
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	/* interrupt when the device writes entry 4 */
	ck_assert_int_eq(vq_mem_write16(m, USED_EVENT, 4), 0);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 0);              /* 3: before */
	complete_one();
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);              /* 5: crossed 4 in a batch */
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 0);              /* 6: already past */
	ck_assert_int_eq(vq_mem_write16(m, USED_EVENT, 6), 0);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);              /* 7: entry 6 written */
	ck_assert_int_eq(vq_ring_publish(&r), 0);              /* nothing new */
	ck_assert_uint_eq(r.signalled_used, 7);
	/* the driver side writes used_event = last_used on enable */
	while (vq_ring_drv_get_used(&drv, NULL, NULL) == 1)
		;
	ck_assert_uint_eq(drv.last_used, 7);
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 0);
	ck_assert_uint_eq(rd16(USED_EVENT), 7);
	ck_assert_uint_eq(rd16(AVAIL_FLAGS), 0); /* flags stay 0 with EVENT_IDX */
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);              /* 8 */
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	/* disable: used_event parked behind, nothing interrupts */
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, false), 0);
	ck_assert_uint_eq(rd16(USED_EVENT), 7);
	for (unsigned i = 0; i < 20; i++) {
		complete_one();
		ck_assert_int_eq(vq_ring_publish(&r), 0);
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	}
	/* enable with nothing pending, then one completion interrupts */
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 0);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
}
END_TEST

/* With no earlier decision to measure from, the first publish after init
 * interrupts whatever used_event says. */
START_TEST(test_event_idx_first)
{
	ring_setup(NUM, VQ_RING_F_EVENT_IDX);
	ck_assert_int_eq(vq_mem_write16(m, USED_EVENT, 5), 0);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 0);
}
END_TEST

/* The event index comparison is modulo 2^16. */
START_TEST(test_event_idx_wrap)
{
	ring_setup(NUM, VQ_RING_F_EVENT_IDX);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	/* move every index near 65535 as if many chains had gone through */
	r.last_avail = r.avail_shadow = r.used_idx = r.used_published = r.signalled_used = 65534;
	drv.avail_idx = drv.kicked_idx = drv.last_used = 65534;
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, 65534), 0);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 65534), 0);
	ck_assert_int_eq(vq_mem_write16(m, USED_EVENT, 65535), 0);
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 0);              /* 65535: entry 65534 */
	complete_one();
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);              /* 1: passed 65535 */
	ck_assert_uint_eq(rd16(USED_IDX), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 0);
	ck_assert_uint_eq(drv.num_free, NUM);
}
END_TEST

/* ---- notification suppression ------------------------------------------ */

START_TEST(test_notify_flag)
{
	struct vq_buf b = {BUF, 8, true};

	ck_assert_int_eq(vq_ring_set_notify(&r, false), 0);
	ck_assert_uint_eq(rd16(USED_FLAGS), VIRTQ_USED_F_NO_NOTIFY);
	ck_assert(!r.notify_enabled);
	vq_ring_drv_add(&drv, &b, 1, 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0);        /* suppressed */
	/* re-enabling reports the chain that arrived meanwhile */
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 1);
	ck_assert_uint_eq(rd16(USED_FLAGS), 0);
	ck_assert(r.notify_enabled);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 0);
	vq_ring_drv_add(&drv, &b, 1, 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0);        /* nothing new */
}
END_TEST

START_TEST(test_notify_event_idx)
{
	struct vq_buf b = {BUF, 8, true};

	ring_setup(NUM, VQ_RING_F_EVENT_IDX);
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 0);
	ck_assert_uint_eq(rd16(AVAIL_EVENT), 0);
	ck_assert_uint_eq(rd16(USED_FLAGS), 0);
	vq_ring_drv_add(&drv, &b, 1, 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);        /* entry 0 == avail_event */
	vq_ring_drv_add(&drv, &b, 1, 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 0);        /* already kicked past it */
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 0);
	ck_assert_uint_eq(rd16(AVAIL_EVENT), 2);
	/* disable writes nothing with EVENT_IDX */
	ck_assert_int_eq(vq_ring_set_notify(&r, false), 0);
	ck_assert_uint_eq(rd16(AVAIL_EVENT), 2);
	ck_assert_uint_eq(rd16(USED_FLAGS), 0);
	vq_ring_drv_add(&drv, &b, 1, 0);
	vq_ring_drv_add(&drv, &b, 1, 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);        /* 2 -> 4 crosses 2 */
	/* enable with chains pending: returns 1, event at the shadow */
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 1);
	ck_assert_uint_eq(rd16(AVAIL_EVENT), 2);
	ck_assert_uint_eq(r.avail_shadow, 4);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_set_notify(&r, true), 0);
	ck_assert_uint_eq(rd16(AVAIL_EVENT), 4);
	vq_ring_drv_add(&drv, &b, 1, 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
}
END_TEST

/* ---- driver side ------------------------------------------------------- */

START_TEST(test_drv_roundtrip)
{
	struct vq_buf b[2] = {{BUF, 8, false}, {BUF + 0x100, 64, true}};
	struct vq_chain cs[3];
	uint64_t tok;
	uint32_t len;
	int heads[3];

	for (unsigned i = 0; i < 3; i++) {
		vq_chain_init(&cs[i]);
		heads[i] = vq_ring_drv_add(&drv, b, 2, 100 + i);
		ck_assert_int_ge(heads[i], 0);
		ck_assert_uint_eq(drv.token[heads[i]], 100 + i);
		ck_assert_uint_eq(drv.chain_len[heads[i]], 2);
	}
	ck_assert_uint_eq(drv.num_free, NUM - 6);
	ck_assert_uint_eq(rd16(ra.driver + 2), 0); /* not yet published */
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	ck_assert_uint_eq(rd16(ra.driver + 2), 3);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(vq_ring_pop(&r, &cs[i]), 1);
	/* the device completes them in reverse */
	for (int i = 2; i >= 0; i--)
		ck_assert_int_eq(vq_ring_push(&r, &cs[i], (uint32_t)(10 + i)), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 0); /* unpublished */
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	for (int i = 2; i >= 0; i--) {
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
		ck_assert_uint_eq(tok, 100 + (unsigned)i);
		ck_assert_uint_eq(len, 10 + (unsigned)i);
		ck_assert_uint_eq(drv.chain_len[heads[i]], 0);
	}
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 0);
	ck_assert_uint_eq(drv.num_free, NUM);
	for (unsigned i = 0; i < 3; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

START_TEST(test_drv_add_errors)
{
	struct vq_buf b[NUM + 1];

	for (unsigned i = 0; i <= NUM; i++)
		b[i] = (struct vq_buf){BUF, 8, true};
	ck_assert_err(vq_ring_drv_add(&drv, b, 0, 0), VQ_E_INVAL);
	b[1].writable = false; /* readable after writable */
	ck_assert_err(vq_ring_drv_add(&drv, b, 2, 0), VQ_E_INVAL);
	ck_assert_err(vq_ring_drv_add_indirect(&drv, b, 2, TBL, 0), VQ_E_INVAL);
	b[1].writable = true;
	ck_assert_err(vq_ring_drv_add(&drv, b, NUM + 1, 0), VQ_E_NOSPC);
	ck_assert_err(vq_ring_drv_add_indirect(&drv, b, NUM + 1, TBL, 0), VQ_E_INVAL);
	ck_assert_err(vq_ring_drv_add_indirect(&drv, b, 2, MEM_END - 16, 0), VQ_E_INVAL);
	ck_assert_int_ge(vq_ring_drv_add(&drv, b, NUM - 1, 0), 0);
	ck_assert_err(vq_ring_drv_add(&drv, b, 2, 0), VQ_E_NOSPC);
	ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, b, 4, TBL, 0), 0);
	ck_assert_err(vq_ring_drv_add_indirect(&drv, b, 1, TBL, 0), VQ_E_NOSPC);
	ck_assert_uint_eq(drv.num_free, 0);
	/* no INDIRECT feature: a correct driver does not use it */
	ring_setup(NUM, 0);
	ck_assert_err(vq_ring_drv_add_indirect(&drv, b, 2, TBL, 0), VQ_E_INVAL);
}
END_TEST

/* The device is played by raw writes to the used ring. */
START_TEST(test_drv_bad_used_id)
{
	struct vq_buf b[2] = {{BUF, 8, false}, {BUF + 0x100, 64, true}};
	int head = vq_ring_drv_add(&drv, b, 2, 1);
	uint32_t bad[] = {NUM, NUM + 3, 0xffffffffu, (uint32_t)drv.next[head] /* inside the chain */,
			  NUM - 1 /* free */};

	ck_assert_int_eq(head, 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 1), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(vq_mem_write32(m, USED_ID(0), bad[i]), 0);
		ck_assert_err(vq_ring_drv_get_used(&drv, NULL, NULL), VQ_E_RING_USED_ID);
		ck_assert_uint_eq(drv.last_used, 0);
	}
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(0), (uint32_t)head), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	/* the same id used twice: the second time it is no longer in flight */
	ck_assert_int_eq(vq_ring_drv_add(&drv, b, 2, 1), head); /* freed chain reused first */
	ck_assert_int_eq(vq_ring_drv_add(&drv, b, 2, 2), 2);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(1), (uint32_t)head), 0);
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(2), (uint32_t)head), 0);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 3), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_err(vq_ring_drv_get_used(&drv, NULL, NULL), VQ_E_RING_USED_ID);
	ck_assert_uint_eq(drv.last_used, 2);
}
END_TEST

START_TEST(test_drv_used_idx_jump)
{
	struct vq_buf b = {BUF, 8, true};

	vq_ring_drv_add(&drv, &b, 1, 1);
	vq_ring_drv_add(&drv, &b, 1, 2);
	vq_ring_drv_publish(&drv);
	vq_ring_drv_add(&drv, &b, 1, 3); /* added, not published: the device cannot use it */
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(0), 0), 0);
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(1), 1), 0);
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(2), 2), 0);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 3), 0);
	ck_assert_err(vq_ring_drv_get_used(&drv, NULL, NULL), VQ_E_RING_USED_IDX);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 0xffff), 0); /* backwards */
	ck_assert_err(vq_ring_drv_get_used(&drv, NULL, NULL), VQ_E_RING_USED_IDX);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 2), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 0);
}
END_TEST

START_TEST(test_drv_init)
{
	struct vq_ring_addr a;
	uint64_t bytes;

	/* drv_init zeroes the areas */
	ck_assert_int_eq(vq_mem_fill(m, RING_GPA, 0xff, 0x1000), 0);
	ring_setup(NUM, 0);
	ck_assert_uint_eq(rd16(ra.driver + 2), 0);
	ck_assert_uint_eq(rd16(USED_IDX), 0);
	ck_assert_uint_eq(rd16(USED_FLAGS), 0);
	ck_assert_uint_eq(rd16(AVAIL_FLAGS), 0);
	ck_assert_uint_eq(drv.num_free, NUM);
	vq_ring_drv_free(&drv);
	ck_assert_ptr_null(drv.token);
	vq_ring_drv_free(&drv); /* twice is fine */
	ck_assert_err(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, 3, &ra, 0), VQ_E_RING_LAYOUT);
	ck_assert_ptr_null(drv.token);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, NUM, MEM_END - 64, &a, &bytes), 0);
	ck_assert_err(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	ck_assert_err(vq_ring_drv_init(&drv, m, (enum vq_ring_layout)7, NUM, &ra, 0), VQ_E_INVAL);
	ck_assert_ptr_null(drv.token);
}
END_TEST

/* ---- init and placement ------------------------------------------------ */

START_TEST(test_init_rejects)
{
	struct vq_ring_addr a;
	uint16_t bad_num[] = {0, 3, 6, 100, 32767, 32769, 65535};
	uint64_t bytes;

	for (unsigned i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, bad_num[i], &ra, 0), VQ_E_RING_LAYOUT);
		ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
	}
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, 32768, RING_GPA, &a, &bytes), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, 32768, &a, 0), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, 1, &a, 0), 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 0);

	a = ra;
	a.desc += 8;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.driver += 1;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.device += 2;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);

	/* areas outside guest memory, wholly or in part */
	a = ra;
	a.desc = 0x200000;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.driver = MEM_END - 16;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.device = MEM_END - 8 * NUM;
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), VQ_E_RING_LAYOUT);
	a = ra;
	a.device = MEM_END - VIRTQ_USED_SIZE(NUM) - 2; /* fits, 4-aligned */
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &a, 0), 0);
	/* a used ring the device cannot write */
	ck_assert_int_ge(vq_mem_fault_add(m, ra.device, 4, VQ_ACC_WRITE), 0);
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &ra, 0), VQ_E_RING_LAYOUT);
	vq_mem_fault_clear(m);

	ck_assert_err(vq_ring_init(&r, m, (enum vq_ring_layout)6, NUM, &ra, 0), VQ_E_INVAL);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_init(&r, m, (enum vq_ring_layout)7, NUM, &ra, 0), VQ_E_INVAL);
	ck_assert_err(vq_ring_init(&r, NULL, VQ_RING_SPLIT, NUM, &ra, 0), VQ_E_INVAL);
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, NULL, 0), VQ_E_INVAL);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &ra, 0), 0);
	roundtrip();
}
END_TEST

START_TEST(test_reset)
{
	roundtrip();
	vq_ring_reset(&r);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_push(&r, &c, 0), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_publish(&r), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_set_notify(&r, false), VQ_E_RING_BROKEN);
	ck_assert_err(vq_ring_pending(&r), VQ_E_RING_BROKEN);
	recover();
}
END_TEST

START_TEST(test_ring_size)
{
	struct vq_ring_addr a;
	uint64_t bytes;

	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, 8, 0x10001, &a, &bytes), 0);
	ck_assert_uint_eq(a.desc, 0x10010);
	ck_assert_uint_eq(a.driver, 0x10010 + 128);
	ck_assert_uint_eq(a.device, 0x100a8);      /* 0x10090 + 22, rounded up to 4 */
	ck_assert_uint_eq(bytes, 0x100a8 + 70 - 0x10001);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, 256, 0, &a, &bytes), 0);
	ck_assert_uint_eq(a.desc, 0);
	ck_assert_uint_eq(a.driver, 4096);
	ck_assert_uint_eq(a.device, 4096 + 520);  /* 4096 + 518, rounded up to 4 */
	ck_assert_uint_eq(bytes, 4096 + 520 + 6 + 2048);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, 32768, 0x1000, &a, &bytes), 0);
	ck_assert_uint_eq(bytes, 16 * 32768 + 6 + 2 * 32768 + 2 + 6 + 8 * 32768);
	ck_assert_err(vq_ring_size(VQ_RING_SPLIT, 0, 0, &a, &bytes), VQ_E_INVAL);
	ck_assert_err(vq_ring_size(VQ_RING_SPLIT, 3, 0, &a, &bytes), VQ_E_INVAL);
	ck_assert_err(vq_ring_size(VQ_RING_SPLIT, 8, UINT64_MAX - 100, &a, &bytes), VQ_E_INVAL);
	ck_assert_err(vq_ring_size((enum vq_ring_layout)7, 8, 0, &a, &bytes), VQ_E_INVAL);
}
END_TEST

/* ---- ring areas becoming unreachable ----------------------------------- */

START_TEST(test_ring_mem_used_fault)
{
	int id;

	complete_one();
	/* a read-only fault does not stop the device writing */
	id = vq_mem_fault_add(m, ra.device, 8, VQ_ACC_READ);
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);
	complete_one();
	id = vq_mem_fault_add(m, ra.device + 4 + 8 * (NUM - 1), 8, VQ_ACC_WRITE);
	ck_assert_int_ge(id, 0);
	ck_assert_err(vq_ring_publish(&r), VQ_E_RING_RING_MEM);
	assert_broken(VQ_E_RING_RING_MEM);
	/* still unreachable: init refuses; once the fault is gone it works */
	ck_assert_err(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &ra, cur_features), VQ_E_RING_LAYOUT);
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);
	recover();

	/* the same caught by push */
	complete_one();
	vq_ring_publish(&r);
	ck_assert_int_ge(vq_mem_fault_add(m, ra.device, 2, VQ_ACC_WRITE), 0);
	ck_assert_err(vq_ring_push(&r, &c, 0), VQ_E_RING_RING_MEM);
	assert_broken(VQ_E_RING_RING_MEM);
	vq_mem_fault_clear(m);
	recover();
}
END_TEST

START_TEST(test_ring_mem_avail_desc_fault)
{
	struct vq_buf b = {BUF, 8, true};

	vq_ring_drv_add(&drv, &b, 1, 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_ge(vq_mem_fault_add(m, ra.driver + 4, 2, VQ_ACC_READ), 0);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_RING_MEM);
	assert_broken(VQ_E_RING_RING_MEM);
	vq_mem_fault_clear(m);
	recover();
	/* a write fault over the avail ring does not concern the device... */
	ck_assert_int_ge(vq_mem_fault_add(m, ra.driver, 2, VQ_ACC_WRITE), 0);
	vq_ring_drv_add(&drv, &b, 1, 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	/* ...a read fault over the descriptor table does */
	vq_ring_drv_add(&drv, &b, 1, 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_ge(vq_mem_fault_add(m, ra.desc + 16 * (NUM - 1), 16, VQ_ACC_READ), 0);
	ck_assert_err(vq_ring_pending(&r), VQ_E_RING_RING_MEM);
	assert_broken(VQ_E_RING_RING_MEM);
	vq_mem_fault_clear(m);
	recover();
}
END_TEST

START_TEST(test_dirty_used_ring)
{
	uint64_t pages[16];
	long n;
	bool seen = false;

	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	ck_assert_int_ge(vq_mem_dirty_collect(m, pages, 16), 0); /* start clean */
	complete_one();
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	n = vq_mem_dirty_collect(m, pages, 16);
	ck_assert_int_ge(n, 1);
	for (long i = 0; i < n; i++)
		seen |= pages[i] == (ra.device & ~(uint64_t)(VQ_PAGE_SIZE - 1));
	ck_assert(seen);
	vq_mem_dirty_stop(m);
}
END_TEST

static bool page_in(const uint64_t *pages, long n, uint64_t gpa)
{
	for (long i = 0; i < n; i++)
		if (pages[i] == (gpa & ~(uint64_t)(VQ_PAGE_SIZE - 1)))
			return true;
	return false;
}

/* Elements pushed across the end of the ring are logged as two ranges, and
 * only the pages they touch. The used ring is placed so that idx, entries
 * 0..511 and entries 512..1023 sit on three different pages. */
START_TEST(test_dirty_used_wrap)
{
	enum { N = 1024 };
	struct vq_buf b = {BUF, 8, false};
	uint64_t pages[64], elem0 = 0x40000;
	long n;

	ring_place(N, 0, elem0 - 4);
	for (unsigned i = 0; i < 1000; i++) {
		REQUIRE(vq_ring_drv_add(&drv, &b, 1, i) >= 0);
		vq_ring_drv_publish(&drv);
		REQUIRE(vq_ring_pop(&r, &c) == 1);
		REQUIRE(vq_ring_push(&r, &c, 0) == 0);
		vq_ring_publish(&r);
		REQUIRE(vq_ring_drv_get_used(&drv, NULL, NULL) == 1);
	}
	for (unsigned i = 0; i < 30; i++)
		ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, i), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	for (unsigned i = 0; i < 30; i++) {
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
		ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0); /* slots 1000..1023, 0..5 */
	}
	ck_assert_int_eq(vq_mem_dirty_collect(m, pages, 64), 0); /* nothing until publish */
	vq_ring_publish(&r);
	n = vq_mem_dirty_collect(m, pages, 64);
	ck_assert(page_in(pages, n, elem0 + 8 * 1000));
	ck_assert(page_in(pages, n, elem0 + 8 * 5));
	ck_assert(page_in(pages, n, ra.device + 2));
	ck_assert(!page_in(pages, n, elem0 + 8 * N)); /* nothing past the end */
	ck_assert_int_eq(n, 3);
	vq_mem_dirty_stop(m);
}
END_TEST

/* More pushes than entries between two publishes (a driver offering the
 * same descriptor again and again): the whole ring is logged, and nothing
 * past its end (the entries end on a page boundary here). */
START_TEST(test_dirty_used_lap)
{
	uint64_t pages[16], end = 0x50000;
	long n;

	ring_place(NUM, 0, end - 4 - 8 * NUM);
	for (unsigned i = 0; i < 3; i++)
		roundtrip();
	put_desc(0, BUF, 8, F_WR, 0);
	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	for (unsigned lap = 0; lap < 2; lap++) {
		for (unsigned i = 0; i < NUM; i++)
			raw_avail(0);
		for (unsigned i = 0; i < NUM; i++) {
			ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
			ck_assert_int_eq(vq_ring_push(&r, &c, 8), 0);
		}
	}
	vq_mem_dirty_collect(m, pages, 16);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_uint_eq(rd16(USED_IDX), 3 + 2 * NUM);
	n = vq_mem_dirty_collect(m, pages, 16);
	ck_assert_int_eq(n, 1);
	ck_assert(page_in(pages, n, ra.device));
	ck_assert(!page_in(pages, n, end));
	vq_mem_dirty_stop(m);
}
END_TEST

/* ---- validation, one rule a test --------------------------------------- */

START_TEST(test_err_avail_idx)
{
	put_desc(0, BUF, 8, 0, 0);
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, NUM + 1), 0);
	expect_pop_error(VQ_E_RING_AVAIL_IDX);
	/* backwards by one is a jump of 65535 */
	roundtrip();
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, 0), 0);
	ck_assert_err(vq_ring_pending(&r), VQ_E_RING_AVAIL_IDX);
	assert_broken(VQ_E_RING_AVAIL_IDX);
	recover();
	/* seen by set_notify's re-check too */
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, 0x8000), 0);
	ck_assert_err(vq_ring_set_notify(&r, true), VQ_E_RING_AVAIL_IDX);
	assert_broken(VQ_E_RING_AVAIL_IDX);
	recover();
}
END_TEST

/* The detail names what the guest wrote, for error messages. */
/* Found by the ring fuzz harness: with 4 chains popped and none used, avail
 * idx moving 8 further (8 new chains, within the queue size) would put 12
 * chains in flight on a queue of 8 descriptors, the same heads twice. A
 * driver cannot have more chains out than descriptors: RING_AVAIL_IDX.
 * Failed before: 9 and more chains were popped, head 0 each time. */
START_TEST(test_err_avail_idx_in_flight)
{
	struct vq_buf b = {BUF, 64, true};

	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, i), 0);
	vq_ring_drv_publish(&drv);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	/* the driver claims 8 more without any being used */
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, (uint16_t)(drv.avail_idx + NUM)), 0);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_AVAIL_IDX);
	ck_assert_str_eq(r.error_detail,
			 "avail idx 12: 12 chains not yet used (4 of them popped), queue size 8");
	assert_broken(VQ_E_RING_AVAIL_IDX);
	recover();
	/* the most a correct driver does: every descriptor out, one used, one
	 * more made available */
	for (unsigned i = 0; i < NUM; i++)
		ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, i), 0);
	vq_ring_drv_publish(&drv);
	for (unsigned i = 0; i < NUM; i++)
		ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 9), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(r.error, 0);
}
END_TEST

START_TEST(test_err_detail_names_values)
{
	raw_avail(300);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_HEAD);
	ck_assert_msg(strstr(r.error_detail, "head 300") != NULL, "%s", r.error_detail);
	ck_assert_msg(strstr(r.error_detail, "queue size 8") != NULL, "%s", r.error_detail);
	/* only the first error counts */
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
	ck_assert_msg(strstr(r.error_detail, "head 300") != NULL, "%s", r.error_detail);
	recover();
	ck_assert_str_eq(r.error_detail, "");

	put_desc(0, BUF, 8, F_NEXT, 1);
	put_desc(1, BUF, 8, F_NEXT, 999);
	raw_avail(0);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_NEXT);
	ck_assert_msg(strstr(r.error_detail, "descriptor 1: next 999") != NULL, "%s",
		      r.error_detail);
	recover();

	put_desc(0, UINT64_MAX - 3, 8, 0, 0);
	raw_avail(0);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_DESC_MEM);
	ck_assert_msg(strstr(r.error_detail, "readable buffer 0xfffffffffffffffc+8") != NULL,
		      "%s", r.error_detail);
	ck_assert_msg(strstr(r.error_detail, "wraps") != NULL, "%s", r.error_detail);
	recover();
}
END_TEST

START_TEST(test_err_head)
{
	raw_avail(NUM);
	expect_pop_error(VQ_E_RING_HEAD);
	raw_avail(0xffff);
	expect_pop_error(VQ_E_RING_HEAD);
}
END_TEST

START_TEST(test_err_next)
{
	put_desc(0, BUF, 8, F_NEXT, 1);
	put_desc(1, BUF, 8, F_NEXT, NUM);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_NEXT);
	/* inside an indirect table: next beyond the table's entries */
	put_desc(2, TBL, 32, F_IND, 0);
	put_tdesc(TBL, 0, BUF, 8, F_NEXT, 2);
	raw_avail(2);
	expect_pop_error(VQ_E_RING_NEXT);
}
END_TEST

START_TEST(test_err_loop)
{
	put_desc(0, BUF, 8, F_NEXT, 1);
	put_desc(1, BUF, 8, F_NEXT, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_LOOP);
	put_desc(5, BUF, 8, F_WR | F_NEXT, 5); /* a loop of one */
	raw_avail(5);
	expect_pop_error(VQ_E_RING_LOOP);
	/* a loop inside an indirect table */
	put_desc(3, TBL, 48, F_IND, 0);
	put_tdesc(TBL, 0, BUF, 8, F_NEXT, 1);
	put_tdesc(TBL, 1, BUF, 8, F_NEXT, 2);
	put_tdesc(TBL, 2, BUF, 8, F_NEXT, 1);
	raw_avail(3);
	expect_pop_error(VQ_E_RING_LOOP);
}
END_TEST

/* num + 1 buffers through an indirect table: too long. */
START_TEST(test_err_loop_indirect_long)
{
	for (uint16_t i = 0; i <= NUM; i++)
		put_tdesc(TBL, i, BUF + 16 * i, 16, i < NUM ? F_NEXT : 0, (uint16_t)(i + 1));
	put_desc(0, TBL, 16 * (NUM + 1), F_IND, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_LOOP);
	/* one direct buffer plus a table of num */
	put_tdesc(TBL, NUM - 1, BUF, 16, 0, 0);
	put_desc(1, BUF, 8, F_NEXT, 2);
	put_desc(2, TBL, 16 * NUM, F_IND, 0);
	raw_avail(1);
	expect_pop_error(VQ_E_RING_LOOP);
	/* the table of num alone is fine */
	put_desc(2, TBL, 16 * NUM, F_IND, 0);
	raw_avail(2);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, NUM);
}
END_TEST

START_TEST(test_err_indirect_feature)
{
	ring_setup(NUM, 0);
	put_desc(0, TBL, 16, F_IND, 0);
	put_tdesc(TBL, 0, BUF, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_INDIRECT_FEATURE);
}
END_TEST

START_TEST(test_err_indirect_next)
{
	put_desc(0, TBL, 16, F_IND | F_NEXT, 1);
	put_desc(1, BUF, 8, 0, 0);
	put_tdesc(TBL, 0, BUF, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_INDIRECT_NEXT);
}
END_TEST

START_TEST(test_err_indirect_nested)
{
	put_desc(0, TBL, 32, F_IND, 0);
	put_tdesc(TBL, 0, BUF, 8, F_NEXT, 1);
	put_tdesc(TBL, 1, TBL + 0x100, 16, F_IND, 0);
	put_tdesc(TBL + 0x100, 0, BUF, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_INDIRECT_NESTED);
}
END_TEST

START_TEST(test_err_indirect_len)
{
	uint32_t bad[] = {0, 8, 24, 17};

	put_tdesc(TBL, 0, BUF, 8, 0, 0);
	put_tdesc(TBL, 1, BUF, 8, 0, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_desc(0, TBL, bad[i], F_IND, 0);
		raw_avail(0);
		expect_pop_error(VQ_E_RING_INDIRECT_LEN);
	}
}
END_TEST

START_TEST(test_err_indirect_mem)
{
	int id;

	put_desc(0, 0x200000, 16, F_IND, 0); /* unmapped */
	raw_avail(0);
	expect_pop_error(VQ_E_RING_INDIRECT_MEM);
	put_desc(0, MEM_END - 16, 32, F_IND, 0); /* runs off the end */
	raw_avail(0);
	expect_pop_error(VQ_E_RING_INDIRECT_MEM);
	put_tdesc(TBL, 0, BUF, 8, F_NEXT, 1);
	put_tdesc(TBL, 1, BUF, 8, 0, 0);
	put_desc(0, TBL, 32, F_IND, 0);
	id = vq_mem_fault_add(m, TBL + 31, 1, VQ_ACC_READ); /* last byte unreadable */
	ck_assert_int_ge(id, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_INDIRECT_MEM);
	vq_mem_fault_remove(m, id);
	/* an unaligned table is fine */
	put_tdesc(TBL + 4, 0, BUF, 8, F_NEXT, 1);
	put_tdesc(TBL + 4, 1, BUF + 8, 8, F_WR, 0);
	put_desc(0, TBL + 4, 32, F_IND, 0);
	raw_avail(0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, 2);
	ck_assert_uint_eq(c.seg[1].gpa, BUF + 8);
}
END_TEST

START_TEST(test_err_desc_mem)
{
	int id;

	put_desc(0, 0x200000, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_DESC_MEM);
	put_desc(0, BUF, 8, F_NEXT, 1);
	put_desc(1, MEM_END - 4, 8, F_WR, 0); /* straddles the end */
	raw_avail(0);
	expect_pop_error(VQ_E_RING_DESC_MEM);
	put_desc(0, UINT64_MAX - 3, 8, 0, 0); /* wraps */
	raw_avail(0);
	expect_pop_error(VQ_E_RING_DESC_MEM);

	/* direction matters: a write fault stops writable buffers only */
	id = vq_mem_fault_add(m, BUF + 0x1000, 1, VQ_ACC_WRITE);
	ck_assert_int_ge(id, 0);
	put_desc(0, BUF + 0x1000, 8, 0, 0);
	raw_avail(0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	put_desc(0, BUF + 0xff8, 16, F_WR, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_DESC_MEM);
	vq_mem_fault_remove(m, id);
	id = vq_mem_fault_add(m, BUF + 0x1000, 1, VQ_ACC_READ);
	ck_assert_int_ge(id, 0);
	put_desc(0, BUF + 0x1000, 8, F_WR, 0);
	raw_avail(0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	put_desc(0, BUF + 0x1000, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_DESC_MEM);
	/* inside an indirect table */
	put_desc(0, TBL, 16, F_IND, 0);
	put_tdesc(TBL, 0, BUF + 0x1000, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_DESC_MEM);
	vq_mem_fault_remove(m, id);
}
END_TEST

START_TEST(test_err_order)
{
	put_desc(0, BUF, 8, F_WR | F_NEXT, 1);
	put_desc(1, BUF, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_ORDER);
	/* inside a table */
	put_desc(0, TBL, 32, F_IND, 0);
	put_tdesc(TBL, 0, BUF, 8, F_WR | F_NEXT, 1);
	put_tdesc(TBL, 1, BUF, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_ORDER);
	/* across a direct buffer and a table */
	put_desc(0, BUF, 8, F_WR | F_NEXT, 1);
	put_desc(1, TBL, 16, F_IND, 0);
	put_tdesc(TBL, 0, BUF, 8, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_ORDER);
}
END_TEST

/* Buffers may overlap, so a 2 GiB region is enough to pass 2^32 bytes. */
/* Issue 8.4: a device-writable buffer over the descriptor table, the avail
 * ring, the used ring or the chain's own indirect table is refused with
 * RING_WRITE_RING (2.7.5.1: the device must not write a descriptor), by the
 * single pop, the batch pop and the general walk alike, naming the area; a
 * readable buffer there is fine. Failed before: all were popped and the
 * device wrote the rings. */
START_TEST(test_err_write_ring)
{
	struct {
		uint64_t gpa;
		uint32_t len;
		const char *area;
	} cases[4];
	struct vq_chain cs[2];

	vq_chain_init(&cs[0]);
	vq_chain_init(&cs[1]);
	cases[0].gpa = ra.desc + 16 * 3, cases[0].len = 4, cases[0].area = "descriptor table";
	cases[1].gpa = ra.driver + 2, cases[1].len = 2, cases[1].area = "avail ring";
	cases[2].gpa = ra.device + VIRTQ_USED_SIZE(NUM) - 1, cases[2].len = 64,
	cases[2].area = "used ring";
	/* from avail's used_event on into the used ring: the first area named */
	cases[3].gpa = ra.device - 4, cases[3].len = 8, cases[3].area = "avail ring";
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned how = 0; how < 3; how++) {
			struct vq_buf b = {cases[i].gpa, cases[i].len, true};
			char want[160];
			int rc;

			/* warm chains take the fast paths; how 2: a two-buffer
			 * chain, the general walk */
			ck_assert_int_ge(how == 2 ? vq_ring_drv_add(&drv, (struct vq_buf[]){{BUF, 8, false}, b}, 2, 1)
						  : vq_ring_drv_add(&drv, &b, 1, 1), 0);
			vq_ring_drv_publish(&drv);
			rc = how == 1 ? vq_ring_pop_batch(&r, cs, 2) : vq_ring_pop(&r, &cs[0]);
			ck_assert_err(rc, VQ_E_RING_WRITE_RING);
			snprintf(want, sizeof(want), "overlaps the %s", cases[i].area);
			ck_assert_msg(strstr(r.error_detail, want), "%s", r.error_detail);
			assert_broken(VQ_E_RING_WRITE_RING);
			recover();
			/* the same buffer, readable: served */
			b.writable = false;
			ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 2), 0);
			vq_ring_drv_publish(&drv);
			ck_assert_int_eq(vq_ring_pop(&r, &cs[1]), 1);
			ck_assert_int_eq(vq_ring_push(&r, &cs[1], 0), 0);
			vq_ring_publish(&r);
			ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
		}
	}
	/* a writable entry of an indirect table over that very table */
	put_tdesc(TBL, 0, BUF, 16, F_NEXT, 1);
	put_tdesc(TBL, 1, TBL + 8, 16, F_WR, 0);
	put_desc(5, TBL, 32, F_IND, 0);
	raw_avail(5);
	ck_assert_err(vq_ring_pop(&r, &cs[0]), VQ_E_RING_WRITE_RING);
	ck_assert_str_eq(r.error_detail,
			 "writable buffer 0x60008+16 overlaps the indirect table 0x60000+32");
	assert_broken(VQ_E_RING_WRITE_RING);
	recover();
	/* ... but a writable buffer in another indirect table's place is not
	 * this chain's business */
	put_tdesc(TBL, 0, TBL + 0x100, 16, F_WR, 0);
	put_desc(5, TBL, 16, F_IND, 0);
	raw_avail(5);
	ck_assert_int_eq(vq_ring_pop(&r, &cs[0]), 1);
	vq_chain_release(&cs[0]);
	vq_chain_release(&cs[1]);
}
END_TEST

START_TEST(test_err_chain_bytes)
{
	ck_assert_int_eq(vq_mem_add_region(m, "big", BIG_GPA, BIG_SIZE), 0);
	/* exactly 2^32 is allowed */
	for (uint16_t i = 0; i < 4; i++)
		put_desc(i, BIG_GPA, 0x40000000u, (uint16_t)(i < 3 ? F_NEXT : 0), (uint16_t)(i + 1));
	raw_avail(0);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.read_bytes, 1ull << 32);
	/* one byte more is not */
	put_desc(3, BIG_GPA, 0x40000000u, F_NEXT, 4);
	put_desc(4, BIG_GPA, 1, 0, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_CHAIN_BYTES);
	/* with writable buffers, and via a table */
	put_desc(0, BIG_GPA, 0x7fffffffu, F_WR | F_NEXT, 1);
	put_desc(1, TBL, 32, F_IND, 0);
	put_tdesc(TBL, 0, BIG_GPA, 0x7fffffffu, F_WR | F_NEXT, 1);
	put_tdesc(TBL, 1, BIG_GPA, 3, F_WR, 0);
	raw_avail(0);
	expect_pop_error(VQ_E_RING_CHAIN_BYTES);
}
END_TEST

/* ---- batches ----------------------------------------------------------- */

/* Put both sides at index idx (avail and used), as if idx chains had gone
 * round, so that a batch can cross the 16-bit wrap. */
static void ring_start_at(uint16_t idx)
{
	r.last_avail = r.avail_shadow = r.used_idx = r.used_published = idx;
	drv.avail_idx = drv.kicked_idx = drv.last_used = drv.used_shadow = idx;
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, idx), 0);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, idx), 0);
}

/* Everything a run can observe, appended in order. */
struct trace {
	uint64_t v[1024];
	unsigned n;
};

static void tr(struct trace *t, uint64_t v)
{
	REQUIRE(t->n < sizeof(t->v) / sizeof(t->v[0]));
	t->v[t->n++] = v;
}

static void tr_chain(struct trace *t, const struct vq_chain *ch)
{
	tr(t, ch->head);
	tr(t, ch->ndesc);
	tr(t, ch->nseg);
	tr(t, ch->nread);
	tr(t, ch->read_bytes);
	tr(t, ch->write_bytes);
	for (uint32_t i = 0; i < ch->nseg; i++) {
		tr(t, (uint64_t)(uintptr_t)ch->seg[i].host);
		tr(t, ch->seg[i].gpa);
		tr(t, ch->seg[i].len);
		tr(t, ch->seg[i].writable);
	}
}

/* One round of a scenario: add reqs[0..n) (plus, with ind, one indirect
 * chain), publish, pop everything, push with written[i], publish, reap;
 * through the single calls or the batch calls. Batches are split at odd
 * places (pop by 3, reap by 4) to cross batch boundaries too. */
static void scen_round(struct trace *t, bool batch, const struct vq_ring_req *reqs, unsigned n,
		       bool ind, const uint32_t *written, struct vq_chain *cs)
{
	uint64_t toks[NUM];
	uint32_t lens[NUM];
	unsigned got = 0, any_len = 0;
	int rc;

	if (batch) {
		ck_assert_int_eq(vq_ring_drv_add_batch(&drv, reqs, n), (int)n);
	} else {
		for (unsigned i = 0; i < n; i++)
			ck_assert_int_ge(vq_ring_drv_add(&drv, reqs[i].bufs, reqs[i].n, reqs[i].token), 0);
	}
	if (ind) {
		struct vq_buf ib[2] = {{BUF + 0x5000, 32, false}, {BUF + 0x6000, 256, true}};
		ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, ib, 2, TBL, 0x1d), 0);
	}
	tr(t, (uint64_t)vq_ring_drv_publish(&drv));
	if (batch) {
		while ((rc = vq_ring_pop_batch(&r, cs + got, got ? NUM : 3)) > 0)
			got += (unsigned)rc;
	} else {
		while ((rc = vq_ring_pop(&r, &cs[got])) == 1)
			got++;
	}
	ck_assert_int_eq(rc, 0);
	tr(t, got);
	for (unsigned i = 0; i < got; i++)
		tr_chain(t, &cs[i]);
	if (batch) {
		rc = vq_ring_push_batch(&r, cs, written, got);
		ck_assert(rc == 0 || rc == -VQ_E_RING_USED_LEN);
		any_len = rc < 0;
	} else {
		for (unsigned i = 0; i < got; i++) {
			rc = vq_ring_push(&r, &cs[i], written[i]);
			ck_assert(rc == 0 || rc == -VQ_E_RING_USED_LEN);
			any_len |= rc < 0;
		}
	}
	tr(t, any_len);
	tr(t, (uint64_t)vq_ring_publish(&r));
	got = 0;
	if (batch) {
		while ((rc = vq_ring_drv_get_used_batch(&drv, toks + got, lens + got, 4)) > 0)
			got += (unsigned)rc;
	} else {
		while ((rc = vq_ring_drv_get_used(&drv, &toks[got], &lens[got])) == 1)
			got++;
	}
	ck_assert_int_eq(rc, 0);
	tr(t, got);
	for (unsigned i = 0; i < got; i++) {
		tr(t, toks[i]);
		tr(t, lens[i]);
	}
}

/* The whole scenario from a fresh queue at index start: mixed chains (one
 * readable or writable buffer, two buffers, a zero-length one, indirect),
 * over-long written values, slots and the 16-bit index wrapping inside
 * batches; then the guest bytes and both sides' state. */
static void scenario(struct trace *t, bool batch, uint16_t start, unsigned features)
{
	static const struct vq_buf rd = {BUF, 16, false}, wr = {BUF + 0x1000, 2048, true},
				   two[2] = {{BUF + 0x2000, 16, false}, {BUF + 0x2100, 512, true}},
				   zero = {BUF + 0x3000, 0, true}, small = {BUF + 0x4000, 64, true};
	const struct vq_ring_req r1[] = {
		{&rd, 1, 0xa0}, {&wr, 1, 0xa1}, {two, 2, 0xa2}, {&zero, 1, 0xa3}, {&small, 1, 0xa4},
	};
	const struct vq_ring_req r2[] = {
		{&wr, 1, 0xb0}, {two, 2, 0xb1}, {&small, 1, 0xb2}, {&rd, 1, 0xb3}, {two, 2, 0xb4},
	};
	struct vq_ring_req r3[NUM];
	const uint32_t w1[] = {0, 2048, 600 /* > 512: clamped */, 0, 64, 256};
	const uint32_t w2[] = {2000, 512, 65 /* clamped */, 0, 512, 0, 0, 0};
	uint32_t w3[NUM];
	struct vq_chain cs[NUM];
	uint64_t bytes;
	uint8_t guest[VIRTQ_DESC_SIZE(NUM) + VIRTQ_AVAIL_SIZE(NUM) + VIRTQ_USED_SIZE(NUM) + 16];

	for (unsigned i = 0; i < NUM; i++) {
		vq_chain_init(&cs[i]);
		r3[i] = (struct vq_ring_req){i & 1 ? &wr : &small, 1, 0xc0 + i};
		w3[i] = 32 * i;
	}
	ring_setup(NUM, features);
	ring_start_at(start);
	scen_round(t, batch, r1, 5, true, w1, cs);
	scen_round(t, batch, r2, 5, false, w2, cs);
	scen_round(t, batch, r3, NUM, false, w3, cs);
	scen_round(t, batch, r1, 5, true, w1, cs);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, NUM, RING_GPA, &ra, &bytes), 0);
	ck_assert_uint_le(bytes, sizeof(guest));
	ck_assert_int_eq(vq_mem_read(m, RING_GPA, guest, bytes), 0);
	for (uint64_t i = 0; i < bytes; i += 8) {
		uint64_t w = 0;
		memcpy(&w, guest + i, bytes - i < 8 ? bytes - i : 8);
		tr(t, w);
	}
	tr(t, r.last_avail);
	tr(t, r.avail_shadow);
	tr(t, r.used_idx);
	tr(t, r.used_published);
	tr(t, r.signalled_used);
	tr(t, r.signalled_valid);
	tr(t, (uint64_t)(int64_t)r.error);
	tr(t, drv.free_head);
	tr(t, drv.num_free);
	tr(t, drv.avail_idx);
	tr(t, drv.kicked_idx);
	tr(t, drv.last_used);
	tr(t, drv.used_shadow);
	for (unsigned i = 0; i < NUM; i++) {
		tr(t, drv.next[i]);
		tr(t, drv.chain_len[i]);
		tr(t, drv.indirect[i]);
		tr(t, drv.token[i]);
		vq_chain_release(&cs[i]);
	}
}

/* Every batch call against the single calls: same results, same guest
 * bytes, same state; from index 0 and across the 16-bit wrap, with and
 * without EVENT_IDX. */
START_TEST(test_batch_same_as_single)
{
	static const uint16_t starts[] = {0, 0xfffb, 0xfff9, 5};
	static struct trace single, batched;
	uint16_t start = starts[_i % 4];
	unsigned features = VQ_RING_F_INDIRECT | (_i >= 4 ? VQ_RING_F_EVENT_IDX : 0);

	memset(&single, 0, sizeof(single));
	memset(&batched, 0, sizeof(batched));
	scenario(&single, false, start, features);
	scenario(&batched, true, start, features);
	ck_assert_uint_gt(single.n, 100);
	ck_assert_uint_eq(single.n, batched.n);
	for (unsigned i = 0; i < single.n; i++)
		if (single.v[i] != batched.v[i])
			ck_abort_msg("start %u: trace differs at %u: %llu vs %llu", start, i,
				     (unsigned long long)single.v[i], (unsigned long long)batched.v[i]);
}
END_TEST

/* Add n one-buffer chains (token = 100 + i) and publish them. */
static void add_singles(unsigned n)
{
	struct vq_buf b = {BUF, 64, true};

	for (unsigned i = 0; i < n; i++)
		ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 100 + i), 0);
	vq_ring_drv_publish(&drv);
}

/* max = 0, max beyond what is available, a batch that leaves chains, an
 * empty ring. */
START_TEST(test_batch_pop_max)
{
	struct vq_chain cs[NUM + 2];

	for (unsigned i = 0; i < NUM + 2; i++)
		vq_chain_init(&cs[i]);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), 0); /* empty */
	add_singles(5);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 0), 0);
	ck_assert_int_eq(vq_ring_pending(&r), 5);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 2), 2);
	ck_assert_int_eq(vq_ring_pending(&r), 3);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs + 2, NUM + 2), 3); /* beyond: what there is */
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_uint_eq(cs[i].head, i);
		ck_assert_uint_eq(cs[i].nseg, 1);
		ck_assert_uint_eq(cs[i].write_bytes, 64);
	}
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), 0);
	/* unpop undoes the last chain of the batch */
	vq_ring_unpop(&r, &cs[4]);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs + 5, NUM), 1);
	ck_assert_uint_eq(cs[5].head, 4);
	/* a batch as large as the queue, after a full round */
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){1, 2, 3, 4, 5}, 5), 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, NUM + 2), 5);
	add_singles(NUM);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM + 2), NUM);
	for (unsigned i = 0; i < NUM + 2; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* The batch's one-descriptor path: every field of the chains (a readable
 * and a writable buffer, into chains that held longer ones), translations
 * counted exactly as single pops count them, and a fault range added over a
 * buffer between two calls seen by the next one. */
START_TEST(test_batch_pop_fast_fields_stats_fault)
{
	struct vq_buf rb = {BUF + 0x100, 16, false}, wb = {BUF + 0x200, 48, true};
	struct vq_buf three[3] = {{BUF, 8, false}, {BUF + 8, 8, false}, {BUF + 16, 8, true}};
	struct vq_chain cs[4];
	struct vq_mem_stats st0, st1;

	for (unsigned i = 0; i < 4; i++)
		vq_chain_init(&cs[i]);
	/* give the chains storage of three segments first */
	for (unsigned i = 0; i < 2; i++)
		ck_assert_int_ge(vq_ring_drv_add(&drv, three, 3, i), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 4), 2);
	ck_assert_uint_eq(cs[0].nseg, 3);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){0, 0}, 2), 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, 4), 2);

	ck_assert_int_ge(vq_ring_drv_add(&drv, &rb, 1, 10), 0);
	ck_assert_int_ge(vq_ring_drv_add(&drv, &wb, 1, 11), 0);
	vq_ring_drv_publish(&drv);
	vq_mem_get_stats(m, &st0);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 4), 2);
	vq_mem_get_stats(m, &st1);
	ck_assert_uint_eq(st1.translations, st0.translations + 2);
	ck_assert_uint_eq(st1.refused, st0.refused);
	for (unsigned i = 0; i < 2; i++) {
		bool w = i == 1;
		const struct vq_buf *b = w ? &wb : &rb;

		ck_assert_uint_eq(cs[i].ndesc, 1);
		ck_assert_uint_eq(cs[i].nseg, 1);
		ck_assert_uint_eq(cs[i].nread, w ? 0 : 1);
		ck_assert_uint_eq(cs[i].read_bytes, w ? 0 : b->len);
		ck_assert_uint_eq(cs[i].write_bytes, w ? b->len : 0);
		ck_assert_uint_eq(cs[i].seg[0].gpa, b->gpa);
		ck_assert_uint_eq(cs[i].seg[0].len, b->len);
		ck_assert(cs[i].seg[0].writable == w);
		ck_assert_ptr_eq(cs[i].seg[0].host,
				 vq_mem_translate(m, b->gpa, b->len, VQ_ACC_READ, NULL));
		ck_assert_uint_eq(drv.token[cs[i].head], 10 + i);
	}
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){0, 48}, 2), 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, 4), 2);

	/* same count through single pops */
	ck_assert_int_ge(vq_ring_drv_add(&drv, &wb, 1, 12), 0);
	vq_ring_drv_publish(&drv);
	vq_mem_get_stats(m, &st0);
	ck_assert_int_eq(vq_ring_pop(&r, &cs[0]), 1);
	vq_mem_get_stats(m, &st1);
	ck_assert_uint_eq(st1.translations, st0.translations + 1);
	ck_assert_int_eq(vq_ring_push(&r, &cs[0], 0), 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);

	/* a fault over the writable buffer, added between two batch calls */
	ck_assert_int_ge(vq_ring_drv_add(&drv, &rb, 1, 13), 0);
	ck_assert_int_ge(vq_ring_drv_add(&drv, &wb, 1, 14), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 1), 1);
	ck_assert_int_ge(vq_mem_fault_add(m, wb.gpa + 40, 1, VQ_ACC_WRITE), 0);
	vq_mem_get_stats(m, &st0);
	ck_assert_err(vq_ring_pop_batch(&r, cs + 1, 3), VQ_E_RING_DESC_MEM);
	vq_mem_get_stats(m, &st1);
	ck_assert_uint_eq(st1.fault_hits, st0.fault_hits + 1);
	for (unsigned i = 0; i < 4; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* An error in the middle of a batch: the chains before it are returned,
 * valid; the ring is broken and says so from the next call. */
START_TEST(test_batch_pop_error_middle)
{
	struct vq_chain cs[NUM];

	for (unsigned i = 0; i < NUM; i++)
		vq_chain_init(&cs[i]);
	/* 5th chain's head out of range */
	add_singles(5);
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 4 + 2 * 4, NUM), 0);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), 4);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_uint_eq(cs[i].head, i);
		ck_assert_uint_eq(cs[i].nseg, 1);
		ck_assert_ptr_eq(cs[i].seg[0].host, vq_mem_translate(m, BUF, 64, VQ_ACC_WRITE, NULL));
	}
	ck_assert_int_eq(r.error, -VQ_E_RING_HEAD);
	ck_assert_err(vq_ring_push_batch(&r, cs, (const uint32_t[]){0, 0, 0, 0}, 4),
		      VQ_E_RING_BROKEN);
	assert_broken(VQ_E_RING_HEAD);
	recover();

	/* 3rd chain's next out of range: found by the walker */
	{
		struct vq_buf two[2] = {{BUF, 8, false}, {BUF + 0x100, 8, true}};
		struct vq_ring_req q[3] = {{&two[1], 1, 1}, {two, 2, 2}, {two, 2, 3}};
		int head;

		ck_assert_int_eq(vq_ring_drv_add_batch(&drv, q, 3), 3);
		head = drv.free_head; /* not used: a chain's second descriptor is */
		(void)head;
		vq_ring_drv_publish(&drv);
		/* corrupt the head descriptor of the 3rd chain (avail slot 2) */
		put_desc(rd16(ra.driver + 4 + 2 * ((drv.avail_idx - 1) & (NUM - 1))), BUF, 8, F_NEXT,
			 NUM);
		ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), 2);
		ck_assert_uint_eq(cs[1].ndesc, 2);
		ck_assert_uint_eq(cs[1].nseg, 2);
		assert_broken(VQ_E_RING_NEXT);
		recover();
	}

	/* the first chain fails: its error, as vq_ring_pop() */
	add_singles(2);
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 4 + 2 * ((drv.avail_idx - 2) & (NUM - 1)),
					0xffff), 0);
	ck_assert_err(vq_ring_pop_batch(&r, cs, NUM), VQ_E_RING_HEAD);
	assert_broken(VQ_E_RING_HEAD);
	recover();

	/* avail idx jumping too far, found at the refresh inside a batch */
	add_singles(2);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 1), 1);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 1), 1);
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 2, (uint16_t)(drv.avail_idx + NUM + 1)), 0);
	ck_assert_err(vq_ring_pop_batch(&r, cs, NUM), VQ_E_RING_AVAIL_IDX);
	assert_broken(VQ_E_RING_AVAIL_IDX);
	recover();

	/* a buffer outside memory in the 2nd chain, with a fault range present
	 * (every translation takes the slow path) */
	ck_assert_int_ge(vq_mem_fault_add(m, MEM_END - 0x1000, 0x100, VQ_ACC_RW), 0);
	add_singles(1);
	raw_avail(1);
	put_desc(1, MEM_END - 8, 64, F_WR, 0);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), 1);
	assert_broken(VQ_E_RING_DESC_MEM);
	for (unsigned i = 0; i < NUM; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* Issue 8.5: chains that already have segment storage take the batch fast
 * path; "good, good, bad head" must still return the two good chains (the
 * error comes on the next call), and a batch push of n = 0 is a no-op even
 * on a broken ring. Failed before: the fast path dropped the count. */
START_TEST(test_batch_pop_keeps_good_before_bad)
{
	struct vq_chain cs[NUM];
	uint32_t w[NUM] = {0};

	for (unsigned i = 0; i < NUM; i++)
		vq_chain_init(&cs[i]);
	/* warm: every chain gets storage, all pushed back */
	add_singles(NUM);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), NUM);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, NUM), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, NULL, NUM), NUM);
	/* good, good, bad head */
	add_singles(3);
	ck_assert_int_eq(vq_mem_write16(m, ra.driver + 4 + 2 * ((drv.avail_idx - 1) & (NUM - 1)),
					NUM + 3), 0);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(cs[i].nseg, 1);
		ck_assert_uint_eq(cs[i].write_bytes, 64);
	}
	ck_assert_int_eq(r.error, -VQ_E_RING_HEAD);
	ck_assert_str_eq(r.error_detail, "avail slot 2: head 11, queue size 8");
	ck_assert_err(vq_ring_pop_batch(&r, cs, NUM), VQ_E_RING_BROKEN);
	/* the two served chains can still be published for the driver */
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, 0), 0);
	ck_assert_int_eq(vq_ring_push(&r, &cs[0], 0), -VQ_E_RING_BROKEN);
	assert_broken(VQ_E_RING_HEAD);
	recover();
	for (unsigned i = 0; i < NUM; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* Issue 8.1: a descriptor table, an avail ring, a buffer and an indirect
 * table that each cross from one RAM region into the next (back to back,
 * 64 MiB then 64 KiB) are served: the device sees one segment per buffer
 * with the right bytes, and its writes land in both regions. A buffer that
 * runs on into a hole is still DESC_MEM. Failed before: the ring could not
 * even be set up (RING_LAYOUT). */
START_TEST(test_cross_region_ring)
{
	const uint64_t lo = 0x40000000ull, hi = 0x44000000ull;
	struct vq_mem *mm = vq_mem_new();
	struct vq_ring rr;
	struct vq_ring_drv dd;
	struct vq_chain cc;
	struct vq_ring_addr a;
	uint64_t bytes, tok = 0;
	uint32_t len = 0;
	uint8_t out[64], in[96], back[96];
	struct vq_buf b[2] = {{hi - 0x1000, sizeof(out), false}, {hi - 0x2000, sizeof(in), true}};

	vq_chain_init(&cc);
	memset(&dd, 0, sizeof(dd));
	ck_assert_int_eq(vq_mem_add_region(mm, "lo", lo, 64 * 1024 * 1024), 0);
	ck_assert_int_eq(vq_mem_add_region(mm, "hi", hi, 64 * 1024), 0);
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(0x30 + i);
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xa0 ^ i);

	/* ring areas across the boundary: the descriptor table (8 x 16
	 * bytes) starts 64 bytes before hi; buffers in lo */
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, NUM, hi - 64, &a, &bytes), 0);
	ck_assert_int_eq(vq_ring_drv_init(&dd, mm, VQ_RING_SPLIT, NUM, &a, VQ_RING_F_INDIRECT), 0);
	ck_assert_int_eq(vq_ring_init(&rr, mm, VQ_RING_SPLIT, NUM, &a, VQ_RING_F_INDIRECT), 0);
	ck_assert_int_eq(vq_mem_write(mm, b[0].gpa, out, sizeof(out)), 0);
	for (uint16_t k = 0; k < 2 * NUM; k++) { /* every descriptor slot, both sides */
		ck_assert_int_ge(vq_ring_drv_add(&dd, b, 2, k), 0);
		ck_assert_int_ge(vq_ring_drv_publish(&dd), 0);
		ck_assert_int_eq(vq_ring_pop(&rr, &cc), 1);
		ck_assert_uint_eq(cc.nseg, 2);
		ck_assert_uint_eq(vq_chain_read(&cc, 0, back, sizeof(out)), sizeof(out));
		ck_assert_int_eq(memcmp(back, out, sizeof(out)), 0);
		ck_assert_int_eq(vq_ring_push(&rr, &cc, 3), 0);
		ck_assert_int_ge(vq_ring_publish(&rr), 0);
		ck_assert_int_eq(vq_ring_drv_get_used(&dd, &tok, &len), 1);
		ck_assert_uint_eq(tok, k);
		ck_assert_uint_eq(len, 3);
	}
	vq_ring_drv_free(&dd);

	/* rings in lo, well below the boundary; buffers and table across it */
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, NUM, lo, &a, &bytes), 0);
	ck_assert_int_eq(vq_ring_drv_init(&dd, mm, VQ_RING_SPLIT, NUM, &a, VQ_RING_F_INDIRECT), 0);
	ck_assert_int_eq(vq_ring_init(&rr, mm, VQ_RING_SPLIT, NUM, &a, VQ_RING_F_INDIRECT), 0);
	{
		struct vq_buf w = {hi - 40, sizeof(in), true};

		ck_assert_int_ge(vq_ring_drv_add(&dd, &w, 1, 8), 0);
		ck_assert_int_ge(vq_ring_drv_publish(&dd), 0);
		ck_assert_int_eq(vq_ring_pop(&rr, &cc), 1);
		ck_assert_uint_eq(cc.nseg, 1);
		ck_assert_uint_eq(cc.write_bytes, sizeof(in));
		ck_assert_uint_eq(vq_chain_write(&cc, 0, in, sizeof(in)), sizeof(in));
		ck_assert_int_eq(vq_ring_push(&rr, &cc, sizeof(in)), 0);
		ck_assert_int_ge(vq_ring_publish(&rr), 0);
		ck_assert_int_eq(vq_ring_drv_get_used(&dd, &tok, &len), 1);
		ck_assert_uint_eq(tok, 8);
		ck_assert_uint_eq(len, sizeof(in));
		/* the bytes, through each region on its own */
		ck_assert_int_eq(vq_mem_read(mm, hi - 40, back, 40), 0);
		ck_assert_int_eq(memcmp(back, in, 40), 0);
		ck_assert_int_eq(vq_mem_read(mm, hi, back, sizeof(in) - 40), 0);
		ck_assert_int_eq(memcmp(back, in + 40, sizeof(in) - 40), 0);
		/* an indirect table of 2 entries crossing: 16 bytes on each side
		 * (written after the buffer above was used) */
		ck_assert_int_ge(vq_ring_drv_add_indirect(&dd, b, 2, hi - 16, 9), 0);
		ck_assert_int_ge(vq_ring_drv_publish(&dd), 0);
		ck_assert_int_eq(vq_ring_pop(&rr, &cc), 1);
		ck_assert_uint_eq(cc.nseg, 2);
		ck_assert_uint_eq(cc.read_bytes, sizeof(out));
		ck_assert_uint_eq(vq_chain_read(&cc, 0, back, sizeof(out)), sizeof(out));
		ck_assert_int_eq(memcmp(back, out, sizeof(out)), 0);
		ck_assert_int_eq(vq_ring_push(&rr, &cc, 0), 0);
		ck_assert_int_ge(vq_ring_publish(&rr), 0);
		ck_assert_int_eq(vq_ring_drv_get_used(&dd, &tok, &len), 1);
		ck_assert_uint_eq(tok, 9);
	}
	/* a buffer from hi on into the hole after it: still refused */
	{
		struct vq_buf w = {hi + 64 * 1024 - 8, 16, true};

		ck_assert_int_ge(vq_ring_drv_add(&dd, &w, 1, 10), 0);
		ck_assert_int_ge(vq_ring_drv_publish(&dd), 0);
		ck_assert_err(vq_ring_pop(&rr, &cc), VQ_E_RING_DESC_MEM);
	}
	vq_chain_release(&cc);
	vq_ring_drv_free(&dd);
	vq_mem_free(mm);
}
END_TEST

START_TEST(test_batch_push)
{
	struct vq_chain cs[4];
	uint32_t w[4] = {10, 20, 30, 40};
	uint8_t before[8 * NUM], after[8 * NUM];

	for (unsigned i = 0; i < 4; i++)
		vq_chain_init(&cs[i]);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, 0), 0);
	add_singles(4);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 3), 3);
	/* more than in flight: refused, nothing pushed, ring intact */
	ck_assert_err(vq_ring_push_batch(&r, cs, w, 4), VQ_E_INVAL);
	ck_assert_uint_eq(r.used_idx, 0);
	/* a bad head in the middle: nothing pushed */
	ck_assert_int_eq(vq_mem_read(m, USED_ID(0), before, sizeof(before)), 0);
	cs[1].head = NUM;
	ck_assert_err(vq_ring_push_batch(&r, cs, w, 3), VQ_E_INVAL);
	ck_assert_uint_eq(r.used_idx, 0);
	ck_assert_int_eq(vq_ring_publish(&r), 0);
	ck_assert_uint_eq(rd16(USED_IDX), 0);
	ck_assert_int_eq(r.error, 0);
	cs[1].head = 1;
	/* a written value too large: clamped, all pushed */
	w[2] = 65;
	ck_assert_err(vq_ring_push_batch(&r, cs, w, 3), VQ_E_RING_USED_LEN);
	ck_assert_uint_eq(r.used_idx, 3);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_int_eq(vq_mem_read(m, USED_ID(0), after, sizeof(after)), 0);
	ck_assert_uint_eq(rd32(USED_ID(2)), 2);
	ck_assert_uint_eq(rd32(USED_LEN(2)), 64);
	ck_assert_uint_eq(rd32(USED_LEN(1)), 20);
	/* all three popped chains were pushed: one more is refused */
	ck_assert_err(vq_ring_push_batch(&r, cs, w, 1), VQ_E_INVAL);
	ck_assert_int_eq(vq_ring_pop_batch(&r, &cs[3], 1), 1);
	ck_assert_int_eq(vq_ring_push_batch(&r, &cs[3], &w[3], 1), 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_uint_eq(rd16(USED_IDX), 4);
	/* the used ring became unreachable: broken */
	add_singles(1);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 1), 1);
	ck_assert_int_ge(vq_mem_fault_add(m, ra.device, 4, VQ_ACC_WRITE), 0);
	ck_assert_err(vq_ring_push_batch(&r, cs, w, 1), VQ_E_RING_RING_MEM);
	assert_broken(VQ_E_RING_RING_MEM);
	for (unsigned i = 0; i < 4; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

START_TEST(test_batch_drv_add)
{
	struct vq_buf b[3] = {{BUF, 8, false}, {BUF + 0x100, 8, true}, {BUF + 0x200, 8, false}};
	struct vq_ring_req q[NUM + 2];
	uint64_t toks[NUM];

	for (unsigned i = 0; i < NUM + 2; i++)
		q[i] = (struct vq_ring_req){&b[1], 1, i};
	ck_assert_int_eq(vq_ring_drv_add_batch(&drv, q, 0), 0);
	ck_assert_err(vq_ring_drv_add_batch(&drv, NULL, 1), VQ_E_INVAL);
	/* bad requests, first and in the middle: nothing / the ones before */
	q[0].n = 0;
	ck_assert_err(vq_ring_drv_add_batch(&drv, q, 3), VQ_E_INVAL);
	q[0].n = 1;
	q[0].bufs = NULL;
	ck_assert_err(vq_ring_drv_add_batch(&drv, q, 3), VQ_E_INVAL);
	q[0].bufs = &b[1];
	q[2] = (struct vq_ring_req){&b[1], 2, 2}; /* readable after writable */
	ck_assert_int_eq(vq_ring_drv_add_batch(&drv, q, 4), 2);
	ck_assert_err(vq_ring_drv_add_batch(&drv, q + 2, 2), VQ_E_INVAL);
	ck_assert_uint_eq(drv.num_free, NUM - 2);
	ck_assert_uint_eq(drv.avail_idx, 2);
	q[2] = (struct vq_ring_req){b, 2, 2};
	/* the queue fills: the ones that fit, then NOSPC */
	ck_assert_int_eq(vq_ring_drv_add_batch(&drv, q + 2, NUM), NUM - 3); /* 2-desc + 4 singles */
	ck_assert_uint_eq(drv.num_free, 0);
	ck_assert_err(vq_ring_drv_add_batch(&drv, q + NUM - 1, 1), VQ_E_NOSPC);
	/* a multi-buffer chain that does not fit */
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, NULL, NUM), 0);
	ck_assert_int_eq(vq_ring_pending(&r), NUM - 1);
	{
		struct vq_chain cs[NUM];
		uint32_t w[NUM] = {0};

		for (unsigned i = 0; i < NUM; i++)
			vq_chain_init(&cs[i]);
		ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), NUM - 1);
		ck_assert_uint_eq(cs[2].ndesc, 2);
		ck_assert_uint_eq(cs[2].nread, 1);
		ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, 1), 0);
		ck_assert_int_eq(vq_ring_publish(&r), 1);
		ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, NULL, NUM), 1);
		ck_assert_uint_eq(toks[0], 0);
		ck_assert_uint_eq(drv.num_free, 1);
		q[0] = (struct vq_ring_req){b, 2, 9};
		ck_assert_err(vq_ring_drv_add_batch(&drv, q, 2), VQ_E_NOSPC);
		q[1] = (struct vq_ring_req){&b[1], 1, 9};
		ck_assert_int_eq(vq_ring_drv_add_batch(&drv, q + 1, 2), 1);
		for (unsigned i = 0; i < NUM; i++)
			vq_chain_release(&cs[i]);
	}
}
END_TEST

/* The device is played by raw writes to the used ring: a bogus id in the
 * middle of a batch stops it there, and the error repeats. */
START_TEST(test_batch_drv_bad_used_id)
{
	uint64_t toks[NUM];
	uint32_t lens[NUM];

	add_singles(4);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(vq_mem_write32(m, USED_ID(i), i), 0);
		ck_assert_int_eq(vq_mem_write32(m, USED_LEN(i), 10 + i), 0);
	}
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(2), 0), 0); /* already reaped by then */
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 4), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, lens, NUM), 2);
	ck_assert_uint_eq(toks[0], 100);
	ck_assert_uint_eq(toks[1], 101);
	ck_assert_uint_eq(lens[1], 11);
	ck_assert_uint_eq(drv.last_used, 2);
	ck_assert_err(vq_ring_drv_get_used_batch(&drv, toks, lens, NUM), VQ_E_RING_USED_ID);
	ck_assert_err(vq_ring_drv_get_used(&drv, NULL, NULL), VQ_E_RING_USED_ID);
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(2), NUM), 0);
	ck_assert_err(vq_ring_drv_get_used_batch(&drv, toks, lens, NUM), VQ_E_RING_USED_ID);
	ck_assert_uint_eq(drv.last_used, 2);
	ck_assert_int_eq(vq_mem_write32(m, USED_ID(2), 2), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, lens, 0), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, NULL, lens, NUM), 2);
	ck_assert_uint_eq(lens[0], 12);
	ck_assert_uint_eq(lens[1], 13);
	ck_assert_uint_eq(drv.num_free, NUM);
	/* used idx past what was published: the error, nothing reaped */
	add_singles(2);
	ck_assert_int_eq(vq_mem_write16(m, USED_IDX, 7), 0);
	ck_assert_err(vq_ring_drv_get_used_batch(&drv, toks, lens, NUM), VQ_E_RING_USED_IDX);
	ck_assert_uint_eq(drv.last_used, 4);
}
END_TEST

/* Slots and the 16-bit indices wrap inside one batch on each side. */
START_TEST(test_batch_wrap)
{
	struct vq_ring_req q[NUM];
	struct vq_buf b = {BUF, 64, true};
	struct vq_chain cs[NUM];
	uint32_t w[NUM];
	uint64_t toks[NUM];
	uint32_t lens[NUM];

	ring_start_at(0xfffd);
	for (unsigned i = 0; i < NUM; i++) {
		vq_chain_init(&cs[i]);
		q[i] = (struct vq_ring_req){&b, 1, 0x700 + i};
		w[i] = i;
	}
	ck_assert_int_eq(vq_ring_drv_add_batch(&drv, q, NUM), NUM);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	ck_assert_uint_eq(rd16(ra.driver + 2), 5);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, NUM), NUM);
	for (unsigned i = 0; i < NUM; i++)
		ck_assert_uint_eq(cs[i].head, i);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, w, NUM), 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_uint_eq(rd16(USED_IDX), 5);
	/* slot 0xfffd & 7 = 5 first, then 6, 7, 0, ... */
	ck_assert_uint_eq(rd32(USED_ID(5)), 0);
	ck_assert_uint_eq(rd32(USED_ID(0)), 3);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, toks, lens, NUM), NUM);
	for (unsigned i = 0; i < NUM; i++) {
		ck_assert_uint_eq(toks[i], 0x700 + i);
		ck_assert_uint_eq(lens[i], i);
	}
	ck_assert_uint_eq(drv.last_used, 5);
	ck_assert_uint_eq(drv.num_free, NUM);
	for (unsigned i = 0; i < NUM; i++)
		vq_chain_release(&cs[i]);
}
END_TEST

/* A memory generation change before a batch: remapped, then served. */
/* The batch pop's in-register range check against the single pop, at the
 * edges of the memory's hit region: the last byte, one past it, below it,
 * across 2^64 and an empty buffer (the general case: no segment). */
START_TEST(test_batch_pop_span_edges)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{MEM_END - 8, 8}, {MEM_END - 8, 9}, {MEM_END, 1}, {MEM_GPA, 1},
		{MEM_GPA - 1, 2}, {0xfffffffffffffff0ull, 0x20}, {0xffffffffffffffffull, 1},
		{MEM_GPA, 0}, {0, 0},
	};
	struct vq_chain cs[2];

	vq_chain_init(&cs[0]);
	vq_chain_init(&cs[1]);
	/* give both chains segment storage first */
	add_singles(1);
	ck_assert_int_eq(vq_ring_pop(&r, &cs[0]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &cs[0], 0), 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	add_singles(1);
	ck_assert_int_eq(vq_ring_pop(&r, &cs[1]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &cs[1], 0), 0);
	vq_ring_publish(&r);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc[2];

		for (unsigned batch = 0; batch < 2; batch++) {
			struct vq_chain *ch = &cs[batch];

			add_singles(1);
			put_desc(rd16(ra.driver + 4 + 2 * ((drv.avail_idx - 1) & (cur_num - 1))),
				 cases[i].addr, cases[i].len, F_WR, 0);
			rc[batch] = batch ? vq_ring_pop_batch(&r, ch, 2) : vq_ring_pop(&r, ch);
			if (rc[batch] < 0) {
				/* a writable byte on the ring areas (at MEM_GPA) is
				 * WRITE_RING, outside memory DESC_MEM */
				bool on_ring = cases[i].addr >= MEM_GPA && cases[i].addr < MEM_END &&
					       cases[i].addr < ra.device + VIRTQ_USED_SIZE(cur_num);
				ck_assert_err(rc[batch], on_ring ? VQ_E_RING_WRITE_RING
								 : VQ_E_RING_DESC_MEM);
				recover();
				continue;
			}
			ck_assert_int_eq(rc[batch], 1);
			ck_assert_uint_eq(ch->nseg, cases[i].len ? 1 : 0);
			ck_assert_uint_eq(ch->write_bytes, cases[i].len);
			ck_assert_uint_eq(ch->read_bytes, 0);
			ck_assert_uint_eq(ch->nread, 0);
			if (cases[i].len)
				ck_assert_ptr_eq(ch->seg[0].host,
						 vq_mem_translate(m, cases[i].addr, cases[i].len,
								  VQ_ACC_WRITE, NULL));
			ck_assert_int_eq(vq_ring_push(&r, ch, 0), 0);
			vq_ring_publish(&r);
			ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 1);
		}
		ck_assert_int_eq(rc[0], rc[1]);
	}
	vq_chain_release(&cs[0]);
	vq_chain_release(&cs[1]);
}
END_TEST

START_TEST(test_batch_remap)
{
	struct vq_chain cs[2];

	vq_chain_init(&cs[0]);
	vq_chain_init(&cs[1]);
	add_singles(2);
	ck_assert_int_eq(vq_mem_add_region(m, "more", 0x200000, 0x10000), 0);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 2), 2);
	ck_assert_int_eq(vq_mem_add_region(m, "more2", 0x300000, 0x10000), 0);
	ck_assert_int_eq(vq_ring_push_batch(&r, cs, (const uint32_t[]){1, 2}, 2), 0);
	ck_assert_int_eq(vq_ring_publish(&r), 1);
	ck_assert_uint_eq(rd16(USED_IDX), 2);
	/* the avail ring becomes unreadable: broken at the next batch */
	add_singles(1);
	ck_assert_int_ge(vq_mem_fault_add(m, ra.driver, 2, VQ_ACC_READ), 0);
	ck_assert_err(vq_ring_pop_batch(&r, cs, 2), VQ_E_RING_RING_MEM);
	assert_broken(VQ_E_RING_RING_MEM);
	vq_chain_release(&cs[0]);
	vq_chain_release(&cs[1]);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = tcase_create("pop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pop_one_desc);
	tcase_add_test(tc, test_err_detail_names_values);
	tcase_add_test(tc, test_pop_three_desc);
	tcase_add_test(tc, test_pop_indirect);
	tcase_add_test(tc, test_pop_direct_then_indirect);
	tcase_add_test(tc, test_chain_of_num);
	tcase_add_test(tc, test_zero_length);
	tcase_add_test(tc, test_unpop_and_pending);
	tcase_add_test(tc, test_avail_full_ring);
	tcase_add_test(tc, test_chain_storage);
	tcase_add_test(tc, test_chain_read_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("used");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_used_ring_bytes);
	tcase_add_test(tc, test_push_used_len);
	tcase_add_test(tc, test_push_not_in_flight);
	tcase_add_test(tc, test_wrap_and_free_list);
	tcase_add_test(tc, test_no_interrupt_flag);
	tcase_add_test(tc, test_event_idx_interrupts);
	tcase_add_test(tc, test_event_idx_first);
	tcase_add_test(tc, test_event_idx_wrap);
	tcase_add_test(tc, test_notify_flag);
	tcase_add_test(tc, test_notify_event_idx);
	tcase_add_test(tc, test_dirty_used_ring);
	tcase_add_test(tc, test_dirty_used_wrap);
	tcase_add_test(tc, test_dirty_used_lap);
	suite_add_tcase(s, tc);

	tc = tcase_create("driver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_drv_roundtrip);
	tcase_add_test(tc, test_drv_add_errors);
	tcase_add_test(tc, test_drv_bad_used_id);
	tcase_add_test(tc, test_drv_used_idx_jump);
	tcase_add_test(tc, test_drv_init);
	suite_add_tcase(s, tc);

	tc = tcase_create("layout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_rejects);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_ring_size);
	tcase_add_test(tc, test_ring_mem_used_fault);
	tcase_add_test(tc, test_ring_mem_avail_desc_fault);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_avail_idx);
	tcase_add_test(tc, test_err_avail_idx_in_flight);
	tcase_add_test(tc, test_err_head);
	tcase_add_test(tc, test_err_next);
	tcase_add_test(tc, test_err_loop);
	tcase_add_test(tc, test_err_loop_indirect_long);
	tcase_add_test(tc, test_err_indirect_feature);
	tcase_add_test(tc, test_err_indirect_next);
	tcase_add_test(tc, test_err_indirect_nested);
	tcase_add_test(tc, test_err_indirect_len);
	tcase_add_test(tc, test_err_indirect_mem);
	tcase_add_test(tc, test_err_desc_mem);
	tcase_add_test(tc, test_err_order);
	tcase_add_test(tc, test_err_write_ring);
	tcase_add_test(tc, test_err_chain_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_batch_same_as_single, 0, 8);
	tcase_add_test(tc, test_batch_pop_max);
	tcase_add_test(tc, test_batch_pop_fast_fields_stats_fault);
	tcase_add_test(tc, test_batch_pop_error_middle);
	tcase_add_test(tc, test_batch_pop_keeps_good_before_bad);
	tcase_add_test(tc, test_cross_region_ring);
	tcase_add_test(tc, test_batch_push);
	tcase_add_test(tc, test_batch_drv_add);
	tcase_add_test(tc, test_batch_drv_bad_used_id);
	tcase_add_test(tc, test_batch_wrap);
	tcase_add_test(tc, test_batch_pop_span_edges);
	tcase_add_test(tc, test_batch_remap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(ring_suite());
}
