/* net_tap.c - a net backend on a Linux TAP interface (/dev/net/tun with
 * IFF_TAP | IFF_NO_PI): frames the guest sends are written to the tap fd
 * and come out of the host's interface; frames the host sends out of the
 * interface are read from the fd when the machine polls. No vnet header:
 * the device completes partial checksums before it sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include "../device.h"
#include "netdev.h"

#define TAP_BATCH 64

struct tap_be {
	struct vq_net_backend be;
	int fd;
	char ifname[IFNAMSIZ];
	uint8_t buf[VQ_NET_BACKEND_FRAME_MAX + 1];
};

static int tap_send(struct vq_net_backend *be, const void *frame, size_t len,
		    const struct vq_net_meta *meta)
{
	struct tap_be *t = (struct tap_be *)be;
	ssize_t n;

	(void)meta;
	do
		n = write(t->fd, frame, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		be->err = errno; /* EIO: interface down; EAGAIN: its queue is full */
		return -VQ_E_SYS;
	}
	return 0;
}

static void tap_readable(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct tap_be *t = arg;

	for (int i = 0; i < TAP_BATCH; i++) {
		ssize_t n = read(fd, t->buf, sizeof(t->buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				t->be.err = errno;
				t->be.read_errors++;
				vq_dev_unwatch_fd(d, fd); /* would wake every poll */
			} else if (i == 0 && (revents & (POLLHUP | POLLERR))) {
				vq_dev_unwatch_fd(d, fd);
			}
			return;
		}
		if (t->be.rx)
			t->be.rx(t->be.rx_opaque, t->buf, (size_t)n, NULL);
	}
}

static int tap_start(struct vq_net_backend *be, struct vq_dev *d)
{
	struct tap_be *t = (struct tap_be *)be;
	int rc;

	be->dev = d;
	rc = vq_dev_watch_fd(d, t->fd, POLLIN, tap_readable, t);
	if (rc < 0)
		snprintf(be->msg, sizeof(be->msg), "tap %s: cannot watch the fd: %s", t->ifname,
			 vq_strerror(rc));
	return rc;
}

static void tap_close(struct vq_net_backend *be)
{
	struct tap_be *t = (struct tap_be *)be;

	if (t->fd >= 0) {
		if (be->dev)
			vq_dev_unwatch_fd(be->dev, t->fd);
		close(t->fd);
	}
	free(t);
}

static const struct vq_net_backend_ops tap_ops = {
	.name = "tap",
	.start = tap_start,
	.send = tap_send,
	.close = tap_close,
};

const char *vq_net_tap_name(const struct vq_net_backend *be)
{
	return be && be->ops == &tap_ops ? ((const struct tap_be *)be)->ifname : NULL;
}

struct vq_net_backend *vq_net_tap_open(const char *ifname, char *err, size_t errlen)
{
	struct tap_be *t;
	struct ifreq ifr;

	if (ifname && strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap: ifname '%s' is longer than %d bytes", ifname,
			 IFNAMSIZ - 1);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "tap: out of memory");
		return NULL;
	}
	t->be.ops = &tap_ops;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		snprintf(err, errlen, "tap: cannot open /dev/net/tun: %s", strerror(errno));
		tap_close(&t->be);
		return NULL;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ifname)
		memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "tap: TUNSETIFF '%s': %s",
			 ifname && *ifname ? ifname : "tap%d", strerror(errno));
		tap_close(&t->be);
		return NULL;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ - 1);
	return &t->be;
}
