/* rng_demo.c - a virtio-rng device driven end to end through libvqsim.
 *
 * Builds a machine (64 MiB of RAM, one virtio-rng on virtio-mmio), runs the
 * reference driver's init sequence, reads entropy three times, then plays a
 * broken driver (a chain head out of range) to show DEVICE_NEEDS_RESET and
 * recovery by reset. Prints what happened; --trace prints every event.
 *
 *   usage: rng_demo [--seed N] [--trace]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vqsim.h"

#define RAM_BASE UINT64_C(0x40000000)
#define RAM_SIZE (UINT64_C(64) << 20)
#define RNG_BASE UINT64_C(0x0a000000)
#define RNG_IRQ 16

static void hexline(const char *label, const uint8_t *p, long n)
{
	printf("  %-10s", label);
	for (long i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("  (%ld bytes)\n", n);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "rng_demo: %s: %s (%s)\n", what, vq_strerror(rc), vq_errname(rc));
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	bool trace = false;
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
	char err[200], sbuf[80];
	uint8_t bytes[32];
	const uint64_t want[VQ_FEATURE_WORDS] = {
		(1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX), 0};
	long n;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			/* the library's number syntax: decimal or 0x, never octal */
			if (vq_parse_uint(argv[++i], &seed) < 0) {
				fprintf(stderr, "%s: --seed '%s' is not a number\n", argv[0], argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--trace") == 0) {
			trace = true;
		} else {
			fprintf(stderr, "usage: %s [--seed N] [--trace]\n", argv[0]);
			return 2;
		}
	}

	m = vq_machine_new(seed);
	if (!m)
		return fail("machine", -VQ_E_NOMEM);
	if (trace)
		vq_machine_trace_file(m, stdout, ~0u);
	if ((rc = vq_machine_add_ram(m, RAM_BASE, RAM_SIZE)) < 0)
		return fail("ram", rc);
	dev = vq_machine_add_mmio(m, "rng", NULL, NULL, RNG_BASE, RNG_IRQ, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "rng_demo: %s\n", err);
		return EXIT_FAILURE;
	}
	printf("vqsim rng demo (seed %" PRIu64 ")\n", seed);
	printf("machine: %" PRIu64 " MiB RAM at 0x%" PRIx64 ", %s (%s) on virtio-mmio at 0x%" PRIx64
	       " irq %d\n", RAM_SIZE >> 20, RAM_BASE, dev->name, dev->cls->name, RNG_BASE, RNG_IRQ);

	if ((rc = vq_drv_attach(&drv, m, RNG_BASE, RNG_IRQ, RAM_BASE, RAM_SIZE)) < 0)
		return fail("attach", rc);
	if ((rc = vq_drv_init(&drv, want, 1)) < 0)
		return fail("driver init", rc);
	printf("driver:  device id %" PRIu32 ", features 0x%016" PRIx64 "%016" PRIx64
	       ", status %s, queue 0 size %u\n", drv.device_id, drv.features[1], drv.features[0],
	       vq_dev_status_str(vq_drv_status(&drv), sbuf, sizeof(sbuf)),
	       drv.queues[0].ring.num);

	printf("entropy from the seeded PRNG (same seed, same bytes):\n");
	for (int i = 0; i < 3; i++) {
		char label[16];
		n = vq_drv_rng_read(&drv, bytes, (uint32_t)(8 << i));
		if (n < 0)
			return fail("rng read", (int)n);
		snprintf(label, sizeof(label), "read %d:", i + 1);
		hexline(label, bytes, n);
	}

	/* A broken driver: an avail entry naming descriptor 9999 in a queue of 256. */
	{
		struct vq_ring_drv *r = &drv.queues[0].ring;
		uint16_t idx = r->avail_idx;
		struct vq_mem *mem = vq_machine_mem(m);

		vq_mem_write16(mem, r->addr.driver + 4 + 2u * (idx % r->num), 9999);
		vq_mem_write16(mem, r->addr.driver + 2, (uint16_t)(idx + 1));
		vq_machine_write(m, RNG_BASE + VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
		vq_machine_run(m, 100);
		printf("broken driver: avail entry 9999 in a queue of %u\n", r->num);
		printf("  device:  %s\n", dev->last_error_msg);
		printf("  status:  %s, interrupt status 0x%x\n",
		       vq_dev_status_str(vq_drv_status(&drv), sbuf, sizeof(sbuf)),
		       vq_drv_ack_interrupt(&drv));
	}
	if ((rc = vq_drv_init(&drv, want, 1)) < 0)
		return fail("re-init after reset", rc);
	n = vq_drv_rng_read(&drv, bytes, 16);
	if (n < 0)
		return fail("rng read after reset", (int)n);
	printf("after reset and re-init:\n");
	hexline("read 4:", bytes, n);

	{
		struct vq_machine_stats ms;
		vq_machine_get_stats(m, &ms);
		printf("statistics: %" PRIu64 " register reads, %" PRIu64 " writes, %" PRIu64
		       " notifications, %" PRIu64 " interrupts, %" PRIu64 " chains, %" PRIu64
		       " bytes served, %" PRIu64 " device errors, %" PRIu64 " events\n",
		       ms.reg_reads, ms.reg_writes, ms.notifies, ms.interrupts, dev->stats.chains,
		       vq_rng_bytes_served(dev), dev->stats.errors, ms.events);
	}
	vq_drv_detach(&drv);
	vq_machine_free(m);
	return EXIT_SUCCESS;
}
