/* test_balloon.c - virtio-balloon end to end through machine, mmio and the
 * reference driver: inflated pages leave resident memory and read back as
 * zeroes, PFNs outside RAM are refused while the rest of the buffer
 * applies, deflate, target/actual through config space, queue numbering
 * by negotiated features, the stats protocol, free page reporting, page
 * poison, free page hinting, and the malformed cases (inflate buffer not a
 * multiple of 4 bytes, stats buffer not a multiple of 10, an extra stats
 * buffer, unaligned and out-of-memory reported ranges, read-only config). */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define HEAP_SIZE (RAM_SIZE / 4)
#define DATA (RAM + RAM_SIZE / 2)      /* pages the tests balloon */
#define PFN(gpa) ((uint32_t)((gpa) >> 12))
#define MMIO 0x0a000000ull
#define IRQ 5
#define PG 4096u

/* Features every test negotiates besides the ones it is about. */
#define F(bit) (1ull << (bit))
#define F_STATS F(VIRTIO_BALLOON_F_STATS_VQ)
#define F_HINT F(VIRTIO_BALLOON_F_FREE_PAGE_HINT)
#define F_POISON F(VIRTIO_BALLOON_F_PAGE_POISON)
#define F_REPORT F(VIRTIO_BALLOON_F_PAGE_REPORTING)
#define F_MTH F(VIRTIO_BALLOON_F_MUST_TELL_HOST)

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
	struct vq_mem *mem;
};

static void rig_up(struct rig *r, const char *opts, uint64_t features)
{
	char err[200];

	r->m = vq_machine_new(7);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->mem = vq_machine_mem(r->m);
	r->dev = vq_machine_add_mmio(r->m, "balloon", NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, HEAP_SIZE), 0);
	ck_assert_int_eq(vq_drv_balloon_init(&r->drv, features), 0);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

static struct vq_balloon_counters counters(const struct rig *r)
{
	struct vq_balloon_counters c;

	ck_assert_int_eq(vq_balloon_counters(r->dev, &c), 0);
	return c;
}

/* Is [gpa, gpa+len) all byte v? */
static bool mem_is(struct vq_mem *mem, uint64_t gpa, uint64_t len, uint8_t v)
{
	uint8_t buf[PG];

	for (uint64_t off = 0; off < len; off += PG) {
		uint64_t n = len - off < PG ? len - off : PG;
		ck_assert_int_eq(vq_mem_read(mem, gpa + off, buf, n), 0);
		for (uint64_t i = 0; i < n; i++)
			if (buf[i] != v)
				return false;
	}
	return true;
}

/* Resident shared memory of this process in KiB (memfd pages count here). */
static long rss_shmem_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssShmem: %ld kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_int_ge(kb, 0);
	return kb;
}

/* One raw chain on the driver's queue for role, waited for: used length. */
static uint32_t raw_submit(struct rig *r, enum vq_balloon_queue role, const struct vq_buf *b,
			   unsigned n)
{
	int q = vq_drv_balloon_queue(&r->drv, role);
	uint32_t len = 0xdeadbeef;

	ck_assert_int_ge(q, 0);
	ck_assert_int_eq(vq_drv_submit(&r->drv, (unsigned)q, b, n, &len), 0);
	return len;
}

static uint32_t cfg_generation(struct rig *r)
{
	uint32_t g = 0;

	ck_assert_int_eq(vq_machine_read(r->m, MMIO + VIRTIO_MMIO_CONFIG_GENERATION, 4, &g), 0);
	return g;
}

static uint32_t queue_num_max(struct rig *r, unsigned q)
{
	uint32_t v = 0;

	ck_assert_int_eq(vq_machine_write(r->m, MMIO + VIRTIO_MMIO_QUEUE_SEL, 4, q), 0);
	ck_assert_int_eq(vq_machine_read(r->m, MMIO + VIRTIO_MMIO_QUEUE_NUM_MAX, 4, &v), 0);
	return v;
}

/* ---- inflate / deflate ---- */

START_TEST(inflate_returns_pages_to_the_host)
{
	enum { N = 1024 };   /* 4 MiB */
	static uint32_t pfns[N];
	struct rig r;
	struct vq_balloon_counters c;
	long before, after;

	rig_up(&r, NULL, F_MTH);
	for (uint32_t i = 0; i < N; i++)
		pfns[i] = PFN(DATA) + i;
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x5a, (uint64_t)N * PG), 0);
	ck_assert(mem_is(r.mem, DATA, (uint64_t)N * PG, 0x5a));
	before = rss_shmem_kb();
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, pfns, N), 0);
	after = rss_shmem_kb();
	/* 4096 KiB went back; allow a quarter for unrelated shared pages */
	ck_assert_msg(before - after >= 3072, "RssShmem %ld -> %ld kB", before, after);
	ck_assert(mem_is(r.mem, DATA, (uint64_t)N * PG, 0));
	c = counters(&r);
	ck_assert_uint_eq(c.inflated, N);
	ck_assert_uint_eq(c.balloon_pages, N);
	ck_assert_uint_eq(c.refused, 0);
	ck_assert_uint_eq(c.punch_errors, 0);
	ck_assert(vq_balloon_page_inflated(r.dev, PFN(DATA)));
	ck_assert(vq_balloon_page_inflated(r.dev, PFN(DATA) + N - 1));
	ck_assert(!vq_balloon_page_inflated(r.dev, PFN(DATA) + N));
	/* the memory next to the balloon is untouched */
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA + (uint64_t)N * PG, 0x11, PG), 0);
	ck_assert(mem_is(r.mem, DATA + (uint64_t)N * PG, PG, 0x11));
	rig_down(&r);
}
END_TEST

