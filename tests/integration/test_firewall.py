"""Forwarding, firewall, masquerading and client isolation applied by playbooks/site.yml and
exercised live on a server that runs Debian's own kernel (QEMU, rig --kernel debian): the UML
kernel has no nf_tables for the inet family, so these rules could only be syntax-checked there.
kclient1 runs Debian's kernel too: its own nft table (anti-spoofing, firewall, MSS clamping) is
checked live, and a host behind it downloads through a tunnel whose MTU is below the LANs'.
kclient2 is a UML guest (Ansible is several times slower on a TCG guest): its side of the
anti-spoofing is the strict rp_filter, which UML has, and it forwards without MSS clamping
(UML has no nftables inet family; PPPSSH_FIREWALL_CLIENT_KERNEL=uml runs kclient1 on UML too,
without the client table and the download test).

Guests (addresses 192.168.213.150-159 only), each with a LAN host in a network namespace:
  kserver   .150  Debian kernel  server, LAN 172.20.0.0/24 (host .10), forwarding + firewall, shaper
  kclient1  .151  Debian kernel  client, LAN 172.21.1.0/24 (host .10), forwarding + firewall, tunnel MTU 1280,
                                 outer MTU 1280
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
KERNEL = {'kserver': 'debian', 'kclient1': os.environ.get('PPPSSH_FIREWALL_CLIENT_KERNEL', 'debian'),
          'kclient2': 'uml'}
CLIENT_NFT = KERNEL['kclient1'] == 'debian'
LAN = {'kserver': '172.20.0', 'kclient1': '172.21.1', 'kclient2': '172.21.2'}
# Below the LANs' 1500: forwarded TCP must be clamped to it (mru: what the server may send to kclient1).
TUNNEL_MTU = 1280


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
                               'pppssh_client_forwarding': True, 'pppssh_client_firewall': CLIENT_NFT,
                               'pppssh_client_mss_clamp': CLIENT_NFT,
                               'pppssh_client_mtu': TUNNEL_MTU, 'pppssh_client_mru': TUNNEL_MTU},
                # UML: no nftables inet family, so no table (and no MSS clamping) on this client
                CLIENT2.name: {'ansible_host': CLIENT2.ip, 'pppssh_client_subnets': ['172.21.2.0/24'],
                               'pppssh_client_forwarding': True, 'pppssh_client_mss_clamp': False},
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
        if CLIENT_NFT:
            CLIENT1.sh('ip link set eth0 mtu 1280')  # the outer link too (the ssh stream under the tunnel)
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
        # (with its own firewall on, kclient1 already drops what its LAN sends: not a server subnet)
        assert not lan_ping(CLIENT1, '172.21.2.10', count=3), 'client1 LAN reached client2 LAN'
        assert CLIENT1.sh('ping -n -q -c 3 -W 2 %s' % local2, check=False).returncode != 0
    finally:
        for route in routes:
            CLIENT1.sh('ip route del %s dev ppp-kclient1' % route, check=False)
    assert counter(SERVER, 'pppssh_server', 'forward', 'iifname "ppp-*" counter') >= before + 3


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


# Run in the LAN behind a client: fetch URL, print "BYTES SECONDS ERROR"; a read that waits READ_TIMEOUT s
# for the next bytes counts as a stall.
DOWNLOAD = r'''
import socket, sys, time, urllib.request
url, read_timeout = sys.argv[1], float(sys.argv[2])
got, error, started = 0, '-', time.time()
try:
    with urllib.request.urlopen(url, timeout=read_timeout) as reply:
        while True:
            chunk = reply.read(65536)
            if not chunk:
                break
            got += len(chunk)
except (OSError, socket.timeout) as exc:
    error = type(exc).__name__
print(got, round(time.time() - started, 1), error)
'''
DOWNLOAD_SIZE = 10 * 1024 * 1024


def download(read_timeout):
    """(bytes, seconds, error) of a download of 10 MB by the host behind kclient1 from the host behind kserver."""
    words = CLIENT1.out("ip netns exec lan python3 /tmp/download.py http://172.20.0.10:8080/big %d"
                        % read_timeout, timeout=600).split()
    return int(words[0]), float(words[1]), words[2]


@pytest.fixture
def path_mtu_black_hole(fleet):
    """A web server behind kserver whose LAN drops ICMP "fragmentation needed": the path-MTU black
    hole a middlebox makes. Without MSS clamping, its full-size segments then never cross the tunnel."""
    if not CLIENT_NFT:
        pytest.skip('kclient1 runs UML (PPPSSH_FIREWALL_CLIENT_KERNEL=uml): no nftables for the clamp')
    SERVER.sh('mkdir -p /tmp/www && head -c %d /dev/urandom > /tmp/www/big && '
              '(ip netns exec lan setsid python3 -m http.server 8080 --bind 172.20.0.10 --directory /tmp/www '
              '>/tmp/www.log 2>&1 </dev/null &) && '
              'ip netns exec lan nft add table ip blackhole && '
              'ip netns exec lan nft "add chain ip blackhole input { type filter hook input priority 0; }" && '
              'ip netns exec lan nft add rule ip blackhole input icmp type destination-unreachable '
              'icmp code frag-needed counter drop && '
              # SYNs announcing more than the tunnel can carry (the MSS the clamp lowers)
              'ip netns exec lan nft add rule ip blackhole input tcp dport 8080 tcp flags syn '
              'tcp option maxseg size gt %d counter' % (DOWNLOAD_SIZE, TUNNEL_MTU - 40))
    CLIENT1.sh("cat > /tmp/download.py <<'EOF'\n%sEOF" % DOWNLOAD)
    try:
        yield
    finally:
        SERVER.sh('pkill -f "http.server 8080"; ip netns exec lan nft delete table ip blackhole; '
                  'nft -f /etc/pppssh/server.nft', check=False)
        CLIENT1.sh('nft -f /etc/pppssh/client.nft', check=False)


def black_hole_counts():
    """(ICMP "fragmentation needed" dropped, SYNs announcing an MSS too large for the tunnel) at the web server."""
    text = SERVER.out('ip netns exec lan nft list chain ip blackhole input')
    return (int(re.search(r'frag-needed counter packets (\d+)', text).group(1)),
            int(re.search(r'maxseg size > \d+ counter packets (\d+)', text).group(1)))


def test_mss_clamping_keeps_a_download_through_a_smaller_tunnel_mtu_from_stalling(path_mtu_black_hole):
    assert ' mtu %d ' % TUNNEL_MTU in SERVER.out('ip -o link show dev ppp-kclient1')
    assert 'mtu 1280' in CLIENT1.out('ip -o link show dev eth0')
    assert 'maxseg size set rt mtu' in CLIENT1.out('nft list chain inet pppssh_client mss')
    assert 'maxseg size set rt mtu' in SERVER.out('nft list chain inet pppssh_server mss')

    # The control: without the clamp on either end, the download stalls in the black hole.
    SERVER.sh('nft flush chain inet pppssh_server mss')
    CLIENT1.sh('nft flush chain inet pppssh_client mss')
    got, _seconds, error = download(read_timeout=20)
    assert got < DOWNLOAD_SIZE and error != '-', 'no stall without MSS clamping: %d bytes, %s' % (got, error)
    dropped, large_syns = black_hole_counts()
    assert dropped > 0, 'the server LAN never got (and dropped) a "fragmentation needed"'
    assert large_syns >= 1, 'the unclamped SYN announced no MSS above the tunnel\'s'

    # With the role's tables as written: the SYN fits the tunnel, and the whole file arrives with no
    # read waiting 60 s.
    SERVER.sh('nft -f /etc/pppssh/server.nft')
    CLIENT1.sh('nft -f /etc/pppssh/client.nft')
    got, seconds, error = download(read_timeout=60)
    assert (got, error) == (DOWNLOAD_SIZE, '-'), 'clamped download: %d of %d bytes, %s' % (got, DOWNLOAD_SIZE, error)
    assert black_hole_counts()[1] == large_syns, 'a SYN still announced an MSS above the tunnel\'s'
    print('10 MB through the clamped %d-byte tunnel in %.1f s (%.2f Mbit/s)'
          % (TUNNEL_MTU, seconds, DOWNLOAD_SIZE * 8 / seconds / 1e6))


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
