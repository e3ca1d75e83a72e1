#!/bin/sh
# determinism.sh - make check: the same script and seed give byte-identical
# traces. Runs every conformance script twice under vqsim --test with a JSON
# Lines trace (the richer format: chain segments, fields) and compares the
# two traces byte for byte; then checks that every line parses as JSON
# (python3, skipped when absent). TAP on stdout.
# Environment: VQSIM (the binary), srcdir (automake).
: "${srcdir:=.}"
VQSIM=${VQSIM:-./vqsim}
SEED=${SEED:-1234}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-det.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

find "$srcdir/scripts/conformance" -name '*.lua' | LC_ALL=C sort >"$tmp/list"
total=$(wc -l <"$tmp/list")
echo "1..$((total + 1))"
i=0
fail=0
while IFS= read -r f; do
	i=$((i + 1))
	name=${f#"$srcdir/scripts/conformance/"}
	for run in a b; do
		# the suites' own verdicts are conformance.sh's business; the
		# trace is what must not change between runs
		"$VQSIM" --test --seed "$SEED" --trace "$tmp/$run.trace" --trace-format json \
			"$f" >"$tmp/$run.out" 2>&1
	done
	if [ ! -s "$tmp/a.trace" ]; then
		echo "not ok $i - $name: empty trace"
		fail=1
	elif cmp -s "$tmp/a.trace" "$tmp/b.trace"; then
		echo "ok $i - $name: $(wc -l <"$tmp/a.trace") events, identical"
		cat "$tmp/a.trace" >>"$tmp/all.trace"
	else
		echo "not ok $i - $name: traces differ"
		diff "$tmp/a.trace" "$tmp/b.trace" | head -5 | sed 's/^/# /'
		fail=1
	fi
done <"$tmp/list"

i=$((i + 1))
if ! command -v python3 >/dev/null 2>&1; then
	echo "ok $i - JSON Lines parse # SKIP no python3"
elif python3 -c '
import json, sys
keys = ["time", "seq", "kind", "dev", "queue", "text"]
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert list(o)[:6] == keys, line
    n += 1
print("# %d lines parsed" % n)
' "$tmp/all.trace"; then
	echo "ok $i - JSON Lines parse, keys in order"
else
	echo "not ok $i - JSON Lines parse"
	fail=1
fi
exit $fail
