/* dev/net.h - virtio-net, the network device (spec 5.1).
 *
 * Constants and little-endian wire layouts of the specification, the device
 * type to create with vq_machine_add_mmio(m, "net", ...), its counters and
 * the host-side controls (link, announce, inject a frame).
 *
 * Options: backend=loopback|pcap|dgram|tap (default loopback),
 * pcap-out=FILE, pcap-in=FILE (backend=pcap), path=LOCAL, peer=REMOTE or
 * fd=N (backend=dgram: fd is a connected datagram socket, duplicated; the
 * caller keeps N), ifname=NAME (backend=tap), mac=xx:xx:xx:xx:xx:xx
 * (default 52:54:00:12:34:56), mtu=68..65535 (1500), queues=N (queue
 * pairs, 1..31), mrg-rxbuf=on|off, csum=on|off, ctrl=on|off (all on),
 * rx-queue=N (frames that may wait for guest buffers, 1..4096, default
 * 256), queue-size=N (256). Values cannot contain commas.
 *
 * Queues (spec 5.1.2): receiveq1 = 0, transmitq1 = 1, ..., receiveqN =
 * 2(N-1), transmitqN = 2(N-1)+1, controlq = 2N, where N is queues= when
 * VIRTIO_NET_F_MQ is negotiated and 1 otherwise. The device always creates
 * 2*queues (+1 with ctrl=on) queues; a queue that the negotiated features
 * give no role ignores notifications (counted in ignored_notifies).
 */
#ifndef VQSIM_DEV_NET_H
#define VQSIM_DEV_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dev.h"

/* Feature bits (spec 5.1.3). */
#define VIRTIO_NET_F_CSUM                 0  /* device takes partially checksummed tx */
#define VIRTIO_NET_F_GUEST_CSUM           1  /* driver takes partially checksummed rx */
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS  2  /* offloads toggled through controlq */
#define VIRTIO_NET_F_MTU                  3  /* mtu in config */
#define VIRTIO_NET_F_MAC                  5  /* mac in config */
#define VIRTIO_NET_F_GUEST_TSO4           7  /* (not offered) */
#define VIRTIO_NET_F_GUEST_TSO6           8
#define VIRTIO_NET_F_GUEST_ECN            9
#define VIRTIO_NET_F_GUEST_UFO           10
#define VIRTIO_NET_F_HOST_TSO4           11
#define VIRTIO_NET_F_HOST_TSO6           12
#define VIRTIO_NET_F_HOST_ECN            13
#define VIRTIO_NET_F_HOST_UFO            14
#define VIRTIO_NET_F_MRG_RXBUF           15  /* rx frames may span several buffers */
#define VIRTIO_NET_F_STATUS              16  /* status in config */
#define VIRTIO_NET_F_CTRL_VQ             17  /* control queue */
#define VIRTIO_NET_F_CTRL_RX             18  /* rx mode + MAC table commands */
#define VIRTIO_NET_F_CTRL_VLAN           19  /* (not offered) */
#define VIRTIO_NET_F_CTRL_RX_EXTRA       20  /* ALLUNI, NOMULTI, NOUNI, NOBCAST */
#define VIRTIO_NET_F_GUEST_ANNOUNCE      21  /* device asks for gratuitous packets */
#define VIRTIO_NET_F_MQ                  22  /* several queue pairs */
#define VIRTIO_NET_F_CTRL_MAC_ADDR       23  /* MAC_ADDR_SET */

/* status field bits. */
#define VIRTIO_NET_S_LINK_UP   1u
#define VIRTIO_NET_S_ANNOUNCE  2u

/* Device configuration layout (spec 5.1.4), little-endian. vqsim exposes
 * the first 12 bytes (through mtu); speed/duplex and the RSS fields belong
 * to features it does not offer. The driver may not write any of it. */
struct virtio_net_config {
	uint8_t mac[6];                /* 0 */
	uint16_t status;               /* 6: VIRTIO_NET_S_* */
	uint16_t max_virtqueue_pairs;  /* 8 */
	uint16_t mtu;                  /* 10 */
} __attribute__((packed));
#define VIRTIO_NET_CONFIG_LEN 12u

