/* ring.c - layout-independent virtqueue code: chain storage and copies, and
 * the public vq_ring_* entry points, each one switch on the layout.
 *
 * The split implementation lives in ring_split.c, the packed one in
 * ring_packed.c, behind the same switches. Checks that do not depend on the layout
 * (broken ring, argument sanity) are done here, once.
 */
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stdio.h>

#include "iommu.h"
#include "ring_internal.h"

/* ---- chains ------------------------------------------------------------ */

void vq_chain_init(struct vq_chain *c)
{
	memset(c, 0, sizeof(*c));
}

void vq_chain_release(struct vq_chain *c)
{
	free(c->seg);
	vq_chain_init(c);
}

/* The first allocation holds one segment (a 32-byte malloc chunk, two to a
 * cache line): a device holding a batch of popped one-segment chains then
 * touches 32 bytes of segment storage a chain, not a line each (with 8 at
 * first, 256 chains spread their first segments over 52 KiB and push the
 * batch's working set past L1: bench_ring's batched figure went from ~40%
 * to ~50% of the baseline with this alone). Longer chains double up to
 * their length once: a chain keeps its storage from pop to pop. */
int vq_chain_grow(struct vq_chain *c, uint32_t limit)
{
	uint32_t cap = c->cap ? c->cap * 2 : 1;
	struct vq_seg *seg;

	/* the walker never stores more segments than the queue size */
	if (cap > limit)
		cap = limit;
	if (cap <= c->nseg)
		cap = c->nseg + 1;
	seg = realloc(c->seg, (size_t)cap * sizeof(*seg));
	if (!seg)
		return -VQ_E_NOMEM;
	c->seg = seg;
	c->cap = cap;
	return 0;
}

/* Copy between a flat buffer and segments seg[first..last) of c, starting off
 * bytes into them; to_chain picks the direction. */
