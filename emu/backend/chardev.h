/* chardev.h - character backends: a byte stream between a device port and
 * the outside world (stdio, a UNIX stream socket, a pty, a log file).
 *
 * A chardev never buffers: vq_chardev_write() hands bytes to the fd and
 * says how many it took; when the fd is full (EAGAIN) the caller keeps the
 * rest, in order, and is told through ops->writable once a POLLOUT watch
 * fires. Input is read only from an fd watch (vq_machine_poll), and only as
 * many bytes as ops->room allows: a consumer that is full stops the reading
 * (back-pressure) until it calls vq_chardev_input_ready().
 *
 * The "buffer" kind (alias "none") has no fd: the device's own C API is the
 * other end, and no struct vq_chardev is opened for it.
 */
#ifndef VQSIM_BACKEND_CHARDEV_H
#define VQSIM_BACKEND_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

#define VQ_CHARDEV_PATH_MAX 256   /* option values: socket and file paths */
#define VQ_CHARDEV_SUN_PATH_MAX 107 /* longest UNIX socket path (sun_path - NUL) */

enum vq_chardev_kind {
	VQ_CHARDEV_BUFFER = 0,     /* no fd: the device's C API is the other end */
	VQ_CHARDEV_STDIO,          /* stdin / stdout of the process */
	VQ_CHARDEV_SOCKET_SERVER,  /* listen at a path, one peer at a time */
	VQ_CHARDEV_SOCKET_CONNECT, /* connect to a path once, at start */
	VQ_CHARDEV_PTY,            /* a pseudo-terminal; the slave path is exposed */
	VQ_CHARDEV_FILE,           /* append output to a file; no input */
};

/* What the consumer (a device port) provides. Callbacks run from fd watches
 * (vq_machine_poll); state(false) may also run from inside vq_chardev_write
 * when the write finds the peer gone and its input already ended. */
struct vq_chardev_ops {
	/* Bytes the consumer can take now; 0 pauses reading. */
	size_t (*room)(void *opaque);
	/* len (<= room()) bytes arrived from the outside. */
	void (*input)(void *opaque, const uint8_t *data, size_t len);
	/* A write came up short earlier and the fd is writable again. */
	void (*writable)(void *opaque);
	/* A peer connected (up) or hung up (!up). */
	void (*state)(void *opaque, bool up);
};

struct vq_chardev_stats {
	uint64_t bytes_in;      /* read from the fd */
	uint64_t bytes_out;     /* written to the fd */
	uint64_t short_writes;  /* writes the fd took only in part (EAGAIN) */
	uint64_t connects;      /* peers that came (sockets) */
	uint64_t hangups;       /* peers that went */
	uint64_t input_eof;     /* end of input without a hang-up (stdin closed) */
	uint64_t read_errors, write_errors; /* hard I/O errors */
};

/* One open backend. The fields are private to emu/backend/chardev_*.c;
 * users go through the functions below. */
struct vq_chardev {
	enum vq_chardev_kind kind;
	char path[VQ_CHARDEV_PATH_MAX]; /* socket/file path; pty: the slave path */
	struct vq_dev *dev;             /* whose fd watches are used */
	const struct vq_chardev_ops *ops;
	void *opaque;
	int in_fd, out_fd;              /* -1 when absent; equal for sockets and ptys */
	int listen_fd;                  /* socket server */
	int hold_fd;                    /* pty: a slave fd kept open (see chardev_pty.c) */
	int in_flags0, out_flags0;      /* stdio: fd status flags to restore on close */
	unsigned in_watch, out_watch;   /* poll events currently watched on in/out fd */
	bool connected;                 /* a peer is there (always, for stdio/pty/file) */
	bool in_eof;                    /* no more input will come */
	bool out_dead;                  /* the peer refuses output for good */
	bool out_blocked;               /* a write came up short: waiting for POLLOUT */
	bool is_socket;                 /* send(MSG_NOSIGNAL) rather than write */
	bool unlink_on_close;           /* server: remove the socket path we bound */
	void (*hangup)(struct vq_chardev *c);   /* kind hook: the peer went away */
	void (*release)(struct vq_chardev *c);  /* kind hook: free kind resources */
	struct vq_chardev_stats stats;
};

/* Parse a backend spec: "buffer" | "none" | "stdio" | "socket:PATH" |
 * "socket-connect:PATH" | "pty" | "file:PATH". Stores the kind and the path
 * (empty when the kind takes none). 0, or -VQ_E_INVAL with a message naming
 * what is expected in err. No I/O is done. */
int vq_chardev_parse(const char *spec, enum vq_chardev_kind *kind, char *path, size_t pathlen,
		     char *err, size_t errlen);
/* Name of a kind ("socket", "pty", ...). */
const char *vq_chardev_kind_name(enum vq_chardev_kind kind);

/* Open a backend of kind (not BUFFER) at path for device d (which must be
 * on a machine: d->env set) and start watching its fds. *out gets the
 * chardev. 0, or a negative error (-VQ_E_SYS with errno's text, -VQ_E_INVAL,
 * -VQ_E_NOMEM, -VQ_E_NOT_READY without a machine) with a message in err. */
int vq_chardev_open(enum vq_chardev_kind kind, const char *path, struct vq_dev *d,
		    const struct vq_chardev_ops *ops, void *opaque, struct vq_chardev **out,
		    char *err, size_t errlen);
/* Stop watching, close the fds (a server also removes its socket path),
 * restore stdio's fd flags and free c. NULL is fine. */
void vq_chardev_close(struct vq_chardev *c);

/* Write up to len bytes to the outside. Returns the bytes taken (0..len; a
 * short count means the fd is full: the caller keeps the rest and is called
 * back through ops->writable), -VQ_E_NOT_READY when no peer is there (wait
 * for ops->state(true)), or -VQ_E_SYS on a hard error (EIO, ENOSPC: the
 * bytes cannot be written). */
long vq_chardev_write(struct vq_chardev *c, const void *data, size_t len);
/* The consumer has room again: resume reading at the next poll. */
void vq_chardev_input_ready(struct vq_chardev *c);
/* Is a peer there to talk to? */
bool vq_chardev_connected(const struct vq_chardev *c);
/* The slave path of a pty backend ("/dev/pts/N"), NULL for other kinds. */
const char *vq_chardev_pty_path(const struct vq_chardev *c);
/* Counters. */
const struct vq_chardev_stats *vq_chardev_stats(const struct vq_chardev *c);

/* ---- for the chardev_*.c files only ------------------------------------- */

/* Bring the fd watches in line with the state (what to read, what to wait
 * for); called after every state change. */
void vq_chardev_rearm(struct vq_chardev *c);
/* The fd watch callback the core installs on in_fd/out_fd. */
void vq_chardev_fd_ready(struct vq_dev *d, int fd, unsigned revents, void *arg);
/* Per-kind start functions, called by vq_chardev_open with c allocated and
 * its common fields set. 0 or a negative error with a message in err. */
int vq_chardev_stdio_start(struct vq_chardev *c, char *err, size_t errlen);
int vq_chardev_socket_start(struct vq_chardev *c, char *err, size_t errlen);
int vq_chardev_pty_start(struct vq_chardev *c, char *err, size_t errlen);
int vq_chardev_file_start(struct vq_chardev *c, char *err, size_t errlen);

#endif
