/* test_driver.c - the reference driver: attach, negotiation, queue setup,
 * allocation, add/kick/reap with tokens, reset and re-init. */
#include <string.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define MMIO 0x0a000000ull
#define IRQ 3

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
};

static void rig_up(struct rig *r, const char *opts)
{
	char err[200];

	r->m = vq_machine_new(5);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->dev = vq_machine_add_mmio(r->m, "rng", NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, RAM_SIZE / 2), 0);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

START_TEST(attach_checks_what_is_there)
{
	struct rig r;
	struct vq_drv d2;

	rig_up(&r, NULL);
	ck_assert_uint_eq(r.drv.device_id, VIRTIO_ID_RNG);
	ck_assert_err(vq_drv_attach(&d2, r.m, MMIO + 0x200, IRQ, RAM, 0x1000), VQ_E_NO_DEVICE);
	ck_assert_err(vq_drv_attach(&d2, r.m, MMIO, IRQ, 0x1000, 0x1000), VQ_E_INVAL); /* heap not RAM */
	ck_assert_err(vq_drv_attach(&d2, r.m, MMIO, IRQ, RAM, 0), VQ_E_INVAL);
	rig_down(&r);
}
END_TEST

START_TEST(alloc_aligns_and_runs_out)
{
	struct rig r;
	uint64_t a, b;

	rig_up(&r, NULL);
	a = vq_drv_alloc(&r.drv, 10, 1);
	b = vq_drv_alloc(&r.drv, 10, 4096);
	ck_assert_uint_eq(a, RAM);
	ck_assert_uint_eq(b, RAM + 4096);
	ck_assert_uint_eq(vq_drv_alloc(&r.drv, 10, 3), 0);        /* not a power of two */
	ck_assert_uint_eq(vq_drv_alloc(&r.drv, 0, 8), 0);
	ck_assert_uint_eq(vq_drv_alloc(&r.drv, RAM_SIZE, 8), 0);  /* larger than the heap */
	ck_assert_uint_ne(vq_drv_alloc(&r.drv, 4096, 8), 0);      /* still usable */
	rig_down(&r);
}
END_TEST

START_TEST(negotiation_follows_spec_order)
{
	struct rig r;
	uint64_t want[2] = {1ull << VIRTIO_F_EVENT_IDX | 1ull << 5 /* not offered */, 0};

	rig_up(&r, NULL);
	ck_assert_int_eq(vq_drv_negotiate(&r.drv, want), 0);
	ck_assert_uint_eq(vq_drv_status(&r.drv), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
							 VIRTIO_STATUS_FEATURES_OK);
	/* offered & wanted, plus VERSION_1 which a modern driver always takes */
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_F_EVENT_IDX));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_F_VERSION_1));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_F_INDIRECT_DESC));
	ck_assert(!vq_drv_has_feature(&r.drv, 5));
	ck_assert(vq_dev_has_feature(r.dev, VIRTIO_F_EVENT_IDX));
	ck_assert(r.drv.offered[0] & (1ull << VIRTIO_F_INDIRECT_DESC));
	ck_assert_int_eq(vq_drv_setup_queue(&r.drv, 0, 64), 0);
	ck_assert_uint_eq(r.dev->queues[0].num, 64);
	ck_assert(r.dev->queues[0].ready);
	ck_assert_uint_eq(r.dev->queues[0].addr.desc, r.drv.queues[0].ring.addr.desc);
	ck_assert_int_eq(vq_drv_driver_ok(&r.drv), 0);
	ck_assert(vq_drv_status(&r.drv) & VIRTIO_STATUS_DRIVER_OK);
	rig_down(&r);
}
END_TEST

START_TEST(queue_setup_refuses_bad_sizes)
{
	struct rig r;

	rig_up(&r, "queue-size=16");
	ck_assert_int_eq(vq_drv_negotiate(&r.drv, NULL), 0);
	ck_assert_err(vq_drv_setup_queue(&r.drv, 0, 32), VQ_E_INVAL);   /* > QueueNumMax */
	ck_assert_err(vq_drv_setup_queue(&r.drv, 1, 0), VQ_E_INVAL);    /* no queue 1 */
	ck_assert_err(vq_drv_setup_queue(&r.drv, 0, 12), VQ_E_INVAL); /* driver refuses a non-power of 2 */
	ck_assert(!r.dev->queues[0].ready);
	ck_assert_int_eq(vq_drv_setup_queue(&r.drv, 0, 0), 0);          /* 0 = max */
	ck_assert_uint_eq(r.drv.queues[0].ring.num, 16);
	ck_assert_err(vq_drv_setup_queue(&r.drv, 0, 0), VQ_E_INVAL);    /* already set up */
	rig_down(&r);
}
END_TEST

