#!/bin/sh
# guest.sh - make check: a real Linux guest under QEMU (TCG) meets vqsim's
# devices over vhost-user, and the host checks what the guest's drivers did.
#
#   blk: vqsim serves an image file; the guest reads the sector pattern the
#        host wrote, writes its own sectors (O_DIRECT) and flushes; the host
#        compares the image bytes afterwards. One sector range is failed
#        with IOERR through the fault registry: the guest's read of it must
#        report an I/O error and the guest must carry on.
#   rng: vqsim serves its seeded PRNG; the guest's /dev/hwrng bytes must be
#        a stretch of the stream the same seed gives on the host.
#   net: the guest brings its NIC up and sends a UDP frame, which vqsim
#        net's host side (pcap backend) writes to a capture the host checks;
#        a frame the host side sends (a pcap file) reaches the guest's driver.
#
# Each boot is bounded (timeout), only the processes started here are
# stopped, and on failure the guest's console is printed. Everything comes
# from Debian's packages: qemu-system-x86, a stock kernel image package
# (vmlinuz and the virtio modules are taken from it with dpkg-deb),
# busybox-static for an initramfs built here (tests/vm/lib.sh). Skips only when QEMU or
# the kernel cannot be had (TAP skip-all). Environment: VQSIM, srcdir, VQSIM_VM_CACHE
# (where the kernel is kept between runs), VQSIM_VM_RING (split|packed:
# packed=on on QEMU's devices).
: "${srcdir:=$(dirname "$0")/../..}"
VQSIM=${VQSIM:-./vqsim}
VQSIM=$(cd "$(dirname "$VQSIM")" && pwd)/$(basename "$VQSIM")
RING=${VQSIM_VM_RING:-split}
CACHE=${VQSIM_VM_CACHE:-$PWD/tests/vm/cache}
BOOT_TIMEOUT=${VQSIM_VM_TIMEOUT:-60}

skip() { # TAP's skip-all: the reason is the line
	echo "1..0 # SKIP $*"
	exit 0
}
. "$srcdir/tests/vm/lib.sh"
vm_init

# ---- what the guest does ---------------------------------------------------
cat >"$tmp/guest.sh" <<'EOF'
echo "VQ-FEATURES-BLK $(cat /sys/block/vda/device/features 2>/dev/null)"
echo "VQ-SIZE $(cat /sys/block/vda/size 2>/dev/null)"
# blk: the host's pattern in sector 0, then our own sectors 16..23
echo "VQ-SECTOR0 $(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
i=0
while [ $i -lt 8 ]; do echo "guest sector $((16 + i)) written through virtio-blk"; i=$((i + 1)); done >/tmp/w
dd if=/tmp/w of=/dev/vda bs=512 seek=16 count=8 conv=sync,fsync oflag=direct 2>/dev/null &&
	echo "VQ-WRITE ok"
sync
# the sector range the host failed with IOERR (sectors 1024..1031)
if dd if=/dev/vda of=/dev/null bs=512 skip=1024 count=8 iflag=direct 2>/tmp/err; then
	echo "VQ-IOERR none"
else
	echo "VQ-IOERR $(cat /tmp/err | head -1)"
fi
# and the guest carries on: another read works
echo "VQ-AFTER $(dd if=/dev/vda bs=512 count=1 skip=2 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
# rng
echo "VQ-RNG $(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')"
# net: up, and traffic to a host-side address
# (the ARP requests for the host's address are the guest's frames)
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && echo "VQ-NET up"
ping -c 2 -W 1 10.0.2.2 >/dev/null 2>&1
echo "VQ-NETSTAT tx=$(cat /sys/class/net/eth0/statistics/tx_packets) rx=$(cat /sys/class/net/eth0/statistics/rx_packets)"
EOF
vm_initrd "$tmp/guest.sh" "$tmp/initrd.gz"

# ---- the host side ---------------------------------------------------------
IMG=$tmp/disk.img
dd if=/dev/zero of="$IMG" bs=1M count=8 2>/dev/null
i=0
while [ $i -lt 32 ]; do printf 'host pattern line %02d ..........\n' $i; i=$((i + 1)); done |
	head -c 512 >"$tmp/sector0"
dd if="$tmp/sector0" of="$IMG" conv=notrunc 2>/dev/null
want0=$(md5sum <"$tmp/sector0" | cut -d' ' -f1)

# one frame for the guest: a pcap file (LE header, one record of 60 bytes:
# broadcast, from 52:54:00:00:00:02, ethertype 0x88b5, "vqsim-host-hello")
{
	printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000'
	printf '\377\377\000\000\001\000\000\000'
	printf '\000\000\000\000\000\000\000\000\074\000\000\000\074\000\000\000'
	printf '\377\377\377\377\377\377\122\124\000\000\000\002\210\265'
	printf 'vqsim-host-hello'
	head -c 30 /dev/zero
} >"$tmp/to-guest.pcap"
cat >"$tmp/blk.lua" <<EOF
local m = vqsim.machine{ram = 0}
local blk = m:add("blk", {name = "blk0", backend = "file", path = "$IMG"})
m:fault{point = "blk.read", trigger = {sector = {1024, 1032}, every = true}, action = "ioerr"}
m:serve{socket = "$tmp/blk.sock", device = blk}
m:trace{file = "$tmp/blk.trace"}
m:breakpoint{kind = "fault"} -- live mode stops at breakpoints as simulation does
while true do
  m:poll(100)
  local _, hit = m:run(1000000)
  if hit then io.stderr:write("VQ-BREAK ", hit.line, "\n") end
