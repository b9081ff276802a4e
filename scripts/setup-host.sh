#!/usr/bin/env bash
# Prepare a Debian 12 machine for pppssh development, tests and the lab:
# host packages (only the missing ones), a running Docker engine, and the Python venv.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PPPSSH_VENV:-$repo/.venv}
# The package list lives in one place, scripts/host-packages.txt (first word of each line).
mapfile -t packages < <(sed -e 's/#.*//' "$repo/scripts/host-packages.txt" | awk 'NF { print $1 }')

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: needs root to install packages and start dockerd. Run: sudo make setup" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup-host: host packages already present"
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup-host: starting dockerd"
  if ! service docker start >/dev/null 2>&1; then
    nohup dockerd >/var/log/pppssh-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup-host: dockerd did not start, see /var/log/pppssh-dockerd.log" >&2; exit 1; }
fi

stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$repo/requirements-dev.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup-host: installing Python requirements into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$repo/requirements-dev.txt"
  echo "$wanted" >"$stamp"
else
  echo "setup-host: venv up to date"
fi
