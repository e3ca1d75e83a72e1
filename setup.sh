#!/usr/bin/env bash
# setup.sh - everything a fresh Debian 12 machine needs to build vqsim:
# installs the missing Debian packages, bootstraps autotools, configures an
# out-of-tree build in build/ and builds. Then, by the first argument:
#   ./setup.sh demo   run the bundled demo: the shell's guided tour
#                     (scripts/examples/tour.lua), then the C example
#   ./setup.sh test   run every test (make check)
#   ./setup.sh build  build only (default)
# Extra arguments after the first go to configure (e.g. --enable-sanitizers).
set -euo pipefail

cd "$(dirname "$0")"
action=${1:-build}
shift || true

PACKAGES="build-essential autoconf automake libtool pkg-config liblua5.4-dev libreadline-dev libpcap-dev check"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup.sh: installing Debian packages:$missing"
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install:$missing" >&2; exit 1; }
		SUDO=sudo
	fi
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	echo "setup.sh: bootstrapping (autoreconf -fi)"
	autoreconf -fi
fi

mkdir -p build
cd build
if [ ! -f Makefile ] || [ ../configure -nt Makefile ] || [ "$#" -gt 0 ]; then
	../configure --enable-werror "$@"
fi
make -j"$(nproc)"

case "$action" in
build) ;;
demo)
	./vqsim ../scripts/examples/tour.lua
	echo
	echo "== The same from C, through libvqsim (examples/rng_demo.c)"
	./examples/rng_demo ;;
test)
	if ! make -j"$(nproc)" check; then
		# show why: the logs of the tests that did not pass
		grep -l -E '^(FAIL|ERROR)' tests/unit/*.trs 2>/dev/null | sed 's/\.trs$/.log/' | xargs -r cat
		exit 1
	fi ;;
*) echo "setup.sh: unknown action '$action' (expected demo, test or build)" >&2; exit 2 ;;
esac
