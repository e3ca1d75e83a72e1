/* test_machine.c - event queue order, virtual clock, bus decoding, device
 * creation errors, notification coalescing, interrupt lines, trace determinism. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define MMIO 0x0a000000ull

static struct vq_machine *machine_with_rng(uint64_t seed, struct vq_dev **dev)
{
	struct vq_machine *m = vq_machine_new(seed);
	char err[200];

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_machine_add_ram(m, RAM, RAM_SIZE), 0);
	*dev = vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO, 5, err, sizeof(err));
	ck_assert_msg(*dev != NULL, "%s", err);
	return m;
}

static char order[16];
static unsigned norder;
static uint64_t times[16];

static void record(struct vq_machine *m, void *arg, uint64_t data)
{
	(void)arg;
	times[norder] = vq_machine_now(m);
	order[norder++] = (char)data;
}

START_TEST(events_run_by_time_then_schedule_order)
{
	struct vq_machine *m = vq_machine_new(1);

	norder = 0;
	ck_assert_int_eq(vq_machine_schedule(m, 30, record, NULL, 'd'), 0);
	ck_assert_int_eq(vq_machine_schedule(m, 10, record, NULL, 'a'), 0);
	ck_assert_int_eq(vq_machine_schedule(m, 20, record, NULL, 'c'), 0);
	ck_assert_int_eq(vq_machine_schedule(m, 10, record, NULL, 'b'), 0);
	ck_assert_uint_eq(vq_machine_pending(m), 4);
	ck_assert_uint_eq(vq_machine_run(m, 100), 4);
	ck_assert_int_eq(memcmp(order, "abcd", 4), 0);
	ck_assert_uint_eq(times[0], 10);
	ck_assert_uint_eq(times[1], 10);
	ck_assert_uint_eq(times[2], 20);
	ck_assert_uint_eq(times[3], 30);
	ck_assert_uint_eq(vq_machine_now(m), 30);
	ck_assert_int_eq(vq_machine_step(m), 0);
	ck_assert_err(vq_machine_schedule(m, 0, NULL, NULL, 0), VQ_E_INVAL);
	vq_machine_free(m);
}
END_TEST

START_TEST(run_stops_at_max_events)
{
	struct vq_machine *m = vq_machine_new(1);

	norder = 0;
	for (int i = 0; i < 5; i++)
		vq_machine_schedule(m, (uint64_t)i, record, NULL, (uint64_t)('0' + i));
	ck_assert_uint_eq(vq_machine_run(m, 2), 2);
	ck_assert_uint_eq(vq_machine_pending(m), 3);
	ck_assert_int_eq(memcmp(order, "01", 2), 0);
	vq_machine_free(m);
}
END_TEST

START_TEST(event_queue_is_bounded)
{
	struct vq_machine *m = vq_machine_new(1);

	for (unsigned i = 0; i < VQ_MACHINE_MAX_EVENTS; i++)
		ck_assert_int_eq(vq_machine_schedule(m, i, record, NULL, 0), 0);
	ck_assert_err(vq_machine_schedule(m, 0, record, NULL, 0), VQ_E_NOSPC);
	vq_machine_free(m);
}
END_TEST

START_TEST(seeded_prng_is_reproducible)
{
	struct vq_machine *a = vq_machine_new(7), *b = vq_machine_new(7), *c = vq_machine_new(8);
	uint64_t x = vq_prng_next(vq_machine_prng(a));

	ck_assert_uint_eq(x, vq_prng_next(vq_machine_prng(b)));
	ck_assert_uint_ne(x, vq_prng_next(vq_machine_prng(c)));
	vq_machine_seed(c, 7);
	ck_assert_uint_eq(x, vq_prng_next(vq_machine_prng(c)));
	vq_machine_free(a);
	vq_machine_free(b);
	vq_machine_free(c);
}
END_TEST

START_TEST(add_mmio_refuses_bad_requests)
{
	struct vq_dev *dev;
	struct vq_machine *m = machine_with_rng(1, &dev);
	char err[200];

	ck_assert_str_eq(dev->name, "rng0");
	ck_assert_ptr_null(vq_machine_add_mmio(m, "nosuch", NULL, NULL, MMIO + 0x200, 6, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown device type 'nosuch'"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO + 0x100, 6, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not 0x200-aligned"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO, 6, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "taken by rng0"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO + 0x200, 5, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "line 5 is taken"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO + 0x200, 64, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "out of range"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", "rng0", NULL, MMIO + 0x200, 6, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "'rng0' is taken"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, "colour=red", MMIO + 0x200, 6, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown option 'colour'"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "rng", NULL, NULL, RAM + 0x1000, 6, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "overlaps guest RAM"));
	ck_assert_err(vq_machine_add_ram(m, MMIO - 0x1000, 0x2000), VQ_E_INVAL);
	/* nothing was added by the refusals; a good request still works */
	ck_assert_uint_eq(vq_machine_device_count(m), 1);
	dev = vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO + 0x200, 6, err, sizeof(err));
	ck_assert_ptr_nonnull(dev);
	ck_assert_str_eq(dev->name, "rng1");
	ck_assert_ptr_eq(vq_machine_find(m, "rng1"), vq_machine_slot(m, 1));
	ck_assert_ptr_null(vq_machine_slot(m, 2));
	vq_machine_free(m);
}
END_TEST