START_TEST(pfns_outside_memory_are_refused_the_rest_applies)
{
	struct rig r;
	struct vq_balloon_counters c;
	uint32_t pfns[5] = {PFN(DATA), 0xffffffffu, PFN(RAM + RAM_SIZE), 0, PFN(DATA) + 7};
	struct vq_buf b;

	rig_up(&r, NULL, 0);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x77, 8 * PG), 0);
	ck_assert_int_eq(vq_mem_write(r.mem, DATA + 0x100000, pfns, sizeof(pfns)), 0);
	b = (struct vq_buf){.gpa = DATA + 0x100000, .len = sizeof(pfns), .writable = false};
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_INFLATE, &b, 1), 0);
	c = counters(&r);
	ck_assert_uint_eq(c.refused, 3);
	ck_assert_uint_eq(c.inflated, 2);
	ck_assert_uint_eq(c.balloon_pages, 2);
	ck_assert(mem_is(r.mem, DATA, PG, 0));
	ck_assert(mem_is(r.mem, DATA + 7 * PG, PG, 0));
	ck_assert(mem_is(r.mem, DATA + PG, 6 * PG, 0x77)); /* not named: kept */
	/* a refused PFN is the guest's mistake, not a broken device */
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

START_TEST(pages_under_a_fault_range_are_refused)
{
	struct rig r;
	uint32_t pfns[2] = {PFN(DATA), PFN(DATA) + 1};

	rig_up(&r, NULL, 0);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x33, 2 * PG), 0);
	ck_assert_int_ge(vq_mem_fault_add(r.mem, DATA + PG, PG, VQ_ACC_WRITE), 0);
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, pfns, 2), 0);
	ck_assert_uint_eq(counters(&r).refused, 1);
	ck_assert_uint_eq(counters(&r).balloon_pages, 1);
	vq_mem_fault_clear(r.mem);
	ck_assert(mem_is(r.mem, DATA, PG, 0));
	ck_assert(mem_is(r.mem, DATA + PG, PG, 0x33));
	rig_down(&r);
}
END_TEST

START_TEST(deflate_takes_pages_back)
{
	struct rig r;
	struct vq_balloon_counters c;
	uint32_t in[4] = {PFN(DATA), PFN(DATA) + 1, PFN(DATA) + 2, PFN(DATA) + 3};
	uint32_t out[4] = {PFN(DATA) + 1, PFN(DATA) + 3, PFN(DATA) + 9, 0x10};

	rig_up(&r, NULL, F_MTH);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0xee, 4 * PG), 0);
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, in, 4), 0);
	ck_assert_uint_eq(counters(&r).balloon_pages, 4);
	ck_assert_int_eq(vq_drv_balloon_deflate(&r.drv, out, 4), 0);
	c = counters(&r);
	ck_assert_uint_eq(c.deflated, 2);
	ck_assert_uint_eq(c.deflate_unknown, 1); /* DATA+9 never inflated */
	ck_assert_uint_eq(c.refused, 1);         /* PFN 0x10: no RAM there */
	ck_assert_uint_eq(c.balloon_pages, 2);
	ck_assert(!vq_balloon_page_inflated(r.dev, PFN(DATA) + 1));
	ck_assert(vq_balloon_page_inflated(r.dev, PFN(DATA) + 2));
	/* deflated pages come back zeroed (they were punched) and usable */
	ck_assert(mem_is(r.mem, DATA + PG, PG, 0));
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA + PG, 0x42, PG), 0);
	ck_assert(mem_is(r.mem, DATA + PG, PG, 0x42));
	rig_down(&r);
}
END_TEST

START_TEST(inflating_a_page_twice_counts_it_once)
{
	struct rig r;
	uint32_t p = PFN(DATA);

	rig_up(&r, NULL, 0);
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, &p, 1), 0);
	/* without MUST_TELL_HOST the guest may reuse the page without telling */
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x99, PG), 0);
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, &p, 1), 0);
	ck_assert_uint_eq(counters(&r).inflated, 2);
	ck_assert_uint_eq(counters(&r).inflate_repeat, 1);
	ck_assert_uint_eq(counters(&r).balloon_pages, 1);
	ck_assert(mem_is(r.mem, DATA, PG, 0));
	rig_down(&r);
}
END_TEST

/* One inflate buffer naming one PFN 2M times (two 4 MiB descriptors over
 * one 4 MiB array): the device applies 256 + one per RAM page and cuts the
 * rest (it did 2M PFNs and as many hole punches, 5 s of CPU), counted. */
