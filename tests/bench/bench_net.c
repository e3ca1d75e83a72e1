/* bench_net.c - frames per second through a virtio-net device on the
 * loopback backend, against a baseline run in the same process.
 *
 * One frame: the reference driver writes header + frame into its tx buffer,
 * adds the chain and kicks (mmio write); the machine runs the notify event;
 * the device pops the tx chain, copies the frame out, hands it to the
 * loopback backend, which gives it back to the device's receive path; the
 * device pops an rx buffer, writes header + frame, pushes and publishes
 * both queues; the driver reaps the tx element, reaps the rx element,
 * copies the frame out and posts the buffer again. The baseline is a
 * memcpy of the same bytes (one copy of each frame from a source to a
 * destination buffer): the least any loopback must do.
 *
 * Figures are a ratio to the baseline, never a pass/fail timing; best of
 * three runs. Build -O2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vqsim.h"
#include "bench.h"

#define RAM      0x40000000ull
#define RAM_SIZE (64ull << 20)
#define MMIO     0x0a000000ull
#define IRQ      5
#define TARGET_S 0.3
#define RUNS     3

static void die(const char *what, long rc)
{
	fprintf(stderr, "bench_net: %s: %ld (%s)\n", what, rc, vq_errname((int)rc));
	exit(1);
}

struct bench {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
	uint8_t frame[1514], back[1514];
};

static void setup(struct bench *b)
{
	char err[256];
	int rc;

	b->m = vq_machine_new(1);
	if (!b->m || vq_machine_add_ram(b->m, RAM, RAM_SIZE) < 0)
		die("machine", -VQ_E_NOMEM);
	b->dev = vq_machine_add_mmio(b->m, "net", NULL, "backend=loopback", MMIO, IRQ, err,
				     sizeof(err));
	if (!b->dev) {
		fprintf(stderr, "bench_net: %s\n", err);
		exit(1);
	}
	if ((rc = vq_drv_attach(&b->drv, b->m, MMIO, IRQ, RAM, RAM_SIZE / 2)) < 0)
		die("attach", rc);
	rc = vq_drv_net_init(&b->drv, (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MTU) |
					      (1ull << VIRTIO_F_EVENT_IDX), NULL);
	if (rc < 0)
		die("net init", rc);
	memset(b->frame, 0xff, 6);                 /* broadcast */
	memcpy(b->frame + 6, "\x02\0\0\0\0\x01", 6);
	b->frame[12] = 0x88;
	b->frame[13] = 0xb5;
	for (size_t i = 14; i < sizeof(b->frame); i++)
		b->frame[i] = (uint8_t)i;
}

/* n frames of len bytes through the device; returns frames that came back. */
static uint64_t run_net(struct bench *b, uint32_t len, uint64_t n)
{
	uint64_t ok = 0;

	for (uint64_t i = 0; i < n; i++) {
		long rc = vq_drv_net_send(&b->drv, 0, b->frame, len, NULL);

		if (rc < 0)
			die("send", rc);
		rc = vq_drv_net_recv(&b->drv, 0, b->back, sizeof(b->back), NULL);
		if (rc < 0)
			die("recv", rc);
		ok += rc == (long)len;
	}
	return ok;
}

/* The baseline: the same bytes copied once per frame. */
static uint64_t run_memcpy(struct bench *b, uint32_t len, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++) {
		b->frame[14] = (uint8_t)i;
		memcpy(b->back, b->frame, len);
		__asm__ volatile("" : : "r"(b->back) : "memory");
		sum += b->back[14];
	}
	return sum;
}

/* Best rate (frames/s) of RUNS timed runs of fn, each about TARGET_S. */
static double best_rate(struct bench *b, uint32_t len,
			uint64_t (*fn)(struct bench *, uint32_t, uint64_t))
{
	uint64_t n = 1000;
	double best = 0;

	for (;;) { /* calibrate */
		double t0 = bench_now(), dt;

		fn(b, len, n);
		dt = bench_now() - t0;
		if (dt > TARGET_S / 4 || n > (1ull << 34)) {
			n = (uint64_t)((double)n * TARGET_S / (dt > 0 ? dt : 1e-9)) + 1;
			break;
		}
		n *= 4;
	}
	for (int r = 0; r < RUNS; r++) {
		double t0 = bench_now(), dt, rate;

		fn(b, len, n);
		dt = bench_now() - t0;
		rate = (double)n / dt;
		if (rate > best)
			best = rate;
	}
	return best;
}

int main(void)
{
	static const uint32_t sizes[] = {64, 1500};
	struct bench *b = calloc(1, sizeof(*b));
	struct vq_net_stats st;

	if (!b)
		die("calloc", -VQ_E_NOMEM);
	setup(b);
	if (run_net(b, 64, 10) != 10)
		die("loopback lost frames", -VQ_E_INVAL);
	printf("virtio-net loopback: driver send (tx) + device tx/rx + driver recv, one frame "
	       "at a time;\nbaseline: memcpy of the same bytes, once a frame. Best of %d.\n\n",
	       RUNS);
	printf("%-6s %14s %10s %16s %12s %8s\n", "bytes", "frames/s", "MB/s", "memcpy frames/s",
	       "memcpy MB/s", "ratio");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double net = best_rate(b, sizes[i], run_net);
		double base = best_rate(b, sizes[i], run_memcpy);

		printf("%-6u %14.0f %10.1f %16.0f %12.1f %7.2f%%\n", sizes[i], net,
		       net * sizes[i] / 1e6, base, base * sizes[i] / 1e6, 100.0 * net / base);
	}
	vq_net_get_stats(b->dev, &st);
	printf("\n%llu frames sent, %llu received, %llu dropped\n",
	       (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames,
	       (unsigned long long)(st.rx_drop_queue_full + st.rx_drop_buf_small + st.tx_errors));
	vq_drv_detach(&b->drv);
	vq_machine_free(b->m);
	free(b);
	return 0;
}