end
EOF
"$VQSIM" "$tmp/blk.lua" >"$tmp/blk.log" 2>&1 &
pids="$pids $!"
"$VQSIM" --seed 42 --trace "$tmp/rng.trace" --vhost-user "$tmp/rng.sock" --device rng \
	>"$tmp/rng.log" 2>&1 &
pids="$pids $!"
"$VQSIM" --trace "$tmp/net.trace" --vhost-user "$tmp/net.sock" \
	--device "net,backend=pcap,pcap-out=$tmp/net.pcap,pcap-in=$tmp/to-guest.pcap" \
	>"$tmp/net.log" 2>&1 &
pids="$pids $!"
if ! vm_wait_socket "$tmp/blk.sock" "$tmp/rng.sock" "$tmp/net.sock"; then
	echo "not ok 1 - vqsim back-ends did not come up"
	cat "$tmp"/*.log | sed 's/^/# /'
	exit 1
fi

packed=""
[ "$RING" = packed ] && packed=",packed=on"
start=$(date +%s)
vm_boot "$tmp/initrd.gz" "$tmp/console.log" \
	-chardev socket,id=c0,path="$tmp/blk.sock" -device vhost-user-blk-pci,chardev=c0$packed \
	-chardev socket,id=c1,path="$tmp/rng.sock" -device vhost-user-rng-pci,chardev=c1$packed \
	-chardev socket,id=c2,path="$tmp/net.sock" -netdev vhost-user,id=n0,chardev=c2 \
	-device virtio-net-pci,netdev=n0,vectors=0,mac=52:54:00:12:34:56$packed
qrc=$?
secs=$(($(date +%s) - start))
for p in $pids; do kill "$p" 2>/dev/null; done
for p in $pids; do wait "$p" 2>/dev/null; done
pids=""

i=0
fail=0
line() { tr -d '\r' <"$tmp/console.log" | grep -a "^$1" | head -1 | cut -d' ' -f2-; }
check() { # name, condition result (0 ok)
	i=$((i + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $i - $1"
	else
		echo "not ok $i - $1"
		fail=1
	fi
}
grep -aq "^VQ-END" "$tmp/console.log"
check "the guest ran to its end under QEMU/TCG in ${secs}s (qemu exit $qrc, ring $RING)" $?
bit34=$(line VQ-FEATURES-BLK | cut -c35)
if [ "$RING" = packed ]; then [ "$bit34" = 1 ]; else [ "$bit34" = 0 ]; fi
check "blk: the Linux driver negotiated the $RING ring (VIRTIO_F_RING_PACKED = ${bit34:-?})" $?
[ "$(line VQ-SECTOR0)" = "$want0" ]
check "blk: the guest read the host's sector 0 through vqsim ($want0)" $?
dd if="$IMG" bs=512 skip=16 count=1 2>/dev/null >"$tmp/s16"
grep -aq "guest sector 16 written through virtio-blk" "$tmp/s16" &&
	grep -aq "guest sector 23 written through virtio-blk" "$tmp/s16" &&
	[ "$(line VQ-WRITE)" = ok ]
check "blk: the image holds what the guest wrote at sector 16 (O_DIRECT, fsync)" $?
line VQ-IOERR | grep -qi "I/O error\|Input/output error"
check "blk: the failed sector range gave the guest an I/O error ($(line VQ-IOERR))" $?
[ -n "$(line VQ-AFTER)" ] && [ "$(line VQ-AFTER)" != "$(echo | md5sum | cut -d' ' -f1)" ]
check "blk: the guest carried on reading after the error" $?
rng=$(line VQ-RNG)
# the same seed's stream on the host: 64 KiB of it through vqsim's own driver
"$VQSIM" --seed 42 -e "local m = vqsim.machine{}
local r = m:add('rng'); local d = m:driver(r); d:init{}
local s = d:rng_read(65536)
io.write((s:gsub('.', function(c) return string.format('%02x', c:byte()) end)))" \
	>"$tmp/stream.hex" 2>"$tmp/stream.err"
[ ${#rng} -eq 64 ] && grep -q "$rng" "$tmp/stream.hex"
check "rng: the guest's /dev/hwrng bytes are the seeded stream (${rng:-nothing})" $?
od -An -tx1 "$tmp/net.pcap" 2>/dev/null | tr -d ' \n' | grep -q "ffffffffffff525400123456"
check "net: the frame the guest sent reached vqsim's host side ($(line VQ-NETSTAT))" $?
line VQ-NETSTAT | grep -q "rx=[1-9]"
check "net: the guest's driver received the host side's frame" $?
grep -q "^VQ-BREAK .*blk.read" "$tmp/blk.log"
check "debugger: a breakpoint on the fault stopped the live run ($(grep -m1 '^VQ-BREAK' "$tmp/blk.log" | cut -c1-60))" $?
grep -q "kick" "$tmp/blk.trace" && grep -q "vhost-user SET_MEM_TABLE" "$tmp/blk.trace"
check "trace: the front-end's messages and kicks are marked as from vhost-user" $?
if [ $fail -ne 0 ]; then
	echo "# --- guest console ---"
	sed 's/^/# /' "$tmp/console.log" | tail -60
	echo "# --- qemu ---"
	sed 's/^/# /' "$tmp/qemu.log" | tail -20
	for l in blk rng net; do
		echo "# --- vqsim $l ---"
		sed 's/^/# /' "$tmp/$l.log" | tail -10
	done
	echo "# --- blk trace (tail) ---"
	tail -20 "$tmp/blk.trace" | sed 's/^/# /'
fi
echo "1..$i"
exit $fail
