#!/bin/sh
# l3dsr-dkms: Debian postinst and RPM %posttrans.
# Registers /usr/src/l3dsr-@VERSION@ with DKMS, then builds and installs
# xt_DADDR for EVERY kernel whose headers are installed (not only the running
# one: a freshly installed kernel is often not booted yet). DKMS signs the
# module with its MOK key when one is configured (see docs/packaging.md).
# Later kernels are handled by DKMS's own kernel hook (AUTOINSTALL=yes).
#
# RPM runs this as %posttrans, not %post: on an upgrade the old package's
# %preun (which removes its DKMS version) runs after the new %post, and would
# otherwise undo a same-version reinstall.
set -e

NAME=l3dsr
VERSION=@VERSION@

# Every Debian argument (configure, abort-upgrade, abort-remove, ...) and RPM's
# %posttrans lead to the same idempotent work below.

if ! command -v dkms >/dev/null 2>&1; then
	echo "l3dsr-dkms: dkms is not installed; the xt_DADDR module was not built" >&2
	exit 0
fi

if [ -z "$(dkms status -m "$NAME" -v "$VERSION" 2>/dev/null)" ]; then
	dkms add -m "$NAME" -v "$VERSION"
fi

failed=
built=
for dir in /lib/modules/*/; do
	krel=$(basename "$dir")
	# Only kernels whose headers are installed (build may be a dangling link).
	[ -e "$dir/build/Makefile" ] || continue
	# `dkms install` builds first when needed; already installed is a no-op.
	if dkms install -m "$NAME" -v "$VERSION" -k "$krel"; then
		built="$built $krel"
	else
		failed="$failed $krel"
	fi
done

if [ -z "$built$failed" ]; then
	echo "l3dsr-dkms: no kernel headers found under /lib/modules/*/build;" \
		"install linux-headers-\$(uname -r) (Debian) or kernel-devel (EL), then" \
		"run: dkms autoinstall" >&2
fi
if [ -n "$failed" ]; then
	# Do not fail the package transaction: the other kernels are fine, and the
	# log names the kernel. The operator can retry with dkms install -k KREL.
	echo "l3dsr-dkms: building xt_DADDR $VERSION FAILED for:$failed" \
		"(see /var/lib/dkms/$NAME/$VERSION/build/make.log)" >&2
fi
exit 0
