/* chardev_stdio.c - the fd core every chardev shares (parse, open, watches,
 * read and write loops) and the stdio backend, the plainest user of it: an
 * input fd (0) and an output fd (1).
 *
 * Sockets, ptys and files (chardev_socket.c, chardev_pty.c, chardev_file.c)
 * only open their fds and add hooks for hang-up and release; reading,
 * writing and back-pressure are done here, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/chardev.h"

/* Bytes read per read(2), and reads per watch callback: a bound on the work
 * one poll does for one fd, so a chatty peer cannot starve the others. */
#define CHARDEV_READ_CHUNK 4096
#define CHARDEV_READS_PER_POLL 16

static const char *const kind_names[] = {
	[VQ_CHARDEV_BUFFER] = "buffer",
	[VQ_CHARDEV_STDIO] = "stdio",
	[VQ_CHARDEV_SOCKET_SERVER] = "socket",
	[VQ_CHARDEV_SOCKET_CONNECT] = "socket-connect",
	[VQ_CHARDEV_PTY] = "pty",
	[VQ_CHARDEV_FILE] = "file",
};

const char *vq_chardev_kind_name(enum vq_chardev_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind]
									   : "?";
}

int vq_chardev_parse(const char *spec, enum vq_chardev_kind *kind, char *path, size_t pathlen,
		     char *err, size_t errlen)
{
	static const struct {
		const char *prefix;
		enum vq_chardev_kind kind;
		bool has_path;
	} forms[] = {
		{"buffer", VQ_CHARDEV_BUFFER, false},
		{"none", VQ_CHARDEV_BUFFER, false},
		{"stdio", VQ_CHARDEV_STDIO, false},
		{"pty", VQ_CHARDEV_PTY, false},
		{"socket:", VQ_CHARDEV_SOCKET_SERVER, true},
		{"socket-connect:", VQ_CHARDEV_SOCKET_CONNECT, true},
		{"file:", VQ_CHARDEV_FILE, true},
	};
	const char *expect =
		"buffer, stdio, socket:PATH, socket-connect:PATH, pty or file:PATH";

	if (!spec || !kind || !path || !pathlen) {
		snprintf(err, errlen, "no backend given (expected %s)", expect);
		return -VQ_E_INVAL;
	}
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t pl = strlen(forms[i].prefix);
		const char *p;

		if (!forms[i].has_path ? strcmp(spec, forms[i].prefix) != 0
				       : strncmp(spec, forms[i].prefix, pl) != 0)
			continue;
		*kind = forms[i].kind;
		path[0] = '\0';
		if (!forms[i].has_path)
			return 0;
		p = spec + pl;
		if (!*p) {
			snprintf(err, errlen, "backend '%s' needs a path after the ':'", spec);
			return -VQ_E_INVAL;
		}
		if (strlen(p) >= pathlen) {
			snprintf(err, errlen, "backend path '%.40s...' is longer than %zu bytes", p,
				 pathlen - 1);
			return -VQ_E_INVAL;
		}
		if (forms[i].kind != VQ_CHARDEV_FILE && strlen(p) > VQ_CHARDEV_SUN_PATH_MAX) {
			snprintf(err, errlen,
				 "socket path '%.40s...' is longer than %d bytes (sun_path)", p,
				 VQ_CHARDEV_SUN_PATH_MAX);
			return -VQ_E_INVAL;
		}
		memcpy(path, p, strlen(p) + 1);
		return 0;
	}
	snprintf(err, errlen, "backend '%s' unknown (expected %s)", spec, expect);
	return -VQ_E_INVAL;
}

/* ---- watches ------------------------------------------------------------ */

/* Watch fd for events (unwatch when 0), remembering what is watched. */
static void set_watch(struct vq_chardev *c, int fd, unsigned *cur, unsigned events)
{
	if (fd < 0 || *cur == events)
		return;
	if (events) {
		if (vq_dev_watch_fd(c->dev, fd, events, vq_chardev_fd_ready, c) < 0)
			events = 0; /* no slot: nothing is watched, try again next rearm */
	} else {
		vq_dev_unwatch_fd(c->dev, fd);
	}
	*cur = events;
}

