/* test_fault.c - the fault-injection registry (emu/fault.h) end to end:
 * every fault point (guest memory, blk, net, console, notifications,
 * interrupts, dev.pop) and every trigger (nth, every, every k-th, prob,
 * gpa, sector, time, dev, max), the VQ_EV_FAULT trace event, and
 * determinism (same seed, same faults). */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (64ull << 20)
#define HEAP_SIZE (32ull << 20)
#define BUF (RAM + HEAP_SIZE)
#define MMIO 0x0a000000ull
#define IRQ 7
#define SEED 42
#define F(bit) (1ull << (bit))
#define BLK_F (F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES))
#define NET_F (F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU))

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
	struct vq_faults *f;
	struct vq_mem *mem;
	FILE *trace;
	char *tbuf;
	size_t tlen;
};

static void rig_make(struct rig *r, const char *type, const char *opts, uint64_t seed)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	r->m = vq_machine_new(seed);
	ck_assert_ptr_nonnull(r->m);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->mem = vq_machine_mem(r->m);
	r->f = vq_machine_faults(r->m);
	r->trace = open_memstream(&r->tbuf, &r->tlen);
	ck_assert_ptr_nonnull(r->trace);
	vq_machine_trace_file(r->m, r->trace, 1u << VQ_EV_FAULT);
	if (!type)
		return;
	r->dev = vq_machine_add_mmio(r->m, type, NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, HEAP_SIZE), 0);
}

static void rig_blk(struct rig *r, uint64_t seed)
{
	uint64_t w[2] = {BLK_F, 0};

	rig_make(r, "blk", NULL, seed);
	ck_assert_int_eq(vq_drv_init(&r->drv, w, 1), 0);
}

static void rig_net(struct rig *r)
{
	rig_make(r, "net", NULL, SEED);
	ck_assert_int_eq(vq_drv_net_init(&r->drv, NET_F, NULL), 0);
}

/* The trace so far (fault events only). */
static const char *trace_text(struct rig *r)
{
	fflush(r->trace);
	return r->tbuf ? r->tbuf : "";
}

static void rig_down(struct rig *r)
{
	if (r->dev)
		vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
	fclose(r->trace);
	free(r->tbuf);
}

static int add(struct rig *r, enum vq_fault_point p, enum vq_fault_action a,
	       struct vq_fault_trigger t, uint64_t max)
{
	struct vq_fault_spec s = {.point = p, .action = a, .trig = t, .max = max};
	int id = vq_fault_add(r->f, &s);

	ck_assert_int_ge(id, 0);
	return id;
}

static int blk_rd(struct rig *r, uint64_t sector)
{
	uint8_t b[512];

	return vq_drv_blk_read(&r->drv, sector, b, sizeof(b));
}

static int blk_wr(struct rig *r, uint64_t sector)
{
	uint8_t b[512];

	memset(b, (int)(sector & 0xff) | 1, sizeof(b));
	return vq_drv_blk_write(&r->drv, sector, b, sizeof(b));
}

static const struct vq_fault_trigger EVERY = {0};

/* ---- registry ---- */

