#!/bin/sh
# repl.sh - make check: the REPL through a pseudo-terminal (test_repl.py).
# Skips (77) without python3.
: "${srcdir:=.}"
command -v python3 >/dev/null 2>&1 || exit 77
exec python3 "$srcdir/tests/shell/test_repl.py" "${VQSIM:-./vqsim}"
