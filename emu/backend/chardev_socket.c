/* chardev_socket.c - UNIX stream socket backends.
 *
 * "socket:PATH" binds and listens at PATH and serves one peer at a time:
 * while a peer is connected the listening fd is not watched, so a second
 * client waits in the backlog until the first hangs up. "socket-connect:PATH"
 * connects once at start and does not reconnect after a hang-up. A socket
 * file left at PATH by an earlier run that nobody listens on any more is
 * replaced (like QEMU does); a live one is not stolen.
 *
 * A hang-up is seen as end of input (read returns 0 or ECONNRESET). A write
 * that finds the peer gone (EPIPE) stops output at once, but what the peer
 * sent before it left is still read to the end before the hang-up is
 * reported, so no byte the peer wrote is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/chardev.h"
#include "backend/unix_sock.h"

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sa->sun_path))
		return -VQ_E_INVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

/* Forget the peer: unwatch before close, so a reused fd number is never
 * watched on the peer's behalf. */
static void drop_peer(struct vq_chardev *c)
{
	if (c->in_fd >= 0) {
		if (c->in_watch)
			vq_dev_unwatch_fd(c->dev, c->in_fd);
		close(c->in_fd);
	}
	c->in_fd = c->out_fd = -1;
	c->in_watch = c->out_watch = 0;
	c->connected = false;
	c->out_blocked = false;
}

static void listen_ready(struct vq_dev *d, int fd, unsigned revents, void *arg);

static void socket_hangup(struct vq_chardev *c)
{
	drop_peer(c);
	c->stats.hangups++;
	if (c->listen_fd >= 0 &&
	    vq_dev_watch_fd(c->dev, c->listen_fd, POLLIN, listen_ready, c) < 0)
		c->stats.read_errors++; /* no watch slot: new peers cannot be taken */
	c->ops->state(c->opaque, false);
}

static void listen_ready(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct vq_chardev *c = arg;
	int peer;

	(void)revents;
	if (c->connected || fd != c->listen_fd) {
		vq_dev_unwatch_fd(d, fd);
		return;
	}
	peer = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (peer < 0)
		return; /* EAGAIN (the client gave up) or a transient error: keep listening */
	vq_dev_unwatch_fd(d, fd); /* one peer at a time */
	c->in_fd = c->out_fd = peer;
	c->in_watch = c->out_watch = 0;
	c->connected = true;
	c->in_eof = false;
	c->out_dead = false;
	c->out_blocked = false;
	c->stats.connects++;
	vq_chardev_rearm(c);
	c->ops->state(c->opaque, true);
}

static void socket_release(struct vq_chardev *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	c->in_fd = c->out_fd = -1;
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		c->listen_fd = -1;
		if (c->unlink_on_close)
			vq_unix_unlink(c->path);
	}
}

int vq_chardev_socket_start(struct vq_chardev *c, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	bool server = c->kind == VQ_CHARDEV_SOCKET_SERVER;
	int fd;

	c->release = socket_release;
	c->is_socket = true;
	if (make_addr(c->path, &sa) < 0) {
		snprintf(err, errlen, "socket: path '%s' is empty or longer than %zu bytes",
			 c->path, sizeof(sa.sun_path) - 1);
		return -VQ_E_INVAL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (server ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	if (!server) {
		/* a UNIX connect completes at once or fails: no EINPROGRESS dance */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			snprintf(err, errlen, "socket-connect: cannot connect to '%s': %s", c->path,
				 strerror(errno));
			close(fd);
			return -VQ_E_SYS;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
			snprintf(err, errlen, "socket-connect: %s", strerror(errno));
			close(fd);
			return -VQ_E_SYS;
		}
		c->in_fd = c->out_fd = fd;
		c->connected = true;
		c->stats.connects++;
		c->hangup = socket_hangup; /* no listen fd: the port just closes */
		return 0;
	}
	/* a stale socket file (nobody listening) is replaced; a live one or a
	 * file that is not a socket is an error and left alone */
	{
		char why[200];

		if (vq_unix_bind(fd, SOCK_STREAM, c->path, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "socket: %s", why);
			close(fd);
			return -VQ_E_SYS;
		}
	}
	c->unlink_on_close = true;
	c->listen_fd = fd;
	if (listen(fd, 1) < 0) {
		snprintf(err, errlen, "socket: cannot listen on '%s': %s", c->path,
			 strerror(errno));
		return -VQ_E_SYS;
	}
	if (vq_dev_watch_fd(c->dev, fd, POLLIN, listen_ready, c) < 0) {
		snprintf(err, errlen, "socket: no fd watch slot left on the machine");
		return -VQ_E_NOSPC;
	}
	c->hangup = socket_hangup;
	return 0;
}
