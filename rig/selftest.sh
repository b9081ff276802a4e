#!/usr/bin/env bash
# Prove the rig: two guests, the HOWTO's PPP-over-SSH link between them, pings
# across it; on a guest with Debian's kernel also an nftables inet table with a
# masquerade rule that counts the packets it translates.
#   selftest [--kernel uml|debian] [--release R] [--init shell|systemd]
#            [--server KERNEL[/RELEASE]] [--client KERNEL[/RELEASE]]
#            [--names SERVER,CLIENT] [--ips SERVER_IP,CLIENT_IP]
# --kernel/--release set both guests; --server/--client set one, e.g.
# --server debian --client uml/trixie.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() { sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
kernel=uml release=$RIG_RELEASE init=shell server_spec='' client_spec=''
SERVER_NAME=server CLIENT_NAME=client1 SERVER=192.168.213.10 CLIENT=192.168.213.11
while (($#)); do
    case $1 in
    --kernel) kernel=${2:?}; shift 2 ;;
    --release) release=${2:?}; shift 2 ;;
    --init) init=${2:?}; shift 2 ;;
    --server) server_spec=${2:?}; shift 2 ;;
    --client) client_spec=${2:?}; shift 2 ;;
    --names) IFS=, read -r SERVER_NAME CLIENT_NAME <<<"${2:?}"; shift 2 ;;
    --ips) IFS=, read -r SERVER CLIENT <<<"${2:?}"; shift 2 ;;
    *) usage ;;
    esac
