#!/usr/bin/env bash
# Print the kernel release strings the project builds and tests against, one per line:
# Debian's stock 6.1 (linux-image-amd64) and the newest 6.12 from bookworm security
# (linux-image-6.12-amd64). L3DSR_KERNELS="rel1 rel2" overrides the choice.
#
# This only reads apt's package lists as they are; it never refreshes them. Lists that are
# months old name patch levels the archive has long dropped, so scripts/deps.sh decides when
# they are fresh enough to install from (and refreshes them first otherwise). Output is all or
# nothing: a run that fails prints no release, so a caller never keeps half an answer.
set -euo pipefail

if [[ -n "${L3DSR_KERNELS:-}" ]]; then
	tr ' ' '\n' <<<"$L3DSR_KERNELS" | grep -v '^$'
	exit 0
fi

die() {
	echo "kernels.sh: $*" >&2
	exit 1
}

offered() { apt-cache show "$1" >/dev/null 2>&1; }

# metapackage, and what it stands for in an error message
metas=(
	"linux-image-amd64|Debian 12's stock 6.1 kernel from suite bookworm"
	"linux-image-6.12-amd64|the 6.12 kernel from suite bookworm-security"
)
fix="run 'apt-get update' (scripts/deps.sh does, as root), check that apt's sources have the suites bookworm and bookworm-security with component main, or set L3DSR_KERNELS to the releases to use"

rels=()
for m in "${metas[@]}"; do
	meta=${m%%|*} what=${m#*|}
	# The metapackage depends on exactly one versioned image package. apt-cache exits 100 for a
	# package the lists do not know, which is an answer here, not an error.
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}' || true)
	[[ -n "$pkg" ]] || die "the package lists have no $meta ($what): $fix"
	rel=${pkg#linux-image-}
	rel=${rel%-unsigned}
	# A metapackage can outlive the image it names in lists that were only half refreshed.
	offered "linux-headers-$rel" ||
		die "$meta names kernel $rel, but the package lists offer no linux-headers-$rel: $fix"
	offered "linux-image-$rel-unsigned" || offered "linux-image-$rel" ||
		die "$meta names kernel $rel, but the package lists offer no linux-image-$rel: $fix"
	rels+=("$rel")
done
printf '%s\n' "${rels[@]}"
