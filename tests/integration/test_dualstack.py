"""Dual-stack and IPv6-only links and per-link DNS, live: one site.yml run on guests of this module,
shared by its tests.

dserver has pppssh_server_pool6 beside its IPv4 pool, so both its clients' links carry IPv4 and IPv6
(IPV6CP), with an IPv6 subnet behind dserver (fd22::/64 on a dummy) and one behind dclient2
(fd21:2::/64). d6server has only pppssh_server_pool6: its client d6client's link carries IPv6 only.
Every guest boots with IPv6 on (rig start --ipv6); the rig network itself stays IPv4 only.

The client dclient1 runs systemd with systemd-resolved (and D-Bus), installed into the guest from
Debian's packages at the guest's own systemd/D-Bus versions (apt-get download on the host, cached in
the rig dir): the rig image has neither. A small resolver on the server answers for corp.test; the
client's link gets it as a route-only domain (pppssh_client_dns), so names under corp.test resolve
through the server only while the link is up. dclient2 (shell init, neither resolved nor resolvconf)
has the same setting: its /etc/resolv.conf is left as it was.

Guests (addresses 192.168.213.180-189 only): dserver .180 (shell init), dclient1 .181 (systemd),
dclient2 .182 (shell init), d6server .183 and d6client .184 (shell init).
"""
import json
import os
import subprocess

import pytest

from guests import REPO, RIG, RIG_DIR, Guest, changed_tasks, failures, rig, run_playbook

SITE = os.path.join(REPO, 'playbooks', 'site.yml')

SERVER = Guest('dserver', '192.168.213.180')
CLIENT1 = Guest('dclient1', '192.168.213.181')
CLIENT2 = Guest('dclient2', '192.168.213.182')
SERVER6 = Guest('d6server', '192.168.213.183')
CLIENT6 = Guest('d6client', '192.168.213.184')
INIT = {'dserver': 'shell', 'dclient1': 'systemd', 'dclient2': 'shell', 'd6server': 'shell', 'd6client': 'shell'}
POOL6 = 'fd13:213::/64'
POOL6_ONLY = 'fd13:214::/64'
SERVER_LAN6, SERVER_HOST6 = 'fd22::/64', 'fd22::1'
CLIENT2_LAN6, CLIENT2_HOST6 = 'fd21:2::/64', 'fd21:2::1'

DNS = {'servers': ['server'], 'domains': ['~corp.test']}
ANSWER = '192.0.2.7'

# A resolver for corp.test on the server: A queries for names under it get ANSWER, others NXDOMAIN.
RESOLVER = r"""
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53))
while True:
    data, peer = s.recvfrom(4096)
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    pos, labels = 12, []
    while data[pos]:
        labels.append(data[pos + 1:pos + 1 + data[pos]].decode().lower()); pos += 1 + data[pos]
    question = data[12:pos + 5]
    qtype = struct.unpack(">H", data[pos + 1:pos + 3])[0]
    name = ".".join(labels)
    ours = name == "corp.test" or name.endswith(".corp.test")
    answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("%s") if ours and qtype == 1 else b""
    rcode = 0 if ours else 3
    s.sendto(struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 1 if answer else 0, 0, 0) + question + answer, peer)
""" % ANSWER


def debs(guest):
    """systemd-resolved and D-Bus at the versions of the guest's own systemd and libdbus, downloaded
    once into the rig dir: [(file name, bytes)]."""
    versions = dict(line.split() for line in guest.out(
        "dpkg-query -W -f '${Package} ${Version}\\n' systemd libdbus-1-3").splitlines())
    wanted = ['systemd-resolved=%s' % versions['systemd']] + [
        '%s=%s' % (name, versions['libdbus-1-3'])
        for name in ('dbus', 'dbus-bin', 'dbus-daemon', 'dbus-system-bus-common', 'dbus-session-bus-common')]
    cache = os.path.join(RIG_DIR, 'debs')
    os.makedirs(cache, exist_ok=True)
    files = []
    for spec in wanted:
        name, version = spec.split('=')
        matches = [f for f in os.listdir(cache) if f.startswith('%s_%s_' % (name, version.replace(':', '%3a')))]
        if not matches:
            proc = subprocess.run(['apt-get', 'download', spec], cwd=cache, capture_output=True, text=True,
                                  timeout=300, check=False)
            assert proc.returncode == 0, 'apt-get download %s: %s' % (spec, proc.stderr[-2000:])
            matches = [f for f in os.listdir(cache) if f.startswith('%s_%s_' % (name, version.replace(':', '%3a')))]
        files.append(matches[0])
    return [(name, open(os.path.join(cache, name), 'rb').read()) for name in files]


