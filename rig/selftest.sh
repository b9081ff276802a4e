#!/usr/bin/env bash
# Prove the rig: two guests, the HOWTO's PPP-over-SSH link between them, pings across it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SERVER=192.168.213.10
CLIENT=192.168.213.11
rig() { "$RIG_SRC/rig" "$@"; }
on() { local g=$1; shift; rig ssh "$g" "$@"; }
step() { printf '\n== %s\n' "$*" >&2; }
if [[ -n $(rig list | awk '$4 == "running"') ]]; then
    die "guests are running (rig/rig list); selftest ends with 'rig down', so run that first"
fi
trap 'step "teardown"; rig down' EXIT

t_all=$(now)
step "image"
rig image
step "net-up, boot server and client1"
rig net-up
t0=$(now)
rig start server "$SERVER" --fresh
rig start client1 "$CLIENT" --fresh
rig wait server 120
rig wait client1 120
boot=$(elapsed "$t0")

step "configure the server's vpn user and the client's key"
on client1 'test -s /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519'
pub=$(on client1 cat /root/.ssh/id_ed25519.pub)
on server "id vpn >/dev/null 2>&1 || useradd -m -s /bin/sh -p '*' vpn
    install -d -o vpn -g vpn -m 700 /home/vpn/.ssh
    printf '%s\n' '$pub' >/home/vpn/.ssh/authorized_keys
    chown vpn:vpn /home/vpn/.ssh/authorized_keys
    echo 'vpn ALL=(root) NOPASSWD: /usr/sbin/pppd' >/etc/sudoers.d/vpn
    chmod 440 /etc/sudoers.d/vpn"

step "bring up the PPP-over-SSH link"
t0=$(now)
if ! on client1 "pppd updetach noauth passive pty 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no vpn@$SERVER sudo -n /usr/sbin/pppd nodetach notty noauth' ipparam vpn 10.213.0.2:10.213.0.1 </dev/null >/tmp/ppp.log 2>&1"; then
    on client1 cat /tmp/ppp.log >&2 || true
    die "pppd on the client failed"
fi
link=$(elapsed "$t0")
on client1 ip -br addr show ppp0
on server ip -br addr show ppp0

step "ping across the link"
rtt() { awk -F/ '/^rtt/ { print $5 }'; }
rtt_c=$(on client1 ping -c 5 -i 0.2 -W 2 10.213.0.1 | rtt)
rtt_s=$(on server ping -c 5 -i 0.2 -W 2 10.213.0.2 | rtt)
[[ -n $rtt_c && -n $rtt_s ]] || die "ping across the link failed"

step "stop the link"
# shellcheck disable=SC2016 # expanded in the guest
on client1 'kill "$(cat /run/ppp0.pid)"; for i in $(seq 50); do [ -e /run/ppp0.pid ] || exit 0; sleep 0.2; done; exit 1' ||
    die "pppd did not stop"

printf '\nselftest passed: two guests boot-to-ssh %ss, link up %ss, ping rtt avg client->server %s ms, server->client %s ms, total %ss\n' \
    "$boot" "$link" "$rtt_c" "$rtt_s" "$(elapsed "$t_all")"