START_TEST(registry_api)
{
	struct rig r;
	struct vq_fault_spec s = {.point = VQ_FP_BLK_READ};
	int id;

	rig_make(&r, NULL, NULL, SEED);
	for (int p = 0; p < VQ_FP__COUNT; p++) {
		ck_assert_int_eq(vq_fault_point_parse(vq_fault_point_name((enum vq_fault_point)p)), p);
		ck_assert_int_eq(r.f->armed[p], 0);
	}
	for (int a = 0; a < VQ_FA__COUNT; a++)
		ck_assert_int_eq(vq_fault_action_parse(vq_fault_action_name((enum vq_fault_action)a)),
				 a);
	ck_assert_int_eq(vq_fault_point_parse("blk.nope"), -1);
	id = vq_fault_add(r.f, &s);
	ck_assert_int_eq(id, 0);
	ck_assert_int_eq(vq_fault_get(r.f, id)->spec.action, VQ_FA_IOERR); /* the default */
	ck_assert_int_eq(r.f->armed[VQ_FP_BLK_READ], 1);
	ck_assert_int_eq(vq_fault_hits(r.f, id), 0);
	/* actions a point cannot carry out, bad triggers */
	s.action = VQ_FA_DROP;
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL);
	s.action = VQ_FA_DEFAULT;
	s.trig.prob = 1.5;
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL);
	s.trig.prob = 0;
	s.trig.nth = 1;
	s.trig.every = 2;
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL);
	s.trig = (struct vq_fault_trigger){.has_sector = true, .sector0 = 5, .sector1 = 5};
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL);
	s.trig = (struct vq_fault_trigger){.has_gpa = true, .gpa0 = 0, .gpa1 = 4096};
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL); /* no gpa at blk.read */
	s.point = VQ_FP_NET_TX;
	s.trig = (struct vq_fault_trigger){.has_sector = true, .sector0 = 0, .sector1 = 8};
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL); /* no sectors at net.tx */
	s.trig = EVERY;
	s.point = VQ_FP__COUNT;
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_INVAL);
	/* the table fills up */
	s.point = VQ_FP_NOTIFY;
	for (int i = 1; i < VQ_FAULT_MAX; i++)
		ck_assert_int_eq(vq_fault_add(r.f, &s), i);
	ck_assert_err(vq_fault_add(r.f, &s), VQ_E_NOSPC);
	ck_assert_int_eq(vq_fault_remove(r.f, 7), 0);
	ck_assert_err(vq_fault_remove(r.f, 7), VQ_E_INVAL);
	ck_assert_err(vq_fault_remove(r.f, -1), VQ_E_INVAL);
	ck_assert_int_eq(vq_fault_add(r.f, &s), 7); /* lowest free id */
	ck_assert_int_eq(vq_fault_hits(r.f, 99), -VQ_E_INVAL);
	vq_fault_clear(r.f);
	ck_assert_int_eq(r.f->count, 0);
	ck_assert_int_eq(r.f->armed[VQ_FP_NOTIFY], 0);
	ck_assert_ptr_null(vq_fault_get(r.f, 0));
	rig_down(&r);
}
END_TEST

/* ---- blk: IOERR at every backend call, nth, the trace event ---- */

START_TEST(blk_read_nth_ioerr_traced)
{
	struct rig r;
	int id;

	rig_blk(&r, SEED);
	id = add(&r, VQ_FP_BLK_READ, VQ_FA_DEFAULT, (struct vq_fault_trigger){.nth = 2}, 0);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_fault_hits(r.f, id), 3);
	ck_assert_int_eq(vq_fault_get(r.f, id)->fired, 1);
	ck_assert_ptr_nonnull(strstr(trace_text(&r), "fault"));
	ck_assert_ptr_nonnull(strstr(trace_text(&r), "#0 blk.read nth=2 -> ioerr sector=0+1"));
	rig_down(&r);
}
END_TEST

START_TEST(blk_write_flush_discard_ioerr)
{
	struct rig r;
	uint8_t got[512], zero[512] = {0};

	rig_blk(&r, SEED);
	add(&r, VQ_FP_BLK_WRITE, VQ_FA_IOERR, EVERY, 1);
	ck_assert_int_eq(blk_wr(&r, 3), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 3, got, 512), VIRTIO_BLK_S_OK);
	ck_assert_mem_eq(got, zero, 512); /* nothing was written */
	ck_assert_int_eq(blk_wr(&r, 3), VIRTIO_BLK_S_OK); /* max = 1 */
	add(&r, VQ_FP_BLK_FLUSH, VQ_FA_DEFAULT, EVERY, 0);
	ck_assert_int_eq(vq_drv_blk_flush(&r.drv), VIRTIO_BLK_S_IOERR);
	add(&r, VQ_FP_BLK_DISCARD, VQ_FA_DEFAULT, EVERY, 0);
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 3, 1), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 3, 1, false), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 3, got, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(got[0], 3 | 1); /* discard and write-zeroes did not run */
	rig_down(&r);
}
END_TEST

START_TEST(blk_short_write)
{
	struct rig r;
	uint8_t data[2048], got[2048];
	struct vq_fault_spec s = {.point = VQ_FP_BLK_WRITE, .action = VQ_FA_SHORT, .arg = 512};

	rig_blk(&r, SEED);
	memset(data, 0x5a, sizeof(data));
	ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 8, data, sizeof(data)), VIRTIO_BLK_S_IOERR);
	vq_fault_clear(r.f);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 8, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert_mem_eq(got, data, 512);       /* the first 512 bytes made it */
	ck_assert_uint_eq(got[512], 0);         /* the rest did not */
	ck_assert_uint_eq(got[2047], 0);
	/* a short read: default half, status IOERR */
	s.point = VQ_FP_BLK_READ;
	s.arg = 0;
	ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 8, got, sizeof(got)), VIRTIO_BLK_S_IOERR);
	rig_down(&r);
}
END_TEST

