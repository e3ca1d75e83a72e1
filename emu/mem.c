/* mem.c - guest memory: memfd-backed regions, checked translation, fault
 * ranges, dirty logging and hole punching.
 *
 * Regions live in an array sorted by gpa. vq_mem_translate() (inline, in
 * mem.h) first tries the region that served the previous call, then falls
 * back to a binary search here. Fault ranges and dirty logging are rare: while
 * either is present the inline copy of the cached region is emptied (m->hot,
 * kept by hot_sync()), so every translation comes here and the hot path
 * pays nothing for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

#define PAGE_SHIFT 12
#define BITS_PER_WORD 64

struct vq_region {
	uint64_t gpa;        /* first byte */
	uint64_t end;        /* one past the last byte; never wraps */
	uint64_t size;
	uint8_t *host;       /* mapping of the whole memfd (of a run: see below) */
	uint64_t *dirty;     /* 1 bit per page while logging, else NULL */
	int fd;              /* -1 for a run */
	uint64_t fd_off;     /* offset of gpa's byte in fd (a front-end's region) */
	bool run;            /* a run, not a region */
	char name[32];
};

/* A run is a host view of regions that lie back to back in guest-physical
 * space: one reserved address range with each region's memfd mapped into
 * it at its offset, so the same pages appear at both addresses. A range
 * that crosses from one region into the next (real guests and vhost-user
 * front-ends with several memory slots produce them) then translates to one
 * contiguous host pointer like any other, and every caller (buffers,
 * indirect tables, ring areas, vq_mem_read) serves it unchanged. A run is
 * built on the first translation that needs it and covers the whole
 * back-to-back stretch; it stays mapped until vq_mem_free() or until a
 * region is removed (vq_mem_remove_region() drops every run and moves the
 * generation, so holders re-translate). Each region added can make at most
 * one new stretch, so there are fewer runs than regions. */
#define VQ_MEM_MAX_RUNS VQ_MEM_MAX_REGIONS

struct vq_mem {
	struct vq_mem_hot hot;           /* first: mem.h's inline functions read it */
	const struct vq_region *last;    /* last hit; &none when there is none */
	bool slow;                       /* faults present or dirty logging on */
	unsigned nregions;
	uint64_t fault_used;             /* bit i: faults[i] in use */
	bool logging;                    /* dirty logging on (hot.dirty_on: logging or hook) */
	vq_mem_write_fn write_fn;        /* vq_mem_set_write_hook() */
	void *write_ctx;
	struct vq_mem_stats st;          /* translations: see hot.translations */
	struct vq_region none;           /* empty: makes the cache check fail */
	struct vq_region regions[VQ_MEM_MAX_REGIONS];
	unsigned nruns;
	struct vq_region runs[VQ_MEM_MAX_RUNS];   /* never moved: m->last may point here */
	struct vq_mem_fault faults[VQ_MEM_MAX_FAULTS];
	vq_mem_fault_fn fault_hook;      /* see vq_mem_set_fault_hook() */
	void *fault_hook_ctx;
};

_Static_assert(VQ_MEM_MAX_FAULTS <= 64, "fault_used is one 64-bit mask");
_Static_assert(VQ_PAGE_SIZE == 1u << PAGE_SHIFT, "PAGE_SHIFT out of date");
_Static_assert(offsetof(struct vq_mem, hot) == 0, "mem.h casts struct vq_mem * to hot");

/* The external definitions of mem.h's inline functions. */
extern bool vq_mem_translate_hit(struct vq_mem *m, uint64_t gpa, uint64_t len, void **host);
extern void *vq_mem_translate(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access,
			      int *err);
extern uint64_t vq_mem_generation(const struct vq_mem *m);
extern bool vq_mem_dirty_logging(const struct vq_mem *m);
extern void vq_mem_span_load(const struct vq_mem *m, struct vq_mem_span *s);
extern bool vq_mem_span_hit(const struct vq_mem_span *s, uint64_t gpa, uint64_t len,
			    void **host);
extern void vq_mem_count_hits(struct vq_mem *m, uint64_t n);

/* Mirror m->last into the inline hit path, or empty it when the slow path
 * must see every translation. Called whenever last or slow changes. */
static void hot_sync(struct vq_mem *m)
{
	const struct vq_region *r = m->last;

	m->hot.gpa = r->gpa;
	m->hot.size = m->slow ? 0 : r->size;
	m->hot.host = r->host;
}