START_TEST(bus_decodes_windows_and_counts_bad_accesses)
{
	struct vq_dev *dev;
	struct vq_machine *m = machine_with_rng(1, &dev);
	struct vq_machine_stats st;
	uint32_t v = 123;

	ck_assert_int_eq(vq_machine_read(m, MMIO + VIRTIO_MMIO_MAGIC_VALUE, 4, &v), 0);
	ck_assert_uint_eq(v, VIRTIO_MMIO_MAGIC);
	ck_assert_int_eq(vq_machine_read(m, MMIO + VIRTIO_MMIO_DEVICE_ID, 4, &v), 0);
	ck_assert_uint_eq(v, VIRTIO_ID_RNG);
	v = 123;
	ck_assert_err(vq_machine_read(m, MMIO + 0x200, 4, &v), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(v, 0);
	ck_assert_err(vq_machine_write(m, 0x1000, 4, 1), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_machine_write(m, MMIO + VIRTIO_MMIO_MAGIC_VALUE, 4, 1), VQ_E_BAD_ACCESS);
	vq_machine_get_stats(m, &st);
	ck_assert_uint_eq(st.reg_reads, 3);
	ck_assert_uint_eq(st.reg_writes, 2);
	ck_assert_uint_eq(st.bad_accesses, 3);
	vq_machine_free(m);
}
END_TEST

START_TEST(notifications_coalesce_and_run_as_events)
{
	struct vq_dev *dev;
	struct vq_machine *m = machine_with_rng(1, &dev);
	struct vq_drv drv;
	struct vq_machine_stats st;
	struct vq_buf b = {.gpa = RAM + 0x800000, .len = 16, .writable = true};

	ck_assert_int_eq(vq_drv_attach(&drv, m, MMIO, 5, RAM, 0x100000), 0);
	ck_assert_int_eq(vq_drv_init(&drv, NULL, 1), 0);
	ck_assert_int_ge(vq_drv_add(&drv, 0, &b, 1, 1), 0);
	ck_assert_int_eq(vq_drv_kick(&drv, 0), 1);
	/* the kick ran nothing yet: it is an event */
	ck_assert_uint_eq(dev->stats.chains, 0);
	ck_assert_uint_eq(vq_machine_pending(m), 1);
	ck_assert_int_eq(vq_machine_write(m, MMIO + VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0), 0);
	ck_assert_uint_eq(vq_machine_pending(m), 1);
	vq_machine_get_stats(m, &st);
	ck_assert_uint_eq(st.notifies, 2);
	ck_assert_uint_eq(st.notifies_coalesced, 1);
	ck_assert_uint_eq(vq_machine_run(m, 10), 1);
	ck_assert_uint_eq(dev->stats.chains, 1);
	ck_assert_uint_eq(dev->stats.notifies, 1);
	/* the used buffer raised the line once; acknowledging lowers it */
	ck_assert(vq_machine_irq_level(m, 5));
	ck_assert_uint_eq(vq_machine_irq_count(m, 5), 1);
	ck_assert_uint_eq(vq_drv_ack_interrupt(&drv), VIRTIO_MMIO_INT_VRING);
	ck_assert(!vq_machine_irq_level(m, 5));
	ck_assert(!vq_machine_irq_level(m, 999));
	vq_drv_detach(&drv);
	vq_machine_free(m);
}
END_TEST

/* Run a fixed scenario with tracing into a memory buffer. */
static char *traced_run(uint64_t seed, size_t *len)
{
	struct vq_dev *dev;
	struct vq_machine *m;
	struct vq_drv drv;
	uint8_t buf[24];
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	ck_assert_ptr_nonnull(f);
	m = vq_machine_new(seed);
	vq_machine_trace_file(m, f, ~0u);
	ck_assert_int_eq(vq_machine_add_ram(m, RAM, RAM_SIZE), 0);
	dev = vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO, 5, NULL, 0);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(vq_drv_attach(&drv, m, MMIO, 5, RAM, RAM_SIZE), 0);
	ck_assert_int_eq(vq_drv_init(&drv, NULL, 1), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(vq_drv_rng_read(&drv, buf, sizeof(buf)), (long)sizeof(buf));
	fprintf(f, "bytes");
	for (size_t i = 0; i < sizeof(buf); i++)
		fprintf(f, " %02x", buf[i]);
	fprintf(f, "\n");
	vq_drv_detach(&drv);
	vq_machine_free(m);
	fclose(f);
	return text;
}

START_TEST(trace_is_byte_identical_for_the_same_seed)
{
	size_t la, lb, lc;
	char *a = traced_run(99, &la), *b = traced_run(99, &lb), *c = traced_run(100, &lc);

	ck_assert_uint_gt(la, 200);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(a, b, la), 0);
	ck_assert_ptr_nonnull(strstr(a, " notify   rng0.q0 kick"));
	ck_assert_ptr_nonnull(strstr(a, " status "));
	ck_assert_ptr_nonnull(strstr(a, " irq "));
	ck_assert_ptr_nonnull(strstr(a, " chain "));
	/* a different seed gives different entropy, so a different trace */
	ck_assert(la != lc || memcmp(a, c, la) != 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(trace_mask_filters_kinds)
{
	struct vq_machine *m = vq_machine_new(1);
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	vq_machine_trace_file(m, f, 1u << VQ_EV_ERROR);
	vq_machine_add_ram(m, RAM, RAM_SIZE);   /* a machine event: filtered out */
	uint32_t v;
	vq_machine_read(m, 0x10, 4, &v);         /* an error: kept */
	vq_machine_free(m);
	fclose(f);
	ck_assert_ptr_null(strstr(text, "ram gpa"));
	ck_assert_ptr_nonnull(strstr(text, "no device decodes this address"));
	free(text);
}
END_TEST

static Suite *machine_suite(void)
{
	Suite *s = suite_create("machine");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, events_run_by_time_then_schedule_order);
	tcase_add_test(tc, run_stops_at_max_events);
	tcase_add_test(tc, event_queue_is_bounded);
	tcase_add_test(tc, seeded_prng_is_reproducible);
	tcase_add_test(tc, add_mmio_refuses_bad_requests);
	tcase_add_test(tc, bus_decodes_windows_and_counts_bad_accesses);
	tcase_add_test(tc, notifications_coalesce_and_run_as_events);
	tcase_add_test(tc, trace_is_byte_identical_for_the_same_seed);
	tcase_add_test(tc, trace_mask_filters_kinds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(machine_suite());
}