void vq_chardev_rearm(struct vq_chardev *c)
{
	unsigned in = 0, out = 0;

	if (c->in_fd >= 0 && c->connected && !c->in_eof && c->ops->room(c->opaque) > 0)
		in = POLLIN;
	if (c->out_fd >= 0 && c->connected && !c->out_dead && c->out_blocked)
		out = POLLOUT;
	if (c->in_fd >= 0 && c->in_fd == c->out_fd) {
		/* one fd, one watch: the machine keeps one entry per fd */
		set_watch(c, c->in_fd, &c->in_watch, in | out);
		c->out_watch = c->in_watch;
		return;
	}
	set_watch(c, c->in_fd, &c->in_watch, in);
	set_watch(c, c->out_fd, &c->out_watch, out);
}

/* Input is over: a hang-up for sockets (the kind hook), just the end of
 * input for stdio. */
static void input_ended(struct vq_chardev *c)
{
	c->in_eof = true;
	if (c->hangup) {
		c->hangup(c);
		return;
	}
	c->stats.input_eof++;
	vq_chardev_rearm(c);
}

/* Read what the consumer has room for, a bounded number of times. */
static void chardev_read(struct vq_chardev *c)
{
	uint8_t buf[CHARDEV_READ_CHUNK];

	for (int i = 0; i < CHARDEV_READS_PER_POLL && c->in_fd >= 0 && !c->in_eof; i++) {
		size_t room = c->ops->room(c->opaque), want;
		ssize_t n;

		if (room == 0)
			break;
		want = room < sizeof(buf) ? room : sizeof(buf);
		n = read(c->in_fd, buf, want);
		if (n > 0) {
			c->stats.bytes_in += (uint64_t)n;
			c->ops->input(c->opaque, buf, (size_t)n);
			if ((size_t)n < want)
				break; /* drained for now */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno != ECONNRESET && errno != EIO)
			c->stats.read_errors++;
		input_ended(c);
		break;
	}
}

void vq_chardev_fd_ready(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct vq_chardev *c = arg;

	(void)d;
	if (revents & POLLNVAL) {
		/* someone closed our fd under us: that side is over for good
		 * (marked so, or the next rearm would watch it again) */
		if (fd == c->in_fd) {
			c->in_watch = 0;
			c->in_eof = true;
			c->stats.read_errors++;
		}
		if (fd == c->out_fd) {
			c->out_watch = 0;
			c->out_dead = true;
			c->stats.write_errors++;
		}
		vq_dev_unwatch_fd(c->dev, fd);
		return;
	}
	if (fd == c->out_fd && c->out_blocked && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		c->out_blocked = false;
		c->ops->writable(c->opaque); /* may write (and block) again */
	}
	/* the consumer may have seen a hang-up: the fd may be gone by now */
	if (fd == c->in_fd && !c->in_eof && (revents & (POLLIN | POLLHUP | POLLERR)) &&
	    c->ops->room(c->opaque) > 0)
		chardev_read(c);
	vq_chardev_rearm(c);
}

void vq_chardev_input_ready(struct vq_chardev *c)
{
	if (c)
		vq_chardev_rearm(c);
}

/* ---- output ------------------------------------------------------------- */

long vq_chardev_write(struct vq_chardev *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0;

	if (!c || c->out_fd < 0 || !c->connected || c->out_dead)
		return -VQ_E_NOT_READY;
	if (c->out_blocked)
		return 0; /* still waiting for POLLOUT: order is kept by the caller */
	while (done < len) {
		ssize_t n = c->is_socket
				    ? send(c->out_fd, p + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT)
				    : write(c->out_fd, p + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
			c->out_blocked = true;
			c->stats.short_writes++;
			vq_chardev_rearm(c);
			break;
		}
		if (c->is_socket && (errno == EPIPE || errno == ECONNRESET)) {
			/* the peer went away; what it sent before is still read to
			 * the end (input_ended then reports the hang-up) */
			c->out_dead = true;
			c->out_blocked = false;
			c->stats.bytes_out += done;
			if (c->in_eof && c->hangup)
				c->hangup(c);
			else
				vq_chardev_rearm(c);
			return done ? (long)done : -VQ_E_NOT_READY;
		}
		c->stats.write_errors++;
		c->stats.bytes_out += done;
		return done ? (long)done : -VQ_E_SYS;
	}
	c->stats.bytes_out += done;
	return (long)done;
}

bool vq_chardev_connected(const struct vq_chardev *c)
{
	return c && c->connected && !c->out_dead;
}

const char *vq_chardev_pty_path(const struct vq_chardev *c)
{
	return c && c->kind == VQ_CHARDEV_PTY && c->path[0] ? c->path : NULL;
}

const struct vq_chardev_stats *vq_chardev_stats(const struct vq_chardev *c)
{
	return c ? &c->stats : NULL;
}

