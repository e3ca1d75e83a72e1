#!/bin/sh
# testpmd.sh - vqsim's net driver against DPDK's vhost PMD (dpdk-testpmd,
# Debian: dpdk-dev) in macswap forwarding: every frame vqsim's driver sends
# comes back with its MAC addresses swapped. vqsim is the front-end. Split
# and packed rings (DPDK speaks both). Starts its own testpmd (two lcores on
# one CPU, no hugepages, no PCI), bounds every step, stops only what it
# started. TAP on stdout.
srcdir=${srcdir:-.}
VQSIM=${VQSIM:-./vqsim}

. "$srcdir/tests/peers/lib.sh"
TESTPMD=$(command -v dpdk-testpmd) || skip "dpdk-testpmd not installed (Debian: dpdk-dev)"
peer_init tp
peer_rm="/var/run/dpdk/vqsim-tp-$$"

start_testpmd() {
	# --stats-period keeps it running without a terminal on stdin
	"$TESTPMD" --no-huge -m 512 --no-pci --file-prefix="vqsim-tp-$$" --lcores '0@0,1@0' \
		--vdev "net_vhost0,iface=$tmp/net.sock,queues=1" -- \
		--forward-mode=macswap --nb-cores=1 --total-num-mbufs=4096 --stats-period 600 \
		>"$tmp/testpmd.log" 2>&1 </dev/null &
	tp=$!
	pids="$pids $tp"
	wait_sock "$tmp/net.sock" "$tp" 600 || { tail -20 "$tmp/testpmd.log"; false; }
}

echo "1..5"
check "dpdk-testpmd listens on its vhost-user socket" start_testpmd

# Frames with distinct payloads come back in order, MACs swapped, payload
# intact: what the real peer did with them.
cat >"$tmp/swap.lua" <<'LUA'
local sock, ring = ...
local m = vqsim.machine{}
local dev = m:add("vhost-user", {socket = sock, type = "net", timeout = 3000})
local d = m:driver(dev)
d:net_init{ring = ring}
assert(d:has("RING_PACKED") == (ring == "packed"), "ring layout " .. ring .. " negotiated")
local a, b = "\2\0\0\0\0\1", "\2\0\0\0\0\2"
for i = 1, 16 do
  local payload = string.format("%04d", i) .. ("p"):rep(60)
  d:net_send(b .. a .. "\x88\xb5" .. payload)
  local got = d:net_recv()
  assert(got, "frame " .. i .. " came back")
  assert(got == a .. b .. "\x88\xb5" .. payload,
         "frame " .. i .. ": MACs swapped, payload intact")
end
-- DPDK busy-polls and asks for no notifications (NO_NOTIFY / event
-- suppression): the driver honours that, a kick or two at start-up only
assert(dev.outside.kicks <= 4, "kicks " .. dev.outside.kicks)
assert(not dev.needs_reset and dev.error == nil)
LUA
check "split ring: 16 frames come back MAC-swapped, payload intact" \
	timeout 60 "$VQSIM" "$tmp/swap.lua" "$tmp/net.sock" split
check "packed ring: 16 frames come back MAC-swapped, payload intact" \
	timeout 60 "$VQSIM" "$tmp/swap.lua" "$tmp/net.sock" packed
check "net suite (device-generic tests) against testpmd: no failure" \
	timeout 120 "$VQSIM" --test --device "vhost-user:$tmp/net.sock,type=net,timeout=2000" \
	"$srcdir/scripts/conformance/net"
check "testpmd counted the frames it forwarded" grep -q "TX-packets" "$tmp/testpmd.log"
