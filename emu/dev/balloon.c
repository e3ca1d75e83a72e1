/* balloon.c - virtio-balloon, the traditional memory balloon (spec 5.5).
 *
 * inflateq / deflateq carry arrays of 32-bit PFNs (4 KiB pages). Inflated
 * pages are punched out of guest memory (vq_mem_punch: the host gets them
 * back, they read as zeroes); the set of pages in the balloon is a bitmap
 * per RAM region, so its size is bounded by guest memory. A PFN outside
 * guest memory is refused and counted; the other PFNs of the same buffer
 * still apply. An inflate/deflate buffer whose length is not a multiple of
 * 4 has no defined meaning (spec 5.5.6 describes a 32-bit array and states
 * no device requirement): the whole PFNs are applied, the trailing bytes
 * are ignored and counted in bad_length. The device writes nothing to
 * these buffers, so they are used with length 0.
 *
 * Queue indices follow the negotiated features (spec 5.5.2): an absent
 * queue takes no index. Queues past the negotiated count are hidden after
 * FEATURES_OK (QueueNumMax reads 0), and come back at reset.
 *
 * statsq (5.5.6.3): the device keeps the buffer the guest sent, parses its
 * 10-byte entries at once, and returns it only when the host asks for new
 * statistics (vq_balloon_request_stats). A buffer whose length is not a
 * multiple of 10 is held like any other, but its entries are ignored.
 *
 * free_page_vq (5.5.6.4): hints are counted, never acted on: the device
 * may only discard a hinted page the guest has not written since the
 * command id was issued, and it cannot tell, so it keeps the data.
 *
 * reporting_vq (5.5.6.6): each buffer of a report is a free range; it is
 * punched if device-writable, page-aligned and inside RAM, refused and
 * counted otherwise. A device-readable range is the driver's mistake
 * (Linux adds reports as inbufs) and the device may not write it (2.7.4):
 * it is left untouched, as QEMU does, rather than failing the device; the
 * queue, the balloon and the rest of the report go on.
 * With PAGE_POISON negotiated the device must not change a reported page
 * to anything but poison_val (5.5.6.6.2): a zero poison_val is what a
 * punched page reads back as, so those ranges are still discarded; with a
 * non-zero poison_val they are acknowledged but kept (report_kept_pages).
 * Inflated pages may be discarded whatever the poison value: the driver
 * rewrites poison_val into pages it deflates (5.5.6.5.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"

#define BAL_QUEUE_MAX_DEFAULT 256
#define BAL_PFN_BATCH 256          /* PFNs read from a chain at a time */
#define BAL_STATS_MAX_ENTRIES 1024 /* entries parsed from one stats buffer */
/* PFNs are 32-bit: pages at or above 2^44 cannot be named. */
#define BAL_PFN_LIMIT (1ull << 32)

/* Pages of one RAM region, one bit each: set = in the balloon. */
struct bal_region {
	uint64_t gpa;
	uint64_t pages;     /* pages tracked (those a 32-bit PFN can name) */
	uint64_t *bits;     /* NULL if pages == 0 */
};

struct balloon {
	uint16_t qmax;
	int qidx[VQ_BALLOON_Q__COUNT];  /* negotiated index per role, -1 absent */
	/* the values behind config space; d->config holds their bytes */
	uint32_t num_pages, actual, cmd_id, poison;
	/* free page hinting */
	uint32_t next_cmd_id;      /* next id to hand out (>= 2) */
	uint32_t drv_cmd_id;       /* last command id the driver sent */
	/* statsq */
	bool stats_held;
	struct vq_chain stats_chain;   /* the buffer held for the next request */
	struct vq_balloon_stats stats;
	/* pages in the balloon */
	struct bal_region regions[VQ_MEM_MAX_REGIONS];
	unsigned nregions;
	bool regions_valid;
	uint64_t mem_gen;
	struct vq_balloon_counters cnt;
	struct vq_chain chain;     /* reused for every other queue */
	uint8_t config[VIRTIO_BALLOON_CFG_SIZE];
};

static const struct vq_dev_class balloon_class;

static struct balloon *bal_of(const struct vq_dev *d)
{
	return d && d->cls == &balloon_class ? d->priv : NULL;
}

/* ---- config space ---- */

