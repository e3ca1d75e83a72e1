/* net_dgram.c - a net backend on a UNIX datagram socket, one Ethernet frame
 * per datagram with nothing around it (QEMU's -netdev dgram with unix
 * addresses carries frames the same way). Two vqsim machines, or a machine
 * and a test, connect through a pair of socket paths or a socketpair.
 *
 * Frames enter only when the machine polls: the socket is watched from
 * start(), and each callback reads at most DGRAM_BATCH datagrams so one
 * busy peer cannot hold the machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/unix_sock.h"
#include "../device.h"
#include "../dev/net.h"
#include "netdev.h"

#define DGRAM_BATCH 64

struct dgram_be {
	struct vq_net_backend be;
	int fd;
	bool connected;                /* fd= or socketpair: send(), no address */
	struct sockaddr_un peer;       /* path mode */
	socklen_t peer_len;
	char *bound_path;              /* unlinked at close */
	uint8_t buf[VQ_NET_BACKEND_FRAME_MAX + 1];
};

static int dgram_send(struct vq_net_backend *be, const void *frame, size_t len,
		      const struct vq_net_meta *meta)
{
	struct dgram_be *g = (struct dgram_be *)be;
	ssize_t n;

	(void)meta;
	do {
		if (g->connected)
			n = send(g->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else if (g->peer_len)
			n = sendto(g->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL,
				   (const struct sockaddr *)&g->peer, g->peer_len);
		else
			return 0; /* no peer configured: the wire leads nowhere */
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		be->err = errno; /* ENOENT/ECONNREFUSED: no peer; EAGAIN: peer full */
		return -VQ_E_SYS;
	}
	return 0;
}

static void dgram_readable(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct dgram_be *g = arg;

	for (int i = 0; i < DGRAM_BATCH; i++) {
		/* MSG_TRUNC: the true length even when the datagram is longer */
		ssize_t n = recv(fd, g->buf, sizeof(g->buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				g->be.err = errno;
				g->be.read_errors++;
				/* a socket in error (e.g. the peer end closed) would
				 * wake every poll: stop watching it */
				vq_dev_unwatch_fd(d, fd);
			} else if (i == 0 && (revents & (POLLHUP | POLLERR))) {
				vq_dev_unwatch_fd(d, fd);
			}
			return;
		}
		if (g->be.rx)
			g->be.rx(g->be.rx_opaque, g->buf, (size_t)n, NULL);
	}
}

static int dgram_start(struct vq_net_backend *be, struct vq_dev *d)
{
	struct dgram_be *g = (struct dgram_be *)be;
	int rc;

	be->dev = d;
	rc = vq_dev_watch_fd(d, g->fd, POLLIN, dgram_readable, g);
	if (rc < 0)
		snprintf(be->msg, sizeof(be->msg), "dgram: cannot watch the socket: %s",
			 vq_strerror(rc));
	return rc;
}

static void dgram_close(struct vq_net_backend *be)
{
	struct dgram_be *g = (struct dgram_be *)be;

	if (g->fd >= 0) {
		if (be->dev)
			vq_dev_unwatch_fd(be->dev, g->fd);
		close(g->fd);
	}
	if (g->bound_path) {
		vq_unix_unlink(g->bound_path);
		free(g->bound_path);
	}
	free(g);
}

static const struct vq_net_backend_ops dgram_ops = {
	.name = "dgram",
	.start = dgram_start,
	.send = dgram_send,
	.close = dgram_close,
};

/* Fill a sockaddr_un for path; 0 or -VQ_E_INVAL when it does not fit. */
static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sa->sun_path))
		return -VQ_E_INVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int vq_net_dgram_socketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -VQ_E_SYS;
	return 0;
}

struct vq_net_backend *vq_net_dgram_open(const char *path, const char *peer, int fd, char *err,
					 size_t errlen)
{
	struct dgram_be *g = calloc(1, sizeof(*g));
	struct sockaddr_un local;
	socklen_t local_len;
	int type = 0;
	socklen_t tl = sizeof(type);

	if (!g) {
		snprintf(err, errlen, "dgram: out of memory");
		return NULL;
	}
	g->be.ops = &dgram_ops;
	g->fd = -1;
	if (fd >= 0) {
		g->connected = true;
		if (path || peer) {
			snprintf(err, errlen, "dgram: fd= excludes path= and peer=");
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM) {
			snprintf(err, errlen, "dgram: fd=%d is not a datagram socket", fd);
			goto fail;
		}
		/* our own descriptor: the caller keeps and closes fd */
		g->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		/* the device polls: never block in recv or send */
		if (g->fd < 0 || fcntl(g->fd, F_SETFL, fcntl(g->fd, F_GETFL) | O_NONBLOCK) < 0) {
			snprintf(err, errlen, "dgram: fd=%d: %s", fd, strerror(errno));
			goto fail;
		}
		return &g->be;
	}
	if (!path || !*path) {
		snprintf(err, errlen, "dgram: needs path=LOCAL (with peer=REMOTE) or fd=N");
		goto fail;
	}
	if (unix_addr(path, &local, &local_len) < 0) {
		snprintf(err, errlen, "dgram: path '%s' is empty or longer than %zu bytes", path,
			 sizeof(local.sun_path) - 1);
		goto fail;
	}
	if (peer && *peer && unix_addr(peer, &g->peer, &g->peer_len) < 0) {
		snprintf(err, errlen, "dgram: peer '%s' is empty or longer than %zu bytes", peer,
			 sizeof(g->peer.sun_path) - 1);
		goto fail;
	}
	g->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->fd < 0) {
		snprintf(err, errlen, "dgram: socket: %s", strerror(errno));
		goto fail;
	}
	(void)local_len;
	{
		char why[200];

		/* a stale socket file from an earlier run is replaced */
		if (vq_unix_bind(g->fd, SOCK_DGRAM, path, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "dgram: %s", why);
			goto fail;
		}
	}
	g->bound_path = strdup(path);
	if (!g->bound_path) {
		vq_unix_unlink(path);
		snprintf(err, errlen, "dgram: out of memory");
		goto fail;
	}
	return &g->be;
fail:
	dgram_close(&g->be);
	return NULL;
}
