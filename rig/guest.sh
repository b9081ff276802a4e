#!/usr/bin/env bash
# guest.sh <command> ...: start, wait for, stop and reach UML guests (see rig/rig).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tap_of() { printf 'rt-%s\n' "$1"; }

console_tail() {
    local f
    f=$(guest_dir "$1")/console.log
    [[ -r $f ]] || return 0
    printf -- '--- last lines of %s ---\n' "$f" >&2
    tail -n "${2:-25}" "$f" >&2
}

cmd_start() {
    local name=${1:-} ip=${2:-} mem=256M init=shell fresh=0 kernel=uml release=$RIG_RELEASE image=''
    # IPv6 is off in the guests unless asked for: the rig network is IPv4 only, and links carry IPv6 only
    # in the tests that prove it.
    local ipv6=ipv6.disable_ipv6=1
    local usage="usage: start NAME IP [--mem 256M] [--init shell|systemd] [--kernel uml|debian] [--release ${RIG_RELEASES[*]// /|}] [--image FILE] [--ipv6] [--fresh]"
    shift 2 || die "$usage"
    while (($#)); do
        case $1 in
        --mem) mem=${2:?--mem needs a value}; shift 2 ;;
        --init) init=${2:?--init needs shell or systemd}; shift 2 ;;
        --kernel) kernel=${2:?--kernel needs uml or debian}; shift 2 ;;
        --release) release=${2:?--release needs a value}; shift 2 ;;
        --fresh) fresh=1; shift ;;
        --ipv6) ipv6=ipv6.disable_ipv6=0; shift ;;
        # Another root image (e.g. rig/engine's engine.ext4), with its own FILE.stamp.
        --image) image=${2:?--image needs a file}; shift 2 ;;
        *) die "start: unknown option '$1'; $usage" ;;
        esac
    done
    check_name "$name"
    if ! [[ $ip =~ ^192\.168\.213\.([0-9]{1,3})$ ]] ||
        ((BASH_REMATCH[1] < 2 || BASH_REMATCH[1] > 254)); then
        die "bad guest address '$ip' (want 192.168.213.2-254)"
    fi
    local init_path
    case $init in
    shell) init_path=/sbin/pppssh-rig-init ;;
    systemd) init_path=/lib/systemd/systemd ;;
    *) die "--init must be shell or systemd" ;;
    esac
    local disk stem
    case $kernel in
    uml) disk=disk.cow ;;
    debian) disk=disk.qcow2 ;;
    *) die "--kernel must be uml or debian" ;;
    esac
    check_release "$release"
    [[ -n $image ]] || image=$(image_of "$release")
    stem=${image%.ext4}
    need_root
    need ip setsid ssh
    if [[ $kernel == uml ]]; then need "$RIG_UML"; else need "$RIG_QEMU" qemu-img; fi
    [[ -s $image ]] || die "no image at $image (the default one: run 'rig/rig image --release $release')"
    if [[ $kernel == debian && ! (-s $stem.vmlinux && -s $stem.initrd) ]]; then
        die "no kernel beside $image: run 'rig/rig image --release $release' (it rebuilds)"
    fi
    local pid o_pid o_name o_ip o_dir
    if pid=$(guest_pid "$name"); then die "guest $name is already running (pid $pid)"; fi
    while read -r o_pid o_name o_ip o_dir; do
        [[ $o_name == "$name" ]] &&
            die "name $name is taken by a running guest of PPPSSH_RIG_DIR=$o_dir (pid $o_pid)"
        [[ $o_ip == "$ip" ]] &&
            die "address $ip is taken by running guest $o_name of PPPSSH_RIG_DIR=$o_dir (pid $o_pid)"
    done < <(all_guests)
    "$RIG_SRC/net.sh" up

    local dir stamp tap
    dir=$(guest_dir "$name")
    mkdir -p "$dir" "$RIG_UML_DIR"
    stamp=$(cat "$image.stamp" 2>/dev/null || echo none)
    if ((fresh)); then
        rm -f "$dir/disk.cow" "$dir/disk.qcow2"
    elif [[ -e $dir/disk.cow || -e $dir/disk.qcow2 ]] &&
        [[ $(cat "$dir/image.stamp" 2>/dev/null) != "$stamp" || ! -e $dir/$disk ]]; then
        # A COW file is only valid over the exact image it was made on, and a
        # guest's disk state is in one format: UML's COW or QEMU's qcow2.
        log "image rebuilt, or release or kernel changed, since $name was created: discarding its disk state"
        rm -f "$dir/disk.cow" "$dir/disk.qcow2"
    fi
    [[ -e $dir/$disk ]] || printf '%s\n' "$stamp" >"$dir/image.stamp"

    tap=$(tap_of "$name")
    ip -n "$RIG_NETNS" link del "$tap" 2>/dev/null || true
    ip -n "$RIG_NETNS" tuntap add "$tap" mode tap vnet_hdr
    ip -n "$RIG_NETNS" link set "$tap" master "$RIG_BRIDGE" up

    local -a argv
    if [[ $kernel == uml ]]; then
        # shellcheck disable=SC2054 # commas belong to UML options
        argv=(
            "$RIG_UML"
            "mem=$mem" "umid=pppssh-$name" "uml_dir=$RIG_UML_DIR"
            "ubd0=$dir/disk.cow,$image" root=/dev/ubda rw
            "hostfs=$RIG_UML_MODULES"
            "vec0:transport=tap,ifname=$tap,depth=128,gro=1"
            con0=null,fd:1 con=null ssl=null
            "$ipv6" "rig_name=$name" "rig_ip=$ip/24" "init=$init_path"
        )
    else
        if [[ ! -e $dir/disk.qcow2 ]]; then
            qemu-img create -q -f qcow2 -F raw -b "$image" "$dir/disk.qcow2" ||
                die "qemu-img create failed"
        fi
        local mac
        mac=$(awk -F. '{ printf "02:00:%02x:%02x:%02x:%02x", $1, $2, $3, $4 }' <<<"$ip")
        # No KVM: /dev/kvm here is PVM, which hangs stock kernels. TCG it is.
        # The raw image is opened read-only and unlocked: UML guests and other
        # QEMU guests share it (each writes only to its own qcow2 overlay).
        # net.ifnames=0 keeps the NIC eth0 under systemd's udev too.
        # rig_name/rig_ip/rig_dir let the rig find the guest (all_guests).
        # tb-size 512 MB of translated code (64 MB: 14-22 % slower Ansible tasks, side by side).
        # nice -5: TCG emulates every instruction, so on a busy host a TCG guest slowed down
        # six-fold beside the UML guests (site.yml 5 min idle, over 30 min at load 12); ahead of
        # them in the queue it keeps most of one core. Harmless when the host is idle.
        # no_timer_check: the kernel's boot check that the timer reaches the IO-APIC counts ticks
        # in a short window; a TCG guest starved of CPU misses them and panics ("IO-APIC + timer
        # doesn't work", CI at load, stop 28). The timer works; only the check is too hasty.
        # shellcheck disable=SC2054 # commas belong to QEMU options
        argv=(
            nice -n -5 "$RIG_QEMU" -name "pppssh-$name" -machine q35 -accel tcg,tb-size=512
            -m "$mem" -smp 1 -nodefaults -no-user-config -display none
            -kernel "$stem.vmlinux" -initrd "$stem.initrd"
            -append "console=ttyS0 root=/dev/vda rw quiet no_timer_check net.ifnames=0 $ipv6 rig_name=$name rig_ip=$ip/24 rig_dir=$RIG_DIR init=$init_path"
            -blockdev "driver=file,filename=$image,node-name=base-file,read-only=on,locking=off"
            -blockdev driver=raw,file=base-file,node-name=base,read-only=on
            -blockdev "driver=file,filename=$dir/disk.qcow2,node-name=top-file"
            -blockdev driver=qcow2,file=top-file,backing=base,node-name=top
            -device virtio-blk-pci,drive=top
            -netdev "tap,id=net0,ifname=$tap,script=no,downscript=no"
            -device "virtio-net-pci,netdev=net0,mac=$mac,romfile="
            -chardev "file,id=con0,path=$dir/console.log,append=on" -serial chardev:con0
            -qmp "unix:$dir/qmp.sock,server=on,wait=off"
        )
    fi
    [[ ! -e $dir/console.log ]] || mv -f "$dir/console.log" "$dir/console.log.old"
    : >"$dir/console.log"
    printf '%s\n' "$ip" >"$dir/ip"
    printf '%s\n' "$init" >"$dir/init"
    printf '%s\n' "$kernel" >"$dir/kernel"
    printf '%s\n' "$release" >"$dir/release"
    now >"$dir/started"
    printf '%s\n' "${argv[*]}" >"$dir/cmdline"
    # setsid: the guest's host processes form one session, so stop finds them all.
    setsid ip netns exec "$RIG_NETNS" "${argv[@]}" </dev/null >>"$dir/console.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/pid"
    sleep 0.3
    if ! kill -0 "$pid" 2>/dev/null; then
        console_tail "$name"
        die "guest $name died at once"
    fi
    log "started $name ($ip, kernel $kernel, $release, init $init, mem $mem) pid $pid"
}

