/* blk.c - virtio-blk, the block device (spec 5.2).
 *
 * N request queues (N = queues=, exposed through VIRTIO_BLK_F_MQ) over one
 * backend (emu/backend/block.h: ram or a raw image file). Requests are
 * served synchronously when their queue is notified: the header is copied
 * out once, the data moves between the backend and guest memory through an
 * iovec built from the chain's segments (no bounce buffer), and the status
 * byte goes into the last device-writable byte of the chain, wherever the
 * driver put it (spec 2.7.4: no assumption on descriptor layout).
 *
 * Used length: every answered request reports all its writable bytes,
 * status included (the driver may not look past used.len, 2.7.8.2), and
 * the device writes all of them (2.7.8.1): the data area a request did not
 * fill (an error, a short read, a GET_ID buffer past 20 bytes, writable
 * bytes before the status of an OUT/FLUSH) is zeroed. QEMU reports the same
 * length without writing those bytes; zeroing makes the length true at a
 * cost no larger than a read of the same size.
 *
 * Answers to malformed requests (spec 5.2.6, and where the spec is silent):
 * - no device-writable byte at all: there is nowhere to put a status, so
 *   the chain is returned with used length 0 (the used length is the one
 *   honest thing left to say: nothing was written) and counted in
 *   no_status; the device stays usable for well-formed requests, which a
 *   DEVICE_NEEDS_RESET would take down with it. The same for exactly 4 GiB
 *   writable: the status byte at 2^32 - 1 is past what a 32-bit used
 *   length can cover, so no answer could be reported.
 * - fewer than 16 readable bytes (the type cannot be read): IOERR, the
 *   spec's status for a driver error.
 * - sectors beyond capacity, data not a multiple of 512 (IN/OUT) or of 16
 *   (DISCARD/WRITE_ZEROES), more ranges than max_*_seg or a range longer
 *   than max_*_sectors, GET_ID with less than 20 data bytes: IOERR.
 * - OUT/DISCARD/WRITE_ZEROES on a read-only disk: IOERR, nothing written.
 * - unknown types, and FLUSH/DISCARD/WRITE_ZEROES whose feature was not
 *   negotiated, unknown range flags or unmap on DISCARD: UNSUPP.
 * seg_max and size_max are advertised to the driver but, as the spec puts
 * no device requirement on them, not enforced beyond the ring's own bound
 * (a chain is never longer than the queue).
 *
 * Cache mode: writeback=1 lets writes sit in the backend (page cache) until
 * a FLUSH; writeback=0 syncs the backend after every write before it
 * completes. The mode is fixed at FEATURES_OK from what was negotiated
 * (spec 5.2.6.2 "stable writes") and, with CONFIG_WCE, changed by the
 * driver writing the writeback config byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "dev.h"
#include "backend/block.h"

#define BLK_QUEUE_MAX_DEFAULT 256
#define BLK_RAM_SIZE_DEFAULT (64ull << 20)
#define BLK_SIZE_MAX_DEFAULT (1u << 20)
#define BLK_DWZ_SEG_MAX 32              /* ranges a DISCARD/WRITE_ZEROES may carry */
#define BLK_DWZ_SECTORS_MAX 0x3fffffu   /* sectors a range may cover (2 GiB - 512) */
#define BLK_HDR_BYTES ((uint32_t)sizeof(struct virtio_blk_outhdr))

_Static_assert(sizeof(struct virtio_blk_config) == 72, "virtio_blk_config is 72 bytes");
_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio_blk_outhdr is 16 bytes");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "dwz range is 16 bytes");
_Static_assert(offsetof(struct virtio_blk_config, writeback) == 32, "writeback at 32");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "num_queues at 34");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56, "wzmu at 56");

struct blk {
	struct vq_blk_backend *be;
	uint64_t capacity;            /* sectors */
	bool readonly;
	bool opt_flush;               /* FLUSH (and CONFIG_WCE) offered */
	bool opt_writeback;           /* cache mode after reset */
	uint8_t writeback;            /* current cache mode */
	bool has_serial;
	uint8_t serial[VIRTIO_BLK_ID_BYTES];
	unsigned nqueues;
	uint16_t queue_max;
	uint32_t seg_max, size_max, blk_size;
	struct virtio_blk_config cfg; /* d->config points here */
	struct vq_chain chain;        /* reused across requests */
	struct iovec *iov;            /* data segments of the current request */
	uint32_t iov_cap;
	struct virtio_blk_discard_write_zeroes ranges[BLK_DWZ_SEG_MAX];
	struct vq_blk_stats stats;
	const char *why;              /* why the current request failed, for the trace */
	uint64_t filled;              /* data bytes the current request placed from
					 writable offset 0 on (the rest is zeroed) */
};

