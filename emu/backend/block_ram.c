/* block_ram.c - a block backend in anonymous memory.
 *
 * One private anonymous mapping with MAP_NORESERVE: a large disk costs only
 * the pages written to it. Discard (and write-zeroes with unmap) hands whole
 * pages back with MADV_DONTNEED, after which they read as zeroes again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block.h"

struct ram_backend {
	struct vq_blk_backend be;   /* first: the public part */
	uint8_t *mem;
	uint64_t size;
	uint64_t page;
};

static struct ram_backend *to_ram(struct vq_blk_backend *be)
{
	return (struct ram_backend *)be;
}

static bool ram_range_ok(const struct ram_backend *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

static int ram_read(struct vq_blk_backend *be, uint64_t off, struct iovec *iov, unsigned n)
{
	struct ram_backend *r = to_ram(be);

	if (!ram_range_ok(r, off, vq_blk_iov_bytes(iov, n)))
		return -VQ_E_INVAL;
	for (unsigned i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, r->mem + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int ram_write(struct vq_blk_backend *be, uint64_t off, struct iovec *iov, unsigned n)
{
	struct ram_backend *r = to_ram(be);

	if (be->readonly)
		return -VQ_E_STATE;
	if (!ram_range_ok(r, off, vq_blk_iov_bytes(iov, n)))
		return -VQ_E_INVAL;
	for (unsigned i = 0; i < n; i++) {
		memcpy(r->mem + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int ram_flush(struct vq_blk_backend *be)
{
	(void)be; /* nothing outlives the process: every write is as durable as it gets */
	return 0;
}

/* Zero [off, off+len): whole pages are given back, the ragged edges cleared. */
static int ram_unmap(struct ram_backend *r, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	uint64_t a = (off + r->page - 1) & ~(r->page - 1);
	uint64_t b = end & ~(r->page - 1);

	if (a >= b) {
		memset(r->mem + off, 0, len);
		return 0;
	}
	memset(r->mem + off, 0, a - off);
	memset(r->mem + b, 0, end - b);
	if (madvise(r->mem + a, b - a, MADV_DONTNEED) < 0) {
		r->be.err = errno;
		memset(r->mem + a, 0, b - a); /* still zeroes, just not released */
	}
	return 0;
}

static int ram_discard(struct vq_blk_backend *be, uint64_t off, uint64_t len)
{
	struct ram_backend *r = to_ram(be);

	if (be->readonly)
		return -VQ_E_STATE;
	if (!ram_range_ok(r, off, len))
		return -VQ_E_INVAL;
	return ram_unmap(r, off, len);
}

static int ram_write_zeroes(struct vq_blk_backend *be, uint64_t off, uint64_t len, bool unmap)
{
	struct ram_backend *r = to_ram(be);

	if (be->readonly)
		return -VQ_E_STATE;
	if (!ram_range_ok(r, off, len))
		return -VQ_E_INVAL;
	if (unmap)
		return ram_unmap(r, off, len);
	memset(r->mem + off, 0, len);
	return 0;
}

static uint64_t ram_size(const struct vq_blk_backend *be)
{
	return ((const struct ram_backend *)be)->size;
}

static void ram_close(struct vq_blk_backend *be)
{
	struct ram_backend *r = to_ram(be);

	if (!r)
		return;
	if (r->mem)
		munmap(r->mem, r->size);
	free(r);
}

static const struct vq_blk_backend_ops ram_ops = {
	.name = "ram",
	.read = ram_read,
	.write = ram_write,
	.flush = ram_flush,
	.discard = ram_discard,
	.write_zeroes = ram_write_zeroes,
	.size = ram_size,
	.close = ram_close,
};

struct vq_blk_backend *vq_blk_ram_open(uint64_t size, bool readonly, char *err, size_t errlen)
{
	struct ram_backend *r;
	long page = sysconf(_SC_PAGESIZE);

	if (size == 0 || size % 512 || size > VQ_BLK_RAM_MAX) {
		snprintf(err, errlen,
			 "ram: size %llu must be a non-zero multiple of 512 of at most %llu bytes",
			 (unsigned long long)size, (unsigned long long)VQ_BLK_RAM_MAX);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "ram: out of memory");
		return NULL;
	}
	r->be.ops = &ram_ops;
	r->be.readonly = readonly;
	r->size = size;
	r->page = page > 0 ? (uint64_t)page : 4096;
	r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->mem == MAP_FAILED) {
		snprintf(err, errlen, "ram: cannot map %llu bytes: %s", (unsigned long long)size,
			 strerror(errno));
		free(r);
		return NULL;
	}
	return &r->be;
}
