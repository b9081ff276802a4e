#!/usr/bin/env bash
# net.sh up|down: the rig's network. Guests' taps sit on bridge rigbr0 inside
# netns pppssh-rig; the host reaches it through veth rig-host (192.168.213.1/24).
# The bridge is not in the main netns: there br_netfilter and Docker's
# FORWARD DROP policy drop guest-to-guest frames.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

nsip() { ip -n "$RIG_NETNS" "$@"; }
have_netns() { ip netns list | awk '{ print $1 }' | grep -qxF "$RIG_NETNS"; }

up() {
    have_netns || ip netns add "$RIG_NETNS"
    nsip link set lo up
    nsip link show "$RIG_BRIDGE" >/dev/null 2>&1 ||
        nsip link add "$RIG_BRIDGE" type bridge
    # The bridge itself carries no address: no IPv6 chatter, no routing.
    ip netns exec "$RIG_NETNS" sysctl -qw "net.ipv6.conf.$RIG_BRIDGE.disable_ipv6=1" 2>/dev/null || true
    nsip link set "$RIG_BRIDGE" up
    if ! ip link show "$RIG_HOST_IF" >/dev/null 2>&1; then
        ip link add "$RIG_HOST_IF" type veth peer name "$RIG_BR_PORT" netns "$RIG_NETNS"
    fi
    sysctl -qw "net.ipv6.conf.$RIG_HOST_IF.disable_ipv6=1" 2>/dev/null || true
    ip addr replace "$RIG_HOST_IP/24" dev "$RIG_HOST_IF"
    ip link set "$RIG_HOST_IF" up
    nsip link set "$RIG_BR_PORT" master "$RIG_BRIDGE" up
}

down() {
    local running
    running=$(all_guests | awk '{ printf " %s(%s)", $2, $4 }')
    [[ -z $running ]] ||
        die "guests still run in netns $RIG_NETNS:$running; use rig/rig down [--all]"
    ip link del "$RIG_HOST_IF" 2>/dev/null || true
    if have_netns; then ip netns del "$RIG_NETNS"; fi
}

need_root
need ip sysctl flock
# Test modules boot guests in parallel, from any rig dir: one net-up or net-down at a time.
exec 8>/run/pppssh-rig-net.lock
flock 8
case ${1:-} in
up) up ;;
down) down ;;
*) die "usage: net.sh up|down" ;;
esac