static const struct vq_dev_class blk_class;

/* ---- config space ---- */

/* Rebuild the config bytes from device state (also undoes driver writes to
 * read-only fields). */
static void blk_config_build(struct blk *b)
{
	struct virtio_blk_config *c = &b->cfg;

	memset(c, 0, sizeof(*c));
	c->capacity = VQ_LE64(b->capacity);
	c->size_max = VQ_LE32(b->size_max);
	c->seg_max = VQ_LE32(b->seg_max);
	c->blk_size = VQ_LE32(b->blk_size);
	c->topology.physical_block_exp = 0;
	c->topology.alignment_offset = 0;
	c->topology.min_io_size = VQ_LE16(1);
	c->topology.opt_io_size = VQ_LE32(0);
	c->writeback = b->writeback;
	c->num_queues = VQ_LE16((uint16_t)b->nqueues);
	c->max_discard_sectors = VQ_LE32(BLK_DWZ_SECTORS_MAX);
	c->max_discard_seg = VQ_LE32(BLK_DWZ_SEG_MAX);
	c->discard_sector_alignment = VQ_LE32(b->blk_size / VIRTIO_BLK_SECTOR_SIZE);
	c->max_write_zeroes_sectors = VQ_LE32(BLK_DWZ_SECTORS_MAX);
	c->max_write_zeroes_seg = VQ_LE32(BLK_DWZ_SEG_MAX);
	c->write_zeroes_may_unmap = 1; /* both backends deallocate on unmap */
}

static void blk_config_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	struct blk *b = d->priv;
	const uint32_t wb = offsetof(struct virtio_blk_config, writeback);
	uint8_t wrote[sizeof(struct virtio_blk_config)];
	const uint8_t *now = (const uint8_t *)&b->cfg;
	bool ignored = false;

	memcpy(wrote, &b->cfg, sizeof(wrote)); /* what the driver left there */
	if (off <= wb && wb - off < len) {
		uint8_t v = wrote[wb];
		/* spec 5.2.5: writable only with CONFIG_WCE, and after FEATURES_OK */
		if (vq_dev_has_feature(d, VIRTIO_BLK_F_CONFIG_WCE) &&
		    (d->status & VIRTIO_STATUS_FEATURES_OK) && v <= 1) {
			if (v != b->writeback)
				vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "blk cache mode %s",
					 v ? "writeback" : "writethrough");
			b->writeback = v;
		}
	}
	blk_config_build(b);
	for (uint32_t i = off; i < off + len && i < sizeof(wrote); i++)
		if (wrote[i] != now[i])
			ignored = true;
	if (ignored) {
		b->stats.config_ignored++;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1,
			 "blk config write of %u bytes at 0x%x ignored (read-only field, "
			 "writeback without CONFIG_WCE, or a value other than 0/1)", len, off);
	}
}

/* ---- features, reset ---- */

/* Cache mode once features are known (spec 5.2.5 and 5.2.6.2). */
static uint8_t blk_initial_writeback(const struct vq_dev *d, const struct blk *b)
{
	bool wce = vq_dev_has_feature(d, VIRTIO_BLK_F_CONFIG_WCE);
	bool flush = vq_dev_has_feature(d, VIRTIO_BLK_F_FLUSH);

	if (wce)
		return flush && b->opt_writeback; /* CONFIG_WCE without FLUSH: must be 0 */
	if (flush)
		return b->opt_writeback;
	if (b->opt_flush)
		return 0; /* FLUSH offered but refused: writes must be stable on completion */
	return b->opt_writeback; /* no FLUSH offered: the device may cache */
}

static int blk_validate_features(struct vq_dev *d, const uint64_t *features)
{
	struct blk *b = d->priv;

	(void)features; /* d->driver_features holds the same bits */
	b->writeback = blk_initial_writeback(d, b);
	/* without MQ there is one request queue (spec 5.2.2): the others read
	 * QueueNumMax 0, i.e. do not exist, until the next reset */
	if (!vq_dev_has_feature(d, VIRTIO_BLK_F_MQ))
		vq_dev_limit_queues(d, 1);
	blk_config_build(b);
	return 0;
}

static void blk_reset(struct vq_dev *d)
{
	struct blk *b = d->priv;

	b->writeback = b->opt_writeback;
	blk_config_build(b);
}