static void config_store(struct balloon *b)
{
	vq_put_le32(b->config + VIRTIO_BALLOON_CFG_NUM_PAGES, b->num_pages);
	vq_put_le32(b->config + VIRTIO_BALLOON_CFG_ACTUAL, b->actual);
	vq_put_le32(b->config + VIRTIO_BALLOON_CFG_CMD_ID, b->cmd_id);
	vq_put_le32(b->config + VIRTIO_BALLOON_CFG_POISON_VAL, b->poison);
}

static bool overlaps(uint32_t off, uint32_t len, uint32_t field)
{
	return off < field + 4 && field < off + len;
}

/* The bytes are already in d->config: take what the driver may write
 * (actual; poison_val before DRIVER_OK) and undo the rest. */
static void balloon_config_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	struct balloon *b = d->priv;
	bool refused = false;

	if (overlaps(off, len, VIRTIO_BALLOON_CFG_NUM_PAGES) ||
	    overlaps(off, len, VIRTIO_BALLOON_CFG_CMD_ID))
		refused = true; /* host-owned fields */
	if (overlaps(off, len, VIRTIO_BALLOON_CFG_ACTUAL)) {
		b->actual = vq_get_le32(b->config + VIRTIO_BALLOON_CFG_ACTUAL);
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "balloon actual=%u", b->actual);
	}
	if (overlaps(off, len, VIRTIO_BALLOON_CFG_POISON_VAL)) {
		/* spec 5.5.6.5.1: not modified while DRIVER_OK is set */
		if (d->status & VIRTIO_STATUS_DRIVER_OK)
			refused = true;
		else
			b->poison = vq_get_le32(b->config + VIRTIO_BALLOON_CFG_POISON_VAL);
	}
	if (refused) {
		b->cnt.config_refused++;
		vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
			 "balloon: config write of %u bytes at 0x%x to a field the driver may "
			 "not write now: undone", len, off);
	}
	config_store(b);
}

/* ---- the pages in the balloon ---- */

static void regions_free(struct balloon *b)
{
	for (unsigned i = 0; i < b->nregions; i++)
		free(b->regions[i].bits);
	b->nregions = 0;
	b->regions_valid = false;
}

static uint64_t popcount_bits(const struct bal_region *r)
{
	uint64_t n = 0;

	for (uint64_t w = 0; r->bits && w < (r->pages + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(r->bits[w]);
	return n;
}

/* Follow guest memory's region list: keep the bitmap of a region that is
 * still there, start an empty one for a new region. Bounded by RAM size. */
static void regions_sync(struct vq_dev *d, struct balloon *b)
{
	struct bal_region fresh[VQ_MEM_MAX_REGIONS];
	unsigned n = vq_mem_region_count(d->mem), k = 0;
	uint64_t gen = vq_mem_generation(d->mem);

	if (b->regions_valid && gen == b->mem_gen)
		return;
	if (n > VQ_MEM_MAX_REGIONS)
		n = VQ_MEM_MAX_REGIONS;
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa, size, first, pages;
		struct bal_region *r = &fresh[k];

		if (vq_mem_region_info(d->mem, i, &gpa, &size, NULL, NULL) < 0)
			continue;
		first = gpa >> VIRTIO_BALLOON_PFN_SHIFT;
		pages = size >> VIRTIO_BALLOON_PFN_SHIFT;
		if (first >= BAL_PFN_LIMIT)
			pages = 0;
		else if (pages > BAL_PFN_LIMIT - first)
			pages = BAL_PFN_LIMIT - first;
		r->gpa = gpa;
		r->pages = pages;
		r->bits = NULL;
		for (unsigned j = 0; j < b->nregions; j++) {
			struct bal_region *o = &b->regions[j];
			if (o->bits && o->gpa == gpa && o->pages == pages) {
				r->bits = o->bits;
				o->bits = NULL;
			}
		}
		if (!r->bits && pages) {
			r->bits = calloc((size_t)((pages + 63) / 64), sizeof(uint64_t));
			if (!r->bits)
				r->pages = 0; /* untracked: its PFNs are refused */
		}
		k++;
	}
	regions_free(b);
	memcpy(b->regions, fresh, k * sizeof(fresh[0]));
	b->nregions = k;
	b->cnt.balloon_pages = 0;
	for (unsigned i = 0; i < k; i++)
		b->cnt.balloon_pages += popcount_bits(&b->regions[i]);
	b->regions_valid = true;
	b->mem_gen = gen;
}

/* Region holding pfn, with its page index in *idx; NULL outside RAM. */
static struct bal_region *region_of(struct balloon *b, uint32_t pfn, uint64_t *idx)
{
	uint64_t gpa = (uint64_t)pfn << VIRTIO_BALLOON_PFN_SHIFT;

	for (unsigned i = 0; i < b->nregions; i++) {
		struct bal_region *r = &b->regions[i];
		if (gpa >= r->gpa && (gpa - r->gpa) >> VIRTIO_BALLOON_PFN_SHIFT < r->pages) {
			*idx = (gpa - r->gpa) >> VIRTIO_BALLOON_PFN_SHIFT;
			return r;
		}
	}
	return NULL;
}

static bool bit_test(const struct bal_region *r, uint64_t i)
{
	return (r->bits[i / 64] >> (i % 64)) & 1;
}

static void bit_set(struct bal_region *r, uint64_t i, bool on)
{
	if (on)
		r->bits[i / 64] |= 1ull << (i % 64);
	else
		r->bits[i / 64] &= ~(1ull << (i % 64));
}

/* ---- inflate / deflate ---- */

/* Contiguous pages waiting to be punched with one call. */
struct punch_run {
	uint64_t gpa, len;
};

static void run_flush(struct vq_dev *d, struct balloon *b, struct punch_run *run)
{
	int rc;

	if (!run->len)
		return;
	rc = vq_mem_punch(d->mem, run->gpa, run->len);
	if (rc < 0) {
		b->cnt.punch_errors += run->len >> VIRTIO_BALLOON_PFN_SHIFT;
		vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
			 "balloon: punch of 0x%llx+0x%llx failed: %s",
			 (unsigned long long)run->gpa, (unsigned long long)run->len,
			 vq_strerror(rc));
	}
	run->len = 0;
}

