#!/usr/bin/env bash
# engine.sh: a Docker engine in a rig guest, for containers that need what the host kernel
# lacks (PPP) or refuses (--privileged). See rig/README.md, "Engine guests".
#
#   engine.sh image IMAGE...                  build or reuse engine.ext4 seeded with IMAGE...
#   engine.sh up NAME IP SOCKET IMAGE... [--mem 384M]
#                                             image, boot NAME on it, forward SOCKET to its engine
#   engine.sh down NAME [SOCKET]              stop the forward, destroy NAME, remove SOCKET
#
# The engine is reached only through SOCKET, a unix socket on the host (mode 0600, root)
# that an ssh process forwards to the guest's /var/run/docker.sock with the rig's admin key.
# dockerd has no TCP listener: nothing answers on any network, not even the rig's bridge.
# DOCKER_HOST=unix://SOCKET then serves every client alike: the docker CLI, the Python SDK
# (Molecule's driver), community.docker's modules and connection, testinfra. (ssh:// in
# DOCKER_HOST would need paramiko for the SDK and the modules, the key in ~/.ssh/config for
# the CLI, and costs a new ssh login plus a `docker system dial-stdio` in the slow guest for
# every docker command; the forward is one login for the whole run.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

ENGINE_IMAGE=$RIG_DIR/engine.ext4
READY_TIMEOUT=120

rig() { "$RIG_SRC/rig" "$@"; }

check_socket() {
    [[ $1 == /* ]] || die "SOCKET must be an absolute path, got '$1'"
    # sun_path holds 107 bytes and a NUL.
    ((${#1} <= 107)) || die "SOCKET path is longer than 107 bytes: $1"
}

# The pid of NAME's forward, if the process recorded is still that ssh.
forward_pid() {
    local dir pid args
    dir=$(guest_dir "$1")
    [[ -r $dir/forward.pid && -r $dir/ip ]] || return 1
    pid=$(<"$dir/forward.pid")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $args == "ssh "*":/var/run/docker.sock $(<"$dir/ip") " ]] || return 1
    printf '%s\n' "$pid"
}

cmd_up() {
    local name=${1:-} ip=${2:-} sock=${3:-} mem=384M images=()
    shift 3 || die "usage: up NAME IP SOCKET IMAGE... [--mem 384M]"
    while (($#)); do
        case $1 in
        --mem) mem=${2:?--mem needs a value}; shift 2 ;;
        *) images+=("$1"); shift ;;
        esac
    done
    ((${#images[@]})) || die "up: name at least one image to seed"
    check_name "$name"
    check_socket "$sock"
    need_root
    need docker ssh setsid timeout
    local t0 t_boot
    t0=$(now)
    "$RIG_SRC/engine/image.sh" "${images[@]}"
    log "engine: image ready after $(elapsed "$t0")s"
    if guest_pid "$name" >/dev/null; then
        log "engine: $name still runs (a run that did not end): replacing it"
        cmd_down "$name" "$sock"
    fi
    t_boot=$(now)
    rig start "$name" "$ip" --image "$ENGINE_IMAGE" --mem "$mem" --fresh
    rig wait "$name" 120

    local dir pid
    dir=$(guest_dir "$name")
    mkdir -p "$(dirname "$sock")"
    rm -f "$sock"
    local -a opts
    mapfile -t opts < <(ssh_opts)
    # setsid: the forward outlives this script; down ends it by its recorded pid.
    setsid ssh "${opts[@]}" -N -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes \
        -o StreamLocalBindMask=0177 -o ServerAliveInterval=10 -o ServerAliveCountMax=3 \
        -L "$sock:/var/run/docker.sock" "$ip" </dev/null >"$dir/forward.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/forward.pid"
    local t_wait info
    t_wait=$(now)
    until info=$(docker -H "unix://$sock" info --format \
        '{{.ServerVersion}} {{.Driver}} cgroup-v{{.CgroupVersion}} {{.CgroupDriver}} kernel {{.KernelVersion}} {{.MemTotal}}' 2>/dev/null); do
        kill -0 "$pid" 2>/dev/null || { cat "$dir/forward.log" >&2; die "the ssh forward to $name ended"; }
        if awk -v e="$(elapsed "$t_wait")" -v t="$READY_TIMEOUT" 'BEGIN { exit !(e >= t) }'; then
            rig ssh "$name" tail -n 20 /var/log/dockerd.log >&2 || true
            die "the engine in $name did not answer within ${READY_TIMEOUT}s"
        fi
        sleep 0.3
    done
    read -r version driver cgroup cgroup_driver _ kernel mem_total <<<"$info"
    log "engine: docker info answers $(elapsed "$t_boot")s after boot started ($(elapsed "$t_wait")s after ssh)"
    log "engine: $name ($ip): docker $version, $driver, $cgroup ($cgroup_driver), kernel $kernel, $((mem_total / 1048576)) MiB"
    log "engine: DOCKER_HOST=unix://$sock (ssh forward pid $pid to $name:/var/run/docker.sock); up in $(elapsed "$t0")s"
}

cmd_down() {
    local name=${1:?usage: down NAME [SOCKET]} sock=${2:-} pid
    check_name "$name"
    need_root
    if pid=$(forward_pid "$name"); then
        kill -TERM "$pid" 2>/dev/null || true
        log "engine: ended the forward (pid $pid)"
    fi
    rig destroy "$name"
    if [[ -n $sock ]]; then rm -f "$sock"; fi
}

cmd=${1:?usage: engine.sh image|up|down ...}
shift
case $cmd in
image) exec "$RIG_SRC/engine/image.sh" "$@" ;;
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
*) die "usage: engine.sh image|up|down ..." ;;
esac
