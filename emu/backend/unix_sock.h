/* unix_sock.h - binding UNIX socket paths: a stale socket file left by an
 * earlier run is replaced, a live one or a non-socket file is never
 * touched; and every path bound is remembered so that a fatal signal can
 * unlink them before the process dies.
 */
#ifndef VQ_BACKEND_UNIX_SOCK_H
#define VQ_BACKEND_UNIX_SOCK_H

#include <stddef.h>
#include <sys/socket.h>

/* Bind fd (a UNIX socket of type SOCK_STREAM or SOCK_DGRAM) to path. If
 * the path exists and is a socket nobody listens on (connect() gets
 * ECONNREFUSED) it is removed and the bind retried. Returns 0 (and the
 * path is registered for vq_unix_unlink_all), or -VQ_E_SYS with err
 * naming the path and why: in use by a live socket, not a socket (left
 * alone), or the system error. */
int vq_unix_bind(int fd, int type, const char *path, char *err, size_t errlen);

/* Unlink path and forget it (call instead of unlink() for bound paths). */
void vq_unix_unlink(const char *path);

/* Unlink every path still registered. Async-signal-safe: meant for fatal
 * signal handlers (vqsim's SIGTERM/SIGHUP and second-Ctrl-C paths). */
void vq_unix_unlink_all(void);

#endif
