#!/usr/bin/env python3
"""test_repl.py - drive the vqsim REPL through a pseudo-terminal.

Types into a real readline session and checks what comes back: an
expression prints its value, Tab completes, history persists across two
sessions (a multi-line chunk as one entry; the file mode 0600), Ctrl-C
interrupts a busy loop and a blocking m:poll(-1) and the shell survives,
an error prints and the prompt returns, multi-line chunks continue, help
follows aliases (m.run, m.breakpoint), SIGTERM removes the socket files
vqsim bound, a stale socket file is replaced and a live one is not.

usage: test_repl.py [path/to/vqsim]   (default: $VQSIM or ./vqsim)
Prints TAP; exit status 0 only if every check passed.
"""
import os
import pty
import select
import shutil
import signal
import socket
import sys
import tempfile
import time

PROMPT = b"vqsim> "
TIMEOUT = 10.0


class Session:
    def __init__(self, exe, env):
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(exe, [exe], env)
        self.pid, self.fd, self.buf = pid, fd, b""

    def read_until(self, needle, timeout=TIMEOUT):
        """Read until needle appears in the output; return everything read."""
        end = time.time() + timeout
        while needle not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("waiting for %r, got %r" % (needle, self.buf[-400:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise EOFError("vqsim exited; output %r" % self.buf[-400:])
                self.buf += data
        i = self.buf.index(needle) + len(needle)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def send(self, data):
        os.write(self.fd, data)

    def line(self, text):
        """Type a line and return the output up to the next prompt."""
        self.send(text.encode() + b"\r")
        return self.read_until(PROMPT)

    def drain(self, wait=0.3):
        """Discard output until it has been quiet for wait seconds."""
        while True:
            r, _, _ = select.select([self.fd], [], [], wait)
            if not r:
                self.buf = b""
                return
            try:
                if not os.read(self.fd, 4096):
                    return
            except OSError:
                return

    def clear_line(self):
        """Ctrl-U, Enter on the empty line, and forget the output."""
        self.send(b"\x15\r")
        self.drain()

    def close(self):
        self.send(b"\x04")  # Ctrl-D
        try:
            self.read_until(b"\xff", timeout=3)
        except (EOFError, TimeoutError):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VQSIM", "./vqsim")
    exe = os.path.abspath(exe)
    tmp = tempfile.mkdtemp(prefix="vqsim-repl-")
    env = dict(os.environ, HOME=tmp, XDG_STATE_HOME=os.path.join(tmp, "state"),
               TERM="dumb", INPUTRC="/dev/null")
    env.pop("VQSIM_HISTFILE", None)
    results = []

    def check(name, cond, detail=""):
        results.append((name, bool(cond), detail))

    try:
        s = Session(exe, env)
        s.read_until(PROMPT)

        out = s.line("1 + 2")
        check("expression prints its value", b"3" in out, out)

        out = s.line("=2 * 21")
        check("=expr prints its value", b"42" in out, out)

        out = s.line("m = vqsim.machine{}")
        out = s.line("m.now")
        check("machine field prints", b"0" in out, out)

        s.send(b"vqsim.mac\t")
        out = s.read_until(b"machine")
        s.clear_line()
        check("Tab completes vqsim.mac -> vqsim.machine", b"vqsim.machine" in out, out)

        s.line("rng = m:add('rng')")
        s.send(b"rng:rese\t")
        out = s.read_until(b"t")
        s.clear_line()
        check("Tab completes methods after ':'", out.endswith(b"rng:reset"), out)

        out = s.line("error('boom')")
        check("an error prints and the prompt returns", b"boom" in out and out.endswith(PROMPT), out)

        out = s.line("m:add('nosuchdevice')")
        check("a bad argument names the function", b"unknown device type" in out, out)

        s.send(b"for i = 1, 3 do\r")
        s.read_until(b"...> ")
        out = s.line("io.write(i, ' ') end")
        check("multi-line chunk with continuation prompt", b"1 2 3" in out, out)

        s.send(b"while true do end\r")
        time.sleep(0.5)
        s.send(b"\x03")
        out = s.read_until(PROMPT)
        check("Ctrl-C interrupts a busy loop", b"interrupted" in out, out)
        out = s.line("40 + 2")
        check("the shell survives Ctrl-C", b"42" in out, out)

        s.send(b"half typed line")
        time.sleep(0.2)
        s.send(b"\x03")
        out = s.read_until(PROMPT)
        out = s.line("'after'")
        check("Ctrl-C at the prompt abandons the line", b'"after"' in out, out)

        # Ctrl-C ends a blocking m:poll(-1) with an error, back at the prompt
        sock = os.path.join(tmp, "con.sock")
        s.line("pm = vqsim.machine{}; pc = pm:add('console', {port0 = 'socket:%s'})" % sock)
        s.send(b"pm:poll(-1)\r")
        time.sleep(0.5)
        s.send(b"\x03")
        out = s.read_until(PROMPT)
        check("Ctrl-C interrupts m:poll(-1)", b"interrupted" in out, out)
        out = s.line("40 + 3")
        check("the shell survives Ctrl-C in m:poll", b"43" in out, out)

        # help is keyed on the name looked up: aliases of one C function
        out = s.line("help(pm.run)")
        check("help(m.run) shows m:run", b"m:run(" in out and b"continue" not in out, out)
        out = s.line("help(pm.breakpoint)")
        check("help(m.breakpoint) shows m:breakpoint", b"m:breakpoint{" in out, out)

        s.send(b"for i = 1, 2 do\r")
        s.read_until(b"...> ")
        s.line("io.write(i * 111, ' ') end")
        s.line("history_marker_12345 = 1")
        code = s.close()
        check("Ctrl-D exits with status 0", code == 0, str(code))

        hist = os.path.join(tmp, "state", "vqsim", "history")
        check("history file written", os.path.exists(hist) and
              b"history_marker_12345" in open(hist, "rb").read(), hist)
        check("history file is private (0600)", os.path.exists(hist) and
              (os.stat(hist).st_mode & 0o777) == 0o600, oct(os.stat(hist).st_mode))
        check("the console socket went with the session", not os.path.exists(sock), sock)

        s = Session(exe, env)
        s.read_until(PROMPT)
        s.send(b"\x10")  # Ctrl-P: previous history line
        out = s.read_until(b"history_marker_12345")
        s.clear_line()
        check("history persists across sessions", b"history_marker_12345" in out, out)
        s.send(b"\x10")  # Ctrl-P twice: the entry before, the whole multi-line chunk
        s.read_until(b"history_marker_12345")
        s.send(b"\x10")
        time.sleep(0.3)
        s.send(b"\r")
        try:
            out = s.read_until(b"111 222", timeout=3)
        except TimeoutError as e:
            out = str(e).encode()
        check("a multi-line chunk comes back as one entry", b"111 222" in out, out)
        s.read_until(PROMPT)
        s.close()

        # a kill removes the socket file; a stale one from an earlier run
        # (nobody listening) is replaced by the next run
        s = Session(exe, env)
        s.read_until(PROMPT)
        s.line("km = vqsim.machine{}; kc = km:add('console', {port0 = 'socket:%s'})" % sock)
        existed = os.path.exists(sock)
        os.kill(s.pid, signal.SIGTERM)
        _, status = os.waitpid(s.pid, 0)
        os.close(s.fd)
        check("SIGTERM removes the socket files vqsim bound",
              existed and not os.path.exists(sock) and os.WIFSIGNALED(status),
              "existed=%s exists=%s" % (existed, os.path.exists(sock)))
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(sock)
        stale.close()  # the file stays, nobody listens: stale
        s = Session(exe, env)
        s.read_until(PROMPT)
        out = s.line("km = vqsim.machine{}; kc = km:add('console', {port0 = 'socket:%s'}); "
                     "print('bound ok')" % sock)
        check("a stale socket file is replaced", b"bound ok" in out, out)
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        live2 = os.path.join(tmp, "live.sock")
        live.bind(live2)
        live.listen(1)
        out = s.line("km:add('console', {port0 = 'socket:%s'})" % live2)
        check("a live socket is not stolen", b"another process is listening" in out and
              live2.encode() in out, out)
        live.close()
        s.close()
    except Exception as e:  # report the failure as a test, then stop
        check("session ran to the end", False, repr(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("TAP version 13")
    for i, (name, ok, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok:
            print("  ---\n  output: %r\n  ..." % (detail[-300:] if detail else ""))
    print("1..%d" % len(results))
    return 0 if results and all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
