#!/usr/bin/env bash
# Print the kernel release strings the project builds and tests against, one per line:
# Debian's stock 6.1 (linux-image-amd64) and the newest 6.12 from bookworm security.
# Resolved from apt at run time so that we never pin a patch level the archive may drop.
# L3DSR_KERNELS="rel1 rel2" overrides the choice.
set -euo pipefail

if [[ -n "${L3DSR_KERNELS:-}" ]]; then
	tr ' ' '\n' <<<"$L3DSR_KERNELS" | grep -v '^$'
	exit 0
fi

dep_of() {
	# The metapackage depends on exactly one versioned image package.
	apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

for meta in linux-image-amd64 linux-image-6.12-amd64; do
	pkg=$(dep_of "$meta")
	if [[ -z "$pkg" ]]; then
		echo "kernels.sh: apt has no $meta; run 'apt-get update' first" >&2
		exit 1
	fi
	rel=${pkg#linux-image-}
	echo "${rel%-unsigned}"
done
