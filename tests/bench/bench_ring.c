/* bench_ring.c - chains per second through the split ring, against a
 * baseline run in the same process.
 *
 * One round: the driver adds `batch` chains and publishes (kick decision),
 * the device pops, pushes and publishes them (interrupt decision), the driver
 * reaps them. Twice over: once through the per-chain calls (vq_ring_pop()
 * ...), once through the batch calls (vq_ring_pop_batch() ...: one call per
 * batch and side instead of one per chain; the device still fills each
 * chain's written length). The baseline moves the same bytes through plain pointers into
 * the same kind of memory (16-byte descriptors, avail entries and idx, used
 * elements and idx, each written by one side and read back by the other)
 * with no validation, translation or free list. A compiler barrier between
 * the two sides stands for the fact that the other side is another agent.
 *
 * Figures are a ratio to the baseline, never a pass/fail timing. Build -O2.
 *
 * How it is linked matters for the per-chain calls: against the shared
 * libvqsim every call pays a PLT jump and nothing inlines across the library
 * boundary (about 248 instructions a 1-descriptor chain, ~22% of the
 * baseline's 63); a program linked statically with LTO gets the ring's entry
 * points inlined into its loop (about 207). The batch calls make it matter
 * little: one call per batch and side, each a loop on locals over the ring
 * split where it wraps, translating against the memory's hit region copied
 * once per call and counting the translations once (vq_mem_span_*): about
 * 126 instructions a chain either way at batch 256 (was 157), i.e. 50% of
 * the baseline in instructions and ~40-42% in time (pop ~47, driver add
 * ~26, driver reap ~26, push ~16, this loop ~6). Then 117 (pop ~43 and
 * reap ~22, each stretch's loop in a function of its own so that GCC keeps
 * its state in registers; push ~15) and, mostly, one-entry first segment
 * allocations (vq_chain_grow()): 256 chains' segments had spread over 52 KiB,
 * past L1 with the rest of a round. ~48-58% in time at batch 256 (best of
 * 40 runs 48-54%; the printed best of 3 still drops to the low 40s when the
 * host is busy). Count instructions with
 *   valgrind --tool=callgrind --toggle-collect=run_ring bench_ring 1 256 1000
 * and divide by 256000 (--toggle-collect=run_ring_batch for the batch calls);
 * wall-clock ratios on a shared, noisy host move by several points from run
 * to run.
 *
 * Packed, same shapes (callgrind, 1 descriptor, batch 256; `bench_ring 1 256
 * 1000 packed`): 492 instructions a chain per-chain and 498 batched at
 * first, against split's 263 and 125; 374 and 313 after a first round of
 * fast paths. Then (2026-12-05) each hot path as a leaf with its rare cases
 * as tail calls, the batch loops on locals (pop_stretch(), claim and write
 * loops of the push, drv_add_singles(), reap_run()), and two latency
 * chains broken: the driver's reap moved its cursor by chain_len[id] (two
 * dependent loads a chain on the loop-carried path: now a predicted branch
 * on one-descriptor chains), and 64 consecutive ids shared a word of the
 * in-flight bitmap (each pop's and push's update waited for the previous
 * store to it: the bitmap is now interleaved). 350 per-chain and 215
 * batched (4 descriptors, batch 32: 1003 / 988 against split's 841 / 804;
 * batch 1: 575 / 1155 against 471 / 1000). Packed validates more than
 * split does (an id in flight once, on pop and on push), and it shows in
 * the instruction counts; in time (idle host, best of 3) packed per-chain
 * is 90-95% of split (1/256: 67.8M vs 71.6M chains/s; 4/32 90%; 1/1 91%)
 * and batched 74-89% (1/256: 113M vs 152M). On two threads, where the
 * cache lines crossing between the agents count, packed is ahead:
 * bench_ring_mt packed / split 1.1-2.0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "bench.h"

#define QSZ       256
#define MEM_GPA   0x100000ull
#define MEM_SIZE  (16ull << 20)
#define RING_GPA  MEM_GPA
#define BASE_GPA  (MEM_GPA + 0x100000)   /* the baseline's own ring areas */
#define BUF_GPA   (MEM_GPA + 0x200000)
#define TARGET_S  0.4