static void update_slow(struct vq_mem *m)
{
	m->slow = m->fault_used != 0 || m->hot.dirty_on;
	hot_sync(m);
}

static size_t bitmap_words(uint64_t size)
{
	uint64_t pages = size >> PAGE_SHIFT;
	return (size_t)((pages + BITS_PER_WORD - 1) / BITS_PER_WORD);
}

/* Every host view of guest memory (a region's, a run's) sits between two
 * PROT_NONE guard pages: an access that runs off the end of one (a bug in
 * a bounds check) faults at once instead of landing in whatever mapping
 * happens to follow, which no sanitizer would see. Address space only. */
#define GUARD VQ_PAGE_SIZE

/* Reserve len bytes of address space with a guard page on each side; the
 * caller maps its pages over the middle with MAP_FIXED. NULL on failure. */
static uint8_t *guarded_reserve(uint64_t len)
{
	uint8_t *p = mmap(NULL, (size_t)(len + 2 * GUARD), PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p + GUARD;
}

/* Unmap a view made by guarded_reserve(), guards and all. */
static void guarded_unmap(uint8_t *host, uint64_t len)
{
	munmap(host - GUARD, (size_t)(len + 2 * GUARD));
}

struct vq_mem *vq_mem_new(void)
{
	struct vq_mem *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->last = &m->none;
	hot_sync(m);
	m->hot.generation = 1;   /* so a holder can use 0 as "never translated" */
	return m;
}

void vq_mem_free(struct vq_mem *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nregions; i++) {
		struct vq_region *r = &m->regions[i];
		guarded_unmap(r->host, r->size);
		close(r->fd);
		free(r->dirty);
	}
	for (unsigned i = 0; i < m->nruns; i++)
		guarded_unmap(m->runs[i].host, m->runs[i].size);
	free(m);
}

/* Map a fresh memfd of r->size bytes; never touches the pages, so nothing
 * becomes resident until the guest (or a test) writes to it. */
static int region_map(struct vq_region *r)
{
	uint8_t *p;

	r->fd = memfd_create(r->name[0] ? r->name : "vqsim-mem", MFD_CLOEXEC);
	if (r->fd < 0)
		return -VQ_E_SYS;
	if (ftruncate(r->fd, (off_t)r->size) < 0)
		goto fail;
	if (!(p = guarded_reserve(r->size)))
		goto fail;
	if (mmap(p, (size_t)r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		 r->fd, 0) == MAP_FAILED) {
		guarded_unmap(p, r->size);
		goto fail;
	}
	r->host = p;
	return 0;
fail:
	{
		int e = errno;
		close(r->fd);
		errno = e;
	}
	return -VQ_E_SYS;
}

/* Map size bytes of a caller's fd from offset off into r (owning fd from
 * then on only on success). */
static int region_map_fd(struct vq_region *r, int fd, uint64_t off)
{
	uint8_t *p;

	struct stat st;

	if (off > (uint64_t)INT64_MAX - r->size || (off & (VQ_PAGE_SIZE - 1)))
		return -VQ_E_INVAL;
	/* pages past the end of a file fault with SIGBUS on first touch: a
	 * region must lie within its file (a hostile front-end may send a
	 * short one) */
	if (fstat(fd, &st) < 0)
		return -VQ_E_SYS;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < off + r->size)
		return -VQ_E_INVAL;
	if (!(p = guarded_reserve(r->size)))
		return -VQ_E_SYS;
	if (mmap(p, (size_t)r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		 fd, (off_t)off) == MAP_FAILED) {
		int e = errno;
		guarded_unmap(p, r->size);
		errno = e;
		return -VQ_E_SYS;
	}
	r->host = p;
	r->fd = fd;
	r->fd_off = off;
	return 0;
}