/* The header before every frame on rx and tx (spec 5.1.6). With
 * VIRTIO_F_VERSION_1 (always negotiated: vqsim devices are modern only)
 * num_buffers is always there and the header is 12 bytes; the hash fields
 * of VIRTIO_NET_F_HASH_REPORT (20 bytes) are not offered. */
struct virtio_net_hdr {
	uint8_t flags;         /* VIRTIO_NET_HDR_F_* */
	uint8_t gso_type;      /* VIRTIO_NET_HDR_GSO_* */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;  /* rx: buffers the frame spans; tx: 0 */
} __attribute__((packed));
#define VIRTIO_NET_HDR_LEN 12u

#define VIRTIO_NET_HDR_F_NEEDS_CSUM  1u
#define VIRTIO_NET_HDR_F_DATA_VALID  2u
#define VIRTIO_NET_HDR_F_RSC_INFO    4u
#define VIRTIO_NET_HDR_GSO_NONE      0u
#define VIRTIO_NET_HDR_GSO_TCPV4     1u
#define VIRTIO_NET_HDR_GSO_UDP       3u
#define VIRTIO_NET_HDR_GSO_TCPV6     4u
#define VIRTIO_NET_HDR_GSO_UDP_L4    5u
#define VIRTIO_NET_HDR_GSO_ECN    0x80u

/* Control queue (spec 5.1.6.5): class, command, data (device-readable),
 * then one ack byte (device-writable). */
#define VIRTIO_NET_OK   0
#define VIRTIO_NET_ERR  1

#define VIRTIO_NET_CTRL_RX               0
#define VIRTIO_NET_CTRL_RX_PROMISC       0   /* data: u8 0|1 */
#define VIRTIO_NET_CTRL_RX_ALLMULTI      1
#define VIRTIO_NET_CTRL_RX_ALLUNI        2   /* these four need CTRL_RX_EXTRA */
#define VIRTIO_NET_CTRL_RX_NOMULTI       3
#define VIRTIO_NET_CTRL_RX_NOUNI         4
#define VIRTIO_NET_CTRL_RX_NOBCAST       5
#define VIRTIO_NET_CTRL_MAC              1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET    0   /* le32 n, n*6, le32 m, m*6 */
#define VIRTIO_NET_CTRL_MAC_ADDR_SET     1   /* 6 bytes */
#define VIRTIO_NET_CTRL_VLAN             2
#define VIRTIO_NET_CTRL_VLAN_ADD         0
#define VIRTIO_NET_CTRL_VLAN_DEL         1
#define VIRTIO_NET_CTRL_ANNOUNCE         3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK     0
#define VIRTIO_NET_CTRL_MQ               4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET  0   /* le16 virtqueue_pairs */
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN  1
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX  0x8000
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS      5
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET  0 /* le64 offload feature bits */

/* vqsim limits. */
#define VQ_NET_MAX_PAIRS      31u     /* 2*31 + 1 queues fit VQ_DEV_MAX_QUEUES */
#define VQ_NET_ETH_HLEN       14u     /* destination, source, ethertype */
#define VQ_NET_L2_OVERHEAD    18u     /* Ethernet header + one 802.1Q tag */
/* Frame size limit (spec 5.1.4.1: mtu plus the Ethernet header): an
 * untagged frame may be mtu + 14 bytes, a frame whose ethertype is an
 * 802.1Q or 802.1ad tag (0x8100, 0x88a8) mtu + 18, its header being 4
 * bytes longer. No frame is longer than the largest mtu allows: */
#define VQ_NET_FRAME_MAX      (65535u + VQ_NET_L2_OVERHEAD)
#define VQ_NET_MAC_TABLE_MAX  64u     /* entries per table before overflow */
#define VQ_NET_CTRL_DATA_MAX  16384u  /* command-specific data accepted */
#define VQ_NET_RX_QUEUE_MAX   4096u   /* largest rx-queue= */

extern const struct vq_dev_type vq_net_type;

/* Counters of a net device. Every frame the device does not pass on is in
 * exactly one drop counter. */
