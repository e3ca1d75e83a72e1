/* bench_blk.c - 4 KiB reads and writes per second through virtio-blk on
 * the ram backend, against a memcpy baseline run in the same process.
 *
 * One round: the reference driver adds `batch` requests (header, 4 KiB data,
 * status: three descriptors each, every request with its own buffers), kicks
 * once, the machine runs the notification (the device pops, copies between
 * the ram disk and guest memory, writes the status, pushes, publishes and
 * interrupts), and the driver acknowledges the interrupt and reaps the batch,
 * checking every status byte. The baseline is memcpy of the same 4 KiB
 * blocks between the same kind of buffers: the data movement alone, with
 * nothing of virtio around it.
 *
 * Figures are a ratio to the baseline, never a pass/fail timing. Build -O2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vqsim.h"
#include "bench.h"

#define RAM        0x40000000ull
#define RAM_SIZE   (64ull << 20)
#define HEAP_SIZE  (8ull << 20)
#define BUF        (RAM + HEAP_SIZE)       /* request buffers */
#define MMIO       0x0a000000ull
#define IRQ        5
#define BLOCK      4096u
#define DISK       (32ull << 20)
#define QSZ        256u
#define MAX_BATCH  64u
#define TARGET_S   0.3

static volatile uint64_t sink;

struct bench {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
	struct vq_mem *mem;
	uint8_t *status[MAX_BATCH];  /* host view of each request's status byte */
	uint8_t *data[MAX_BATCH];    /* host view of each request's data buffer */
	uint8_t *disk;               /* baseline: a disk-sized buffer */
	uint32_t type;               /* VIRTIO_BLK_T_IN or _OUT */
	unsigned batch;
	uint64_t next_sector;
};

static void die(const char *what, long rc)
{
	fprintf(stderr, "bench_blk: %s: %ld (%s)\n", what, rc, vq_errname((int)rc));
	exit(1);
}

/* Request i lives at BUF + i * 0x2000: header at +0, status at +0x40,
 * data at +0x1000. */
static uint64_t req_gpa(unsigned i)
{
	return BUF + (uint64_t)i * 0x2000;
}

static void setup(struct bench *b)
{
	char err[200];
	uint64_t want[2] = {1ull << VIRTIO_BLK_F_FLUSH, 0};
	int rc;

	memset(b, 0, sizeof(*b));
	b->m = vq_machine_new(1);
	if (!b->m)
		die("machine_new", -VQ_E_NOMEM);
	if ((rc = vq_machine_add_ram(b->m, RAM, RAM_SIZE)) < 0)
		die("add_ram", rc);
	b->mem = vq_machine_mem(b->m);
	b->dev = vq_machine_add_mmio(b->m, "blk", NULL, "backend=ram,size=32M,queue-size=256",
				     MMIO, IRQ, err, sizeof(err));
	if (!b->dev) {
		fprintf(stderr, "bench_blk: %s\n", err);
		exit(1);
	}
	if ((rc = vq_drv_attach(&b->drv, b->m, MMIO, IRQ, RAM, HEAP_SIZE)) < 0)
		die("attach", rc);
	if ((rc = vq_drv_init(&b->drv, want, 1)) < 0)
		die("init", rc);
	for (unsigned i = 0; i < MAX_BATCH; i++) {
		b->status[i] = vq_mem_translate(b->mem, req_gpa(i) + 0x40, 1, VQ_ACC_RW, NULL);
		b->data[i] = vq_mem_translate(b->mem, req_gpa(i) + 0x1000, BLOCK, VQ_ACC_RW, NULL);
		if (!b->status[i] || !b->data[i])
			die("translate", -VQ_E_INVAL);
		memset(b->data[i], (int)i, BLOCK);
	}
	b->disk = malloc(DISK);
	if (!b->disk)
		die("malloc", -VQ_E_NOMEM);
	memset(b->disk, 0x5a, DISK);
	/* touch the whole ram disk once, so that no run pays its page faults */
	for (uint64_t s = 0; s < DISK / 512; s += BLOCK / 512)
		if ((rc = vq_drv_blk_write(&b->drv, s, b->disk, BLOCK)) != VIRTIO_BLK_S_OK)
			die("prefill", rc);
}

static void teardown(struct bench *b)
{
	vq_drv_detach(&b->drv);
	vq_machine_free(b->m);
	free(b->disk);
}

/* Request i of the batch: header (type, sector), data, status. */
static void add_request(struct bench *b, unsigned i)
{
	uint64_t g = req_gpa(i);
	struct virtio_blk_outhdr h = {.type = VQ_LE32(b->type), .reserved = 0,
				      .sector = VQ_LE64(b->next_sector)};
	struct vq_buf bufs[3] = {
		{g, sizeof(h), false},
		{g + 0x1000, BLOCK, b->type == VIRTIO_BLK_T_IN},
		{g + 0x40, 1, true},
	};
	int rc;

	vq_mem_write(b->mem, g, &h, sizeof(h));
	*b->status[i] = 0xff;
	b->next_sector = (b->next_sector + BLOCK / 512) % (DISK / 512);
	if ((rc = vq_drv_add(&b->drv, 0, bufs, 3, i)) < 0)
		die("add", rc);
}

