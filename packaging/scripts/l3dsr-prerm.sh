#!/bin/sh
# l3dsr: Debian prerm and RPM %preun.
# On removal (not on upgrade) the unit is disabled and stopped. Stopping it
# does not take the setup down: the unit has no ExecStop, the VIPs and IPVS
# services stay until the next reboot or 'l3dsr realserver down' /
# 'l3dsr director service del'.
set -e

UNIT=l3dsr.service

case "${1:-}" in
remove | 0) # Debian removal / RPM erase (0 packages left)
	if [ -d /run/systemd/system ]; then
		systemctl --no-reload disable --now "$UNIT" >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
