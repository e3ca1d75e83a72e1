/* drv/blk.c - reference-driver helpers for virtio-blk: one synchronous
 * request per call, laid out as Linux's virtio_blk does (header, data,
 * status in three descriptors).
 */
#include <stdlib.h>
#include <string.h>

#include "../driver.h"
#include "../dev/blk.h"

#define DRV_BLK_STATUS_UNSET 0xffu  /* no device writes this status */

/* Per-driver helper state (d->dev_state). The request area holds the
 * 16-byte header at +0 and the status byte at +64, in its own cache line
 * so that it is clearly a separate, device-writable buffer. */
struct drv_blk {
	unsigned queue;
	uint64_t req_gpa;
	uint64_t data_gpa;
	uint32_t data_cap;
	uint32_t last_used;
};

static void drv_blk_free(struct vq_drv *d)
{
	free(d->dev_state);
	d->dev_state = NULL;
}

static struct drv_blk *drv_blk_state(struct vq_drv *d)
{
	struct drv_blk *s;

	if (d->dev_state_free == drv_blk_free)
		return d->dev_state;
	if (d->dev_state || d->dev_state_free) /* another device's helpers own the slot */
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->req_gpa = vq_drv_alloc(d, 128, 64);
	if (!s->req_gpa) {
		free(s);
		return NULL;
	}
	d->dev_state = s;
	d->dev_state_free = drv_blk_free;
	return s;
}

/* A data buffer of at least len bytes; grows by allocating anew (the heap
 * is a bump allocator), so callers keep len bounded. 0 on exhaustion. */
static uint64_t drv_blk_data(struct vq_drv *d, struct drv_blk *s, uint32_t len)
{
	if (len > s->data_cap) {
		uint64_t at = vq_drv_alloc(d, len, VQ_PAGE_SIZE);
		if (!at)
			return 0;
		s->data_gpa = at;
		s->data_cap = len;
	}
	return s->data_gpa;
}

/* Submit header(type, sector) + [data of len at data_gpa] + status. */
static int drv_blk_request(struct vq_drv *d, struct drv_blk *s, uint32_t type,
			   uint64_t sector, uint64_t data_gpa, uint32_t len, bool data_writable)
{
	struct vq_mem *mem = vq_machine_mem(d->m);
	struct virtio_blk_outhdr h = {
		.type = VQ_LE32(type), .reserved = 0, .sector = VQ_LE64(sector)};
	struct vq_buf bufs[3];
	unsigned n = 0;
	uint32_t used = 0;
	uint8_t st;
	int rc;

	if (vq_mem_write(mem, s->req_gpa, &h, sizeof(h)) < 0 ||
	    vq_mem_write8(mem, s->req_gpa + 64, DRV_BLK_STATUS_UNSET) < 0)
		return -VQ_E_INVAL;
	bufs[n++] = (struct vq_buf){.gpa = s->req_gpa, .len = sizeof(h), .writable = false};
	if (len)
		bufs[n++] = (struct vq_buf){.gpa = data_gpa, .len = len, .writable = data_writable};
	bufs[n++] = (struct vq_buf){.gpa = s->req_gpa + 64, .len = 1, .writable = true};
	s->last_used = 0;
	rc = vq_drv_submit(d, s->queue, bufs, n, &used);
	if (rc < 0)
		return rc;
	s->last_used = used;
	if (used == 0)
		return -VQ_E_STATE;
	if ((rc = vq_mem_read8(mem, s->req_gpa + 64, &st)) < 0)
		return rc;
	return st;
}

int vq_drv_blk_select_queue(struct vq_drv *d, unsigned q)
{
	struct drv_blk *s;

	if (q >= VQ_DEV_MAX_QUEUES)
		return -VQ_E_INVAL;
	if (!(s = drv_blk_state(d)))
		return -VQ_E_NOMEM;
	s->queue = q;
	return 0;
}