/* Add a region backed by a fresh memfd (fd < 0) or by fd from offset off. */
static int add_region(struct vq_mem *m, const char *name, uint64_t gpa, uint64_t size, int fd,
		      uint64_t off)
{
	struct vq_region r;
	unsigned pos;
	int err;

	if (size == 0 || (gpa | size) & (VQ_PAGE_SIZE - 1))
		return -VQ_E_INVAL;
	if (gpa + size < gpa || size > (uint64_t)INT64_MAX)   /* also off_t limit */
		return -VQ_E_INVAL;
#if SIZE_MAX < UINT64_MAX
	if (size > SIZE_MAX)
		return -VQ_E_INVAL;
#endif
	if (m->nregions >= VQ_MEM_MAX_REGIONS)
		return -VQ_E_INVAL;
	/* Sorted and disjoint: the new one goes before the first region that
	 * starts above it, and must end before that one and start after the
	 * previous one ends. */
	for (pos = 0; pos < m->nregions && m->regions[pos].gpa < gpa; pos++)
		;
	if (pos < m->nregions && m->regions[pos].gpa < gpa + size)
		return -VQ_E_INVAL;
	if (pos > 0 && m->regions[pos - 1].end > gpa)
		return -VQ_E_INVAL;

	memset(&r, 0, sizeof(r));
	r.gpa = gpa;
	r.size = size;
	r.end = gpa + size;
	snprintf(r.name, sizeof(r.name), "%s", name ? name : "");
	if (m->logging) {
		r.dirty = calloc(bitmap_words(size), sizeof(uint64_t));
		if (!r.dirty)
			return -VQ_E_NOMEM;
	}
	if ((err = fd < 0 ? region_map(&r) : region_map_fd(&r, fd, off)) < 0) {
		free(r.dirty);
		return err;
	}
	memmove(&m->regions[pos + 1], &m->regions[pos],
		(m->nregions - pos) * sizeof(m->regions[0]));
	m->regions[pos] = r;
	m->nregions++;
	m->last = &m->none;   /* entries moved: the cached pointer may be stale */
	hot_sync(m);
	m->hot.generation++;
	return 0;
}

int vq_mem_add_region(struct vq_mem *m, const char *name, uint64_t gpa, uint64_t size)
{
	return add_region(m, name, gpa, size, -1, 0);
}

int vq_mem_add_region_fd(struct vq_mem *m, const char *name, uint64_t gpa, uint64_t size,
			 int fd, uint64_t offset)
{
	if (fd < 0)
		return -VQ_E_INVAL;
	return add_region(m, name, gpa, size, fd, offset);
}

static int region_index(const struct vq_mem *m, uint64_t gpa);

/* Unmap every run: one may hold the region about to go. They are rebuilt
 * on demand. */
static void runs_drop(struct vq_mem *m)
{
	for (unsigned i = 0; i < m->nruns; i++)
		guarded_unmap(m->runs[i].host, m->runs[i].size);
	m->nruns = 0;
}

int vq_mem_remove_region(struct vq_mem *m, uint64_t gpa)
{
	int i = region_index(m, gpa);
	struct vq_region *r;

	if (i < 0 || m->regions[i].gpa != gpa)
		return -VQ_E_MEM_UNMAPPED;
	r = &m->regions[i];
	guarded_unmap(r->host, r->size);
	close(r->fd);
	free(r->dirty);
	memmove(r, r + 1, (m->nregions - (unsigned)i - 1) * sizeof(*r));
	m->nregions--;
	runs_drop(m);
	m->last = &m->none;
	hot_sync(m);
	m->hot.generation++;
	return 0;
}

void vq_mem_remove_all(struct vq_mem *m)
{
	while (m->nregions)
		vq_mem_remove_region(m, m->regions[0].gpa);
}

unsigned vq_mem_region_count(const struct vq_mem *m)
{
	return m->nregions;
}

int vq_mem_region_info(const struct vq_mem *m, unsigned i, uint64_t *gpa, uint64_t *size,
		       const char **name, int *fd)
{
	const struct vq_region *r;

	if (i >= m->nregions)
		return -VQ_E_INVAL;
	r = &m->regions[i];
	if (gpa)
		*gpa = r->gpa;
	if (size)
		*size = r->size;
	if (name)
		*name = r->name;
	if (fd)
		*fd = r->fd;
	return 0;
}

