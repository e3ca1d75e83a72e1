/* net_internal.h - what the virtio-net device's files share: its state
 * (struct net) and the functions one part calls in another. net.c holds
 * the device class, config space, creation and the host-side API (and
 * describes the device's behaviour); net_frame.c the frame checks
 * (checksum, flow hash, rx filter, mtu limit); net_rx.c receive; net_tx.c
 * transmit and the net.tx / net.rx fault points; net_ctrl.c the control
 * queue.
 */
#ifndef VQSIM_DEV_NET_INTERNAL_H
#define VQSIM_DEV_NET_INTERNAL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "../backend/netdev.h"


#define NET_QUEUE_MAX_DEFAULT 256
#define NET_RXQ_DEFAULT       256
#define NET_MTU_DEFAULT       1500
#define NET_MTU_MIN           68
#define NET_FLOW_SLOTS        256
#define NET_FLOW_NONE         0xff
#define NET_DRAIN_BUDGET      1024   /* frames per drain before yielding to the machine */

enum net_role { ROLE_NONE, ROLE_RX, ROLE_TX, ROLE_CTRL };
enum { DELIVER_DONE = 0, DELIVER_WAIT = 1 };

/* A frame waiting for guest buffers. */
struct net_frame {
	uint32_t len;
	struct vq_net_meta meta;
	uint8_t data[];
};

/* rx chains of one queue popped but not used yet (a ring of cap). */
struct net_stash {
	struct vq_chain *c;
	unsigned head, n, cap;
};

struct net {
	struct vq_dev *dev;
	struct vq_net_backend *be;
	/* options */
	uint8_t conf_mac[6];
	uint16_t mtu;
	unsigned max_pairs;
	unsigned rxq_cap;
	uint32_t max_frame;
	/* state; back to defaults at reset (the link is the host's) */
	uint8_t mac[6];
	bool link_up, announce;
	unsigned pairs;
	bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
	uint8_t uni[VQ_NET_MAC_TABLE_MAX][6], multi[VQ_NET_MAC_TABLE_MAX][6];
	unsigned nuni, nmulti;
	bool uni_overflow, multi_overflow;
	bool guest_csum;               /* rx headers may carry NEEDS_CSUM */
	uint8_t flow[NET_FLOW_SLOTS];  /* pair a flow last sent on */
	struct net_frame **wait;       /* FIFO of rxq_cap */
	unsigned wait_head, wait_n;
	struct net_stash stash[VQ_NET_MAX_PAIRS];
	bool rx_dirty;                 /* pushed rx elements not yet published */
	uint64_t gen;                  /* bumped at reset: stale timers do nothing */
	bool draining, drain_timer;
	uint8_t *txbuf;                /* the frame of one tx chain */
	uint8_t *rxbuf;                /* pulled frames, checksum completion */
	uint8_t *ctrlbuf;
	struct vq_chain chain;         /* tx and ctrl chains */
	struct vq_net_stats st;
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	struct net_frame *held[2];     /* injected reorder (fault.h): [0] tx, [1] rx */
};


static inline bool has(const struct net *n, unsigned bit)
{
	return vq_dev_has_feature(n->dev, bit);
}

static inline uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- net.c ---- */
/* Count one dropped frame or failed command in *ctr and trace why. */
void net_count(struct net *n, uint64_t *ctr, int queue, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Write the config space image (MAC, status, pairs, mtu) from the state. */
void net_config_sync(struct net *n);

/* ---- net_frame.c ---- */
/* Finish a partial checksum: ones' complement sum of f[start..len) stored
 * big-endian at start+off (the caller checked start+off+2 <= len). */
void net_csum_complete(uint8_t *f, uint32_t len, uint32_t start, uint32_t off);
/* Flow hash of a frame of at least 14 bytes (symmetric: both directions
 * of a flow hash alike). */
uint32_t net_flow_hash(const uint8_t *f, uint32_t len);
/* Longest frame f (len >= 14) may be: mtu plus its Ethernet header, 4
 * bytes longer when the frame carries a VLAN tag. */
uint32_t net_frame_limit(const struct net *n, const uint8_t *f);
/* Arrival checks (link, length, rx filter); false, counted and traced,
 * when the frame is dropped. */
bool net_accept(struct net *n, const uint8_t *f, size_t len);

/* ---- net_rx.c ---- */
/* Serve waiting frames in order, then pull-backend frames, while guest
 * buffers last; at most NET_DRAIN_BUDGET frames, then continue in a
 * machine event so a long capture file does not hold the machine. */
void net_drain(struct net *n);
/* The backend's rx callback (and vq_net_receive): a frame from the wire,
 * through the net.rx fault point. */
void net_arrive(void *opaque, const void *frame, size_t len, const struct vq_net_meta *meta);

/* ---- net_tx.c ---- */
/* Where net_fault_pass() sends a frame: the backend, or the receive path. */
typedef int (*net_pass_fn)(struct net *n, const void *f, size_t len,
			   const struct vq_net_meta *meta);
/* Pass one frame on through pass(), with fault point p in the way: the
 * frame may be dropped, passed twice, held back until the next frame has
 * passed (reorder), or have one byte (at offset arg) corrupted. Returns
 * what pass() returned (0 for a frame that was dropped or held). */
int net_fault_pass(struct net *n, enum vq_fault_point p, int q, const void *f, size_t len,
		   const struct vq_net_meta *meta, net_pass_fn pass);
/* Send every available chain of tx queue q (of pair pair), used with
 * length 0 whether sent or dropped; publish. */
void net_tx(struct net *n, unsigned q, unsigned pair);

/* ---- net_ctrl.c ---- */
/* Serve every available chain of the control queue q. */
void net_ctrl(struct net *n, unsigned q);

#endif
