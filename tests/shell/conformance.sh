#!/bin/sh
# conformance.sh - make check: run every conformance suite through vqsim --test.
# Environment: VQSIM (the binary), srcdir (automake).
: "${srcdir:=.}"
exec "${VQSIM:-./vqsim}" --test --coverage "$srcdir/scripts/conformance"