START_TEST(blk_sector_range)
{
	struct rig r;

	rig_blk(&r, SEED);
	add(&r, VQ_FP_BLK_WRITE, VQ_FA_IOERR,
	    (struct vq_fault_trigger){.has_sector = true, .sector0 = 100, .sector1 = 200}, 0);
	ck_assert_int_eq(blk_wr(&r, 0), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(blk_wr(&r, 99), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(blk_wr(&r, 100), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(blk_wr(&r, 199), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(blk_wr(&r, 200), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_fault_hits(r.f, 0), 2); /* misses are not counted */
	rig_down(&r);
}
END_TEST

START_TEST(every_k_and_max)
{
	struct rig r;

	rig_blk(&r, SEED);
	add(&r, VQ_FP_BLK_READ, VQ_FA_IOERR, (struct vq_fault_trigger){.every = 2}, 2);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(blk_rd(&r, 0),
				 (i % 2 == 1 && i < 4) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_fault_get(r.f, 0)->fired, 2);
	rig_down(&r);
}
END_TEST

static void noop_event(struct vq_machine *m, void *arg, uint64_t data)
{
	(void)m;
	(void)arg;
	(void)data;
}

static void advance(struct rig *r, uint64_t ns)
{
	ck_assert_int_eq(vq_machine_schedule(r->m, ns, noop_event, NULL, 0), 0);
	vq_machine_run(r->m, 1000);
}

START_TEST(time_window)
{
	struct rig r;

	rig_blk(&r, SEED);
	add(&r, VQ_FP_BLK_READ, VQ_FA_IOERR,
	    (struct vq_fault_trigger){.has_time = true, .t0 = 1000, .t1 = 2000}, 0);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK);
	advance(&r, 1000 - vq_machine_now(r.m));
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_IOERR);
	advance(&r, 2000 - vq_machine_now(r.m));
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK);
	rig_down(&r);
}
END_TEST

START_TEST(dev_filter)
{
	struct rig r;

	rig_blk(&r, SEED);
	add(&r, VQ_FP_BLK_READ, VQ_FA_IOERR, (struct vq_fault_trigger){.who = "other"}, 0);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK);
	add(&r, VQ_FP_BLK_READ, VQ_FA_IOERR, (struct vq_fault_trigger){.who = "blk0"}, 0);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_IOERR);
	rig_down(&r);
}
END_TEST

/* prob: drawn from the machine's PRNG, so a seed fixes which hits fire. */
static uint64_t prob_pattern(uint64_t seed, char **trace)
{
	struct rig r;
	uint64_t bits = 0;

	rig_blk(&r, seed);
	add(&r, VQ_FP_BLK_READ, VQ_FA_IOERR, (struct vq_fault_trigger){.prob = 0.5}, 0);
	for (int i = 0; i < 64; i++)
		if (blk_rd(&r, 0) == VIRTIO_BLK_S_IOERR)
			bits |= 1ull << i;
	*trace = strdup(trace_text(&r));
	rig_down(&r);
	return bits;
}

START_TEST(prob_deterministic)
{
	char *t1, *t2, *t3;
	uint64_t a = prob_pattern(SEED, &t1), b = prob_pattern(SEED, &t2);
	uint64_t c = prob_pattern(SEED + 1, &t3);

	ck_assert_uint_eq(a, b);
	ck_assert_str_eq(t1, t2);
	ck_assert_uint_ne(a, 0);
	ck_assert_uint_ne(a, UINT64_MAX);
	ck_assert_int_gt(__builtin_popcountll(a), 16); /* about half of 64 */
	ck_assert_int_lt(__builtin_popcountll(a), 48);
	ck_assert_uint_ne(a, c); /* another seed, another pattern */
	free(t1);
	free(t2);
	free(t3);
}
END_TEST

/* ---- guest memory ---- */

