/* fuzz.h - what every harness in tests/fuzz shares: reading the input as a
 * stream of numbers, and the check that turns a broken invariant into a
 * crash the fuzzer reports (and the replay program exits non-zero for).
 *
 * A harness defines LLVMFuzzerTestOneInput(). Built with clang's
 * -fsanitize=fuzzer (./configure --enable-fuzzing) libFuzzer supplies
 * main(); built plainly, replay.c does, running the harness over files. */
#ifndef VQSIM_FUZZ_H
#define VQSIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, consumed from the front; past its end every read is 0, so a
 * short input is a valid (if dull) program. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_bytes(struct fuzz_in *in, unsigned k)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < k; i++) {
		uint8_t b = 0;

		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in) { return (uint8_t)fuzz_bytes(in, 1); }
static inline uint16_t fuzz_u16(struct fuzz_in *in) { return (uint16_t)fuzz_bytes(in, 2); }
static inline uint32_t fuzz_u32(struct fuzz_in *in) { return (uint32_t)fuzz_bytes(in, 4); }
static inline uint64_t fuzz_u64(struct fuzz_in *in) { return fuzz_bytes(in, 8); }

/* Where a harness that can writes the input it runs as a Lua script for
 * the vqsim shell (replay.c's --lua, vqsim --from-fuzz), or NULL. A weak
 * definition: replay.c sets it, a fuzzing engine leaves it NULL. */
__attribute__((weak)) FILE *fuzz_lua;
#define FUZZ_LUA(...)                                    \
	do {                                             \
		if (fuzz_lua)                            \
			fprintf(fuzz_lua, __VA_ARGS__);  \
	} while (0)

/* An invariant of the code under test: when it does not hold, say which
 * and where, and abort (a finding for the fuzzer, a failure for replay).
 * A reproducer being written ends with the same words as a comment. */
#define FUZZ_CHECK(cond, ...)                                                         \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, \
				#cond);                                               \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
			if (fuzz_lua) {                                               \
				fprintf(fuzz_lua, "-- the harness stopped here: ");   \
				fprintf(fuzz_lua, __VA_ARGS__);                       \
				fputc('\n', fuzz_lua);                                \
				fflush(fuzz_lua);                                     \
			}                                                             \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif
