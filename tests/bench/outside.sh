#!/bin/sh
# outside.sh - vqsim's driver through its vhost-user front-end against real
# back-ends, beside vqsim's own devices served over vhost-user, in one run:
#   blk: qemu-storage-daemon (null-co and a file) vs `vqsim --vhost-user`
#        with a blk device (ram); 4 KiB reads
#   net: DPDK testpmd (macswap) vs `vqsim --vhost-user` with a net device
#        (loopback); 64-byte frames sent and received back
# at batch 1 and 128. Rates are wall-clock on this machine: read the ratios.
# Peers that are not installed are left out (said so). Needs bench_outside.
VQSIM=${VQSIM:-./vqsim}
BENCH=${BENCH:-./tests/bench/bench_outside}
SECS=${SECS:-2}
# the temporary folder, the back-ends started and the socket wait are
# tests/peers/lib.sh's (peer_init removes and stops them on the way out)
. "$(dirname "$0")/../peers/lib.sh"
peer_init bo
# serve NAME SOCKET COMMAND...: start a back-end in the background
serve() {
	name=$1 sock=$2
	shift 2
	"$@" >"$tmp/$name.log" 2>&1 </dev/null &
	pids="$pids $!"
	wait_sock "$sock" $! 300 || { echo "# $name did not start:"; tail -5 "$tmp/$name.log"; return 1; }
}
# rate KIND SOCKET BATCH: ops/s
rate() {
	timeout 120 "$BENCH" "$1" "$2" "$3" "$SECS" | sed -n 's/.*: \([0-9]*\) ops\/s.*/\1/p'
}
row() { # LABEL KIND SOCKET BASE1 BASE128
	r1=$(rate "$2" "$3" 1)
	r128=$(rate "$2" "$3" 128)
	printf '%-34s %10s %10s' "$1" "${r1:-fail}" "${r128:-fail}"
	if [ -n "$4" ] && [ -n "$r1" ] && [ -n "$r128" ]; then
		awk -v a="$r1" -v b="$4" -v c="$r128" -v d="$5" \
			'BEGIN { printf "   %6.2f %6.2f", a / b, c / d }'
	fi
	echo
	last1=$r1 last128=$r128
}

echo "# vhost-user peers, vqsim's driver as the front-end (${SECS} s a figure)"
printf '%-34s %10s %10s   %s\n' "back-end" "batch 1/s" "batch 128/s" "ratio to vqsim's own (1, 128)"

truncate -s 64M "$tmp/img.raw"
if serve vqblk "$tmp/vq-blk.sock" "$VQSIM" --vhost-user "$tmp/vq-blk.sock" \
	--device blk,size=64M,queue-size=512; then
	row "vqsim blk (ram), vhost-user" blk "$tmp/vq-blk.sock"
	b1=$last1 b128=$last128
fi
if command -v qemu-storage-daemon >/dev/null; then
	serve qsdnull "$tmp/qsd-null.sock" qemu-storage-daemon \
		--blockdev driver=null-co,node-name=null0,size=67108864,read-zeroes=on \
		--export type=vhost-user-blk,id=e0,node-name=null0,addr.type=unix,addr.path="$tmp/qsd-null.sock" &&
		row "qemu-storage-daemon null-co" blk "$tmp/qsd-null.sock" "$b1" "$b128"
	serve qsdfile "$tmp/qsd-file.sock" qemu-storage-daemon \
		--blockdev driver=file,node-name=f0,filename="$tmp/img.raw" \
		--blockdev driver=raw,node-name=d0,file=f0 \
		--export type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path="$tmp/qsd-file.sock" &&
		row "qemu-storage-daemon file" blk "$tmp/qsd-file.sock" "$b1" "$b128"
else
	echo "# qemu-storage-daemon not installed: left out"
fi
if serve vqnet "$tmp/vq-net.sock" "$VQSIM" --vhost-user "$tmp/vq-net.sock" \
	--device net,backend=loopback; then
	row "vqsim net (loopback), vhost-user" net "$tmp/vq-net.sock"
	n1=$last1 n128=$last128
fi
if command -v dpdk-testpmd >/dev/null; then
	serve testpmd "$tmp/tp.sock" dpdk-testpmd --no-huge -m 512 --no-pci \
		--file-prefix="vqsim-bo-$$" --lcores '0@0,1@0' \
		--vdev "net_vhost0,iface=$tmp/tp.sock,queues=1" -- --forward-mode=macswap \
		--nb-cores=1 --total-num-mbufs=4096 --stats-period 600 &&
		row "dpdk-testpmd macswap" net "$tmp/tp.sock" "$n1" "$n128"
else
	echo "# dpdk-testpmd not installed: left out"
fi
