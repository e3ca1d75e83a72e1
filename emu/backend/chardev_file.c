/* chardev_file.c - a log file backend: what the guest writes is appended to
 * a file (created 0644 if absent); nothing is read. A regular file never
 * says EAGAIN, so the only short write is a hard error (ENOSPC, EIO), which
 * vq_chardev_write reports as -VQ_E_SYS for the device to count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/chardev.h"

static void file_release(struct vq_chardev *c)
{
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}

int vq_chardev_file_start(struct vq_chardev *c, char *err, size_t errlen)
{
	c->release = file_release;
	c->out_fd = open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (c->out_fd < 0) {
		snprintf(err, errlen, "file: cannot open '%s' for appending: %s", c->path,
			 strerror(errno));
		return -VQ_E_SYS;
	}
	c->connected = true;
	return 0;
}
