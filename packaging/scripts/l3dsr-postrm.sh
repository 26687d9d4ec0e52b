#!/bin/sh
# l3dsr: Debian postrm and RPM %postun.
# systemd forgets the removed unit; Debian's purge also drops the enablement
# state deb-systemd-helper kept for it.
set -e

UNIT=l3dsr.service

if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null 2>&1 || true
fi
if [ "${1:-}" = purge ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper purge "$UNIT" >/dev/null || true
	deb-systemd-helper unmask "$UNIT" >/dev/null || true
fi
exit 0