/* Queue the page at gpa (in region r) for punching, merging it with the
 * run when it directly follows it: a run that starts inside r and ends at
 * gpa lies wholly in r, as one punch must. A page already in the run (a
 * PFN repeated) adds nothing: one punch covers it. */
static void run_add(struct vq_dev *d, struct balloon *b, struct punch_run *run,
		    const struct bal_region *r, uint64_t gpa)
{
	if (run->len && gpa >= run->gpa && gpa - run->gpa < run->len)
		return;
	if (run->len && run->gpa + run->len == gpa && run->gpa >= r->gpa) {
		run->len += VQ_PAGE_SIZE;
	} else {
		run_flush(d, b, run);
		run->gpa = gpa;
		run->len = VQ_PAGE_SIZE;
	}
}

/* Apply one PFN; returns false if it was refused. */
static bool pfn_apply(struct vq_dev *d, struct balloon *b, bool inflate, uint32_t pfn,
		      struct punch_run *run)
{
	uint64_t gpa = (uint64_t)pfn << VIRTIO_BALLOON_PFN_SHIFT, i;
	struct bal_region *r = region_of(b, pfn, &i);

	/* the page must be RAM the device may write (no injected fault) */
	if (!r || (inflate && !vq_mem_translate(d->mem, gpa, VQ_PAGE_SIZE, VQ_ACC_WRITE, NULL))) {
		b->cnt.refused++;
		vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
			 "balloon: %s PFN 0x%x (gpa 0x%llx) is outside guest memory: refused",
			 inflate ? "inflate" : "deflate", pfn, (unsigned long long)gpa);
		return false;
	}
	if (inflate) {
		if (bit_test(r, i)) {
			b->cnt.inflate_repeat++;
		} else {
			bit_set(r, i, true);
			b->cnt.balloon_pages++;
		}
		b->cnt.inflated++;
		run_add(d, b, run, r, gpa);
	} else if (bit_test(r, i)) {
		bit_set(r, i, false);
		b->cnt.balloon_pages--;
		b->cnt.deflated++;
	} else {
		b->cnt.deflate_unknown++;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1,
			 "balloon: deflate of PFN 0x%x, not in the balloon: ignored", pfn);
	}
	return true;
}