/* The region holding [gpa, gpa+n) (n >= 1, no wrap), or NULL. */
static const struct vq_region *region_find(const struct vq_mem *m, uint64_t gpa, uint64_t n)
{
	unsigned lo = 0, hi = m->nregions;

	/* Find the last region with r->gpa <= gpa. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (m->regions[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct vq_region *r = &m->regions[lo - 1];
	return gpa + n <= r->end ? r : NULL;
}

/* Index of the region holding gpa, or -1. */
static int region_index(const struct vq_mem *m, uint64_t gpa)
{
	const struct vq_region *r = region_find(m, gpa, 1);

	return r ? (int)(r - m->regions) : -1;
}

/* Map regions[first..last] (back to back) as one run. 0 or -VQ_E_SYS. */
static int run_map(struct vq_mem *m, unsigned first, unsigned last, struct vq_region *run)
{
	uint64_t start = m->regions[first].gpa, total = m->regions[last].end - start;
	uint8_t *base;

#if SIZE_MAX < UINT64_MAX
	if (total > SIZE_MAX)
		return -VQ_E_SYS;
#endif
	/* reserve the whole range first, so the pieces land side by side */
	if (!(base = guarded_reserve(total)))
		return -VQ_E_SYS;
	for (unsigned i = first; i <= last; i++) {
		const struct vq_region *r = &m->regions[i];

		if (mmap(base + (r->gpa - start), (size_t)r->size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, r->fd, (off_t)r->fd_off) == MAP_FAILED) {
			guarded_unmap(base, total);
			return -VQ_E_SYS;
		}
	}
	memset(run, 0, sizeof(*run));
	run->gpa = start;
	run->end = start + total;
	run->size = total;
	run->host = base;
	run->fd = -1;
	run->run = true;
	snprintf(run->name, sizeof(run->name), "run");
	return 0;
}

/* The run holding [gpa, gpa+n) (n >= 1, no wrap), which crosses from one
 * region into the next: an existing one, or a new one over the whole
 * back-to-back stretch. NULL with *err = -VQ_E_MEM_UNMAPPED when the range
 * touches a hole, -VQ_E_SYS when the view cannot be mapped. */
static const struct vq_region *run_find(struct vq_mem *m, uint64_t gpa, uint64_t n, int *err)
{
	int i = region_index(m, gpa);
	unsigned first, last;

	*err = -VQ_E_MEM_UNMAPPED;
	if (i < 0)
		return NULL;
	for (unsigned k = 0; k < m->nruns; k++)
		if (m->runs[k].gpa <= gpa && gpa + n <= m->runs[k].end)
			return &m->runs[k];
	/* the range must be covered by regions each starting where the last ends */
	last = (unsigned)i;
	while (m->regions[last].end < gpa + n) {
		if (last + 1 >= m->nregions || m->regions[last + 1].gpa != m->regions[last].end)
			return NULL;
		last++;
	}
	/* widen to the whole stretch, so that later crossings reuse this run */
	first = (unsigned)i;
	while (first > 0 && m->regions[first - 1].end == m->regions[first].gpa)
		first--;
	while (last + 1 < m->nregions && m->regions[last + 1].gpa == m->regions[last].end)
		last++;
	if (m->nruns == VQ_MEM_MAX_RUNS || run_map(m, first, last, &m->runs[m->nruns]) < 0) {
		*err = -VQ_E_SYS;
		return NULL;
	}
	return &m->runs[m->nruns++];
}

/* Set the dirty bits of the pages of [gpa, gpa+n) that lie in r. */
static void region_mark_dirty(const struct vq_region *r, uint64_t gpa, uint64_t n)
{
	uint64_t first, last;

	if (gpa < r->gpa) {
		n -= r->gpa - gpa;
		gpa = r->gpa;
	}
	if (gpa + n > r->end)
		n = r->end - gpa;
	first = (gpa - r->gpa) >> PAGE_SHIFT;
	last = (gpa + n - 1 - r->gpa) >> PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++)
		r->dirty[p / BITS_PER_WORD] |= 1ull << (p % BITS_PER_WORD);
}

/* Faults and dirty logging, for a range already known to lie in r. */
static int translate_slow(struct vq_mem *m, const struct vq_region *r, uint64_t gpa,
			  uint64_t n, unsigned access)
{
	uint64_t last = gpa + n - 1;

	for (uint64_t used = m->fault_used; used; used &= used - 1) {
		int id = __builtin_ctzll(used);
		struct vq_mem_fault *f = &m->faults[id];
		if ((f->access & access) && f->gpa <= last && gpa <= f->gpa + f->len - 1) {
			if (m->fault_hook &&
			    m->fault_hook(m->fault_hook_ctx, id, gpa, n, access,
					  r->host + (gpa - r->gpa)) == 0)
				continue; /* the hook let it through */
			f->hits++;
			m->st.fault_hits++;
			return -VQ_E_MEM_FAULT;
		}
	}
	if ((access & VQ_ACC_WRITE) && m->hot.dirty_on) {
		if (r->run) {
			vq_mem_mark_dirty(m, gpa, n); /* the regions under the run */
		} else {
			if (r->dirty)
				region_mark_dirty(r, gpa, n);
			if (m->write_fn)
				m->write_fn(m->write_ctx, gpa, n);
		}
	}
	return 0;
}

