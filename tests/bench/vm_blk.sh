#!/bin/sh
# vm_blk.sh - make bench: a real Linux guest under QEMU/TCG reads and writes
# 4 KiB blocks with O_DIRECT on a vhost-user-blk device served by vqsim, and
# the same guest, in the same run, against qemu-storage-daemon on the same
# image: requests per second of each and their ratio (TCG makes both slow;
# the ratio is the figure). Also what the Linux driver negotiated and the
# messages vqsim handled, from its trace. Environment: VQSIM, srcdir,
# VQSIM_VM_CACHE, VQSIM_BENCH_BLOCKS (default 2000).
: "${srcdir:=$(dirname "$0")/../..}"
VQSIM=${VQSIM:-./vqsim}
VQSIM=$(cd "$(dirname "$VQSIM")" && pwd)/$(basename "$VQSIM")
CACHE=${VQSIM_VM_CACHE:-$PWD/tests/vm/cache}
N=${VQSIM_BENCH_BLOCKS:-2000}
BOOT_TIMEOUT=300

skip() {
	echo "vm_blk: skipped: $*"
	exit 0
}
. "$srcdir/tests/vm/lib.sh"
vm_init
command -v qemu-storage-daemon >/dev/null ||
	skip "qemu-storage-daemon not installed (Debian: qemu-system-common)"

cat >"$tmp/guest.sh" <<EOF
t0=\$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/vda of=/dev/null bs=4096 count=$N iflag=direct 2>/dev/null
t1=\$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/zero of=/dev/vda bs=4096 count=$N oflag=direct 2>/dev/null
t2=\$(cut -d' ' -f1 /proc/uptime)
echo "VQ-TIMES \$t0 \$t1 \$t2"
EOF
vm_initrd "$tmp/guest.sh" "$tmp/initrd.gz"
dd if=/dev/zero of="$tmp/disk.img" bs=1M count=64 2>/dev/null

# run_guest NAME: boot against the back-end listening on $tmp/NAME.sock;
# prints "reads/s writes/s"
run_guest() {
	vm_boot "$tmp/initrd.gz" "$tmp/$1.console" \
		-chardev socket,id=c0,path="$tmp/$1.sock" -device vhost-user-blk-pci,chardev=c0
	tr -d '\r' <"$tmp/$1.console" | awk -v n="$N" '/^VQ-TIMES/ {
		r = $3 - $2; w = $4 - $3
		printf "%.0f %.0f\n", (r > 0 ? n / r : 0), (w > 0 ? n / w : 0) }'
}

"$VQSIM" --trace "$tmp/vqsim.trace" --vhost-user "$tmp/vqsim.sock" \
	--device "blk,backend=file,path=$tmp/disk.img" 2>"$tmp/vqsim.log" &
pids="$pids $!"
vm_wait_socket "$tmp/vqsim.sock" || skip "vqsim did not come up"
set -- $(run_guest vqsim)
vq_r=${1:-0} vq_w=${2:-0}
for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=""

qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$tmp/disk.img,cache.direct=off" \
	--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$tmp/qsd.sock,writable=on" \
	>"$tmp/qsd.log" 2>&1 &
pids="$pids $!"
vm_wait_socket "$tmp/qsd.sock" || skip "qemu-storage-daemon did not come up"
set -- $(run_guest qsd)
qsd_r=${1:-0} qsd_w=${2:-0}

echo "vm_blk: Linux guest under QEMU/TCG, $N x 4 KiB O_DIRECT, vhost-user-blk"
printf '  %-22s %10s %10s\n' "back-end" "reads/s" "writes/s"
printf '  %-22s %10s %10s\n' "vqsim blk (file)" "$vq_r" "$vq_w"
printf '  %-22s %10s %10s\n' "qemu-storage-daemon" "$qsd_r" "$qsd_w"
awk -v a="$vq_r" -v b="$qsd_r" -v c="$vq_w" -v d="$qsd_w" 'BEGIN {
	if (b > 0 && d > 0) printf "  vqsim / qsd: reads %.2f, writes %.2f\n", a / b, c / d }'
echo "  vqsim: $(grep -c 'vhost-user [A-Z_]* size' "$tmp/vqsim.trace") messages," \
	"$(grep -c 'notify .*vhost-user kick' "$tmp/vqsim.trace") kicks," \
	"$(grep -c 'vhost-user call' "$tmp/vqsim.trace") calls;" \
	"$(grep -m1 'vhost-user device started' "$tmp/vqsim.trace" | sed 's/.*device started, //')"