/* ---- requests ---- */

/* Are sectors [sector, sector + n) on the disk? */
static bool blk_range_ok(const struct blk *b, uint64_t sector, uint64_t n)
{
	return sector <= b->capacity && n <= b->capacity - sector;
}

/* Point b->iov at bytes [skip, skip + len) of the readable (or writable)
 * part of c. Returns the iovec count, or -VQ_E_NOMEM. */
static int blk_iov(struct blk *b, const struct vq_chain *c, bool writable, uint64_t skip,
		   uint64_t len)
{
	uint32_t first = writable ? c->nread : 0, last = writable ? c->nseg : c->nread;
	unsigned n = 0;

	if (c->nseg > b->iov_cap) {
		/* never more than the longest chain, i.e. the queue size */
		struct iovec *iov = realloc(b->iov, (size_t)c->nseg * sizeof(*iov));
		if (!iov)
			return -VQ_E_NOMEM;
		b->iov = iov;
		b->iov_cap = c->nseg;
	}
	for (uint32_t i = first; i < last && len; i++) {
		const struct vq_seg *s = &c->seg[i];
		uint64_t take;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		take = s->len - skip;
		if (take > len)
			take = len;
		b->iov[n].iov_base = (uint8_t *)s->host + skip;
		b->iov[n].iov_len = (size_t)take;
		n++;
		len -= take;
		skip = 0;
	}
	return (int)n;
}

/* Count a refused request under counter and say why in the trace. */
static uint8_t blk_refuse(struct blk *b, uint64_t *counter, uint8_t status, const char *why)
{
	if (counter)
		(*counter)++;
	b->why = why;
	return status;
}

static uint8_t blk_backend_failed(struct vq_dev *d, struct blk *b, const char *what, int rc)
{
	b->stats.backend_errors++;
	b->why = "backend failure";
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "blk %s backend %s failed: %s%s%s",
		 b->be->ops->name, what, vq_strerror(rc), rc == -VQ_E_SYS ? ": " : "",
		 rc == -VQ_E_SYS ? strerror(b->be->err) : "");
	return VIRTIO_BLK_S_IOERR;
}

/* Fault points blk.read/write/flush/discard (fault.h): the fault that
 * fires for this request, or NULL (one branch when none is armed). */
static const struct vq_fault *blk_fault(struct vq_dev *d, enum vq_fault_point p,
					uint64_t sector, uint64_t nsectors)
{
	struct vq_fault_ctx c = {.who = d->name, .queue = -1, .has_sector = p != VQ_FP_BLK_FLUSH,
				 .sector = sector, .nsectors = nsectors};

	return vq_fault_check(d->faults, p, &c);
}

/* An injected fault: IOERR; a short transfer first moves the first bytes
 * of the request (arg bytes, default half of it, whole sectors) through
 * the backend as if it had stopped there. */
static uint8_t blk_injected(struct blk *b, const struct vq_fault *f, bool write, uint64_t off,
			    unsigned n, uint64_t len)
{
	b->stats.backend_errors++;
	b->why = "injected fault";
	if (f && f->spec.action == VQ_FA_SHORT) {
		uint64_t keep = f->spec.arg ? f->spec.arg : len / 2 / VIRTIO_BLK_SECTOR_SIZE *
							  VIRTIO_BLK_SECTOR_SIZE;
		uint64_t moved = 0;
		unsigned k = 0;

		for (; k < n && keep; k++) { /* trim the iovec to keep bytes */
			if (b->iov[k].iov_len > keep)
				b->iov[k].iov_len = (size_t)keep;
			keep -= b->iov[k].iov_len;
			moved += b->iov[k].iov_len;
		}
		if (k)
			(void)(write ? b->be->ops->write(b->be, off, b->iov, k)
				     : b->be->ops->read(b->be, off, b->iov, k));
		if (!write)
			b->filled = moved; /* the short read's bytes stay in place */
		b->why = write ? "injected fault: short write" : "injected fault: short read";
	}
	return VIRTIO_BLK_S_IOERR;
}

/* Writethrough: make a completed write stable before it is reported. */
static uint8_t blk_after_write(struct vq_dev *d, struct blk *b)
{
	int rc;

	if (b->writeback)
		return VIRTIO_BLK_S_OK;
	b->stats.syncs++;
	if (blk_fault(d, VQ_FP_BLK_FLUSH, 0, 0))
		return blk_injected(b, NULL, false, 0, 0, 0);
	rc = b->be->ops->flush(b->be);
	return rc < 0 ? blk_backend_failed(d, b, "sync", rc) : VIRTIO_BLK_S_OK;
}

