/* backend/netdev.h - where a virtio-net device sends and gets its frames.
 *
 * A net backend takes the Ethernet frames the guest sends (send) and hands
 * the device the frames that arrive for the guest, in one of two ways:
 *  - push: backends fed by a file descriptor (dgram, tap) watch it from
 *    start() with vq_dev_watch_fd(), so frames enter only when the machine
 *    runs vq_machine_poll(); each one is passed to the rx callback, and the
 *    device queues (bounded) or drops it. Loopback calls rx from send.
 *  - pull: a source that can wait (the pcap reader) offers pull(); the
 *    device takes its next frame only when guest buffers are there for it,
 *    so nothing is dropped for lack of buffers.
 * Calls are synchronous and return 0 (or a count) or a negative VQ_E_*
 * code; -VQ_E_SYS keeps errno in be->err.
 */
#ifndef VQSIM_BACKEND_NETDEV_H
#define VQSIM_BACKEND_NETDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base.h"

struct vq_dev;
struct vq_net_backend;

/* Largest frame a backend passes on; frames read longer than this are
 * reported with their true length but only this many bytes of data. */
#define VQ_NET_BACKEND_FRAME_MAX (65535u + 18u) /* mtu 65535, one VLAN tag */

/* Checksum offload state that travels with a frame between two virtio-net
 * drivers when the backend can carry it (loopback): the tx header's
 * NEEDS_CSUM with its csum_start and csum_offset. Zero otherwise. */
struct vq_net_meta {
	uint8_t flags;          /* VIRTIO_NET_HDR_F_NEEDS_CSUM or 0 */
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* The device's receive entry: frame holds min(len, VQ_NET_BACKEND_FRAME_MAX)
 * bytes; a longer len means the frame was truncated on the way in and is
 * only counted. meta may be NULL (no offload state). */
typedef void (*vq_net_rx_fn)(void *opaque, const void *frame, size_t len,
			     const struct vq_net_meta *meta);

struct vq_net_backend_ops {
	const char *name;    /* "loopback", "pcap", "dgram", "tap" */
	/* The device is on a machine (d->env set): watch fds. 0 or an error
	 * (with a message in be->msg). Optional. */
	int (*start)(struct vq_net_backend *be, struct vq_dev *d);
	/* Send one frame of len bytes the guest transmitted. meta is non-NULL
	 * only for a backend with carries_meta. */
	int (*send)(struct vq_net_backend *be, const void *frame, size_t len,
		    const struct vq_net_meta *meta);
	/* Pull sources: copy the next frame (at most cap bytes) to buf and set
	 * *len to its true length. 1 = a frame, 0 = none (for now or for
	 * good), negative on error. Optional. */
	int (*pull)(struct vq_net_backend *be, void *buf, size_t cap, size_t *len);
	/* Stop watching, close, free everything including be. */
	void (*close)(struct vq_net_backend *be);
};

struct vq_net_backend {
	const struct vq_net_backend_ops *ops;
	vq_net_rx_fn rx;         /* set by the device before start() */
	void *rx_opaque;
	struct vq_dev *dev;      /* set by the device before start(): the clock, fd watches */
	bool carries_meta;       /* offload state survives the trip (loopback) */
	int err;                 /* errno of the last -VQ_E_SYS */
	uint64_t read_errors;    /* fd reads that failed (other than EAGAIN), capture
				    records libpcap could not read */
	uint64_t rx_truncated;   /* capture records cut short (caplen < len): dropped */
	char msg[160];           /* why start() failed */
};

/* Loopback: every frame sent comes straight back to the same device's rx,
 * offload state included. NULL only when out of memory. */
struct vq_net_backend *vq_net_loopback_open(char *err, size_t errlen);

/* pcap, through libpcap: out_path (may be NULL) is created/truncated and
 * receives every frame sent as a pcap file (nanosecond magic 0xa1b23c4d,
 * version 2.4, snaplen 65535, LINKTYPE_ETHERNET, host byte order), stamped
 * with the machine's virtual clock. in_path (may be NULL) is any capture
 * libpcap reads (pcap of either byte order and precision, or pcapng) of
 * Ethernet frames, offered to the guest in file order through pull();
 * their timestamps are not used. Records cut short at capture time
 * (caplen < len) are dropped and counted in rx_truncated; an unreadable
 * record ends the input and counts in read_errors (both traced). At least
 * one path. NULL with a message naming the file and the problem in err. */
struct vq_net_backend *vq_net_pcap_open(const char *out_path, const char *in_path, char *err,
					size_t errlen);

/* UNIX datagram socket, one frame per datagram (like QEMU's -netdev dgram
 * with unix addresses). Either path (bind there, removed again at close)
 * with peer (send there; without it frames sent go nowhere), or fd >= 0: a
 * connected datagram socket, of which the backend uses a duplicate (the
 * caller keeps and closes fd; O_NONBLOCK is set on the shared open file).
 * NULL with a message in err. */
struct vq_net_backend *vq_net_dgram_open(const char *path, const char *peer, int fd, char *err,
					 size_t errlen);
/* (vq_net_dgram_socketpair(), declared in dev/net.h, makes a pair of
 * sockets for fd=.) */

/* Linux TAP interface (/dev/net/tun, IFF_TAP | IFF_NO_PI) called ifname
 * (NULL or "": the kernel picks tapN). The interface is not brought up.
 * NULL with a message in err (why /dev/net/tun or TUNSETIFF failed). */
struct vq_net_backend *vq_net_tap_open(const char *ifname, char *err, size_t errlen);
/* The interface name of a TAP backend, else NULL. */
const char *vq_net_tap_name(const struct vq_net_backend *be);

#endif