done
# spec KERNEL[/RELEASE] -> "KERNEL RELEASE"
spec() {
    local k=${1:-$kernel} r
    r=${k#*/}
    [[ $r != "$k" ]] || r=$release
    k=${k%%/*}
    [[ $k == uml || $k == debian ]] || die "kernel must be uml or debian, not '$k'"
    check_release "$r"
    printf '%s %s\n' "$k" "$r"
}
specs=$(spec "$server_spec") && read -r server_kernel server_release <<<"$specs"
specs=$(spec "$client_spec") && read -r client_kernel client_release <<<"$specs"

rig() { "$RIG_SRC/rig" "$@"; }
on() { local g=$1; shift; rig ssh "$g" "$@"; }
step() { printf '\n== %s\n' "$*" >&2; }
if [[ -n $(rig list | awk '$4 == "running"') ]]; then
    die "guests are running (rig/rig list); selftest ends with 'rig down', so run that first"
fi
trap 'step "teardown"; rig down' EXIT

t_all=$(now)
step "image"
for r in $(printf '%s\n' "$server_release" "$client_release" | sort -u); do
    rig image --release "$r"
done
step "net-up, boot $SERVER_NAME ($server_kernel/$server_release) and $CLIENT_NAME ($client_kernel/$client_release), init $init"
rig net-up
rig start "$SERVER_NAME" "$SERVER" --fresh --kernel "$server_kernel" --release "$server_release" --init "$init"
rig start "$CLIENT_NAME" "$CLIENT" --fresh --kernel "$client_kernel" --release "$client_release" --init "$init"
# Wait for both at once; each one's figure is rig wait's, from its own start to ssh.
wait_dir=$(mktemp -d)
rig wait "$SERVER_NAME" 240 >"$wait_dir/server" 2>&1 &
w_server=$!
rig wait "$CLIENT_NAME" 240 >"$wait_dir/client" 2>&1 &
w_client=$!
ok=1
wait "$w_server" || ok=0
wait "$w_client" || ok=0
cat "$wait_dir/server" "$wait_dir/client" >&2
((ok)) || die "a guest did not boot"
boot_s() { sed -n 's/.*answers ssh, \([0-9.]*\)s after start.*/\1/p' "$wait_dir/$1"; }
boot_server=$(boot_s server) boot_client=$(boot_s client)
rm -rf "$wait_dir"
# rss_mb NAME: host memory of the guest's main process (QEMU, or UML's kernel process).
rss_mb() { ps -o rss= -p "$(cat "$RIG_GUESTS/$1/pid")" | awk '{ printf "%d", $1 / 1024 }'; }

step "configure the server's vpn user and the client's key"
on "$CLIENT_NAME" 'test -s /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519'
pub=$(on "$CLIENT_NAME" cat /root/.ssh/id_ed25519.pub)
on "$SERVER_NAME" "id vpn >/dev/null 2>&1 || useradd -m -s /bin/sh -p '*' vpn
    install -d -o vpn -g vpn -m 700 /home/vpn/.ssh
    printf '%s\n' '$pub' >/home/vpn/.ssh/authorized_keys
    chown vpn:vpn /home/vpn/.ssh/authorized_keys
    echo 'vpn ALL=(root) NOPASSWD: /usr/sbin/pppd' >/etc/sudoers.d/vpn
    chmod 440 /etc/sudoers.d/vpn"

step "bring up the PPP-over-SSH link"
t0=$(now)
if ! on "$CLIENT_NAME" "pppd updetach noauth passive pty 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no vpn@$SERVER sudo -n /usr/sbin/pppd nodetach notty noauth' ipparam vpn 10.213.0.2:10.213.0.1 </dev/null >/tmp/ppp.log 2>&1"; then
    on "$CLIENT_NAME" cat /tmp/ppp.log >&2 || true
    die "pppd on the client failed"
fi
link=$(elapsed "$t0")
on "$CLIENT_NAME" ip -br addr show ppp0
on "$SERVER_NAME" ip -br addr show ppp0

step "ping across the link"
rtt() { awk -F/ '/^rtt/ { print $5 }'; }
rtt_c=$(on "$CLIENT_NAME" ping -c 5 -i 0.2 -W 2 10.213.0.1 | rtt)
rtt_s=$(on "$SERVER_NAME" ping -c 5 -i 0.2 -W 2 10.213.0.2 | rtt)
[[ -n $rtt_c && -n $rtt_s ]] || die "ping across the link failed"

# nftables on a Debian kernel (UML's lacks inet tables and nft NAT). The NAT
# guest gets a LAN: a netns "lan" behind veth lan0 (10.214.0.0/24) with no route
# back to the link's addresses, so its replies reach the far end only when the
# masquerade rule rewrote the source. All of it stays inside the guest.
nft_result="skipped (no guest with --kernel debian)"
if [[ $server_kernel == debian || $client_kernel == debian ]]; then
    if [[ $server_kernel == debian ]]; then
        nat=$SERVER_NAME far=$CLIENT_NAME nat_ppp=10.213.0.1 far_ppp=10.213.0.2
    else
        nat=$CLIENT_NAME far=$SERVER_NAME nat_ppp=10.213.0.2 far_ppp=10.213.0.1
    fi
    step "nftables on $nat: table inet, forward/input chains, nat postrouting masquerade"
    on "$nat" "set -e
        ip netns add lan
        ip link add lan0 type veth peer name eth0 netns lan
        ip addr add 10.214.0.1/24 dev lan0
        ip link set lan0 up
        ip -n lan addr add 10.214.0.2/24 dev eth0
        ip -n lan link set eth0 up
        ip -n lan link set lo up
        sysctl -qw net.ipv4.ip_forward=1
        nft -f - <<'NFT'
table inet pppssh_selftest {
    chain input {
        type filter hook input priority filter; policy accept;
        iifname \"ppp0\" counter comment \"in\"
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        iifname \"ppp0\" oifname \"lan0\" counter accept comment \"fwd-out\"
        iifname \"lan0\" oifname \"ppp0\" ct state established,related counter accept comment \"fwd-back\"
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
    }
}
NFT"
    on "$far" ip route add 10.214.0.0/24 dev ppp0
    if on "$far" ping -c 2 -i 0.2 -W 1 10.214.0.2 >/dev/null; then
        die "the LAN host answered without masquerade: the proof proves nothing"
    fi
    t0=$(now)
    on "$nat" "nft add rule inet pppssh_selftest postrouting oifname lan0 ip saddr 10.213.0.0/24 counter masquerade comment '\"masq\"'"
    on "$far" ping -c 3 -i 0.2 -W 2 10.214.0.2 >/dev/null ||
        die "no reply from the LAN host behind $nat through the masquerade"
    on "$far" ping -c 3 -i 0.2 -W 2 "$nat_ppp" >/dev/null
    ruleset=$(on "$nat" nft list table inet pppssh_selftest)
    printf '%s\n' "$ruleset" >&2
    count() { sed -n "s/.*counter packets \([0-9]*\) .*comment \"$1\".*/\1/p" <<<"$ruleset"; }
    masq=$(count masq) fwd_out=$(count fwd-out) fwd_back=$(count fwd-back) input=$(count in)
    masq=${masq:-0} fwd_out=${fwd_out:-0} fwd_back=${fwd_back:-0} input=${input:-0}
    # NAT chains see the first packet of a connection: one ping run, one packet.
    ((masq >= 1 && fwd_out >= 3 && fwd_back >= 3 && input >= 3)) ||
        die "nft counters too low: masq=$masq fwd-out=$fwd_out fwd-back=$fwd_back in=$input"
    nft_result="ok on $nat ($(on "$nat" uname -r)): masquerade packets $masq, forward out $fwd_out / back $fwd_back, input $input; the LAN host answered $far ($far_ppp) only through the masquerade"
fi

step "stop the link"
# shellcheck disable=SC2016 # expanded in the guest
on "$CLIENT_NAME" 'kill "$(cat /run/ppp0.pid)"; for i in $(seq 50); do [ -e /run/ppp0.pid ] || exit 0; sleep 0.2; done; exit 1' ||
    die "pppd did not stop"

printf '\nselftest passed (init %s):\n' "$init"
printf '  %-8s %-7s %-9s boot-to-ssh %5ss  host RSS %s MB\n' \
    "$SERVER_NAME" "$server_kernel" "$server_release" "$boot_server" "$(rss_mb "$SERVER_NAME")" \
    "$CLIENT_NAME" "$client_kernel" "$client_release" "$boot_client" "$(rss_mb "$CLIENT_NAME")"
printf '  link up %ss, ping rtt avg client->server %s ms, server->client %s ms\n' "$link" "$rtt_c" "$rtt_s"
printf '  nftables: %s\n' "$nft_result"
printf '  total %ss\n' "$(elapsed "$t_all")"