static uint8_t blk_in(struct vq_dev *d, struct blk *b, const struct vq_chain *c,
		      uint64_t sector)
{
	uint64_t len = c->write_bytes - 1; /* all writable bytes but the status */
	const struct vq_fault *f;
	int n, rc;

	b->stats.req_in++;
	if (len % VIRTIO_BLK_SECTOR_SIZE) {
		return blk_refuse(b, &b->stats.bad_length, VIRTIO_BLK_S_IOERR, "data length not whole sectors/ranges");
	}
	if (!blk_range_ok(b, sector, len / VIRTIO_BLK_SECTOR_SIZE)) {
		return blk_refuse(b, &b->stats.out_of_range, VIRTIO_BLK_S_IOERR, "beyond capacity or a max_* limit");
	}
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	n = blk_iov(b, c, true, 0, len);
	if (n < 0)
		return blk_backend_failed(d, b, "iovec", n);
	if ((f = blk_fault(d, VQ_FP_BLK_READ, sector, len / VIRTIO_BLK_SECTOR_SIZE)))
		return blk_injected(b, f, false, sector * VIRTIO_BLK_SECTOR_SIZE, (unsigned)n,
				    len);
	rc = b->be->ops->read(b->be, sector * VIRTIO_BLK_SECTOR_SIZE, b->iov, (unsigned)n);
	if (rc < 0)
		return blk_backend_failed(d, b, "read", rc);
	b->stats.bytes_read += len;
	b->filled = len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_out(struct vq_dev *d, struct blk *b, const struct vq_chain *c,
		       uint64_t sector)
{
	uint64_t len = c->read_bytes - BLK_HDR_BYTES;
	const struct vq_fault *f;
	int n, rc;

	b->stats.req_out++;
	if (b->readonly) {
		return blk_refuse(b, &b->stats.readonly_refused, VIRTIO_BLK_S_IOERR, "write to a read-only disk");
	}
	if (len % VIRTIO_BLK_SECTOR_SIZE) {
		return blk_refuse(b, &b->stats.bad_length, VIRTIO_BLK_S_IOERR, "data length not whole sectors/ranges");
	}
	if (!blk_range_ok(b, sector, len / VIRTIO_BLK_SECTOR_SIZE)) {
		return blk_refuse(b, &b->stats.out_of_range, VIRTIO_BLK_S_IOERR, "beyond capacity or a max_* limit");
	}
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	n = blk_iov(b, c, false, BLK_HDR_BYTES, len);
	if (n < 0)
		return blk_backend_failed(d, b, "iovec", n);
	if ((f = blk_fault(d, VQ_FP_BLK_WRITE, sector, len / VIRTIO_BLK_SECTOR_SIZE)))
		return blk_injected(b, f, true, sector * VIRTIO_BLK_SECTOR_SIZE, (unsigned)n,
				    len);
	rc = b->be->ops->write(b->be, sector * VIRTIO_BLK_SECTOR_SIZE, b->iov, (unsigned)n);
	if (rc < 0)
		return blk_backend_failed(d, b, "write", rc);
	b->stats.bytes_written += len;
	return blk_after_write(d, b);
}

static uint8_t blk_flush(struct vq_dev *d, struct blk *b)
{
	int rc;

	b->stats.req_flush++;
	if (!vq_dev_has_feature(d, VIRTIO_BLK_F_FLUSH)) {
		return blk_refuse(b, &b->stats.not_negotiated, VIRTIO_BLK_S_UNSUPP, "feature not negotiated");
	}
	b->stats.syncs++;
	if (blk_fault(d, VQ_FP_BLK_FLUSH, 0, 0))
		return blk_injected(b, NULL, false, 0, 0, 0);
	rc = b->be->ops->flush(b->be);
	return rc < 0 ? blk_backend_failed(d, b, "flush", rc) : VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct blk *b, const struct vq_chain *c)
{
	b->stats.req_get_id++;
	if (!b->has_serial)
		return blk_refuse(b, NULL, VIRTIO_BLK_S_UNSUPP, "no serial: the device has no ID");
	if (c->write_bytes - 1 < VIRTIO_BLK_ID_BYTES) {
		return blk_refuse(b, &b->stats.bad_length, VIRTIO_BLK_S_IOERR, "data length not whole sectors/ranges");
	}
	b->filled = vq_chain_write(c, 0, b->serial, VIRTIO_BLK_ID_BYTES);
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: every range is copied out once and checked
 * before any is carried out, so a refused request changes nothing. */
static uint8_t blk_dwz(struct vq_dev *d, struct blk *b, const struct vq_chain *c, bool discard)
{
	uint64_t len = c->read_bytes - BLK_HDR_BYTES;
	unsigned nr;

	if (discard)
		b->stats.req_discard++;
	else
		b->stats.req_write_zeroes++;
	if (!vq_dev_has_feature(d, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)) {
		return blk_refuse(b, &b->stats.not_negotiated, VIRTIO_BLK_S_UNSUPP, "feature not negotiated");
	}
	if (len == 0 || len % sizeof(b->ranges[0])) {
		return blk_refuse(b, &b->stats.bad_length, VIRTIO_BLK_S_IOERR, "data length not whole sectors/ranges");
	}
	if (len > sizeof(b->ranges)) { /* more than max_*_seg ranges */
		return blk_refuse(b, &b->stats.out_of_range, VIRTIO_BLK_S_IOERR, "beyond capacity or a max_* limit");
	}
	nr = (unsigned)(len / sizeof(b->ranges[0]));
	vq_chain_read(c, BLK_HDR_BYTES, b->ranges, (size_t)len);
	for (unsigned i = 0; i < nr; i++) {
		uint32_t flags = VQ_LE32(b->ranges[i].flags);

		if ((flags & ~VIRTIO_BLK_WZ_F_UNMAP) || (discard && flags))
			return blk_refuse(b, NULL, VIRTIO_BLK_S_UNSUPP, /* spec 5.2.6.2 */
					  "unknown range flag, or unmap on a discard");
	}
	for (unsigned i = 0; i < nr; i++) {
		uint32_t n = VQ_LE32(b->ranges[i].num_sectors);

		if (n > BLK_DWZ_SECTORS_MAX || !blk_range_ok(b, VQ_LE64(b->ranges[i].sector), n)) {
			return blk_refuse(b, &b->stats.out_of_range, VIRTIO_BLK_S_IOERR, "beyond capacity or a max_* limit");
		}
	}
	if (b->readonly) {
		return blk_refuse(b, &b->stats.readonly_refused, VIRTIO_BLK_S_IOERR, "write to a read-only disk");
	}
	for (unsigned i = 0; i < nr; i++) {
		uint64_t off = VQ_LE64(b->ranges[i].sector) * VIRTIO_BLK_SECTOR_SIZE;
		uint64_t bytes = (uint64_t)VQ_LE32(b->ranges[i].num_sectors) * VIRTIO_BLK_SECTOR_SIZE;
		bool unmap = VQ_LE32(b->ranges[i].flags) & VIRTIO_BLK_WZ_F_UNMAP;
		int rc;

		if (blk_fault(d, VQ_FP_BLK_DISCARD, VQ_LE64(b->ranges[i].sector),
			      VQ_LE32(b->ranges[i].num_sectors)))
			return blk_injected(b, NULL, true, 0, 0, 0);
		rc = discard ? b->be->ops->discard(b->be, off, bytes)
				 : b->be->ops->write_zeroes(b->be, off, bytes, unmap);

		if (rc < 0)
			return blk_backend_failed(d, b, discard ? "discard" : "write-zeroes", rc);
		if (discard)
			b->stats.bytes_discarded += bytes;
		else
			b->stats.bytes_zeroed += bytes;
	}
	return blk_after_write(d, b);
}

/* Zero the writable bytes [from, to) of c: the part of the data area a
 * request did not fill, so that the used length (which must cover the
 * status byte, the last writable byte) counts only bytes the device wrote
 * (spec 2.7.8.1). Walks the segments once. */
static void blk_zero_gap(const struct vq_chain *c, uint64_t from, uint64_t to)
{
	const struct vq_seg *s;
	struct vq_chain_iter it;
	uint64_t pos = 0;

	for (vq_chain_iter_init(&it, c); from < to && vq_chain_next(&it, &s);) {
		uint64_t end;

		if (!s->writable)
			continue;
		end = pos + s->len;
		if (end > from) {
			uint64_t a = from - pos, b = (end < to ? end : to) - pos;

			memset((uint8_t *)s->host + a, 0, (size_t)(b - a));
			from = pos + b;
		}
		pos = end;
	}
}

/* Serve one chain; returns the used length (bytes written into it).
 * used.len rule: an answered request reports every writable byte (the
 * status byte is the last of them, and a driver may not look past len:
 * 2.7.8.2); whatever data the request did not place there is zeroed first,
 * so that len never claims bytes the device did not write (2.7.8.1). */
static uint32_t blk_request(struct vq_dev *d, struct blk *b, unsigned q,
			    const struct vq_chain *c)
{
	struct virtio_blk_outhdr h;
	uint32_t written, type = 0;
	uint64_t sector = 0;
	bool have_hdr = false;
	uint8_t st;

	if (c->write_bytes == 0 || c->write_bytes > UINT32_MAX) {
		b->stats.no_status++;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "blk head=%u has %s: returned with used length 0, unanswered", c->head,
			 c->write_bytes ? "its status byte at 4 GiB, past what a used length "
					  "can count"
					: "no device-writable status byte");
		return 0;
	}
	written = (uint32_t)c->write_bytes;
	b->filled = 0;
	b->why = NULL;
	if (vq_chain_read(c, 0, &h, sizeof(h)) < sizeof(h)) {
		st = blk_refuse(b, &b->stats.short_header, VIRTIO_BLK_S_IOERR,
				"header shorter than 16 bytes");
	} else {
		have_hdr = true;
		type = VQ_LE32(h.type);
		sector = VQ_LE64(h.sector);
		switch (type) {
		case VIRTIO_BLK_T_IN:
			st = blk_in(d, b, c, sector);
			break;
		case VIRTIO_BLK_T_OUT:
			st = blk_out(d, b, c, sector);
			break;
		case VIRTIO_BLK_T_FLUSH:
			st = blk_flush(d, b);
			break;
		case VIRTIO_BLK_T_GET_ID:
			st = blk_get_id(b, c);
			break;
		case VIRTIO_BLK_T_DISCARD:
			st = blk_dwz(d, b, c, true);
			break;
		case VIRTIO_BLK_T_WRITE_ZEROES:
			st = blk_dwz(d, b, c, false);
			break;
		default:
			st = blk_refuse(b, &b->stats.req_other, VIRTIO_BLK_S_UNSUPP,
					"unknown request type");
			break;
		}
	}
	if (b->filled > c->write_bytes - 1)
		b->filled = c->write_bytes - 1;
	blk_zero_gap(c, b->filled, c->write_bytes - 1);
	vq_chain_write(c, c->write_bytes - 1, &st, 1);
	if (st == VIRTIO_BLK_S_OK)
		b->stats.status_ok++;
	else if (st == VIRTIO_BLK_S_IOERR)
		b->stats.status_ioerr++;
	else
		b->stats.status_unsupp++;
	if (d->tracer && d->tracer->on) {
		char t[16] = "?";

		if (have_hdr)
			snprintf(t, sizeof(t), "%u", type);
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "blk head=%u type=%s sector=%llu read=%llu write=%llu status=%u len=%u%s%s",
			 c->head, t, (unsigned long long)sector, (unsigned long long)c->read_bytes,
			 (unsigned long long)c->write_bytes, st, written, b->why ? ": " : "",
			 b->why ? b->why : "");
	}
	return written;
}

