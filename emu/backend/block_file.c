/* block_file.c - a block backend on a raw image file (or block device).
 *
 * Byte i of the disk is byte i of the file. Reads and writes go straight
 * between the file and the caller's buffers with preadv/pwritev (the device
 * hands over guest memory, so a request is never copied in between). Flush
 * is fdatasync; discard punches a hole; write-zeroes uses ZERO_RANGE, or
 * PUNCH_HOLE when unmapping is allowed, and writes zeroes when the file
 * system can do neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"

#define ZERO_CHUNK (64u * 1024u)

struct file_backend {
	struct vq_blk_backend be;   /* first: the public part */
	int fd;
	uint64_t size;
	uint8_t *zeroes;            /* ZERO_CHUNK zero bytes, allocated on first need */
};

static struct file_backend *to_file(struct vq_blk_backend *be)
{
	return (struct file_backend *)be;
}

static int file_sys_error(struct file_backend *f, int e)
{
	f->be.err = e;
	return -VQ_E_SYS;
}

static bool file_range_ok(const struct file_backend *f, uint64_t off, uint64_t len)
{
	return off <= f->size && len <= f->size - off;
}

/* preadv/pwritev all of iov at off, resuming after short transfers and in
 * slices of IOV_MAX buffers. */
static int file_rw(struct file_backend *f, uint64_t off, struct iovec *iov, unsigned n,
		   bool write)
{
	if (!file_range_ok(f, off, vq_blk_iov_bytes(iov, n)))
		return -VQ_E_INVAL;
	while (n) {
		int cnt = n > IOV_MAX ? IOV_MAX : (int)n;
		ssize_t done = write ? pwritev(f->fd, iov, cnt, (off_t)off)
				     : preadv(f->fd, iov, cnt, (off_t)off);

		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			return file_sys_error(f, errno);
		if (done == 0) {
			/* skip empty buffers; a real zero transfer means the file shrank */
			if (iov->iov_len == 0) {
				iov++;
				n--;
				continue;
			}
			return file_sys_error(f, EIO);
		}
		off += (uint64_t)done;
		while (n && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n && done) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
}

static int file_read(struct vq_blk_backend *be, uint64_t off, struct iovec *iov, unsigned n)
{
	return file_rw(to_file(be), off, iov, n, false);
}

static int file_write(struct vq_blk_backend *be, uint64_t off, struct iovec *iov, unsigned n)
{
	if (be->readonly)
		return -VQ_E_STATE;
	return file_rw(to_file(be), off, iov, n, true);
}

static int file_flush(struct vq_blk_backend *be)
{
	struct file_backend *f = to_file(be);

	while (fdatasync(f->fd) < 0) {
		if (errno != EINTR)
			return file_sys_error(f, errno);
	}
	return 0;
}

/* fallocate with mode; 1 done, 0 not supported here, negative on error. */
static int file_fallocate(struct file_backend *f, int mode, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 1;
	while (fallocate(f->fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
			return 0;
		return file_sys_error(f, errno);
	}
	return 1;
}

/* The portable way: write zero bytes over the range. */
static int file_write_zero_bytes(struct file_backend *f, uint64_t off, uint64_t len)
{
	if (!f->zeroes) {
		f->zeroes = calloc(1, ZERO_CHUNK);
		if (!f->zeroes)
			return -VQ_E_NOMEM;
	}
	while (len) {
		size_t chunk = len > ZERO_CHUNK ? ZERO_CHUNK : (size_t)len;
		ssize_t done = pwrite(f->fd, f->zeroes, chunk, (off_t)off);

		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			return file_sys_error(f, errno);
		if (done == 0)
			return file_sys_error(f, EIO);
		off += (uint64_t)done;
		len -= (uint64_t)done;
	}
	return 0;
}

static int file_discard(struct vq_blk_backend *be, uint64_t off, uint64_t len)
{
	struct file_backend *f = to_file(be);
	int rc;

	if (be->readonly)
		return -VQ_E_STATE;
	if (!file_range_ok(f, off, len))
		return -VQ_E_INVAL;
	rc = file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	/* discard is a hint: where holes cannot be punched the data may stay */
	return rc < 0 ? rc : 0;
}

static int file_write_zeroes(struct vq_blk_backend *be, uint64_t off, uint64_t len, bool unmap)
{
	struct file_backend *f = to_file(be);
	int rc = 0;

	if (be->readonly)
		return -VQ_E_STATE;
	if (!file_range_ok(f, off, len))
		return -VQ_E_INVAL;
	if (unmap)
		rc = file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	if (rc == 0)
		rc = file_fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
	if (rc == 0)
		rc = file_write_zero_bytes(f, off, len);
	return rc < 0 ? rc : 0;
}

static uint64_t file_size(const struct vq_blk_backend *be)
{
	return ((const struct file_backend *)be)->size;
}

static void file_close(struct vq_blk_backend *be)
{
	struct file_backend *f = to_file(be);

	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->zeroes);
	free(f);
}

static const struct vq_blk_backend_ops file_ops = {
	.name = "file",
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.discard = file_discard,
	.write_zeroes = file_write_zeroes,
	.size = file_size,
	.close = file_close,
};

struct vq_blk_backend *vq_blk_file_open(const char *path, bool readonly, char *err,
					size_t errlen)
{
	struct file_backend *f;
	struct stat st;
	off_t end;

	if (!path || !*path) {
		snprintf(err, errlen, "file: no path given");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "file: out of memory");
		return NULL;
	}
	f->be.ops = &file_ops;
	f->be.readonly = readonly;
	f->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0) {
		snprintf(err, errlen, "file: cannot open '%s'%s: %s", path,
			 readonly ? " read-only" : " read-write", strerror(errno));
		goto fail;
	}
	if (fstat(f->fd, &st) < 0) {
		snprintf(err, errlen, "file: cannot stat '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "file: '%s' is not a regular file or block device", path);
		goto fail;
	}
	/* st_size is 0 for block devices: ask the end of the file instead */
	end = lseek(f->fd, 0, SEEK_END);
	if (end < 0) {
		snprintf(err, errlen, "file: cannot size '%s': %s", path, strerror(errno));
		goto fail;
	}
	f->size = (uint64_t)end;
	if (f->size % 512) {
		snprintf(err, errlen,
			 "file: '%s' is %llu bytes, not a multiple of the 512-byte sector", path,
			 (unsigned long long)f->size);
		goto fail;
	}
	return &f->be;
fail:
	file_close(&f->be);
	return NULL;
}