struct vq_net_stats {
	uint64_t tx_frames, tx_bytes;   /* handed to the backend (bytes: frame, no header) */
	uint64_t rx_frames, rx_bytes;   /* placed in guest buffers */
	uint64_t rx_queued;             /* frames that had to wait for guest buffers */
	uint64_t rx_drop_queue_full;    /* no guest buffers and rx-queue frames waiting */
	uint64_t rx_drop_too_big;       /* longer than mtu + 14 (+ 18 if tagged) */
	uint64_t rx_drop_runt;          /* shorter than an Ethernet header */
	uint64_t rx_drop_buf_small;     /* larger than the posted buffer (no MRG_RXBUF),
					   or than a whole ring of buffers (MRG_RXBUF) */
	uint64_t rx_drop_filtered;      /* refused by the rx mode or the MAC table */
	uint64_t rx_drop_link_down;     /* arrived while the link was down */
	uint64_t rx_drop_reset;         /* waiting frames discarded by a device reset */
	uint64_t rx_bad_buffers;        /* rx buffers under 12 writable bytes: used, len 0 */
	uint64_t tx_errors;             /* tx chains not sent; one reason counter each: */
	uint64_t tx_hdr_short;          /*   chain shorter than the 12-byte header */
	uint64_t tx_bad_frame;          /*   frame under 14 bytes or over mtu + 14
					     (+ 18 if tagged) */
	uint64_t tx_bad_offload;        /*   gso_type set, or csum_start/offset outside */
	uint64_t tx_inactive_queue;     /*   sent on a pair beyond the active pairs */
	uint64_t tx_link_down;          /*   link down */
	uint64_t tx_backend;            /*   backend refused it (socket full, no peer...) */
	uint64_t ctrl_ok, ctrl_err;     /* control commands acked OK / ERR (or unanswerable) */
	uint64_t ignored_notifies;      /* notifications of queues with no role */
	uint64_t announces;             /* vq_net_announce() requests raised */
	uint64_t config_writes;         /* driver writes to read-only config, undone */
	uint64_t backend_read_errors;   /* backend reads that failed: socket errors, a
					   damaged capture record (input ends there) */
	uint64_t rx_drop_truncated;     /* capture records cut short when captured
					   (caplen < len, pcap-in): dropped */
};

/* Counters of net device d. 0, or -VQ_E_INVAL if d is not a net device. */
int vq_net_get_stats(const struct vq_dev *d, struct vq_net_stats *st);

/* Size of struct virtio_net_hdr as negotiated on d: 12 (VERSION_1). */
uint32_t vq_net_hdr_len(const struct vq_dev *d);

/* Ask the driver to announce itself (after a migration): sets
 * VIRTIO_NET_S_ANNOUNCE in status and raises a configuration change
 * interrupt; the driver acknowledges with VIRTIO_NET_CTRL_ANNOUNCE_ACK,
 * which clears the bit. 0, -VQ_E_INVAL (not a net device), -VQ_E_STATE
 * (GUEST_ANNOUNCE or STATUS not negotiated) or -VQ_E_NOT_READY (no
 * DRIVER_OK yet). */
int vq_net_announce(struct vq_dev *d);

/* Bring the link up or down (VIRTIO_NET_S_LINK_UP, configuration change
 * interrupt when it changes). While down, tx frames and arriving frames are
 * dropped and counted. 0 or -VQ_E_INVAL. */
int vq_net_set_link(struct vq_dev *d, bool up);

/* Hand a frame to d as if its backend had received it from the network:
 * the same size checks, rx filter, steering and bounded wait queue. 0, or
 * -VQ_E_INVAL (not a net device, NULL frame with len > 0). Drops are not
 * errors: they are counted in the stats. */
int vq_net_receive(struct vq_dev *d, const void *frame, size_t len);

/* Active queue pairs (1 until VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET), or 0 if d
 * is not a net device. */
unsigned vq_net_active_pairs(const struct vq_dev *d);

/* Name of the TAP interface behind d (backend=tap), else NULL. */
const char *vq_net_tap_ifname(const struct vq_dev *d);

/* A connected pair of UNIX datagram sockets (non-blocking, close-on-exec)
 * to join two net devices, or a device and a program: backend=dgram,fd=sv[0]
 * on one, fd=sv[1] on the other. Each device works on a duplicate, so the
 * caller closes sv[0] and sv[1] when it no longer needs them. 0 or
 * -VQ_E_SYS. */
int vq_net_dgram_socketpair(int sv[2]);

#endif
