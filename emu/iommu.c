/* iommu.c - the machine's I/O page table: a sorted array of page-aligned
 * extents, binary-searched. Written by hand: a page table of a few hundred
 * extents needs nothing a library would add. */
#include <stdlib.h>
#include <string.h>

#include "iommu.h"

struct vq_iommu {
	struct vq_iommu_map map[VQ_IOMMU_MAX_MAPPINGS]; /* ascending iova, disjoint */
	unsigned n;
	uint64_t generation;
	struct vq_iommu_stats stats;
};

#define PAGE_MASK ((uint64_t)VQ_IOMMU_PAGE_SIZE - 1)

struct vq_iommu *vq_iommu_new(void)
{
	return calloc(1, sizeof(struct vq_iommu));
}

void vq_iommu_free(struct vq_iommu *io)
{
	free(io);
}

/* Index of the first extent ending after iova (n when none). */
static unsigned first_after(const struct vq_iommu *io, uint64_t iova)
{
	unsigned lo = 0, hi = io->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct vq_iommu_map *e = &io->map[mid];

		if (e->iova + e->len <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool aligned_range(uint64_t a, uint64_t len)
{
	/* the last page of the space is left out: ends never wrap to 0 */
	return len && !(a & PAGE_MASK) && !(len & PAGE_MASK) && a + len > a;
}

int vq_iommu_map(struct vq_iommu *io, uint64_t iova, uint64_t gpa, uint64_t len, bool write)
{
	unsigned i;

	if (!io || !aligned_range(iova, len) || !aligned_range(gpa, len))
		return -VQ_E_INVAL;
	i = first_after(io, iova);
	if (i < io->n && io->map[i].iova < iova + len)
		return -VQ_E_INVAL; /* overlaps extent i */
	if (io->n == VQ_IOMMU_MAX_MAPPINGS)
		return -VQ_E_NOSPC;
	memmove(&io->map[i + 1], &io->map[i], (io->n - i) * sizeof(io->map[0]));
	io->map[i] = (struct vq_iommu_map){iova, gpa, len, write};
	io->n++;
	io->generation++;
	return 0;
}

long long vq_iommu_unmap(struct vq_iommu *io, uint64_t iova, uint64_t len)
{
	uint64_t end, done = 0;
	unsigned i;

	if (!io || !aligned_range(iova, len))
		return -VQ_E_INVAL;
	end = iova + len;
	i = first_after(io, iova);
	/* cutting one extent in two needs a free slot: check before changing anything */
	if (i < io->n && io->map[i].iova < iova && io->map[i].iova + io->map[i].len > end &&
	    io->n == VQ_IOMMU_MAX_MAPPINGS)
		return -VQ_E_NOSPC;
	while (i < io->n && io->map[i].iova < end) {
		struct vq_iommu_map *e = &io->map[i];
		uint64_t ee = e->iova + e->len;
		uint64_t lo = e->iova > iova ? e->iova : iova;
		uint64_t hi = ee > end ? end : ee;

		done += hi - lo;
		if (lo > e->iova && hi < ee) {         /* a hole in the middle */
			memmove(&io->map[i + 2], &io->map[i + 1], (io->n - i - 1) * sizeof(*e));
			io->map[i + 1] = (struct vq_iommu_map){hi, e->gpa + (hi - e->iova),
								   ee - hi, e->write};
			e->len = lo - e->iova;
			io->n++;
			break;
		} else if (lo > e->iova) {             /* keep the front */
			e->len = lo - e->iova;
			i++;
		} else if (hi < ee) {                  /* keep the back */
			e->gpa += hi - e->iova;
			e->len = ee - hi;
			e->iova = hi;
			break;
		} else {                               /* gone wholly */
			memmove(e, e + 1, (io->n - i - 1) * sizeof(*e));
			io->n--;
		}
	}
	if (done)
		io->generation++;
	return (long long)done;
}

void vq_iommu_clear(struct vq_iommu *io)
{
	if (io && io->n) {
		io->n = 0;
		io->generation++;
	}
}

unsigned vq_iommu_count(const struct vq_iommu *io)
{
	return io ? io->n : 0;
}

int vq_iommu_get(const struct vq_iommu *io, unsigned i, struct vq_iommu_map *out)
{
	if (!io || i >= io->n || !out)
		return -VQ_E_INVAL;
	*out = io->map[i];
	return 0;
}

uint64_t vq_iommu_generation(const struct vq_iommu *io)
{
	return io ? io->generation : 0;
}

void vq_iommu_get_stats(const struct vq_iommu *io, struct vq_iommu_stats *st)
{
	if (io)
		*st = io->stats;
	else
		memset(st, 0, sizeof(*st));
}

/* The extent-walking core: as vq_iommu_translate(), uncounted; *bad = the
 * IOVA refused. */
static int translate(const struct vq_iommu *io, uint64_t iova, uint64_t len, unsigned access,
		     uint64_t *gpa, uint64_t *run, uint64_t *bad)
{
	unsigned i;
	uint64_t got = 0, at = iova, g = 0;

	*bad = iova;
	*run = 0;
	if (!io)
		return -VQ_E_RING_IOMMU;
	for (i = first_after(io, iova); i < io->n && got < len; i++) {
		const struct vq_iommu_map *e = &io->map[i];
		uint64_t take;

		if (e->iova > at || (got && e->gpa != g + got))
			break; /* a hole in IOVA, or a jump in GPA */
		if ((access & VQ_ACC_WRITE) && !e->write) {
			if (got)
				break; /* the next call reports it */
			return -VQ_E_RING_IOMMU;
		}
		if (!got)
			g = e->gpa + (at - e->iova);
		take = e->iova + e->len - at;
		if (take > len - got)
			take = len - got;
		got += take;
		at += take;
	}
	if (!got)
		return -VQ_E_RING_IOMMU;
	*gpa = g;
	*run = got;
	return 0;
}

int vq_iommu_translate(struct vq_iommu *io, uint64_t iova, uint64_t len, unsigned access,
		       uint64_t *gpa, uint64_t *run)
{
	uint64_t bad;
	int rc;

	if (len == 0)
		len = 1;
	if (iova + len - 1 < iova)
		return -VQ_E_INVAL;
	rc = translate(io, iova, len, access, gpa, run, &bad);
	if (io) {
		io->stats.translations++;
		io->stats.faults += rc < 0;
	}
	return rc;
}

int vq_iommu_translate_all(struct vq_iommu *io, uint64_t iova, uint64_t len, unsigned access,
			   uint64_t *gpa, uint64_t *bad)
{
	uint64_t g, run, g2, r2;
	int rc;

	if (len == 0)
		len = 1;
	*bad = iova;
	if (iova + len - 1 < iova)
		return -VQ_E_INVAL;
	rc = translate(io, iova, len, access, &g, &run, bad);
	if (rc == 0 && run < len) {
		/* the rest: refused (say where) or merely elsewhere in GPA */
		rc = translate(io, iova + run, len - run, access, &g2, &r2, bad);
		if (rc == 0)
			*bad = iova + run;
		rc = -VQ_E_RING_IOMMU;
	}
	if (io) {
		io->stats.translations++;
		io->stats.faults += rc < 0;
	}
	if (rc == 0)
		*gpa = g;
	return rc;
}
