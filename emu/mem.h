/* mem.h - guest memory: memfd-backed regions at guest-physical addresses.
 *
 * Each region is one memfd, mapped MAP_SHARED|MAP_NORESERVE, so untouched
 * pages cost nothing and the fd can later be handed to another process.
 * Every access goes through vq_mem_translate(), which accepts a range only if
 * it lies wholly inside guest memory (one region, or regions that lie back
 * to back: such a range is served through a contiguous host view of them),
 * touches no hole, does not wrap 2^64 and touches no injected fault of the
 * requested direction.
 */
#ifndef VQSIM_MEM_H
#define VQSIM_MEM_H

#include "base.h"

#define VQ_PAGE_SIZE 4096u
#define VQ_MEM_MAX_REGIONS 32
#define VQ_MEM_MAX_FAULTS 64

struct vq_mem;

/* The front of every struct vq_mem, public only so that vq_mem_translate()'s
 * hit path and vq_mem_generation() inline into their callers (the ring calls
 * them on every pop and push). Read-only outside mem.c. */
struct vq_mem_hot {
	uint64_t gpa;          /* first byte of the region that served last */
	uint64_t size;         /* its size; 0 (every lookup misses) while fault
				  ranges exist or dirty logging is on, which
				  the out-of-line path must see */
	uint8_t *host;         /* host address of gpa */
	uint64_t generation;   /* see vq_mem_generation() */
	uint64_t translations; /* vq_mem_stats.translations */
	bool dirty_on;         /* dirty logging on */
};

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
/* Add a region of size bytes at gpa backed by the caller's fd from offset
 * (page-aligned), e.g. a vhost-user front-end's memory. On success the
 * region owns fd (closed when the region goes); on failure fd stays the
 * caller's. Errors as vq_mem_add_region, -VQ_E_INVAL also for fd < 0, a
 * misaligned offset or a file shorter than offset + size (its missing
 * pages would fault with SIGBUS), -VQ_E_SYS when the fd cannot be mapped. */
int vq_mem_add_region_fd(struct vq_mem *m, const char *name, uint64_t gpa, uint64_t size,
			 int fd, uint64_t offset);
/* Remove the region starting at gpa: unmapped, its fd closed, and every
 * host pointer into it void (the memory generation moves, so rings and
 * held chains re-translate). 0 or -VQ_E_MEM_UNMAPPED (no region starts
 * there). */
int vq_mem_remove_region(struct vq_mem *m, uint64_t gpa);
/* Remove every region. */
void vq_mem_remove_all(struct vq_mem *m);
/* Number of regions. */
unsigned vq_mem_region_count(const struct vq_mem *m);
/* Region i's gpa, size, name and memfd (for sharing). -VQ_E_INVAL if i is bad. */
int vq_mem_region_info(const struct vq_mem *m, unsigned i, uint64_t *gpa, uint64_t *size,
		       const char **name, int *fd);

/* Translate [gpa, gpa+len) to a host pointer for the given access. A range
 * that crosses from one region into the next (back to back, no hole) gets
 * a pointer into a host view where those regions lie side by side (the same
 * pages; built on first use, mapped until vq_mem_free()). On failure
 * returns NULL and stores -VQ_E_MEM_WRAP, -VQ_E_MEM_UNMAPPED (a byte of the
 * range is in no region), -VQ_E_MEM_FAULT or -VQ_E_SYS (the view could not
 * be mapped) in *err (err may be NULL). len 0 is treated as len 1 for
 * the containment check. A write translation marks the pages dirty when
 * dirty logging is on.
 *
 * The functions below are C99 inline definitions (libvqsim also exports each
 * as a function): the common case, a range inside the region of the previous
 * call, costs a subtraction and two compares in the caller; the rest is
 * vq_mem_translate_slow(). */
void *vq_mem_translate_slow(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access,
			    int *err);

/* The inline hit alone: true with *host set when [gpa, gpa+len) lies in the
 * region that served the previous translation and no fault range or dirty
 * log needs the slow path (counted as a translation); false, having done
 * nothing, otherwise: the caller then calls vq_mem_translate(). Lets a hot
 * caller keep every call off its fast path. off < size also rules out gpa
 * below the region, len <= size - off the end and any wrap, and passes
 * len 0 as if it were 1. */
inline bool vq_mem_translate_hit(struct vq_mem *m, uint64_t gpa, uint64_t len, void **host)
{
	struct vq_mem_hot *h = (struct vq_mem_hot *)m;
	uint64_t off = gpa - h->gpa;

	if (__builtin_expect(off < h->size && len <= h->size - off, 1)) {
		h->translations++;
		*host = h->host + off;
		return true;
	}
	return false;
}