/* Pages of guest RAM a PFN can name (the bitmaps' size). */
static uint64_t ram_pages(const struct balloon *b)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < b->nregions; i++)
		n += b->regions[i].pages;
	return n;
}

/* Apply the PFN arrays of every chain on q. The work of one notification
 * is bounded by what a guest can mean, not by how many bytes its buffers
 * claim (a chain may alias one page up to 4 GiB): each buffer may apply
 * BAL_PFN_BATCH PFNs (Linux sends at most 256 a buffer), and beyond that
 * they draw on a budget of one PFN per RAM page for the whole notification
 * (more would name some page twice). PFNs past the budget are ignored and
 * counted in pfns_cut; each applied PFN costs a bit operation, and punches
 * merge adjacent and repeated pages. */
static void do_pfns(struct vq_dev *d, struct balloon *b, unsigned q, bool inflate)
{
	struct vq_chain *c = &b->chain;
	uint32_t pfns[BAL_PFN_BATCH];
	uint64_t budget;
	int rc;

	regions_sync(d, b);
	budget = ram_pages(b);
	while ((rc = vq_dev_pop(d, q, c)) == 1) {
		uint64_t total = c->read_bytes / 4, done = 0, refused = 0, take;
		struct punch_run run = {0, 0};

		if (c->read_bytes % 4) {
			b->cnt.bad_length++;
			vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
				 "balloon: %s buffer of %llu bytes is not a whole number of "
				 "32-bit PFNs: %llu trailing bytes ignored",
				 inflate ? "inflate" : "deflate",
				 (unsigned long long)c->read_bytes,
				 (unsigned long long)(c->read_bytes % 4));
		}
		budget += BAL_PFN_BATCH;
		take = total < budget ? total : budget;
		budget -= take;
		if (take < total) {
			b->cnt.pfns_cut += total - take;
			vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
				 "balloon: %s buffer head=%u of %llu PFNs: only %llu applied, the "
				 "rest is more than guest RAM has pages",
				 inflate ? "inflate" : "deflate", c->head,
				 (unsigned long long)total, (unsigned long long)take);
		}
		while (done < take) {
			size_t n = take - done < BAL_PFN_BATCH ? (size_t)(take - done)
							       : BAL_PFN_BATCH;
			size_t got = vq_chain_read(c, done * 4, pfns, n * 4) / 4;

			for (size_t k = 0; k < got; k++)
				if (!pfn_apply(d, b, inflate, VQ_LE32(pfns[k]), &run))
					refused++;
			done += got;
			if (got < n)
				break; /* cannot happen: read_bytes said so */
		}
		run_flush(d, b, &run);
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "balloon %s head=%u pfns=%llu refused=%llu in-balloon=%llu",
			 inflate ? "inflate" : "deflate", c->head, (unsigned long long)done,
			 (unsigned long long)refused, (unsigned long long)b->cnt.balloon_pages);
		if (vq_dev_push(d, q, c, 0) == -VQ_E_RING_BROKEN)
			return;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

/* ---- free page reporting ---- */

static void do_reporting(struct vq_dev *d, struct balloon *b, unsigned q)
{
	bool keep = vq_dev_has_feature(d, VIRTIO_BALLOON_F_PAGE_POISON) && b->poison != 0;
	struct vq_chain *c = &b->chain;
	const struct vq_seg *s;
	struct vq_chain_iter it;
	int rc;

	while ((rc = vq_dev_pop(d, q, c)) == 1) {
		for (vq_chain_iter_init(&it, c); vq_chain_next(&it, &s);) {
			uint64_t pages = s->len >> VIRTIO_BALLOON_PFN_SHIFT;
			int prc = 0;

			if (!s->writable) {
				/* reported ranges are device-writable buffers; the
				 * device must not write a readable one (2.7.4) */
				b->cnt.report_refused++;
				vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
					 "balloon: reported range 0x%llx+0x%x refused: "
					 "device-readable, left untouched",
					 (unsigned long long)s->gpa, s->len);
				continue;
			}
			if ((s->gpa | s->len) & (VQ_PAGE_SIZE - 1))
				prc = -VQ_E_INVAL;
			else if (!vq_mem_translate(d->mem, s->gpa, s->len, VQ_ACC_WRITE, NULL))
				prc = -VQ_E_MEM_UNMAPPED;
			else if (!keep)
				prc = vq_mem_punch(d->mem, s->gpa, s->len);
			if (prc < 0) {
				b->cnt.report_refused++;
				vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
					 "balloon: reported range 0x%llx+0x%x refused: %s",
					 (unsigned long long)s->gpa, s->len,
					 prc == -VQ_E_INVAL ? "not page-aligned" : vq_strerror(prc));
			} else if (keep) {
				b->cnt.report_kept_pages += pages;
			} else {
				b->cnt.reported_pages += pages;
			}
		}
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "balloon report head=%u ranges=%u%s", c->head, c->nseg,
			 keep ? " (kept: poison value)" : "");
		if (vq_dev_push(d, q, c, 0) == -VQ_E_RING_BROKEN)
			return;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

