#!/usr/bin/env bash
# Host side of the VM bench (see tests/README.md): boots each kernel under qemu (TCG) with the
# host's root read-only over 9p, runs scenarios in it and prints one PASS/FAIL line per result.
#
# Usage: tests/vm/run.sh [-k KREL]... [-s SCENARIO]... [-v] [--demo]
#   -k KREL      kernel release to boot (repeatable; default: all of scripts/kernels.sh)
#   -s SCENARIO  tests/scenarios/SCENARIO.sh (repeatable; default: all, in sorted order)
#   -v           stream the guest console and the scenario output while it runs
#   --demo       run only classic_dsr with L3DSR_DEMO=1 and stream its output; without -k,
#                on the first kernel of scripts/kernels.sh only
# Environment (all optional):
#   L3DSR_VM_TIMEOUT_PER_SCENARIO  seconds per scenario for the whole-VM limit (900: map_cli takes up to ~550 s on a loaded host)
#   L3DSR_VM_TIMEOUT               whole-VM limit in seconds (120 + per-scenario * count)
#   L3DSR_SCENARIO_TIMEOUT         in-guest limit of one scenario (per-scenario limit - 60)
#   L3DSR_VM_MEM, L3DSR_VM_SMP     guest memory in MiB (1536) and CPUs (2)
#   L3DSR_BUILD                    build folder (the repository's build/)
#   L3DSR_SCENARIO_DIR             where scenarios are looked up (tests/scenarios)
#   L3DSR_VM_LOGS_OUT              copy each scenario's log to DIR/KREL/SCENARIO.log after the
#                                  run (the bench reads its data lines from there)
#   L3DSR_VM_APPEND                more kernel parameters (the lockdown boot: "lockdown=integrity
#                                  module.sig_enforce=1")
#   L3DSR_VM_ENV                   "NAME=VALUE ..." exported to the scenarios in the guest (make
#                                  test-debug's longer fuzzing: GENL_FUZZ_SECONDS=600)
# Exit status: 0 only if at least one result was seen and none failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${L3DSR_BUILD:-$top/build}
sdir=${L3DSR_SCENARIO_DIR:-$top/tests/scenarios}
sdir=$(cd "$sdir" && pwd)
demo_scenario=classic_dsr

