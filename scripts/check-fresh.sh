#!/usr/bin/env bash
# make check-fresh: the setup package install on a pristine Debian 12, and every listed command there.
#
# 1. debootstrap --variant=minbase bookworm into a scratch dir (its tarball is cached in
#    $PPPSSH_FRESH_DIR, default /var/tmp/pppssh-fresh; --no-cache makes a new one);
# 2. scripts/install-host-packages.sh inside it, twice: the second run must install nothing;
# 3. every command of host-packages.txt and host-baseline.txt must resolve there, from the
#    package the list names (python3 -m host_commands.resolve, inside the chroot).
# Needs root, debootstrap and Debian's mirror (PPPSSH_DEBIAN_MIRROR). About 3-5 minutes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache_dir=${PPPSSH_FRESH_DIR:-/var/tmp/pppssh-fresh}
mirror=${PPPSSH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball=$cache_dir/bookworm-minbase.tar
say() { echo "check-fresh: $*"; }
((EUID == 0)) || { say "needs root: sudo make check-fresh" >&2; exit 1; }
[[ ${1:-} != --no-cache ]] || rm -f "$tarball"

mkdir -p "$cache_dir"
root=$(mktemp -d "$cache_dir/root.XXXXXX")
cleanup() {
    for m in proc dev/pts; do
        if mountpoint -q "$root/$m"; then umount -l "$root/$m"; fi
    done
    rm -rf "$root"
}
trap cleanup EXIT
begin=$SECONDS

if [[ -s $tarball ]]; then
    tar -C "$root" -xf "$tarball"
    say "pristine bookworm minbase from the cached $tarball"
else
    say "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
        { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
    rm -f "$root.log"
    rm -rf "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -cf "$tarball.tmp" . && mv -f "$tarball.tmp" "$tarball"
    say "debootstrap took $((SECONDS - begin)) s (cached as $tarball)"
fi

mount -t proc proc "$root/proc"
mount -t devpts devpts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Package scripts must not start daemons (dockerd) inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/tmp/pppssh"
cp -r "$repo/scripts/install-host-packages.sh" "$repo/scripts/host-packages.txt" \
    "$repo/scripts/host-baseline.txt" "$repo/scripts/host_commands" "$root/tmp/pppssh/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

step=$SECONDS
first=$(in_root bash /tmp/pppssh/install-host-packages.sh /tmp/pppssh/host-packages.txt)
say "first install: ${first:-nothing installed} ($((SECONDS - step)) s)"
second=$(in_root bash /tmp/pppssh/install-host-packages.sh /tmp/pppssh/host-packages.txt)
if [[ -n $second ]]; then
    say "FAILED: a second install still changed something: $second" >&2
    exit 1
fi
say "second install: nothing to do"

if ! in_root sh -c 'cd /tmp/pppssh && python3 -m host_commands.resolve host-packages.txt host-baseline.txt' |
    sed 's/^/check-fresh: /'; then
    say "FAILED after $((SECONDS - begin)) s" >&2
    exit 1
fi
say "passed in $((SECONDS - begin)) s"
