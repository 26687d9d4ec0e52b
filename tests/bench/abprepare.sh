#!/usr/bin/env bash
# The host's half of the A/B bench (tests/bench/run.sh --ab/--ab-patch): builds the two modules
# and writes the file that tells scenarios/bench_ab.sh in the guest where they are (the guest
# gets no environment from the host, only the build folder over 9p, at the same path).
#
# Usage: tests/bench/abprepare.sh REF PATCH ENVFILE KREL...
#   REF    git commit, branch or tag for build A ('' for the working tree's build/kmod)
#   PATCH  patch file for build B: the working tree's module with it ('' for build/kmod as is)
# ENVFILE gets AB_A_DIR, AB_B_DIR (each with KREL/xt_DADDR.ko), AB_A_NAME, AB_B_NAME, and
# AB_CONFIGS, AB_ROUNDS when they are set here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${L3DSR_BUILD:-$top/build}

(($# >= 4)) || { sed -n '6,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
ref=$1 patch=$2 envfile=$3
shift 3
[[ -n $ref$patch ]] || { echo "abprepare.sh: give REF, PATCH or both" >&2; exit 2; }

a_dir=$build/kmod a_name="working tree (make kmod)"
b_dir=$build/kmod b_name="working tree (make kmod)"
if [[ -n $ref ]]; then
	a_dir=$("$here/abbuild.sh" --ref "$ref" "$@")/kmod
	a_name="$ref ($(git -C "$top" rev-parse --short=12 "$ref^{commit}"))"
fi
if [[ -n $patch ]]; then
	b_dir=$("$here/abbuild.sh" --patch "$patch" "$@")/kmod
	b_name="working tree + ${patch##*/}"
fi
for k in "$@"; do
	for d in "$a_dir" "$b_dir"; do
		[[ -f $d/$k/xt_DADDR.ko ]] || { echo "abprepare.sh: $d/$k/xt_DADDR.ko missing (make kmod)" >&2; exit 1; }
	done
done
mkdir -p "$(dirname "$envfile")"
{
	printf 'AB_A_DIR=%q\nAB_B_DIR=%q\nAB_A_NAME=%q\nAB_B_NAME=%q\n' "$a_dir" "$b_dir" "$a_name" "$b_name"
	[[ -z ${AB_CONFIGS:-} ]] || printf 'AB_CONFIGS=%q\n' "$AB_CONFIGS"
	[[ -z ${AB_ROUNDS:-} ]] || printf 'AB_ROUNDS=%q\n' "$AB_ROUNDS"
} >"$envfile"
echo "abprepare.sh: A = $a_name, B = $b_name ($envfile)" >&2