/* The whole path. Returns requests completed. */
static uint64_t run_blk(struct bench *b, uint64_t rounds)
{
	uint64_t done = 0, token;
	uint32_t len;
	int rc;

	for (uint64_t n = 0; n < rounds; n++) {
		unsigned got = 0;

		for (unsigned i = 0; i < b->batch; i++)
			add_request(b, i);
		if ((rc = vq_drv_kick(&b->drv, 0)) < 0)
			die("kick", rc);
		while (got < b->batch) {
			if (vq_drv_wait_used(&b->drv, 0) != 1)
				die("no answer", -VQ_E_TIMEOUT);
			while ((rc = vq_drv_get_used(&b->drv, 0, &token, &len)) == 1) {
				if (*b->status[token] != VIRTIO_BLK_S_OK)
					die("status", *b->status[token]);
				got++;
			}
			if (rc < 0)
				die("get_used", rc);
		}
		done += got;
	}
	return done;
}

/* The same 4 KiB blocks by memcpy between the disk buffer and the request
 * buffers (read: disk -> buffer, write: buffer -> disk). */
static uint64_t run_base(struct bench *b, uint64_t rounds)
{
	uint64_t done = 0, off = b->next_sector * 512, acc = 0;

	for (uint64_t n = 0; n < rounds; n++) {
		for (unsigned i = 0; i < b->batch; i++) {
			if (b->type == VIRTIO_BLK_T_IN)
				memcpy(b->data[i], b->disk + off, BLOCK);
			else
				memcpy(b->disk + off, b->data[i], BLOCK);
			*b->status[i] = VIRTIO_BLK_S_OK;
			off = (off + BLOCK) % DISK;
		}
		__asm__ volatile("" ::: "memory");
		for (unsigned i = 0; i < b->batch; i++)
			acc += *b->status[i] + b->data[i][0];
		done += b->batch;
	}
	sink = acc;
	return done;
}

typedef uint64_t (*run_fn)(struct bench *, uint64_t);

static uint64_t calibrate(struct bench *b, run_fn fn)
{
	uint64_t rounds = 4;

	for (;;) {
		double t = bench_now();
		fn(b, rounds);
		t = bench_now() - t;
		if (t > 0.05)
			return (uint64_t)((double)rounds * TARGET_S / t) + 1;
		rounds *= 2;
	}
}

static double rate(struct bench *b, run_fn fn, uint64_t rounds)
{
	double t = bench_now();
	uint64_t ops = fn(b, rounds);

	return (double)ops / (bench_now() - t);
}

/* Best of 3 each, interleaved so that host noise hits both alike. */
static void measure(struct bench *b, double *blk, double *base)
{
	uint64_t blk_rounds = calibrate(b, run_blk), base_rounds = calibrate(b, run_base);

	*blk = *base = 0;
	for (int i = 0; i < 3; i++) {
		double r = rate(b, run_blk, blk_rounds), s = rate(b, run_base, base_rounds);
		if (r > *blk)
			*blk = r;
		if (s > *base)
			*base = s;
	}
}

int main(void)
{
	static const unsigned batches[] = {1, 16, 64};
	struct bench b;
	struct vq_blk_stats st;

	setup(&b);
	printf("virtio-blk, ram backend, %u KiB requests (3 descriptors), queue size %u;\n"
	       "baseline: memcpy of the same blocks\n", BLOCK / 1024, QSZ);
	printf("%-6s %-6s %12s %10s %14s %12s %7s\n", "op", "batch", "ops/s", "MB/s",
	       "memcpy ops/s", "memcpy MB/s", "ratio");
	for (int t = 0; t < 2; t++) {
		b.type = t == 0 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		for (unsigned bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
			double blk, base;

			b.batch = batches[bi];
			measure(&b, &blk, &base);
			printf("%-6s %-6u %12.0f %10.1f %14.0f %12.1f %6.1f%%\n",
			       t == 0 ? "read" : "write", b.batch, blk, blk * BLOCK / 1e6, base,
			       base * BLOCK / 1e6, 100.0 * blk / base);
			fflush(stdout);
		}
	}
	if (vq_blk_get_stats(b.dev, &st) == 0)
		printf("device: %llu reads, %llu writes, %llu errors\n",
		       (unsigned long long)st.req_in, (unsigned long long)st.req_out,
		       (unsigned long long)(st.status_ioerr + st.status_unsupp));
	teardown(&b);
	return 0;
}