START_TEST(inflate_work_is_bounded_by_guest_ram)
{
	struct rig r;
	static uint32_t arr[1u << 20];
	const uint64_t at = DATA + (4u << 20);
	const uint64_t applied = RAM_SIZE / PG + 256, total = 2u << 20;
	struct vq_buf b[2] = {{at, sizeof(arr), false}, {at, sizeof(arr), false}};
	struct vq_balloon_counters c;

	rig_up(&r, NULL, 0);
	for (size_t i = 0; i < sizeof(arr) / sizeof(arr[0]); i++)
		arr[i] = VQ_LE32(PFN(DATA));
	ck_assert_int_eq(vq_mem_write(r.mem, at, arr, sizeof(arr)), 0);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x5a, PG), 0);
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_INFLATE, b, 2), 0);
	c = counters(&r);
	ck_assert_uint_eq(c.inflated, applied);
	ck_assert_uint_eq(c.inflate_repeat, applied - 1);
	ck_assert_uint_eq(c.pfns_cut, total - applied);
	ck_assert_uint_eq(c.balloon_pages, 1);
	ck_assert(mem_is(r.mem, DATA, PG, 0));             /* punched once */
	ck_assert(vq_balloon_page_inflated(r.dev, PFN(DATA)));
	/* the budget is per notification: the next buffer is applied whole */
	ck_assert_int_eq(vq_drv_balloon_deflate(&r.drv, arr, 1), 0);
	ck_assert(!vq_balloon_page_inflated(r.dev, PFN(DATA)));
	ck_assert_uint_eq(counters(&r).pfns_cut, total - applied);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

/* Spec 5.5.6 describes the buffer as an array of 32-bit PFNs and gives no
 * device requirement for a ragged one: the whole PFNs apply, the trailing
 * bytes are ignored and counted; the device does not need a reset. */
START_TEST(malformed_inflate_buffer_ignores_trailing_bytes)
{
	struct rig r;
	uint8_t raw[14];
	uint32_t pfns[3] = {PFN(DATA), PFN(DATA) + 1, PFN(DATA) + 2};
	struct vq_buf b = {.gpa = DATA + 0x100000, .len = sizeof(raw), .writable = false};
	struct vq_balloon_counters c;

	rig_up(&r, NULL, 0);
	memcpy(raw, pfns, sizeof(pfns));
	raw[12] = 3; /* half of a fourth PFN */
	raw[13] = 0;
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x5a, 4 * PG), 0);
	ck_assert_int_eq(vq_mem_write(r.mem, b.gpa, raw, sizeof(raw)), 0);
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_INFLATE, &b, 1), 0);
	c = counters(&r);
	ck_assert_uint_eq(c.bad_length, 1);
	ck_assert_uint_eq(c.inflated, 3);
	ck_assert(mem_is(r.mem, DATA, 3 * PG, 0));
	ck_assert(mem_is(r.mem, DATA + 3 * PG, PG, 0x5a));
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* PFNs split across two descriptors still read as one array */
	{
		struct vq_buf two[2] = {{.gpa = DATA + 0x100000, .len = 6, .writable = false},
					{.gpa = DATA + 0x100006, .len = 2, .writable = false}};
		uint32_t p2[2] = {PFN(DATA) + 3, 0};
		ck_assert_int_eq(vq_mem_write(r.mem, DATA + 0x100000, p2, 4), 0);
		p2[1] = PFN(DATA) + 3;
		ck_assert_int_eq(vq_mem_write(r.mem, DATA + 0x100004, &p2[1], 4), 0);
		ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_INFLATE, two, 2), 0);
		ck_assert_uint_eq(counters(&r).bad_length, 1);
		ck_assert_uint_eq(counters(&r).inflated, 5);
		ck_assert(mem_is(r.mem, DATA + 3 * PG, PG, 0));
	}
	rig_down(&r);
}
END_TEST

/* ---- config space ---- */

START_TEST(set_target_raises_a_config_interrupt)
{
	struct rig r;
	uint32_t gen;

	rig_up(&r, "pages=77", 0);
	ck_assert_int_eq(vq_drv_balloon_target(&r.drv), 77);
	ck_assert(!vq_machine_irq_level(r.m, IRQ));
	gen = cfg_generation(&r);
	ck_assert_int_eq(vq_balloon_set_target(r.dev, 1234), 0);
	ck_assert_uint_eq(vq_balloon_target(r.dev), 1234);
	ck_assert(vq_machine_irq_level(r.m, IRQ));
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_ne(cfg_generation(&r), gen);
	ck_assert_int_eq(vq_drv_balloon_target(&r.drv), 1234);
	ck_assert_int_eq(vq_balloon_set_target(NULL, 1), -VQ_E_INVAL);
	rig_down(&r);
}
END_TEST

