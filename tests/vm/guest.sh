#!/bin/bash
# Guest side of the VM bench: PID 1 after tests/vm/init's switch_root into the overlay.
# Installs the freshly built module and iptables extension, runs the scenarios named on the
# kernel command line and reports on the second serial port (/dev/ttyS1), one line each:
#   start <TAB> SCENARIO                    a scenario begins
#   pass  <TAB> SCENARIO/CASE
#   fail  <TAB> SCENARIO/CASE <TAB> REASON
#   log   <TAB> SCENARIO <TAB> TEXT         the scenario's output, streamed as it is written
#   info  <TAB> TEXT
#   DONE                                    the guest got to the end
# PID 1 must never exit (the kernel would panic), so the work runs in a subshell and whatever
# happens to it, this ends with poweroff.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C HOME=/root TERM=dumb
umask 022

exec 3>/dev/ttyS1
# raw: no "\n" -> "\r\n" and no echo; the host parses this port.
stty -F /dev/ttyS1 raw -echo 2>/dev/null

emit() {
	local IFS=$'\t'
	printf '%s\n' "$*" >&3
}
say() { echo "l3dsr-vm: $*"; }

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Kernel parameters with a dot are not passed to init as arguments; read them back.
declare -A arg=()
for a in $(</proc/cmdline); do
	case "$a" in
	# l3dsr.env.NAME=VALUE: exported to the scenarios (run.sh's L3DSR_VM_ENV).
	l3dsr.env.*=*) a=${a#l3dsr.env.}; [[ ${a%%=*} =~ ^[A-Z_][A-Z0-9_]*$ ]] && export "${a%%=*}=${a#*=}" ;;
	l3dsr.*=*) a=${a#l3dsr.}; arg[${a%%=*}]=${a#*=} ;;
	esac
done

# kmemleak (the debug kernel of make test-debug; absent on the stock kernels). Automatic scans
# are off in its config: the bench scans after each scenario, once xt_DADDR is unloaded, so
# that a leak is one the scenario made and the module did not free on unload.
kmemleak=/sys/kernel/debug/kmemleak
leak_reset() {
	[[ -w $kmemleak ]] || return 0
	echo scan >"$kmemleak" && echo clear >"$kmemleak"
}
# Prints the report; empty when nothing leaked. An object must be 5 s old to be reported, and a
# pointer still in a freed stack can hide it from one scan: two scans, apart.
leak_scan() {
	[[ -w $kmemleak ]] || return 0
	sleep 6
	echo scan >"$kmemleak"
	sleep 1
	echo scan >"$kmemleak"
	cat "$kmemleak"
}

setup() {
	local d keep=()
	# A source or build tree under /tmp or /run (a scratch build, a worktree) would vanish
	# under the fresh tmpfs below; carry it across.
	for d in "$L3DSR_SRC" "$L3DSR_BUILD" "$sdir"; do
		case "$d" in
		/tmp/* | /run/*)
			mkdir -p "/.keep$((${#keep[@]}))"
			mount --bind "$d" "/.keep$((${#keep[@]}))" && keep+=("$d")
			;;
		esac
	done
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	mount -t tmpfs -o mode=0755 tmpfs /run
	for d in "${!keep[@]}"; do
		mkdir -p "${keep[d]}"
		mount --move "/.keep$d" "${keep[d]}"
	done
	# Where systemd mounts it on a real host. `ip netns exec` remounts /sys in the processes it
	# starts, which hides this one, so a second instance under /run serves the scenarios'
	# namespaces (L3DSR_BPFFS: the BPF backend pins its maps there, per namespace).
	mount -t bpf bpf /sys/fs/bpf
	mkdir -p /run/l3dsr/bpffs
	mount -t bpf bpf /run/l3dsr/bpffs
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
	# devtmpfs lacks these; bash's <(...) needs /dev/fd.
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	hostname l3dsr-vm
	ip link set lo up
}

# Prints why the module or the extension cannot be installed, nothing when both are.
# run.sh ran depmod on the host (in the guest it takes minutes); the index and the module it
# was computed from are in build/vm/KREL/depmod/.
install_artifacts() {
	local ko=$L3DSR_BUILD/kmod/$KREL/xt_DADDR.ko so=$L3DSR_BUILD/libxt/libxt_DADDR.so xtlibdir
	local dm=$L3DSR_BUILD/vm/$KREL/depmod/lib/modules/$KREL
	if [[ ! -f $ko ]]; then
		echo "$ko missing (run make kmod)"
		return
	fi
	if [[ ! -f $so ]]; then
		echo "$so missing (run make libxt)"
		return
	fi
	if [[ ! -f $dm/modules.dep.bin || ! -f $dm/extra/xt_DADDR.ko ]]; then
		echo "$dm has no module index (tests/vm/run.sh prepares it)"
		return
	fi
	mkdir -p "/lib/modules/$KREL/extra"
	if ! cp "$dm/extra/xt_DADDR.ko" "/lib/modules/$KREL/extra/" || ! cp "$dm"/modules.* "/lib/modules/$KREL/"; then
		echo "installing the module index from $dm failed"
		return
	fi
	xtlibdir=$(pkg-config --variable=xtlibdir xtables 2>/dev/null)
	[[ -d $xtlibdir ]] || xtlibdir=/usr/lib/x86_64-linux-gnu/xtables
	cp "$so" "$xtlibdir/" || echo "copying $so to $xtlibdir failed"
}

# Leave the next scenario the state the first one found: no processes, namespaces or rules.
reset_state() {
	local t
	# kill(-1) spares PID 1 and the caller; nothing else of ours is running at this point.
	kill -KILL -1 2>/dev/null
	sleep 0.2
	ip -all netns delete 2>/dev/null
	# Pins of the BPF backend: namespaces that are gone leave theirs behind.
	rm -rf /sys/fs/bpf/l3dsr /run/l3dsr/bpffs/l3dsr
	nft flush ruleset 2>/dev/null
	# Only the legacy tables that exist: naming one would load its module.
	while read -r t; do
		iptables-legacy -t "$t" -F && iptables-legacy -t "$t" -X
	done < <(cat /proc/net/ip_tables_names 2>/dev/null)
	while read -r t; do
		ip6tables-legacy -t "$t" -F && ip6tables-legacy -t "$t" -X
	done < <(cat /proc/net/ip6_tables_names 2>/dev/null)
}

run_scenario() {
	local name=$1 file=$sdir/$1.sh wd log tally spid relay rc=0 i t0=$SECONDS
	emit start "$name"
	say "== $name"
	leak_reset
	wd=$(mktemp -d "/tmp/$name.XXXXXX")
	log=/tmp/logs/$name.log
	tally=/tmp/logs/$name.tally
	: >"$log"
	: >"$tally"
	(
		cd "$wd" || exit 1
		export L3DSR_SCENARIO=$name L3DSR_TALLY=$tally L3DSR_RESULTS=/dev/ttyS1
		# timeout puts itself and the scenario in a new process group and signals the whole
		# group when time is up, background jobs included.
		# shellcheck disable=SC2016 # expanded by the scenario's bash
		exec timeout -k 10 "$limit" \
			bash -c 'source "$L3DSR_SRC/tests/lib/common.sh" && source "$0"' "$file"
	) >"$log" 2>&1 </dev/null &
	spid=$!
	# Relay through a file rather than a pipe: a daemon the scenario leaves behind would hold
	# a pipe open forever. tail --pid ends once the scenario has ended and the file is drained.
	tail -n +1 --pid="$spid" -f "$log" | sed -u "s/^/log\t$name\t/" >&3 &
	relay=$!
	wait "$spid" || rc=$?
	wait "$relay"
	reset_state

	if ((rc == 124 || rc == 137)); then
		emit fail "$name/timeout" "did not finish within ${limit}s (status $rc)"
	elif ((rc != 0)); then
		emit fail "$name/exit" "exited with status $rc"
	elif [[ ! -s $tally ]]; then
		emit fail "$name/result" "exited 0 but reported no case"
	fi

	# A rule referencing the target keeps the module busy until its namespace is gone, which
	# the kernel does asynchronously; past that, a busy module is a reference leak.
	local text=
	[[ -d /sys/module/xt_DADDR ]] && text=$(cat /sys/module/xt_DADDR/sections/.text 2>/dev/null)
	if [[ -d /sys/module/xt_DADDR ]]; then
		for ((i = 0; i < 100; i++)); do
			rmmod xt_DADDR 2>/dev/null && break
			sleep 0.2
		done
		if [[ -d /sys/module/xt_DADDR ]]; then
			emit fail "$name/unload" "xt_DADDR still loaded 20s after the scenario ended (refcnt $(cat /sys/module/xt_DADDR/refcnt 2>/dev/null))"
		fi
	fi
	local leaks
	leaks=$(leak_scan)
	if [[ -n $leaks ]]; then
		emit fail "$name/kmemleak" "$(grep -c '^unreferenced object' <<<"$leaks") unreferenced object(s) after the scenario and the unload (xt_DADDR's .text was at ${text:-?}): $(head -n 12 <<<"$leaks" | tr '\n' ' ')"
		sed "s/^/log\t$name\tkmemleak: /" <<<"$leaks" >&3
	elif [[ -w $kmemleak ]]; then
		emit pass "$name/kmemleak"
	fi
	rm -rf "$wd"
	emit info "$name took $((SECONDS - t0))s"
}

main() {
	set -u
	export L3DSR_SRC=${arg[src]}
	export L3DSR_BUILD=${arg[build]:-$L3DSR_SRC/build}
	export L3DSR_BIN=$L3DSR_BUILD/l3dsr
	export L3DSR_BPFFS=/run/l3dsr/bpffs
	sdir=${arg[sdir]:-$L3DSR_SRC/tests/scenarios}
	setup
	mkdir -p /tmp/logs
	export L3DSR_DEMO=${arg[demo]:-0}
	KREL=$(uname -r)
	export KREL
	limit=${arg[timeout]:-240}
	local scenarios=() s err
	IFS=, read -r -a scenarios <<<"${arg[scen]:-}"
	emit info "guest.sh started at uptime $(uptime_s)s on $KREL"
	say "guest.sh running on $KREL; scenarios: ${scenarios[*]}"

	local t0=$SECONDS
	# tests/pkg/scenarios test the installed packages: the host's DKMS module, its module
	# index and the packaged extension must stay what the guest sees.
	if [[ -f $sdir/USE_INSTALLED ]]; then
		err=
		emit info "$sdir/USE_INSTALLED: the build tree's module and extension are not installed"
	else
		err=$(install_artifacts 2>&1)
		emit info "installing the module took $((SECONDS - t0))s"
	fi
	for s in "${scenarios[@]}"; do
		if [[ -n $err ]]; then
			emit fail "$s/setup" "$err"
		elif [[ ! -f $sdir/$s.sh ]]; then
			emit fail "$s/setup" "no $sdir/$s.sh"
		else
			run_scenario "$s"
		fi
	done

	local bad
	bad=$(dmesg | grep -E 'BUG:|WARNING:|Oops|UBSAN:|leak' | grep -v 'Kernel memory leak detector')
	if [[ -n $bad ]]; then
		emit fail dmesg/clean "$(head -n 1 <<<"$bad")"
		dmesg | sed "s/^/log\tdmesg\t/" >&3
	else
		emit pass dmesg/clean
	fi
	emit info "scenarios finished at uptime $(uptime_s)s"
}

(main) || emit fail guest/main "guest.sh stopped with status $? before the end (see console)"
emit DONE
say "done"
# TCSADRAIN: returns once the port has sent everything, so poweroff loses no result line.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>&-
sync
poweroff -f
sleep 10
