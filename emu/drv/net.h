/* drv/net.h - reference-driver helpers for virtio-net (spec 5.1).
 *
 * What a Linux virtio-net driver does, reduced to calls a test can make:
 * initialise with chosen features (rx/tx queues for every pair the device
 * offers, the control queue when negotiated), keep receive queues filled
 * with buffers, send a frame and wait until the device has taken it,
 * receive a frame (merging MRG_RXBUF buffers) and post its buffers again,
 * and issue control commands. Helpers that submit something run the
 * machine until the device has answered; frames from fd backends arrive
 * only when the caller runs vq_machine_poll().
 */
#ifndef VQSIM_DRV_NET_H
#define VQSIM_DRV_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "../dev/net.h"

struct vq_drv;

/* Receive-buffer choices of vq_drv_net_init (NULL: all defaults). */
struct vq_drv_net_cfg {
	uint32_t rx_buf_len;   /* bytes per rx buffer, header included (>= 12); 0:
				  12 + mtu + 18, mtu from config with VIRTIO_NET_F_MTU,
				  else 1500 */
	uint16_t rx_bufs;      /* buffers per rx queue; 0: the queue size */
	bool no_rx;            /* post none now (vq_drv_net_post_rx later) */
};

/* Negotiate features (net bits and ring bits such as VIRTIO_F_EVENT_IDX,
 * all in the low word; VERSION_1 is added), set up receiveq/transmitq of
 * every pair (max_virtqueue_pairs with VIRTIO_NET_F_MQ, else 1) and the
 * controlq when VIRTIO_NET_F_CTRL_VQ was negotiated, set DRIVER_OK and post
 * rx buffers on every receive queue. 0, -VQ_E_INVAL (bad cfg), -VQ_E_NOMEM
 * (driver heap) or an error of vq_drv_negotiate/setup_queue/driver_ok. */
int vq_drv_net_init(struct vq_drv *d, uint64_t features, const struct vq_drv_net_cfg *cfg);

/* Post up to n more rx buffers (of those not with the device) on pair's
 * receive queue and kick. The count posted, or -VQ_E_STATE (not
 * initialised) / -VQ_E_INVAL (no such pair) / a ring error. */
int vq_drv_net_post_rx(struct vq_drv *d, unsigned pair, unsigned n);

/* Send frame (len bytes, at most 65535) on pair's transmit queue after the
 * header hdr (NULL: all zero; num_buffers is sent as given), and run the
 * machine until the device has used the chain. 0, -VQ_E_INVAL, -VQ_E_STATE,
 * -VQ_E_NOMEM, or an error of vq_drv_submit (-VQ_E_RING_BROKEN when the
 * device went to DEVICE_NEEDS_RESET). */
int vq_drv_net_send(struct vq_drv *d, unsigned pair, const void *frame, uint32_t len,
		    const struct virtio_net_hdr *hdr);

/* Reap one received frame of pair's receive queue, running the machine if
 * none is there yet: the frame's bytes (after the header; with MRG_RXBUF
 * gathered from num_buffers buffers) go to buf (at most cap), the header to
 * *hdr (may be NULL), and every buffer is posted again. Returns the frame
 * length (may exceed cap: then only cap bytes were copied), 0 when no frame
 * came, or a negative error: -VQ_E_RING_USED_ID / -VQ_E_RING_USED_LEN when
 * the device returned a buffer it was not given, a length larger than the
 * buffer or shorter than the header, or num_buffers 0 or more than it
 * published; -VQ_E_RING_BROKEN on DEVICE_NEEDS_RESET. */
long vq_drv_net_recv(struct vq_drv *d, unsigned pair, void *buf, uint32_t cap,
		     struct virtio_net_hdr *hdr);

/* One control command: class, command and len bytes of data (at most
 * VQ_NET_CTRL_DATA_MAX) then an ack byte. Returns the ack (VIRTIO_NET_OK or
 * VIRTIO_NET_ERR, or whatever byte the device wrote), -VQ_E_STATE without
 * a control queue, -VQ_E_INVAL, -VQ_E_RING_USED_LEN when the device wrote
 * no ack, or an error of vq_drv_submit. */
int vq_drv_net_ctrl(struct vq_drv *d, uint8_t cls, uint8_t cmd, const void *data, uint32_t len);

/* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET with n; the ack, or an error as above.
 * The helper's idea of the active pairs follows an OK. */
int vq_drv_net_set_pairs(struct vq_drv *d, unsigned n);

/* The mac field of config space into out (6 bytes). 0 or an error. */
int vq_drv_net_mac(struct vq_drv *d, uint8_t out[6]);

/* The whole config (12 bytes, fields little-endian). 0 or an error. */
int vq_drv_net_config(struct vq_drv *d, struct virtio_net_config *cfg);

/* Queue numbers: receiveq/transmitq of pair, and the controlq (-1 when
 * none was negotiated or the helper is not initialised). */
static inline unsigned vq_drv_net_rxq(unsigned pair) { return 2 * pair; }
static inline unsigned vq_drv_net_txq(unsigned pair) { return 2 * pair + 1; }
int vq_drv_net_ctrlq(const struct vq_drv *d);

/* Queue pairs set up (max_virtqueue_pairs or 1), and those active. 0 when
 * not initialised. */
unsigned vq_drv_net_pairs(const struct vq_drv *d);
unsigned vq_drv_net_active_pairs(const struct vq_drv *d);

#endif