START_TEST(actual_is_written_by_the_driver)
{
	struct rig r;
	uint8_t le[4] = {9, 9, 9, 9};

	rig_up(&r, "pages=500", 0);
	ck_assert_uint_eq(vq_balloon_actual(r.dev), 0);
	ck_assert_int_eq(vq_drv_balloon_set_actual(&r.drv, 500), 0);
	ck_assert_uint_eq(vq_balloon_actual(r.dev), 500);
	/* one byte at a time also lands */
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_CONFIG + 5, 1, 2), 0);
	ck_assert_uint_eq(vq_balloon_actual(r.dev), 500 + 256);
	/* num_pages and free_page_hint_cmd_id are the host's: writes undone */
	ck_assert_int_eq(vq_drv_config_write(&r.drv, VIRTIO_BALLOON_CFG_NUM_PAGES, le, 4), 0);
	ck_assert_int_eq(vq_drv_config_write(&r.drv, VIRTIO_BALLOON_CFG_CMD_ID, le, 4), 0);
	ck_assert_uint_eq(counters(&r).config_refused, 2);
	ck_assert_int_eq(vq_drv_balloon_target(&r.drv), 500);
	ck_assert_uint_eq(vq_balloon_target(r.dev), 500);
	/* a reset empties the balloon; the host's target stays */
	ck_assert_int_eq(vq_drv_reset(&r.drv), 0);
	ck_assert_uint_eq(vq_balloon_actual(r.dev), 0);
	ck_assert_uint_eq(vq_balloon_target(r.dev), 500);
	rig_down(&r);
}
END_TEST

/* ---- queue numbering (spec 5.5.2) ---- */

static void expect_queues(struct rig *r, int stats, int hint, int report)
{
	int want[VQ_BALLOON_Q__COUNT] = {0, 1, stats, hint, report};

	for (int role = 0; role < VQ_BALLOON_Q__COUNT; role++) {
		ck_assert_int_eq(vq_balloon_queue_index(r->dev, role), want[role]);
		ck_assert_int_eq(vq_drv_balloon_queue(&r->drv, role), want[role]);
	}
}

START_TEST(queue_index_follows_negotiated_features)
{
	struct rig r;
	uint64_t gpa = DATA, len = PG;
	uint32_t len32 = PG;

	rig_up(&r, "stats=on,free-page-hint=on,reporting=on", 0);
	expect_queues(&r, -1, -1, -1);
	/* queues past the negotiated ones do not exist for the driver */
	ck_assert_uint_eq(queue_num_max(&r, 1), 256);
	ck_assert_uint_eq(queue_num_max(&r, 2), 0);
	ck_assert_uint_eq(queue_num_max(&r, 4), 0);

	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_STATS), 0);
	expect_queues(&r, 2, -1, -1);
	ck_assert_uint_eq(queue_num_max(&r, 3), 0);

	/* reporting without stats or hinting is queue 2 and works there */
	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_REPORT), 0);
	expect_queues(&r, -1, -1, 2);
	ck_assert_int_eq(vq_mem_fill(r.mem, gpa, 0x66, len), 0);
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, &gpa, &len32, 1), 0);
	ck_assert_uint_eq(counters(&r).reported_pages, 1);
	ck_assert(mem_is(r.mem, gpa, len, 0));
	ck_assert_uint_eq(counters(&r).stats_buffers, 1); /* only the earlier init's */

	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_STATS | F_REPORT), 0);
	expect_queues(&r, 2, -1, 3);
	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_HINT | F_REPORT), 0);
	expect_queues(&r, -1, 2, 3);
	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_STATS | F_HINT | F_REPORT), 0);
	expect_queues(&r, 2, 3, 4);
	ck_assert_uint_eq(queue_num_max(&r, 4), 256);

	/* after a reset every offered queue is there again to be negotiated */
	ck_assert_int_eq(vq_drv_reset(&r.drv), 0);
	ck_assert_uint_eq(queue_num_max(&r, 4), 256);
	ck_assert_int_eq(vq_balloon_queue_index(r.dev, VQ_BALLOON_Q_STATS), -1);
	rig_down(&r);
}
END_TEST

START_TEST(unoffered_features_are_not_negotiated)
{
	struct rig r;
	uint64_t off[VQ_FEATURE_WORDS];

	rig_up(&r, "stats=off,must-tell-host=off", F_STATS | F_MTH | F_REPORT);
	expect_queues(&r, -1, -1, -1);
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_BALLOON_F_STATS_VQ));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_BALLOON_F_MUST_TELL_HOST));
	memcpy(off, r.drv.offered, sizeof(off));
	ck_assert_uint_eq(off[0] & 0x3f, 0);
	rig_down(&r);
	rig_up(&r, "deflate-on-oom=on,page-poison=on", F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	ck_assert_uint_eq(r.drv.offered[0] & 0x3f,
			  F_MTH | F_STATS | F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | F_POISON);
	rig_down(&r);
}
END_TEST

/* ---- statistics ---- */

