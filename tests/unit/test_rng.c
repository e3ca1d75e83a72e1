/* test_rng.c - virtio-rng end to end: PRNG bytes land in guest memory,
 * readable buffers are left alone, used lengths, options, urandom, and a
 * malformed chain answered with DEVICE_NEEDS_RESET then recovered by reset. */
#include <string.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define BUF (RAM + RAM_SIZE / 2)
#define MMIO 0x0a000000ull
#define IRQ 9
#define SEED 1234

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
};

static void rig_up(struct rig *r, const char *opts, uint64_t seed)
{
	char err[200];

	r->m = vq_machine_new(seed);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->dev = vq_machine_add_mmio(r->m, "rng", NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, RAM_SIZE / 4), 0);
	ck_assert_int_eq(vq_drv_init(&r->drv, NULL, 1), 0);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

/* Add one chain, kick, run, reap: returns the used length. */
static uint32_t serve(struct rig *r, const struct vq_buf *b, unsigned n)
{
	uint64_t token;
	uint32_t len = 0xdeadbeef;

	ck_assert_int_ge(vq_drv_add(&r->drv, 0, b, n, 77), 0);
	ck_assert_int_ge(vq_drv_kick(&r->drv, 0), 0);
	ck_assert_int_eq(vq_drv_wait_used(&r->drv, 0), 1);
	ck_assert_int_eq(vq_drv_get_used(&r->drv, 0, &token, &len), 1);
	ck_assert_uint_eq(token, 77);
	return len;
}

START_TEST(bytes_come_from_the_seeded_prng)
{
	struct rig r;
	struct vq_prng expect;
	uint8_t want[48], got[48];

	rig_up(&r, NULL, SEED);
	vq_prng_seed(&expect, SEED);
	vq_prng_fill(&expect, want, sizeof(want));
	ck_assert_int_eq(vq_drv_rng_read(&r.drv, got, sizeof(got)), (long)sizeof(got));
	ck_assert_int_eq(memcmp(want, got, sizeof(got)), 0);
	/* the bytes are in guest memory where the driver put the buffer */
	ck_assert_int_eq(vq_mem_read(vq_machine_mem(r.m), r.drv.scratch_gpa, got, sizeof(got)), 0);
	ck_assert_int_eq(memcmp(want, got, sizeof(got)), 0);
	ck_assert_uint_eq(vq_rng_bytes_served(r.dev), sizeof(got));
	rig_down(&r);
}
END_TEST

START_TEST(different_seeds_give_different_bytes)
{
	struct rig a, b;
	uint8_t x[16], y[16];

	rig_up(&a, NULL, 1);
	rig_up(&b, NULL, 2);
	ck_assert_int_eq(vq_drv_rng_read(&a.drv, x, 16), 16);
	ck_assert_int_eq(vq_drv_rng_read(&b.drv, y, 16), 16);
	ck_assert_int_ne(memcmp(x, y, 16), 0);
	rig_down(&a);
	rig_down(&b);
}
END_TEST

START_TEST(readable_buffers_are_left_alone)
{
	struct rig r;
	struct vq_mem *mem;
	uint8_t before[32], after[32], w1[8], w2[24], zero[32] = {0};
	struct vq_buf b[3] = {
		{.gpa = BUF, .len = 32, .writable = false},
		{.gpa = BUF + 0x100, .len = 8, .writable = true},
		{.gpa = BUF + 0x200, .len = 24, .writable = true},
	};
	struct vq_prng expect;
	uint8_t want[32];

	rig_up(&r, NULL, SEED);
	mem = vq_machine_mem(r.m);
	memset(before, 0xa5, sizeof(before));
	vq_mem_write(mem, BUF, before, sizeof(before));
	ck_assert_uint_eq(serve(&r, b, 3), 32);   /* 8 + 24 writable bytes */
	vq_mem_read(mem, BUF, after, sizeof(after));
	ck_assert_int_eq(memcmp(before, after, sizeof(after)), 0);
	/* the two writable segments hold consecutive PRNG output */
	vq_prng_seed(&expect, SEED);
	vq_prng_fill(&expect, want, 8);
	vq_prng_fill(&expect, want + 8, 24);
	vq_mem_read(mem, BUF + 0x100, w1, 8);
	vq_mem_read(mem, BUF + 0x200, w2, 24);
	ck_assert_int_eq(memcmp(w1, want, 8), 0);
	ck_assert_int_eq(memcmp(w2, want + 8, 24), 0);
	ck_assert_int_ne(memcmp(w2, zero, 24), 0);
	rig_down(&r);
}
END_TEST

