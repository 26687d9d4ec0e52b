#!/usr/bin/env bash
# Package test (make pkgtest): builds the l3dsr and l3dsr-dkms .deb and .rpm
# files, inspects them, installs the .debs on this host, checks what DKMS built
# for every kernel in scripts/kernels.sh (version, install path, signature by a
# throw-away MOK key), then purges them and checks that nothing is left.
# Root only. The host is restored on any exit (trap): the packages purged, the
# DKMS tree and /usr/src cleaned, the DKMS MOK key pair put back as it was.
# Output: `PASS name` / `FAIL name: reason` lines, then `N passed, N failed`.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=$(cat "$top/VERSION")
PKGDIR=$top/build/packages
MOKDIR=/var/lib/dkms
TEST_CN="l3dsr pkgtest MOK $$"
# The version of the l3dsr-dkms built for the upgrade test: VERSION plus one more component.
UPVERSION=$VERSION.1

npass=0 nfail=0
pass() { echo "PASS $1"; npass=$((npass + 1)); }
fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
# expect NAME REASON CMD...: pass when CMD succeeds, else fail with REASON.
expect() { local n=$1 r=$2; shift 2; if "$@" >/dev/null 2>&1; then pass "$n"; else fail "$n" "$r"; fi; }

if [[ $(id -u) != 0 ]]; then echo "tests/pkg/run.sh: run as root (it installs packages)" >&2; exit 2; fi
for p in l3dsr l3dsr-dkms; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
		echo "tests/pkg/run.sh: package $p is already installed; remove it first (the test restores the host to its state)" >&2
		exit 2
	fi
done
if [[ -e /var/lib/dkms/l3dsr ]] || compgen -G '/usr/src/l3dsr-*' >/dev/null; then
	echo "tests/pkg/run.sh: /var/lib/dkms/l3dsr or /usr/src/l3dsr-* exists; clean it first" >&2
	exit 2
fi

