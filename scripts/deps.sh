#!/usr/bin/env bash
# Install whatever the build, the demo and the tests need and the machine lacks.
# Idempotent and quiet when everything is present. Usage: scripts/deps.sh [build|vm|bench|all]
# (and `pkg`: what `make packages` and `make pkgtest` need: dkms, rpm, headers, no kernel images)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-all}

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

updated=
apt_update_once() {
	[[ -n "$updated" ]] && return
	as_root apt-get update -qq >/dev/null
	updated=1
}

missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' || missing+=("$1"); }

# Kernel metapackages may be unknown until apt has a package list.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then apt_update_once; fi

build_pkgs=(make gcc libc6-dev pkg-config libxtables-dev kmod)
vm_pkgs=(qemu-system-x86 busybox-static iproute2 iptables nftables ipvsadm conntrack tcpdump
	curl socat ethtool python3 python3-scapy procps xz-utils)
# make bench: iperf3 runs in the guest (the host's root), gnuplot draws the plot on the host.
bench_pkgs=(iperf3 gnuplot-nox python3)

case "$what" in
build) pkgs=("${build_pkgs[@]}") ;;
checkpatch) pkgs=(linux-source-6.1 perl xz-utils) ;;
# make packages / pkgtest: dkms builds the module from the package; rpm inspects the .rpm files.
pkg) pkgs=("${build_pkgs[@]}" dkms rpm openssl iptables) ;;
vm) pkgs=("${build_pkgs[@]}" "${vm_pkgs[@]}") ;;
bench | all) pkgs=("${build_pkgs[@]}" "${vm_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "deps.sh: unknown set '$what' (use build, checkpatch, vm, bench or all)" >&2; exit 2 ;;
esac
for p in "${pkgs[@]}"; do need_pkg "$p"; done

mapfile -t kernels < <("$here/kernels.sh" 2>/dev/null || { apt_update_once; "$here/kernels.sh"; })
for k in "${kernels[@]}"; do
	[[ "$what" == checkpatch ]] && break
	need_pkg "linux-headers-$k"
	[[ "$what" == pkg ]] && continue # DKMS needs the headers only
	if [[ "$what" != build ]]; then
		# The -unsigned image (where it exists) avoids pulling the signed-image shim tooling.
		if apt-cache show "linux-image-$k-unsigned" >/dev/null 2>&1; then
			dpkg-query -W -f='${Status}' "linux-image-$k" 2>/dev/null | grep -q 'ok installed' ||
				need_pkg "linux-image-$k-unsigned"
		else
			need_pkg "linux-image-$k"
		fi
	fi
done

if ((${#missing[@]})); then
	echo "deps.sh: installing ${missing[*]}" >&2
	apt_update_once
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi
