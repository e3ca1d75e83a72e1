#!/bin/sh
# runner.sh - make check: vqsim --test's own features. --filter picks tests
# by name, spec section (and the sections below it) or tag; each test's
# time follows its TAP line; a skip that names a known bug fails; the
# coverage report lists the normative sections no passing test names.
# TAP on stdout. Environment: VQSIM, srcdir.
: "${srcdir:=.}"
VQSIM=${VQSIM:-./vqsim}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vqsim-runner.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
cat >"$tmp/t.lua" <<'LUA'
test("alpha ring test", {spec = "2.7.5"}, function() eq(1, 1) end)
test("beta status test", {spec = "2.1.1"}, function() eq(2, 2) end)
test("gamma tagged", {tags = {"hostile"}}, function() ok(true) end)
test("delta nested section", {spec = "2.7.10"}, function() ok(true) end)
LUA
cat >"$tmp/bug.lua" <<'LUA'
test("a real skip", function() skip("needs a TAP device") end)
test("a known bug", function() skip("BUG: used.idx stays 0") end)
LUA
i=0
fail=0
check() { # name, condition (shell code), output file
	i=$((i + 1))
	if eval "$2"; then
		echo "ok $i - $1"
	else
		echo "not ok $i - $1"
		sed 's/^/# /' "$3"
		fail=1
	fi
}
"$VQSIM" --test --filter ring "$tmp/t.lua" >"$tmp/o" 2>&1
check "--filter by name substring" \
	'grep -q "^ok 1 - alpha ring test" "$tmp/o" && grep -q "^1..1$" "$tmp/o" &&
	 grep -q "^# 3 test(s) filtered out" "$tmp/o"' "$tmp/o"
"$VQSIM" --test --filter 2.7 "$tmp/t.lua" >"$tmp/o" 2>&1
check "--filter by spec section and the sections below it" \
	'grep -q "alpha" "$tmp/o" && grep -q "delta" "$tmp/o" && ! grep -q "beta" "$tmp/o" &&
	 grep -q "^1..2$" "$tmp/o"' "$tmp/o"
"$VQSIM" --test --filter hostile --filter 2.1.1 "$tmp/t.lua" >"$tmp/o" 2>&1
check "--filter by tag, two filters or-ed" \
	'grep -q "^ok 1 - beta" "$tmp/o" && grep -q "^ok 2 - gamma" "$tmp/o" && grep -q "^1..2$" "$tmp/o"' \
	"$tmp/o"
"$VQSIM" --test --filter nosuchtest "$tmp/t.lua" >"$tmp/o" 2>&1
rc=$?
check "--filter matching nothing fails (no tests ran)" '[ $rc -eq 1 ] && grep -q "no tests found" "$tmp/o"' "$tmp/o"
"$VQSIM" --filter ring -e 'x = 1' >"$tmp/o" 2>&1
rc=$?
check "--filter without --test is a usage error" '[ $rc -eq 2 ] && grep -q "filter goes with --test" "$tmp/o"' "$tmp/o"
"$VQSIM" --test "$tmp/t.lua" >"$tmp/o" 2>&1
check "each test line is followed by its time" \
	'[ "$(grep -c "^ok " "$tmp/o")" -eq 4 ] &&
	 [ "$(grep -A1 "^ok " "$tmp/o" | grep -c "^# time=[0-9.]*ms$")" -eq 4 ]' "$tmp/o"
"$VQSIM" --test "$tmp/bug.lua" >"$tmp/o" 2>&1
rc=$?
check "a skip naming a known bug fails; a plain skip skips" \
	'[ $rc -eq 1 ] && grep -q "^ok 1 - a real skip # SKIP needs a TAP device" "$tmp/o" &&
	 grep -q "^not ok 2 - a known bug" "$tmp/o" && grep -q "must fail, not skip" "$tmp/o"' "$tmp/o"
"$VQSIM" --test --coverage "$tmp/t.lua" >"$tmp/o" 2>&1
check "coverage lists the normative sections no test names" \
	'grep -q "^# not covered: " "$tmp/o" && grep -q "^#   2.7.5 " "$tmp/o" &&
	 ! grep -A1000 "^# not covered" "$tmp/o" | grep -q " 2\.7\.5 "' "$tmp/o"
echo "1..$i"
exit $fail
