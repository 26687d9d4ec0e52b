#!/usr/bin/env bash
# Build the VM bench's initramfs for one kernel: busybox-static, tests/vm/init, and the modules
# that kernel needs to reach the host's root over virtio-9p and put an overlay on it.
#
# Usage: tests/vm/mkinitrd.sh KREL OUTDIR   -> OUTDIR/initrd.gz
# Cheap when nothing changed: the image is rebuilt only if its key (this script, init, busybox,
# the resolved module list and each module's size and mtime) differs from OUTDIR/initrd.key.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
krel=${1:?usage: mkinitrd.sh KREL OUTDIR}
out=${2:?usage: mkinitrd.sh KREL OUTDIR}
busybox=${BUSYBOX:-/bin/busybox}

# virtio_pci is built in on 6.12 and a module on 6.1; modprobe resolves each kernel's own list.
want=(virtio_pci 9pnet_virtio 9p overlay)

die() { echo "mkinitrd: $*" >&2; exit 1; }

[[ -d /lib/modules/$krel/kernel ]] || die "no modules for $krel in /lib/modules (linux-image-$krel installed?)"
[[ -x $busybox ]] || die "$busybox missing (apt-get install busybox-static)"
# A dynamically linked busybox would need its libraries in the image too.
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is not static (install busybox-static)"; fi

# Dependency order, first occurrence wins: `-a` repeats shared dependencies.
mapfile -t mods < <(modprobe --show-depends -S "$krel" -a "${want[@]}" |
	awk '$1 == "insmod" && !seen[$2]++ {print $2}')

key=$(
	{
		sha256sum "$0" "$here/init" "$busybox"
		for m in "${mods[@]}"; do stat -L -c '%n %s %Y' "$m"; done
	} | sha256sum | cut -d' ' -f1
)
if [[ -f $out/initrd.gz && "$(cat "$out/initrd.key" 2>/dev/null)" == "$key" ]]; then
	exit 0
fi

mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,modules}
cp "$busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 0755 "$stage/init"

# Busybox insmod cannot be relied on to read compressed modules, and the kernel's own
# decompression (MODULE_DECOMPRESS) is not on every kernel, so store them plain.
: >"$stage/modules/order"
for m in "${mods[@]}"; do
	name=$(basename "$m")
	case "$name" in
	*.ko.xz) name=${name%.xz}; xz -dc "$m" >"$stage/modules/$name" ;;
	*.ko.zst) name=${name%.zst}; zstd -qdc "$m" >"$stage/modules/$name" ;;
	*.ko.gz) name=${name%.gz}; gzip -dc "$m" >"$stage/modules/$name" ;;
	*.ko) cp "$m" "$stage/modules/$name" ;;
	*) die "unexpected module file $m" ;;
	esac
	echo "$name" >>"$stage/modules/order"
done

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) |
	gzip -1 >"$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
echo "$key" >"$out/initrd.key"
echo "  INITRD  $krel (${#mods[@]} modules)" >&2
