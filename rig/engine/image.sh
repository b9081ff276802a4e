#!/usr/bin/env bash
# image.sh IMAGE...: build or reuse $RIG_DIR/engine.ext4, the root of engine guests: Debian
# bookworm with Docker's engine (docker.io 20.10, legacy iptables), and the named images of
# the host's engine already loaded into its /var/lib/docker, so a guest boots with them and
# needs no registry. Reused when its stamp matches: the sha256 of rig/engine/*, the rig's
# guest setup, the admin key, and the image ids of the base and of every IMAGE.
#
# The root comes from the host engine's debian:bookworm (scripts/docker-image.sh makes it
# there by debootstrap when no registry answers), plus packages.txt by apt in a chroot.
# The images are seeded by one boot of the new root, without network: `docker save` on
# the host, the archive as the guest's second disk, `docker load` in the guest (seed).
# Builds in a temp dir and renames, under a lock, like rig/image.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

ENGINE_SRC=$RIG_SRC/engine
ENGINE_IMAGE=$RIG_DIR/engine.ext4
BASE=debian:bookworm
SIZE=3G
SEED_TIMEOUT=300

(($#)) || die "usage: rig/engine/image.sh IMAGE... (images of the host's engine to seed)"
need_root
need docker chroot mkfs.ext4 ssh-keygen sha256sum mountpoint flock setsid "$RIG_UML"
mkdir -p "$RIG_DIR" "$RIG_UML_DIR"

build_lock engine

if [[ ! -s $RIG_KEY ]]; then
    # The admin key is rig/image.sh's too: make it under that script's lock.
    (
        flock 8
        if [[ ! -s $RIG_KEY ]]; then
            log "generating admin key $RIG_KEY"
            rm -f "$RIG_KEY" "$RIG_KEY.pub"
            ssh-keygen -q -t ed25519 -N '' -C pppssh-rig-admin -f "$RIG_KEY"
        fi
    ) 8>"$RIG_DIR/image.lock"
fi

image_id() {
    docker image inspect --format '{{.Id}}' "$1" 2>/dev/null ||
        die "image $1 is not in the host's docker engine (scripts/docker-image.sh builds it)"
}
ids=("$BASE=$(image_id "$BASE")")
for image in "$@"; do ids+=("$image=$(image_id "$image")"); done

stamp=$( (cat "$ENGINE_SRC"/image.sh "$ENGINE_SRC"/packages.txt "$ENGINE_SRC"/init \
    "$ENGINE_SRC"/seed "$ENGINE_SRC"/daemon.json "$RIG_SRC"/guest/setup "$RIG_KEY.pub"
    printf '%s\n' "${ids[@]}") | sha256sum | cut -d' ' -f1)
if [[ -s $ENGINE_IMAGE && $(cat "$ENGINE_IMAGE.stamp" 2>/dev/null) == "$stamp" ]]; then
    log "engine image $ENGINE_IMAGE is up to date ($*)"
    exit 0
fi

t0=$(now)
tmp=$(mktemp -d "$RIG_DIR/engine-build.XXXXXX")
root=$tmp/root
seed_pid=
cleanup() {
    if [[ -n $seed_pid ]]; then kill -TERM "$seed_pid" 2>/dev/null || true; fi
    if mountpoint -q "$root/proc"; then umount -l "$root/proc"; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

log "root from the host engine's $BASE"
mkdir "$root"
cid=$(docker create "$BASE" /bin/true)
docker export "$cid" | tar -x -C "$root"
docker rm "$cid" >/dev/null
# What the export adds: the marker of a container, empty bind-mount targets.
rm -f "$root/.dockerenv"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mount -t proc proc "$root/proc"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mapfile -t pkgs <"$ENGINE_SRC/packages.txt"
log "apt-get install ${pkgs[*]}"
chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    sh -c 'apt-get update -q && apt-get install -q -y --no-install-recommends "$@" && apt-get clean' \
    sh "${pkgs[@]}" >"$tmp/apt.log" 2>&1 ||
    { tail -n 30 "$tmp/apt.log" >&2; die "apt-get in chroot failed"; }
# The UML kernel has no nf_tables for ip/ip6: dockerd must drive the legacy iptables.
chroot "$root" update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
chroot "$root" update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null
umount "$root/proc"
log "packages installed after $(elapsed "$t0")s"

rm -f "$root/usr/sbin/policy-rc.d" "$root"/etc/ssh/ssh_host_*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
: >"$root/etc/machine-id"
mkdir -p "$root/lib/modules" "$root/etc/docker"
# rig start --init shell boots /sbin/pppssh-rig-init: here that is the engine's init.
install -m 0755 "$ENGINE_SRC/init" "$root/sbin/pppssh-rig-init"
install -m 0755 "$ENGINE_SRC/seed" "$root/sbin/pppssh-engine-seed"
install -m 0755 "$RIG_SRC/guest/setup" "$root/usr/local/sbin/pppssh-rig-setup"
install -m 0644 "$ENGINE_SRC/daemon.json" "$root/etc/docker/daemon.json"
printf 'PermitRootLogin prohibit-password\nUseDNS no\n' \
    >"$root/etc/ssh/sshd_config.d/pppssh-rig.conf"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$RIG_KEY.pub" "$root/root/.ssh/authorized_keys"
printf '/dev/ubda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"

log "mkfs.ext4 -d ($SIZE)"
mkfs.ext4 -q -F -L pppssh-engine -d "$root" "$tmp/engine.ext4" "$SIZE" >/dev/null
rm -rf "$root"

t1=$(now)
log "docker save $*"
docker save "$@" >"$tmp/images.tar"
log "seeding the images: one boot of the new root, the archive as its second disk"
# shellcheck disable=SC2054 # commas belong to UML options
setsid "$RIG_UML" mem=384M "umid=pppssh-engine-seed-$$" "uml_dir=$RIG_UML_DIR" \
    "ubd0=$tmp/engine.ext4" "ubd1r=$tmp/images.tar" root=/dev/ubda rw \
    "hostfs=$RIG_UML_MODULES" con0=null,fd:1 con=null ssl=null \
    init=/sbin/pppssh-engine-seed </dev/null >"$tmp/seed.log" 2>&1 &
seed_pid=$!
t_seed=$(now)
until grep -q '^pppssh-engine-seed: \(done\|FAILED\)' "$tmp/seed.log"; do
    kill -0 "$seed_pid" 2>/dev/null || { tail -n 30 "$tmp/seed.log" >&2; die "the seeding guest died"; }
    if awk -v e="$(elapsed "$t_seed")" -v t="$SEED_TIMEOUT" 'BEGIN { exit !(e >= t) }'; then
        tail -n 30 "$tmp/seed.log" >&2
        die "seeding took more than ${SEED_TIMEOUT}s"
    fi
    sleep 0.5
done
grep '^pppssh-engine-seed: ' "$tmp/seed.log" | sed 's/^pppssh-engine-seed: /rig: seed: /' >&2
grep -q '^pppssh-engine-seed: done' "$tmp/seed.log" || die "seeding failed (above)"
kill -TERM "$seed_pid"
wait "$seed_pid" 2>/dev/null || true
seed_pid=
log "images seeded in $(elapsed "$t1")s"

mv -f "$tmp/engine.ext4" "$ENGINE_IMAGE"
printf '%s\n' "$stamp" >"$ENGINE_IMAGE.stamp"
log "engine image $ENGINE_IMAGE built in $(elapsed "$t0")s"