START_TEST(stats_round_trip)
{
	struct rig r;
	struct vq_balloon_stats st;
	uint16_t tags[3] = {VIRTIO_BALLOON_S_MEMFREE, 42, VIRTIO_BALLOON_S_MEMTOT};
	uint64_t vals[3] = {123456789012ull, 7, 0x1122334455667788ull};

	rig_up(&r, NULL, F_STATS);
	/* the empty buffer from initialisation is held, not returned */
	ck_assert_uint_eq(counters(&r).stats_buffers, 1);
	ck_assert_int_eq(vq_drv_balloon_stats_requested(&r.drv), 0);
	ck_assert_int_eq(vq_drv_balloon_send_stats(&r.drv, tags, vals, 3), -VQ_E_STATE);
	ck_assert_int_eq(vq_balloon_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.present, 0);

	/* the host asks: the buffer comes back with a used notification */
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	ck_assert(vq_machine_irq_level(r.m, IRQ));
	ck_assert_int_eq(vq_drv_balloon_stats_requested(&r.drv), 1);
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), -VQ_E_NOT_READY);
	ck_assert_int_eq(vq_drv_balloon_send_stats(&r.drv, tags, vals, 3), 0);
	ck_assert_int_eq(vq_balloon_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.present,
			  (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT));
	ck_assert_uint_eq(st.val[VIRTIO_BALLOON_S_MEMFREE], 123456789012ull);
	ck_assert_uint_eq(st.val[VIRTIO_BALLOON_S_MEMTOT], 0x1122334455667788ull);
	ck_assert_uint_eq(st.updates, 2);
	ck_assert_uint_eq(counters(&r).stats_unknown, 1); /* tag 42 ignored */

	/* and again: a fresh snapshot replaces the old one */
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	tags[0] = VIRTIO_BALLOON_S_SWAP_IN;
	vals[0] = 5;
	ck_assert_int_eq(vq_drv_balloon_send_stats(&r.drv, tags, vals, 1), 0);
	ck_assert_int_eq(vq_balloon_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.present, 1u << VIRTIO_BALLOON_S_SWAP_IN);
	ck_assert_uint_eq(st.val[VIRTIO_BALLOON_S_SWAP_IN], 5);
	ck_assert_uint_eq(counters(&r).stats_errors, 0);
	rig_down(&r);
}
END_TEST

START_TEST(stats_request_needs_the_feature)
{
	struct rig r;

	rig_up(&r, NULL, 0);
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), -VQ_E_STATE);
	ck_assert_int_eq(vq_drv_balloon_send_stats(&r.drv, NULL, NULL, 0), -VQ_E_STATE);
	rig_down(&r);
}
END_TEST

START_TEST(malformed_stats_buffer_is_held_but_ignored)
{
	struct rig r;
	struct vq_balloon_stats st;
	uint16_t tag = VIRTIO_BALLOON_S_AVAIL;
	uint64_t val = 99, token;
	uint8_t junk[15];
	struct vq_buf b = {.gpa = DATA, .len = sizeof(junk), .writable = false};
	int q;

	rig_up(&r, NULL, F_STATS);
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	ck_assert_int_eq(vq_drv_balloon_send_stats(&r.drv, &tag, &val, 1), 0);
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	ck_assert_int_eq(vq_drv_balloon_stats_requested(&r.drv), 1);
	/* 15 bytes: not a whole number of 10-byte entries */
	memset(junk, 0, sizeof(junk));
	junk[2] = 1;
	q = vq_drv_balloon_queue(&r.drv, VQ_BALLOON_Q_STATS);
	ck_assert_int_eq(vq_mem_write(r.mem, b.gpa, junk, sizeof(junk)), 0);
	ck_assert_int_ge(vq_drv_add(&r.drv, (unsigned)q, &b, 1, 1234), 0);
	ck_assert_int_ge(vq_drv_kick(&r.drv, (unsigned)q), 0);
	vq_machine_run(r.m, 1000);
	ck_assert_uint_eq(counters(&r).stats_errors, 1);
	ck_assert_int_eq(vq_balloon_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.present, 1u << VIRTIO_BALLOON_S_AVAIL); /* unchanged */
	ck_assert_uint_eq(st.val[VIRTIO_BALLOON_S_AVAIL], 99);
	ck_assert_uint_eq(st.updates, 2);
	/* still held: the next request returns it */
	ck_assert_int_eq(vq_drv_get_used(&r.drv, (unsigned)q, &token, NULL), 0);
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	ck_assert_int_eq(vq_drv_wait_used(&r.drv, (unsigned)q), 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, (unsigned)q, &token, NULL), 1);
	ck_assert_uint_eq(token, 1234);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

START_TEST(second_stats_buffer_returns_the_first)
{
	struct rig r;
	struct vq_balloon_stats st;
	uint8_t e[10] = {VIRTIO_BALLOON_S_CACHES, 0, 8, 0, 0, 0, 0, 0, 0, 0};
	struct vq_buf b = {.gpa = DATA, .len = sizeof(e), .writable = false};
	uint64_t token;
	uint32_t len;
	int q;

	rig_up(&r, NULL, F_STATS);
	/* the init buffer is still held; the driver breaks the one-buffer rule */
	q = vq_drv_balloon_queue(&r.drv, VQ_BALLOON_Q_STATS);
	ck_assert_int_eq(vq_mem_write(r.mem, b.gpa, e, sizeof(e)), 0);
	ck_assert_int_ge(vq_drv_add(&r.drv, (unsigned)q, &b, 1, 555), 0);
	ck_assert_int_ge(vq_drv_kick(&r.drv, (unsigned)q), 0);
	ck_assert_int_eq(vq_drv_wait_used(&r.drv, (unsigned)q), 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, (unsigned)q, &token, &len), 1);
	ck_assert_uint_ne(token, 555); /* the older (init) buffer came back */
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(counters(&r).stats_extra, 1);
	ck_assert_int_eq(vq_balloon_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.val[VIRTIO_BALLOON_S_CACHES], 8); /* newest values kept */
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	ck_assert_int_eq(vq_drv_wait_used(&r.drv, (unsigned)q), 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, (unsigned)q, &token, NULL), 1);
	ck_assert_uint_eq(token, 555);
	rig_down(&r);
}
END_TEST

