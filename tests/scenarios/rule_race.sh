# shellcheck shell=bash
# rule_race: RR_N (20) `l3dsr rule add`s started at once in a fresh namespace with no map-mode
# rule (issue 19). Before the rule lock (internal/xtrule/lock.go) each read "no rule" from
# `iptables -S` and appended one. The adds alternate IPv4 and IPv6 VIPs, each with a code of its
# own in its family, and wait on a flock barrier so that they start together.
#
# Run twice, with --iptables nft in namespace rr-nft and --iptables legacy in rr-legacy; the
# legacy run's cases are prefixed legacy-.
#
# Cases:
#   exit-codes    every add exited 0
#   one-rule-v4   iptables-VARIANT -t raw -S PREROUTING holds exactly one `-j DADDR --map` rule,
#                 and exactly one add said it appended it
#   one-rule-v6   the same for ip6tables-VARIANT
#   entries       `rule list -o json` holds the RR_N entries added (codes and VIPs), exactly
#   lock-file     the lock is ROOT/lock/rules-INODE.lock, INODE the namespace's (its own per
#                 namespace: `ip netns exec` does not remount /run)
#
# RR_N: how many adds race (default 20, at most 126; more under the debug kernel if wanted).

set -u
RR_N=${RR_N:-20}
WORK=$PWD
MAPLINE='-A PREROUTING -j DADDR --map'
LOCKDIR=${L3DSR_STATE_DIR:-/run/l3dsr}/lock

on_exit ns_del rr-nft rr-legacy

if [[ ! -x $L3DSR_BIN ]]; then
	fail setup "$L3DSR_BIN missing: run 'make go' on the host"
	exit 0
fi
for t in jq flock; do
	if ! command -v $t >/dev/null; then
		fail setup "$t is not installed (the scenario needs it)"
		exit 0
	fi
done
if ! out=$(modprobe xt_DADDR 2>&1); then
	fail setup "modprobe xt_DADDR: $out"
	exit 0
fi

if ((RR_N < 2 || RR_N > 126)); then
	fail setup "RR_N=$RR_N: give 2-126 (63 codes a family)"
	exit 0
fi

# add I: "I CODE VIP": IPv4 for even I, IPv6 for odd, the codes of each family 1, 2, ...
add() {
	if (($1 % 2)); then printf '%d %d 2001:db8:77::%x\n' "$1" $(($1 / 2 + 1)) $(($1 + 1)); else echo "$1 $(($1 / 2 + 1)) 10.77.0.$(($1 + 1))"; fi
}

# race VARIANT NS PREFIX: the adds, in a namespace of their own, and the cases.
race() {
	local v=$1 n=$2 p=$3 dir=$WORK/$1 i t0 t1 bad got want ino
	mkdir -p "$dir"
	if ! out=$({ ip netns add "$n" && ip -n "$n" link set lo up; } 2>&1); then
		fail "${p}setup" "namespace $n: $out"
		return
	fi
	for ((i = 0; i < RR_N; i++)); do add $i; done >"$dir/adds"
	t0=$EPOCHREALTIME
	# One bash in the namespace starts them all (`ip netns exec` is slow under TCG). It holds
	# an exclusive flock on $dir/go while it forks; each add waits for a shared one on it, so
	# they start together when it lets go, not one fork after another.
	# shellcheck disable=SC2016 # expanded by the inner bash
	ip netns exec "$n" bash -c '
		bin=$1 v=$2 dir=$3 n=$4
		exec 9>"$dir/go"
		flock -x 9
		while read -r i code vip; do
			( exec 9>&- # else the add would hold the exclusive lock it waits on
			  flock -s "$dir/go" "$bin" rule add --iptables "$v" --dscp "$code" --vip "$vip" \
				>"$dir/add.$i.out" 2>&1
			  echo $? >"$dir/add.$i.rc" ) &
		done <"$dir/adds"
		sleep 0.5
		exec 9>&-
		wait
	' _ "$L3DSR_BIN" "$v" "$dir" "$RR_N" >"$dir/race.out" 2>&1
	t1=$EPOCHREALTIME
	log "$v: $RR_N parallel adds took $(((${t1/./} - ${t0/./}) / 1000)) ms"

	bad=""
	while read -r i code vip; do
		if [[ $(cat "$dir/add.$i.rc" 2>/dev/null) != 0 ]]; then
			bad+="add --dscp $code --vip $vip: exit $(cat "$dir/add.$i.rc" 2>/dev/null || echo none): $(squash <"$dir/add.$i.out"); "
		fi
	done <"$dir/adds"
	if [[ -z $bad ]]; then
		pass "${p}exit-codes"
	else
		fail "${p}exit-codes" "${bad:0:500} $(squash <"$dir/race.out")"
	fi

	for f in 4 6; do
		local bin=iptables-$v
		[[ $f == 4 ]] || bin=ip6tables-$v
		got=$(ip netns exec "$n" "$bin" -t raw -S PREROUTING 2>&1 | grep -cxF -- "$MAPLINE")
		said=$(grep -l "^appended the map-mode rule for IPv$f" "$dir"/add.*.out 2>/dev/null | wc -l)
		if [[ $got == 1 && $said == 1 ]]; then
			pass "${p}one-rule-v$f"
		else
			fail "${p}one-rule-v$f" "want one '$MAPLINE' in $bin -t raw -S PREROUTING and one add saying it appended it, got $got rules and $said adds: $(ip netns exec "$n" "$bin" -t raw -S PREROUTING 2>&1 | squash)"
		fi
	done

	got=$(ip netns exec "$n" "$L3DSR_BIN" rule list -o json 2>&1 | jq -r '.[] | "\(.dscp) \(.vip)"' 2>&1 | sort)
	want=$(cut -d' ' -f2- "$dir/adds" | sort)
	if [[ $got == "$want" ]]; then
		pass "${p}entries"
	else
		fail "${p}entries" "rule list -o json: want the $RR_N added (dscp vip): $(squash <<<"$want"); got: $(squash <<<"$got")"
	fi

	ino=$(ip netns exec "$n" stat -L -c %i /proc/self/ns/net)
	if [[ -f $LOCKDIR/rules-$ino.lock ]]; then
		pass "${p}lock-file"
	else
		fail "${p}lock-file" "want $LOCKDIR/rules-$ino.lock (namespace $n's inode $ino), got: $(printf "%s " "$LOCKDIR"/*)"
	fi
}

race nft rr-nft ""
race legacy rr-legacy legacy-
