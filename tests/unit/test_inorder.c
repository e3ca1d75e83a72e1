/* test_inorder.c - VIRTIO_F_IN_ORDER on the split ring (spec 2.7.9) and the
 * packed ring (2.8.8, one used descriptor per batch at its first slot): the
 * device side writes one used element per publish (the batch's last id at
 * its first slot, used idx advanced by the batch size), the driver side
 * completes every outstanding chain up to that id, in order. */
#include <string.h>

#include "testutil.h"

#define MEM_GPA  0x10000ull
#define MEM_SIZE 0x100000ull
#define RING_GPA 0x10000ull
#define BUF      0x80000ull
#define NUM      8

static struct vq_mem *m;
static struct vq_ring r;
static struct vq_ring_drv drv;
static struct vq_chain c[NUM];
static struct vq_ring_addr ra;

static void setup(void)
{
	uint64_t bytes;

	m = vq_mem_new();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_mem_add_region(m, "ram", MEM_GPA, MEM_SIZE), 0);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, NUM, RING_GPA, &ra, &bytes), 0);
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, NUM, &ra, VQ_RING_F_IN_ORDER), 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_SPLIT, NUM, &ra, VQ_RING_F_IN_ORDER), 0);
	for (unsigned i = 0; i < NUM; i++)
		vq_chain_init(&c[i]);
}

static void teardown(void)
{
	for (unsigned i = 0; i < NUM; i++)
		vq_chain_release(&c[i]);
	vq_ring_drv_free(&drv);
	vq_mem_free(m);
}

static uint16_t used_idx(void)
{
	uint16_t v;

	ck_assert_int_eq(vq_mem_read16(m, ra.device + 2, &v), 0);
	return v;
}

static void used_elem(unsigned slot, uint32_t *id, uint32_t *len)
{
	ck_assert_int_eq(vq_mem_read32(m, ra.device + 4 + 8 * slot, id), 0);
	ck_assert_int_eq(vq_mem_read32(m, ra.device + 4 + 8 * slot + 4, len), 0);
}

/* n one-buffer writable chains, tokens 100.. */
static void offer(unsigned n, unsigned first_token)
{
	for (unsigned i = 0; i < n; i++) {
		struct vq_buf b = {BUF + 0x100 * (first_token + i), 64, true};
		ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 100 + first_token + i), 0);
	}
	vq_ring_drv_publish(&drv);
}

START_TEST(batch_of_three_is_one_element)
{
	uint32_t id, len;
	uint64_t tok;

	offer(3, 0);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(vq_ring_pop(&r, &c[i]), 1);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(vq_ring_push(&r, &c[i], 10 + i), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	/* used idx moved by the batch size; slot 0 names the batch's last chain */
	ck_assert_uint_eq(used_idx(), 3);
	used_elem(0, &id, &len);
	ck_assert_uint_eq(id, c[2].head);
	ck_assert_uint_eq(len, 12);
	/* the driver completes all three, in order, the last with the length */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
		ck_assert_uint_eq(tok, 100 + i);
		ck_assert_uint_eq(len, i == 2 ? 12 : 0);
	}
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 0);
	ck_assert_uint_eq(drv.num_free, NUM);
	/* a single completion is a batch of one, with its length */
	offer(1, 3);
	ck_assert_int_eq(vq_ring_pop(&r, &c[0]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c[0], 7), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 103);
	ck_assert_uint_eq(len, 7);
}
END_TEST

START_TEST(batches_across_the_wrap_and_reaped_in_batch)
{
	uint64_t tok[NUM];
	uint32_t len[NUM];
	unsigned t = 0;

	/* several rounds of 5 so that the rings wrap */
	for (unsigned round = 0; round < 5; round++) {
		offer(5, t);
		for (unsigned i = 0; i < 5; i++)
			ck_assert_int_eq(vq_ring_pop(&r, &c[i]), 1);
		/* two publishes: batches of 2 and 3 */
		ck_assert_int_eq(vq_ring_push(&r, &c[0], 1), 0);
		ck_assert_int_eq(vq_ring_push(&r, &c[1], 2), 0);
		ck_assert_int_ge(vq_ring_publish(&r), 0);
		for (unsigned i = 2; i < 5; i++)
			ck_assert_int_eq(vq_ring_push(&r, &c[i], i + 1), 0);
		ck_assert_int_ge(vq_ring_publish(&r), 0);
		ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, tok, len, NUM), 5);
		for (unsigned i = 0; i < 5; i++)
			ck_assert_uint_eq(tok[i], 100 + t + i);
		ck_assert_uint_eq(len[0], 0);
		ck_assert_uint_eq(len[1], 2);
		ck_assert_uint_eq(len[2], 0);
		ck_assert_uint_eq(len[3], 0);
		ck_assert_uint_eq(len[4], 5);
		t += 5;
	}
	ck_assert_uint_eq(drv.num_free, NUM);
}
END_TEST

