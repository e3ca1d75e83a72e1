/* backend/block.h - where a virtio-blk device keeps its bytes.
 *
 * A block backend is a flat array of size bytes (a multiple of 512) with
 * vectored reads and writes, flush, discard and write-zeroes. Two kinds:
 * ram (anonymous memory, lost at close) and file (a raw image, pread/pwrite).
 * The device checks every range against the capacity before it calls a
 * backend; backends check again and refuse what does not fit. Calls are
 * synchronous; they return 0 or a negative VQ_E_* code (-VQ_E_SYS keeps
 * errno in be->err).
 */
#ifndef VQSIM_BACKEND_BLOCK_H
#define VQSIM_BACKEND_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../base.h"

struct vq_blk_backend;

struct vq_blk_backend_ops {
	const char *name;    /* "ram", "file" */
	/* Fill the n buffers of iov from bytes [off, off + their total). The
	 * backend may modify iov (it advances through it on short transfers). */
	int (*read)(struct vq_blk_backend *be, uint64_t off, struct iovec *iov, unsigned n);
	/* Store the n buffers of iov at [off, off + their total). */
	int (*write)(struct vq_blk_backend *be, uint64_t off, struct iovec *iov, unsigned n);
	/* Make every completed write durable (file: fdatasync). */
	int (*flush)(struct vq_blk_backend *be);
	/* Deallocate [off, off+len) if the backend can; contents afterwards
	 * are unspecified (ram reads back zeroes, and so does a file whose
	 * file system can punch holes; elsewhere the data stays). */
	int (*discard)(struct vq_blk_backend *be, uint64_t off, uint64_t len);
	/* Make [off, off+len) read as zeroes; unmap allows deallocating it. */
	int (*write_zeroes)(struct vq_blk_backend *be, uint64_t off, uint64_t len, bool unmap);
	/* Size in bytes. */
	uint64_t (*size)(const struct vq_blk_backend *be);
	/* Release everything, including be itself. */
	void (*close)(struct vq_blk_backend *be);
};

struct vq_blk_backend {
	const struct vq_blk_backend_ops *ops;
	bool readonly;   /* opened without write access: writes are refused */
	int err;         /* errno of the last -VQ_E_SYS */
};

/* A ram disk of size bytes (a multiple of 512, at most VQ_BLK_RAM_MAX),
 * reading zeroes until written. Memory is mapped lazily: untouched sectors
 * cost nothing. NULL with a message in err on failure. */
#define VQ_BLK_RAM_MAX (1ull << 40)
struct vq_blk_backend *vq_blk_ram_open(uint64_t size, bool readonly, char *err, size_t errlen);

/* A raw image file at path, opened read-write or (readonly) read-only. Its
 * size must be a multiple of 512 bytes: anything else is refused with a
 * message naming the path and the size. NULL with a message in err. */
struct vq_blk_backend *vq_blk_file_open(const char *path, bool readonly, char *err,
					size_t errlen);

/* Byte count of n iovecs. */
static inline uint64_t vq_blk_iov_bytes(const struct iovec *iov, unsigned n)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

#endif
