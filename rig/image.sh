#!/usr/bin/env bash
# Build $RIG_DIR/image.ext4, the shared read-only root of every guest.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SUITE=bookworm
MIRROR=${PPPSSH_RIG_MIRROR:-http://deb.debian.org/debian}
SIZE=1536M

need_root
need debootstrap chroot mkfs.ext4 ssh-keygen sha256sum mountpoint flock
mkdir -p "$RIG_DIR"

# Concurrent builds (parallel test runs) would replace each other's image.
exec 9>"$RIG_DIR/image.lock"
if ! flock -n 9; then
    log "waiting for another image build in $RIG_DIR"
    flock 9
fi

# Holding the lock, any build dir left is from a killed build.
for stale in "$RIG_DIR"/image-build.*; do
    [[ -d $stale ]] || continue
    if mountpoint -q "$stale/root/proc"; then umount -l "$stale/root/proc"; fi
    rm -rf "$stale"
done

if [[ ! -s $RIG_KEY ]]; then
    log "generating admin key $RIG_KEY"
    rm -f "$RIG_KEY" "$RIG_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C pppssh-rig-admin -f "$RIG_KEY"
fi

stamp=$(cat "$0" "$RIG_SRC/packages.txt" "$RIG_SRC"/guest/* "$RIG_KEY.pub" |
    sha256sum | cut -d' ' -f1)
if [[ -s $RIG_IMAGE && $(cat "$RIG_IMAGE.stamp" 2>/dev/null) == "$stamp" ]]; then
    log "image $RIG_IMAGE is up to date"
    exit 0
fi

t0=$(now)
tmp=$(mktemp -d "$RIG_DIR/image-build.XXXXXX")
root=$tmp/root
cleanup() {
    mountpoint -q "$root/proc" && umount -l "$root/proc"
    rm -rf "$tmp"
}
trap cleanup EXIT

log "debootstrap $SUITE ($MIRROR) into $root"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 30 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
log "debootstrap done after $(elapsed "$t0")s"

mount -t proc proc "$root/proc"
# Keep package scripts from starting daemons inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mapfile -t pkgs <"$RIG_SRC/packages.txt"
log "apt-get install ${pkgs[*]}"
chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    sh -c 'apt-get update -q && apt-get install -q -y --no-install-recommends "$@" && apt-get clean' \
    sh "${pkgs[@]}" >"$tmp/apt.log" 2>&1 ||
    { tail -n 30 "$tmp/apt.log" >&2; die "apt-get in chroot failed"; }
umount "$root/proc"
log "packages installed after $(elapsed "$t0")s"

rm -f "$root/usr/sbin/policy-rc.d" "$root"/etc/ssh/ssh_host_*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
# Empty machine-id: each guest gets its own on first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
mkdir -p "$root/lib/modules"

install -m 0755 "$RIG_SRC/guest/init" "$root/sbin/pppssh-rig-init"
install -m 0755 "$RIG_SRC/guest/setup" "$root/usr/local/sbin/pppssh-rig-setup"
install -m 0644 "$RIG_SRC/guest/pppssh-rig-setup.service" "$root/etc/systemd/system/"
mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
ln -sf ../pppssh-rig-setup.service \
    "$root/etc/systemd/system/sysinit.target.wants/pppssh-rig-setup.service"
# No ttys in a rig guest: the console is a log file.
ln -sf /dev/null "$root/etc/systemd/system/getty.target"
ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"

printf 'PermitRootLogin prohibit-password\nUseDNS no\n' \
    >"$root/etc/ssh/sshd_config.d/pppssh-rig.conf"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$RIG_KEY.pub" "$root/root/.ssh/authorized_keys"
printf '/dev/ubda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"

log "mkfs.ext4 -d ($SIZE)"
mkfs.ext4 -q -F -L pppssh-rig -d "$root" "$tmp/image.ext4" "$SIZE" >/dev/null
mv -f "$tmp/image.ext4" "$RIG_IMAGE"
printf '%s\n' "$stamp" >"$RIG_IMAGE.stamp"
log "image $RIG_IMAGE built in $(elapsed "$t0")s"
