# lib.sh - what the tests meeting a real Linux guest share: the kernel from
# Debian's package (cached in $CACHE), an initramfs built here from
# busybox-static and the virtio modules, and the QEMU command line.
# Sourced by tests/vm/guest.sh and tests/bench/vm_blk.sh, which set CACHE
# and define skip() first, then call vm_init once ($tmp is then a fresh
# folder removed on exit, $pids the processes to stop on the way out).

# The kernel, fetched once: KERNEL (vmlinuz) and KMOD (its modules tree).
vm_kernel() {
	QEMU=$(command -v qemu-system-x86_64) ||
		skip "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
	BUSYBOX=$(command -v busybox) || skip "busybox not installed (Debian: busybox-static)"
	command -v cpio >/dev/null || skip "cpio not installed"
	mkdir -p "$CACHE" || skip "cannot create $CACHE"
	if ! ls "$CACHE"/root/boot/vmlinuz-* >/dev/null 2>&1; then
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '/Depends: linux-image/ {print $2; exit}')
		[ -n "$pkg" ] || skip "no linux-image-cloud-amd64 in the package lists (apt-get update)"
		(cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>&1) ||
			skip "apt-get download $pkg failed"
		dpkg-deb -x "$CACHE"/"$pkg"_*.deb "$CACHE/root" || skip "dpkg-deb -x failed"
		rm -f "$CACHE"/"$pkg"_*.deb
	fi
	KERNEL=$(ls "$CACHE"/root/boot/vmlinuz-* | head -1)
	KMOD=$(ls -d "$CACHE"/root/lib/modules/* | head -1)/kernel
}

vm_cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	if [ -n "$VQSIM_VM_KEEP" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}

vm_init() {
	vm_kernel
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-vm.XXXXXX") || exit 99
	pids=""
	trap vm_cleanup EXIT INT TERM
}

# vm_initrd SCRIPT OUT: an initramfs whose /init loads the virtio modules,
# runs the busybox sh script SCRIPT, prints VQ-END and powers off.
vm_initrd() {
	rm -rf "$tmp/initrd"
	mkdir -p "$tmp/initrd/bin" "$tmp/initrd/m" "$tmp/initrd/proc" "$tmp/initrd/sys" \
		"$tmp/initrd/dev" "$tmp/initrd/tmp"
	cp "$BUSYBOX" "$tmp/initrd/bin/busybox"
	for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev \
		virtio/virtio_pci_modern_dev virtio/virtio_pci block/virtio_blk \
		char/hw_random/virtio-rng net/net_failover net/virtio_net; do
		cp "$KMOD/drivers/$m.ko" "$tmp/initrd/m/" ||
			skip "module $m.ko not in the kernel package"
	done
	cp "$KMOD/net/core/failover.ko" "$tmp/initrd/m/"
	{
		printf '%s\n' '#!/bin/busybox sh' '/bin/busybox --install -s /bin' 'export PATH=/bin' \
			'mount -t proc proc /proc' 'mount -t sysfs sys /sys' \
			'mount -t devtmpfs dev /dev' \
			'for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio-rng failover net_failover virtio_net; do' \
			'	insmod /m/$m.ko || echo "VQ insmod $m failed"' 'done' 'sleep 1'
		cat "$1"
		printf '%s\n' 'echo VQ-END' 'poweroff -f'
	} >"$tmp/initrd/init"
	chmod +x "$tmp/initrd/init"
	(cd "$tmp/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$2") ||
		skip "cpio failed"
}

# vm_boot INITRD CONSOLE_LOG QEMU_ARGS...: boot under TCG with shared memfd
# memory, bounded by $BOOT_TIMEOUT seconds; returns QEMU's status.
vm_boot() {
	initrd=$1 console=$2
	shift 2
	bios=""
	[ -f /usr/share/qemu/qboot.rom ] && bios="-bios /usr/share/qemu/qboot.rom"
	# shellcheck disable=SC2086
	timeout -k 5 "${BOOT_TIMEOUT:-60}" "$QEMU" -machine q35,accel=tcg,memory-backend=mem \
		-object memory-backend-memfd,id=mem,size=256M,share=on -m 256M $bios \
		-kernel "$KERNEL" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 rng_core.default_quality=0 quiet loglevel=3" \
		-nographic -no-reboot -nodefaults -serial "file:$console" "$@" \
		</dev/null >>"$tmp/qemu.log" 2>&1
}

# vm_wait_socket PATH...: wait (10 s at most) for back-ends' sockets.
vm_wait_socket() {
	for s in "$@"; do
		n=0
		while [ ! -S "$s" ]; do
			n=$((n + 1))
			[ $n -gt 100 ] && return 1
			sleep 0.1
		done
	done
	return 0
}