/* ---- free page reporting ---- */

START_TEST(reporting_punches_ranges_and_refuses_unaligned_ones)
{
	struct rig r;
	struct vq_balloon_counters c;
	uint64_t gpas[3] = {DATA, DATA + 0x20000 + 0x800, DATA + 0x40000};
	uint32_t lens[3] = {8 * PG, PG, 2 * PG + 16};
	long before, after;

	rig_up(&r, "reporting=on", F_REPORT);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x3c, 0x80000), 0);
	/* a big range too: 256 pages, for resident memory */
	{
		uint64_t g = DATA + 0x100000;
		uint32_t l = 256 * PG;
		ck_assert_int_eq(vq_mem_fill(r.mem, g, 0x3c, l), 0);
		before = rss_shmem_kb();
		ck_assert_int_eq(vq_drv_balloon_report(&r.drv, &g, &l, 1), 0);
		after = rss_shmem_kb();
		ck_assert_msg(before - after >= 768, "RssShmem %ld -> %ld kB", before, after);
		ck_assert(mem_is(r.mem, g, l, 0));
	}
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, gpas, lens, 3), 0);
	c = counters(&r);
	ck_assert_uint_eq(c.reported_pages, 256 + 8);
	ck_assert_uint_eq(c.report_refused, 2); /* unaligned start, ragged length */
	ck_assert(mem_is(r.mem, DATA, 8 * PG, 0));
	ck_assert(mem_is(r.mem, DATA + 0x20000, 2 * PG, 0x3c));
	ck_assert(mem_is(r.mem, DATA + 0x40000, 3 * PG, 0x3c));
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

/* Reported ranges are device-writable buffers (Linux adds them as
 * inbufs); a device-readable one is left untouched and counted (it was
 * punched: the device wrote a buffer it may only read, 2.7.4), while the
 * writable ranges of the same report are discarded. */
START_TEST(readable_reported_range_is_left_untouched)
{
	struct rig r;
	struct vq_buf b[2] = {{DATA, 4 * PG, false}, {DATA + 0x10000, 2 * PG, true}};
	struct vq_balloon_counters c;

	rig_up(&r, "reporting=on", F_REPORT);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x3c, 4 * PG), 0);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA + 0x10000, 0x3c, 2 * PG), 0);
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_REPORTING, b, 2), 0);
	ck_assert(mem_is(r.mem, DATA, 4 * PG, 0x3c));
	ck_assert(mem_is(r.mem, DATA + 0x10000, 2 * PG, 0));
	c = counters(&r);
	ck_assert_uint_eq(c.report_refused, 1);
	ck_assert_uint_eq(c.reported_pages, 2);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

/* A range outside RAM never reaches the device: the ring refuses the
 * descriptor (spec 2.7: buffers must be guest memory), so the queue breaks
 * and the device asks for a reset. */
START_TEST(reported_range_outside_memory_breaks_the_queue)
{
	struct rig r;
	uint64_t gpas[2] = {DATA, RAM + RAM_SIZE};
	uint32_t lens[2] = {PG, PG};

	rig_up(&r, "reporting=on", F_REPORT);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x3c, PG), 0);
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, gpas, lens, 2), -VQ_E_RING_BROKEN);
	ck_assert(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(r.dev->last_error, -VQ_E_RING_DESC_MEM);
	ck_assert(mem_is(r.mem, DATA, PG, 0x3c)); /* nothing of it applied */
	ck_assert_uint_eq(counters(&r).reported_pages, 0);
	/* reset + re-init: reporting works again */
	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_REPORT), 0);
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, gpas, lens, 1), 0);
	ck_assert(mem_is(r.mem, DATA, PG, 0));
	rig_down(&r);
}
END_TEST

/* ---- page poison (spec 5.5.6.5, 5.5.6.6.2) ---- */

