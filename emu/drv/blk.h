/* drv/blk.h - reference-driver helpers for virtio-blk (spec 5.2).
 *
 * Each helper builds one request the way a guest driver does (header
 * device-readable, data, status byte device-writable, three descriptors)
 * in guest memory the helper allocates once per driver and reuses, submits
 * it on the selected queue (0 unless changed) with vq_drv_submit(), and
 * returns the status byte the device wrote: VIRTIO_BLK_S_OK, _IOERR or
 * _UNSUPP (>= 0), or a negative VQ_E_* error when the request could not be
 * made or the device did not answer: -VQ_E_NOMEM (guest heap exhausted,
 * host allocation), -VQ_E_RING_BROKEN (device went to NEEDS_RESET),
 * -VQ_E_TIMEOUT, -VQ_E_STATE (used length 0: the device wrote no status).
 */
#ifndef VQSIM_DRV_BLK_H
#define VQSIM_DRV_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../driver.h"

/* Send the helpers' requests to queue q from now on. 0 or -VQ_E_INVAL (q
 * out of range) / -VQ_E_NOMEM. */
int vq_drv_blk_select_queue(struct vq_drv *d, unsigned q);
/* Read len bytes (a multiple of 512 for the device to accept them) at
 * sector into buf; buf is filled only when the status is OK. */
int vq_drv_blk_read(struct vq_drv *d, uint64_t sector, void *buf, uint32_t len);
/* Write len bytes of buf at sector. */
int vq_drv_blk_write(struct vq_drv *d, uint64_t sector, const void *buf, uint32_t len);
/* VIRTIO_BLK_T_FLUSH. */
int vq_drv_blk_flush(struct vq_drv *d);
/* VIRTIO_BLK_T_GET_ID: the 20-byte NUL-padded ID into out20 (on OK only). */
int vq_drv_blk_get_id(struct vq_drv *d, uint8_t *out20);
/* VIRTIO_BLK_T_DISCARD of one range. */
int vq_drv_blk_discard(struct vq_drv *d, uint64_t sector, uint32_t nsectors);
/* VIRTIO_BLK_T_WRITE_ZEROES of one range, unmap allowing deallocation. */
int vq_drv_blk_write_zeroes(struct vq_drv *d, uint64_t sector, uint32_t nsectors, bool unmap);
/* Capacity in 512-byte sectors from config space, or a negative error. */
int64_t vq_drv_blk_capacity(struct vq_drv *d);
/* Used length of the last request a helper submitted (0 before any). */
uint32_t vq_drv_blk_used_len(const struct vq_drv *d);

#endif
