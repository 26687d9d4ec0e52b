#!/usr/bin/env bash
# Builds xt_DADDR from other sources than the working tree's, for the A/B bench (tests/bench/run.sh
# --ab, --ab-patch): the module of a git commit, branch or tag, or the working tree's with a patch
# applied, for each kernel, by the same Kbuild invocation as `make kmod` (W=1).
#
# Usage: tests/bench/abbuild.sh --ref REF | --patch FILE  KREL...
#   --ref REF     `git archive REF kmod VERSION` into build/ab/SHA/src (SHA: REF's 12-digit hash)
#   --patch FILE  the working tree's kmod/ and VERSION, then `patch -p1 < FILE` (paths as
#                 `git diff` writes them: a/kmod/...), into build/ab/patch-HASH/src (HASH: the
#                 patch's sha256, 12 digits)
# Writes DIR/kmod/KREL/xt_DADDR.ko for each KREL and prints DIR on stdout (the build logs are
# DIR/kmod/KREL/build.log). W=1 warnings are shown but do not fail: an older commit may warn on a
# newer compiler, and its figures are still what the A/B is for.
# Exit status: 0 when every kernel's module was built; 2 for a bad REF or FILE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${L3DSR_BUILD:-$top/build}

usage() { sed -n '6,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
(($# >= 3)) || usage
kind=$1 what=$2
shift 2
case $kind in
--ref)
	sha=$(git -C "$top" rev-parse --verify -q "$what^{commit}") ||
		{ echo "abbuild.sh: '$what' is not a commit, branch or tag of $top (try git log --oneline)" >&2; exit 2; }
	dir=$build/ab/${sha:0:12}
	rm -rf "$dir"
	mkdir -p "$dir/src"
	git -C "$top" archive "$sha" kmod VERSION | tar -x -C "$dir/src"
	;;
--patch)
	[[ -f $what && -r $what ]] || { echo "abbuild.sh: patch file '$what' is not a readable file" >&2; exit 2; }
	sum=$(sha256sum "$what")
	dir=$build/ab/patch-${sum:0:12}
	rm -rf "$dir"
	mkdir -p "$dir/src"
	cp -r "$top/kmod" "$top/VERSION" "$dir/src/"
	if ! out=$(patch -p1 --forward --batch -d "$dir/src" <"$what" 2>&1); then
		echo "$out" >&2
		echo "abbuild.sh: $what does not apply to the working tree's kmod/ with patch -p1 (paths a/kmod/...)" >&2
		exit 2
	fi
	;;
*) usage ;;
esac

version=$(cat "$dir/src/VERSION")
for k in "$@"; do
	out=$dir/kmod/$k
	mkdir -p "$out"
	# Everything of kmod/ (whatever files REF had), beside VERSION: Kbuild builds next to them.
	cp -r "$dir/src/kmod/." "$dir/src/VERSION" "$out/"
	echo "  KMOD    $k (${dir##*/})" >&2
	if ! make -s -C "/lib/modules/$k/build" M="$out" W=1 L3DSR_VERSION="$version" modules >"$out/build.log" 2>&1; then
		cat "$out/build.log" >&2
		echo "abbuild.sh: build of ${dir##*/} failed for $k (log: $out/build.log)" >&2
		exit 1
	fi
	if grep -E 'warning:|error:' "$out/build.log" >&2; then
		echo "abbuild.sh: W=1 warnings building ${dir##*/} for $k (kept: see the header)" >&2
	fi
	[[ -f $out/xt_DADDR.ko ]] || { echo "abbuild.sh: no $out/xt_DADDR.ko after the build" >&2; exit 1; }
done
echo "$dir"
