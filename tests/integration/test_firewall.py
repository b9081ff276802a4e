"""Forwarding, firewall, masquerading and client isolation applied by playbooks/site.yml and
exercised live on a server that runs Debian's own kernel (QEMU, rig --kernel debian): the UML
kernel has no nf_tables for the inet family, so these rules could only be syntax-checked there.
The clients are UML guests (Ansible is several times slower on a TCG guest): their side of the
anti-spoofing is the strict rp_filter, which UML has; the client's own nft table is checked where
the kernel has inet tables (set PPPSSH_FIREWALL_CLIENT_KERNEL=debian to run kclient1 on QEMU too).

Guests (addresses 192.168.213.150-159 only), each with a LAN host in a network namespace:
  kserver   .150  Debian kernel  server, LAN 172.20.0.0/24 (host .10), forwarding + firewall, shaper
  kclient1  .151  UML            client, LAN 172.21.1.0/24 (host .10), forwarding
  kclient2  .152  UML            client, LAN 172.21.2.0/24 (host .10), forwarding
"""
import json
import os
import re

import pytest

from guests import REPO, RIG_DIR, Guest, changed_tasks, failures, rig, run_playbook

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
SERVER = Guest('kserver', '192.168.213.150')
CLIENT1 = Guest('kclient1', '192.168.213.151')
CLIENT2 = Guest('kclient2', '192.168.213.152')
KERNEL = {'kserver': 'debian', 'kclient1': os.environ.get('PPPSSH_FIREWALL_CLIENT_KERNEL', 'uml'),
          'kclient2': 'uml'}
CLIENT_NFT = KERNEL['kclient1'] == 'debian'
LAN = {'kserver': '172.20.0', 'kclient1': '172.21.1', 'kclient2': '172.21.2'}


def add_lan(guest):
    """A LAN host (netns "lan", address .10) behind the guest's own .1 on a veth pair."""
    net = LAN[guest.name]
    guest.sh('ip netns add lan && ip link add lanh type veth peer name lanp && ip link set lanp netns lan && '
             'ip addr add {n}.1/24 dev lanh && ip link set lanh up && ip -n lan link set lo up && '
             'ip -n lan addr add {n}.10/24 dev lanp && ip -n lan link set lanp up && '
             'ip -n lan route add default via {n}.1'.format(n=net))


def write_inventory(path, **server_extra):
    server = {'ansible_host': SERVER.ip, 'pppssh_server_subnets': ['172.20.0.0/24'],
              'pppssh_server_forwarding': True, 'pppssh_server_firewall': True,
              'pppssh_server_queue_bandwidth': '3600kbit'}
    server.update(server_extra)
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
                 # The server runs under TCG: on a busy host its end of a link (session entry
                 # point, sudo, pppd) took longer than the default 30 s to come up.
                 'pppssh_client_connect_timeout': 120},
        'children': {
            'pppssh_servers': {'hosts': {SERVER.name: server}},
            'pppssh_clients': {'hosts': {
                CLIENT1.name: {'ansible_host': CLIENT1.ip, 'pppssh_client_subnets': ['172.21.1.0/24'],
                               'pppssh_client_forwarding': True, 'pppssh_client_firewall': CLIENT_NFT},
                CLIENT2.name: {'ansible_host': CLIENT2.ip, 'pppssh_client_subnets': ['172.21.2.0/24'],
                               'pppssh_client_forwarding': True},
            }},
        }}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    guests = (SERVER, CLIENT1, CLIENT2)
    rig('image', timeout=1800)
    rig('net-up')
    for guest in guests:
        rig('destroy', guest.name, check=False)
        rig('start', guest.name, guest.ip, '--kernel', KERNEL[guest.name], '--fresh')
    try:
        for guest in guests:
            # A TCG guest boots in ~20 s on an idle host and took minutes at load 12 or more.
            rig('wait', guest.name, '600' if KERNEL[guest.name] == 'debian' else '240')
            add_lan(guest)
        report, _seconds = run_playbook(write_inventory(str(tmp_path_factory.mktemp('fw') / 'inv.json')), SITE)
        assert failures(report) == []
        yield str(tmp_path_factory.mktemp('fw2'))
    finally:
        if not os.environ.get('PPPSSH_KEEP_GUESTS'):
            for guest in guests:
                rig('destroy', guest.name, check=False)


def lan_ping(source, address, count=2):
    return source.sh('ip netns exec lan ping -n -q -c %d -W 2 %s' % (count, address), check=False).returncode == 0


def tunnel_addresses(guest):
    """(local, peer) of the client's ppp interface."""
    words = guest.out('ip -4 -o addr show dev ppp-%s' % guest.name).split()
    return words[words.index('inet') + 1], words[words.index('peer') + 1].split('/')[0]


def counter(guest, table, chain, rule_words):
    """Packets counted by the first rule of ``chain`` holding ``rule_words``."""
    text = guest.out('nft list chain inet %s %s' % (table, chain))
    for line in text.splitlines():
        if rule_words in line and 'counter packets' in line:
            return int(re.search(r'counter packets (\d+)', line).group(1))
    raise AssertionError('no counted rule %r in %s %s:\n%s' % (rule_words, table, chain, text))


def test_the_debian_kernel_loaded_the_inet_tables(fleet):
    assert 'table inet pppssh_server' in SERVER.out('nft list tables')
    assert SERVER.out('uname -r').strip().endswith('-amd64')
    if CLIENT_NFT:
        assert 'table inet pppssh_client' in CLIENT1.out('nft list tables')