START_TEST(used_id_not_outstanding_is_refused)
{
	uint64_t tok;
	uint32_t len;

	offer(2, 0);
	ck_assert_int_eq(vq_ring_pop(&r, &c[0]), 1);
	ck_assert_int_eq(vq_ring_pop(&r, &c[1]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c[0], 1), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	/* the device names the second chain with used idx covering only one */
	ck_assert_int_eq(vq_mem_write32(m, ra.device + 4, c[1].head), 0);
	ck_assert_err(vq_ring_drv_get_used(&drv, &tok, &len), VQ_E_RING_USED_ID);
	/* an id out of range */
	ck_assert_int_eq(vq_mem_write32(m, ra.device + 4, 999), 0);
	ck_assert_err(vq_ring_drv_get_used(&drv, &tok, &len), VQ_E_RING_USED_ID);
	/* put right, it reaps */
	ck_assert_int_eq(vq_mem_write32(m, ra.device + 4, c[0].head), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 100);
	ck_assert_uint_eq(len, 1);
}
END_TEST

/* ---- packed (spec 2.8.8) ---------------------------------------------- */

static void setup_packed(void)
{
	uint64_t bytes;

	m = vq_mem_new();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_mem_add_region(m, "ram", MEM_GPA, MEM_SIZE), 0);
	ck_assert_int_eq(vq_ring_size(VQ_RING_PACKED, NUM, RING_GPA, &ra, &bytes), 0);
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_PACKED, NUM, &ra, VQ_RING_F_IN_ORDER),
			 0);
	ck_assert_int_eq(vq_ring_init(&r, m, VQ_RING_PACKED, NUM, &ra, VQ_RING_F_IN_ORDER), 0);
	for (unsigned i = 0; i < NUM; i++)
		vq_chain_init(&c[i]);
}

/* Descriptor slot as the device left it: id, len, flags. */
static void pslot(unsigned slot, uint16_t *id, uint32_t *len, uint16_t *flags)
{
	ck_assert_int_eq(vq_mem_read32(m, ra.desc + 16 * slot + 8, len), 0);
	ck_assert_int_eq(vq_mem_read16(m, ra.desc + 16 * slot + 12, id), 0);
	ck_assert_int_eq(vq_mem_read16(m, ra.desc + 16 * slot + 14, flags), 0);
}

/* A chain of ndesc writable 16-byte buffers, token tok; returns its id. */
static int padd(unsigned ndesc, uint64_t tok)
{
	struct vq_buf b[4];

	for (unsigned i = 0; i < ndesc; i++)
		b[i] = (struct vq_buf){BUF + 0x100 * tok + 16 * i, 16, true};
	return vq_ring_drv_add(&drv, b, ndesc, tok);
}

START_TEST(packed_batch_is_one_used_descriptor)
{
	uint16_t id, flags;
	uint32_t len;
	uint64_t tok;

	/* chains of 1, 2 and 1 descriptors at slots 0, 1-2, 3: ids = slots */
	ck_assert_int_eq(padd(1, 0), 0);
	ck_assert_int_eq(padd(2, 1), 1);
	ck_assert_int_eq(padd(1, 2), 3);
	vq_ring_drv_publish(&drv);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(vq_ring_pop(&r, &c[i]), 1);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(vq_ring_push(&r, &c[i], 10 + i), 0);
	/* nothing visible before the publish */
	pslot(0, &id, &len, &flags);
	ck_assert_uint_ne(flags & 0x8080, 0x8080);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	/* slot 0: used (wrap 1), the batch's last id and len */
	pslot(0, &id, &len, &flags);
	ck_assert_uint_eq(flags & 0x8080, 0x8080);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 12);
	/* the later chains' slots were skipped: still available, not used */
	pslot(1, &id, &len, &flags);
	ck_assert_uint_eq(flags & 0x8080, 0x80);
	pslot(3, &id, &len, &flags);
	ck_assert_uint_eq(flags & 0x8080, 0x80);
	ck_assert_uint_eq(len, 16);
	/* the driver completes all three in order, the last with the length;
	 * has_used stays true inside the batch */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(vq_ring_drv_has_used(&drv), 1);
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
		ck_assert_uint_eq(tok, i);
		ck_assert_uint_eq(len, i == 2 ? 12 : 0);
	}
	ck_assert_int_eq(vq_ring_drv_has_used(&drv), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 0);
	ck_assert_uint_eq(drv.num_free, NUM);
	/* the next batch's used descriptor goes to slot 4, its first */
	ck_assert_int_eq(padd(1, 3), 4);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c[0]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c[0], 7), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	pslot(4, &id, &len, &flags);
	ck_assert_uint_eq(flags & 0x8080, 0x8080);
	ck_assert_uint_eq(id, 4);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 3);
	ck_assert_uint_eq(len, 7);
}
END_TEST

