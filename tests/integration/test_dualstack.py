"""Per-link DNS, live: one site.yml run on guests of this module, shared by its tests.

The client dclient1 runs systemd with systemd-resolved (and D-Bus), installed into the guest from
Debian's packages at the guest's own systemd/D-Bus versions (apt-get download on the host, cached in
the rig dir): the rig image has neither. A small resolver on the server answers for corp.test; the
client's link gets it as a route-only domain (pppssh_client_dns), so names under corp.test resolve
through the server only while the link is up. dclient2 (shell init, neither resolved nor resolvconf)
has the same setting: its /etc/resolv.conf is left as it was.

Guests (addresses 192.168.213.180-189 only): dserver .180 (shell init), dclient1 .181 (systemd),
dclient2 .182 (shell init).
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
INIT = {'dserver': 'shell', 'dclient1': 'systemd', 'dclient2': 'shell'}
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
    clients = {CLIENT1.name: {'ansible_host': CLIENT1.ip, 'pppssh_client_dns': DNS},
               CLIENT2.name: {'ansible_host': CLIENT2.ip, 'pppssh_client_dns': DNS}}
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {'pppssh_servers': {'hosts': {SERVER.name: {'ansible_host': SERVER.ip}}},
                     'pppssh_clients': {'hosts': clients}}}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


@pytest.fixture(scope='module')
def fleet(tmp_path_factory, timings):
    guests = (SERVER, CLIENT1, CLIENT2)
    rig('image', timeout=1800)
    rig('net-up')
    for guest in guests:
        rig('destroy', guest.name, check=False)
        rig('start', guest.name, guest.ip, '--init', INIT[guest.name], '--fresh')
    try:
        for guest in guests:
            rig('wait', guest.name, '180')
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


def test_a_rerun_changes_nothing(fleet):
    report, _seconds = run_playbook(fleet['inventory'], SITE)
    assert failures(report) == []
    assert changed_tasks(report) == []
