#!/usr/bin/env bash
# Prepare a Debian 12 machine for pppssh development, tests and the lab:
# host packages (only the missing ones), a running Docker engine, and the Python venv.
# Says what it changed; a second run changes nothing and says "setup-host: nothing to do".
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PPPSSH_VENV:-$repo/.venv}

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: needs root to install packages and start dockerd. Run: sudo make setup" >&2
  exit 1
fi

done_=()

# 1. Host packages: the list lives in one place, scripts/host-packages.txt.
installed=$(bash "$repo/scripts/install-host-packages.sh" "$repo/scripts/host-packages.txt")
if [ -n "$installed" ]; then
  echo "setup-host: $installed"
  done_+=("$installed")
fi

# 2. The Docker engine.
if ! docker info >/dev/null 2>&1; then
  echo "setup-host: starting dockerd"
  if ! service docker start >/dev/null 2>&1; then
    nohup dockerd >/var/log/pppssh-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup-host: dockerd did not start, see /var/log/pppssh-dockerd.log" >&2; exit 1; }
  done_+=("started dockerd")
fi

# 3. The venv, rebuilt when requirements-dev.txt changed.
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$repo/requirements-dev.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup-host: installing Python requirements into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$repo/requirements-dev.txt"
  echo "$wanted" >"$stamp"
  done_+=("venv built")
fi

if [ ${#done_[@]} -eq 0 ]; then
  echo "setup-host: nothing to do (host packages present, dockerd running, venv up to date)"
else
  printf -v summary '%s; ' "${done_[@]}"
  echo "setup-host: done: ${summary%; }"
fi
