#!/usr/bin/env bash
# Install whatever the build, the demo and the tests need and the machine lacks.
# Idempotent and quiet when everything is present. Usage: scripts/deps.sh [build|checkpatch|pkg|vm|bench|debug|all]
# (`pkg`: what `make packages` and `make pkgtest` need: dkms, rpm, headers, no kernel images)
#
# Which kernels to install comes from apt's package lists (scripts/kernels.sh). A new machine's
# lists can be months old and name patch levels the archive no longer has, so the lists are
# trusted only when they are fresh (refreshed less than L3DSR_APT_MAX_AGE seconds ago, by the
# stamp below), or when everything they resolve to is installed already (nothing to ask the
# archive for). Otherwise they are refreshed once, and everything is resolved again from
# scratch. tests/deps/run.sh drives this file with stubbed apt commands.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-all}

# Debian's own "the lists were refreshed" stamp (apt.systemd.daily writes it too).
stamp=${L3DSR_APT_STAMP:-/var/lib/apt/periodic/update-success-stamp}
max_age=${L3DSR_APT_MAX_AGE:-86400}

# clang, llvm (llvm-strip) and libbpf-dev: `make bpf`, and the unit test that recompiles the
# tc-BPF object to check the committed one (internal/bpfdsr/object_test.go).
build_pkgs=(make gcc libc6-dev pkg-config libxtables-dev kmod clang llvm libbpf-dev)
# prometheus: the agent scenario scrapes the agent with a real Prometheus server and checks the
# exposition with its promtool. iputils-ping: bpf_backend pings through a foreign tc filter (the
# guest runs the host's root, and a minimal Debian has no ping). bird2: the router of the
# bgp_ecmp scenario (make test-ecmp), whose ECMP route the directors' BGP announcements make.
vm_pkgs=(qemu-system-x86 busybox-static iproute2 iptables nftables ipvsadm conntrack tcpdump
	curl socat ethtool python3 python3-scapy procps xz-utils prometheus iputils-ping bird2)
# make bench: iperf3 runs in the guest (the host's root), gnuplot draws the plot on the host;
# keepalived is the baseline of the agent's cost (make bench-agent).
bench_pkgs=(iperf3 gnuplot-nox python3 keepalived)

# kernel packages per set: none, headers (to build against), or headers and images (to boot)
case "$what" in
build) pkgs=("${build_pkgs[@]}") kpkgs=headers ;;
checkpatch) pkgs=(linux-source-6.1 perl xz-utils) kpkgs=none ;;
# make packages / pkgtest: dkms builds the module from the package; rpm inspects the .rpm files.
pkg) pkgs=("${build_pkgs[@]}" dkms rpm openssl iptables) kpkgs=headers ;;
vm) pkgs=("${build_pkgs[@]}" "${vm_pkgs[@]}") kpkgs=all ;;
bench | all) pkgs=("${build_pkgs[@]}" "${vm_pkgs[@]}" "${bench_pkgs[@]}") kpkgs=all ;;
# make test-debug: Debian's 6.12 source and what building a kernel from it takes
# (tests/kernel/build.sh), besides the VM bench.
debug) pkgs=("${build_pkgs[@]}" "${vm_pkgs[@]}" linux-source-6.12 bc bison flex libelf-dev libssl-dev xz-utils) kpkgs=all ;;
*) echo "deps.sh: unknown set '$what' (use build, checkpatch, pkg, vm, bench, debug or all)" >&2; exit 2 ;;
esac

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
die() {
	echo "deps.sh: $*" >&2
	exit 1
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

lists_fresh() {
	local t
	t=$(stat -c %Y "$stamp" 2>/dev/null) || return 1
	(($(date +%s) - t < max_age))
}

# Refresh the lists, once per run. apt-get update exits 0 when a source could not be fetched
# (it keeps the old lists and warns), so its warnings count as failure here.
updated=
apt_update() {
	[[ -z "$updated" ]] || return 0
	updated=1
	local out rc=0
	out=$(as_root apt-get update 2>&1) || rc=$?
	if ((rc)) || grep -Eq '^(E: |W: (Failed to fetch|Some index files failed))' <<<"$out"; then
		grep -E '^(E|W): ' <<<"$out" | head -5 | sed 's/^/  apt-get update: /' >&2 || true
		die "could not refresh the package lists ('apt-get update' failed, exit $rc), so the kernel packages to install cannot be known: old lists name patch levels the archive has dropped (set '$what' needs packages that are not installed). Fix: make the Debian archive reachable (network, proxy, the sources in /etc/apt) and run 'apt-get update' as root; or set L3DSR_KERNELS to kernel releases whose packages are installed."
	fi
	as_root mkdir -p "$(dirname "$stamp")" && as_root touch "$stamp" || true
}

# resolve: fill kernels and missing from the lists as they are now. On failure it fills
# neither and leaves kernels.sh's reason in $why.
kernels=() missing=() why=
resolve() {
	local out
	kernels=() missing=() why=
	if [[ $kpkgs != none ]]; then
		out=$("$here/kernels.sh" 2>&1) || {
			why=$out
			return 1
		}
		mapfile -t kernels <<<"$out"
	fi
	local p k
	for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
	for k in "${kernels[@]}"; do
		installed "linux-headers-$k" || missing+=("linux-headers-$k")
		[[ $kpkgs == all ]] || continue
		# The -unsigned image (where it exists) avoids pulling the signed-image shim tooling.
		installed "linux-image-$k" || installed "linux-image-$k-unsigned" && continue
		if apt-cache show "linux-image-$k-unsigned" >/dev/null 2>&1; then
			missing+=("linux-image-$k-unsigned")
		else
			missing+=("linux-image-$k")
		fi
	done
}

# Refresh the lists, then resolve everything again from them alone.
refresh() {
	apt_update
	resolve || die "${why#kernels.sh: } (after 'apt-get update')"
}

# Lists that resolve to packages all installed need no archive: that works offline too.
if resolve && ((${#missing[@]} == 0)); then exit 0; fi
if [[ -n "$why" ]] || ! lists_fresh; then
	refresh
	((${#missing[@]})) || exit 0
fi

install() {
	echo "deps.sh: installing ${missing[*]}" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}
if ! install; then
	# Lists refreshed less than a day ago can still name a package the archive has just dropped.
	[[ -z "$updated" ]] || die "'apt-get install ${missing[*]}' failed (above) with freshly updated package lists: install them by hand, or report the package name that failed"
	refresh
	((${#missing[@]} == 0)) || install || die "'apt-get install ${missing[*]}' failed (above), even after 'apt-get update': install them by hand, or report the package name that failed"
fi