START_TEST(packed_batches_across_the_wrap)
{
	uint64_t tok[NUM];
	uint32_t len[NUM];
	unsigned t = 0;

	/* rounds of chains of 1, 2, 1 descriptors (4 slots) pushed as batches
	 * of 1 and 2: 4 slots a round on an 8-slot ring wraps every 2 rounds,
	 * batches straddle the wrap when the ring is offset by one first */
	ck_assert_int_eq(padd(1, 99), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c[0]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c[0], 1), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, tok, len, NUM), 1);
	for (unsigned round = 0; round < 7; round++) {
		ck_assert_int_ge(padd(1, t), 0);
		ck_assert_int_ge(padd(2, t + 1), 0);
		ck_assert_int_ge(padd(1, t + 2), 0);
		vq_ring_drv_publish(&drv);
		for (unsigned i = 0; i < 3; i++)
			ck_assert_int_eq(vq_ring_pop(&r, &c[i]), 1);
		ck_assert_uint_eq(c[1].ndesc, 2);
		ck_assert_int_eq(vq_ring_push(&r, &c[0], 1), 0);
		ck_assert_int_ge(vq_ring_publish(&r), 0);
		ck_assert_int_eq(vq_ring_push(&r, &c[1], 2), 0);
		ck_assert_int_eq(vq_ring_push(&r, &c[2], 3), 0);
		ck_assert_int_ge(vq_ring_publish(&r), 0);
		ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, tok, len, NUM), 3);
		for (unsigned i = 0; i < 3; i++)
			ck_assert_uint_eq(tok[i], t + i);
		ck_assert_uint_eq(len[0], 1);
		ck_assert_uint_eq(len[1], 0);
		ck_assert_uint_eq(len[2], 3);
		ck_assert_int_eq(vq_ring_drv_get_used(&drv, NULL, NULL), 0);
		t += 3;
	}
	ck_assert_uint_eq(drv.num_free, NUM);
	ck_assert_uint_eq(r.inflight_desc, 0);
}
END_TEST

START_TEST(packed_used_id_not_outstanding_is_refused)
{
	uint64_t tok;
	uint32_t len;

	ck_assert_int_eq(padd(2, 0), 0);
	ck_assert_int_eq(padd(1, 1), 2);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c[0]), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c[0], 5), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	/* id 1: inside the first chain, no chain starts there */
	ck_assert_int_eq(vq_mem_write16(m, ra.desc + 12, 1), 0);
	ck_assert_err(vq_ring_drv_get_used(&drv, &tok, &len), VQ_E_RING_USED_ID);
	/* id 5: past the outstanding chains; 999: out of range */
	ck_assert_int_eq(vq_mem_write16(m, ra.desc + 12, 5), 0);
	ck_assert_err(vq_ring_drv_get_used(&drv, &tok, &len), VQ_E_RING_USED_ID);
	ck_assert_int_eq(vq_mem_write16(m, ra.desc + 12, 999), 0);
	ck_assert_err(vq_ring_drv_get_used(&drv, &tok, &len), VQ_E_RING_USED_ID);
	ck_assert_uint_eq(drv.num_free, NUM - 3);
	/* put right, it reaps the first chain alone */
	ck_assert_int_eq(vq_mem_write16(m, ra.desc + 12, 0), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 0);
}
END_TEST

START_TEST(packed_push_batch_is_one_used_descriptor)
{
	uint32_t written[3] = {4, 5, 6}, len;
	uint16_t id, flags;
	uint64_t tok[NUM];
	uint32_t lens[NUM];

	ck_assert_int_eq(padd(1, 0), 0);
	ck_assert_int_eq(padd(1, 1), 1);
	ck_assert_int_eq(padd(2, 2), 2);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop_batch(&r, c, NUM), 3);
	ck_assert_int_eq(vq_ring_push_batch(&r, c, written, 3), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	pslot(0, &id, &len, &flags);
	ck_assert_uint_eq(flags & 0x8080, 0x8080);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 6);
	pslot(1, &id, &len, &flags);
	ck_assert_uint_eq(flags & 0x8080, 0x80); /* skipped */
	ck_assert_int_eq(vq_ring_drv_get_used_batch(&drv, tok, lens, NUM), 3);
	ck_assert_uint_eq(tok[2], 2);
	ck_assert_uint_eq(lens[0], 0);
	ck_assert_uint_eq(lens[2], 6);
	ck_assert_uint_eq(drv.num_free, NUM);
}
END_TEST

static Suite *inorder_suite(void)
{
	Suite *s = suite_create("inorder");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, batch_of_three_is_one_element);
	tcase_add_test(tc, batches_across_the_wrap_and_reaped_in_batch);
	tcase_add_test(tc, used_id_not_outstanding_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("packed");
	tcase_add_checked_fixture(tc, setup_packed, teardown);
	tcase_add_test(tc, packed_batch_is_one_used_descriptor);
	tcase_add_test(tc, packed_batches_across_the_wrap);
	tcase_add_test(tc, packed_used_id_not_outstanding_is_refused);
	tcase_add_test(tc, packed_push_batch_is_one_used_descriptor);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(inorder_suite());
}