inline void *vq_mem_translate(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access,
			      int *err)
{
	void *host;

	if (vq_mem_translate_hit(m, gpa, len, &host))
		return host;
	return vq_mem_translate_slow(m, gpa, len, access, err);
}

/* Batches: a caller translating many ranges in one call, during which
 * nothing else can add a region or a fault range (a vq_ring_pop_batch()),
 * may copy the inline hit region once, test each range against the copy in
 * registers, and count the hits in one add at the end. A miss on the copy
 * goes through vq_mem_translate() as usual (which may change the region
 * that serves hits: reload the copy after it). The copy is never kept
 * across calls: fault ranges added between calls must be seen. */
struct vq_mem_span {
	uint64_t gpa, size;    /* size 0 while the slow path must see everything */
	uint8_t *host;
};

inline void vq_mem_span_load(const struct vq_mem *m, struct vq_mem_span *s)
{
	const struct vq_mem_hot *h = (const struct vq_mem_hot *)m;

	s->gpa = h->gpa;
	s->size = h->size;
	s->host = h->host;
}

/* As vq_mem_translate_hit() against the copy, but not counted: the caller
 * adds its hits with vq_mem_count_hits() before returning. */
inline bool vq_mem_span_hit(const struct vq_mem_span *s, uint64_t gpa, uint64_t len, void **host)
{
	uint64_t off = gpa - s->gpa;

	if (__builtin_expect(off < s->size && len <= s->size - off, 1)) {
		*host = s->host + off;
		return true;
	}
	return false;
}

inline void vq_mem_count_hits(struct vq_mem *m, uint64_t n)
{
	((struct vq_mem_hot *)m)->translations += n;
}

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
/* A fault hook decides what an access touching fault range id does: 0 lets
 * it through (the hook may have changed the bytes at host, the access's
 * first byte), -VQ_E_MEM_FAULT refuses it. Without a hook every touching
 * access is refused. Called from the slow path only (which is in use
 * anyway while a fault range exists). */
typedef int (*vq_mem_fault_fn)(void *ctx, int id, uint64_t gpa, uint64_t len, unsigned access,
			       uint8_t *host);
/* Install fn (NULL: none) as m's fault hook. */
void vq_mem_set_fault_hook(struct vq_mem *m, vq_mem_fault_fn fn, void *ctx);

/* Start dirty-page logging (clears the log). 0 or -VQ_E_NOMEM. */
int vq_mem_dirty_start(struct vq_mem *m);
/* Stop dirty-page logging and free the log. */
void vq_mem_dirty_stop(struct vq_mem *m);
/* Mark [gpa, gpa+len) dirty (for writes done through a cached host pointer);
 * no-op when logging is off or the range is not mapped. */
void vq_mem_mark_dirty(struct vq_mem *m, uint64_t gpa, uint64_t len);
/* Called with each write the dirty log would see: a write translation
 * (vq_mem_write, a chain's writable segment when popped) and every
 * vq_mem_mark_dirty() (used ring writes through cached pointers). */
typedef void (*vq_mem_write_fn)(void *ctx, uint64_t gpa, uint64_t len);
/* Set (fn non-NULL) or clear the write hook. While set, translations take
 * the slow path as under dirty logging; unset, it costs nothing. */
void vq_mem_set_write_hook(struct vq_mem *m, vq_mem_write_fn fn, void *ctx);
/* Whether writes must be reported: dirty logging on or a write hook set
 * (inline: lets a hot caller skip the marking). */
inline bool vq_mem_dirty_logging(const struct vq_mem *m)
{
	return ((const struct vq_mem_hot *)m)->dirty_on;
}
/* Store up to max dirty page addresses (ascending) in out, clearing them from
 * the log; returns how many were stored, or -VQ_E_STATE if logging is off. */
long vq_mem_dirty_collect(struct vq_mem *m, uint64_t *out, size_t max);

/* Give [gpa, gpa+len) back to the host (fallocate PUNCH_HOLE): resident
 * memory drops and the range reads back as zeroes. Page-aligned, inside
 * guest memory (regions back to back are fine; a hole refuses the whole
 * range before anything is punched). 0, -VQ_E_INVAL, -VQ_E_MEM_UNMAPPED or
 * -VQ_E_SYS. */
int vq_mem_punch(struct vq_mem *m, uint64_t gpa, uint64_t len);

/* A counter that changes whenever a region or fault range is added or
 * removed: holders of cached host pointers re-translate when it moves.
 * Inline: one load. */
inline uint64_t vq_mem_generation(const struct vq_mem *m)
{
	return ((const struct vq_mem_hot *)m)->generation;
}
/* Counters: translations refused, fault hits. */
struct vq_mem_stats {
	uint64_t translations, refused, fault_hits;
};
void vq_mem_get_stats(const struct vq_mem *m, struct vq_mem_stats *st);

#endif