START_TEST(a_chain_with_no_writable_bytes_gets_length_zero)
{
	struct rig r;
	struct vq_buf b = {.gpa = BUF, .len = 64, .writable = false};

	rig_up(&r, NULL, SEED);
	ck_assert_uint_eq(serve(&r, &b, 1), 0);
	ck_assert_uint_eq(vq_rng_bytes_served(r.dev), 0);
	rig_down(&r);
}
END_TEST

START_TEST(indirect_chains_are_served)
{
	struct rig r;
	uint64_t want[2] = {1ull << VIRTIO_F_INDIRECT_DESC, 0}, token;
	uint32_t len;
	struct vq_buf b[2] = {
		{.gpa = BUF, .len = 16, .writable = true},
		{.gpa = BUF + 0x40, .len = 16, .writable = true},
	};

	rig_up(&r, NULL, SEED);
	ck_assert_int_eq(vq_drv_init(&r.drv, want, 1), 0);
	ck_assert_int_ge(vq_ring_drv_add_indirect(&r.drv.queues[0].ring, b, 2, BUF + 0x1000, 5), 0);
	ck_assert_int_eq(vq_drv_kick(&r.drv, 0), 1);
	ck_assert_int_eq(vq_drv_wait_used(&r.drv, 0), 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
	ck_assert_uint_eq(token, 5);
	ck_assert_uint_eq(len, 32);
	rig_down(&r);
}
END_TEST

START_TEST(urandom_source_fills_buffers)
{
	struct rig r;
	uint8_t out[64], zero[64] = {0};

	rig_up(&r, "source=urandom", SEED);
	ck_assert_int_eq(vq_drv_rng_read(&r.drv, out, sizeof(out)), (long)sizeof(out));
	ck_assert_int_ne(memcmp(out, zero, sizeof(out)), 0);
	rig_down(&r);
}
END_TEST

START_TEST(bad_options_are_named)
{
	struct vq_machine *m = vq_machine_new(1);
	char err[200];

	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, "source=dice", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "source 'dice' unknown"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, "queue-size=100", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "queue-size '100' must be a power of two"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, "queue-size=0", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(vq_machine_add_mmio(m, "rng", NULL, "queue-size=1024,source=prng", MMIO, IRQ, err, sizeof(err)));
	vq_machine_free(m);
}
END_TEST

START_TEST(malformed_chain_needs_reset_then_recovers)
{
	struct rig r;
	struct vq_mem *mem;
	struct vq_ring_drv *q;
	uint8_t out[8];

	rig_up(&r, NULL, SEED);
	mem = vq_machine_mem(r.m);
	q = &r.drv.queues[0].ring;
	/* avail entry names descriptor 300 in a queue of 256 */
	vq_mem_write16(mem, q->addr.driver + 4, 300);
	vq_mem_write16(mem, q->addr.driver + 2, 1);
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0), 0);
	vq_machine_run(r.m, 10);
	ck_assert(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(r.dev->last_error, -VQ_E_RING_HEAD);
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(vq_rng_bytes_served(r.dev), 0);
	/* further kicks are refused while broken */
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0), 0);
	vq_machine_run(r.m, 10);
	ck_assert_uint_ge(r.dev->stats.notifies_ignored, 1);
	/* reset + re-init: works again */
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 1), 0);
	ck_assert_int_eq(vq_drv_rng_read(&r.drv, out, 8), 8);
	rig_down(&r);
}
END_TEST