def install_resolved(guest):
    guest.sh('mkdir -p /tmp/debs')
    for name, data in debs(guest):
        subprocess.run([RIG, 'ssh', guest.name, 'cat > /tmp/debs/%s' % name], input=data, check=True, timeout=120,
                       capture_output=True)
    guest.sh('dpkg -i /tmp/debs/*.deb >/tmp/debs/install.log 2>&1 && systemctl start dbus systemd-resolved && '
             'resolvectl status >/dev/null', timeout=300)


def write_inventory(path):
    clients = {CLIENT1.name: {'ansible_host': CLIENT1.ip, 'pppssh_client_dns': DNS, 'pppssh_client_server': SERVER.name},
               CLIENT2.name: {'ansible_host': CLIENT2.ip, 'pppssh_client_dns': DNS, 'pppssh_client_server': SERVER.name,
                              'pppssh_client_subnets': [CLIENT2_LAN6]},
               CLIENT6.name: {'ansible_host': CLIENT6.ip, 'pppssh_client_server': SERVER6.name}}
    servers = {SERVER.name: {'ansible_host': SERVER.ip, 'pppssh_server_pool6': POOL6,
                             'pppssh_server_subnets': [SERVER_LAN6]},
               SERVER6.name: {'ansible_host': SERVER6.ip, 'pppssh_server_pool': '', 'pppssh_server_pool6': POOL6_ONLY}}
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {'pppssh_servers': {'hosts': servers},
                     'pppssh_clients': {'hosts': clients}}}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


@pytest.fixture(scope='module')
def fleet(tmp_path_factory, timings):
    guests = (SERVER, CLIENT1, CLIENT2, SERVER6, CLIENT6)
    rig('image', timeout=1800)
    rig('net-up')
    for guest in guests:
        rig('destroy', guest.name, check=False)
        rig('start', guest.name, guest.ip, '--init', INIT[guest.name], '--ipv6', '--fresh')
    try:
        for guest in guests:
            rig('wait', guest.name, '180')
        # The LANs behind the server and behind dclient2, before site.yml gathers their facts.
        for guest, host in ((SERVER, SERVER_HOST6), (CLIENT2, CLIENT2_HOST6)):
            guest.sh('ip link add lan6 type dummy && ip -6 addr add %s/64 dev lan6 nodad && ip link set lan6 up' % host)
        install_resolved(CLIENT1)
        SERVER.sh("cat >/tmp/resolver.py <<'EOF'\n%s\nEOF\n(python3 /tmp/resolver.py >/tmp/resolver.log 2>&1 &) ; "
                  "true" % RESOLVER)
        before = CLIENT2.out('cat /etc/resolv.conf')
        path = write_inventory(str(tmp_path_factory.mktemp('ds') / 'inv.json'))
        report, seconds = run_playbook(path, SITE)
        assert failures(report) == []
        timings['dualstack_site_run_s'] = round(seconds, 1)
        yield {'inventory': path, 'resolv_conf': before}
    finally:
        if not os.environ.get('PPPSSH_KEEP_GUESTS'):
            for guest in guests:
                rig('destroy', guest.name, check=False)


def resolves(guest, name):
    """The addresses resolved gives for ``name`` (cache bypassed), [] when it cannot."""
    proc = guest.sh('resolvectl query --cache=no --legend=no -4 %s' % name, check=False, timeout=60)
    return [word for word in proc.stdout.split() if word.count('.') == 3 and word[0].isdigit()] \
        if proc.returncode == 0 else []


def server_end(guest):
    words = guest.out('ip -4 -o addr show dev ppp-%s' % guest.name).split()
    return words[words.index('peer') + 1].split('/')[0]


