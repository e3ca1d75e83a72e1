#!/bin/sh
# campaign.sh - a bounded libFuzzer campaign over vqsim's harnesses, one
# harness at a time (the machine is shared: nice, one core), and a table
# of what each run reached, from libFuzzer's -print_final_stats=1 output:
#   harness  build  exec/s  exec/cpu-s  edges (cov:)  ft  corpus  findings
# (exec/cpu-s: executions per second of CPU time the run got, user + sys,
# which on a shared machine says what one core would do; needs GNU time)
#
# Usage: tests/fuzz/campaign.sh SECONDS BUILDDIR...
#   SECONDS   how long each harness runs (-max_total_time), e.g. 600
#   BUILDDIR  a build tree configured with --enable-fuzzing (CC=clang), e.g.
#             one plain (CFLAGS=-O2) and one with ASan+UBSan
#             (CFLAGS='-O1 -g -fsanitize=address,undefined'); each is run in
#             turn and labelled with its folder's name (+asan when the
#             harness carries AddressSanitizer). `make fuzz` must have built it.
# Environment:
#   HARNESSES  which (default: ring rng blk net balloon console vhost pci)
#   WORK       where run corpora, logs and findings go (default: a new
#              folder under ${TMPDIR:-/tmp}, kept and named at the end)
#   FUZZ_ARGS  more libFuzzer options (e.g. -jobs=2 -workers=2 on an
#              idle machine)
# Every run starts from the committed corpus (tests/fuzz/corpus/NAME, read
# only) and writes what it adds to WORK/corpus/BUILD/NAME, findings to
# WORK/findings/ (crash-*, leak-*, timeout-*, oom-*: turn one into a
# reproducer with `vqsim --from-fuzz NAME FILE`). Exit 1 when any run had
# a finding, 2 on a usage error.
set -u
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -lt 2 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
	echo "usage: $0 SECONDS BUILDDIR... (see the head of this script)" >&2
	exit 2
fi
secs=$1
shift
harnesses=${HARNESSES:-ring rng blk net balloon console vhost pci}
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/vqsim-campaign.XXXXXX")} || exit 2
mkdir -p "$work/findings" "$work/logs" || exit 2
table="$work/table.tsv"
printf 'harness\tbuild\texec/s\texec/cpu-s\tedges\tft\tcorpus\tfindings\n' >"$table"
timer=""
[ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o"
any=0
for b in "$@"; do
	for h in $harnesses; do
		prog="$b/tests/fuzz/fuzz_$h"
		if [ ! -x "$prog" ]; then
			echo "$0: no $prog (configure $b with --enable-fuzzing, make fuzz)" >&2
			exit 2
		fi
	done
done
for b in "$@"; do
	build=$(basename "$(cd "$b" && pwd)")
	for h in $harnesses; do
		prog="$b/tests/fuzz/fuzz_$h"
		label=$build
		grep -q __asan_init "$prog" && label="$build+asan"
		out="$work/corpus/$build/$h"
		log="$work/logs/$build-$h.log"
		mkdir -p "$out"
		before=$(find "$work/findings" -type f | wc -l)
		echo "# $h ($label): $secs s" >&2
		cpu="$work/logs/$build-$h.cpu"
		rm -f "$cpu"
		# timer and FUZZ_ARGS split into words on purpose
		# shellcheck disable=SC2086
		nice ${timer:+$timer "$cpu"} "$prog" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
			-rss_limit_mb=2048 -artifact_prefix="$work/findings/$h-$build-" \
			${FUZZ_ARGS:-} "$out" "$srcdir/tests/fuzz/corpus/$h" >"$log" 2>&1
		after=$(find "$work/findings" -type f | wc -l)
		found=$((after - before))
		[ "$found" -gt 0 ] && any=1
		# the last status line (#N DONE/pulse/NEW ... cov: ft: corp: N/size)
		# and the final stats
		last=$(grep -E '^#[0-9]+' "$log" | tail -1)
		cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
		ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
		corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
		eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		ecpu=-
		if [ -s "$cpu" ] && [ -n "$runs" ]; then
			ecpu=$(awk -v n="$runs" -F+ 'NR == 1 && $1 + $2 > 0 { printf "%d", n / ($1 + $2) }' "$cpu")
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$h" "$label" "${eps:--}" "${ecpu:--}" \
			"${cov:--}" "${ft:--}" "${corp:--}" "$found" >>"$table"
	done
done
column -t -s "$(printf '\t')" "$table" 2>/dev/null || cat "$table"
echo "# logs, run corpora and findings: $work" >&2
exit $any