START_TEST(mem_read_fail_nth_in_range)
{
	struct rig r;
	uint8_t b[16];
	int id;

	rig_make(&r, NULL, NULL, SEED);
	id = add(&r, VQ_FP_MEM_READ, VQ_FA_DEFAULT,
		 (struct vq_fault_trigger){.nth = 3, .has_gpa = true, .gpa0 = BUF,
					   .gpa1 = BUF + 0x1000}, 0);
	ck_assert_int_eq(vq_mem_read(r.mem, BUF - 16, b, 16), 0); /* outside: not counted */
	ck_assert_int_eq(vq_mem_read(r.mem, BUF, b, 16), 0);
	ck_assert_int_eq(vq_mem_read(r.mem, BUF + 8, b, 16), 0);
	ck_assert_int_eq(vq_mem_write(r.mem, BUF, b, 16), 0);     /* writes are not reads */
	ck_assert_err(vq_mem_read(r.mem, BUF + 0xff8, b, 16), VQ_E_MEM_FAULT);
	ck_assert_int_eq(vq_mem_read(r.mem, BUF, b, 16), 0);
	ck_assert_int_eq(vq_fault_hits(r.f, id), 4);
	ck_assert_ptr_nonnull(strstr(trace_text(&r), "mem.read"));
	/* removing it takes the mem range away too */
	ck_assert_int_eq(vq_fault_remove(r.f, id), 0);
	ck_assert_ptr_null(vq_mem_fault_get(r.mem, 0));
	rig_down(&r);
}
END_TEST

START_TEST(mem_read_corrupt)
{
	struct rig r;
	uint8_t w[16], b[16];
	struct vq_fault_spec s = {.point = VQ_FP_MEM_READ, .action = VQ_FA_CORRUPT,
				  .trig = {.has_gpa = true, .gpa0 = BUF + 4, .gpa1 = BUF + 8},
				  .xor_mask = 0x01, .max = 1};

	rig_make(&r, NULL, NULL, SEED);
	for (int i = 0; i < 16; i++)
		w[i] = (uint8_t)(0x10 + i);
	ck_assert_int_eq(vq_mem_write(r.mem, BUF, w, 16), 0);
	ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	ck_assert_int_eq(vq_mem_read(r.mem, BUF, b, 16), 0);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(b[i], (i >= 4 && i < 8) ? (w[i] ^ 0x01) : w[i]);
	/* a fill pattern, on the bytes of the range only */
	ck_assert_int_eq(vq_mem_write(r.mem, BUF, w, 16), 0);
	s.use_fill = true;
	s.fill = 0xaa;
	s.max = 0;
	vq_fault_clear(r.f);
	ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	ck_assert_int_eq(vq_mem_read(r.mem, BUF + 6, b, 4), 0);
	ck_assert_uint_eq(b[0], 0xaa);
	ck_assert_uint_eq(b[1], 0xaa);
	ck_assert_uint_eq(b[2], w[8]);
	ck_assert_uint_eq(b[3], w[9]);
	rig_down(&r);
}
END_TEST

START_TEST(mem_write_fail_and_raw_ranges)
{
	struct rig r;
	uint8_t b[8] = {0};
	int raw;

	rig_make(&r, NULL, NULL, SEED);
	add(&r, VQ_FP_MEM_WRITE, VQ_FA_FAIL, (struct vq_fault_trigger){.nth = 1}, 0);
	ck_assert_err(vq_mem_write(r.mem, BUF, b, 8), VQ_E_MEM_FAULT);
	ck_assert_int_eq(vq_mem_write(r.mem, BUF, b, 8), 0);
	ck_assert_int_eq(vq_mem_read(r.mem, BUF, b, 8), 0);
	/* a plain mem fault range keeps refusing everything, hook or not */
	raw = vq_mem_fault_add(r.mem, BUF + 0x100, 8, VQ_ACC_READ);
	ck_assert_int_ge(raw, 0);
	ck_assert_err(vq_mem_read(r.mem, BUF + 0x100, b, 8), VQ_E_MEM_FAULT);
	ck_assert_err(vq_mem_read(r.mem, BUF + 0x100, b, 8), VQ_E_MEM_FAULT);
	rig_down(&r);
}
END_TEST

/* a device reading a request buffer through a mem.read fault */
START_TEST(mem_fault_seen_by_device)
{
	struct rig r;
	uint8_t data[512], got[512];

	rig_blk(&r, SEED);
	memset(data, 0x33, sizeof(data));
	add(&r, VQ_FP_MEM_READ, VQ_FA_FAIL,
	    (struct vq_fault_trigger){.has_gpa = true, .gpa0 = RAM, .gpa1 = RAM + HEAP_SIZE},
	    0);
	/* the device cannot read the chain: the queue breaks, NEEDS_RESET */
	ck_assert_int_lt(vq_drv_blk_write(&r.drv, 0, data, sizeof(data)), 0);
	ck_assert(r.dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	(void)got;
	rig_down(&r);
}
END_TEST

/* ---- net ---- */

static void frame(uint8_t *f, uint32_t len, unsigned tag)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 1};

	memcpy(f, bcast, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(tag + i);
}