cmd_wait() {
    local name=${1:?usage: wait NAME [TIMEOUT]} timeout=${2:-} ip started t0 attempt=10 banner=2
    need ssh timeout
    ip=$(guest_ip "$name")
    # Default: 60 s for UML, 180 s for QEMU/TCG (a first systemd boot on a busy host ~75 s).
    # One ssh attempt on a TCG guest (sshd's re-exec, its keys, an emulated key exchange) took
    # over 10 s on a host at load 12-17: cut short each time, the guest never answered. Give
    # it a minute there.
    if [[ $(cat "$(guest_dir "$name")/kernel" 2>/dev/null) == debian ]]; then
        attempt=60 banner=45
        [[ -n $timeout ]] || timeout=180
    fi
    [[ -n $timeout ]] || timeout=60
    started=$(cat "$(guest_dir "$name")/started")
    t0=$(now)
    local -a opts
    mapfile -t opts < <(ssh_opts)
    while :; do
        guest_pid "$name" >/dev/null || { console_tail "$name"; die "guest $name is not running"; }
        # A panicked kernel never answers: say so now, not when the timeout runs out.
        if grep -q 'Kernel panic' "$(guest_dir "$name")/console.log" 2>/dev/null; then
            console_tail "$name"
            die "guest $name: its kernel panicked while booting (console above)"
        fi
        # Probe the port cheaply first: an ssh attempt on a booting guest costs seconds.
        # shellcheck disable=SC2016 # $1 is expanded by the inner bash
        if timeout 0.3 bash -c 'exec 3<>"/dev/tcp/$1/22"' _ "$ip" 2>/dev/null &&
            timeout "$attempt" ssh "${opts[@]}" -o ConnectTimeout="$banner" "$ip" true </dev/null 2>/dev/null; then
            log "$name ($ip) answers ssh, $(elapsed "$started")s after start"
            return 0
        fi
        if awk -v e="$(elapsed "$t0")" -v t="$timeout" 'BEGIN { exit !(e >= t) }'; then
            console_tail "$name"
            die "guest $name: no ssh after ${timeout}s"
        fi
        sleep 0.2
    done
}

