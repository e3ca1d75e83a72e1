/* fromfuzz.c - vqsim --from-fuzz HARNESS FILE: a fuzzer input turned into a
 * Lua script for the shell. The harness itself does the work (replay.c's
 * --lua: it runs the input and writes each operation as the Lua that does
 * the same, ending in the assertion that failed); this finds the harness
 * program and runs it, so the decoding lives in one place. */
#include <errno.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lvq.h"

extern char **environ;

/* Where the harness programs are: $VQSIM_FUZZ_DIR, else the build tree. */
static const char *fuzz_dir(void)
{
	const char *env = getenv("VQSIM_FUZZ_DIR");

	if (env && *env)
		return env;
#ifdef VQSIM_BUILDDIR
	return VQSIM_BUILDDIR "/tests/fuzz";
#else
	return ".";
#endif
}

int lvq_from_fuzz(const char *progname, const char *harness, const char *file)
{
	char path[4096];
	struct stat st;
	char *argv[4];
	pid_t pid;
	int status, rc;

	if (strcmp(harness, "vhost") == 0) {
		fprintf(stderr, "%s: --from-fuzz: the vhost harness's inputs are message sequences "
			"with file descriptors, which a script cannot send; replay one with "
			"%s/fuzz_vhost %s\n", progname, fuzz_dir(), file);
		return 2;
	}
	if (stat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: --from-fuzz: cannot read input '%s': %s\n", progname, file,
			errno ? strerror(errno) : "not a file");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/fuzz_%s", fuzz_dir(), harness);
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "%s: --from-fuzz: no harness '%s' (%s: %s; the harnesses are ring, "
			"rng, blk, net, balloon, console and pci, built by make check; VQSIM_FUZZ_DIR names "
			"their folder)\n", progname, harness, path, strerror(errno));
		return 2;
	}
	argv[0] = path;
	argv[1] = (char *)"--lua";
	argv[2] = (char *)file;
	argv[3] = NULL;
	fflush(stdout);
	if ((rc = posix_spawn(&pid, path, NULL, NULL, argv, environ)) != 0) {
		fprintf(stderr, "%s: --from-fuzz: cannot run %s: %s\n", progname, path, strerror(rc));
		return 2;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) {
		fprintf(stderr, "%s: --from-fuzz: the input breaks an invariant of fuzz_%s; the "
			"script ends where it did\n", progname, harness);
		return 1;
	}
	fprintf(stderr, "%s: --from-fuzz: fuzz_%s did not finish (status 0x%x)\n", progname,
		harness, status);
	return 1;
}
