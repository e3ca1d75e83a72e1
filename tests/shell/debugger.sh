#!/bin/sh
# debugger.sh - make check: breakpoints, watchpoints, stepping and trace
# options from Lua (debugger.lua under vqsim --test), then a breakpoint hit
# in the REPL (stdin not a terminal): the hit is printed and the session
# goes on. TAP on stdout. Environment: VQSIM, srcdir.
: "${srcdir:=.}"
VQSIM=${VQSIM:-./vqsim}
echo "1..3"
failed=0
if out=$("$VQSIM" --test "$srcdir/tests/shell/debugger.lua" 2>&1); then
	echo "ok 1 - debugger.lua"
else
	echo "not ok 1 - debugger.lua"
	failed=1
fi
printf '%s\n' "$out" | sed 's/^/# /'

# the REPL through a pseudo-terminal, with test_repl.py's Session
if ! command -v python3 >/dev/null 2>&1; then
	echo "ok 2 - REPL prints the hit # SKIP no python3"
	echo "ok 3 - REPL announces a hit # SKIP no python3"
	exit 0
fi
python3 - "$srcdir/tests/shell" "$VQSIM" <<'PY'
import os, sys, tempfile
sys.path.insert(0, sys.argv[1])
from test_repl import Session, PROMPT
tmp = tempfile.mkdtemp(prefix="vqsim-dbg-")
env = dict(os.environ, HOME=tmp, XDG_STATE_HOME=os.path.join(tmp, "state"),
           TERM="dumb", INPUTRC="/dev/null")
env.pop("VQSIM_HISTFILE", None)
s = Session(os.path.abspath(sys.argv[2]), env)
s.read_until(PROMPT)
s.line('F = require "fixtures"; m, rng, d, q = F.rng()')
s.line('b = m:breakpoint{kind = "chain", head = 1}')
s.line('q:add{{F.BUF, 16, "w"}}; q:add{{F.BUF + 64, 16, "w"}}; q:kick()')
out = s.line("m:run()")
after = s.line("m:pending()")
# a hit is announced even when nothing prints the value
s.line('b2 = m:breakpoint{kind = "chain"}; b3 = m:breakpoint{dev = "rng0", kind = "chain"}')
s.line('q:add{{F.BUF, 16, "w"}}; q:kick()')
silent = s.line("n = m:run()")
s.close()
good = b"head = 1" in out and b"chain    rng0.q0 head=1" in out and b"0" in after
print("%s 2 - REPL prints the hit and returns to the prompt" % ("ok" if good else "not ok"))
if not good:
    for l in out.decode(errors="replace").splitlines():
        print("# " + l)
good3 = b"breakpoints 2, 3 hit: " in silent and b"chain    rng0.q0 head=" in silent
print("%s 3 - REPL announces a hit of two breakpoints when the value is not printed"
      % ("ok" if good3 else "not ok"))
if not good3:
    for l in silent.decode(errors="replace").splitlines():
        print("# " + l)
sys.exit(0 if good and good3 else 1)
PY
[ $? -eq 0 ] && [ $failed -eq 0 ]
