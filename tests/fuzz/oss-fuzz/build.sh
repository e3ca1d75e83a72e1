#!/bin/bash -eu
# build.sh - OSS-Fuzz / ClusterFuzzLite build of vqsim's fuzz harnesses.
# Honours the fleet's conventions: $CC and $CFLAGS (sanitizer and coverage
# flags chosen by the fleet), $LIB_FUZZING_ENGINE (the engine to link),
# $SRC (where the sources are) and $OUT (where harnesses and their seed
# corpora go). Locally, e.g.:
#   SRC=/path/to/parent OUT=/tmp/out CC=clang \
#   CFLAGS='-O1 -g -fsanitize=address,fuzzer-no-link' LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
#   tests/fuzz/oss-fuzz/build.sh
cd "$SRC/vqsim"
autoreconf -fi
rm -rf build-oss-fuzz
mkdir build-oss-fuzz
cd build-oss-fuzz
../configure --enable-fuzzing --disable-shared CC="$CC" CFLAGS="$CFLAGS" \
	LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
make -j"$(nproc)" fuzz
for h in tests/fuzz/fuzz_*; do
	case "$h" in *.o) continue ;; esac
	[ -f "$h" ] && [ -x "$h" ] || continue
	name=$(basename "$h")
	cp "$h" "$OUT/$name"
	rm -f "$OUT/${name}_seed_corpus.zip"
	(cd "../tests/fuzz/corpus/${name#fuzz_}" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
done