static void *refuse(struct vq_mem *m, int *err, int code)
{
	m->st.refused++;
	if (err)
		*err = code;
	return NULL;
}

/* Everything but the inline hit (mem.h): wrap, lookup, faults, dirty
 * logging. gpa + n == 2^64 counts as a wrap: no region reaches that far
 * anyway (add_region forbids it). */
void *vq_mem_translate_slow(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access,
			    int *err)
{
	const struct vq_region *r = m->last;
	uint64_t n = len ? len : 1;

	m->hot.translations++;
	if (gpa + n < gpa)
		return refuse(m, err, -VQ_E_MEM_WRAP);
	if (gpa < r->gpa || gpa + n > r->end) {
		int e;

		r = region_find(m, gpa, n);
		if (!r && !(r = run_find(m, gpa, n, &e)))
			return refuse(m, err, e);
		m->last = r;
		hot_sync(m);
	}
	if (m->slow) {
		int e = translate_slow(m, r, gpa, n, access);
		if (e)
			return refuse(m, err, e);
	}
	return r->host + (gpa - r->gpa);
}

int vq_mem_read(struct vq_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	int err;
	void *p = vq_mem_translate(m, gpa, len, VQ_ACC_READ, &err);

	if (!p)
		return err;
	memcpy(dst, p, (size_t)len);
	return 0;
}

int vq_mem_write(struct vq_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	int err;
	void *p = vq_mem_translate(m, gpa, len, VQ_ACC_WRITE, &err);

	if (!p)
		return err;
	memcpy(p, src, (size_t)len);
	return 0;
}

int vq_mem_fill(struct vq_mem *m, uint64_t gpa, int c, uint64_t len)
{
	int err;
	void *p = vq_mem_translate(m, gpa, len, VQ_ACC_WRITE, &err);

	if (!p)
		return err;
	memset(p, c, (size_t)len);
	return 0;
}

/* Scalars: memcpy, because a guest address need not be aligned. */
#define MEM_SCALAR(bits, conv)                                                     \
	int vq_mem_read##bits(struct vq_mem *m, uint64_t gpa, uint##bits##_t *v)   \
	{                                                                          \
		uint##bits##_t x;                                                  \
		int err;                                                           \
		void *p = vq_mem_translate(m, gpa, sizeof(x), VQ_ACC_READ, &err);  \
		if (!p)                                                            \
			return err;                                                \
		memcpy(&x, p, sizeof(x));                                          \
		*v = conv(x);                                                      \
		return 0;                                                          \
	}                                                                          \
	int vq_mem_write##bits(struct vq_mem *m, uint64_t gpa, uint##bits##_t v)   \
	{                                                                          \
		uint##bits##_t x = conv(v);                                        \
		int err;                                                           \
		void *p = vq_mem_translate(m, gpa, sizeof(x), VQ_ACC_WRITE, &err); \
		if (!p)                                                            \
			return err;                                                \
		memcpy(p, &x, sizeof(x));                                          \
		return 0;                                                          \
	}

#define MEM_NOCONV(x) (x)
MEM_SCALAR(8, MEM_NOCONV)
MEM_SCALAR(16, VQ_LE16)
MEM_SCALAR(32, VQ_LE32)
MEM_SCALAR(64, VQ_LE64)

int vq_mem_fault_add(struct vq_mem *m, uint64_t gpa, uint64_t len, unsigned access)
{
	int id;

	if (len == 0 || gpa + (len - 1) < gpa)
		return -VQ_E_INVAL;
	if (access == 0 || (access & ~(unsigned)VQ_ACC_RW))
		return -VQ_E_INVAL;
	if (m->fault_used == UINT64_MAX >> (64 - VQ_MEM_MAX_FAULTS))
		return -VQ_E_NOSPC;
	id = __builtin_ctzll(~m->fault_used);
	m->faults[id] = (struct vq_mem_fault){ .gpa = gpa, .len = len, .access = access };
	m->fault_used |= 1ull << id;
	m->hot.generation++;
	update_slow(m);
	return id;
}

int vq_mem_fault_remove(struct vq_mem *m, int id)
{
	if (id < 0 || id >= VQ_MEM_MAX_FAULTS || !(m->fault_used & (1ull << id)))
		return -VQ_E_INVAL;
	m->fault_used &= ~(1ull << id);
	m->hot.generation++;
	update_slow(m);
	return 0;
}

void vq_mem_fault_clear(struct vq_mem *m)
{
	if (!m->fault_used)
		return;
	m->fault_used = 0;
	m->hot.generation++;
	update_slow(m);
}

void vq_mem_set_fault_hook(struct vq_mem *m, vq_mem_fault_fn fn, void *ctx)
{
	m->fault_hook = fn;
	m->fault_hook_ctx = ctx;
}

const struct vq_mem_fault *vq_mem_fault_get(const struct vq_mem *m, int id)
{
	if (id < 0 || id >= VQ_MEM_MAX_FAULTS || !(m->fault_used & (1ull << id)))
		return NULL;
	return &m->faults[id];
}

int vq_mem_dirty_start(struct vq_mem *m)
{
	vq_mem_dirty_stop(m);   /* a restart begins with a clean log */
	for (unsigned i = 0; i < m->nregions; i++) {
		struct vq_region *r = &m->regions[i];
		r->dirty = calloc(bitmap_words(r->size), sizeof(uint64_t));
		if (!r->dirty) {
			vq_mem_dirty_stop(m);
			return -VQ_E_NOMEM;
		}
	}
	m->logging = true;
	m->hot.dirty_on = true;
	update_slow(m);
	return 0;
}

void vq_mem_dirty_stop(struct vq_mem *m)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		free(m->regions[i].dirty);
		m->regions[i].dirty = NULL;
	}
	m->logging = false;
	m->hot.dirty_on = m->write_fn != NULL;
	update_slow(m);
}

/* Marks every region the range touches: a caller writing through a cached
 * pointer has already done the access, so there is nothing to refuse. */
void vq_mem_mark_dirty(struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t n = len ? len : 1;

	if (!m->hot.dirty_on || gpa + n < gpa)
		return;
	if (m->write_fn)
		m->write_fn(m->write_ctx, gpa, n);
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vq_region *r = &m->regions[i];
		if (r->dirty && r->gpa < gpa + n && gpa < r->end)
			region_mark_dirty(r, gpa, n);
	}
}

long vq_mem_dirty_collect(struct vq_mem *m, uint64_t *out, size_t max)
{
	size_t k = 0;

	if (!m->logging)
		return -VQ_E_STATE;
	/* Regions are sorted, so walking them in order gives ascending gpas. */
	for (unsigned i = 0; i < m->nregions && k < max; i++) {
		struct vq_region *r = &m->regions[i];
		size_t words = bitmap_words(r->size);
		for (size_t w = 0; w < words && k < max; w++) {
			while (r->dirty[w] && k < max) {
				int b = __builtin_ctzll(r->dirty[w]);
				r->dirty[w] &= r->dirty[w] - 1;
				out[k++] = r->gpa + (((uint64_t)w * BITS_PER_WORD + (unsigned)b)
						     << PAGE_SHIFT);
			}
		}
	}
	return (long)k;
}

/* The punched pages change (they read back as zeroes), so they are logged
 * as dirty like any other write. */
int vq_mem_punch(struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	int i;

	if (len == 0 || (gpa | len) & (VQ_PAGE_SIZE - 1))
		return -VQ_E_INVAL;
	if (gpa + len < gpa || (i = region_index(m, gpa)) < 0)
		return -VQ_E_MEM_UNMAPPED;
	/* back-to-back regions serve a range between them, as translation does:
	 * check the whole range before punching any of it */
	for (unsigned k = (unsigned)i; m->regions[k].end < gpa + len; k++)
		if (k + 1 >= m->nregions || m->regions[k + 1].gpa != m->regions[k].end)
			return -VQ_E_MEM_UNMAPPED;
	for (unsigned k = (unsigned)i; len; k++) {
		const struct vq_region *r = &m->regions[k];
		uint64_t n = r->end - gpa < len ? r->end - gpa : len;

		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(gpa - r->gpa + r->fd_off), (off_t)n) < 0)
			return -VQ_E_SYS;
		if (r->dirty)
			region_mark_dirty(r, gpa, n);
		gpa += n;
		len -= n;
	}
	return 0;
}

void vq_mem_get_stats(const struct vq_mem *m, struct vq_mem_stats *st)
{
	*st = m->st;
	st->translations = m->hot.translations;
}

/* The hook rides on the dirty-logging slow path: while it is set the inline
 * hit path is off, exactly as while logging, and nothing changes when unset. */
void vq_mem_set_write_hook(struct vq_mem *m, vq_mem_write_fn fn, void *ctx)
{
	m->write_fn = fn;
	m->write_ctx = ctx;
	m->hot.dirty_on = m->logging || fn != NULL;
	update_slow(m);
}