START_TEST(many_chains_reaped_with_their_tokens)
{
	struct rig r;
	uint64_t buf = RAM + RAM_SIZE / 2, token;
	uint32_t len;
	int n = 0;

	rig_up(&r, NULL);
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 1), 0);
	for (int i = 0; i < 10; i++) {
		struct vq_buf b[2] = {
			{.gpa = buf + 256u * i, .len = 100, .writable = false},
			{.gpa = buf + 256u * i + 128, .len = (uint32_t)(8 + i), .writable = true},
		};
		ck_assert_int_ge(vq_drv_add(&r.drv, 0, b, 2, 1000 + i), 0);
	}
	ck_assert_int_eq(vq_drv_kick(&r.drv, 0), 1);
	ck_assert_int_eq(vq_drv_wait_used(&r.drv, 0), 1);
	while (vq_drv_get_used(&r.drv, 0, &token, &len) == 1) {
		ck_assert_uint_eq(token, 1000u + n);
		ck_assert_uint_eq(len, 8u + n);   /* only the writable bytes count */
		n++;
	}
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(r.dev->stats.chains, 10);
	ck_assert_uint_eq(r.drv.vring_irqs, 1);
	rig_down(&r);
}
END_TEST

START_TEST(event_idx_suppresses_interrupts_until_asked)
{
	struct rig r;
	uint64_t want[2] = {1ull << VIRTIO_F_EVENT_IDX, 0}, token;
	uint32_t len;
	struct vq_buf b = {.gpa = RAM + RAM_SIZE / 2, .len = 8, .writable = true};

	rig_up(&r, NULL);
	ck_assert_int_eq(vq_drv_init(&r.drv, want, 1), 0);
	/* used_event = 0 after init: the first used element interrupts */
	ck_assert_int_ge(vq_drv_add(&r.drv, 0, &b, 1, 1), 0);
	ck_assert_int_eq(vq_drv_kick(&r.drv, 0), 1);
	vq_machine_run(r.m, 100);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), 1);
	vq_drv_ack_interrupt(&r.drv);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
	/* the driver does not move used_event: no interrupt for the next one */
	ck_assert_int_eq(vq_ring_drv_set_interrupts(&r.drv.queues[0].ring, false), 0);
	ck_assert_int_ge(vq_drv_add(&r.drv, 0, &b, 1, 2), 0);
	ck_assert_int_eq(vq_drv_kick(&r.drv, 0), 1);
	vq_machine_run(r.m, 100);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), 1);
	ck_assert_uint_eq(r.dev->stats.suppressed, 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
	ck_assert_uint_eq(token, 2);
	rig_down(&r);
}
END_TEST

START_TEST(reset_and_reinit_recovers)
{
	struct rig r;
	uint8_t out[8];

	rig_up(&r, NULL);
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 1), 0);
	ck_assert_int_eq(vq_drv_rng_read(&r.drv, out, 8), 8);
	ck_assert_int_eq(vq_drv_reset(&r.drv), 0);
	ck_assert_uint_eq(vq_drv_status(&r.drv), 0);
	ck_assert(!r.dev->queues[0].ready);
	ck_assert_err(vq_drv_add(&r.drv, 0, &(struct vq_buf){RAM, 8, true}, 1, 0), VQ_E_NOT_READY);
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 1), 0);
	ck_assert_int_eq(vq_drv_rng_read(&r.drv, out, 8), 8);
	rig_down(&r);
}
END_TEST

START_TEST(config_read_checks_bounds)
{
	struct rig r;
	uint8_t b[4];

	rig_up(&r, NULL);
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 1), 0);
	/* virtio-rng has no config space: any config read is refused */
	ck_assert_err(vq_drv_config_read(&r.drv, 0, b, 4), VQ_E_BAD_ACCESS);
	rig_down(&r);
}
END_TEST

static Suite *driver_suite(void)
{
	Suite *s = suite_create("driver");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, attach_checks_what_is_there);
	tcase_add_test(tc, alloc_aligns_and_runs_out);
	tcase_add_test(tc, negotiation_follows_spec_order);
	tcase_add_test(tc, queue_setup_refuses_bad_sizes);
	tcase_add_test(tc, many_chains_reaped_with_their_tokens);
	tcase_add_test(tc, event_idx_suppresses_interrupts_until_asked);
	tcase_add_test(tc, reset_and_reinit_recovers);
	tcase_add_test(tc, config_read_checks_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(driver_suite());
}
