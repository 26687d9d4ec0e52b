#!/usr/bin/env bash
# Run the kernel's checkpatch.pl over our kernel C. checkpatch ships in the
# linux-source tarball (not in the headers): extract just what it needs, once.
# Usage: scripts/checkpatch.sh FILE...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/build/checkpatch

if [[ ! -x $cache/scripts/checkpatch.pl ]]; then
	tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -1 || true)
	if [[ -z $tarball ]]; then
		"$top/scripts/deps.sh" checkpatch
		tarball=$(ls /usr/src/linux-source-6.1.tar.* | head -1)
	fi
	mkdir -p "$cache"
	dir=$(basename "$tarball")
	dir=${dir%%.tar.*}
	tar -xf "$tarball" -C "$cache" --strip-components=1 \
		"$dir/scripts/checkpatch.pl" "$dir/scripts/spelling.txt" \
		"$dir/scripts/const_structs.checkpatch"
fi

# --no-tree: we are not inside a kernel tree. SPDX and MAINTAINERS checks
# that only make sense in-tree are off; so is LONG_LINE_STRING, because the
# coding style says never to break a user-visible string (it must stay
# greppable). Everything else stays on, --strict included.
exec perl "$cache/scripts/checkpatch.pl" --no-tree --strict --terse \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,LINUX_VERSION_CODE,LONG_LINE_STRING \
	--show-types -f "$@"
