/* mem.h - guest memory: memfd-backed regions at guest-physical addresses.
 *
 * Each region is one memfd, mapped MAP_SHARED|MAP_NORESERVE, so untouched
 * pages cost nothing and the fd can later be handed to another process.
 * Every access goes through vq_mem_translate(), which accepts a range only if
 * it lies wholly inside one region, does not wrap 2^64 and touches no
 * injected fault of the requested direction.
 */
#ifndef VQSIM_MEM_H
#define VQSIM_MEM_H

#include "base.h"

#define VQ_PAGE_SIZE 4096u
#define VQ_MEM_MAX_REGIONS 32
#define VQ_MEM_MAX_FAULTS 64

struct vq_mem;

enum vq_access {
	VQ_ACC_READ = 1,
	VQ_ACC_WRITE = 2,
	VQ_ACC_RW = 3
};

/* A fault range: accesses of the given directions to [gpa, gpa+len) fail. */
struct vq_mem_fault {
	uint64_t gpa, len;
	unsigned access;     /* VQ_ACC_* mask */
	uint64_t hits;       /* accesses refused so far */
};

/* Create an empty guest address space; NULL when out of memory. */
struct vq_mem *vq_mem_new(void);
/* Unmap and close every region and free m (NULL is fine). */
void vq_mem_free(struct vq_mem *m);

/* Add a region of size bytes at gpa, both page-aligned, not overlapping any
 * other. Returns 0, -VQ_E_INVAL (alignment, overlap, zero size, too many
 * regions, wrap), -VQ_E_SYS (memfd/ftruncate/mmap failed) or -VQ_E_NOMEM
 * (dirty logging is on and the region's log cannot be allocated). */
int vq_mem_add_region(struct vq_mem *m, const char *name, uint64_t gpa, uint64_t size);
/* Number of regions. */
unsigned vq_mem_region_count(const struct vq_mem *m);
/* Region i's gpa, size, name and memfd (for sharing). -VQ_E_INVAL if i is bad. */
int vq_mem_region_info(const struct vq_mem *m, unsigned i, uint64_t *gpa, uint64_t *size,
		       const char **name, int *fd);

/* Translate [gpa, gpa+len) to a host pointer for the given access. On failure
 * returns NULL and stores -VQ_E_MEM_WRAP, -VQ_E_MEM_UNMAPPED or
 * -VQ_E_MEM_FAULT in *err (err may be NULL). len 0 is treated as len 1 for
 * the containment check. A write translation marks the pages dirty when
 * dirty logging is on. */
void *vq_mem_translate(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access, int *err);

/* Copy len bytes out of / into guest memory. 0 or a -VQ_E_MEM_* code. */
int vq_mem_read(struct vq_mem *m, uint64_t gpa, void *dst, uint64_t len);
int vq_mem_write(struct vq_mem *m, uint64_t gpa, const void *src, uint64_t len);
/* Set len bytes at gpa to byte c. 0 or a -VQ_E_MEM_* code. */
int vq_mem_fill(struct vq_mem *m, uint64_t gpa, int c, uint64_t len);

/* Little-endian scalar accessors. 0 or a -VQ_E_MEM_* code; *v untouched on error. */
int vq_mem_read8(struct vq_mem *m, uint64_t gpa, uint8_t *v);
int vq_mem_read16(struct vq_mem *m, uint64_t gpa, uint16_t *v);
int vq_mem_read32(struct vq_mem *m, uint64_t gpa, uint32_t *v);
int vq_mem_read64(struct vq_mem *m, uint64_t gpa, uint64_t *v);
int vq_mem_write8(struct vq_mem *m, uint64_t gpa, uint8_t v);
int vq_mem_write16(struct vq_mem *m, uint64_t gpa, uint16_t v);
int vq_mem_write32(struct vq_mem *m, uint64_t gpa, uint32_t v);
int vq_mem_write64(struct vq_mem *m, uint64_t gpa, uint64_t v);

/* Add a fault range; returns its id (>= 0) or -VQ_E_INVAL / -VQ_E_NOSPC. */
int vq_mem_fault_add(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access);
/* Remove fault id; 0 or -VQ_E_INVAL. */
int vq_mem_fault_remove(struct vq_mem *m, int id);
/* Remove every fault range. */
void vq_mem_fault_clear(struct vq_mem *m);
/* The fault with this id, or NULL. */
const struct vq_mem_fault *vq_mem_fault_get(const struct vq_mem *m, int id);

/* Start dirty-page logging (clears the log). 0 or -VQ_E_NOMEM. */
int vq_mem_dirty_start(struct vq_mem *m);
/* Stop dirty-page logging and free the log. */
void vq_mem_dirty_stop(struct vq_mem *m);
/* Mark [gpa, gpa+len) dirty (for writes done through a cached host pointer);
 * no-op when logging is off or the range is not mapped. */
void vq_mem_mark_dirty(struct vq_mem *m, uint64_t gpa, uint64_t len);
/* Store up to max dirty page addresses (ascending) in out, clearing them from
 * the log; returns how many were stored, or -VQ_E_STATE if logging is off. */
long vq_mem_dirty_collect(struct vq_mem *m, uint64_t *out, size_t max);

/* Give [gpa, gpa+len) back to the host (fallocate PUNCH_HOLE): resident
 * memory drops and the range reads back as zeroes. Page-aligned, inside one
 * region. 0, -VQ_E_INVAL, -VQ_E_MEM_UNMAPPED or -VQ_E_SYS. */
int vq_mem_punch(struct vq_mem *m, uint64_t gpa, uint64_t len);

/* A counter that changes whenever a region or fault range is added or
 * removed: holders of cached host pointers re-translate when it moves. */
uint64_t vq_mem_generation(const struct vq_mem *m);
/* Counters: translations refused, fault hits. */
struct vq_mem_stats {
	uint64_t translations, refused, fault_hits;
};
void vq_mem_get_stats(const struct vq_mem *m, struct vq_mem_stats *st);

#endif
