/* replay.c - main() for a harness built without libFuzzer: runs it over
 * every file named on the command line, and every file in every directory
 * named (in name order, so a run is the same every time). An input that
 * breaks an invariant aborts, so the program's status says whether the
 * corpus still passes; `make check` runs it over tests/fuzz/corpus/. */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Run the harness over one file. 0, or -1 when it cannot be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			uint8_t *p = realloc(buf, cap ? cap * 2 : 4096);

			if (!p) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = p;
			cap = cap ? cap * 2 : 4096;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	unsigned files = 0;
	int bad = 0, first = 1;

	/* --lua FILE: run one input and write it as a Lua script on stdout
	 * (harnesses that can; vqsim --from-fuzz runs this) */
	if (argc > 1 && strcmp(argv[1], "--lua") == 0) {
		if (argc != 3) {
			fprintf(stderr, "usage: %s --lua INPUT\n", argv[0]);
			return 2;
		}
		fuzz_lua = stdout;
		first = 2;
	}
	for (int i = first; i < argc; i++) {
		struct stat st;
		struct dirent **ents;
		int n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]) < 0;
			files++;
			continue;
		}
		n = scandir(argv[i], &ents, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		for (int k = 0; k < n; k++) {
			char path[4096];

			if (ents[k]->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
				bad |= run_file(path) < 0;
				files++;
			}
			free(ents[k]);
		}
		free(ents);
	}
	if (!fuzz_lua)
		printf("replay: %u input%s, no invariant broken\n", files, files == 1 ? "" : "s");
	return bad ? 2 : 0;
}