# Processes of a guest: the session its UML main process leads.
session_pids() { ps -e -o pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'; }

cmd_stop() {
    local name=${1:?usage: stop NAME} dir pid
    need_root
    dir=$(guest_dir "$name")
    if pid=$(guest_pid "$name"); then
        # A TERMed UML dies without flushing the guest's page cache: sync first.
        local -a opts
        mapfile -t opts < <(ssh_opts)
        timeout 10 ssh "${opts[@]}" -o ConnectTimeout=2 "$(guest_ip "$name")" sync \
            </dev/null >/dev/null 2>&1 || log "$name: sync over ssh failed, stopping anyway"
        kill_guest "$pid"
        log "stopped $name"
    elif all_guests | awk -v n="$name" '$2 == n { f = 1 } END { exit !f }'; then
        log "$name is not running here; the running $name belongs to another rig dir"
        return 0
    else
        log "$name is not running"
    fi
    rm -f "$dir/pid"
    ip -n "$RIG_NETNS" link del "$(tap_of "$name")" 2>/dev/null || true
}

cmd_destroy() {
    local name=${1:?usage: destroy NAME}
    check_name "$name"
    cmd_stop "$name"
    rm -rf "$(guest_dir "$name")"
    log "destroyed $name"
}

# Stop a guest by its pid alone (one of another rig dir, or an orphan).
kill_guest() {
    local pid=$1 i left
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    left=$(session_pids "$pid")
    # shellcheck disable=SC2086
    if [[ -n $left ]]; then kill -KILL $left 2>/dev/null || true; fi
}

cmd_down() {
    local d all=0 pid name ip dir others=()
    [[ ${1:-} == --all ]] && all=1
    need_root
    for d in "$RIG_GUESTS"/*/; do
        [[ -d $d ]] || continue
        if guest_pid "$(basename "$d")" >/dev/null; then cmd_stop "$(basename "$d")"; fi
    done
    while read -r pid name ip dir; do
        [[ -n $pid ]] || continue
        if ((all)) || [[ $dir == "$RIG_DIR" ]]; then
            log "stopping $name ($ip) of PPPSSH_RIG_DIR=$dir"
            kill_guest "$pid"
        else
            others+=("$name($dir)")
        fi
    done < <(all_guests)
    if ((${#others[@]})); then
        log "network left up: guests of other rig dirs still run: ${others[*]} (down --all stops them)"
        return 0
    fi
    # Anything else still in our netns is a stray of ours.
    local strays
    strays=$(ip netns pids "$RIG_NETNS" 2>/dev/null || true)
    if [[ -n $strays ]]; then
        log "killing stray processes in netns $RIG_NETNS: $strays"
        # shellcheck disable=SC2086
        kill -KILL $strays 2>/dev/null || true
        sleep 0.5
    fi
    "$RIG_SRC/net.sh" down
}

cmd_ssh() {
    local name=${1:?usage: ssh NAME [CMD...]} ip
    shift
    ip=$(guest_ip "$name")
    local -a opts
    mapfile -t opts < <(ssh_opts)
    if (($# == 0)) && [[ -t 0 ]]; then opts+=(-t); fi
    exec ssh "${opts[@]}" "$ip" "$@"
}

cmd_list() {
    local d name state
    for d in "$RIG_GUESTS"/*/; do
        [[ -r $d/ip ]] || continue
        name=$(basename "$d")
        state=stopped
        if guest_pid "$name" >/dev/null; then state=running; fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(<"$d/ip")" "$(cat "$d/init" 2>/dev/null)" "$state" \
            "$(cat "$d/kernel" 2>/dev/null || echo uml)" "$(cat "$d/release" 2>/dev/null || echo "$RIG_RELEASE")"
    done
}

cmd_ssh_config() {
    local d
    printf '# ssh -F FILE NAME, with FILE holding this output (pppssh rig guests)\n'
    for d in "$RIG_GUESTS"/*/; do
        [[ -r $d/ip ]] || continue
        printf 'Host %s\n    HostName %s\n' "$(basename "$d")" "$(<"$d/ip")"
    done
    cat <<CONFIG
Host *
    User root
    IdentityFile $RIG_KEY
    IdentitiesOnly yes
    BatchMode yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
CONFIG
}

cmd=${1:?usage: guest.sh COMMAND ...}
shift
case $cmd in
start) cmd_start "$@" ;;
wait) cmd_wait "$@" ;;
stop) check_name "${1:-}"; cmd_stop "$@" ;;
destroy) cmd_destroy "$@" ;;
down) cmd_down "$@" ;;
ssh) cmd_ssh "$@" ;;
ip) guest_ip "${1:?usage: ip NAME}" ;;
list) cmd_list ;;
ps) all_guests ;;
ssh-config) cmd_ssh_config ;;
*) die "unknown command '$cmd'" ;;
esac
