# shellcheck shell=bash
# go_test_cases BIN TIMEOUT [TEST-ARGS...]: run a Go test binary built with `go test -c`
# (`make testtools` builds them on the host) with -test.v and relay each Go test and subtest as
# a case of the calling scenario:
#
#   --- PASS: TestX/sub   ->  pass go/TestX/sub
#   --- FAIL: TestX/sub   ->  fail go/TestX/sub "<the test's log lines>"
#   --- SKIP: TestX       ->  fail go/TestX "skipped: ..." (no test may stay skipped here)
#
# A non-zero exit without any FAIL line (a panic, a timeout, a build for another system) is a
# failure of its own (go/exit), and so is a run that reports no test at all (go/none).
# A missing binary is a failure too (go/setup). Sourced by scenarios after common.sh.

go_test_cases() {
	local bin=$1 limit=$2
	shift 2
	if [[ ! -x $bin ]]; then
		fail go/setup "$bin missing: build it on the host with 'make testtools'"
		return 0
	fi
	local out rc=0
	out=$PWD/go.$(basename "$bin").out
	log "running $bin $*"
	L3DSR_INTEGRATION=1 timeout "$limit" "$bin" -test.v -test.count=1 "$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	log "$(basename "$bin") exited with status $rc"

	# The log lines of one test: go test -v streams them under "=== RUN   NAME" (or
	# "=== NAME  NAME" when the test resumes after its subtests), before the result lines.
	_go_details() { # NAME
		awk -v name="$1" '
			/^=== [A-Z]+ +/ { cur = ($3 == name); next }
			/^ *--- (PASS|FAIL|SKIP): / { cur = 0; next }
			cur { sub(/^[[:space:]]+/, ""); print }
		' "$out" | head -n 8
	}

	local npass=0 nfail=0 nskip=0 line kind name why
	local re='^( *)--- (PASS|FAIL|SKIP): ([^ ]+) \('
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		kind=${BASH_REMATCH[2]} name=${BASH_REMATCH[3]}
		case $kind in
		PASS)
			pass "go/$name"
			npass=$((npass + 1))
			;;
		FAIL)
			why=$(_go_details "$name")
			fail "go/$name" "${why:-failed (a subtest failed, or no log)}"
			nfail=$((nfail + 1))
			;;
		SKIP)
			why=$(_go_details "$name")
			fail "go/$name" "skipped, and no test may stay skipped here: ${why:-no reason given}"
			nskip=$((nskip + 1))
			;;
		esac
	done <"$out"

	log "go tests: $npass passed, $nfail failed, $nskip skipped"
	if ((rc != 0 && nfail == 0)); then
		fail go/exit "$(basename "$bin") exited with status $rc$( ((rc == 124)) && echo " (timeout ${limit}s)") and reported no FAIL: $(tail -n 5 "$out")"
	fi
	if ((npass + nfail + nskip == 0)); then
		fail go/none "$(basename "$bin") reported no test (exit $rc): $(tail -n 5 "$out")"
	fi
	return 0
}