static unsigned recv_all(struct rig *r, uint8_t tags[8])
{
	uint8_t b[1600];
	unsigned n = 0;
	long len;

	while ((len = vq_drv_net_recv(&r->drv, 0, b, sizeof(b), NULL)) > 0) {
		ck_assert_uint_lt(n, 8);
		tags[n++] = (uint8_t)(b[14] - 14);
	}
	ck_assert_int_eq(len, 0);
	return n;
}

START_TEST(net_tx_drop_dup_reorder_corrupt)
{
	struct rig r;
	uint8_t f[60], tags[8];
	struct vq_net_stats st;

	rig_net(&r);
	vq_drv_net_post_rx(&r.drv, 0, 16);
	/* drop the 1st frame, duplicate the 2nd */
	add(&r, VQ_FP_NET_TX, VQ_FA_DROP, (struct vq_fault_trigger){.nth = 1}, 0);
	add(&r, VQ_FP_NET_TX, VQ_FA_DUP, (struct vq_fault_trigger){.nth = 2}, 0);
	frame(f, 60, 1);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 60, NULL), 0);
	frame(f, 60, 2);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 60, NULL), 0);
	ck_assert_uint_eq(recv_all(&r, tags), 2);
	ck_assert_uint_eq(tags[0], 2);
	ck_assert_uint_eq(tags[1], 2);
	vq_fault_clear(r.f);
	/* hold the 1st back: it arrives after the 2nd */
	add(&r, VQ_FP_NET_TX, VQ_FA_REORDER, (struct vq_fault_trigger){.nth = 1}, 0);
	frame(f, 60, 5);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 60, NULL), 0);
	ck_assert_uint_eq(recv_all(&r, tags), 0);
	frame(f, 60, 6);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 60, NULL), 0);
	ck_assert_uint_eq(recv_all(&r, tags), 2);
	ck_assert_uint_eq(tags[0], 6);
	ck_assert_uint_eq(tags[1], 5);
	vq_fault_clear(r.f);
	/* corrupt byte 14 of the frame */
	{
		struct vq_fault_spec s = {.point = VQ_FP_NET_TX, .action = VQ_FA_CORRUPT,
					  .arg = 14, .xor_mask = 0x80};
		ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	}
	frame(f, 60, 9);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 60, NULL), 0);
	ck_assert_uint_eq(recv_all(&r, tags), 1);
	ck_assert_uint_eq(tags[0], (uint8_t)(((9 + 14) ^ 0x80) - 14));
	ck_assert_int_eq(vq_net_get_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.tx_errors, 0);
	rig_down(&r);
}
END_TEST

START_TEST(net_rx_drop_dup_reorder_corrupt)
{
	struct rig r;
	uint8_t f[60], tags[8];

	rig_net(&r);
	vq_drv_net_post_rx(&r.drv, 0, 16);
	add(&r, VQ_FP_NET_RX, VQ_FA_DROP, (struct vq_fault_trigger){.nth = 1}, 0);
	add(&r, VQ_FP_NET_RX, VQ_FA_DUP, (struct vq_fault_trigger){.nth = 2}, 0);
	add(&r, VQ_FP_NET_RX, VQ_FA_REORDER, (struct vq_fault_trigger){.nth = 3}, 0);
	for (unsigned t = 1; t <= 4; t++) {
		frame(f, 60, t);
		ck_assert_int_eq(vq_net_receive(r.dev, f, 60), 0);
	}
	/* 1 dropped, 2 twice, 3 held until 4 passed */
	ck_assert_uint_eq(recv_all(&r, tags), 4);
	ck_assert_uint_eq(tags[0], 2);
	ck_assert_uint_eq(tags[1], 2);
	ck_assert_uint_eq(tags[2], 4);
	ck_assert_uint_eq(tags[3], 3);
	vq_fault_clear(r.f);
	{
		struct vq_fault_spec s = {.point = VQ_FP_NET_RX, .action = VQ_FA_CORRUPT,
					  .arg = 14, .use_fill = true, .fill = 0x7f};
		ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	}
	frame(f, 60, 1);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 60), 0);
	ck_assert_uint_eq(recv_all(&r, tags), 1);
	ck_assert_uint_eq(tags[0], (uint8_t)(0x7f - 14));
	rig_down(&r);
}
END_TEST

