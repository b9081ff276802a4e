#!/usr/bin/env bash
# Build the image of the Molecule `default` scenario: Debian bookworm with systemd as PID 1
# and the packages the pppssh roles need, from molecule/default/Dockerfile.
#
#   scripts/docker-image.sh            make sure the image exists (build only when missing or stale)
#   scripts/docker-image.sh --force    rebuild it
#
# No registry needed: when `debian:bookworm` is not in the local engine (a machine that cannot
# pull), the base is made here with `debootstrap --variant=minbase bookworm` + `docker import`.
# The image carries the sha256 of its Dockerfile as a label; a matching image is reused as is.
# Environment: PPPSSH_MOLECULE_IMAGE (default pppssh-molecule:bookworm),
#              PPPSSH_DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Prints "image=built" or "image=cached" as its last line (create.yml reads it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
image=${PPPSSH_MOLECULE_IMAGE:-pppssh-molecule:bookworm}
base=debian:bookworm
mirror=${PPPSSH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
dockerfile=$repo/molecule/default/Dockerfile
force=false
[ "${1:-}" = --force ] && force=true

say() { echo "docker-image: $*"; }
begin=$SECONDS

if ! docker version >/dev/null 2>&1; then
  say "no docker engine answers: start it with 'bash scripts/setup-host.sh'" >&2
  exit 1
fi

sum=$(sha256sum "$dockerfile" | cut -d' ' -f1)
have=$(docker image inspect --format '{{ index .Config.Labels "pppssh.dockerfile.sha256" }}' "$image" 2>/dev/null || true)
if [ "$force" = false ] && [ "$have" = "$sum" ]; then
  say "$image is current (Dockerfile sha256 ${sum:0:12}), not rebuilt ($((SECONDS - begin)) s)"
  echo "image=cached"
  exit 0
fi

# The base: pulled or imported earlier, else made here. Never pulled by this script.
if docker image inspect "$base" >/dev/null 2>&1; then
  say "base $base present"
else
  command -v debootstrap >/dev/null || { say "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
  step=$SECONDS
  rootfs=$(mktemp -d /var/tmp/pppssh-bookworm.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  say "base $base not in the engine: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  say "debootstrap took $((SECONDS - step)) s"
  step=$SECONDS
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  say "docker import $base took $((SECONDS - step)) s"
fi

step=$SECONDS
say "building $image from ${dockerfile#"$repo"/}"
log=$(mktemp)
if ! docker build --label "pppssh.dockerfile.sha256=$sum" -t "$image" -f "$dockerfile" \
  "$(dirname "$dockerfile")" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
say "docker build took $((SECONDS - step)) s; total $((SECONDS - begin)) s"
echo "image=built"
