#!/usr/bin/env bash
# Install the host packages of scripts/host-packages.txt (first word of each line) that are
# missing; print what it installed, or nothing. Used by setup-host.sh (make setup) and by
# check-fresh.sh inside a pristine Debian chroot. Needs root.
#
#   scripts/install-host-packages.sh [LIST]     (default: host-packages.txt beside this script)
set -euo pipefail

list=${1:-$(dirname "$0")/host-packages.txt}
mapfile -t packages < <(sed -e 's/#.*//' "$list" | awk 'NF { print $1 }')

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed ${missing[*]}"
