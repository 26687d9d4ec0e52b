#!/bin/sh
# l3dsr: Debian postinst and RPM %post.
# Registers l3dsr.service and enables it, as Debian's dh_installsystemd and
# EL's %systemd_post do: enabled on the first install (Debian: unless the admin
# disabled it before; EL: as the preset says), left as the admin set it on
# upgrades. It is not started here: the shipped config changes nothing, and
# applying a config is the admin's step ('systemctl start l3dsr' or
# 'l3dsr apply'); at the next boot it runs by itself.
set -e

UNIT=l3dsr.service

case "${1:-}" in
configure) # Debian
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper unmask "$UNIT" >/dev/null || true
		if deb-systemd-helper --quiet was-enabled "$UNIT"; then
			deb-systemd-helper enable "$UNIT" >/dev/null || true
		else
			deb-systemd-helper update-state "$UNIT" >/dev/null || true
		fi
	fi
	;;
1) # RPM, first install
	if [ -d /run/systemd/system ]; then
		systemctl --no-reload preset "$UNIT" >/dev/null 2>&1 || true
	fi
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
