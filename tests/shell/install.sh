#!/bin/sh
# install.sh - make check: libvqsim as a user gets it. Installs the build
# into a temporary DESTDIR, points pkg-config there (PKG_CONFIG_PATH, and
# PKG_CONFIG_SYSROOT_DIR for the DESTDIR), checks the Cflags name the
# include directory itself (so <vqsim/vqsim.h> resolves), then builds
# tests/shell/install_prog.c with the command libvqsim(3) documents,
#   cc prog.c $(pkg-config --cflags --libs vqsim)
# and runs it against the installed library. TAP on stdout.
# Environment (Makefile.am): MAKE, abs_top_builddir, srcdir, CC,
# SAN_CFLAGS (a sanitizer build links its runtime), includedir, libdir,
# pkgconfigdir.
: "${srcdir:=.}"
: "${MAKE:=make}"
: "${CC:=cc}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-install.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
root=$tmp/root

echo "1..4"
# the make running the tests passes its jobserver and flags; this one is
# a separate install
if (unset MAKEFLAGS MFLAGS; "$MAKE" -C "$abs_top_builddir" install DESTDIR="$root") \
	>"$tmp/install.log" 2>&1 && [ -f "$root$pkgconfigdir/vqsim.pc" ] &&
	[ -f "$root$includedir/vqsim/vqsim.h" ]; then
	echo "ok 1 - make install DESTDIR: vqsim.pc and the headers installed"
else
	echo "not ok 1 - make install DESTDIR failed"
	tail -20 "$tmp/install.log" | sed 's/^/# /'
	echo "Bail out! nothing installed"
	exit 1
fi

PKG_CONFIG_PATH=$root$pkgconfigdir
PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
# the include directory itself, not include/vqsim (libpcap's flags may
# follow: vqsim.pc lists it in Requires.private, for static links)
cflags=$(pkg-config --cflags vqsim)
case " $cflags " in
*" -I$root$includedir/vqsim "*)
	echo "not ok 2 - pkg-config --cflags vqsim names $includedir/vqsim: '$cflags'" ;;
*" -I$root$includedir "*)
	echo "ok 2 - pkg-config --cflags vqsim is -I\${includedir}" ;;
*)
	echo "not ok 2 - pkg-config --cflags vqsim: '$cflags', expected -I$root$includedir" ;;
esac

# exactly the documented command (plus the sanitizer runtime when the
# library was built with one)
# shellcheck disable=SC2046,SC2086 # pkg-config output is a list of words
if $CC $SAN_CFLAGS "$srcdir/tests/shell/install_prog.c" $(pkg-config --cflags --libs vqsim) \
	-o "$tmp/prog" >"$tmp/cc.log" 2>&1; then
	echo "ok 3 - cc prog.c \$(pkg-config --cflags --libs vqsim)"
else
	echo "not ok 3 - cc prog.c \$(pkg-config --cflags --libs vqsim) failed"
	head -10 "$tmp/cc.log" | sed 's/^/# /'
	exit 1
fi

if LD_LIBRARY_PATH=$root$libdir "$tmp/prog" "$tmp/out.pcap" >"$tmp/run.log" 2>&1 &&
	grep -qx "prog: ok" "$tmp/run.log"; then
	echo "ok 4 - the program runs against the installed library"
else
	echo "not ok 4 - the program failed against the installed library"
	sed 's/^/# /' "$tmp/run.log"
fi
