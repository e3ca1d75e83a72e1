#!/bin/sh
# virtiofsd.sh - vqsim's driver against virtiofsd (the C one shipped in
# qemu-system-common at /usr/lib/qemu/virtiofsd), a vhost-user-fs back-end.
# vqsim is the front-end; the test speaks FUSE over the request queue by
# hand through the raw-queue API: INIT, LOOKUP, OPEN, READ of a file the
# test put in the shared folder. virtiofsd exits when its front-end leaves,
# so each step starts its own (bounded) and stops only what it started.
srcdir=${srcdir:-.}
VQSIM=${VQSIM:-./vqsim}

. "$srcdir/tests/peers/lib.sh"
VFS=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
[ -x "$VFS" ] || skip "virtiofsd not installed (Debian: qemu-system-common)"
peer_init vfs

mkdir -p "$tmp/share"
printf 'hello from the host\n' >"$tmp/share/hello.txt"
start_vfs() {
	rm -f "$tmp/fs.sock"
	timeout 60 "$VFS" --socket-path="$tmp/fs.sock" -o source="$tmp/share" \
		-o sandbox=chroot -o cache=none >>"$tmp/vfs.log" 2>&1 &
	vfs=$!
	pids="$pids $vfs"
	wait_sock "$tmp/fs.sock" "$vfs" || { tail -5 "$tmp/vfs.log"; false; }
}

cat >"$tmp/fuse.lua" <<'LUA'
local sock = ...
local m = vqsim.machine{}
local dev = m:add("vhost-user", {socket = sock, type = "fs", timeout = 3000})
assert(dev.type == "fs" and dev.nqueues == 2, "fs with hiprio and one request queue")
local d = m:driver(dev)
d:init{}
local q = d:queue(1)                  -- the request queue
local unique = 0
-- One FUSE request: header (40 bytes) + body, reply buffer of cap bytes.
-- Returns the reply's error and body.
local function fuse(opcode, nodeid, body, cap)
  unique = unique + 1
  local inb, outb = d:alloc(40 + #body), d:alloc(16 + cap)
  m.mem:write(inb, string.pack("<I4I4I8I8I4I4I4I4", 40 + #body, opcode, unique, nodeid,
                               0, 0, 0, 0) .. body)
  m.mem:fill(outb, 16 + cap, 0xee)
  q:add({{inb, 40 + #body, "r"}, {outb, 16 + cap, "w"}}, unique)
  q:kick()
  assert(q:wait(), "virtiofsd answered opcode " .. opcode)
  local tok, used = q:reap()
  assert(tok == unique, "token")
  local len, err, uniq = string.unpack("<I4i4I8", m.mem:read(outb, 16))
  assert(uniq == unique, "reply to request " .. unique)
  assert(used == len, "used.len " .. used .. " is the reply's length " .. len)
  return err, m.mem:read(outb + 16, len - 16)
end
local err, b = fuse(26, 0, string.pack("<I4I4I4I4", 7, 31, 0, 0), 128)   -- INIT
assert(err == 0 and string.unpack("<I4", b) == 7, "FUSE major 7")
local err2, e = fuse(1, 1, "hello.txt\0", 128)                          -- LOOKUP
assert(err2 == 0, "lookup: error " .. err2)
local nodeid = string.unpack("<I8", e)
local size = string.unpack("<I8", e, 49)                                 -- attr.size
assert(size == 20, "size " .. size)
local err3, o = fuse(14, nodeid, string.pack("<I4I4", 0, 0), 16)        -- OPEN
assert(err3 == 0, "open: error " .. err3)
local fh = string.unpack("<I8", o)
local err4, data = fuse(15, nodeid, string.pack("<I8I8I4I4I8I4I4", fh, 0, 4096, 0, 0, 0, 0),
                        4096)                                            -- READ
assert(err4 == 0, "read: error " .. err4)
assert(data == "hello from the host\n", "the file's bytes: " .. data)
local err5 = fuse(1, 1, "no-such-file\0", 128)
assert(err5 == -2, "ENOENT for a missing name, got " .. err5)
print("ok")
LUA

echo "1..2"
check "virtiofsd listens on its vhost-user socket" start_vfs
check "FUSE over vhost-user-fs: INIT, LOOKUP, OPEN, READ give the host file's bytes" \
	timeout 60 "$VQSIM" "$tmp/fuse.lua" "$tmp/fs.sock"
