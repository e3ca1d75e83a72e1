/* iommu.h - the machine's I/O page table (VIRTIO_F_ACCESS_PLATFORM).
 *
 * A device that negotiated VIRTIO_F_ACCESS_PLATFORM addresses memory by
 * I/O virtual address (IOVA): every address it uses (buffers, indirect
 * tables, ring areas) goes through this table, in 4 KiB pages, to a
 * guest-physical address, with a read-only or read-write permission. The
 * table is kept as a sorted list of page-aligned extents (adjacent pages
 * mapped by one call form one extent), at most VQ_IOMMU_MAX_MAPPINGS of
 * them; lookups are a binary search. Nothing here touches guest memory:
 * the caller hands a translated range on to vq_mem_translate().
 */
#ifndef VQSIM_IOMMU_H
#define VQSIM_IOMMU_H

#include "base.h"
#include "mem.h"

#define VQ_IOMMU_PAGE_SIZE 4096u
#define VQ_IOMMU_MAX_MAPPINGS 1024

struct vq_iommu;

/* One extent of the table: IOVA [iova, iova+len) -> GPA [gpa, gpa+len). */
struct vq_iommu_map {
	uint64_t iova, gpa, len;
	bool write;            /* device may write through it (else read-only) */
};

/* A new empty table (every IOVA unmapped); NULL when out of memory. */
struct vq_iommu *vq_iommu_new(void);
/* Free io (NULL is fine). */
void vq_iommu_free(struct vq_iommu *io);
/* Map IOVA [iova, iova+len) to GPA [gpa, gpa+len), writable when write.
 * All three page-aligned, len > 0, neither range wrapping 2^64, no page of
 * the IOVA range mapped already. 0, -VQ_E_INVAL (alignment, length, wrap,
 * overlap) or -VQ_E_NOSPC (VQ_IOMMU_MAX_MAPPINGS extents). */
int vq_iommu_map(struct vq_iommu *io, uint64_t iova, uint64_t gpa, uint64_t len, bool write);
/* Unmap every mapped page of IOVA [iova, iova+len) (page-aligned, len > 0;
 * extents are cut where the range ends inside them). Returns the number of
 * bytes that were mapped (0: nothing was), -VQ_E_INVAL or -VQ_E_NOSPC
 * (cutting an extent in two needs a free slot). */
long long vq_iommu_unmap(struct vq_iommu *io, uint64_t iova, uint64_t len);
/* Unmap everything. */
void vq_iommu_clear(struct vq_iommu *io);
/* Number of extents, and extent i (ascending IOVA): 0 or -VQ_E_INVAL. */
unsigned vq_iommu_count(const struct vq_iommu *io);
int vq_iommu_get(const struct vq_iommu *io, unsigned i, struct vq_iommu_map *out);

/* Translate the start of IOVA [iova, iova+len) for access (VQ_ACC_*;
 * len 0 counts as 1): *gpa = where iova lands, *run = how many bytes from
 * iova on (1..len) are contiguous in GPA and allowed (extents back to back
 * in both spaces merge). A caller loops over the rest for a range that
 * spans discontiguous mappings. Returns 0, -VQ_E_INVAL (iova + len wraps
 * 2^64) or -VQ_E_RING_IOMMU (iova not mapped, or a write through a
 * read-only mapping at iova; *run = 0). Counted in the stats. */
int vq_iommu_translate(struct vq_iommu *io, uint64_t iova, uint64_t len, unsigned access,
		       uint64_t *gpa, uint64_t *run);
/* The whole range at once, for what must be contiguous in GPA (ring areas,
 * indirect tables): 0 with *gpa, -VQ_E_INVAL (wrap) or -VQ_E_RING_IOMMU with
 * *bad = the first IOVA refused (unmapped, read-only for a write) or, when
 * everything is mapped but not contiguous in GPA, the first IOVA of the
 * second piece. Counted once in the stats. */
int vq_iommu_translate_all(struct vq_iommu *io, uint64_t iova, uint64_t len, unsigned access,
			   uint64_t *gpa, uint64_t *bad);
/* Counters: translations asked for (translate and translate_all calls that
 * were not refused as -VQ_E_INVAL), and how many of them failed. */
struct vq_iommu_stats {
	uint64_t translations, faults;
};
void vq_iommu_get_stats(const struct vq_iommu *io, struct vq_iommu_stats *st);
/* A counter that moves on every map and unmap. */
uint64_t vq_iommu_generation(const struct vq_iommu *io);

#endif