/* ---- open / close ------------------------------------------------------- */

int vq_chardev_open(enum vq_chardev_kind kind, const char *path, struct vq_dev *d,
		    const struct vq_chardev_ops *ops, void *opaque, struct vq_chardev **out,
		    char *err, size_t errlen)
{
	struct vq_chardev *c;
	int rc;

	*out = NULL;
	if (!d || !ops || !ops->room || !ops->input || !ops->writable || !ops->state) {
		snprintf(err, errlen, "chardev: missing device or callbacks");
		return -VQ_E_INVAL;
	}
	if (!d->env.watch) {
		snprintf(err, errlen, "chardev: the device is not on a machine");
		return -VQ_E_NOT_READY;
	}
	if (!path)
		path = "";
	if (strlen(path) >= VQ_CHARDEV_PATH_MAX) {
		snprintf(err, errlen, "chardev: path too long");
		return -VQ_E_INVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "chardev: out of memory");
		return -VQ_E_NOMEM;
	}
	c->kind = kind;
	memcpy(c->path, path, strlen(path) + 1);
	c->dev = d;
	c->ops = ops;
	c->opaque = opaque;
	c->in_fd = c->out_fd = c->listen_fd = c->hold_fd = -1;
	c->in_flags0 = c->out_flags0 = -1;
	switch (kind) {
	case VQ_CHARDEV_STDIO:
		rc = vq_chardev_stdio_start(c, err, errlen);
		break;
	case VQ_CHARDEV_SOCKET_SERVER:
	case VQ_CHARDEV_SOCKET_CONNECT:
		rc = vq_chardev_socket_start(c, err, errlen);
		break;
	case VQ_CHARDEV_PTY:
		rc = vq_chardev_pty_start(c, err, errlen);
		break;
	case VQ_CHARDEV_FILE:
		rc = vq_chardev_file_start(c, err, errlen);
		break;
	default:
		snprintf(err, errlen, "chardev: kind '%s' has no fd to open",
			 vq_chardev_kind_name(kind));
		rc = -VQ_E_INVAL;
		break;
	}
	if (rc < 0) {
		vq_chardev_close(c);
		return rc;
	}
	vq_chardev_rearm(c);
	*out = c;
	return 0;
}

void vq_chardev_close(struct vq_chardev *c)
{
	if (!c)
		return;
	if (c->in_fd >= 0)
		vq_dev_unwatch_fd(c->dev, c->in_fd);
	if (c->out_fd >= 0 && c->out_fd != c->in_fd)
		vq_dev_unwatch_fd(c->dev, c->out_fd);
	if (c->listen_fd >= 0)
		vq_dev_unwatch_fd(c->dev, c->listen_fd);
	if (c->release)
		c->release(c); /* closes what the kind owns, sets fds to -1 */
	free(c);
}

/* ---- stdio -------------------------------------------------------------- */

/* stdio's fds are shared with the rest of the process: they are made
 * non-blocking while the backend runs and given their flags back on close,
 * and never closed. EOF on stdin ends input but not output. A stdout pipe
 * whose reader is gone raises SIGPIPE as for any program: its disposition
 * is the embedding program's choice, not a library's. */
static void stdio_release(struct vq_chardev *c)
{
	if (c->in_fd >= 0 && c->in_flags0 >= 0)
		fcntl(c->in_fd, F_SETFL, c->in_flags0);
	if (c->out_fd >= 0 && c->out_flags0 >= 0)
		fcntl(c->out_fd, F_SETFL, c->out_flags0);
	c->in_fd = c->out_fd = -1;
}

int vq_chardev_stdio_start(struct vq_chardev *c, char *err, size_t errlen)
{
	c->release = stdio_release;
	c->in_flags0 = fcntl(STDIN_FILENO, F_GETFL);
	c->out_flags0 = fcntl(STDOUT_FILENO, F_GETFL);
	if (c->in_flags0 < 0 || c->out_flags0 < 0) {
		snprintf(err, errlen, "stdio: stdin or stdout is not open: %s", strerror(errno));
		c->in_flags0 = c->out_flags0 = -1;
		return -VQ_E_SYS;
	}
	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	if (fcntl(c->in_fd, F_SETFL, c->in_flags0 | O_NONBLOCK) < 0 ||
	    fcntl(c->out_fd, F_SETFL, c->out_flags0 | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "stdio: cannot make stdin/stdout non-blocking: %s",
			 strerror(errno));
		return -VQ_E_SYS;
	}
	c->connected = true;
	return 0;
}