static size_t chain_copy(const struct vq_chain *c, uint32_t first, uint32_t last, uint64_t off,
			 void *flat, size_t len, bool to_chain)
{
	uint8_t *p = flat;
	size_t done = 0;

	for (uint32_t i = first; i < last && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		size_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - (size_t)off;
		if (n > len - done)
			n = len - done;
		if (to_chain)
			memcpy((uint8_t *)s->host + off, p + done, n);
		else
			memcpy(p + done, (const uint8_t *)s->host + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst, size_t len)
{
	return chain_copy(c, 0, c->nread, off, dst, len, false);
}

size_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src, size_t len)
{
	return chain_copy(c, c->nread, c->nseg, off, (void *)src, len, true);
}

/* Every segment again, for its own direction (a write translation marks
 * the pages dirty, as the pop did). */
__attribute__((noinline)) static int chain_retranslate(struct vq_mem *mem, struct vq_chain *c,
						       uint32_t *bad)
{
	uint64_t gen = vq_mem_generation(mem);
	int err = 0;

	for (uint32_t i = 0; i < c->nseg; i++) {
		struct vq_seg *s = &c->seg[i];
		void *host = vq_mem_translate(mem, s->gpa, s->len,
					      s->writable ? VQ_ACC_WRITE : VQ_ACC_READ, &err);

		if (!host) {
			if (bad)
				*bad = i;
			return err;
		}
		s->host = host;
	}
	c->mem_gen = gen;
	return 0;
}

int vq_chain_revalidate(struct vq_mem *mem, struct vq_chain *c, uint32_t *bad)
{
	if (VQ_LIKELY(c->mem_gen == vq_mem_generation(mem)))
		return 0;
	return chain_retranslate(mem, c, bad);
}

/* ---- device side ------------------------------------------------------- */

int vq_ring_failf(struct vq_ring *r, int code, const char *fmt, ...)
{
	va_list ap;

	if (r->error)
		return -code; /* the first error is the one that counts */
	r->error = -code;
	va_start(ap, fmt);
	vsnprintf(r->error_detail, sizeof(r->error_detail), fmt, ap);
	va_end(ap);
	return -code;
}

/* The guest-physical areas of r's layout: name, address, bytes. */
struct ring_area {
	const char *name;
	uint64_t gpa, len;
};

static unsigned ring_areas_at(const struct vq_ring *r, const struct vq_ring_addr *p,
			      struct ring_area *a)
{
	switch (r->layout) {
	case VQ_RING_SPLIT:
		a[0] = (struct ring_area){"descriptor table", p->desc, VIRTQ_DESC_SIZE(r->num)};
		a[1] = (struct ring_area){"avail ring", p->driver, VIRTQ_AVAIL_SIZE(r->num)};
		a[2] = (struct ring_area){"used ring", p->device, VIRTQ_USED_SIZE(r->num)};
		return 3;
	case VQ_RING_PACKED:
		a[0] = (struct ring_area){"descriptor ring", r->addr.desc,
					  VIRTQ_PACKED_DESC_SIZE(r->num)};
		a[1] = (struct ring_area){"driver event suppression area", r->addr.driver,
					  VIRTQ_PACKED_EVENT_SIZE};
		a[2] = (struct ring_area){"device event suppression area", r->addr.device,
					  VIRTQ_PACKED_EVENT_SIZE};
		return 3;
	default:
		return 0;
	}
}

/* The areas where the device reaches them: guest-physical (r->phys). */
static unsigned ring_areas(const struct vq_ring *r, struct ring_area *a)
{
	return ring_areas_at(r, &r->phys, a);
}

/* The envelope of the ring areas, for the fast paths' one-compare test. */
static void ring_areas_envelope(struct vq_ring *r)
{
	struct ring_area a[3];
	unsigned n = ring_areas(r, a);
	uint64_t lo = UINT64_MAX, hi = 0;

	for (unsigned i = 0; i < n; i++) {
		if (a[i].gpa < lo)
			lo = a[i].gpa;
		if (a[i].gpa + a[i].len > hi)
			hi = a[i].gpa + a[i].len;
	}
	r->areas_gpa = n ? lo : 0;
	r->areas_len = n ? hi - lo : 0;
}

const char *vq_walk_write_target(const struct vq_ring *r, const struct vq_walk *w, uint64_t gpa,
				 uint64_t len, uint64_t *at, uint64_t *alen)
{
	struct ring_area a[3];
	unsigned n;

	if (w->table_len && vq_ranges_overlap(gpa, len, w->table_gpa, w->table_len)) {
		*at = w->table_gpa;
		*alen = w->table_len;
		return "indirect table";
	}
	if (!vq_ranges_overlap(gpa, len, r->areas_gpa, r->areas_len))
		return NULL;
	n = ring_areas(r, a);
	for (unsigned i = 0; i < n; i++) {
		if (vq_ranges_overlap(gpa, len, a[i].gpa, a[i].len)) {
			*at = a[i].gpa;
			*alen = a[i].len;
			return a[i].name;
		}
	}
	return NULL;
}

/* ---- VIRTIO_F_ACCESS_PLATFORM: the IOMMU's part of the walker ---------- */

/* Why the IOMMU refused iova for access: a write through a read-only
 * mapping, or no mapping (or, for a whole area, a jump in GPA). */
static const char *iommu_why(struct vq_ring *r, uint64_t iova, unsigned access)
{
	uint64_t gpa, run;

	if ((access & VQ_ACC_WRITE) &&
	    vq_iommu_translate(r->iommu, iova, 1, VQ_ACC_READ, &gpa, &run) == 0)
		return "mapped read-only";
	return "not mapped";
}

int vq_ring_iommu_area(struct vq_ring *r, const char *what, uint64_t iova, uint64_t len,
		       unsigned access, uint64_t *gpa)
{
	uint64_t bad = iova;
	int rc = vq_iommu_translate_all(r->iommu, iova, len, access, gpa, &bad);

	if (rc < 0)
		return vq_ring_failf(r, VQ_E_RING_IOMMU, "%s iova 0x%llx+%llu: iova 0x%llx %s",
				     what, (unsigned long long)iova, (unsigned long long)len,
				     (unsigned long long)bad,
				     rc == -VQ_E_INVAL ? "wraps" : bad != iova &&
				     vq_iommu_translate(r->iommu, bad, 1, access, gpa, &(uint64_t){0}) == 0
				     ? "is not contiguous in guest memory" : iommu_why(r, bad, access));
	return 0;
}

int vq_ring_iommu_phys(struct vq_ring *r)
{
	struct ring_area a[3];
	uint64_t g[3];
	unsigned n = ring_areas_at(r, &r->addr, a);
	/* split: the device writes the used ring only; packed: the
	 * descriptor ring and its own event suppression area */
	unsigned acc[3] = {VQ_ACC_READ, VQ_ACC_READ, VQ_ACC_WRITE};

	if (r->layout == VQ_RING_PACKED)
		acc[0] = VQ_ACC_RW;
	for (unsigned i = 0; i < n; i++)
		if (vq_ring_iommu_area(r, a[i].name, a[i].gpa, a[i].len, acc[i], &g[i]) < 0)
			return -VQ_E_RING_IOMMU;
	if (n == 3) {
		r->phys.desc = g[0];
		r->phys.driver = g[1];
		r->phys.device = g[2];
	}
	ring_areas_envelope(r);
	return 0;
}

int vq_walk_buf_iommu(struct vq_ring *r, struct vq_walk *w, struct vq_chain *c, uint64_t iova,
		      uint32_t len, bool writable)
{
	unsigned acc = writable ? VQ_ACC_WRITE : VQ_ACC_READ;
	uint64_t done = 0;

	/* every piece is at least one byte: at most len iterations, and in
	 * practice one per mapping crossed */
	while (done < len) {
		uint64_t gpa, run, at, alen;
		const char *what;
		void *host;
		int err = vq_iommu_translate(r->iommu, iova + done, len - done, acc, &gpa, &run);

		if (err < 0)
			return vq_ring_failf(r, VQ_E_RING_IOMMU, "%s buffer iova 0x%llx+%u: iova 0x%llx %s",
					     writable ? "writable" : "readable",
					     (unsigned long long)iova, len,
					     (unsigned long long)(iova + done),
					     err == -VQ_E_INVAL ? "wraps"
							       : iommu_why(r, iova + done, acc));
		/* each piece is a segment: bounded, whatever the mappings */
		if (VQ_UNLIKELY(c->nseg >= r->max_chain + VQ_IOMMU_MAX_MAPPINGS))
			return vq_ring_failf(r, VQ_E_RING_IOMMU,
					     "%s buffer iova 0x%llx+%u: the chain needs more than "
					     "%u segments", writable ? "writable" : "readable",
					     (unsigned long long)iova, len,
					     r->max_chain + VQ_IOMMU_MAX_MAPPINGS);
		host = vq_mem_translate(r->mem, gpa, run, acc, &err);
		if (VQ_UNLIKELY(!host))
			return vq_ring_failf(r, VQ_E_RING_DESC_MEM,
					     "%s buffer iova 0x%llx+%u at gpa 0x%llx+%llu: %s",
					     writable ? "writable" : "readable",
					     (unsigned long long)iova, len, (unsigned long long)gpa,
					     (unsigned long long)run, vq_strerror(err));
		if (writable && (what = vq_walk_write_target(r, w, gpa, run, &at, &alen)))
			return vq_ring_failf(r, VQ_E_RING_WRITE_RING,
					     "writable buffer iova 0x%llx+%u (gpa 0x%llx+%llu) "
					     "overlaps the %s 0x%llx+%llu",
					     (unsigned long long)iova, len, (unsigned long long)gpa,
					     (unsigned long long)run, what, (unsigned long long)at,
					     (unsigned long long)alen);
		if (vq_chain_put(r, c, host, gpa, (uint32_t)run, writable) < 0)
			return -VQ_E_NOMEM;
		done += run;
	}
	return 0;
}

int vq_ring_init(struct vq_ring *r, struct vq_mem *mem, enum vq_ring_layout layout,
		 uint16_t num, const struct vq_ring_addr *addr, unsigned features)
{
	return vq_ring_init_iommu(r, mem, NULL, layout, num, addr, features);
}

int vq_ring_init_iommu(struct vq_ring *r, struct vq_mem *mem, struct vq_iommu *iommu,
		       enum vq_ring_layout layout, uint16_t num, const struct vq_ring_addr *addr,
		       unsigned features)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->iommu = iommu;
	r->mem = mem;
	r->layout = layout;
	r->features = features;
	r->num = num;
	r->notify_enabled = true;
	r->max_chain = num;
	if (!mem || !addr)
		return vq_ring_fail(r, VQ_E_INVAL);
	r->addr = *addr;
	r->phys = *addr;
	switch (layout) {
	case VQ_RING_SPLIT:
		rc = vq_ring_init_split(r);
		break;
	case VQ_RING_PACKED:
		rc = vq_ring_init_packed(r);
		break;
	default:
		return vq_ring_fail(r, VQ_E_INVAL);
	}
	if (rc == 0 && !r->iommu)
		ring_areas_envelope(r);
	return rc;
}