START_TEST(poisoned_reported_pages_keep_their_value)
{
	struct rig r;
	uint64_t g = DATA;
	uint32_t l = 4 * PG, p = PFN(DATA) + 16;
	uint32_t zero = 0;
	struct vq_balloon_counters c;

	rig_up(&r, "reporting=on,page-poison=on", 0);
	ck_assert_int_eq(vq_drv_balloon_init_poison(&r.drv, F_REPORT | F_POISON, 0xaaaaaaaau), 0);
	ck_assert_uint_eq(vq_balloon_poison(r.dev), 0xaaaaaaaau);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0xaa, 32 * PG), 0);
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, &g, &l, 1), 0);
	c = counters(&r);
	/* must not become anything but poison_val: left as it is */
	ck_assert_uint_eq(c.report_kept_pages, 4);
	ck_assert_uint_eq(c.reported_pages, 0);
	ck_assert(mem_is(r.mem, DATA, 4 * PG, 0xaa));
	/* inflated pages may still go: the driver re-poisons after deflating */
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, &p, 1), 0);
	ck_assert(mem_is(r.mem, DATA + 16 * PG, PG, 0));
	/* poison_val is frozen while DRIVER_OK is set */
	ck_assert_int_eq(vq_drv_config_write(&r.drv, VIRTIO_BALLOON_CFG_POISON_VAL, &zero, 4), 0);
	ck_assert_uint_eq(vq_balloon_poison(r.dev), 0xaaaaaaaau);
	ck_assert_uint_eq(counters(&r).config_refused, 1);

	/* poison_val 0 is what a discarded page reads as: discarded */
	ck_assert_int_eq(vq_drv_balloon_init_poison(&r.drv, F_REPORT | F_POISON, 0), 0);
	ck_assert_uint_eq(vq_balloon_poison(r.dev), 0);
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, &g, &l, 1), 0);
	ck_assert_uint_eq(counters(&r).reported_pages, 4);
	ck_assert(mem_is(r.mem, DATA, 4 * PG, 0));

	/* without PAGE_POISON negotiated a stale poison_val does not matter */
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0xaa, 4 * PG), 0);
	ck_assert_int_eq(vq_drv_balloon_init_poison(&r.drv, F_REPORT, 0xaaaaaaaau), 0);
	ck_assert_int_eq(vq_drv_balloon_report(&r.drv, &g, &l, 1), 0);
	ck_assert_uint_eq(counters(&r).reported_pages, 8);
	ck_assert(mem_is(r.mem, DATA, 4 * PG, 0));
	rig_down(&r);
}
END_TEST

/* ---- free page hinting (spec 5.5.6.4) ---- */

START_TEST(free_page_hints_are_counted_under_the_current_id)
{
	struct rig r;
	uint64_t gpas[2] = {DATA, DATA + 0x10000};
	uint32_t lens[2] = {4 * PG, PG}, id = 0, id2 = 0;
	uint8_t cmd[4];
	struct vq_buf b;

	rig_up(&r, "free-page-hint=on", F_HINT);
	ck_assert_int_eq(vq_mem_fill(r.mem, DATA, 0x21, 0x20000), 0);
	/* the device is not asking yet */
	ck_assert_int_eq(vq_drv_balloon_hint(&r.drv, gpas, lens, 2), -VQ_E_STATE);
	ck_assert_int_eq(vq_balloon_hint_start(r.dev, &id), 0);
	ck_assert_uint_ge(id, 2);
	ck_assert(vq_machine_irq_level(r.m, IRQ));
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(vq_drv_balloon_hint(&r.drv, gpas, lens, 2), 0);
	ck_assert_uint_eq(counters(&r).hinted_pages, 5);
	ck_assert(mem_is(r.mem, DATA, 0x20000, 0x21)); /* hints never discard */
	/* the driver's STOP shows in config; a new round gets a new id */
	ck_assert_int_eq(vq_drv_balloon_hint(&r.drv, gpas, lens, 1), -VQ_E_STATE);
	ck_assert_int_eq(vq_balloon_hint_start(r.dev, &id2), 0);
	ck_assert_uint_ne(id2, id);
	/* pages under a stale id are ignored */
	cmd[0] = (uint8_t)id;
	cmd[1] = cmd[2] = cmd[3] = 0;
	ck_assert_int_eq(vq_mem_write(r.mem, DATA + 0x100000, cmd, 4), 0);
	b = (struct vq_buf){.gpa = DATA + 0x100000, .len = 4, .writable = false};
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_FREE_PAGE, &b, 1), 0);
	b = (struct vq_buf){.gpa = DATA, .len = 2 * PG, .writable = true};
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_FREE_PAGE, &b, 1), 0);
	ck_assert_uint_eq(counters(&r).hint_ignored, 2);
	/* a command buffer that is not 4 bytes is malformed */
	b = (struct vq_buf){.gpa = DATA + 0x100000, .len = 3, .writable = false};
	ck_assert_uint_eq(raw_submit(&r, VQ_BALLOON_Q_FREE_PAGE, &b, 1), 0);
	ck_assert_uint_eq(counters(&r).hint_errors, 1);
	ck_assert_int_eq(vq_balloon_hint_done(r.dev), 0);
	ck_assert_int_eq(vq_drv_balloon_hint(&r.drv, gpas, lens, 1), -VQ_E_STATE);
	rig_down(&r);
	/* without the feature negotiated the host cannot start a round */
	rig_up(&r, "free-page-hint=on", 0);
	ck_assert_int_eq(vq_balloon_hint_start(r.dev, NULL), -VQ_E_STATE);
	rig_down(&r);
}
END_TEST

