#!/usr/bin/env bash
# Build (or reuse) the debug kernel of `make test-debug` and install it where the VM bench
# looks for a kernel: /boot/vmlinuz-KREL and /lib/modules/KREL, as symlinks into the cache.
# Prints the kernel release on its last line of standard output.
#
# Source: Debian's linux-source-6.12 (the tarball in /usr/src). Config: x86_64 defconfig, then
# kvm_guest.config, then tests/kernel/debug.config over them.
# Cache: $L3DSR_KERNEL_CACHE (default /var/cache/l3dsr/kernel), one folder per
# SOURCE-VERSION + sha256(debug.config)[:12], holding the object tree (obj/, which the module
# builds against), the installed image and modules (root/) and the log (build.log). A folder is
# used only once its build finished (the file "done"); an unfinished one is resumed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
frag=$here/debug.config
pkg=${L3DSR_DEBUG_SRCPKG:-linux-source-6.12}
cache=${L3DSR_KERNEL_CACHE:-/var/cache/l3dsr/kernel}
jobs=${L3DSR_KERNEL_JOBS:-$(nproc)}

die() { echo "kernel/build.sh: $*" >&2; exit 1; }

ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || ver=
[[ -n $ver ]] || die "$pkg is not installed (scripts/deps.sh debug installs it)"
tarball=/usr/src/$pkg.tar.xz
[[ -f $tarball ]] || die "$tarball missing: reinstall $pkg"
key="$ver-$(sha256sum "$frag" | cut -c1-12)"
key=${key//[~:]/_}
dir=$cache/$key
obj=$dir/obj
# The options the checks need: a build where olddefconfig dropped one (an unmet dependency)
# would pass without checking anything.
required=(KASAN KASAN_GENERIC KASAN_INLINE DEBUG_KMEMLEAK PROVE_LOCKING DEBUG_ATOMIC_SLEEP
	PROVE_RCU UBSAN DEBUG_LIST FAILSLAB FAIL_PAGE_ALLOC FAULT_INJECTION_DEBUG_FS NET_NS USER_NS MODULES
	MODULE_UNLOAD NET_9P_VIRTIO 9P_FS OVERLAY_FS NETFILTER_XTABLES NF_TABLES NFT_COMPAT
	IP_NF_RAW IP6_NF_RAW NETFILTER_XT_MATCH_DSCP NETFILTER_XT_TARGET_DSCP IP_VS IP_VS_MH
	NET_IPIP IPV6_TUNNEL VETH NET_PKTGEN NET_SCH_INGRESS NET_CLS_BPF BPF_SYSCALL
	NET_CLS_MATCHALL NET_ACT_GACT)

build() {
	local t0=$SECONDS src o missing=()
	# An interrupted build goes on where it stopped (kbuild is incremental): only one whose
	# sources were not fully extracted starts over.
	if [[ -f $dir/extracted ]]; then
		echo "  KERNEL  resuming the unfinished build in $dir" >&2
		# build-seconds then counts this part only.
		touch "$dir/resumed"
	else
		rm -rf "$dir"
		mkdir -p "$dir/src" "$obj" "$dir/root"
		echo "  KERNEL  extracting $tarball ($pkg $ver)" >&2
		tar -C "$dir/src" -xf "$tarball"
		touch "$dir/extracted"
	fi
	src=$(echo "$dir"/src/linux-source-*)
	[[ -f $src/Makefile ]] || die "no kernel tree in $tarball"
	make -s -C "$src" O="$obj" defconfig kvm_guest.config
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig
	for o in "${required[@]}"; do
		grep -qE "^CONFIG_$o=[ym]" "$obj/.config" || missing+=("$o")
	done
	((${#missing[@]} == 0)) || die "the config lost ${missing[*]} (unmet dependencies in $frag)"
	echo "  KERNEL  building in $obj with $jobs jobs (log: $dir/build.log)" >&2
	if ! make -C "$src" O="$obj" -j"$jobs" bzImage modules >"$dir/build.log" 2>&1; then
		tail -n 30 "$dir/build.log" >&2
		die "the kernel build failed (log: $dir/build.log)"
	fi
	make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$dir/root" modules_install >>"$dir/build.log" 2>&1
	krel=$(make -s -C "$src" O="$obj" kernelrelease)
	mkdir -p "$dir/root/boot"
	cp "$obj/arch/x86/boot/bzImage" "$dir/root/boot/vmlinuz-$krel"
	# modules_install points build at the object tree; the module's own build follows it.
	ln -sfn "$obj" "$dir/root/lib/modules/$krel/build"
	echo "$krel" >"$dir/krel"
	echo "$((SECONDS - t0))" >"$dir/build-seconds"
	touch "$dir/done"
	echo "  KERNEL  $krel built in $((SECONDS - t0)) s" >&2
}

if [[ -f $dir/done ]]; then
	echo "  KERNEL  reusing $dir (built in $(cat "$dir/build-seconds") s$([[ ! -f $dir/resumed ]] || echo ", the last part of a resumed build"))" >&2
else
	build
fi
krel=$(cat "$dir/krel")
ln -sfn "$dir/root/boot/vmlinuz-$krel" "/boot/vmlinuz-$krel"
ln -sfn "$dir/root/lib/modules/$krel" "/lib/modules/$krel"
echo "$krel"
