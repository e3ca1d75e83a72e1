# lib.sh - what the tests meeting a real vhost-user back-end share (sourced
# by tests/peers/*.sh): the skip-all line, a temporary folder and the
# processes started, both gone on the way out, one TAP line a check, and the
# wait for a back-end's socket.

skip() { # TAP's skip-all: the reason is the line
	echo "1..0 # SKIP $*"
	exit 0
}

# peer_init NAME: $tmp, a new folder removed on exit; $pids, the processes
# started (each script adds its own), killed on exit; $peer_rm, more paths
# to remove on exit.
peer_init() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-$1.XXXXXX") || exit 99
	pids=""
	peer_rm=""
	n=0
	trap peer_cleanup EXIT INT TERM HUP PIPE
}
peer_cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp" $peer_rm 2>/dev/null
}

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

# wait_sock PATH PID [TENTHS]: true once the socket PATH exists, false when
# PID died first or TENTHS tenths of a second (default 100) went by.
wait_sock() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt "${3:-100}" ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$1" ]
}
