/* unix_sock.c - bind UNIX socket paths, replacing stale socket files, and
 * keep a registry of bound paths for cleanup from signal handlers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/unix_sock.h"
#include "base.h"

#define MAX_PATHS 64

/* Fixed slots, no allocation: vq_unix_unlink_all runs in signal handlers.
 * A slot is in use while its first byte is not NUL. */
static char paths[MAX_PATHS][sizeof(((struct sockaddr_un *)0)->sun_path)];
static volatile sig_atomic_t npaths; /* slots ever used (a high-water mark) */

static void remember(const char *path)
{
	for (int i = 0; i < MAX_PATHS; i++) {
		if (!paths[i][0]) {
			snprintf(paths[i], sizeof(paths[i]), "%s", path);
			if (i >= npaths)
				npaths = i + 1;
			return;
		}
	}
	/* more than MAX_PATHS live sockets: the extra ones are not cleaned up
	 * by a fatal signal (they still are by a normal close) */
}

void vq_unix_unlink(const char *path)
{
	for (int i = 0; i < npaths; i++)
		if (paths[i][0] && strcmp(paths[i], path) == 0) {
			paths[i][0] = '\0';
			break;
		}
	unlink(path);
}

void vq_unix_unlink_all(void)
{
	for (int i = 0; i < npaths; i++)
		if (paths[i][0])
			unlink(paths[i]);
}

/* Is the socket file at sa dead? 1 stale (nobody bound: ECONNREFUSED), 0
 * live, -1 could not tell (errno). */
static int stale(const struct sockaddr_un *sa, int type)
{
	int probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc, e;

	if (probe < 0)
		return -1;
	rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
	e = errno;
	close(probe);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return 0; /* accepted, or a full backlog: someone is there */
	if (e == ECONNREFUSED)
		return 1;
	errno = e;
	return -1;
}

int vq_unix_bind(int fd, int type, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	size_t n = strlen(path);
	int s;

	if (n == 0 || n >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "path '%s' is empty or longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		errno = EINVAL;
		return -VQ_E_SYS;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		goto bound;
	if (errno != EADDRINUSE) {
		snprintf(err, errlen, "cannot bind '%s': %s", path, strerror(errno));
		return -VQ_E_SYS;
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot bind '%s': the path exists and is not a socket "
			 "(left alone)", path);
		errno = EADDRINUSE;
		return -VQ_E_SYS;
	}
	s = stale(&sa, type);
	if (s == 0) {
		snprintf(err, errlen, "cannot bind '%s': another process is listening on it",
			 path);
		errno = EADDRINUSE;
		return -VQ_E_SYS;
	}
	if (s < 0) {
		snprintf(err, errlen, "cannot bind '%s': cannot tell whether the socket there is "
			 "in use: %s", path, strerror(errno));
		return -VQ_E_SYS;
	}
	/* a socket file from an earlier run that nobody serves: replace it */
	if ((unlink(path) < 0 && errno != ENOENT) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot bind '%s' (a stale socket was there): %s", path,
			 strerror(errno));
		return -VQ_E_SYS;
	}
bound:
	remember(path);
	return 0;
}