static volatile uint64_t sink;

struct bench {
	struct vq_mem *m;
	struct vq_ring r;
	struct vq_ring_drv d;
	struct vq_chain c;
	struct vq_ring_addr addr;
	/* baseline ring areas (host pointers) */
	uint8_t *b_desc, *b_avail, *b_used;
	struct vq_buf bufs[4];
	/* the batched run's arrays */
	struct vq_chain cs[QSZ];
	struct vq_ring_req reqs[QSZ];
	uint32_t written[QSZ];
	uint64_t toks[QSZ];
	uint32_t lens[QSZ];
	unsigned k;      /* descriptors a chain */
	unsigned batch;  /* chains a round */
	enum vq_ring_layout layout; /* the ring under test (the baseline is split-like) */
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_ring: %s: %d (%s)\n", what, rc, vq_errname(rc));
	exit(1);
}

static void ring_fresh(struct bench *b)
{
	uint64_t bytes;
	int rc;

	vq_ring_drv_free(&b->d);
	if ((rc = vq_ring_size(b->layout, QSZ, RING_GPA, &b->addr, &bytes)) < 0)
		die("ring_size", rc);
	if ((rc = vq_ring_drv_init(&b->d, b->m, b->layout, QSZ, &b->addr, 0)) < 0)
		die("drv_init", rc);
	if ((rc = vq_ring_init(&b->r, b->m, b->layout, QSZ, &b->addr, 0)) < 0)
		die("ring_init", rc);
}

/* The full loop through libvqsim. Returns chains completed. */
static uint64_t run_ring(struct bench *b, uint64_t rounds)
{
	uint64_t chains = 0, tok, events = 0;
	uint32_t len;
	int rc;

	for (uint64_t n = 0; n < rounds; n++) {
		for (unsigned i = 0; i < b->batch; i++)
			if ((rc = vq_ring_drv_add(&b->d, b->bufs, b->k, i)) < 0)
				die("drv_add", rc);
		events += (uint64_t)vq_ring_drv_publish(&b->d);
		while ((rc = vq_ring_pop(&b->r, &b->c)) == 1)
			if ((rc = vq_ring_push(&b->r, &b->c, (uint32_t)b->c.write_bytes)) < 0)
				die("push", rc);
		if (rc < 0)
			die("pop", rc);
		if ((rc = vq_ring_publish(&b->r)) < 0)
			die("publish", rc);
		events += (uint64_t)rc;
		while ((rc = vq_ring_drv_get_used(&b->d, &tok, &len)) == 1)
			chains++;
		if (rc < 0)
			die("get_used", rc);
	}
	sink = events;
	return chains;
}

/* The same loop through the batch calls. Returns chains completed. */
static uint64_t run_ring_batch(struct bench *b, uint64_t rounds)
{
	uint64_t chains = 0, events = 0;
	int rc, got;

	for (uint64_t n = 0; n < rounds; n++) {
		for (unsigned i = 0; i < b->batch; i += (unsigned)rc)
			if ((rc = vq_ring_drv_add_batch(&b->d, b->reqs + i, b->batch - i)) <= 0)
				die("drv_add_batch", rc);
		events += (uint64_t)vq_ring_drv_publish(&b->d);
		while ((got = vq_ring_pop_batch(&b->r, b->cs, QSZ)) > 0) {
			for (int i = 0; i < got; i++)
				b->written[i] = (uint32_t)b->cs[i].write_bytes;
			if ((rc = vq_ring_push_batch(&b->r, b->cs, b->written, (unsigned)got)) < 0)
				die("push_batch", rc);
		}
		if (got < 0)
			die("pop_batch", got);
		if ((rc = vq_ring_publish(&b->r)) < 0)
			die("publish", rc);
		events += (uint64_t)rc;
		while ((rc = vq_ring_drv_get_used_batch(&b->d, b->toks, b->lens, QSZ)) > 0)
			chains += (uint64_t)rc;
		if (rc < 0)
			die("get_used_batch", rc);
	}
	sink = events;
	return chains;
}

#define BARRIER() __asm__ volatile("" ::: "memory")

/* The same bytes through plain pointers: no checks, no translation, no
 * free list (chain i of a round uses descriptors i*k .. i*k+k-1). */
