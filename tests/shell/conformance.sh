#!/bin/sh
# conformance.sh - make check: run every conformance suite through vqsim --test,
# once on virtio-mmio (all suites but pci/) and once with --transport pci (all
# suites but mmio/), merged into one TAP stream (pci results renumbered and
# marked "[pci]"). Environment: VQSIM (the binary), srcdir (automake).
: "${srcdir:=.}"
vqsim="${VQSIM:-./vqsim}"
dir="$srcdir/scripts/conformance"
tmp="${TMPDIR:-/tmp}/conformance.$$"
trap 'rm -f "$tmp.mmio" "$tmp.pci"' EXIT INT TERM

mmio_dirs= pci_dirs=
for d in "$dir"/*/; do
	d="${d%/}"
	case "${d##*/}" in
	pci) pci_dirs="$pci_dirs $d" ;;
	mmio) mmio_dirs="$mmio_dirs $d" ;;
	*) mmio_dirs="$mmio_dirs $d"; pci_dirs="$pci_dirs $d" ;;
	esac
done
# shellcheck disable=SC2086 # word splitting of the directory lists is wanted
"$vqsim" --test --coverage $mmio_dirs >"$tmp.mmio" 2>&1
rc_mmio=$?
# shellcheck disable=SC2086
"$vqsim" --transport pci --test --coverage $pci_dirs >"$tmp.pci" 2>&1
rc_pci=$?
awk '
	FNR == 1 { file++ }
	/^TAP version/ { if (file == 1) print; next }
	/^1\.\.[0-9]+/ { next }
	/^(not )?ok [0-9]+/ {
		n++
		neg = /^not /
		sub(/^(not )?ok [0-9]+/, "")
		print (neg ? "not ok " : "ok ") n (file == 2 ? " [pci]" : "") $0
		next
	}
	{ print }
	END { print "1.." n }
' "$tmp.mmio" "$tmp.pci"
[ "$rc_mmio" -eq 0 ] && [ "$rc_pci" -eq 0 ]
