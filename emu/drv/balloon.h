/* drv/balloon.h - reference-driver helpers for virtio-balloon (spec 5.5).
 *
 * What the Linux balloon driver does, reduced to calls a test can make:
 * initialise with chosen features (queues numbered as spec 5.5.2 says,
 * absent ones taking no index; the first stats buffer posted), inflate and
 * deflate arrays of PFNs, update actual, read the target, answer stats
 * requests, report free ranges and hint free pages. Every helper that sends
 * a request runs the machine until the device has answered it.
 */
#ifndef VQSIM_DRV_BALLOON_H
#define VQSIM_DRV_BALLOON_H

#include <stdint.h>

#include "../dev/balloon.h"

struct vq_drv;

/* PFNs per inflate/deflate request (longer arrays are split). */
#define VQ_DRV_BALLOON_BATCH 256
/* Most stats entries one vq_drv_balloon_send_stats() call may carry. */
#define VQ_DRV_BALLOON_STATS_MAX 32

/* Negotiate features (balloon bits and ring bits such as
 * VIRTIO_F_EVENT_IDX, all in the low word; VERSION_1 is added), set up
 * every queue the negotiated features call for, write poison_val when
 * PAGE_POISON was negotiated (before DRIVER_OK, spec 5.5.6.5.1), set
 * DRIVER_OK, and with STATS_VQ post an empty stats buffer (spec 5.5.5).
 * 0 or an error of vq_drv_negotiate/setup_queue/driver_ok, -VQ_E_NOMEM. */
int vq_drv_balloon_init(struct vq_drv *d, uint64_t features);
int vq_drv_balloon_init_poison(struct vq_drv *d, uint64_t features, uint32_t poison_val);
/* Driver-side index of a queue role, or -1 if that queue is absent. */
int vq_drv_balloon_queue(const struct vq_drv *d, enum vq_balloon_queue role);

/* Give n pages (PFNs, 4 KiB units) to the balloon / take them back, in
 * requests of at most VQ_DRV_BALLOON_BATCH PFNs, each waited for. 0,
 * -VQ_E_INVAL, -VQ_E_STATE (not initialised) or an error of vq_drv_submit. */
int vq_drv_balloon_inflate(struct vq_drv *d, const uint32_t *pfns, uint32_t n);
int vq_drv_balloon_deflate(struct vq_drv *d, const uint32_t *pfns, uint32_t n);
/* Write actual (pages in the balloon) to config space. 0 or an error. */
int vq_drv_balloon_set_actual(struct vq_drv *d, uint32_t pages);
/* Read num_pages, the host's target: >= 0, or a negative error. */
int64_t vq_drv_balloon_target(struct vq_drv *d);

/* Has the device returned the stats buffer (asked for statistics)? Reaps
 * it: 1 yes, 0 still held by the device, negative error (-VQ_E_STATE
 * without STATS_VQ). */
int vq_drv_balloon_stats_requested(struct vq_drv *d);
/* Fill the stats buffer with n (tag, value) entries and give it to the
 * device. Only when the device has returned the previous one (spec
 * 5.5.6.3.1: at most one buffer at a time), else -VQ_E_STATE; also
 * -VQ_E_INVAL (n > VQ_DRV_BALLOON_STATS_MAX) or a ring error. */
int vq_drv_balloon_send_stats(struct vq_drv *d, const uint16_t *tags, const uint64_t *vals,
			      uint32_t n);
/* Report n free ranges (gpa, len) in one request on reporting_vq, as
 * device-writable buffers like Linux does; waits for it. 0, -VQ_E_STATE
 * (no PAGE_REPORTING), -VQ_E_INVAL, -VQ_E_NOMEM or a vq_drv_submit error
 * (-VQ_E_RING_BROKEN when the device refused the chain itself). */
int vq_drv_balloon_report(struct vq_drv *d, const uint64_t *gpas, const uint32_t *lens,
			  uint32_t n);
/* One round of free page hinting: read free_page_hint_cmd_id; if it is a
 * command id (>= 2) send it, then each range as its own device-writable
 * buffer, then VIRTIO_BALLOON_CMD_ID_STOP. 0, -VQ_E_STATE (no
 * FREE_PAGE_HINT, or the device is not asking for hints), -VQ_E_INVAL or a
 * ring error. */
int vq_drv_balloon_hint(struct vq_drv *d, const uint64_t *gpas, const uint32_t *lens,
			uint32_t n);

#endif
