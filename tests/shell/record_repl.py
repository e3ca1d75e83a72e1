#!/usr/bin/env python3
"""record_repl.py - a REPL session typed through a pseudo-terminal with
--record and --trace replays (vqsim FILE --trace) to the same trace.

usage: record_repl.py path/to/vqsim   Prints TAP; exit 0 only on success.
"""
import filecmp
import os
import pty
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_repl import PROMPT, Session  # noqa: E402


class ArgSession(Session):
    """Session with command-line arguments."""

    def __init__(self, exe, env, args):  # pylint: disable=super-init-not-called
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(exe, [exe] + args, env)
        self.pid, self.fd, self.buf = pid, fd, b""


LINES = [
    "m = vqsim.machine{ram = '16M', seed = 42}",
    "rng = m:add('rng')",
    "d = m:driver(rng)",
    "d:init{features = {'EVENT_IDX'}}",
    "d",                                   # echo: tostring reads Status
    "d:rng_read(8)",
    "q = d:queue(0)",
    "q:post(9999)",                        # a raw avail entry naming no descriptor
    "q:notify()",
    "m:run()",
    "rng.needs_reset, rng:reg('InterruptStatus')",
    "d:rng_read(4)",                       # fails: needs reset
    "m.mem:write(0x40000000, 'a \"quoted\"\\nline')",
    "rng:reset()",
    "d:init()",
    "d:rng_read(4)",
]


def main():
    exe = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./vqsim")
    tmp = tempfile.mkdtemp(prefix="vqsim-rec-")
    env = dict(os.environ, HOME=tmp, XDG_STATE_HOME=os.path.join(tmp, "state"),
               TERM="dumb", INPUTRC="/dev/null")
    env.pop("VQSIM_HISTFILE", None)
    rec, ta, tb = (os.path.join(tmp, n) for n in ("session.lua", "a.json", "b.json"))
    print("1..2")
    try:
        s = ArgSession(exe, env, ["--record", rec, "--trace", ta, "--trace-format", "json"])
        s.read_until(PROMPT)
        outs = [s.line(text) for text in LINES]
        rc = s.close()
        ok = rc == 0 and b"needs reset" in outs[11]
        print("%s 1 - REPL session recorded (exit %d)" % ("ok" if ok else "not ok", rc))
        with open(rec) as f:
            text = f.read()
        pid = os.fork()
        if pid == 0:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.execve(exe, [exe, "--trace", tb, "--trace-format", "json", rec], env)
        _, status = os.waitpid(pid, 0)
        same = os.waitstatus_to_exitcode(status) == 0 and os.path.getsize(ta) > 0 and \
            filecmp.cmp(ta, tb, shallow=False)
        print("%s 2 - the replay's trace is byte-identical" % ("ok" if same else "not ok"))
        if not (ok and same) or os.environ.get("RECORD_SHOW"):
            for line in text.splitlines():
                print("# " + line)
        return 0 if ok and same else 1
    except (TimeoutError, EOFError, OSError) as e:
        print("not ok - %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
