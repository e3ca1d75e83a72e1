#!/bin/sh
# replay.sh - make check: every fuzz harness over its committed corpus
# (tests/fuzz/corpus/<harness>/), one TAP result per harness. A harness
# aborts on any broken invariant, so a regression in what the corpus
# reaches fails here on every build, fuzzing engine or not.
# Environment: FUZZ_HARNESSES (program paths), srcdir.
: "${srcdir:=.}"
i=0
fail=0
for h in $FUZZ_HARNESSES; do
	i=$((i + 1))
	name=$(basename "$h")
	corpus="$srcdir/tests/fuzz/corpus/${name#fuzz_}"
	n=$(ls "$corpus" 2>/dev/null | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "not ok $i - $name: no corpus in $corpus"
		fail=1
		continue
	fi
	log=$("./$h" "$corpus"/* 2>&1)
	st=$?
	if [ "$st" -eq 0 ]; then
		echo "ok $i - $name: $n inputs of $corpus replayed, no invariant broken"
	else
		echo "not ok $i - $name: exit $st over $corpus"
		printf '%s\n' "$log" | tail -20 | sed 's/^/# /'
		fail=1
	fi
done
echo "1..$i"
exit $fail