static uint64_t run_base(struct bench *b, uint64_t rounds)
{
	struct virtq_desc *desc = (struct virtq_desc *)b->b_desc;
	uint16_t *avail = (uint16_t *)b->b_avail; /* flags, idx, ring[] */
	uint16_t *used_hdr = (uint16_t *)b->b_used;
	struct virtq_used_elem *used = (struct virtq_used_elem *)(b->b_used + 4);
	uint16_t avail_idx = 0, last_avail = 0, used_idx = 0, last_used = 0;
	uint64_t chains = 0, acc = 0;
	const unsigned k = b->k, mask = QSZ - 1;

	for (uint64_t n = 0; n < rounds; n++) {
		/* driver: descriptors, avail entries, idx */
		for (unsigned i = 0; i < b->batch; i++) {
			uint16_t head = (uint16_t)(i * k);
			for (unsigned j = 0; j < k; j++) {
				struct virtq_desc *d = &desc[head + j];
				d->addr = b->bufs[j].gpa;
				d->len = b->bufs[j].len;
				d->flags = (uint16_t)((b->bufs[j].writable ? VIRTQ_DESC_F_WRITE : 0) |
						      (j + 1 < k ? VIRTQ_DESC_F_NEXT : 0));
				d->next = (uint16_t)(head + j + 1);
			}
			avail[2 + (avail_idx & mask)] = head;
			avail_idx++;
		}
		avail[1] = avail_idx;
		BARRIER();
		/* device: read idx, entries, descriptors; write used */
		for (uint16_t idx = avail[1]; last_avail != idx; last_avail++) {
			uint16_t head = avail[2 + (last_avail & mask)], i = head;
			uint32_t wlen = 0;
			for (;;) {
				const struct virtq_desc *d = &desc[i];
				acc += d->addr;
				if (d->flags & VIRTQ_DESC_F_WRITE)
					wlen += d->len;
				if (!(d->flags & VIRTQ_DESC_F_NEXT))
					break;
				i = d->next;
			}
			used[used_idx & mask].id = head;
			used[used_idx & mask].len = wlen;
			used_idx++;
		}
		used_hdr[1] = used_idx;
		BARRIER();
		/* driver: reap */
		for (uint16_t idx = used_hdr[1]; last_used != idx; last_used++) {
			acc += used[last_used & mask].id + used[last_used & mask].len;
			chains++;
		}
		BARRIER();
	}
	sink = acc;
	return chains;
}

typedef uint64_t (*run_fn)(struct bench *, uint64_t);

/* Rounds of fn that take about TARGET_S. */
static uint64_t calibrate(struct bench *b, run_fn fn)
{
	uint64_t rounds = 16;
	double t;

	for (;;) {
		t = bench_now();
		fn(b, rounds);
		t = bench_now() - t;
		if (t > 0.05)
			return (uint64_t)((double)rounds * TARGET_S / t) + 1;
		rounds *= 2;
	}
}

/* Chains/s of fn: one timed run of rounds rounds. */
static double rate(struct bench *b, run_fn fn, uint64_t rounds)
{
	double t = bench_now();
	uint64_t chains = fn(b, rounds);

	return (double)chains / (bench_now() - t);
}

/* Best of 3 for the ring (per chain and batched) and for the baseline,
 * runs interleaved so that noise from the host hits all alike. */
static void measure(struct bench *b, double *ring, double *batched, double *base)
{
	uint64_t ring_rounds = calibrate(b, run_ring), batch_rounds = calibrate(b, run_ring_batch),
		 base_rounds = calibrate(b, run_base);

	*ring = *batched = *base = 0;
	for (int i = 0; i < 3; i++) {
		double r = rate(b, run_ring, ring_rounds), t = rate(b, run_ring_batch, batch_rounds),
		       s = rate(b, run_base, base_rounds);
		if (r > *ring)
			*ring = r;
		if (t > *batched)
			*batched = t;
		if (s > *base)
			*base = s;
	}
}

