# shellcheck shell=bash
# map_genl: the Go client (genl/) against the real module. Runs the integration tests of
# genl/integration_linux_test.go from build/genl.test (`make testtools` builds it on the host)
# and relays each Go test and subtest as a case:
#
#   --- PASS: TestX/sub   ->  pass go/TestX/sub
#   --- FAIL: TestX/sub   ->  fail go/TestX/sub "<the test's log lines>"
#   --- SKIP: TestX       ->  fail go/TestX "skipped: ..." (no test may stay skipped here)
#
# A non-zero exit without any FAIL line (a panic, a timeout, a build for another system) is a
# failure of its own (go/exit), and so is a run that reports no test at all (go/none).

set -u

GT=$L3DSR_BUILD/genl.test
if [[ ! -x $GT ]]; then
	fail setup "$GT missing: build it on the host with 'make testtools' (CGO_ENABLED=0 go test -c -o build/genl.test ./genl)"
	exit 0
fi

out=$PWD/go.out
rc=0
log "running $GT -test.run Integration"
L3DSR_INTEGRATION=1 timeout 400 "$GT" -test.run Integration -test.v -test.count=1 >"$out" 2>&1 || rc=$?
cat "$out"
log "genl.test exited with status $rc"

# The log lines of one test: go test -v streams them under "=== RUN   NAME" (or "=== NAME  NAME"
# when the test resumes after its subtests), before the result lines.
details() { # NAME
	awk -v name="$1" '
		/^=== [A-Z]+ +/ { cur = ($3 == name); next }
		/^ *--- (PASS|FAIL|SKIP): / { cur = 0; next }
		cur { sub(/^[[:space:]]+/, ""); print }
	' "$out" | head -n 8
}

npass=0 nfail=0 nskip=0
re='^( *)--- (PASS|FAIL|SKIP): ([^ ]+) \('
while IFS= read -r line; do
	[[ $line =~ $re ]] || continue
	kind=${BASH_REMATCH[2]} name=${BASH_REMATCH[3]}
	case $kind in
	PASS)
		pass "go/$name"
		npass=$((npass + 1))
		;;
	FAIL)
		why=$(details "$name")
		fail "go/$name" "${why:-failed (a subtest failed, or no log)}"
		nfail=$((nfail + 1))
		;;
	SKIP)
		why=$(details "$name")
		fail "go/$name" "skipped, and no test may stay skipped here: ${why:-no reason given}"
		nskip=$((nskip + 1))
		;;
	esac
done <"$out"

log "go tests: $npass passed, $nfail failed, $nskip skipped"
if ((rc != 0 && nfail == 0)); then
	fail go/exit "genl.test exited with status $rc$( ((rc == 124)) && echo ' (timeout 400s)') and reported no FAIL: $(tail -n 5 "$out")"
fi
if ((npass + nfail + nskip == 0)); then
	fail go/none "genl.test reported no test (exit $rc): $(tail -n 5 "$out")"
fi
exit 0
