#!/bin/sh
# fromfuzz.sh - make check: vqsim --from-fuzz turns fuzzer inputs into Lua
# scripts that replay them in the shell. For a sample of every device
# harness's corpus, the script must run to its end in vqsim ("every
# invariant held"): its asserts compare each used element and each
# device-readable buffer with what the harness saw, so a script that
# diverges from the harness fails; the sample covers every transport
# (mmio, pci) and ring layout (split, packed). The pci harness's scripts set a
# function's config space and let m:driver probe it. The ring harness's scripts drive
# m:device_ring{} (single pops beside batched pops of a clone, pushes, used
# elements); one whose ring the device refused ends with "refused: ...". Usage errors exit 2 with a message.
# TAP on stdout. Environment: VQSIM, srcdir, FUZZING (yes: the harnesses
# are linked with a fuzzing engine and cannot write scripts).
: "${srcdir:=.}"
VQSIM=${VQSIM:-./vqsim}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-fromfuzz.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
i=0
fail=0
if [ "${FUZZING:-no}" = yes ]; then
	echo "ok 1 # SKIP --enable-fuzzing build: the harnesses have the engine's main()"
	echo "1..1"
	exit 0
fi
for h in ring rng blk net balloon console pci; do
	i=$((i + 1))
	corpus="$srcdir/tests/fuzz/corpus/$h"
	n=0
	bad=""
	# every 100th input, and of the inputs that choose their transport
	# and ring layout (named after them: mmio-packed-*, pci-split-*, ...,
	# ring: packed-*, packed-inorder-*, inorder-*) the first two and every
	# 100th of each kind
	sample=$(ls "$corpus" | awk 'NR % 100 == 1'
		for k in mmio-split mmio-packed pci-split pci-packed packed packed-inorder inorder; do
			for f in "$corpus/$k"-*; do
				[ -e "$f" ] && basename "$f"
			done | awk 'NR <= 2 || NR % 100 == 0'
		done)
	for f in $sample; do
		n=$((n + 1))
		if ! "$VQSIM" --from-fuzz "$h" "$corpus/$f" >"$tmp/r.lua" 2>"$tmp/err"; then
			bad="$f (not written: $(cat "$tmp/err"))"
			break
		fi
		if ! "$VQSIM" "$tmp/r.lua" >"$tmp/out" 2>&1 ||
			! tail -1 "$tmp/out" | grep -q '^every invariant held$\|^refused: \|nothing to try$'; then
			bad="$f ($(tail -3 "$tmp/out" | tr '\n' ' '))"
			break
		fi
	done
	if [ -z "$bad" ] && [ "$n" -gt 0 ]; then
		echo "ok $i - $h: $n corpus inputs written as Lua replay in the shell to the end"
	else
		echo "not ok $i - $h: ${bad:-no corpus in $corpus}"
		fail=1
	fi
done
check() { # name, expected status, message pattern, args...
	name=$1 want=$2 pat=$3
	shift 3
	i=$((i + 1))
	"$VQSIM" "$@" >"$tmp/out" 2>"$tmp/err"
	st=$?
	if [ "$st" -eq "$want" ] && grep -q "$pat" "$tmp/err"; then
		echo "ok $i - $name"
	else
		echo "not ok $i - $name (exit $st)"
		sed 's/^/# /' "$tmp/err"
		fail=1
	fi
}
any=$(ls "$srcdir/tests/fuzz/corpus/blk" | head -1)
check "unknown harness: exit 2, named" 2 "no harness 'nosuch'" \
	--from-fuzz nosuch "$srcdir/tests/fuzz/corpus/blk/$any"
check "the vhost harness: exit 2, how to replay instead" 2 "fuzz_vhost" \
	--from-fuzz vhost "$srcdir/tests/fuzz/corpus/vhost/regress-device-left-half-up"
check "missing input: exit 2, named" 2 "cannot read input '$tmp/none'" \
	--from-fuzz blk "$tmp/none"
check "extra arguments: exit 2" 2 "needs HARNESS and one input FILE" \
	--from-fuzz blk a b
echo "1..$i"
exit $fail
