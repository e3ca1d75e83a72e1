/* chardev_pty.c - a pseudo-terminal backend.
 *
 * The device owns the master side (posix_openpt/grantpt/unlockpt); a user
 * opens the slave path (vq_chardev_pty_path) with a terminal program. The
 * backend keeps one slave fd open itself, never read: without it the master
 * reports POLLHUP (and reads fail with EIO) whenever no one has the slave
 * open, which would make the watch fire without end. So a pty port counts
 * as connected from start to close, and users may come and go. The line
 * discipline is put in raw mode: bytes pass unchanged, no echo.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "backend/chardev.h"

static void pty_release(struct vq_chardev *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->hold_fd >= 0)
		close(c->hold_fd);
	c->in_fd = c->out_fd = c->hold_fd = -1;
}

int vq_chardev_pty_start(struct vq_chardev *c, char *err, size_t errlen)
{
	struct termios t;
	char name[VQ_CHARDEV_PATH_MAX];
	int fd;

	c->release = pty_release;
	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "pty: posix_openpt: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	c->in_fd = c->out_fd = fd;
	if (grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, name, sizeof(name)) != 0) {
		snprintf(err, errlen, "pty: cannot set up the slave: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "pty: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	c->hold_fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->hold_fd < 0) {
		snprintf(err, errlen, "pty: cannot open slave '%s': %s", name, strerror(errno));
		return -VQ_E_SYS;
	}
	if (tcgetattr(c->hold_fd, &t) < 0) {
		snprintf(err, errlen, "pty: tcgetattr: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	cfmakeraw(&t);
	if (tcsetattr(c->hold_fd, TCSANOW, &t) < 0) {
		snprintf(err, errlen, "pty: tcsetattr: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	snprintf(c->path, sizeof(c->path), "%s", name);
	c->connected = true;
	return 0;
}