/* ---- free page hinting ---- */

static void do_hints(struct vq_dev *d, struct balloon *b, unsigned q)
{
	struct vq_chain *c = &b->chain;
	const struct vq_seg *s;
	struct vq_chain_iter it;
	int rc;

	while ((rc = vq_dev_pop(d, q, c)) == 1) {
		if (c->read_bytes == 4) {
			uint8_t raw[4];
			vq_chain_read(c, 0, raw, 4);
			b->drv_cmd_id = vq_get_le32(raw);
			vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
				 "balloon hint: driver sent command id %u (current %u)",
				 b->drv_cmd_id, b->cmd_id);
			/* the driver gave up this round: as QEMU does, show STOP */
			if (b->drv_cmd_id == VIRTIO_BALLOON_CMD_ID_STOP &&
			    b->cmd_id >= 2) {
				b->cmd_id = VIRTIO_BALLOON_CMD_ID_STOP;
				config_store(b);
				vq_dev_config_changed(d);
			}
		} else if (c->read_bytes) {
			b->cnt.hint_errors++;
			vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
				 "balloon hint: command buffer of %llu bytes, must be 4: ignored",
				 (unsigned long long)c->read_bytes);
		}
		for (vq_chain_iter_init(&it, c); vq_chain_next(&it, &s);) {
			uint64_t pages = s->len >> VIRTIO_BALLOON_PFN_SHIFT;
			if (!s->writable)
				continue;
			/* spec 5.5.6.4.2: pages under another id are ignored */
			if (b->cmd_id >= 2 && b->drv_cmd_id == b->cmd_id)
				b->cnt.hinted_pages += pages;
			else
				b->cnt.hint_ignored += pages;
		}
		if (vq_dev_push(d, q, c, 0) == -VQ_E_RING_BROKEN)
			return;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

/* ---- statistics ---- */

static void stats_parse(struct vq_dev *d, struct balloon *b, const struct vq_chain *c)
{
	uint64_t entries = c->read_bytes / VIRTIO_BALLOON_STAT_SIZE;
	struct vq_balloon_stats st;

	b->cnt.stats_buffers++;
	if (c->read_bytes % VIRTIO_BALLOON_STAT_SIZE) {
		b->cnt.stats_errors++;
		vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
			 "balloon: stats buffer of %llu bytes is not a whole number of "
			 "10-byte entries: ignored", (unsigned long long)c->read_bytes);
		return;
	}
	if (entries > BAL_STATS_MAX_ENTRIES) {
		b->cnt.stats_errors++;
		vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
			 "balloon: stats buffer of %llu entries, at most %u parsed",
			 (unsigned long long)entries, BAL_STATS_MAX_ENTRIES);
		entries = BAL_STATS_MAX_ENTRIES;
	}
	memset(&st, 0, sizeof(st));
	st.updates = b->stats.updates + 1;
	for (uint64_t i = 0; i < entries; i++) {
		uint8_t e[VIRTIO_BALLOON_STAT_SIZE];
		uint16_t tag;
		uint64_t val = 0;

		if (vq_chain_read(c, i * VIRTIO_BALLOON_STAT_SIZE, e, sizeof(e)) != sizeof(e))
			break;
		tag = (uint16_t)(e[0] | e[1] << 8);
		for (int k = 7; k >= 0; k--)
			val = val << 8 | e[2 + k];
		/* spec 5.5.6.3.2: unknown tags are ignored */
		if (tag >= VIRTIO_BALLOON_S_NR) {
			b->cnt.stats_unknown++;
			continue;
		}
		st.val[tag] = val;
		st.present |= 1u << tag;
	}
	b->stats = st;
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1,
		 "balloon stats: %llu entries, tags 0x%x", (unsigned long long)entries,
		 st.present);
}