void vq_ring_reset(struct vq_ring *r)
{
	memset(r, 0, sizeof(*r));
	/* not an error of the guest's: just "unusable until vq_ring_init" */
	r->error = -VQ_E_STATE;
}

int vq_ring_pop(struct vq_ring *r, struct vq_chain *c)
{
	if (VQ_UNLIKELY(r->error))
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_pop_split(r, c);
	case VQ_RING_PACKED:
		return vq_ring_pop_packed(r, c);
	default:
		return -VQ_E_INVAL;
	}
}

void vq_ring_unpop(struct vq_ring *r, const struct vq_chain *c)
{
	if (r->error)
		return;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		vq_ring_unpop_split(r, c);
		break;
	case VQ_RING_PACKED:
		vq_ring_unpop_packed(r, c);
		break;
	default:
		break;
	}
}

int vq_ring_push(struct vq_ring *r, const struct vq_chain *c, uint32_t written)
{
	if (VQ_UNLIKELY(r->error))
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_push_split(r, c, written);
	case VQ_RING_PACKED:
		return vq_ring_push_packed(r, c, written);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_publish(struct vq_ring *r)
{
	if (VQ_UNLIKELY(r->error))
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_publish_split(r);
	case VQ_RING_PACKED:
		return vq_ring_publish_packed(r);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_publish_broken(struct vq_ring *r)
{
	int err = r->error, rc;

	if (!r->mem)
		return -VQ_E_RING_BROKEN; /* never initialised */
	if (!err)
		return vq_ring_publish(r);
	/* no used ring to write to: unreachable, or never initialised */
	if (err == -VQ_E_RING_RING_MEM || err == -VQ_E_STATE || err == -VQ_E_RING_LAYOUT ||
	    err == -VQ_E_INVAL)
		return -VQ_E_RING_BROKEN;
	r->error = 0;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		rc = vq_ring_publish_split(r);
		break;
	case VQ_RING_PACKED:
		rc = vq_ring_publish_packed(r);
		break;
	default:
		rc = -VQ_E_INVAL;
	}
	/* the first error stays the one that broke the ring */
	r->error = err;
	return rc;
}

int vq_ring_set_notify(struct vq_ring *r, bool enable)
{
	if (r->error)
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_set_notify_split(r, enable);
	case VQ_RING_PACKED:
		return vq_ring_set_notify_packed(r, enable);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_pending(struct vq_ring *r)
{
	if (r->error)
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_pending_split(r);
	case VQ_RING_PACKED:
		return vq_ring_pending_packed(r);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_get_base(const struct vq_ring *r, uint32_t *base)
{
	switch (r->layout) {
	case VQ_RING_SPLIT:
		*base = r->last_avail;
		return 0;
	case VQ_RING_PACKED:
		return vq_ring_get_base_packed(r, base);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_set_base(struct vq_ring *r, uint32_t base)
{
	if (r->error)
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_set_base_split(r, base);
	case VQ_RING_PACKED:
		return vq_ring_set_base_packed(r, base);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_pop_batch(struct vq_ring *r, struct vq_chain *c, unsigned max)
{
	if (VQ_UNLIKELY(r->error))
		return -VQ_E_RING_BROKEN;
	if (max == 0)
		return 0;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_pop_batch_split(r, c, max);
	case VQ_RING_PACKED:
		return vq_ring_pop_batch_packed(r, c, max);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_push_batch(struct vq_ring *r, const struct vq_chain *c, const uint32_t *written,
		       unsigned n)
{
	/* nothing to push is a no-op, whatever the ring's state (ring.h) */
	if (n == 0)
		return 0;
	if (VQ_UNLIKELY(r->error))
		return -VQ_E_RING_BROKEN;
	switch (r->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_push_batch_split(r, c, written, n);
	case VQ_RING_PACKED:
		return vq_ring_push_batch_packed(r, c, written, n);
	default:
		return -VQ_E_INVAL;
	}
}

/* ---- driver side ------------------------------------------------------- */

void vq_ring_drv_free(struct vq_ring_drv *d)
{
	free(d->token);
	free(d->chain_len);
	free(d->indirect);
	free(d->next);
	d->token = NULL;
	d->chain_len = NULL;
	d->indirect = NULL;
	d->next = NULL;
	d->num_free = 0;
}

int vq_ring_drv_init(struct vq_ring_drv *d, struct vq_mem *mem, enum vq_ring_layout layout,
		     uint16_t num, const struct vq_ring_addr *addr, unsigned features)
{
	int rc;

	memset(d, 0, sizeof(*d));
	if (!mem || !addr)
		return -VQ_E_INVAL;
	d->mem = mem;
	d->layout = layout;
	d->features = features;
	d->num = num;
	d->addr = *addr;
	if (layout == VQ_RING_PACKED ? num == 0 || num > VIRTQ_MAX_SIZE : !vq_ring_num_ok(num))
		return -VQ_E_RING_LAYOUT;
	d->token = calloc(num, sizeof(*d->token));
	d->chain_len = calloc(num, sizeof(*d->chain_len));
	d->indirect = calloc(num, sizeof(*d->indirect));
	d->next = calloc(num, sizeof(*d->next));
	if (!d->token || !d->chain_len || !d->indirect || !d->next) {
		vq_ring_drv_free(d);
		return -VQ_E_NOMEM;
	}
	switch (layout) {
	case VQ_RING_SPLIT:
		rc = vq_ring_drv_init_split(d);
		break;
	case VQ_RING_PACKED:
		rc = vq_ring_drv_init_packed(d);
		break;
	default:
		rc = -VQ_E_INVAL;
		break;
	}
	if (rc < 0)
		vq_ring_drv_free(d);
	return rc;
}

/* Readable buffers first (spec 2.7.4): the one rule a correct driver obeys
 * whatever the layout. */
static int drv_check_bufs(const struct vq_buf *bufs, unsigned n)
{
	bool seen_write = false;

	if (n == 0 || !bufs)
		return -VQ_E_INVAL;
	for (unsigned i = 0; i < n; i++) {
		if (bufs[i].writable)
			seen_write = true;
		else if (seen_write)
			return -VQ_E_INVAL;
	}
	return 0;
}

int vq_ring_drv_add(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n, uint64_t token)
{
	/* the readable-first rule is checked while the descriptors are
	 * written, to walk bufs once on this hot path */
	if (n == 0 || !bufs)
		return -VQ_E_INVAL;
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_add_split(d, bufs, n, token);
	case VQ_RING_PACKED:
		return vq_ring_drv_add_packed(d, bufs, n, token);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_add_indirect(struct vq_ring_drv *d, const struct vq_buf *bufs, unsigned n,
			     uint64_t table_gpa, uint64_t token)
{
	int rc = drv_check_bufs(bufs, n);

	if (rc < 0)
		return rc;
	/* a correct driver neither uses an unnegotiated feature nor makes a
	 * chain longer than the queue (spec 2.7.5.3.1) */
	if (!(d->features & VQ_RING_F_INDIRECT) || n > d->num)
		return -VQ_E_INVAL;
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_add_indirect_split(d, bufs, n, table_gpa, token);
	case VQ_RING_PACKED:
		return vq_ring_drv_add_indirect_packed(d, bufs, n, table_gpa, token);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_publish(struct vq_ring_drv *d)
{
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_publish_split(d);
	case VQ_RING_PACKED:
		return vq_ring_drv_publish_packed(d);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_get_used(struct vq_ring_drv *d, uint64_t *token, uint32_t *len)
{
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_get_used_split(d, token, len);
	case VQ_RING_PACKED:
		return vq_ring_drv_get_used_packed(d, token, len);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_add_batch(struct vq_ring_drv *d, const struct vq_ring_req *reqs, unsigned n)
{
	/* each request's bufs and n are checked as its chain is written */
	if (n == 0)
		return 0;
	if (!reqs)
		return -VQ_E_INVAL;
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_add_batch_split(d, reqs, n);
	case VQ_RING_PACKED:
		return vq_ring_drv_add_batch_packed(d, reqs, n);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_get_used_batch(struct vq_ring_drv *d, uint64_t *tokens, uint32_t *lens,
			       unsigned max)
{
	if (max == 0)
		return 0;
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_get_used_batch_split(d, tokens, lens, max);
	case VQ_RING_PACKED:
		return vq_ring_drv_get_used_batch_packed(d, tokens, lens, max);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_set_interrupts(struct vq_ring_drv *d, bool enable)
{
	switch (d->layout) {
	case VQ_RING_SPLIT:
		return vq_ring_drv_set_interrupts_split(d, enable);
	case VQ_RING_PACKED:
		return vq_ring_drv_set_interrupts_packed(d, enable);
	default:
		return -VQ_E_INVAL;
	}
}

int vq_ring_drv_has_used(const struct vq_ring_drv *d)
{
	switch (d->layout) {
	case VQ_RING_SPLIT:
		/* used idx at offset 2 of the used ring */
		return vq_load16_acquire(d->used + 2) != d->last_used;
	case VQ_RING_PACKED: {
		/* the flags of the next slot to reap: AVAIL == USED == wrap
		 * (IN_ORDER: chains of a batch being reaped are used already) */
		if (d->inorder_left)
			return 1;
		uint16_t f = vq_load16_acquire((const uint8_t *)d->desc + 16u * d->last_used + 14);
		bool a = f & VIRTQ_DESC_F_AVAIL, u = f & VIRTQ_DESC_F_USED;

		return a == d->used_wrap && u == d->used_wrap;
	}
	default:
		return -VQ_E_INVAL;
	}
}

/* ---- placement --------------------------------------------------------- */

int vq_ring_size(enum vq_ring_layout layout, uint16_t num, uint64_t base,
		 struct vq_ring_addr *addr, uint64_t *bytes)
{
	/* a packed queue's size need not be a power of two (spec 2.8) */
	if ((layout == VQ_RING_PACKED ? num == 0 || num > VIRTQ_MAX_SIZE : !vq_ring_num_ok(num)) ||
	    !addr || !bytes)
		return -VQ_E_INVAL;
	switch (layout) {
	case VQ_RING_SPLIT:
		return vq_ring_size_split(num, base, addr, bytes);
	case VQ_RING_PACKED:
		return vq_ring_size_packed(num, base, addr, bytes);
	default:
		return -VQ_E_INVAL;
	}
}