/* A good chain before a bad one in the same kick was served: its used
 * element must reach the driver even though the queue then breaks. */
START_TEST(chains_served_before_a_ring_error_are_published)
{
	struct rig r;
	struct vq_mem *mem;
	struct vq_ring_drv *q;
	uint64_t token;
	uint32_t len;
	struct vq_buf b = {.gpa = BUF, .len = 16, .writable = true};

	rig_up(&r, NULL, SEED);
	mem = vq_machine_mem(r.m);
	q = &r.drv.queues[0].ring;
	ck_assert_int_ge(vq_drv_add(&r.drv, 0, &b, 1, 42), 0);
	/* publish the good chain, then a second avail entry naming 300 */
	vq_mem_write16(mem, q->addr.driver + 4 + 2, 300);
	q->avail_idx = 2;
	ck_assert_int_eq(vq_drv_kick(&r.drv, 0), 1);
	vq_machine_run(r.m, 10);
	ck_assert(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(r.dev->last_error, -VQ_E_RING_HEAD);
	/* used.idx moved by one: the good chain, with its 16 bytes */
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
	ck_assert_uint_eq(token, 42);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	rig_down(&r);
}
END_TEST

/* A chain of exactly 4 GiB of writable buffers, all aliasing one 16 MiB
 * region: the device serves VQ_RNG_REQUEST_MAX bytes and says so in
 * used.len (it filled all 4 GiB and reported 0, a 32-bit wrap); a chain
 * under the cap is served whole. */
START_TEST(a_huge_request_is_capped_and_counted)
{
	struct rig r;
	struct vq_mem *mem;
	struct vq_rng_stats st;
	static struct vq_buf b[256];
	uint8_t got[VQ_RNG_REQUEST_MAX + 16];
	const uint64_t alias = 0x80000000ull, asz = 16ull << 20;

	rig_up(&r, NULL, SEED);
	mem = vq_machine_mem(r.m);
	ck_assert_int_eq(vq_machine_add_ram(r.m, alias, asz), 0);
	for (unsigned i = 0; i < 256; i++)
		b[i] = (struct vq_buf){.gpa = alias, .len = (uint32_t)asz, .writable = true};
	ck_assert_uint_eq(serve(&r, b, 256), VQ_RNG_REQUEST_MAX);
	ck_assert_int_eq(vq_mem_read(mem, alias, got, sizeof(got)), 0);
	for (unsigned i = VQ_RNG_REQUEST_MAX; i < sizeof(got); i++)
		ck_assert_uint_eq(got[i], 0);           /* nothing past the cap */
	ck_assert_uint_eq(vq_rng_bytes_served(r.dev), VQ_RNG_REQUEST_MAX);
	/* a request of exactly the cap is not a cut-off */
	b[0] = (struct vq_buf){.gpa = BUF, .len = VQ_RNG_REQUEST_MAX, .writable = true};
	ck_assert_uint_eq(serve(&r, b, 1), VQ_RNG_REQUEST_MAX);
	ck_assert_int_eq(vq_rng_get_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.capped, 1);
	ck_assert_uint_eq(st.requests, 2);
	ck_assert_uint_eq(st.bytes_served, 2 * VQ_RNG_REQUEST_MAX);
	ck_assert_int_eq(vq_rng_get_stats(NULL, &st), -VQ_E_INVAL);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

static Suite *rng_suite(void)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, bytes_come_from_the_seeded_prng);
	tcase_add_test(tc, different_seeds_give_different_bytes);
	tcase_add_test(tc, readable_buffers_are_left_alone);
	tcase_add_test(tc, a_chain_with_no_writable_bytes_gets_length_zero);
	tcase_add_test(tc, indirect_chains_are_served);
	tcase_add_test(tc, urandom_source_fills_buffers);
	tcase_add_test(tc, bad_options_are_named);
	tcase_add_test(tc, malformed_chain_needs_reset_then_recovers);
	tcase_add_test(tc, chains_served_before_a_ring_error_are_published);
	tcase_add_test(tc, a_huge_request_is_capped_and_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(rng_suite());
}