static void do_stats(struct vq_dev *d, struct balloon *b, unsigned q)
{
	int rc;

	while ((rc = vq_dev_pop(d, q, &b->chain)) == 1) {
		struct vq_chain tmp;

		stats_parse(d, b, &b->chain);
		if (b->stats_held) {
			/* spec 5.5.6.3.1 allows one buffer at a time: keep the newest
			 * and give the older one back */
			b->cnt.stats_extra++;
			vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
				 "balloon: second stats buffer while head %u is held: "
				 "the older one is returned", b->stats_chain.head);
			if (vq_dev_push(d, q, &b->stats_chain, 0) == -VQ_E_RING_BROKEN)
				return;
		}
		/* the popped chain becomes the held one: swap storage */
		tmp = b->stats_chain;
		b->stats_chain = b->chain;
		b->chain = tmp;
		b->stats_held = true;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

/* ---- class hooks ---- */

static int role_of(const struct balloon *b, unsigned q)
{
	for (int r = 0; r < VQ_BALLOON_Q__COUNT; r++)
		if (b->qidx[r] == (int)q)
			return r;
	return -1;
}

static void balloon_queue_notify(struct vq_dev *d, unsigned q)
{
	struct balloon *b = d->priv;

	switch (role_of(b, q)) {
	case VQ_BALLOON_Q_INFLATE:
		do_pfns(d, b, q, true);
		break;
	case VQ_BALLOON_Q_DEFLATE:
		do_pfns(d, b, q, false);
		break;
	case VQ_BALLOON_Q_STATS:
		do_stats(d, b, q);
		break;
	case VQ_BALLOON_Q_FREE_PAGE:
		do_hints(d, b, q);
		break;
	case VQ_BALLOON_Q_REPORTING:
		do_reporting(d, b, q);
		break;
	default:
		/* hidden queues cannot be enabled, so this is not reached */
		vq_dev_fail_queue(d, q, -VQ_E_INVAL);
		break;
	}
}

/* Number queues by the negotiated features and hide the ones past the end. */
int vq_balloon_queue_layout(uint64_t features, int qidx[VQ_BALLOON_Q__COUNT])
{
	static const struct {
		int role;
		unsigned bit;
	} optional[] = {
		{VQ_BALLOON_Q_STATS, VIRTIO_BALLOON_F_STATS_VQ},
		{VQ_BALLOON_Q_FREE_PAGE, VIRTIO_BALLOON_F_FREE_PAGE_HINT},
		{VQ_BALLOON_Q_REPORTING, VIRTIO_BALLOON_F_PAGE_REPORTING},
	};
	int n = 2;

	qidx[VQ_BALLOON_Q_INFLATE] = 0;
	qidx[VQ_BALLOON_Q_DEFLATE] = 1;
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		qidx[optional[i].role] = (features >> optional[i].bit) & 1 ? n++ : -1;
	return n;
}

/* Number queues by the negotiated features and hide the ones past the end. */
static int balloon_validate_features(struct vq_dev *d, const uint64_t *features)
{
	struct balloon *b = d->priv;

	vq_dev_limit_queues(d, (unsigned)vq_balloon_queue_layout(features[0], b->qidx));
	return 0;
}

static void balloon_reset(struct vq_dev *d)
{
	struct balloon *b = d->priv;

	for (int r = 0; r < VQ_BALLOON_Q__COUNT; r++)
		b->qidx[r] = -1;
	/* a new driver starts with an empty balloon (the pages stay punched,
	 * reading as zeroes); the host's target survives */
	for (unsigned i = 0; i < b->nregions; i++)
		if (b->regions[i].bits)
			memset(b->regions[i].bits, 0,
			       (size_t)((b->regions[i].pages + 63) / 64) * sizeof(uint64_t));
	b->cnt.balloon_pages = 0;
	b->actual = 0;
	b->poison = 0;
	b->cmd_id = VIRTIO_BALLOON_CMD_ID_STOP;
	b->drv_cmd_id = VIRTIO_BALLOON_CMD_ID_STOP;
	b->stats_held = false;
	config_store(b);
}

/* QueueReady=0 or a queue reset of the stats queue: the held stats buffer
 * is forgotten, not returned (spec 4.2.2.1, 2.6.1). */
static void balloon_queue_stop(struct vq_dev *d, unsigned q)
{
	struct balloon *b = d->priv;

	if (!b->stats_held || b->qidx[VQ_BALLOON_Q_STATS] != (int)q)
		return;
	b->stats_held = false;
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
		 "queue stopped: held stats buffer head=%u dropped", b->stats_chain.head);
}

