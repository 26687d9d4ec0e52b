#!/bin/sh
# l3dsr-dkms: Debian prerm and RPM %preun.
# Removes this version from DKMS for all kernels: the installed xt_DADDR.ko
# files, the build trees and the registration. On an upgrade the new package's
# postinst (Debian) / %posttrans (RPM) adds and builds its own version again.
set -e

NAME=l3dsr
VERSION=@VERSION@

case "${1:-}" in
failed-upgrade) exit 0 ;; # Debian: the new prerm failed and dpkg retries with ours; nothing to undo
esac

command -v dkms >/dev/null 2>&1 || exit 0
if [ -n "$(dkms status -m "$NAME" -v "$VERSION" 2>/dev/null)" ]; then
	dkms remove -m "$NAME" -v "$VERSION" --all || true
fi
# DKMS leaves the (now empty) per-package directory behind.
rmdir "/var/lib/dkms/$NAME" 2>/dev/null || true
exit 0
