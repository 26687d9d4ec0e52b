#!/usr/bin/env bash
# scripts/deps.sh and scripts/kernels.sh against a stubbed apt: no root, no network, seconds.
#
# apt-cache, apt-get, dpkg-query, sudo and id are replaced on PATH by small scripts over a
# canned archive (tests/deps/archive/STATE/{offered,depends}). Two states matter: the one the
# machine's package lists hold ($STUB/view) and the one the archive serves now ($STUB/now).
# `apt-get update` copies now into view; `apt-get install` refuses a package the lists do not
# know ("Unable to locate") or the archive no longer serves ("404 Not Found"), as apt does.
# Every case asserts the exact packages installed, how often apt-get update ran, the exit code
# and the error text. Run by `make test` before anything slow (make test-deps).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
archive=$here/archive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}
expect_eq() { # CASE WHAT GOT WANT
	if [[ "$3" == "$4" ]]; then pass "$1: $2"; else fail "$1: $2" "want '$4', got '$3'"; fi
}
expect_has() { # CASE WHAT TEXT NEEDLE
	if [[ "$3" == *"$4"* ]]; then pass "$1: $2"; else fail "$1: $2" "want text containing '$4', got '$3'"; fi
}

# The packages every set needs but the kernels: all installed, except the two below, so that a
# case shows what deps.sh adds without a list of thirty names.
base_installed=(make gcc libc6-dev pkg-config libxtables-dev kmod clang llvm libbpf-dev busybox-static iproute2 iptables
	nftables ipvsadm conntrack curl socat ethtool python3 python3-scapy procps xz-utils iperf3
	gnuplot-nox dkms rpm openssl perl prometheus keepalived iputils-ping bird2)
base_missing="qemu-system-x86 tcpdump"

write_stubs() {
	local bin=$STUB/bin
	mkdir -p "$bin"
	cat >"$bin/apt-cache" <<'EOF'
#!/usr/bin/env bash
a=$STUB_ARCHIVE/$(cat "$STUB/view")
echo "apt-cache $*" >>"$STUB/log"
case "$1" in
depends)
	grep -qx "$2" "$a/offered" || { echo "E: No packages found" >&2; exit 100; }
	echo "$2"
	awk -v p="$2" '$1 == p {print "  Depends: " $2}' "$a/depends"
	;;
show)
	grep -qx "$2" "$a/offered" || grep -qx "$2" "$STUB/installed" ||
		{ echo "E: No packages found" >&2; exit 100; }
	echo "Package: $2"
	;;
*) echo "apt-cache stub: unexpected '$*'" >&2; exit 99 ;;
esac
EOF
	cat >"$bin/apt-get" <<'EOF'
#!/usr/bin/env bash
echo "apt-get $*" >>"$STUB/log"
case "$1" in
update)
	if [[ -f $STUB/unreachable ]]; then
		echo "Err:1 http://archive.invalid/debian bookworm InRelease"
		echo "  Temporary failure resolving 'archive.invalid'"
		echo "W: Failed to fetch http://archive.invalid/debian/dists/bookworm/InRelease  Temporary failure resolving 'archive.invalid'"
		echo "W: Some index files failed to download. They have been ignored, or old ones used instead."
		exit 0
	fi
	cp "$STUB/now" "$STUB/view"
	;;
install)
	shift
	pkgs=()
	for p in "$@"; do [[ $p == -* ]] || pkgs+=("$p"); done
	for p in "${pkgs[@]}"; do
		grep -qx "$p" "$STUB_ARCHIVE/$(cat "$STUB/view")/offered" ||
			{ echo "E: Unable to locate package $p" >&2; exit 100; }
	done
	for p in "${pkgs[@]}"; do
		grep -qx "$p" "$STUB_ARCHIVE/$(cat "$STUB/now")/offered" ||
			{ echo "E: Failed to fetch http://archive.invalid/debian/pool/main/$p.deb  404  Not Found" >&2; exit 100; }
	done
	printf '%s\n' "${pkgs[@]}" >>"$STUB/installed"
	echo "${pkgs[*]}" >>"$STUB/installs"
	;;
*) echo "apt-get stub: unexpected '$*'" >&2; exit 99 ;;
esac
EOF
	cat >"$bin/dpkg-query" <<'EOF'
