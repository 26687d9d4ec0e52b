# shellcheck shell=bash
# bench_ab: two builds of xt_DADDR in one boot (tests/bench/run.sh --ab REF, `make bench-ab`), so
# that a kernel change is judged by ratios measured minutes apart, not across boots or days.
# run.sh writes $L3DSR_BUILD/bench/ab/ab.env (the guest gets no environment from the host):
#   AB_A_DIR, AB_B_DIR    directories with KREL/xt_DADDR.ko for builds A and B
#   AB_A_NAME, AB_B_NAME  what each is (a commit, the working tree, a patch)
#   AB_CONFIGS            rx.sh configurations (IPv4 and IPv6, 64 bytes)
#   AB_ROUNDS             rounds; A goes first in odd rounds, B in even ones (ABBA...)
#   AB_COUNT              packets per pktgen run (300000, as bench.sh)
# Per round and build: unload xt_DADDR, insmod that build's module and check that the loaded
# srcversion is the .ko's, measure the baseline (no tables), then every configuration with
# rx.sh's machinery. One data line per measurement:
#   BENCHAB ROUND BUILD CONFIG FAM SIZE PPS SENT DELIVERED BASE_PPS
# and for a configuration the build does not have (map-direct-* on a module without the direct
# path: `l3dsr rule mode direct` says so):
#   BENCHAB ROUND BUILD CONFIG FAM SIZE n/a
# Cases: ab/load-BUILD (every round's load), ab/CONFIG-ipvFAM-SIZE-BUILD as rx.sh's cases.
set -u
for f in env rx; do
	# shellcheck source=/dev/null
	source "$L3DSR_SRC/tests/bench/lib/$f.sh"
done

# rx.sh's verdicts by case, declared again here so that shellcheck reads their keys as strings.
declare -A RX_ERR RX_SEEN
AB_ENV=$L3DSR_BUILD/bench/ab/ab.env
# shellcheck source=/dev/null
source "$AB_ENV" || { fail ab/setup "$AB_ENV missing (tests/bench/run.sh --ab writes it)"; exit 0; }
AB_CONFIGS=${AB_CONFIGS:-base-none rev0-1 map-1 map-65536 map-direct-1 map-direct-65536 pass-map-direct-65536}
AB_ROUNDS=${AB_ROUNDS:-3}
AB_COUNT=${AB_COUNT:-300000}
declare -A AB_KO=([A]=$AB_A_DIR/$KREL/xt_DADDR.ko [B]=$AB_B_DIR/$KREL/xt_DADDR.ko)
declare -A AB_LOADERR=()
# Where the loaded module shows itself; a host-side test of this file points it elsewhere.
AB_MOD=${AB_MOD:-/sys/module/xt_DADDR}

# Replaces whatever xt_DADDR is loaded by KO; prints why not and fails otherwise.
ab_load() { # KO
	local i m want got
	[[ -f $1 ]] || { echo "$1 missing"; return 1; }
	# A namespace's rules hold the module until the kernel's asynchronous cleanup has run.
	for ((i = 0; i < 100; i++)); do
		[[ -d $AB_MOD ]] || break
		rmmod xt_DADDR 2>/dev/null && break
		sleep 0.2
	done
	[[ ! -d $AB_MOD ]] ||
		{ echo "xt_DADDR still loaded after 20 s (refcnt $(cat "$AB_MOD"/refcnt 2>/dev/null))"; return 1; }
	for m in $(modinfo -F depends "$1" | tr , ' '); do
		modprobe "$m" || { echo "modprobe $m (a dependency of $1) failed"; return 1; }
	done
	insmod "$1" 2>&1 || return 1
	want=$(modinfo -F srcversion "$1") got=$(cat "$AB_MOD"/srcversion 2>/dev/null)
	[[ -n $want && $want == "$got" ]] || { echo "loaded srcversion '$got', $1 has '$want'"; return 1; }
}

# One build's block of a round: its baseline, then every configuration.
ab_block() { # ROUND BUILD
	local r=$1 b=$2 cfg fam err c
	local -a p
	if ! err=$(ab_load "${AB_KO[$b]}"); then
		AB_LOADERR[$b]+="round $r: $err; "
		return
	fi
	log "ab round $r: build $b (srcversion $(cat "$AB_MOD"/srcversion))"
	for fam in 4 6; do rx_baseline "$r" "$fam" 64 "$AB_COUNT"; done
	for cfg in $AB_CONFIGS; do
		rx_hold_stop
		if ! err=$(rx_ns_up "$RX_NS" "$RX_PEER" 2>&1); then
			for fam in 4 6; do RX_ERR[$cfg-ipv$fam-64-$b]+="round $r: namespace setup failed: $err; "; done
			continue
		fi
		if ! err=$(rx_config "$cfg" 2>&1); then
			for fam in 4 6; do
				if [[ $cfg == *map-direct-* && $err == *"no direct path"* ]]; then
					printf 'BENCHAB\t%s\t%s\t%s\t%s\t64\tn/a\n' "$r" "$b" "$cfg" "$fam"
					RX_SEEN[$cfg-ipv$fam-64-$b]=1
				else
					RX_ERR[$cfg-ipv$fam-64-$b]+="round $r: configuration failed: $err; "
				fi
			done
			continue
		fi
		for fam in 4 6; do
			# rx_measure keeps its verdict under the case without the build: moved below. Its
			# data line goes to a file, not through $(...), whose subshell would lose the verdict.
			c=$cfg-ipv$fam-64
			unset "RX_ERR[$c]" "RX_SEEN[$c]"
			rx_measure "$r" "$cfg" "$fam" 64 "$AB_COUNT" >"$PWD/ab.line"
			IFS=$'\t' read -r -a p <"$PWD/ab.line" || p=()
			((${#p[@]} != 10)) || printf 'BENCHAB\t%s\t%s\t%s\n' "$r" "$b" "$(IFS=$'\t'; echo "${p[*]:3}")"
			[[ -z ${RX_ERR[$c]:-} ]] || RX_ERR[$c-$b]+="${RX_ERR[$c]}; "
			[[ -z ${RX_SEEN[$c]:-} ]] || RX_SEEN[$c-$b]=1
		done
	done
	rx_hold_stop
	rx_ns_down "$RX_NS" "$RX_PEER"
}

bench_env
printf 'BENCH\tenv\tab-%s\t%s\n' A "$AB_A_NAME" B "$AB_B_NAME"
modprobe pktgen || { fail ab/setup "modprobe pktgen failed"; exit 0; }
if ! err=$(rx_ns_up "$RX_BASE" "$RX_BASE_PEER" 2>&1); then
	fail ab/setup "baseline namespace: $err"
	exit 0
fi
for ((r = 1; r <= AB_ROUNDS; r++)); do
	order="A B"
	((r % 2)) || order="B A"
	for b in $order; do ab_block "$r" "$b"; done
done
rx_ns_down "$RX_BASE" "$RX_BASE_PEER"
for b in A B; do
	if [[ -n ${AB_LOADERR[$b]:-} ]]; then fail "ab/load-$b" "${AB_LOADERR[$b]%; }"; else pass "ab/load-$b"; fi
	for cfg in $AB_CONFIGS; do
		for fam in 4 6; do
			c=$cfg-ipv$fam-64-$b
			err=${RX_ERR[$c]:-}
			bench_case "ab/$c" "${err%; }" "${RX_SEEN[$c]:-}"
		done
	done
done
exit 0