static void blk_queue_notify(struct vq_dev *d, unsigned q)
{
	struct blk *b = d->priv;
	int rc;

	while ((rc = vq_dev_pop(d, q, &b->chain)) == 1) {
		uint32_t written = blk_request(d, b, q, &b->chain);

		rc = vq_dev_push(d, q, &b->chain, written);
		if (rc < 0 && rc != -VQ_E_RING_USED_LEN)
			return; /* the queue is broken: vq_dev_push marked it */
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

static void blk_destroy(struct vq_dev *d)
{
	struct blk *b = d->priv;

	if (!b)
		return;
	if (b->be)
		b->be->ops->close(b->be);
	vq_chain_release(&b->chain);
	free(b->iov);
	free(b);
	d->priv = NULL;
	d->config = NULL;
	d->config_len = 0;
}

static const struct vq_dev_class blk_class = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.validate_features = blk_validate_features,
	.queue_notify = blk_queue_notify,
	.config_write = blk_config_write,
	.reset = blk_reset,
	.destroy = blk_destroy,
};

/* ---- creation and options ---- */

struct blk_opts {
	bool file;
	char path[4096];
	uint64_t size;
	bool readonly, flush, discard, write_zeroes, writeback;
	bool has_serial;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	uint64_t queues, queue_size, seg_max, size_max, blk_size;
};

static int blk_parse_opts(struct vq_opts *opts, struct blk_opts *o, char *err, size_t errlen)
{
	static const char *const allowed[] = {
		"backend", "size", "path", "readonly", "queues", "queue-size", "serial",
		"discard", "write-zeroes", "flush", "writeback", "seg-max", "size-max",
		"blk-size", NULL};
	const char *backend = "ram", *path = NULL, *serial = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	o->size = BLK_RAM_SIZE_DEFAULT;
	o->flush = o->discard = o->write_zeroes = o->writeback = true;
	o->queues = 1;
	o->queue_size = BLK_QUEUE_MAX_DEFAULT;
	o->size_max = BLK_SIZE_MAX_DEFAULT;
	o->blk_size = VIRTIO_BLK_SECTOR_SIZE;
	if ((rc = vq_opts_check(opts, allowed, err, errlen)) < 0 ||
	    (rc = vq_opts_str(opts, "backend", &backend, err, errlen)) < 0 ||
	    (rc = vq_opts_str(opts, "path", &path, err, errlen)) < 0)
		return rc;
	if (!strcmp(backend, "file")) {
		o->file = true;
	} else if (strcmp(backend, "ram")) {
		snprintf(err, errlen, "blk: backend '%s' unknown (expected ram or file)", backend);
		return -VQ_E_INVAL;
	}
	if (path) {
		if (!o->file) {
			snprintf(err, errlen, "blk: path applies to backend=file only");
			return -VQ_E_INVAL;
		}
		if (strlen(path) >= sizeof(o->path)) {
			snprintf(err, errlen, "blk: path is too long");
			return -VQ_E_INVAL;
		}
		memcpy(o->path, path, strlen(path) + 1);
	}
	if (o->file && !o->path[0]) {
		snprintf(err, errlen, "blk: backend=file needs path=FILE");
		return -VQ_E_INVAL;
	}
	if (vq_opts_has(opts, "size") && o->file) {
		snprintf(err, errlen, "blk: size applies to backend=ram only (a file's size is its own)");
		return -VQ_E_INVAL;
	}
	if ((rc = vq_opts_size(opts, "size", 0, UINT64_MAX, &o->size, err, errlen)) < 0)
		return rc;
	if (o->size == 0 || o->size % 512 || o->size > VQ_BLK_RAM_MAX) {
		const char *v = "";

		vq_opts_str(opts, "size", &v, err, errlen);
		snprintf(err, errlen, "blk: size '%s' must be a non-zero multiple of 512 bytes up "
			 "to 1T (suffixes K, M, G, T)", v);
		return -VQ_E_INVAL;
	}
	if ((rc = vq_opts_bool(opts, "readonly", &o->readonly, err, errlen)) < 0 ||
	    (rc = vq_opts_bool(opts, "flush", &o->flush, err, errlen)) < 0 ||
	    (rc = vq_opts_bool(opts, "discard", &o->discard, err, errlen)) < 0 ||
	    (rc = vq_opts_bool(opts, "write-zeroes", &o->write_zeroes, err, errlen)) < 0 ||
	    (rc = vq_opts_bool(opts, "writeback", &o->writeback, err, errlen)) < 0)
		return rc;
	if ((rc = vq_opts_uint(opts, "queues", 1, VQ_DEV_MAX_QUEUES, &o->queues, err, errlen)) < 0 ||
	    (rc = vq_opts_pow2(opts, "queue-size", 4, VIRTQ_MAX_SIZE, &o->queue_size, err,
			       errlen)) < 0)
		return rc;
	/* a request is header + data segments + status, and a chain is at most
	 * one queue long */
	o->seg_max = o->queue_size - 2;
	if ((rc = vq_opts_uint(opts, "seg-max", 1, o->queue_size - 2, &o->seg_max, err,
			       errlen)) < 0 ||
	    (rc = vq_opts_size(opts, "size-max", 512, UINT64_C(1) << 31, &o->size_max, err,
			       errlen)) < 0 ||
	    (rc = vq_opts_size(opts, "blk-size", 512, 65536, &o->blk_size, err, errlen)) < 0)
		return rc;
	if (o->blk_size & (o->blk_size - 1)) {
		snprintf(err, errlen, "blk: blk-size '%" PRIu64 "' must be a power of two from 512 "
			 "to 65536", o->blk_size);
		return -VQ_E_INVAL;
	}
	if ((rc = vq_opts_str(opts, "serial", &serial, err, errlen)) < 0)
		return rc;
	if (serial) {
		size_t n = strlen(serial);

		if (n > VIRTIO_BLK_ID_BYTES) {
			snprintf(err, errlen, "blk: serial '%s' is longer than %u bytes", serial,
				 VIRTIO_BLK_ID_BYTES);
			return -VQ_E_INVAL;
		}
		for (size_t i = 0; i < n; i++) {
			if (serial[i] < 0x20 || serial[i] > 0x7e) {
				snprintf(err, errlen, "blk: serial must be printable ASCII");
				return -VQ_E_INVAL;
			}
		}
		o->has_serial = true;
		memcpy(o->serial, serial, n + 1);
	}
	return 0;
}

static int blk_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
		      const char *name, struct vq_opts *opts, char *err, size_t errlen)
{
	struct blk_opts *o;
	struct blk *b;
	char berr[160];
	uint64_t lo;
	int rc;

	(void)prng;
	o = calloc(1, sizeof(*o));
	b = calloc(1, sizeof(*b));
	if (!o || !b) {
		snprintf(err, errlen, "blk: out of memory");
		rc = -VQ_E_NOMEM;
		goto fail;
	}
	if ((rc = blk_parse_opts(opts, o, err, errlen)) < 0)
		goto fail;
	b->be = o->file ? vq_blk_file_open(o->path, o->readonly, berr, sizeof(berr))
			: vq_blk_ram_open(o->size, o->readonly, berr, sizeof(berr));
	if (!b->be) {
		if (o->file)
			snprintf(err, errlen, "blk: path=%s: %s", o->path, berr);
		else
			snprintf(err, errlen, "blk: size=%llu: %s", (unsigned long long)o->size, berr);
		rc = o->file ? -VQ_E_SYS : -VQ_E_INVAL;
		goto fail;
	}
	b->capacity = b->be->ops->size(b->be) / VIRTIO_BLK_SECTOR_SIZE;
	b->readonly = o->readonly;
	b->opt_flush = o->flush;
	b->opt_writeback = o->writeback;
	b->writeback = o->writeback;
	b->has_serial = o->has_serial;
	memcpy(b->serial, o->serial, VIRTIO_BLK_ID_BYTES); /* NUL-padded by calloc */
	b->nqueues = (unsigned)o->queues;
	b->queue_max = (uint16_t)o->queue_size;
	b->seg_max = (uint32_t)o->seg_max;
	b->size_max = (uint32_t)o->size_max;
	b->blk_size = (uint32_t)o->blk_size;
	vq_chain_init(&b->chain);
	lo = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
	     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |
	     (1ull << VIRTIO_BLK_F_MQ) | (1ull << VIRTIO_F_INDIRECT_DESC) |
	     (1ull << VIRTIO_F_EVENT_IDX);
	if (o->readonly)
		lo |= 1ull << VIRTIO_BLK_F_RO;
	if (o->flush) /* spec 5.2.5: CONFIG_WCE only with FLUSH */
		lo |= (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_CONFIG_WCE);
	if (o->discard)
		lo |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (o->write_zeroes)
		lo |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	rc = vq_dev_init(d, &blk_class, name, mem, b->nqueues, b->queue_max, lo, 0);
	if (rc < 0) {
		snprintf(err, errlen, "blk: %s", vq_strerror(rc));
		goto fail;
	}
	blk_config_build(b);
	d->priv = b;
	d->config = (uint8_t *)&b->cfg;
	d->config_len = sizeof(b->cfg);
	free(o);
	return 0;
fail:
	if (b && b->be)
		b->be->ops->close(b->be);
	free(b);
	free(o);
	return rc;
}

static const struct blk *blk_of(const struct vq_dev *d)
{
	return d && d->cls == &blk_class ? d->priv : NULL;
}

int vq_blk_get_stats(const struct vq_dev *d, struct vq_blk_stats *st)
{
	const struct blk *b = blk_of(d);

	if (!b || !st)
		return -VQ_E_INVAL;
	*st = b->stats;
	return 0;
}

uint64_t vq_blk_capacity(const struct vq_dev *d)
{
	const struct blk *b = blk_of(d);

	return b ? b->capacity : 0;
}

int vq_blk_writeback(const struct vq_dev *d)
{
	const struct blk *b = blk_of(d);

	return b ? b->writeback : -VQ_E_INVAL;
}

const struct vq_dev_type vq_blk_type = {
	.name = "blk",
	.summary = "virtio-blk block device (spec 5.2) on a ram disk or a raw image file",
	.options = "backend=ram|file,size=BYTES[K|M|G|T],path=FILE,readonly,queues=N,"
		   "queue-size=N,serial=STRING,discard=on|off,write-zeroes=on|off,flush=on|off,"
		   "writeback=on|off,seg-max=N,size-max=BYTES,blk-size=BYTES",
	.create = blk_create,
};
