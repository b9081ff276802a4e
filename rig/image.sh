#!/usr/bin/env bash
# image.sh [--release R]: build the shared read-only root of every guest of a
# Debian release ($RIG_DIR/image.ext4 for bookworm, image-R.ext4 for others),
# plus, beside it, that release's own kernel (linux-image-amd64: .vmlinux, its
# modules inside the image) and a busybox initramfs (.initrd) for --kernel debian.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SUITE=${RIG_RELEASES[0]}
while (($#)); do
    case $1 in
    --release) SUITE=${2:?--release needs a value}; shift 2 ;;
    *) die "usage: image.sh [--release ${RIG_RELEASES[*]// /|}]" ;;
    esac
done
RIG_IMAGE=$(image_of "$SUITE")
stem=${RIG_IMAGE%.ext4}
MIRROR=${PPPSSH_RIG_MIRROR:-http://deb.debian.org/debian}
SIZE=2G
# What the initramfs loads to reach the root (virtio and ext4 are modules in
# Debian's kernel), plus the NIC; everything else autoloads from the root.
INITRD_MODULES=(virtio_pci virtio_blk virtio_net ext4 crc32c_generic)

need_root
need debootstrap chroot mkfs.ext4 ssh-keygen sha256sum mountpoint flock busybox cpio gzip xz zstd
mkdir -p "$RIG_DIR"

build_lock image

if [[ ! -s $RIG_KEY ]]; then
    log "generating admin key $RIG_KEY"
    rm -f "$RIG_KEY" "$RIG_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C pppssh-rig-admin -f "$RIG_KEY"
fi

stamp=$( (echo "$SUITE"; cat "$0" "$RIG_SRC/packages.txt" "$RIG_SRC"/guest/* "$RIG_KEY.pub") |
    sha256sum | cut -d' ' -f1)
if [[ -s $RIG_IMAGE && -s $stem.vmlinux && -s $stem.initrd &&
    $(cat "$RIG_IMAGE.stamp" 2>/dev/null) == "$stamp" ]]; then
    log "image $RIG_IMAGE is up to date"
    exit 0
fi

# vmlinux BZIMAGE: print the kernel ELF inside an x86 bzImage (its payload, at
# setup_sects and payload_offset/_length of the setup header; xz and zstd
# payloads carry 4 bytes of size after the data).
vmlinux() {
    local sects off len
    sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$1") off=$(od -An -tu4 -j $((0x248)) -N4 "$1")
    len=$(od -An -tu4 -j $((0x24c)) -N4 "$1")
    off=$(((sects + 1) * 512 + off))
    payload() { dd if="$1" iflag=skip_bytes,count_bytes skip="$off" count="$2" bs=1M status=none; }
    case $(od -An -tx1 -j "$off" -N4 "$1" | tr -d ' ') in
    fd377a58) payload "$1" "$len" | xz -dc --single-stream ;;
    28b52ffd) payload "$1" $((len - 4)) | zstd -qdc ;;
    1f8b*) payload "$1" "$len" | gzip -dc ;;
    *) die "$1: unknown kernel payload format" ;;
    esac
}

t0=$(now)
tmp=$(mktemp -d "$RIG_DIR/image-build.$SUITE.XXXXXX")
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
log "packages installed after $(elapsed "$t0")s"

# The release's own kernel: the package linux-image-amd64 points at, unpacked
# (not installed: no initramfs-tools in the guest; ours is below). Its modules
# stay in the image at /lib/modules/VERSION; UML guests mount the host's UML
# modules over /lib/modules, so they never see them.
kpkg=$(chroot "$root" apt-cache depends linux-image-amd64 |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[[ -n $kpkg ]] || die "linux-image-amd64 of $SUITE names no kernel package"
chroot "$root" sh -c "cd /tmp && apt-get download -q $kpkg" >"$tmp/kernel.log" 2>&1 ||
    { tail -n 30 "$tmp/kernel.log" >&2; die "apt-get download $kpkg failed"; }
deb=$(echo "$root"/tmp/"$kpkg"_*.deb)
chroot "$root" dpkg-deb --fsys-tarfile "/tmp/${deb##*/}" |
    tar -x -C "$root" --keep-directory-symlink
rm -f "$deb"
umount "$root/proc"
kver=${kpkg#linux-image-}
[[ -d $root/lib/modules/$kver ]] || die "$kpkg has no /lib/modules/$kver"
chroot "$root" depmod -a "$kver"
# Boot it decompressed (PVH entry, Debian has CONFIG_PVH): its decompressor
# would take 5-6 s of the boot under TCG; here it takes one.
vmlinux "$root/boot/vmlinuz-$kver" >"$tmp/image.vmlinux"
[[ $(head -c 4 "$tmp/image.vmlinux" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] ||
    die "vmlinuz-$kver: no ELF kernel inside"
log "kernel $kver unpacked after $(elapsed "$t0")s"

# The initramfs: static busybox, the modules that reach the root, and an /init
# that mounts the root and switches to it (guest/initramfs-init).
ird=$tmp/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,modules}
cp "$(command -v busybox)" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
install -m 0755 "$RIG_SRC/guest/initramfs-init" "$ird/init"
: >"$ird/modules/order"
for m in "${INITRD_MODULES[@]}"; do
    chroot "$root" modprobe -S "$kver" --show-depends "$m" 2>/dev/null || true
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
    base=${ko##*/}
    case $base in
    *.ko.xz) xz -dc "$root$ko" >"$ird/modules/${base%.xz}" ;;
    *.ko.zst) zstd -qdc "$root$ko" >"$ird/modules/${base%.zst}" ;;
    *.ko) cp "$root$ko" "$ird/modules/$base" ;;
    *) die "unexpected module file $ko" ;;
    esac
    printf '%s\n' "${base%.ko*}.ko" >>"$ird/modules/order"
done
[[ -s $ird/modules/order ]] || die "no initramfs modules found for $kver"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -6 >"$tmp/image.initrd"
log "initramfs: $(tr '\n' ' ' <"$ird/modules/order")"

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
# Slow under QEMU/TCG and of no use here: trixie's first-boot ssh-keygen -A (an
# RSA key, ~19 s; pppssh-rig-setup makes the keys) and bookworm's e2scrub_reap.
ln -sf /dev/null "$root/etc/systemd/system/sshd-keygen.service"
ln -sf /dev/null "$root/etc/systemd/system/e2scrub_reap.service"
# /etc and /var are up to date with /usr: no ldconfig or catalog rebuild at
# first boot (trixie; bookworm's systemd has no such step).
if [[ -x $root/lib/systemd/systemd-update-done ]]; then
    chroot "$root" /lib/systemd/systemd-update-done
fi

printf '%s\n' 'PermitRootLogin prohibit-password' 'UseDNS no' \
    'HostKey /etc/ssh/ssh_host_ed25519_key' 'HostKey /etc/ssh/ssh_host_ecdsa_key' \
    >"$root/etc/ssh/sshd_config.d/pppssh-rig.conf"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$RIG_KEY.pub" "$root/root/.ssh/authorized_keys"
printf '/dev/ubda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"

log "mkfs.ext4 -d ($SIZE)"
mkfs.ext4 -q -F -L pppssh-rig -d "$root" "$tmp/image.ext4" "$SIZE" >/dev/null
# The stamp goes last: a build killed between the renames leaves no valid stamp.
rm -f "$RIG_IMAGE.stamp"
mv -f "$tmp/image.vmlinux" "$stem.vmlinux"
mv -f "$tmp/image.initrd" "$stem.initrd"
mv -f "$tmp/image.ext4" "$RIG_IMAGE"
printf '%s\n' "$stamp" >"$RIG_IMAGE.stamp"
log "image $RIG_IMAGE ($SUITE, kernel $kver) built in $(elapsed "$t0")s"