usage() {
	sed -n '4,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

kernels=()
scenarios=()
verbose=0
demo=0
while (($#)); do
	case "$1" in
	-k) [[ $# -ge 2 ]] || usage; kernels+=("$2"); shift 2 ;;
	-s) [[ $# -ge 2 ]] || usage; scenarios+=("${2%.sh}"); shift 2 ;;
	-v) verbose=1; shift ;;
	--demo) demo=1; shift ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done

if ((demo)); then
	scenarios=("$demo_scenario")
	if ((${#kernels[@]} == 0)); then
		mapfile -t kernels < <("$top/scripts/kernels.sh")
		kernels=("${kernels[@]:0:1}")
	fi
fi
if ((${#kernels[@]} == 0)); then
	mapfile -t kernels < <("$top/scripts/kernels.sh")
fi
if ((${#scenarios[@]} == 0)); then
	mapfile -t scenarios < <(find "$sdir" -maxdepth 1 -name '*.sh' -printf '%f\n' |
		sed 's/\.sh$//' | LC_ALL=C sort)
fi
((${#kernels[@]})) || { echo "run.sh: no kernel to test" >&2; exit 2; }
((${#scenarios[@]})) || { echo "run.sh: no scenario in $sdir" >&2; exit 2; }
for s in "${scenarios[@]}"; do
	[[ $s =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "run.sh: bad scenario name '$s'" >&2; exit 2; }
	[[ -f $sdir/$s.sh ]] || { echo "run.sh: no $sdir/$s.sh" >&2; exit 2; }
done
# Both paths travel on the kernel command line, which splits on spaces.
for p in "$top" "$build" "$sdir"; do
	[[ $p != *[[:space:],]* ]] || { echo "run.sh: '$p' must not contain spaces or commas" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 missing (scripts/deps.sh vm)" >&2; exit 2; }

# Generous: classic_dsr alone measured 208 s on a host busy with other VMs.
per_scenario=${L3DSR_VM_TIMEOUT_PER_SCENARIO:-900}
vm_timeout=${L3DSR_VM_TIMEOUT:-$((120 + per_scenario * ${#scenarios[@]}))}
scenario_timeout=${L3DSR_SCENARIO_TIMEOUT:-$((per_scenario > 90 ? per_scenario - 60 : per_scenario))}
mem=${L3DSR_VM_MEM:-1536}
smp=${L3DSR_VM_SMP:-2}

npass=0
nfail=0
qpid=
lock=
followers=()

stop_qemu() {
	[[ -n $qpid ]] || return 0
	kill "$qpid" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.5; done
	kill -KILL "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	qpid=
}
# Followers end by themselves once qemu is gone (tail --pid); killing them early would cut
# the last lines of a demo.
stop_followers() {
	local p
	for p in "${followers[@]}"; do wait "$p" 2>/dev/null || true; done
	followers=()
}
trap 'stop_qemu; stop_followers' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# depmod -a inside the guest reads every module of the kernel over 9p under TCG: minutes. The
# host does it in seconds, over a tree that is the kernel's own modules (a symlink) plus ours;
# the guest copies the resulting index and the very module it was computed from.
prepare_modules() {
	local krel=$1 dir=$2 ko=$build/kmod/$1/xt_DADDR.ko tree m key
	[[ -f $ko ]] || return 0 # the guest reports the missing module
	tree=$dir/depmod
	m=$tree/lib/modules/$krel
	mkdir -p "$dir"
	cp "$ko" "$dir/xt_DADDR.ko.new"
	key=$({
		sha256sum "$dir/xt_DADDR.ko.new" | cut -d' ' -f1
		stat -c '%n %s %Y' "/lib/modules/$krel/modules.dep" "/lib/modules/$krel/modules.order"
	} | sha256sum | cut -d' ' -f1)
	if [[ -f $m/modules.dep && "$(cat "$dir/depmod.key" 2>/dev/null)" == "$key" ]]; then
		rm -f "$dir/xt_DADDR.ko.new"
		return 0
	fi
	rm -rf "$tree" "$dir/depmod.key"
	mkdir -p "$m/extra"
	ln -s "/lib/modules/$krel/kernel" "$m/kernel"
	cp "/lib/modules/$krel"/modules.{order,builtin,builtin.modinfo} "$m/"
	mv "$dir/xt_DADDR.ko.new" "$m/extra/xt_DADDR.ko"
	depmod -b "$tree" "$krel" || return 1
	echo "$key" >"$dir/depmod.key"
}

report_pass() { echo "PASS $1"; npass=$((npass + 1)); }
report_fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }

# Human-readable view of the results port while the guest runs (-v and --demo).
# Arguments: file, scenario whose output to show ("" = all). Ends when qemu does.
# A shell loop, not awk: mawk reads a pipe in blocks and would hold the lines back.
follow_results() {
	local only=$2 line kind a b
	tail --pid="$qpid" -n +1 -F "$1" 2>/dev/null | while IFS= read -r line; do
		line=${line%$'\r'}
		IFS=$'\t' read -r kind a b <<<"$line"
		case "$kind" in
		log)
			[[ -z $only || $a == "$only" ]] || continue
			line=${line#log$'\t'"$a"}
			line=${line#$'\t'}
			if [[ -z $only ]]; then echo "[$a] $line"; else echo "$line"; fi
			;;
		# The demo shows the scenario's own output only; it prints its PASS/FAIL itself.
		pass) [[ -n $only ]] || echo "  pass $a" ;;
		fail) [[ -n $only ]] || echo "  FAIL $a: $b" ;;
		start) [[ -n $only ]] || echo "== $a" ;;
		esac
	done
}

run_kernel() {
	local krel=$1 dir=$build/vm/$1 t0 elapsed timed_out=0 done_at=0 rc
	local res console cmdline scen_csv
	echo "# $krel: ${#scenarios[@]} scenario(s), VM limit ${vm_timeout}s"
	if [[ ! -f /boot/vmlinuz-$krel ]]; then
		report_fail "$krel vm/boot" "/boot/vmlinuz-$krel missing (linux-image-$krel not installed; scripts/deps.sh vm)"
		return
	fi
	mkdir -p "$dir"
	# Two runs sharing a build folder would overwrite each other's console and results.
	exec {lock}>"$dir/lock"
	if ! flock -n "$lock"; then
		echo "# $krel: waiting for another run using $dir"
		flock "$lock"
	fi
	if ! "$here/mkinitrd.sh" "$krel" "$dir" 2>"$dir/mkinitrd.log"; then
		report_fail "$krel vm/initrd" "$(tail -n 3 "$dir/mkinitrd.log" | tr '\n' ' ')"
		return
	fi
	cat "$dir/mkinitrd.log" >&2
	if ! prepare_modules "$krel" "$dir" 2>"$dir/depmod.log"; then
		report_fail "$krel vm/depmod" "$(tail -n 3 "$dir/depmod.log" | tr '\n' ' ')"
		return
	fi
	res=$dir/results.txt
	console=$dir/console.log
	# A guest kernel that dies before guest.sh starts has run no l3dsr code (guest.sh installs
	# the module and the extension), so its death is the emulator's, not a result: TCG has
	# been seen to oops in 6.12's boot-time code patching (int3 in sched_clock_cpu). Such a
	# boot is tried again, at most twice, and said so; any later death is a failure as ever.
	local attempt boot_death
	for attempt in 1 2 3; do
		timed_out=0 done_at=0
		rm -rf "$dir/logs" "$res" "$console"
		mkdir -p "$dir/logs"
		: >"$res"
		: >"$console"

		scen_csv=$(IFS=,; echo "${scenarios[*]}")
		# no_timer_check: under a loaded TCG host the IO-APIC timer test can fail and panic the boot.
		# slab_nomerge: the module's kmem cache keeps a line of its own in /proc/slabinfo,
		# which map_kernel and the soak count.
		cmdline="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic no_timer_check slab_nomerge"
		cmdline+=" l3dsr.src=$top l3dsr.build=$build l3dsr.sdir=$sdir l3dsr.scen=$scen_csv"
		cmdline+=" l3dsr.demo=$demo l3dsr.timeout=$scenario_timeout"
		cmdline+=${L3DSR_VM_APPEND:+ $L3DSR_VM_APPEND}
		for kv in ${L3DSR_VM_ENV:-}; do
			[[ $kv =~ ^[A-Z_][A-Z0-9_]*=[^[:space:],]*$ ]] || { echo "run.sh: L3DSR_VM_ENV: '$kv' is not NAME=VALUE (no spaces or commas)" >&2; exit 2; }
			cmdline+=" l3dsr.env.$kv"
		done

		t0=$SECONDS
		# sercon-port=0: SeaBIOS would otherwise write terminal resets (clear screen) to ttyS0,
		# which -v shows on the user's terminal.
		qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp "$smp" -m "$mem" \
			-nographic -no-reboot -nodefaults -fw_cfg name=etc/sercon-port,string=0 \
			-kernel "/boot/vmlinuz-$krel" -initrd "$dir/initrd.gz" -append "$cmdline" \
			-chardev "file,id=con,path=$console" -serial chardev:con \
			-chardev "file,id=res,path=$res" -serial chardev:res \
			-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
			</dev/null >"$dir/qemu.log" 2>&1 &
		qpid=$!

		if ((verbose)); then
			tail --pid="$qpid" -n +1 -F "$console" 2>/dev/null &
			followers+=($!)
			follow_results "$res" "" &
			followers+=($!)
		elif ((demo)); then
			follow_results "$res" "$demo_scenario" &
			followers+=($!)
		fi

		while kill -0 "$qpid" 2>/dev/null; do
			elapsed=$((SECONDS - t0))
			if ((elapsed >= vm_timeout)); then
				timed_out=1
				stop_qemu
				break
			fi
			if ((done_at == 0)) && grep -q '^DONE' "$res"; then done_at=$SECONDS; fi
			# The results are complete; a guest that does not power off is not worth waiting for.
			if ((done_at && SECONDS - done_at > 30)); then
				echo "# $krel: guest finished but did not power off; stopping qemu"
				stop_qemu
				break
			fi
			sleep 0.5
		done
		rc=0
		[[ -z $qpid ]] || wait "$qpid" || rc=$?
		qpid=
		elapsed=$((SECONDS - t0))
		stop_followers
		boot_death=$(grep -a -m 1 -E 'Kernel panic|Oops|general protection|double fault' "$console" | tr -d '\r' || true)
		if ((!timed_out && attempt < 3)) && [[ -n $boot_death ]] && ! grep -aq 'guest.sh started at uptime' "$res"; then
			cp "$console" "$dir/console.boot$attempt.log"
			echo "# $krel: the guest kernel died while booting, before guest.sh started (no l3dsr code had run): $boot_death; console kept in $dir/console.boot$attempt.log; booting again (attempt $((attempt + 1)) of 3)"
			continue
		fi
		break
	done

	# Parse the results port. Scenario output goes to logs/SCENARIO.log in awk (it can be long);
	# the few result lines are handled here.
	local kind a b done=0 running='' failed_scen=() ready='?' finished='?'
	declare -A seen=()
	while IFS=$'\t' read -r kind a b; do
		case "$kind" in
		start) running=$a ;;
		pass) report_pass "$krel $a"; seen[${a%%/*}]=1 ;;
		fail)
			report_fail "$krel $a" "${b:-no reason given}"
			seen[${a%%/*}]=1
			failed_scen+=("${a%%/*}")
			;;
		info)
			echo "# $krel: $a"
			case "$a" in
			"guest.sh started at uptime "*) ready=${a#guest.sh started at uptime } ;;
			"scenarios finished at uptime "*) finished=${a#scenarios finished at uptime } ;;
			esac
			;;
		DONE) done=1 ;;
		esac
	done < <(awk -v logs="$dir/logs" '
		{ sub(/\r$/, "") }
		/^log\t/ {
			n = index(substr($0, 5), "\t")
			if (n == 0) next
			name = substr($0, 5, n - 1); text = substr($0, 5 + n)
			if (name !~ /^[A-Za-z0-9_.-]+$/) next
			print text > (logs "/" name ".log"); next }
		{ print }' "$res")

	local oops
	oops=$(grep -a -m 1 -E 'Kernel panic|BUG:|WARNING:|UBSAN:|Oops|general protection' "$console" | tr -d '\r' || true)
	if [[ -n $oops ]]; then
		report_fail "$krel kernel/console" "${oops}${running:+ (during $running)}"
		[[ -z $running ]] || failed_scen+=("$running")
	fi
	if ((timed_out)); then
		report_fail "$krel hang/timeout" "no DONE from the guest within ${vm_timeout}s${running:+ (last started: $running)}"
		[[ -z $running ]] || failed_scen+=("$running")
	elif ((!done)) && [[ -z $oops ]]; then
		report_fail "$krel vm/done" "guest stopped without finishing (qemu status $rc: $(tail -n 2 "$dir/qemu.log" | tr '\n' ' '))"
	fi
	local s
	for s in "${scenarios[@]}"; do
		[[ -n ${seen[$s]:-} ]] || report_fail "$krel $s/result" "no result from the guest"
	done

	echo "# $krel: guest.sh started at ${ready%% *}, scenarios done at ${finished} (guest uptime); qemu wall time ${elapsed}s"
	# Copied while the lock is held: the next run on this kernel empties $dir/logs.
	if [[ -n ${L3DSR_VM_LOGS_OUT:-} ]]; then
		mkdir -p "$L3DSR_VM_LOGS_OUT/$krel"
		cp "$dir"/logs/*.log "$L3DSR_VM_LOGS_OUT/$krel/" 2>/dev/null || true
	fi

	if ((${#failed_scen[@]})) || ((!done)) || [[ -n $oops ]]; then
		echo "---- $krel: guest console (last 200 lines of $console)"
		# Indented, so that the FAIL lines a log contains are not mistaken for results.
		tail -n 200 "$console" | tr -d '\r' | sed 's/^/| /'
		local printed=" "
		for s in "${failed_scen[@]}"; do
			[[ $printed != *" $s "* ]] || continue
			printed+="$s "
			if [[ -f $dir/logs/$s.log ]]; then
				echo "---- $krel: log of $s (last 200 lines of $dir/logs/$s.log)"
				tail -n 200 "$dir/logs/$s.log" | sed 's/^/| /'
			fi
		done
		echo "---- end of $krel"
	fi
}

t_start=$SECONDS
for k in "${kernels[@]}"; do
	run_kernel "$k"
	# Closing the lock fd (global, opened by run_kernel) lets a waiting run go on.
	if [[ -n $lock ]]; then
		exec {lock}>&-
		lock=
	fi
done
echo "# total wall time $((SECONDS - t_start))s"
echo "$npass passed, $nfail failed"
((nfail == 0 && npass > 0))
