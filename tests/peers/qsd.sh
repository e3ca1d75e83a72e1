#!/bin/sh
# qsd.sh - vqsim's suites and driver against a real vhost-user back-end:
# qemu-storage-daemon's vhost-user-blk export (Debian: qemu-system-common).
# vqsim is the front-end (m:add("vhost-user", ...) / --device vhost-user:).
# Starts its own qemu-storage-daemon on a temporary image, bounds every step
# (timeout), stops only the processes it started. TAP on stdout.
srcdir=${srcdir:-.}
VQSIM=${VQSIM:-./vqsim}
T=${VQSIM_PEER_TIMEOUT:-300}   # seconds for one vqsim run

. "$srcdir/tests/peers/lib.sh"
QSD=$(command -v qemu-storage-daemon) ||
	skip "qemu-storage-daemon not installed (Debian: qemu-system-common)"
peer_init qsd

# start_qsd: a vhost-user-blk export of $tmp/img.raw (1 MiB) on $tmp/blk.sock
start_qsd() {
	rm -f "$tmp/blk.sock"
	"$QSD" --blockdev driver=file,node-name=file0,filename="$tmp/img.raw" \
		--blockdev driver=raw,node-name=disk0,file=file0 \
		--export type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path="$tmp/blk.sock",writable=on \
		>>"$tmp/qsd.log" 2>&1 &
	qsd=$!
	pids="$pids $qsd"
	wait_sock "$tmp/blk.sock" "$qsd"
}
stop_qsd() {
	kill "$qsd" 2>/dev/null
	wait "$qsd" 2>/dev/null
}

truncate -s 1M "$tmp/img.raw"
echo "1..7"
check "qemu-storage-daemon listens on its vhost-user socket" start_qsd

dev="vhost-user:$tmp/blk.sock,type=blk,timeout=1000"
expect="$srcdir/tests/peers/qsd-blk.expect"
known=$(grep -c '^[^#].*|' "$expect")
# suites: no unexpected failure, and every known difference still shows
# (a qemu-storage-daemon that fixes one makes the list shorter, visibly)
suites() {
	timeout "$T" "$VQSIM" --test --transport "$1" --device "$dev" --expect "$expect" \
		"$srcdir/scripts/conformance/blk" "$srcdir/scripts/conformance/hostile/ring.lua" \
		"$srcdir/scripts/conformance/hostile/requests.lua" \
		"$srcdir/scripts/conformance/hostile/reset.lua" \
		>"$tmp/suite.tap" 2>&1
	rc=$?
	grep '^not ok\|^# [0-9]' "$tmp/suite.tap"
	[ $rc -eq 0 ] && grep -q "^# $known known difference" "$tmp/suite.tap"
}
check "blk suite and hostile ring, request, reset suites on mmio: only the $known known differences" suites mmio
check "blk suite and hostile ring, request, reset suites on pci: only the $known known differences" suites pci

# What the real peer saw: bytes the driver wrote are in the image file.
cat >"$tmp/rw.lua" <<LUA
local m = vqsim.machine{}
local dev = m:add("vhost-user", {socket = "$tmp/blk.sock", type = "blk"})
local d = m:driver(dev)
d:init{}
assert(d:blk_capacity() == 2048, "capacity " .. d:blk_capacity())
assert(d:blk_write(5, ("Q"):rep(512)) == "OK")
assert(d:blk_read(5, 512) == ("Q"):rep(512))
d:reset() -- the rings stop: what qsd wrote since the last call is traced
assert(dev.outside.kicks >= 2, "kicks counted")
assert(dev.outside.messages >= 10, "messages counted")
LUA
written() {
	timeout 60 "$VQSIM" "$tmp/rw.lua" &&
		[ "$(dd if="$tmp/img.raw" bs=512 skip=5 count=1 2>/dev/null | tr -d Q | wc -c)" -eq 0 ]
}
check "the driver's write through vhost-user is in qemu-storage-daemon's image" written

# The trace marks what the outside device did: the used entries it wrote
# (id, len) and its calls, beside the driver's kicks.
traced() {
	timeout 60 "$VQSIM" --trace "$tmp/rw.trace" "$tmp/rw.lua" &&
		grep -q "vhost-user -> SET_MEM_TABLE" "$tmp/rw.trace" &&
		grep -q "outside device used id [0-9]* len 513" "$tmp/rw.trace"
}
check "the trace shows the memory table sent and the used entries qsd wrote" traced

# The back-end dies mid-session: the request fails with VHOST_PEER within
# the timeout (no hang), and a reset after it came back connects again.
cat >"$tmp/die.lua" <<LUA
local m = vqsim.machine{}
local dev = m:add("vhost-user", {socket = "$tmp/blk.sock", type = "blk", timeout = 1000})
local d = m:driver(dev)
d:init{}
assert(d:blk_write(1, ("a"):rep(512)) == "OK")
local bp = m:breakpoint{kind = "error", err = "VHOST_PEER"}
os.execute("kill @QSD@; sleep 0.3")
local okc, err = pcall(d.blk_read, d, 1, 512)
local _, hit = m:run()
assert(hit and hit.bp == bp and hit.err == "VHOST_PEER",
       "a breakpoint on the outside device's failure hits")
assert(dev.needs_reset, "DEVICE_NEEDS_RESET after the back-end left")
assert(dev.error == "VHOST_PEER", "error " .. tostring(dev.error))
assert(dev.outside.dead)
io.stderr:write("after death: ", tostring(okc), " ", tostring(err), "\n")
os.execute("touch $tmp/restart; i=0; while [ -e $tmp/restart ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done")
d:init{}
assert(not dev.needs_reset, "reset connected again")
assert(dev.outside.reconnects == 1)
assert(d:blk_read(1, 512) == ("a"):rep(512), "data kept by the image")
LUA
dies() {
	sed -i "s/@QSD@/$qsd/" "$tmp/die.lua"
	timeout 60 "$VQSIM" "$tmp/die.lua" &
	v=$!
	i=0
	while [ ! -e "$tmp/restart" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$qsd" 2>/dev/null
	start_qsd && rm -f "$tmp/restart" && wait $v
}
check "a back-end that dies: VHOST_PEER within the timeout, a breakpoint on it, reconnect on reset" dies

check "qemu-storage-daemon logged the malformed requests the suites sent" \
	grep -q "outhdr too short" "$tmp/qsd.log"