"$top/scripts/deps.sh" pkg || exit 1
# qemu and the tools the installed scenario runs in the VM; before the package snapshot below.
"$top/scripts/deps.sh" vm || exit 1
mapfile -t KERNELS < <("$top/scripts/kernels.sh")
((${#KERNELS[@]})) || { echo "tests/pkg/run.sh: scripts/kernels.sh printed no kernel" >&2; exit 1; }

work=$(mktemp -d /tmp/l3dsr-pkgtest.XXXXXX)
pkgs_before=$work/pkgs-before
dpkg-query -W -f='${Package} ${Status}\n' | awk '$NF == "installed" {print $1}' | sort >"$pkgs_before"

# --- the DKMS signing key: save the host's (if any), put a throw-away one in place.
mok_saved=
mkdir -p "$work/mok"
if [[ -e $MOKDIR/mok.key || -e $MOKDIR/mok.pub ]]; then
	cp -a "$MOKDIR"/mok.key "$MOKDIR"/mok.pub "$work/mok/" 2>/dev/null
	mok_saved=1
fi
restore_mok() {
	rm -f "$MOKDIR/mok.key" "$MOKDIR/mok.pub"
	if [[ -n $mok_saved ]]; then cp -a "$work/mok/." "$MOKDIR/"; fi
}
# The logs (build, apt install with the DKMS output, purge) are kept for a look after the run.
logs=$top/build/pkgtest

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in l3dsr l3dsr-dkms; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files\|half'; then
			DEBIAN_FRONTEND=noninteractive dpkg --purge "$p" >>"$work/cleanup.log" 2>&1
		fi
	done
	# Every version: the upgrade below installs a second one.
	local v
	if command -v dkms >/dev/null; then
		for v in $(dkms status 2>/dev/null | sed -n 's|^l3dsr/\([^,]*\),.*|\1|p' | sort -u); do
			dkms remove -m l3dsr -v "$v" --all >>"$work/cleanup.log" 2>&1
		done
	fi
	rm -rf /usr/src/l3dsr-"$VERSION" /usr/src/l3dsr-"$UPVERSION"
	rm -rf /var/lib/dkms/l3dsr
	restore_mok
	rm -rf "$logs"; mkdir -p "$logs"; cp "$work"/*.log "$logs/" 2>/dev/null
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -new -x509 -nodes -days 1 -subj "/CN=$TEST_CN" -newkey rsa:2048 \
	-keyout "$MOKDIR/mok.key" -outform DER -out "$MOKDIR/mok.pub" >/dev/null 2>&1 ||
	fail mok-key "openssl could not write a test key pair to $MOKDIR"

# --- build
if make -C "$top" packages >"$work/build.log" 2>&1; then
	pass packages-build
else
	fail packages-build "make packages failed: $(tail -3 "$work/build.log" | tr '\n' ' ')"
	echo "$npass passed, $nfail failed"
	exit 1
fi
DEB_DKMS=$(ls "$PKGDIR"/l3dsr-dkms_"$VERSION"-*_all.deb 2>/dev/null)
DEB_CLI=$(ls "$PKGDIR"/l3dsr_"$VERSION"-*_amd64.deb 2>/dev/null)
RPM_DKMS=$(ls "$PKGDIR"/l3dsr-dkms-"$VERSION"-*.noarch.rpm 2>/dev/null)
RPM_CLI=$(ls "$PKGDIR"/l3dsr-"$VERSION"-*.x86_64.rpm 2>/dev/null)
for v in DEB_DKMS DEB_CLI RPM_DKMS RPM_CLI; do
	[[ -n ${!v} ]] || fail "packages-present" "no $v file for version $VERSION in $PKGDIR"
done

# --- inspect the .debs
# has_all LISTFILE PATH...: every PATH appears as a line of LISTFILE
has_all() { local f=$1 p; shift; for p; do grep -qxF -- "$p" "$f" || { echo "missing $p"; return 1; }; done; }
missing_of() { has_all "$@" | head -1; }

src=/usr/src/l3dsr-$VERSION
dkms_files=("$src/dkms.conf" "$src/Kbuild" "$src/VERSION" "$src/xt_DADDR_main.c" "$src/compat.h"
	"$src/uapi/linux/l3dsr.h" "$src/uapi/linux/netfilter/xt_DADDR.h")
deb_cli_files=(/usr/bin/l3dsr /usr/lib/x86_64-linux-gnu/xtables/libxt_DADDR.so
	/usr/share/bash-completion/completions/l3dsr /usr/share/zsh/vendor-completions/_l3dsr
	/usr/share/fish/vendor_completions.d/l3dsr.fish /usr/share/man/man1/l3dsr.1.gz
	/usr/share/man/man1/l3dsr-version.1.gz /usr/share/man/man1/l3dsr-apply.1.gz
	/lib/systemd/system/l3dsr.service /lib/systemd/system/l3dsr-agent.service
	/usr/share/man/man1/l3dsr-agent.1.gz /etc/l3dsr/l3dsr.conf)
rpm_cli_files=(/usr/bin/l3dsr /usr/lib64/xtables/libxt_DADDR.so
	/usr/share/bash-completion/completions/l3dsr /usr/share/zsh/site-functions/_l3dsr
	/usr/share/fish/vendor_completions.d/l3dsr.fish /usr/share/man/man1/l3dsr.1.gz
	/usr/share/man/man1/l3dsr-version.1.gz /usr/share/man/man1/l3dsr-apply.1.gz
	/usr/lib/systemd/system/l3dsr.service /usr/lib/systemd/system/l3dsr-agent.service
	/usr/share/man/man1/l3dsr-agent.1.gz /etc/l3dsr/l3dsr.conf)

dpkg-deb -c "$DEB_DKMS" | awk '{print $6}' | sed 's|^\.||; s|/$||' >"$work/deb-dkms.list"
dpkg-deb -c "$DEB_CLI" | awk '{print $6}' | sed 's|^\.||; s|/$||' >"$work/deb-cli.list"
m=$(missing_of "$work/deb-dkms.list" "${dkms_files[@]}")
[[ -z $m ]] && pass deb-dkms-contents || fail deb-dkms-contents "$m"
if grep -qE 'libxt_|/test(/|$)|\.o$|\.ko$' "$work/deb-dkms.list"; then
	fail deb-dkms-no-extras "userspace/test/object files in the module source: $(grep -E 'libxt_|/test(/|$)|\.o$|\.ko$' "$work/deb-dkms.list" | head -3 | tr '\n' ' ')"
else pass deb-dkms-no-extras; fi
m=$(missing_of "$work/deb-cli.list" "${deb_cli_files[@]}")
[[ -z $m ]] && pass deb-l3dsr-contents || fail deb-l3dsr-contents "$m"

dpkg-deb --fsys-tarfile "$DEB_DKMS" | tar -xO ".$src/dkms.conf" >"$work/dkms.conf" 2>/dev/null
expect deb-dkms-conf "dkms.conf lacks PACKAGE_NAME=l3dsr, PACKAGE_VERSION=$VERSION, BUILT_MODULE_NAME xt_DADDR or AUTOINSTALL=yes" \
	bash -c "grep -qx 'PACKAGE_NAME=\"l3dsr\"' $work/dkms.conf && grep -qx 'PACKAGE_VERSION=\"$VERSION\"' $work/dkms.conf &&
		grep -qx 'BUILT_MODULE_NAME\[0\]=\"xt_DADDR\"' $work/dkms.conf && grep -qx 'AUTOINSTALL=\"yes\"' $work/dkms.conf"
dpkg-deb -I "$DEB_DKMS" >"$work/deb-dkms.info"
dpkg-deb -I "$DEB_CLI" >"$work/deb-cli.info"
expect deb-dkms-control "control: want Depends: dkms, postinst and prerm" \
	bash -c "grep -q '^ Depends: dkms' $work/deb-dkms.info && grep -qE '^ +[0-9]+ bytes.* postinst ' $work/deb-dkms.info &&
		grep -qE '^ +[0-9]+ bytes.* prerm ' $work/deb-dkms.info"
dpkg-deb --ctrl-tarfile "$DEB_DKMS" | tar -xO ./postinst ./prerm >"$work/deb-dkms.scripts" 2>/dev/null
expect deb-dkms-scripts "postinst/prerm: want dkms add, dkms install -k per kernel, dkms remove --all for $VERSION" \
	bash -c "grep -q '^VERSION=$VERSION\$' $work/deb-dkms.scripts && grep -q 'dkms add ' $work/deb-dkms.scripts &&
		grep -q 'dkms install .*-k ' $work/deb-dkms.scripts && grep -q 'dkms remove .*--all' $work/deb-dkms.scripts"
# l3dsr-dkms is a recommendation, never a dependency: where the module cannot
# load (Secure Boot, no headers) the tc-BPF backend, embedded in the binary,
# serves the real server's table.
expect deb-l3dsr-control "control: want Depends: iptables (not l3dsr-dkms), Recommends: l3dsr-dkms, version $VERSION" \
	bash -c "dpkg-deb -f $DEB_CLI Depends | grep -q iptables && ! dpkg-deb -f $DEB_CLI Pre-Depends Depends | grep -q l3dsr-dkms &&
		[[ \$(dpkg-deb -f $DEB_CLI Recommends) == l3dsr-dkms ]] && grep -q '^ Version: $VERSION-' $work/deb-cli.info"
apt-get install -s --no-install-recommends "$DEB_CLI" >"$work/deb-cli.sim" 2>&1
expect deb-l3dsr-without-dkms "apt-get -s install of the l3dsr .deb alone: want it installable without l3dsr-dkms, got: $(grep -E 'Inst|Depends|E:' "$work/deb-cli.sim" | head -3 | tr '\n' ' ')" \
	bash -c "grep -q '^Inst l3dsr ' $work/deb-cli.sim && ! grep -q '^Inst l3dsr-dkms ' $work/deb-cli.sim"
# The config is a conffile (kept on upgrade and removal), the unit is enabled by postinst.
dpkg-deb --ctrl-tarfile "$DEB_CLI" | tar -xO ./conffiles ./postinst ./prerm ./postrm >"$work/deb-cli.ctrl" 2>/dev/null
expect deb-l3dsr-conffile-scripts "want conffile /etc/l3dsr/l3dsr.conf and postinst/prerm/postrm with deb-systemd-helper enable, disable, purge" \
	bash -c "grep -qx /etc/l3dsr/l3dsr.conf $work/deb-cli.ctrl && grep -q 'deb-systemd-helper enable' $work/deb-cli.ctrl &&
		grep -q 'disable --now' $work/deb-cli.ctrl && grep -q 'deb-systemd-helper purge' $work/deb-cli.ctrl"

# --- inspect the .rpms
rpm -qpl "$RPM_DKMS" >"$work/rpm-dkms.list" 2>/dev/null
rpm -qpl "$RPM_CLI" >"$work/rpm-cli.list" 2>/dev/null
m=$(missing_of "$work/rpm-dkms.list" "${dkms_files[@]}")
[[ -z $m ]] && pass rpm-dkms-files || fail rpm-dkms-files "$m"
m=$(missing_of "$work/rpm-cli.list" "${rpm_cli_files[@]}")
[[ -z $m ]] && pass rpm-l3dsr-files || fail rpm-l3dsr-files "$m"
rpm -qp --scripts "$RPM_DKMS" >"$work/rpm-dkms.scripts" 2>/dev/null
expect rpm-dkms-scripts "want a preuninstall running dkms remove --all and a posttrans running dkms add + install -k, for $VERSION" \
	bash -c "sed -n '/^preuninstall scriptlet/,/^posttrans scriptlet/p' $work/rpm-dkms.scripts | grep -q 'dkms remove .*--all' &&
		awk '/^posttrans scriptlet/,0' $work/rpm-dkms.scripts | grep -q 'dkms install .*-k ' &&
		awk '/^posttrans scriptlet/,0' $work/rpm-dkms.scripts | grep -q 'dkms add ' &&
		grep -q '^VERSION=$VERSION\$' $work/rpm-dkms.scripts && ! grep -q '^postinstall scriptlet' $work/rpm-dkms.scripts"
expect rpm-deps "want l3dsr-dkms Requires dkms; l3dsr Requires iptables (not l3dsr-dkms) and Recommends l3dsr-dkms" \
	bash -c "rpm -qpR $RPM_DKMS | grep -qx dkms && rpm -qpR $RPM_CLI | grep -qx iptables && ! rpm -qpR $RPM_CLI | grep -q l3dsr-dkms &&
		[[ \$(rpm -qp --recommends $RPM_CLI) == l3dsr-dkms ]]"
rpm -qp --scripts "$RPM_CLI" >"$work/rpm-cli.scripts" 2>/dev/null
expect rpm-l3dsr-scripts "want %post with systemctl preset, %preun with disable --now, %postun with daemon-reload" \
	bash -c "awk '/^postinstall scriptlet/,/^preuninstall scriptlet/' $work/rpm-cli.scripts | grep -q 'systemctl --no-reload preset' &&
		awk '/^preuninstall scriptlet/,/^postuninstall scriptlet/' $work/rpm-cli.scripts | grep -q 'disable --now' &&
		awk '/^postuninstall scriptlet/,0' $work/rpm-cli.scripts | grep -q 'daemon-reload'"
expect rpm-l3dsr-config "want /etc/l3dsr/l3dsr.conf as %config(noreplace)" \
	bash -c "rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' $RPM_CLI | grep -qE '^/etc/l3dsr/l3dsr.conf [a-z]*c[a-z]*n'"

# Scratch root: Debian's rpm refuses to install unless told --force-debian, and
# its default database is ~/.rpmdb: name the EL one (inside the root).
root=$work/rpmroot
mkdir -p "$root"
force=(--dbpath /var/lib/rpm); rpm --help 2>&1 | grep -q -- --force-debian && force+=(--force-debian)
if rpm -i --nodeps --noscripts "${force[@]}" --root "$root" "$RPM_DKMS" "$RPM_CLI" >"$work/rpm-i.log" 2>&1; then
	rpm --root "$root" --dbpath /var/lib/rpm -qa 2>/dev/null | sort >"$work/rpm-qa"
	(cd "$root" && find . ! -path './var/lib/rpm/*' \( -type f -o -type l \) | sed 's|^\.||' | sort) >"$work/rpm-root.files"
	cat "$work/rpm-dkms.list" "$work/rpm-cli.list" | while read -r f; do [[ -d $root$f ]] || echo "$f"; done | sort >"$work/rpm-want.files"
	if ! grep -q "^l3dsr-$VERSION-" "$work/rpm-qa" || ! grep -q "^l3dsr-dkms-$VERSION-" "$work/rpm-qa"; then
		fail rpm-scratch-root "rpm --root -qa lists: $(tr '\n' ' ' <"$work/rpm-qa")"
	elif ! diff -q "$work/rpm-want.files" "$work/rpm-root.files" >/dev/null; then
		fail rpm-scratch-root "files in the root differ from rpm -qpl: $(diff "$work/rpm-want.files" "$work/rpm-root.files" | grep '^[<>]' | head -3 | tr '\n' ' ')"
	elif [[ ! -x $root/usr/bin/l3dsr || ! -f $root/usr/lib64/xtables/libxt_DADDR.so ]]; then
		fail rpm-scratch-root "l3dsr binary or libxt_DADDR.so missing or not executable in the root"
	else
		pass rpm-scratch-root
	fi
else
	fail rpm-scratch-root "rpm -i --root failed: $(tail -2 "$work/rpm-i.log" | tr '\n' ' ')"
fi

# --- install the .debs on the host
# Which directories existed before: after the purge, the ones the packages
# created must be gone, the shared ones (e.g. /usr/share/man/man1) stay.
cat "$work/deb-dkms.list" "$work/deb-cli.list" | grep -v '^$' | sort -u >"$work/deb-all.list"
while read -r p; do [[ -d $p ]] && echo "$p"; done <"$work/deb-all.list" >"$work/dirs-before"

if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$DEB_DKMS" "$DEB_CLI" >"$work/install.log" 2>&1; then
	pass deb-install
else
	fail deb-install "apt-get install failed: $(grep -iE 'error|fail' "$work/install.log" | tail -3 | tr '\n' ' ')"
fi
grep -q 'FAILED for' "$work/install.log" && fail deb-install-dkms-log "postinst: $(grep 'FAILED for' "$work/install.log")"

for k in "${KERNELS[@]}"; do
	st=$(dkms status -m l3dsr -v "$VERSION" -k "$k" 2>/dev/null)
	if grep -q "^l3dsr/$VERSION, $k, x86_64: installed" <<<"$st"; then pass "dkms-status-$k"
	else fail "dkms-status-$k" "want 'l3dsr/$VERSION, $k, x86_64: installed', dkms status says: '${st:-nothing}'"; fi
	ver=$(modinfo -k "$k" -F version xt_DADDR 2>/dev/null)
	[[ $ver == "$VERSION" ]] && pass "modinfo-version-$k" || fail "modinfo-version-$k" "want $VERSION, modinfo says '$ver'"
	fn=$(modinfo -k "$k" -F filename xt_DADDR 2>/dev/null)
	if [[ ($fn == "/lib/modules/$k/updates/dkms/xt_DADDR.ko"* || $fn == "/lib/modules/$k/extra/xt_DADDR.ko"*) && -f $fn ]]; then pass "modinfo-path-$k"
	else fail "modinfo-path-$k" "want /lib/modules/$k/updates/dkms/xt_DADDR.ko (or extra/), modinfo says '$fn'"; fi
	signer=$(modinfo -k "$k" -F signer xt_DADDR 2>/dev/null)
	[[ $signer == "$TEST_CN" ]] && pass "modinfo-signer-$k" || fail "modinfo-signer-$k" "want signer '$TEST_CN' (the test MOK key), modinfo says '$signer'"
done

out=$(l3dsr version 2>&1)
[[ $out == "l3dsr $VERSION" ]] && pass l3dsr-version || fail l3dsr-version "want 'l3dsr $VERSION', got '$out'"
xtlib=$(pkg-config --variable=xtlibdir xtables 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/xtables)
expect xtables-so "no $xtlib/libxt_DADDR.so" test -f "$xtlib/libxt_DADDR.so"
for ipt in iptables ip6tables; do
	out=$($ipt -j DADDR --help 2>&1)
	grep -q -- '--set-daddr' <<<"$out" && pass "$ipt-help" || fail "$ipt-help" "'$ipt -j DADDR --help' shows no --set-daddr: $(tail -1 <<<"$out")"
done
expect bash-completion "the bash completion does not register for l3dsr" \
	bash -c 'source /usr/share/bash-completion/completions/l3dsr && complete -p l3dsr'
# The installed unit: systemd accepts it (binary, man page, directives), and postinst enabled it.
if command -v systemd-analyze >/dev/null; then
	for u in l3dsr l3dsr-agent; do
		out=$(systemd-analyze verify /lib/systemd/system/$u.service 2>&1)
		[[ $? == 0 && -z $out ]] && pass systemd-verify-$u || fail systemd-verify-$u "systemd-analyze verify: $(tr '\n' ' ' <<<"$out")"
	done
else
	fail systemd-verify "systemd-analyze is not installed on this host (package systemd)"
fi
expect systemd-enabled "postinst did not enable l3dsr.service (no multi-user.target.wants link)" \
	test -L /etc/systemd/system/multi-user.target.wants/l3dsr.service
expect man-page "l3dsr.1.gz is not a man page for l3dsr" \
	bash -c "zcat /usr/share/man/man1/l3dsr.1.gz | grep -q '^\.TH \"L3DSR\" \"1\"'"

# --- the installed packages in the VM (tests/pkg/scenarios/installed.sh): the guest sees this
# host's root, so the DKMS module, /usr/bin/l3dsr, the unit and the extension are the installed
# ones (USE_INSTALLED there keeps the bench from installing the build tree's). One pkgtest line
# per case: vm-installed-KREL/CASE. A build folder of its own: no build-tree artifact can reach
# the guest, and the run does not queue behind other runs of the bench.
for k in "${KERNELS[@]}"; do
	rc=0
	L3DSR_BUILD=$top/build/pkgtest-vm L3DSR_SCENARIO_DIR=$top/tests/pkg/scenarios L3DSR_VM_TIMEOUT_PER_SCENARIO=600 \
		"$top/tests/vm/run.sh" -k "$k" -s installed >"$work/vm-$k.log" 2>&1 || rc=$?
	seen=0
	while IFS= read -r line; do
		case $line in
		"PASS $k "*)
			line=${line#"PASS $k "}
			pass "vm-installed-$k/${line#installed/}"
			seen=$((seen + 1))
			;;
		"FAIL $k "*)
			line=${line#"FAIL $k "}
			name=${line%%: *}
			fail "vm-installed-$k/${name#installed/}" "${line#*: }"
			seen=$((seen + 1))
			;;
		esac
	done <"$work/vm-$k.log"
	if ((seen == 0)); then
		fail "vm-installed-$k" "tests/vm/run.sh reported nothing (exit $rc): $(tail -n 3 "$work/vm-$k.log" | tr '\n' ' ')"
	elif ((rc != 0)) && ! grep -q "^FAIL $k " "$work/vm-$k.log"; then
		fail "vm-installed-$k" "tests/vm/run.sh exited $rc without a FAIL line (see build/pkgtest/vm-$k.log)"
	fi
done

# --- reinstall over itself (the upgrade path: old prerm removes, new postinst rebuilds)
k0=${KERNELS[0]}
fn0=$(modinfo -k "$k0" -F filename xt_DADDR 2>/dev/null)
t0=$(stat -c %Y.%i "$fn0" 2>/dev/null)
if DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB_DKMS" >"$work/reinstall.log" 2>&1 &&
	grep -q 'Building module' "$work/reinstall.log"; then
	ok=1
	for k in "${KERNELS[@]}"; do
		dkms status -m l3dsr -v "$VERSION" -k "$k" 2>/dev/null | grep -q ': installed' || ok=
	done
	t1=$(stat -c %Y.%i "$(modinfo -k "$k0" -F filename xt_DADDR 2>/dev/null)" 2>/dev/null)
	if [[ -n $ok && -n $t1 && $t1 != "$t0" ]]; then pass deb-upgrade-rebuilds
	else fail deb-upgrade-rebuilds "after dpkg -i over the installed package: not rebuilt+installed for every kernel (dkms: $(dkms status l3dsr | tr '\n' ' '))"; fi
else
	fail deb-upgrade-rebuilds "dpkg -i over the installed package failed or built nothing: $(tail -2 "$work/reinstall.log" | tr '\n' ' ')"
fi

# --- a real upgrade: an l3dsr-dkms with a higher version, built from the same staging tree
# (module source, dkms.conf and maintainer scripts with the version replaced) by the same nfpm,
# installed over the current one: DKMS must end with only the new version, built and installed
# for every kernel, and the module on disk must carry it.
up=$work/upgrade
nfpm_version=$(sed -n 's/^NFPM_VERSION *?= *//p' "$top/Makefile")
mkdir -p "$up/out"
if cp -a "$PKGDIR/stage/dkms" "$PKGDIR/stage/scripts" "$up/" &&
	mv "$up/dkms/usr/src/l3dsr-$VERSION" "$up/dkms/usr/src/l3dsr-$UPVERSION" &&
	echo "$UPVERSION" >"$up/dkms/usr/src/l3dsr-$UPVERSION/VERSION" &&
	sed -i "s/^PACKAGE_VERSION=\"$VERSION\"\$/PACKAGE_VERSION=\"$UPVERSION\"/" "$up/dkms/usr/src/l3dsr-$UPVERSION/dkms.conf" &&
	sed -i "s/^VERSION=$VERSION\$/VERSION=$UPVERSION/" "$up"/scripts/dkms-*.sh &&
	grep -qx "PACKAGE_VERSION=\"$UPVERSION\"" "$up/dkms/usr/src/l3dsr-$UPVERSION/dkms.conf" &&
	(cd "$up" && VERSION=$UPVERSION /usr/local/go/bin/go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$nfpm_version" \
		package -f "$top/packaging/nfpm-l3dsr-dkms.yaml" -p deb -t "$up/out/") >"$work/upgrade-build.log" 2>&1 &&
	DEB_UP=$(compgen -G "$up/out/l3dsr-dkms_$UPVERSION-*_all.deb") && [[ -n $DEB_UP ]]; then
	pass deb-upgrade-build
else
	fail deb-upgrade-build "could not build l3dsr-dkms $UPVERSION: $(tail -n 3 "$work/upgrade-build.log" 2>/dev/null | tr '\n' ' ')"
	DEB_UP=
fi
if [[ -n $DEB_UP ]]; then
	if DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB_UP" >"$work/upgrade.log" 2>&1; then
		pass deb-upgrade-install
	else
		fail deb-upgrade-install "dpkg -i $DEB_UP: $(tail -n 3 "$work/upgrade.log" | tr '\n' ' ')"
	fi
	grep -q 'FAILED for' "$work/upgrade.log" && fail deb-upgrade-dkms-log "postinst: $(grep 'FAILED for' "$work/upgrade.log")"
	ver=$(dpkg-query -W -f='${Version}' l3dsr-dkms 2>/dev/null)
	[[ $ver == "$UPVERSION-"* ]] && pass deb-upgrade-version || fail deb-upgrade-version "dpkg: want l3dsr-dkms $UPVERSION-*, got '$ver'"
	for k in "${KERNELS[@]}"; do
		st=$(dkms status -m l3dsr -k "$k" 2>/dev/null)
		if grep -qx "l3dsr/$UPVERSION, $k, x86_64: installed" <<<"$st" && ! grep -q "^l3dsr/$VERSION," <<<"$st"; then
			pass "deb-upgrade-dkms-status-$k"
		else
			fail "deb-upgrade-dkms-status-$k" "want only 'l3dsr/$UPVERSION, $k, x86_64: installed', dkms status says: '$(tr '\n' ' ' <<<"${st:-nothing}")'"
		fi
		# DKMS compresses the module like the kernel's own (xt_DADDR.ko.xz on 6.12).
		ko=$(compgen -G "/lib/modules/$k/updates/dkms/xt_DADDR.ko*" | head -n 1)
		ver=$(modinfo -F version "${ko:-/lib/modules/$k/updates/dkms/xt_DADDR.ko}" 2>&1)
		[[ $ver == "$UPVERSION" ]] && pass "deb-upgrade-modinfo-$k" ||
			fail "deb-upgrade-modinfo-$k" "modinfo -F version /lib/modules/$k/updates/dkms/xt_DADDR.ko*: want $UPVERSION, got '$ver'"
	done
	left=$(ls -d /usr/src/l3dsr-"$VERSION" /var/lib/dkms/l3dsr/"$VERSION" 2>/dev/null)
	[[ -z $left ]] && pass deb-upgrade-old-gone || fail deb-upgrade-old-gone "the old version is left: $(tr '\n' ' ' <<<"$left")"
fi

# --- purge and check that nothing is left
dpkg -L l3dsr l3dsr-dkms 2>/dev/null | grep '^/' | sort -u >"$work/dpkg-L"
if DEBIAN_FRONTEND=noninteractive apt-get purge -y l3dsr l3dsr-dkms >"$work/purge.log" 2>&1; then pass deb-purge
else fail deb-purge "apt-get purge failed: $(tail -2 "$work/purge.log" | tr '\n' ' ')"; fi

left=$(find /lib/modules/*/updates /lib/modules/*/extra -name 'xt_DADDR.ko*' 2>/dev/null)
[[ -z $left ]] && pass purge-no-module || fail purge-no-module "left: $(tr '\n' ' ' <<<"$left")"
for k in "${KERNELS[@]}"; do
	expect "purge-modinfo-$k" "modinfo -k $k still finds xt_DADDR (modules.dep not updated)" \
		bash -c "! modinfo -k $k xt_DADDR"
done
expect purge-unit-disabled "the enablement link of l3dsr.service is left after the purge" \
	test ! -e /etc/systemd/system/multi-user.target.wants/l3dsr.service -a ! -L /etc/systemd/system/multi-user.target.wants/l3dsr.service
left=$(compgen -G '/usr/src/l3dsr-*')
[[ -z $left ]] && pass purge-no-source || fail purge-no-source "left: $left"
st=$(dkms status 2>/dev/null | grep '^l3dsr' )
[[ -z $st && ! -e /var/lib/dkms/l3dsr ]] && pass purge-dkms-status || fail purge-dkms-status "dkms status: '${st}', /var/lib/dkms/l3dsr: $(ls -d /var/lib/dkms/l3dsr 2>&1)"
left=$(while read -r p; do
	[[ $p == /etc/* ]] && continue
	if [[ -d $p ]]; then grep -qxF "$p" "$work/dirs-before" || echo "$p"
	elif [[ -e $p || -L $p ]]; then echo "$p"; fi
done <"$work/dpkg-L")
if [[ ! -s $work/dpkg-L ]]; then fail purge-no-files "dpkg -L listed nothing before the purge"
elif [[ -n $left ]]; then fail purge-no-files "left outside /etc: $(head -5 <<<"$left" | tr '\n' ' ')"
else pass purge-no-files; fi

# The host's package set is what it was (apt pulled in nothing that stayed).
dpkg-query -W -f='${Package} ${Status}\n' | awk '$NF == "installed" {print $1}' | sort >"$work/pkgs-after"
extra=$(comm -13 "$pkgs_before" "$work/pkgs-after" | tr '\n' ' ')
[[ -z $extra ]] && pass host-packages-unchanged || fail host-packages-unchanged "newly installed: $extra"

# The MOK key pair goes back now (the trap does it again, harmlessly).
restore_mok
if [[ -n $mok_saved ]]; then
	expect mok-restored "the host's $MOKDIR/mok.key/mok.pub were not restored" \
		bash -c "cmp -s $work/mok/mok.key $MOKDIR/mok.key && cmp -s $work/mok/mok.pub $MOKDIR/mok.pub"
else
	expect mok-restored "the test key is still in $MOKDIR" bash -c "[ ! -e $MOKDIR/mok.key ] && [ ! -e $MOKDIR/mok.pub ]"
fi

echo "$npass passed, $nfail failed"
((nfail == 0))