/* ---- lifecycle and options ---- */

START_TEST(reset_empties_the_balloon)
{
	struct rig r;
	uint32_t p[2] = {PFN(DATA), PFN(DATA) + 1};

	rig_up(&r, NULL, F_STATS);
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, p, 2), 0);
	ck_assert_int_eq(vq_drv_balloon_set_actual(&r.drv, 2), 0);
	ck_assert_int_eq(vq_drv_balloon_init(&r.drv, F_STATS), 0);
	ck_assert_uint_eq(counters(&r).balloon_pages, 0);
	ck_assert_uint_eq(vq_balloon_actual(r.dev), 0);
	ck_assert(!vq_balloon_page_inflated(r.dev, PFN(DATA)));
	/* the fresh driver's stats buffer is held again */
	ck_assert_int_eq(vq_balloon_request_stats(r.dev), 0);
	ck_assert_int_eq(vq_drv_balloon_inflate(&r.drv, p, 2), 0);
	ck_assert_uint_eq(counters(&r).balloon_pages, 2);
	rig_down(&r);
}
END_TEST

START_TEST(bad_options_are_named)
{
	struct vq_machine *m = vq_machine_new(1);
	char err[200];

	ck_assert_ptr_null(vq_machine_add_mmio(m, "balloon", NULL, "pages=lots", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "pages 'lots'"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "balloon", NULL, "pages=4294967296", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "pages '4294967296'"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "balloon", NULL, "stats=maybe", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "stats 'maybe' must be on or off"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "balloon", NULL, "reporting=1,size=3", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown option 'size'"));
	ck_assert_ptr_null(vq_machine_add_mmio(m, "balloon", NULL, "queue-size=100", MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "queue-size '100' must be a power of two"));
	ck_assert_ptr_nonnull(vq_machine_add_mmio(m, "balloon", NULL,
		"pages=10,stats=off,deflate-on-oom=on,reporting=on,free-page-hint=on,"
		"page-poison=on,must-tell-host=off,queue-size=64", MMIO, IRQ, err, sizeof(err)));
	vq_machine_free(m);
}
END_TEST

START_TEST(api_refuses_other_devices)
{
	struct vq_machine *m = vq_machine_new(1);
	struct vq_balloon_counters c;
	struct vq_balloon_stats st;
	struct vq_dev *rng;
	char err[200];

	ck_assert_int_eq(vq_machine_add_ram(m, RAM, RAM_SIZE), 0);
	rng = vq_machine_add_mmio(m, "rng", NULL, NULL, MMIO, IRQ, err, sizeof(err));
	ck_assert_ptr_nonnull(rng);
	ck_assert_int_eq(vq_balloon_set_target(rng, 5), -VQ_E_INVAL);
	ck_assert_int_eq(vq_balloon_request_stats(rng), -VQ_E_INVAL);
	ck_assert_int_eq(vq_balloon_counters(rng, &c), -VQ_E_INVAL);
	ck_assert_int_eq(vq_balloon_stats(rng, &st), -VQ_E_INVAL);
	ck_assert_int_eq(vq_balloon_queue_index(rng, VQ_BALLOON_Q_INFLATE), -1);
	ck_assert_uint_eq(vq_balloon_actual(rng), 0);
	vq_machine_free(m);
}
END_TEST

static Suite *balloon_suite(void)
{
	Suite *s = suite_create("balloon");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, inflate_returns_pages_to_the_host);
	tcase_add_test(tc, pfns_outside_memory_are_refused_the_rest_applies);
	tcase_add_test(tc, pages_under_a_fault_range_are_refused);
	tcase_add_test(tc, deflate_takes_pages_back);
	tcase_add_test(tc, inflating_a_page_twice_counts_it_once);
	tcase_add_test(tc, inflate_work_is_bounded_by_guest_ram);
	tcase_add_test(tc, malformed_inflate_buffer_ignores_trailing_bytes);
	tcase_add_test(tc, set_target_raises_a_config_interrupt);
	tcase_add_test(tc, actual_is_written_by_the_driver);
	tcase_add_test(tc, queue_index_follows_negotiated_features);
	tcase_add_test(tc, unoffered_features_are_not_negotiated);
	tcase_add_test(tc, stats_round_trip);
	tcase_add_test(tc, stats_request_needs_the_feature);
	tcase_add_test(tc, malformed_stats_buffer_is_held_but_ignored);
	tcase_add_test(tc, second_stats_buffer_returns_the_first);
	tcase_add_test(tc, reporting_punches_ranges_and_refuses_unaligned_ones);
	tcase_add_test(tc, readable_reported_range_is_left_untouched);
	tcase_add_test(tc, reported_range_outside_memory_breaks_the_queue);
	tcase_add_test(tc, poisoned_reported_pages_keep_their_value);
	tcase_add_test(tc, free_page_hints_are_counted_under_the_current_id);
	tcase_add_test(tc, reset_empties_the_balloon);
	tcase_add_test(tc, bad_options_are_named);
	tcase_add_test(tc, api_refuses_other_devices);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(balloon_suite());
}