def test_a_name_under_the_link_domain_resolves_through_the_server_only_while_the_link_is_up(fleet):
    link = 'ppp-%s' % CLIENT1.name
    assert server_end(CLIENT1) in CLIENT1.out('resolvectl dns %s' % link)
    assert '~corp.test' in CLIENT1.out('resolvectl domain %s' % link)
    assert resolves(CLIENT1, 'www.corp.test') == [ANSWER]
    CLIENT1.sh('systemctl stop pppssh@%s.service' % CLIENT1.name)
    CLIENT1.wait_for(lambda: not CLIENT1.link_addressed(), 30, 'the link down')
    assert link not in CLIENT1.out('resolvectl dns')
    assert resolves(CLIENT1, 'www.corp.test') == []
    # Up again without Ansible: the ip-up hook applies it.
    CLIENT1.sh('systemctl start pppssh@%s.service' % CLIENT1.name)
    CLIENT1.wait_for(CLIENT1.link_addressed, 60, 'the link up')
    CLIENT1.wait_for(lambda: resolves(CLIENT1, 'www.corp.test') == [ANSWER], 30, 'www.corp.test resolved')


def test_without_resolved_or_resolvconf_resolv_conf_is_left_alone(fleet):
    assert CLIENT2.link_addressed()
    assert CLIENT2.sh('test -x /etc/ppp/ip-up.d/pppssh-client-dns').returncode == 0
    assert CLIENT2.out('cat /etc/resolv.conf') == fleet['resolv_conf']


def addresses6(guest):
    """(local, peer) of the IPv6 pair on the guest's link, or (None, None)."""
    proc = guest.sh('ip -6 -o addr show dev ppp-%s scope global' % guest.name, check=False)
    for line in proc.stdout.splitlines():
        words = line.split()
        if 'peer' in words:
            return words[words.index('inet6') + 1], words[words.index('peer') + 1].split('/')[0]
    return None, None


def pings6(guest, address, source=None):
    return guest.sh('ping -6 -c 2 -W 5 %s%s' % ('-I %s ' % source if source else '', address),
                    check=False, timeout=60).returncode == 0


def test_a_dual_stack_link_carries_both_families_both_ways(fleet):
    local6, peer6 = addresses6(CLIENT2)
    assert (local6, peer6) != (None, None), CLIENT2.out('ip -o addr show dev ppp-%s' % CLIENT2.name)
    assert local6.startswith('fd13:213::') and peer6.startswith('fd13:213::')
    assert pings6(CLIENT2, peer6) and pings6(SERVER, local6)
    assert CLIENT2.sh('ping -4 -c 2 -W 5 %s' % server_end(CLIENT2), check=False).returncode == 0
    # IPV6CP agreed on the interface identifiers of the allocated pair: fe80::<last 64 bits>.
    link_local = CLIENT2.out('ip -6 -o addr show dev ppp-%s scope link' % CLIENT2.name)
    assert 'fe80::%s' % local6.split('::')[1] in link_local, link_local


def test_ipv6_subnets_on_both_sides_are_routed_through_the_link(fleet):
    assert pings6(CLIENT2, SERVER_HOST6), CLIENT2.out('ip -6 route')
    assert pings6(SERVER, CLIENT2_HOST6), SERVER.out('ip -6 route')
    # dclient1 has no subnet of its own but the server's is routed to it too.
    assert 'fd22::/64 dev ppp-%s' % CLIENT1.name in CLIENT1.out('ip -6 route')


def test_an_ipv6_only_link_has_no_ipv4(fleet):
    local6, peer6 = addresses6(CLIENT6)
    assert local6 and local6.startswith('fd13:214::'), CLIENT6.out('ip -o addr show dev ppp-%s' % CLIENT6.name)
    assert pings6(CLIENT6, peer6) and pings6(SERVER6, local6)
    assert CLIENT6.out('ip -4 -o addr show dev ppp-%s' % CLIENT6.name) == ''
    assert 'noip' in SERVER6.out('cat /etc/ppp/peers/pppssh-%s' % CLIENT6.name).split()


def test_the_ipv6_pair_comes_back_after_a_redial_without_ansible(fleet):
    before = addresses6(CLIENT6)
    ssh = CLIENT6.processes('ssh')
    assert ssh, 'no ssh under the link'
    CLIENT6.sh('kill -KILL %s' % ' '.join(str(pid) for pid in ssh))
    CLIENT6.wait_for(lambda: CLIENT6.processes('ssh') and not set(CLIENT6.processes('ssh')) & set(ssh)
                     and addresses6(CLIENT6) == before, 120, 'a new ssh and the IPv6 pair back')
    assert pings6(CLIENT6, before[1])


def test_a_rerun_changes_nothing(fleet):
    report, _seconds = run_playbook(fleet['inventory'], SITE)
    assert failures(report) == []
    assert changed_tasks(report) == []
