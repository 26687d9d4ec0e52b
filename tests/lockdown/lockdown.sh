# shellcheck shell=bash
# lockdown: a real server on a kernel in lockdown (booted with `lockdown=integrity
# module.sig_enforce=1`, as Secure Boot does), where xt_DADDR, unsigned, cannot load. The BPF
# backend serves it instead (issue 17). Run by `make vmtest-lockdown` (part of `make vmtest`):
# tests/vm/run.sh with L3DSR_VM_APPEND and this folder as L3DSR_SCENARIO_DIR.
#
# Cases:
#   kernel-in-lockdown      /sys/kernel/security/lockdown says [integrity] and module.sig_enforce=Y
#   modprobe-refused        `modprobe xt_DADDR` fails, xt_DADDR is not loaded, and the kernel's
#                           refusal (modprobe's message and the kernel log's) is shown
#   classic_dsr's cases     the whole classic L3 DSR path (IPVS director, router, real server) with
#                           `realserver up --backend auto`: auto must say it chose BPF, then curl
#                           and UDP to the VIP work, conntrack holds client↔VIP, 0 INVALID, and the
#                           BPF table counts the packets (tests/scenarios/classic_dsr.sh, variant auto)
set -u

[[ -e /sys/kernel/security/lockdown ]] || mount -t securityfs securityfs /sys/kernel/security
lock=$(cat /sys/kernel/security/lockdown 2>&1)
sig=$(cat /sys/module/module/parameters/sig_enforce 2>&1)
if [[ $lock == *"[integrity]"* && $sig == Y ]]; then
	pass kernel-in-lockdown
else
	fail kernel-in-lockdown "want lockdown [integrity] and sig_enforce Y, got '$lock' and '$sig' (boot with L3DSR_VM_APPEND='lockdown=integrity module.sig_enforce=1')"
fi

dmesg -C 2>/dev/null
out=$(modprobe xt_DADDR 2>&1)
rc=$?
klog=$(dmesg | grep -iE 'lockdown|module|key|signature' | tail -n 3 | tr '\n' ' ')
log "modprobe xt_DADDR: exit $rc: $out"
log "kernel log: $klog"
if ((rc != 0)) && [[ ! -d /sys/module/xt_DADDR ]] && [[ $out == *xt_DADDR* ]]; then
	pass modprobe-refused
else
	fail modprobe-refused "want modprobe xt_DADDR refused and the module absent; got exit $rc, '$out', /sys/module/xt_DADDR $([[ -d /sys/module/xt_DADDR ]] && echo present || echo absent)"
fi

CD_VARIANTS=auto
# shellcheck source=../scenarios/classic_dsr.sh
source "$L3DSR_SRC/tests/scenarios/classic_dsr.sh"