int vq_drv_blk_read(struct vq_drv *d, uint64_t sector, void *buf, uint32_t len)
{
	struct drv_blk *s = drv_blk_state(d);
	uint64_t data;
	int st, rc;

	if (!s)
		return -VQ_E_NOMEM;
	if (len && !buf)
		return -VQ_E_INVAL;
	data = len ? drv_blk_data(d, s, len) : 0;
	if (len && !data)
		return -VQ_E_NOMEM;
	st = drv_blk_request(d, s, VIRTIO_BLK_T_IN, sector, data, len, true);
	if (st == VIRTIO_BLK_S_OK && len &&
	    (rc = vq_mem_read(vq_machine_mem(d->m), data, buf, len)) < 0)
		return rc;
	return st;
}

int vq_drv_blk_write(struct vq_drv *d, uint64_t sector, const void *buf, uint32_t len)
{
	struct drv_blk *s = drv_blk_state(d);
	uint64_t data;
	int rc;

	if (!s)
		return -VQ_E_NOMEM;
	if (len && !buf)
		return -VQ_E_INVAL;
	data = len ? drv_blk_data(d, s, len) : 0;
	if (len && !data)
		return -VQ_E_NOMEM;
	if (len && (rc = vq_mem_write(vq_machine_mem(d->m), data, buf, len)) < 0)
		return rc;
	return drv_blk_request(d, s, VIRTIO_BLK_T_OUT, sector, data, len, false);
}

int vq_drv_blk_flush(struct vq_drv *d)
{
	struct drv_blk *s = drv_blk_state(d);

	if (!s)
		return -VQ_E_NOMEM;
	return drv_blk_request(d, s, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
}

int vq_drv_blk_get_id(struct vq_drv *d, uint8_t *out20)
{
	struct drv_blk *s = drv_blk_state(d);
	uint64_t data;
	int st, rc;

	if (!s)
		return -VQ_E_NOMEM;
	if (!out20)
		return -VQ_E_INVAL;
	if (!(data = drv_blk_data(d, s, VIRTIO_BLK_ID_BYTES)))
		return -VQ_E_NOMEM;
	st = drv_blk_request(d, s, VIRTIO_BLK_T_GET_ID, 0, data, VIRTIO_BLK_ID_BYTES, true);
	if (st == VIRTIO_BLK_S_OK &&
	    (rc = vq_mem_read(vq_machine_mem(d->m), data, out20, VIRTIO_BLK_ID_BYTES)) < 0)
		return rc;
	return st;
}

/* DISCARD / WRITE_ZEROES with one range. */
static int drv_blk_range(struct vq_drv *d, uint32_t type, uint64_t sector, uint32_t nsectors,
			 uint32_t flags)
{
	struct drv_blk *s = drv_blk_state(d);
	struct virtio_blk_discard_write_zeroes r = {
		.sector = VQ_LE64(sector), .num_sectors = VQ_LE32(nsectors), .flags = VQ_LE32(flags)};
	uint64_t data;
	int rc;

	if (!s)
		return -VQ_E_NOMEM;
	if (!(data = drv_blk_data(d, s, sizeof(r))))
		return -VQ_E_NOMEM;
	if ((rc = vq_mem_write(vq_machine_mem(d->m), data, &r, sizeof(r))) < 0)
		return rc;
	return drv_blk_request(d, s, type, 0, data, sizeof(r), false);
}

int vq_drv_blk_discard(struct vq_drv *d, uint64_t sector, uint32_t nsectors)
{
	return drv_blk_range(d, VIRTIO_BLK_T_DISCARD, sector, nsectors, 0);
}

int vq_drv_blk_write_zeroes(struct vq_drv *d, uint64_t sector, uint32_t nsectors, bool unmap)
{
	return drv_blk_range(d, VIRTIO_BLK_T_WRITE_ZEROES, sector, nsectors,
			     unmap ? VIRTIO_BLK_WZ_F_UNMAP : 0);
}

int64_t vq_drv_blk_capacity(struct vq_drv *d)
{
	uint64_t cap = 0;
	int rc = vq_drv_config_read(d, 0, &cap, sizeof(cap));

	if (rc < 0)
		return rc;
	cap = VQ_LE64(cap);
	return cap > INT64_MAX ? -VQ_E_INVAL : (int64_t)cap;
}

uint32_t vq_drv_blk_used_len(const struct vq_drv *d)
{
	const struct drv_blk *s = d->dev_state_free == drv_blk_free ? d->dev_state : NULL;

	return s ? s->last_used : 0;
}
