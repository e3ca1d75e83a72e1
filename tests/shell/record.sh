#!/bin/sh
# record.sh - make check: record/replay. Each script (the tour, the other
# examples that need no host files, a broken driver) runs with --record and
# a JSON trace; the recording replays (vqsim FILE) to a byte-identical
# trace. blk.lua makes, uses and deletes a temporary image file: the
# recording recreates it. A --record file that cannot be written is a
# usage error (exit 2, a message, no traceback). Then the serializer and vqsim.record from Lua (record.lua under
# --test), and a REPL session through a pseudo-terminal (record_repl.py;
# skipped without python3). TAP on stdout. Environment: VQSIM, srcdir.
: "${srcdir:=.}"
VQSIM=${VQSIM:-./vqsim}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-rec.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
set -- scripts/examples/tour.lua scripts/examples/balloon.lua scripts/examples/blk.lua \
	scripts/examples/console.lua scripts/examples/net.lua tests/shell/record_broken.lua
echo "1..$(($# + 3))"
i=0
fail=0
for f in "$@"; do
	i=$((i + 1))
	"$VQSIM" --record "$tmp/rec.lua" --trace "$tmp/a.json" --trace-format json \
		"$srcdir/$f" >"$tmp/a.out" 2>&1
	rc_a=$?
	"$VQSIM" --trace "$tmp/b.json" --trace-format json "$tmp/rec.lua" \
		>"$tmp/b.out" 2>&1
	rc_b=$?
	if [ $rc_a -ne 0 ] || [ $rc_b -ne 0 ]; then
		echo "not ok $i - $f: exit $rc_a, replay exit $rc_b"
		sed 's/^/# /' "$tmp/a.out" "$tmp/b.out" | tail -10
		fail=1
	elif [ ! -s "$tmp/a.json" ]; then
		echo "not ok $i - $f: empty trace"
		fail=1
	elif cmp -s "$tmp/a.json" "$tmp/b.json"; then
		echo "ok $i - $f: $(wc -l <"$tmp/a.json") events replayed identically"
	else
		echo "not ok $i - $f: the replay's trace differs"
		diff "$tmp/a.json" "$tmp/b.json" | head -5 | sed 's/^/# /'
		fail=1
	fi
done

i=$((i + 1))
if out=$("$VQSIM" --test "$srcdir/tests/shell/record.lua" 2>&1); then
	echo "ok $i - record.lua"
else
	echo "not ok $i - record.lua"
	fail=1
fi
printf '%s\n' "$out" | sed 's/^/# /'

i=$((i + 1))
if ! command -v python3 >/dev/null 2>&1; then
	echo "ok $i - a recorded REPL session replays # SKIP no python3"
elif out=$(python3 "$srcdir/tests/shell/record_repl.py" "$VQSIM" 2>&1); then
	echo "ok $i - a recorded REPL session replays to the same trace"
	printf '%s\n' "$out" | sed 's/^/# /'
else
	echo "not ok $i - a recorded REPL session replays to the same trace"
	printf '%s\n' "$out" | sed 's/^/# /'
	fail=1
fi

i=$((i + 1))
"$VQSIM" --record "$tmp/no/such/dir/rec.lua" -e 'x = 1' >"$tmp/bad.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "^vqsim: --record: cannot open '$tmp/no/such/dir/rec.lua'" "$tmp/bad.out" &&
	! grep -q traceback "$tmp/bad.out"; then
	echo "ok $i - --record to an unwritable path: exit 2 and a message"
else
	echo "not ok $i - --record to an unwritable path: exit $rc"
	sed 's/^/# /' "$tmp/bad.out"
	fail=1
fi
exit $fail
