#!/bin/sh
# testpmd.sh - vqsim's net driver against DPDK's vhost PMD (dpdk-testpmd,
# Debian: dpdk-dev) in macswap forwarding: every frame vqsim's driver sends
# comes back with its MAC addresses swapped. vqsim is the front-end. Split
# and packed rings (DPDK speaks both). Starts its own testpmd (two lcores on
# one CPU, no hugepages, no PCI), bounds every step, stops only what it
# started. TAP on stdout.
srcdir=${srcdir:-.}
VQSIM=${VQSIM:-./vqsim}

skip() { # TAP's skip-all: the reason is the line
	echo "1..0 # SKIP $*"
	exit 0
}
TESTPMD=$(command -v dpdk-testpmd) || skip "dpdk-testpmd not installed (Debian: dpdk-dev)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-tp.XXXXXX") || exit 99
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp" "/var/run/dpdk/vqsim-tp-$$" 2>/dev/null
}
trap cleanup EXIT INT TERM

n=0
check() { # check DESCRIPTION COMMAND...: one TAP line
	desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$tmp/out" | tail -40
	fi
}

start_testpmd() {
	# --stats-period keeps it running without a terminal on stdin
	"$TESTPMD" --no-huge -m 512 --no-pci --file-prefix="vqsim-tp-$$" --lcores '0@0,1@0' \
		--vdev "net_vhost0,iface=$tmp/net.sock,queues=1" -- \
		--forward-mode=macswap --nb-cores=1 --total-num-mbufs=4096 --stats-period 600 \
		>"$tmp/testpmd.log" 2>&1 </dev/null &
	tp=$!
	pids="$pids $tp"
	i=0
	while [ ! -S "$tmp/net.sock" ] && [ $i -lt 600 ] && kill -0 "$tp" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$tmp/net.sock" ] || { tail -20 "$tmp/testpmd.log"; false; }
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
