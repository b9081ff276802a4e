# shellcheck shell=bash disable=SC2034 # variables are used by the scripts sourcing this
# Common settings and helpers for the rig; sourced by rig/rig and its parts.

RIG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_DIR=${PPPSSH_RIG_DIR:-/var/tmp/pppssh-rig}
# Guest releases the rig builds roots for; the first is the default.
RIG_RELEASES=(bookworm trixie)
RIG_RELEASE=${RIG_RELEASES[0]}
RIG_IMAGE=$RIG_DIR/image.ext4
RIG_KEY=$RIG_DIR/id_ed25519
RIG_GUESTS=$RIG_DIR/guests
RIG_UML_DIR=$RIG_DIR/uml
RIG_NETNS=pppssh-rig
RIG_BRIDGE=rigbr0
RIG_HOST_IF=rig-host
RIG_BR_PORT=rig-brport
RIG_HOST_IP=192.168.213.1
RIG_UML=/usr/bin/linux
RIG_UML_MODULES=/usr/lib/uml/modules
RIG_QEMU=qemu-system-x86_64

log() { printf 'rig: %s\n' "$*" >&2; }
die() { printf 'rig: error: %s\n' "$*" >&2; exit 1; }

# build_lock KIND: hold $RIG_DIR/KIND.lock on fd 9 for the rest of the script (concurrent builds
# would replace each other's image), then remove the KIND-build.* dirs a killed build left.
build_lock() {
    local kind=$1 stale
    exec 9>"$RIG_DIR/$kind.lock"
    if ! flock -n 9; then
        log "waiting for another $kind build in $RIG_DIR"
        flock 9
    fi
    for stale in "$RIG_DIR/$kind-build."*; do
        [[ -d $stale ]] || continue
        if mountpoint -q "$stale/root/proc"; then umount -l "$stale/root/proc"; fi
        rm -rf "$stale"
    done
}

# need CMD...: die naming the Debian packages of the missing commands.
need() {
    local missing=() c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 && continue
        case ${c##*/} in
        linux) missing+=("$c(user-mode-linux)") ;;
        mkfs.ext4) missing+=("$c(e2fsprogs)") ;;
        ssh | ssh-keygen) missing+=("$c(openssh-client)") ;;
        ip) missing+=("$c(iproute2)") ;;
        setsid | flock | mountpoint) missing+=("$c(util-linux)") ;;
        qemu-system-x86_64) missing+=("$c(qemu-system-x86)") ;;
        qemu-img) missing+=("$c(qemu-utils)") ;;
        busybox) missing+=("$c(busybox-static)") ;;
        *) missing+=("$c") ;;
        esac
    done
    ((${#missing[@]} == 0)) ||
        die "missing host commands: ${missing[*]}; run scripts/setup-host.sh"
}

# image_of RELEASE: the root image of a release (bookworm keeps the historical name).
# Beside it, same stem: .ext4.stamp, .vmlinux and .initrd (the Debian kernel of
# that release and the initramfs that mounts the image, for --kernel debian).
image_of() {
    check_release "$1"
    if [[ $1 == "${RIG_RELEASES[0]}" ]]; then
        printf '%s/image.ext4\n' "$RIG_DIR"
    else
        printf '%s/image-%s.ext4\n' "$RIG_DIR" "$1"
    fi
}

check_release() {
    [[ " ${RIG_RELEASES[*]} " == *" $1 "* ]] ||
        die "unknown release '$1' (want one of: ${RIG_RELEASES[*]})"
}

need_root() { ((EUID == 0)) || die "must run as root"; }

# Seconds since the epoch with millisecond resolution, for timings.
now() { date +%s.%3N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

ssh_opts() {
    printf '%s\n' -F /dev/null -i "$RIG_KEY" -l root \
        -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=5
}

guest_dir() { printf '%s/%s\n' "$RIG_GUESTS" "$1"; }

check_name() {
    [[ $1 =~ ^[a-z][a-z0-9-]{0,11}$ ]] ||
        die "bad guest name '$1' (want [a-z][a-z0-9-]{0,11})"
}

guest_pid() {
    local f pid args
    f=$(guest_dir "$1")/pid
    [[ -r $f ]] || return 1
    pid=$(<"$f")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a reused pid. A rebooting UML guest re-executes itself (same pid), and
    # for a few ms of that exec its cmdline reads empty (360 of 2.2 million reads across one
    # reboot): `rig wait` once took that for a dead guest (CI, stop 29). Empty means "look
    # again", a different cmdline means another process.
    local tries=0
    while :; do
        args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
        [[ -z ${args// /} && $tries -lt 20 ]] || break
        tries=$((tries + 1))
        sleep 0.05
    done
    # UML guests carry umid=pppssh-NAME, QEMU guests rig_name=NAME in their -append.
    [[ " $args " == *" umid=pppssh-$1 "* || " $args " == *" rig_name=$1 rig_ip="* ]] || return 1
    printf '%s\n' "$pid"
}

guest_ip() {
    local f
    f=$(guest_dir "$1")/ip
    [[ -r $f ]] || die "unknown guest '$1'"
    cat "$f"
}

# Every running guest in the rig's netns, whatever its rig dir (the netns, the
# taps and the addresses are shared by all): lines "PID NAME IP RIG_DIR".
# UML guests are known by umid=pppssh-NAME and uml_dir=DIR/uml, QEMU guests by
# rig_name=NAME and rig_dir=DIR on their kernel command line.
all_guests() {
    local pids
    pids=$(ip netns pids "$RIG_NETNS" 2>/dev/null | tr '\n' ' ') || true
    [[ -n $pids ]] || return 0
    ps -ww -eo pid=,sid=,args= | awk -v pids=" $pids" '
        $1 == $2 && index(pids, " " $1 " ") && / rig_name=/ && / rig_ip=/ {
            name = ip = dir = ""
            for (i = 3; i <= NF; i++) {
                if ($i ~ /^umid=pppssh-/) name = substr($i, 13)
                else if ($i ~ /^rig_name=/ && name == "") name = substr($i, 10)
                else if ($i ~ /^rig_ip=/) { ip = substr($i, 8); sub(/\/.*/, "", ip) }
                else if ($i ~ /^uml_dir=/) { dir = substr($i, 9); sub(/\/uml$/, "", dir) }
                else if ($i ~ /^rig_dir=/) dir = substr($i, 9)
            }
            print $1, name, ip, dir
        }'
}
