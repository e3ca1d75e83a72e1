#!/bin/sh
# conformance.sh - make check: run every conformance suite through vqsim --test
# on the four combinations {mmio, pci} x {split, packed} (vqsim --transport,
# --ring). Suites tied to one combination run only under it: mmio/ on mmio,
# pci/ on pci, split_ring/ and devring/ with split, packed_ring/ with packed.
# The runs' TAP streams are joined into one (tests renumbered, one plan, the
# combination named in each description).
# Environment: VQSIM (the binary), srcdir (automake).
: "${srcdir:=.}"
vqsim="${VQSIM:-./vqsim}"
status=0
out=$(mktemp) || exit 1
trap 'rm -f "$out" "$out.run"' EXIT
for transport in mmio pci; do
	for ring in split packed; do
		set --
		for dir in "$srcdir"/scripts/conformance/*/; do
			dir=${dir%/}
			case "$transport:${dir##*/}" in
			pci:mmio | mmio:pci) continue ;;
			esac
			case "$ring:${dir##*/}" in
			packed:split_ring | packed:devring | split:packed_ring) continue ;;
			esac
			set -- "$@" "$dir"
		done
		"$vqsim" --transport "$transport" --ring "$ring" --test --coverage "$@" \
			>"$out.run" 2>&1 || status=1
		sed "s/^\(\(not \)\{0,1\}ok [0-9][0-9]* - \)/\1[$transport,$ring] /" "$out.run" >>"$out"
	done
done
awk 'BEGIN { print "TAP version 13" }
/^TAP version/ || /^1\.\.[0-9]+/ { next }
/^(not )?ok [0-9]+/ { n++; sub(/ok [0-9]+/, "ok " n) }
{ print }
END { print "1.." n }' "$out"
exit $status
