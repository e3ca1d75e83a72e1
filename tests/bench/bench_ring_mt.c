/* bench_ring_mt.c - chains per second through a ring whose driver and
 * device run at the same time on two cores, as they do for real (a guest
 * vCPU and a vhost-user back-end), split beside packed in the same run.
 *
 * bench_ring.c runs both sides in one thread: it counts instructions, and
 * there the packed ring's per-id bookkeeping costs more than the split
 * ring's. What the packed layout was made for shows only with two agents:
 * a split chain moves four cache lines between the cores (descriptor,
 * avail entry and idx, used element, used idx), a packed one the one
 * descriptor slot. Here the driver thread keeps the ring full (adds
 * 1-descriptor chains while there is room, publishes, reaps what was
 * used) and the device thread pops, pushes and publishes what it finds;
 * both spin, no notifications. Each side has its own view of guest memory
 * (two mappings of the same memfd, like two processes). Queue size 256.
 *
 *   bench_ring_mt [SECONDS]     (default 1 a layout, best of 3)
 *
 * Figures are chains per second and the packed/split ratio of this run;
 * wall-clock on a shared machine: read the ratio, run it on an idle one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vqsim.h"
#include "bench.h"

#define QSZ      256
#define MEM_GPA  0x100000ull
#define MEM_SIZE (4ull << 20)
#define RING_GPA MEM_GPA
#define BUF_GPA  (MEM_GPA + 0x100000)

struct side {
	struct vq_mem *mem;
	enum vq_ring_layout layout;
	struct vq_ring_addr addr;
	atomic_bool *stop;
	uint64_t chains;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_ring_mt: %s: %d (%s)\n", what, rc, vq_errname(rc));
	exit(1);
}

static void *device_thread(void *arg)
{
	struct side *s = arg;
	struct vq_ring r;
	struct vq_chain c;
	int rc;

	vq_chain_init(&c);
	if ((rc = vq_ring_init(&r, s->mem, s->layout, QSZ, &s->addr, 0)) < 0)
		die("ring_init", rc);
	while (!atomic_load_explicit(s->stop, memory_order_relaxed)) {
		unsigned n = 0;

		while ((rc = vq_ring_pop(&r, &c)) == 1) {
			if ((rc = vq_ring_push(&r, &c, (uint32_t)c.write_bytes)) < 0)
				die("push", rc);
			n++;
		}
		if (rc < 0)
			die("pop", rc);
		if (n && (rc = vq_ring_publish(&r)) < 0)
			die("publish", rc);
		s->chains += n;
	}
	vq_chain_release(&c);
	return NULL;
}

static void *driver_thread(void *arg)
{
	struct side *s = arg;
	struct vq_ring_drv d;
	struct vq_buf buf = {BUF_GPA, 64, true};
	uint64_t tok;
	uint32_t len;
	unsigned inflight = 0;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = vq_ring_drv_init(&d, s->mem, s->layout, QSZ, &s->addr, 0)) < 0)
		die("drv_init", rc);
	while (!atomic_load_explicit(s->stop, memory_order_relaxed)) {
		while (inflight < QSZ) {
			if ((rc = vq_ring_drv_add(&d, &buf, 1, inflight)) < 0)
				die("drv_add", rc);
			inflight++;
		}
		vq_ring_drv_publish(&d);
		while ((rc = vq_ring_drv_get_used(&d, &tok, &len)) == 1) {
			inflight--;
			s->chains++;
		}
		if (rc < 0)
			die("get_used", rc);
	}
	vq_ring_drv_free(&d);
	return NULL;
}

/* One run of secs seconds: chains per second the driver saw completed. */
static double run(enum vq_ring_layout layout, struct vq_mem *dmem, struct vq_mem *vmem,
		  double secs)
{
	atomic_bool stop = false;
	struct side drv = {.mem = dmem, .layout = layout, .stop = &stop};
	struct side dev = {.mem = vmem, .layout = layout, .stop = &stop};
	pthread_t td, tv;
	uint64_t bytes;
	double t0, t;
	int rc;

	if ((rc = vq_ring_size(layout, QSZ, RING_GPA, &drv.addr, &bytes)) < 0)
		die("ring_size", rc);
	dev.addr = drv.addr;
	vq_mem_fill(dmem, RING_GPA, 0, bytes); /* a fresh ring each run */
	if (pthread_create(&tv, NULL, device_thread, &dev) ||
	    pthread_create(&td, NULL, driver_thread, &drv))
		die("pthread_create", -VQ_E_SYS);
	t0 = bench_now();
	do
		t = bench_now() - t0;
	while (t < secs);
	atomic_store(&stop, true);
	pthread_join(td, NULL);
	pthread_join(tv, NULL);
	t = bench_now() - t0;
	return (double)drv.chains / t;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0, best[2] = {0, 0};
	struct vq_mem *dmem = vq_mem_new(), *vmem = vq_mem_new();
	uint64_t gpa, size;
	const char *name;
	int fd, rc;

	if (!dmem || !vmem || secs <= 0)
		die("setup", -VQ_E_INVAL);
	if ((rc = vq_mem_add_region(dmem, "ram", MEM_GPA, MEM_SIZE)) < 0 ||
	    (rc = vq_mem_region_info(dmem, 0, &gpa, &size, &name, &fd)) < 0 ||
	    (rc = vq_mem_add_region_fd(vmem, "ram", gpa, size, dup(fd), 0)) < 0)
		die("memory", rc);
	printf("queue size %d, 1-descriptor chains, driver and device on two threads\n", QSZ);
	for (int round = 0; round < 3; round++)
		for (int l = 0; l < 2; l++) {
			double r = run(l ? VQ_RING_PACKED : VQ_RING_SPLIT, dmem, vmem, secs);

			if (r > best[l])
				best[l] = r;
		}
	printf("split   %12.0f chains/s\npacked  %12.0f chains/s\npacked / split %.2f\n",
	       best[0], best[1], best[1] / best[0]);
	vq_mem_free(vmem);
	vq_mem_free(dmem);
	return 0;
}
