/* bench_outside.c - requests (blk) or frames (net) per second from vqsim's
 * reference driver to a vhost-user back-end through vqsim's front-end
 * device, at a given batch: BATCH chains are added and published with one
 * kick, then all of them are waited for. tests/bench/outside.sh runs it
 * against qemu-storage-daemon, DPDK's testpmd and vqsim's own devices
 * served over vhost-user, in the same run, and prints ratios.
 *
 *   bench_outside blk|net SOCKET BATCH SECONDS
 *
 * blk: 4 KiB reads (header, data, status: three descriptors) spread over
 * the first 16 MiB. net: 64-byte frames sent on the transmit queue and
 * received back (the peer loops them: testpmd macswap, vqsim's loopback).
 * Prints one line: "<kind> batch <n>: <rate> ops/s (<ops> in <s> s)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vqsim.h"
#include "bench.h"

#define RAM      0x40000000ull
#define RAM_SIZE (64ull << 20)
#define HEAP     (RAM + (32ull << 20))
#define MMIO     0x0a000000ull
#define IRQ      5
#define BLK_LEN  4096u
#define FRAME    64u

static struct vq_dev *dev;

static void die(const char *what, long rc)
{
	fprintf(stderr, "bench_outside: %s: %ld (%s)%s%s\n", what, rc, vq_errname((int)rc),
		dev && dev->last_error ? ": " : "", dev && dev->last_error ? dev->last_error_msg : "");
	exit(1);
}

static void reap(struct vq_drv *d, unsigned q, unsigned n)
{
	while (n) {
		uint64_t token;
		uint32_t len;
		int rc = vq_drv_get_used(d, q, &token, &len);

		if (rc < 0)
			die("reap", rc);
		if (rc == 0) {
			if (vq_drv_wait_used(d, q) != 1)
				die("the device stopped answering", -VQ_E_TIMEOUT);
			continue;
		}
		n--;
	}
}

static uint64_t blk_round(struct vq_drv *d, unsigned batch, uint64_t gpa, uint64_t *seq)
{
	for (unsigned i = 0; i < batch; i++) {
		uint64_t h = gpa + i * (16ull + 1 + BLK_LEN), sector = (*seq)++ % 4096 * 8;
		uint8_t hdr[16] = {0};
		struct vq_buf b[3] = {{h, 16, false}, {h + 16, BLK_LEN, true},
				      {h + 16 + BLK_LEN, 1, true}};
		int rc;

		memcpy(hdr + 8, &sector, 8); /* type 0 = IN, little-endian host */
		vq_mem_write(vq_machine_mem(d->m), h, hdr, sizeof(hdr));
		vq_mem_write8(vq_machine_mem(d->m), h + 16 + BLK_LEN, 0xee);
		if ((rc = vq_drv_add(d, 0, b, 3, i + 1)) < 0)
			die("add", rc);
	}
	vq_drv_kick(d, 0);
	reap(d, 0, batch);
	for (unsigned i = 0; i < batch; i++) { /* every request answered OK */
		uint8_t st = 0xee;

		vq_mem_read(vq_machine_mem(d->m), gpa + i * (16ull + 1 + BLK_LEN) + 16 + BLK_LEN, &st,
			    1);
		if (st != 0)
			die("request status", st);
	}
	return batch;
}

static uint64_t net_round(struct vq_drv *d, unsigned batch, uint64_t gpa)
{
	uint8_t back[2048];

	for (unsigned i = 0; i < batch; i++) {
		struct vq_buf b = {gpa + i * 128ull, 12 + FRAME, false};
		int rc = vq_drv_add(d, 1, &b, 1, i + 1);

		if (rc < 0)
			die("tx add", rc);
	}
	vq_drv_kick(d, 1);
	for (unsigned i = 0; i < batch; i++) {
		long n = vq_drv_net_recv(d, 0, back, sizeof(back), NULL);

		if (n <= 0)
			die("receive", n ? n : -VQ_E_TIMEOUT);
	}
	reap(d, 1, batch);
	return batch;
}

int main(int argc, char **argv)
{
	struct vq_machine *m;
	struct vq_drv drv;
	char opts[512], err[256];
	unsigned batch;
	double secs, t0, t;
	uint64_t ops = 0, seq = 0, gpa;
	bool blk;
	int rc;

	if (argc != 5 || (strcmp(argv[1], "blk") && strcmp(argv[1], "net"))) {
		fprintf(stderr, "usage: bench_outside blk|net SOCKET BATCH SECONDS\n");
		return 2;
	}
	blk = strcmp(argv[1], "blk") == 0;
	batch = (unsigned)atoi(argv[3]);
	secs = atof(argv[4]);
	if (batch < 1 || batch > 128 || secs <= 0) {
		fprintf(stderr, "bench_outside: BATCH 1..128, SECONDS > 0\n");
		return 2;
	}
	m = vq_machine_new(1);
	if (!m || vq_machine_add_ram(m, RAM, RAM_SIZE) < 0)
		die("machine", -VQ_E_NOMEM);
	/* blk: 128 chains of three descriptors in flight; net: a frame a slot */
	snprintf(opts, sizeof(opts), "socket=%s,type=%s,queue-size=%u,timeout=5000", argv[2],
		 argv[1], blk ? 512 : 256);
	dev = vq_machine_add_mmio(m, "vhost-user", NULL, opts, MMIO, IRQ, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "bench_outside: %s\n", err);
		return 1;
	}
	if ((rc = vq_drv_attach(&drv, m, MMIO, IRQ, HEAP, RAM_SIZE / 2)) < 0)
		die("attach", rc);
	if (blk) {
		uint64_t want[VQ_FEATURE_WORDS] = {1ull << VIRTIO_F_EVENT_IDX, 0};

		rc = vq_drv_init(&drv, want, 1);
	} else {
		rc = vq_drv_net_init(&drv, (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_F_EVENT_IDX),
				     NULL);
	}
	if (rc < 0)
		die("init", rc);
	gpa = RAM; /* request buffers below the driver's heap */
	if (!blk) { /* tx frames: a zero header, then broadcast from a local MAC */
		for (unsigned i = 0; i < batch; i++) {
			uint8_t f[12 + FRAME] = {0};

			memset(f + 12, 0xff, 6);
			f[18] = 2;
			f[23] = 1;
			f[24] = 0x88;
			f[25] = 0xb5;
			vq_mem_write(vq_machine_mem(m), gpa + i * 128ull, f, sizeof(f));
		}
	}
	t0 = bench_now();
	do {
		ops += blk ? blk_round(&drv, batch, gpa, &seq) : net_round(&drv, batch, gpa);
		t = bench_now() - t0;
	} while (t < secs);
	printf("%s batch %u: %.0f ops/s (%llu in %.2f s)\n", argv[1], batch, (double)ops / t,
	       (unsigned long long)ops, t);
	vq_drv_detach(&drv);
	vq_machine_free(m);
	return 0;
}
