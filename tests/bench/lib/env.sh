# shellcheck shell=bash
# bench_env: data lines describing the guest the figures come from.
#   BENCH env KEY VALUE
bench_env() {
	local model
	model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	printf 'BENCH\tenv\tkernel\t%s\n' "$(uname -r)"
	printf 'BENCH\tenv\tnproc\t%s\n' "$(nproc)"
	printf 'BENCH\tenv\tcpu\t%s\n' "${model:-unknown}"
	printf 'BENCH\tenv\tmem\t%s\n' "$(awk '/^MemTotal/ { print $2 " kB"; exit }' /proc/meminfo)"
	printf 'BENCH\tenv\tnft\t%s\n' "$(nft --version 2>/dev/null)"
	printf 'BENCH\tenv\tiptables\t%s\n' "$(iptables-legacy --version 2>/dev/null)"
}

# bench_case CASE ERR SEEN: the verdict of one bench case from what its runs recorded: fail with
# ERR when a run failed, fail when no run measured anything (SEEN empty), pass otherwise.
bench_case() {
	if [[ -n $2 ]]; then
		fail "$1" "$2"
	elif [[ -z $3 ]]; then
		fail "$1" "no measurement"
	else
		pass "$1"
	fi
}