def test_hosts_behind_server_and_client_reach_each_other(fleet):
    assert lan_ping(SERVER, '172.21.1.10'), 'server LAN -> client1 LAN'
    assert lan_ping(CLIENT1, '172.20.0.10'), 'client1 LAN -> server LAN'
    assert lan_ping(CLIENT2, '172.20.0.10'), 'client2 LAN -> server LAN'


def test_clients_do_not_reach_each_other_and_the_drop_is_counted(fleet):
    # Client 1 gets no route to client 2: it adds them by hand, as a compromised client would.
    local2, _peer2 = tunnel_addresses(CLIENT2)
    routes = ('172.21.2.0/24', '%s/32' % local2)
    for route in routes:
        CLIENT1.sh('ip route replace %s dev ppp-kclient1' % route)
    before = counter(SERVER, 'pppssh_server', 'forward', 'iifname "ppp-*" counter')
    try:
        assert not lan_ping(CLIENT1, '172.21.2.10', count=3), 'client1 LAN reached client2 LAN'
        assert CLIENT1.sh('ping -n -q -c 2 -W 2 %s' % local2, check=False).returncode != 0
    finally:
        for route in routes:
            CLIENT1.sh('ip route del %s dev ppp-kclient1' % route, check=False)
    assert counter(SERVER, 'pppssh_server', 'forward', 'iifname "ppp-*" counter') >= before + 5


def test_a_spoofed_source_is_dropped_on_the_server(fleet):
    spoofed, _peer = tunnel_addresses(CLIENT2)
    _local, server_end = tunnel_addresses(CLIENT1)
    rule = 'iifname "ppp-kclient1"'
    before = counter(SERVER, 'pppssh_server', 'prerouting', rule)
    CLIENT1.sh('ip addr add %s/32 dev lo' % spoofed)
    try:
        assert CLIENT1.sh('ping -n -q -c 3 -W 1 -I %s %s' % (spoofed, server_end), check=False).returncode != 0
    finally:
        CLIENT1.sh('ip addr del %s/32 dev lo' % spoofed)
    assert counter(SERVER, 'pppssh_server', 'prerouting', rule) >= before + 3
    assert CLIENT1.sh('ping -n -q -c 2 -W 2 %s' % server_end, check=False).returncode == 0


def reverse_path_drops(guest):
    """IPReversePathFilter of /proc/net/netstat: packets the strict rp_filter dropped."""
    lines = [line.split() for line in guest.out('grep ^IpExt: /proc/net/netstat; grep ^TcpExt: /proc/net/netstat')
             .splitlines()]
    for names, values in zip(lines[::2], lines[1::2]):
        if 'IPReversePathFilter' in names:
            return int(values[names.index('IPReversePathFilter')])
    raise AssertionError('no IPReversePathFilter counter')


def test_a_spoofed_source_from_the_server_is_dropped_on_the_client(fleet):
    local, _server_end = tunnel_addresses(CLIENT1)
    before = (counter(CLIENT1, 'pppssh_client', 'prerouting', 'iifname "ppp-kclient1"') if CLIENT_NFT
              else reverse_path_drops(CLIENT1))
    SERVER.sh('ip addr add 192.0.2.99/32 dev lo')
    try:
        assert SERVER.sh('ping -n -q -c 3 -W 1 -I 192.0.2.99 %s' % local, check=False).returncode != 0
    finally:
        SERVER.sh('ip addr del 192.0.2.99/32 dev lo')
    after = (counter(CLIENT1, 'pppssh_client', 'prerouting', 'iifname "ppp-kclient1"') if CLIENT_NFT
             else reverse_path_drops(CLIENT1))
    assert after >= before + 3


def test_the_queue_shaper_is_cake_on_a_distribution_kernel(fleet):
    qdisc = SERVER.out('tc qdisc show dev ppp-kclient1 root')
    assert qdisc.startswith('qdisc cake') and 'bandwidth 3600Kbit' in qdisc, qdisc


def udp_source_seen(receiver, sender, address):
    """The source address a LAN host behind ``receiver`` sees for a datagram from the LAN behind ``sender``."""
    receiver.sh("(ip netns exec lan timeout 15 python3 -c 'import socket; s = socket.socket(socket.AF_INET, "
                "socket.SOCK_DGRAM); s.bind((\"0.0.0.0\", 9999)); print(s.recvfrom(64)[1][0])' "
                ">/tmp/udp-source 2>&1 &) ; sleep 2")
    sender.sh("ip netns exec lan python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              "[s.sendto(b\"x\", (\"%s\", 9999)) for _ in range(3)]'" % address)
    receiver.wait_for(lambda: receiver.out('cat /tmp/udp-source').strip() != '', 15, 'a datagram')
    return receiver.out('cat /tmp/udp-source').strip()


def test_client_to_client_and_masquerade_when_asked(fleet):
    assert udp_source_seen(CLIENT1, SERVER, '172.21.1.10') == '172.20.0.10'  # routed, not masqueraded
    report, _seconds = run_playbook(write_inventory(os.path.join(fleet, 'inv.json'),
                                                    pppssh_server_client_to_client=True,
                                                    pppssh_server_masquerade=True), SITE)
    assert failures(report) == []
    assert changed_tasks(report)
    assert lan_ping(CLIENT1, '172.21.2.10', count=3), 'client_to_client: client1 LAN -> client2 LAN'
    _local, server_end = tunnel_addresses(CLIENT1)
    assert udp_source_seen(CLIENT1, SERVER, '172.21.1.10') == server_end  # masqueraded by the server