static void balloon_destroy(struct vq_dev *d)
{
	struct balloon *b = d->priv;

	if (!b)
		return;
	regions_free(b);
	vq_chain_release(&b->chain);
	vq_chain_release(&b->stats_chain);
	free(b);
	d->priv = NULL;
	d->config = NULL;
	d->config_len = 0;
}

static const struct vq_dev_class balloon_class = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.validate_features = balloon_validate_features,
	.queue_notify = balloon_queue_notify,
	.queue_stop = balloon_queue_stop,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.destroy = balloon_destroy,
};

/* ---- creation ---- */

static int balloon_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
			  const char *name, struct vq_opts *opts, char *err, size_t errlen)
{
	static const char *const allowed[] = {"pages", "stats", "deflate-on-oom", "reporting",
					      "free-page-hint", "page-poison",
					      "must-tell-host", "queue-size", NULL};
	static const struct {
		const char *key;
		unsigned bit;
		bool def;
	} flags[] = {
		{"must-tell-host", VIRTIO_BALLOON_F_MUST_TELL_HOST, true},
		{"stats", VIRTIO_BALLOON_F_STATS_VQ, true},
		{"deflate-on-oom", VIRTIO_BALLOON_F_DEFLATE_ON_OOM, false},
		{"free-page-hint", VIRTIO_BALLOON_F_FREE_PAGE_HINT, false},
		{"page-poison", VIRTIO_BALLOON_F_PAGE_POISON, false},
		{"reporting", VIRTIO_BALLOON_F_PAGE_REPORTING, false},
	};
	uint64_t features = (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX);
	uint64_t qmax = BAL_QUEUE_MAX_DEFAULT, pages = 0;
	unsigned nq = 2;
	struct balloon *b;
	int rc;

	if ((rc = vq_opts_check(opts, allowed, err, errlen)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		bool on = flags[i].def;
		if ((rc = vq_opts_bool(opts, flags[i].key, &on, err, errlen)) < 0)
			return rc;
		if (on) {
			features |= 1ull << flags[i].bit;
			if (flags[i].bit == VIRTIO_BALLOON_F_STATS_VQ ||
			    flags[i].bit == VIRTIO_BALLOON_F_FREE_PAGE_HINT ||
			    flags[i].bit == VIRTIO_BALLOON_F_PAGE_REPORTING)
				nq++;
		}
	}
	if ((rc = vq_opts_uint(opts, "pages", 0, UINT32_MAX, &pages, err, errlen)) < 0 ||
	    (rc = vq_opts_pow2(opts, "queue-size", 1, VIRTQ_MAX_SIZE, &qmax, err, errlen)) < 0)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "balloon: out of memory");
		return -VQ_E_NOMEM;
	}
	rc = vq_dev_init(d, &balloon_class, name, mem, nq, (uint16_t)qmax, features, 0);
	if (rc < 0) {
		snprintf(err, errlen, "balloon: %s", vq_strerror(rc));
		free(b);
		return rc;
	}
	b->qmax = (uint16_t)qmax;
	b->num_pages = (uint32_t)pages;
	b->next_cmd_id = 2;
	vq_chain_init(&b->chain);
	vq_chain_init(&b->stats_chain);
	d->priv = b;
	d->prng = prng;
	d->config = b->config;
	d->config_len = VIRTIO_BALLOON_CFG_SIZE;
	balloon_reset(d);
	return 0;
}

/* ---- host API ---- */

int vq_balloon_set_target(struct vq_dev *d, uint32_t pages)
{
	struct balloon *b = bal_of(d);

	if (!b)
		return -VQ_E_INVAL;
	b->num_pages = pages;
	config_store(b);
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "balloon target num_pages=%u", pages);
	vq_dev_config_changed(d);
	return 0;
}