/* bench_ring [descs batch [rounds [split|packed]]]: all cases, or just one
 * shape (both layouts, or the one named); with rounds, run exactly that many
 * rounds of the ring loop, the batched ring loop and the baseline, untimed
 * (for instruction counts: valgrind --tool=callgrind
 * --toggle-collect=run_ring or run_ring_batch, divided by rounds * batch). */
int main(int argc, char **argv)
{
	static const unsigned ks[] = {1, 4};
	static const unsigned batches[] = {1, 32, 256};
	struct bench b;
	int rc;

	memset(&b, 0, sizeof(b));
	vq_chain_init(&b.c);
	for (unsigned i = 0; i < QSZ; i++)
		vq_chain_init(&b.cs[i]);
	b.m = vq_mem_new();
	if (!b.m)
		die("mem_new", -VQ_E_NOMEM);
	if ((rc = vq_mem_add_region(b.m, "ram", MEM_GPA, MEM_SIZE)) < 0)
		die("add_region", rc);
	b.b_desc = vq_mem_translate(b.m, BASE_GPA, 0x10000, VQ_ACC_RW, NULL);
	b.b_avail = b.b_desc + 16 * QSZ;
	b.b_used = b.b_avail + 0x1000;
	if (!b.b_desc)
		die("translate", -VQ_E_INVAL);

	printf("queue size %u: driver add+publish, device pop+push+publish, driver get_used; "
	       "split and packed rings, same shapes, same baseline\n", QSZ);
	printf("%-7s %-6s %-10s %14s %14s %14s %9s %9s\n", "ring", "descs", "batch", "per-chain/s",
	       "batched/s", "baseline/s", "per-chain", "batched");
	for (unsigned li = 0; li < 2; li++)
	for (unsigned ki = 0; ki < 2; ki++) {
		b.layout = li ? VQ_RING_PACKED : VQ_RING_SPLIT;
		b.k = ks[ki];
		if (b.k == 1) {
			b.bufs[0] = (struct vq_buf){BUF_GPA, 2048, true};
		} else {
			b.bufs[0] = (struct vq_buf){BUF_GPA, 16, false};
			b.bufs[1] = (struct vq_buf){BUF_GPA + 0x1000, 512, false};
			b.bufs[2] = (struct vq_buf){BUF_GPA + 0x2000, 512, true};
			b.bufs[3] = (struct vq_buf){BUF_GPA + 0x3000, 1, true};
		}
		for (unsigned i = 0; i < QSZ; i++)
			b.reqs[i] = (struct vq_ring_req){b.bufs, b.k, i};
		for (unsigned bi = 0; bi < 3; bi++) {
			char label[32];
			double ring, batched, base;

			if (argc >= 3 && (b.k != (unsigned)atoi(argv[1]) ||
					  batches[bi] != (unsigned)atoi(argv[2])))
				continue;
			if (argc >= 5 && strcmp(argv[4], li ? "packed" : "split") != 0)
				continue;

			/* a batch cannot hold more chains than there are descriptors */
			b.batch = batches[bi] * b.k > QSZ ? QSZ / b.k : batches[bi];
			if (b.batch != batches[bi])
				snprintf(label, sizeof(label), "%u(%u)", batches[bi], b.batch);
			else
				snprintf(label, sizeof(label), "%u", b.batch);
			ring_fresh(&b);
			if (argc >= 4) {
				uint64_t rounds = strtoull(argv[3], NULL, 0);
				printf("%-7s %-6u %-10s %llu chains through the ring, %llu batched, "
				       "%llu baseline\n", li ? "packed" : "split", b.k, label,
				       (unsigned long long)run_ring(&b, rounds),
				       (unsigned long long)run_ring_batch(&b, rounds),
				       (unsigned long long)run_base(&b, rounds));
				continue;
			}
			measure(&b, &ring, &batched, &base);
			printf("%-7s %-6u %-10s %14.0f %14.0f %14.0f %8.1f%% %8.1f%%\n",
			       li ? "packed" : "split", b.k, label, ring, batched, base, 100.0 * ring / base, 100.0 * batched / base);
			fflush(stdout);
		}
	}
	vq_chain_release(&b.c);
	for (unsigned i = 0; i < QSZ; i++)
		vq_chain_release(&b.cs[i]);
	vq_ring_drv_free(&b.d);
	vq_mem_free(b.m);
	return 0;
}