/* ---- console ---- */

START_TEST(console_hangup)
{
	struct rig r;
	struct vq_console_stats st;
	uint64_t to_guest, from_guest;

	rig_make(&r, "console", NULL, SEED);
	ck_assert_int_eq(vq_drv_console_init(&r.drv, 0), 0);
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	add(&r, VQ_FP_CONSOLE_WRITE, VQ_FA_HANGUP, (struct vq_fault_trigger){.nth = 1}, 0);
	ck_assert_int_ge(vq_drv_console_write(&r.drv, 0, "hello", 5), 0);
	ck_assert(!vq_console_port_host_connected(r.dev, 0));
	ck_assert_int_eq(vq_console_get_stats(r.dev, &st), 0);
	ck_assert_uint_eq(st.port[0].hangups, 1);
	ck_assert_uint_eq(st.port[0].from_guest, 0); /* nobody took the bytes */
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, &to_guest, &from_guest), 0);
	ck_assert_uint_eq(from_guest, 5);            /* held by the device */
	ck_assert_ptr_nonnull(strstr(trace_text(&r), "console.write"));
	rig_down(&r);
}
END_TEST

/* ---- notifications and interrupts ---- */

/* One blk read as add + kick + run; returns the device's notify count delta. */
static uint64_t kick_read(struct rig *r)
{
	struct vq_buf b[3];
	uint64_t h = vq_drv_alloc(&r->drv, 16, 16), d = vq_drv_alloc(&r->drv, 513, 16);
	uint64_t before = r->dev->stats.notifies;
	uint8_t hdr[16] = {0};

	ck_assert_int_eq(vq_mem_write(r->mem, h, hdr, 16), 0);
	b[0] = (struct vq_buf){.gpa = h, .len = 16, .writable = false};
	b[1] = (struct vq_buf){.gpa = d, .len = 512, .writable = true};
	b[2] = (struct vq_buf){.gpa = d + 512, .len = 1, .writable = true};
	ck_assert_int_ge(vq_drv_add(&r->drv, 0, b, 3, 1), 0);
	ck_assert_int_ge(vq_drv_kick(&r->drv, 0), 0);
	vq_machine_run(r->m, 1000);
	return r->dev->stats.notifies - before;
}

START_TEST(notify_drop_dup_delay)
{
	struct rig r;
	uint64_t tok;
	uint32_t len;

	rig_blk(&r, SEED);
	add(&r, VQ_FP_NOTIFY, VQ_FA_DROP, (struct vq_fault_trigger){.nth = 1}, 0);
	ck_assert_uint_eq(kick_read(&r), 0);                    /* lost */
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &tok, &len), 0);
	vq_fault_clear(r.f);
	add(&r, VQ_FP_NOTIFY, VQ_FA_DUP, EVERY, 1);
	ck_assert_uint_eq(kick_read(&r), 2);                    /* delivered twice */
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &tok, &len), 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &tok, &len), 1);
	vq_fault_clear(r.f);
	{
		struct vq_fault_spec s = {.point = VQ_FP_NOTIFY, .action = VQ_FA_DELAY,
					  .arg = 5000};
		uint64_t t0 = vq_machine_now(r.m);

		ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
		ck_assert_uint_eq(kick_read(&r), 1);
		ck_assert_uint_ge(vq_machine_now(r.m), t0 + 5000); /* arrived late */
	}
	rig_down(&r);
}
END_TEST

START_TEST(notify_spurious_irq)
{
	struct rig r;
	uint64_t before;

	rig_blk(&r, SEED);
	before = vq_machine_irq_count(r.m, IRQ);
	kick_read(&r);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), before + 1);
	vq_drv_ack_interrupt(&r.drv);
	add(&r, VQ_FP_NOTIFY, VQ_FA_SPURIOUS, EVERY, 0);
	before = vq_machine_irq_count(r.m, IRQ);
	kick_read(&r);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), before + 2); /* spurious + real */
	rig_down(&r);
}
END_TEST