uint32_t vq_balloon_target(const struct vq_dev *d)
{
	const struct balloon *b = bal_of(d);
	return b ? b->num_pages : 0;
}

uint32_t vq_balloon_actual(const struct vq_dev *d)
{
	const struct balloon *b = bal_of(d);
	return b ? b->actual : 0;
}

uint32_t vq_balloon_poison(const struct vq_dev *d)
{
	const struct balloon *b = bal_of(d);
	return b ? b->poison : 0;
}

int vq_balloon_stats(const struct vq_dev *d, struct vq_balloon_stats *out)
{
	const struct balloon *b = bal_of(d);

	if (!b || !out)
		return -VQ_E_INVAL;
	*out = b->stats;
	return 0;
}

int vq_balloon_request_stats(struct vq_dev *d)
{
	struct balloon *b = bal_of(d);
	int q, rc;

	if (!b)
		return -VQ_E_INVAL;
	q = b->qidx[VQ_BALLOON_Q_STATS];
	if (q < 0 || !(d->status & VIRTIO_STATUS_DRIVER_OK))
		return -VQ_E_STATE;
	if (!b->stats_held)
		return -VQ_E_NOT_READY;
	b->stats_held = false;
	rc = vq_dev_push(d, (unsigned)q, &b->stats_chain, 0);
	if (rc < 0 && rc != -VQ_E_RING_USED_LEN)
		return rc;
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, q, "balloon: stats requested, head %u returned",
		 b->stats_chain.head);
	rc = vq_dev_publish(d, (unsigned)q);
	return rc < 0 ? rc : 0;
}

int vq_balloon_counters(const struct vq_dev *d, struct vq_balloon_counters *out)
{
	const struct balloon *b = bal_of(d);

	if (!b || !out)
		return -VQ_E_INVAL;
	*out = b->cnt;
	return 0;
}

int vq_balloon_queue_index(const struct vq_dev *d, enum vq_balloon_queue role)
{
	const struct balloon *b = bal_of(d);

	if (!b || (unsigned)role >= VQ_BALLOON_Q__COUNT)
		return -1;
	return b->qidx[role];
}

bool vq_balloon_page_inflated(const struct vq_dev *d, uint32_t pfn)
{
	struct balloon *b = bal_of(d);
	struct bal_region *r;
	uint64_t i;

	if (!b || !b->regions_valid)
		return false;
	r = region_of(b, pfn, &i);
	return r && bit_test(r, i);
}

/* Set free_page_hint_cmd_id and tell the driver. */
static int hint_set(struct vq_dev *d, uint32_t id)
{
	struct balloon *b = bal_of(d);

	if (!b)
		return -VQ_E_INVAL;
	if (!vq_dev_has_feature(d, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		return -VQ_E_STATE;
	b->cmd_id = id;
	config_store(b);
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "balloon hint: command id %u", id);
	vq_dev_config_changed(d);
	return 0;
}

int vq_balloon_hint_start(struct vq_dev *d, uint32_t *cmd_id)
{
	struct balloon *b = bal_of(d);
	uint32_t id;
	int rc;

	if (!b)
		return -VQ_E_INVAL;
	/* ids only grow, so none is reused before the driver's STOP; after
	 * 2^32 - 2 rounds they wrap back to 2 */
	id = b->next_cmd_id;
	if ((rc = hint_set(d, id)) < 0)
		return rc;
	b->next_cmd_id = id == UINT32_MAX ? 2 : id + 1;
	if (cmd_id)
		*cmd_id = id;
	return 0;
}

int vq_balloon_hint_stop(struct vq_dev *d)
{
	return hint_set(d, VIRTIO_BALLOON_CMD_ID_STOP);
}

int vq_balloon_hint_done(struct vq_dev *d)
{
	return hint_set(d, VIRTIO_BALLOON_CMD_ID_DONE);
}

const struct vq_dev_type vq_balloon_type = {
	.name = "balloon",
	.summary = "virtio-balloon memory balloon (spec 5.5): inflated pages go back to the host",
	.options = "pages=N,stats=on|off,deflate-on-oom=on|off,reporting=on|off,"
		   "free-page-hint=on|off,page-poison=on|off,must-tell-host=on|off,"
		   "queue-size=N",
	.create = balloon_create,
};