#!/usr/bin/env bash
p=${!#}
grep -qx "$p" "$STUB/installed" || { echo "dpkg-query: no packages found matching $p" >&2; exit 1; }
printf 'install ok installed'
EOF
	# Not root: everything that needs root goes through sudo, as on a developer's machine.
	cat >"$bin/id" <<'EOF'
#!/usr/bin/env bash
[[ "$*" == "-u" ]] && { echo 1000; exit 0; }
exec /usr/bin/id "$@"
EOF
	cat >"$bin/sudo" <<'EOF'
#!/usr/bin/env bash
echo "sudo $1" >>"$STUB/log"
exec "$@"
EOF
	chmod +x "$bin"/*
}

# new_case VIEW NOW [STAMP_AGE]: lists as VIEW, archive serving NOW; STAMP_AGE is how long ago
# the lists were refreshed (a `touch -d` phrase), none when empty.
new_case() {
	STUB=$work/$1-$2-$RANDOM
	mkdir -p "$STUB"
	echo "$1" >"$STUB/view"
	echo "$2" >"$STUB/now"
	printf '%s\n' "${base_installed[@]}" >"$STUB/installed"
	: >"$STUB/log"
	: >"$STUB/installs"
	write_stubs
	if [[ -n "${3:-}" ]]; then touch -d "$3" "$STUB/stamp"; fi
}

# run_deps SET [ENV...]: runs deps.sh; sets rc, out (stderr and stdout), installs, updates
run_deps() {
	local set=$1
	shift
	out=$(env -u L3DSR_KERNELS PATH="$STUB/bin:$PATH" STUB="$STUB" STUB_ARCHIVE="$archive" \
		L3DSR_APT_STAMP="$STUB/stamp" L3DSR_APT_MAX_AGE=86400 "$@" \
		"$top/scripts/deps.sh" "$set" 2>&1)
	rc=$?
	installs=$(paste -sd'|' "$STUB/installs")
	updates=$(grep -c '^apt-get update' "$STUB/log")
}

k61old="linux-headers-6.1.0-48-amd64 linux-image-6.1.0-48-amd64-unsigned"
k61="linux-headers-6.1.0-57-amd64 linux-image-6.1.0-57-amd64-unsigned"
k61new="linux-headers-6.1.0-58-amd64 linux-image-6.1.0-58-amd64-unsigned"
k612="linux-headers-6.12.118+deb12-amd64 linux-image-6.12.118+deb12-amd64-unsigned"

# 1. The machine of the bug report: months-old lists that offer a 6.1 patch level the archive
# has dropped, and no 6.12 metapackage at all. Never ask for 6.1.0-48; refresh once.
c=stale-no-6.12
new_case stale fresh
run_deps all
expect_eq $c "exit" "$rc" 0
expect_eq $c "apt-get update runs once" "$updates" 1
expect_eq $c "installs the archive's kernels, nothing the lists had" "$installs" "$base_missing $k61 $k612"
expect_eq $c "no dropped patch level asked for" "$(grep -c '^apt-get.*6\.1\.0-48' "$STUB/log")" 0
expect_eq $c "update as root through sudo" "$(grep -c '^sudo apt-get' "$STUB/log")" 1
expect_eq $c "install as root through sudo" "$(grep -c '^sudo env' "$STUB/log")" 1

# 2. Old lists that do name both metapackages, at old patch levels: they resolve without error,
# and are still not to be installed from.
c=stale-both-metas
new_case stale2 fresh "3 days ago"
run_deps vm
expect_eq $c "exit" "$rc" 0
expect_eq $c "apt-get update runs once" "$updates" 1
expect_eq $c "installs the archive's kernels" "$installs" "$base_missing $k61 $k612"

# 3. Fresh lists (refreshed an hour ago): no second refresh.
c=fresh
new_case fresh fresh "1 hour ago"
run_deps all
expect_eq $c "exit" "$rc" 0
expect_eq $c "no apt-get update" "$updates" 0
expect_eq $c "installs" "$installs" "$base_missing $k61 $k612"

# 4. The archive cannot be reached and the lists are old: one clear error, nothing installed.
c=unreachable
new_case stale fresh
touch "$STUB/unreachable"
run_deps all
expect_eq $c "exit" "$rc" 1
expect_eq $c "nothing installed" "$installs" ""
expect_has $c "says what failed" "$out" "deps.sh: could not refresh the package lists ('apt-get update' failed"
expect_has $c "names the fix" "$out" "run 'apt-get update' as root; or set L3DSR_KERNELS"
expect_has $c "shows apt's reason" "$out" "apt-get update: W: Failed to fetch"

# 5. The same unreachable archive, but everything the old lists name is installed: nothing to
# fetch, so no refresh and no error (a developer offline).
c=offline-installed
new_case stale fresh
touch "$STUB/unreachable"
printf '%s\n' $base_missing $k61old >>"$STUB/installed"
run_deps all L3DSR_KERNELS=6.1.0-48-amd64
expect_eq $c "exit" "$rc" 0
expect_eq $c "no apt-get update" "$updates" 0
expect_eq $c "nothing installed" "$installs" ""

# 6. L3DSR_KERNELS chooses the kernels: no metapackage is looked at.
c=L3DSR_KERNELS
new_case fresh fresh "1 hour ago"
run_deps vm L3DSR_KERNELS="6.1.0-57-amd64"
expect_eq $c "exit" "$rc" 0
expect_eq $c "installs only that kernel" "$installs" "$base_missing $k61"
expect_eq $c "no metapackage resolved" "$(grep -c '^apt-cache depends' "$STUB/log")" 0

# 7. The archive has no 6.12 metapackage even after a refresh (sources without bookworm-security).
c=no-security-suite
new_case stale stale
run_deps all
expect_eq $c "exit" "$rc" 1
expect_eq $c "nothing installed" "$installs" ""
expect_has $c "names the missing metapackage" "$out" "deps.sh: the package lists have no linux-image-6.12-amd64 (the 6.12 kernel from suite bookworm-security)"
expect_has $c "names the fix" "$out" "check that apt's sources have the suites bookworm and bookworm-security"
expect_has $c "says the lists were refreshed" "$out" "(after 'apt-get update')"
expect_eq $c "apt-get update runs once" "$updates" 1

# 8. Lists refreshed an hour ago, and the archive has dropped that patch level since: the
# install fails once, the lists are refreshed and the newer kernel installed.
c=dropped-since
new_case fresh fresher "1 hour ago"
run_deps all
expect_eq $c "exit" "$rc" 0
expect_eq $c "apt-get update runs once" "$updates" 1
expect_eq $c "installs the newer kernel" "$(tail -n1 "$STUB/installs")" "$base_missing $k61new $k612"

# 9. The build set needs headers only; checkpatch needs no kernel at all.
c=build
new_case stale fresh
run_deps build
expect_eq $c "exit" "$rc" 0
expect_eq $c "headers only" "$installs" "linux-headers-6.1.0-57-amd64 linux-headers-6.12.118+deb12-amd64"
c=checkpatch
new_case stale fresh "2 months ago"
run_deps checkpatch
expect_eq $c "exit" "$rc" 0
expect_eq $c "apt-get update runs once" "$updates" 1
expect_eq $c "installs linux-source only" "$installs" "linux-source-6.1"
expect_eq $c "no kernel resolved" "$(grep -c '^apt-cache depends' "$STUB/log")" 0

# 10. kernels.sh alone prints all or nothing: on stale lists the 6.1 line must not escape.
c=kernels.sh
new_case stale fresh
kout=$(env -u L3DSR_KERNELS PATH="$STUB/bin:$PATH" STUB="$STUB" STUB_ARCHIVE="$archive" \
	"$top/scripts/kernels.sh" 2>/dev/null)
expect_eq $c "exit" "$?" 1
expect_eq $c "prints no release on failure" "$kout" ""
new_case fresh fresh
kout=$(env -u L3DSR_KERNELS PATH="$STUB/bin:$PATH" STUB="$STUB" STUB_ARCHIVE="$archive" \
	"$top/scripts/kernels.sh" | paste -sd' ')
expect_eq $c "fresh lists" "$kout" "6.1.0-57-amd64 6.12.118+deb12-amd64"

# 11. An unknown set is a usage error.
c=usage
new_case fresh fresh
run_deps nosuchset
expect_eq $c "exit" "$rc" 2
expect_has $c "error" "$out" "deps.sh: unknown set 'nosuchset'"

echo "deps: $passed passed, $failed failed"
((failed == 0))
