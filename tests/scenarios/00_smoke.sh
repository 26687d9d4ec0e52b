# shellcheck shell=bash
# Smoke test: the module loads, carries the project's version, autoloads from an iptables rule
# through its alias (nft and legacy iptables), and unloads once the rule is gone.

rule=(PREROUTING -m dscp --dscp 1 -j DADDR --set-daddr 10.0.0.1)
want_version=$(cat "$L3DSR_SRC/VERSION")

expect modprobe modprobe xt_DADDR
expect_eq modinfo-version "$(modinfo -F version xt_DADDR 2>&1)" "$want_version" "modinfo version"
# nft_compat drops its module references after the commit, asynchronously.
if wait_for 10 rmmod xt_DADDR; then
	pass rmmod-after-modprobe
else
	fail rmmod-after-modprobe "rmmod xt_DADDR kept failing for 10s: $(rmmod xt_DADDR 2>&1)"
fi

for ipt in iptables iptables-legacy; do
	if [[ -d /sys/module/xt_DADDR ]]; then
		fail "$ipt-autoload" "xt_DADDR already loaded before the rule was added"
		continue
	fi
	on_exit "$ipt -t raw -D ${rule[*]} 2>/dev/null"
	if out=$("$ipt" -t raw -A "${rule[@]}" 2>&1); then
		pass "$ipt-append"
	else
		fail "$ipt-append" "$ipt -t raw -A ${rule[*]} failed: $out"
		continue
	fi
	if [[ -d /sys/module/xt_DADDR ]]; then
		pass "$ipt-autoload"
	else
		fail "$ipt-autoload" "rule accepted but xt_DADDR is not loaded"
	fi
	saved=$("$ipt" -t raw -S PREROUTING 2>&1)
	echo "$saved"
	if grep -qE -- '-j DADDR --set-daddr 10\.0\.0\.1(/32)?( |$)' <<<"$saved"; then
		pass "$ipt-list"
	else
		fail "$ipt-list" "$ipt -t raw -S shows no '-j DADDR --set-daddr 10.0.0.1' rule: $saved"
	fi
	expect "$ipt-delete" "$ipt" -t raw -D "${rule[@]}"
	if wait_for 10 rmmod xt_DADDR; then
		pass "$ipt-rmmod"
	else
		fail "$ipt-rmmod" "rmmod xt_DADDR kept failing for 10s after the rule was deleted: $(rmmod xt_DADDR 2>&1)"
	fi
done