START_TEST(irq_drop_dup_delay)
{
	struct rig r;
	uint64_t before, t0;
	struct vq_fault_spec s = {.point = VQ_FP_IRQ, .action = VQ_FA_DELAY, .arg = 7000,
				  .max = 1};

	rig_blk(&r, SEED);
	add(&r, VQ_FP_IRQ, VQ_FA_DROP, (struct vq_fault_trigger){.nth = 1}, 0);
	before = vq_machine_irq_count(r.m, IRQ);
	kick_read(&r);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), before);    /* lost */
	ck_assert(!vq_machine_irq_level(r.m, IRQ));
	vq_drv_ack_interrupt(&r.drv);
	vq_fault_clear(r.f);
	add(&r, VQ_FP_IRQ, VQ_FA_DUP, EVERY, 1);
	before = vq_machine_irq_count(r.m, IRQ);
	kick_read(&r);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), before + 2); /* twice */
	vq_drv_ack_interrupt(&r.drv);
	vq_fault_clear(r.f);
	ck_assert_int_ge(vq_fault_add(r.f, &s), 0);
	before = vq_machine_irq_count(r.m, IRQ);
	t0 = vq_machine_now(r.m);
	kick_read(&r);
	ck_assert_uint_eq(vq_machine_irq_count(r.m, IRQ), before + 1);
	ck_assert(vq_machine_irq_level(r.m, IRQ));
	ck_assert_uint_ge(vq_machine_now(r.m), t0 + 7000);             /* late */
	rig_down(&r);
}
END_TEST

/* ---- device: reset, config change, NEEDS_RESET at the moment of a pop ---- */

START_TEST(dev_pop_needs_reset)
{
	struct rig r;

	rig_blk(&r, SEED);
	add(&r, VQ_FP_DEV_POP, VQ_FA_NEEDS_RESET, (struct vq_fault_trigger){.nth = 2}, 0);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK);
	ck_assert_int_lt(blk_rd(&r, 0), 0);
	ck_assert(r.dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_ptr_nonnull(strstr(trace_text(&r), "dev.pop nth=2 -> needs_reset"));
	rig_down(&r);
}
END_TEST

START_TEST(dev_pop_reset_and_config)
{
	struct rig r;
	uint32_t gen;
	uint64_t resets;

	rig_blk(&r, SEED);
	gen = r.dev->config_generation;
	resets = r.dev->stats.resets;
	add(&r, VQ_FP_DEV_POP, VQ_FA_CONFIG, (struct vq_fault_trigger){.nth = 1}, 0);
	ck_assert_int_eq(blk_rd(&r, 0), VIRTIO_BLK_S_OK); /* the request still completes */
	ck_assert_uint_eq(r.dev->config_generation, gen + 1);
	vq_fault_clear(r.f);
	add(&r, VQ_FP_DEV_POP, VQ_FA_RESET, EVERY, 1);
	ck_assert_int_lt(blk_rd(&r, 0), 0);               /* never answered */
	ck_assert_uint_eq(r.dev->status, 0);
	ck_assert_uint_eq(r.dev->stats.resets, resets + 1);
	rig_down(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("fault");

	tcase_add_test(tc, registry_api);
	tcase_add_test(tc, blk_read_nth_ioerr_traced);
	tcase_add_test(tc, blk_write_flush_discard_ioerr);
	tcase_add_test(tc, blk_short_write);
	tcase_add_test(tc, blk_sector_range);
	tcase_add_test(tc, every_k_and_max);
	tcase_add_test(tc, time_window);
	tcase_add_test(tc, dev_filter);
	tcase_add_test(tc, prob_deterministic);
	tcase_add_test(tc, mem_read_fail_nth_in_range);
	tcase_add_test(tc, mem_read_corrupt);
	tcase_add_test(tc, mem_write_fail_and_raw_ranges);
	tcase_add_test(tc, mem_fault_seen_by_device);
	tcase_add_test(tc, net_tx_drop_dup_reorder_corrupt);
	tcase_add_test(tc, net_rx_drop_dup_reorder_corrupt);
	tcase_add_test(tc, console_hangup);
	tcase_add_test(tc, notify_drop_dup_delay);
	tcase_add_test(tc, notify_spurious_irq);
	tcase_add_test(tc, irq_drop_dup_delay);
	tcase_add_test(tc, dev_pop_needs_reset);
	tcase_add_test(tc, dev_pop_reset_and_config);
	suite_add_tcase(s, tc);
	return vq_test_run(s);
}
