"""playbooks/site.yml rolls out a fleet: one server, two pool clients (one with a LAN behind it)
and one client with fixed addresses; a rerun changes nothing; removing a client leaves the others up."""
import json
import os
import re

import pytest

from guests import REPO, RIG_DIR, Guest, booted, changed_tasks, failures, run_playbook

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
SERVER = Guest('sserver', '192.168.213.50')
POOL1 = Guest('sclient1', '192.168.213.51')
POOL2 = Guest('sclient2', '192.168.213.52')
FIXED = Guest('sclient3', '192.168.213.53')
CLIENTS = (POOL1, POOL2, FIXED)
LAN_BEHIND_POOL2 = '172.30.2.0/24'
LAN_HOST = '172.30.2.1'
# The role's one Defaults line: sudo executes the session entry point in its own place (issue 17).
SESSION_DEFAULTS = 'Defaults!/usr/local/sbin/pppssh-session !pam_session, !pam_setcred, !use_pty, env_keep += "PPPSSH_KEY"'
QUEUE_RATE = '3600Kbit'   # tc prints the rate the roles were given as 3600kbit


def write_inventory(path, absent=()):
    clients = {}
    for guest in CLIENTS:
        clients[guest.name] = {'ansible_host': guest.ip}
        if guest.name in absent:
            clients[guest.name]['pppssh_client_state'] = 'absent'
    clients[POOL2.name]['pppssh_client_subnets'] = [LAN_BEHIND_POOL2]
    clients[FIXED.name].update(pppssh_client_local_ip='10.99.0.2', pppssh_client_remote_ip='10.99.0.1',
                               pppssh_client_queue_bandwidth='3600kbit')
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {
            'pppssh_servers': {'hosts': {SERVER.name: {'ansible_host': SERVER.ip,
                                                       'pppssh_server_queue_bandwidth': '3600kbit'}}},
            'pppssh_clients': {'hosts': clients},
        }}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


def link_addresses(guest):
    """(local, peer) of the client's ppp-NAME interface, or None."""
    text = guest.out('ip -4 -o addr show dev ppp-%s 2>/dev/null; true' % guest.name)
    words = text.split()
    if 'peer' not in words:
        return None
    return words[words.index('inet') + 1], words[words.index('peer') + 1].split('/')[0]


def pings(source, address):
    return source.sh('ping -n -q -c 3 -i 0.2 -W 2 %s' % address, check=False).returncode == 0


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    with booted((SERVER,) + CLIENTS):
        # A LAN behind client 2 (HOWTO section 8): one address stands for the whole subnet.
        POOL2.sh('ip link add lan0 type dummy && ip addr add %s/24 dev lan0 && ip link set lan0 up' % LAN_HOST)
        yield str(tmp_path_factory.mktemp('fleet') / 'inventory.json')


@pytest.fixture(scope='module')
def converged(fleet, timings):
    report, seconds = run_playbook(write_inventory(fleet), SITE)
    timings['site_first_run_s'] = round(seconds, 1)
    timings['site_tasks_per_host'] = dict((host, stats['ok'] + stats['changed'] + stats['skipped'])
                                          for host, stats in report['stats'].items())
    assert failures(report) == []
    return report


def test_every_link_comes_up_with_distinct_addresses(converged):
    pairs = dict((guest.name, link_addresses(guest)) for guest in CLIENTS)
    assert all(pairs.values()), pairs
    assert pairs[FIXED.name] == ('10.99.0.2', '10.99.0.1')
    used = [address for pair in pairs.values() for address in pair]
    assert len(used) == len(set(used)), pairs
    server_ppp = SERVER.ppp_interfaces()
    assert len(server_ppp) == 3, server_ppp


def test_pings_cross_every_tunnel_both_ways(converged):
    for guest in CLIENTS:
        local, remote = link_addresses(guest)
        assert pings(guest, remote), '%s -> server end %s' % (guest.name, remote)
        assert pings(SERVER, local), 'server -> %s end %s' % (guest.name, local)


def test_the_lan_behind_a_client_is_routed_from_the_server(converged):
    assert pings(SERVER, LAN_HOST)


def test_second_run_changes_nothing(converged, fleet, timings):
    report, seconds = run_playbook(write_inventory(fleet), SITE)
    timings['site_rerun_s'] = round(seconds, 1)
    assert failures(report) == []
    assert changed_tasks(report) == []
    assert all(stats['changed'] == 0 for stats in report['stats'].values())


def test_server_grants_each_key_its_own_session_only(converged):
    sudoers = SERVER.out('cat /etc/sudoers.d/pppssh')
    rules = sorted(line for line in sudoers.splitlines() if line.strip() and not line.startswith('#'))
    assert rules == sorted([SESSION_DEFAULTS] + ['pppssh-%s ALL=(root) NOPASSWD: /usr/local/sbin/pppssh-session %s'
                                                 % (g.name, g.name) for g in CLIENTS]), rules
    for guest in CLIENTS:
        keys = SERVER.out('cat /etc/pppssh/authorized_keys/pppssh-%s' % guest.name)
        lines = [line for line in keys.splitlines() if line.strip() and not line.startswith('#')]
        assert len(lines) == 1, lines
        # PPPSSH_KEY: the tag of the key, which the session entry point records (key rotation).
        assert re.match(r'restrict,command="PPPSSH_KEY=[0-9a-f]{24} exec sudo -n /usr/local/sbin/pppssh-session %s" '
                        r'ssh-ed25519 ' % guest.name, lines[0]), lines


def shaper(guest, iface):
    """The rate of the shaper on an interface's root (cake, or htb where the kernel lacks it), or None."""
    qdisc = guest.out('tc qdisc show dev %s root 2>/dev/null; true' % iface)
    if qdisc.startswith('qdisc cake'):
        words = qdisc.split()
        return words[words.index('bandwidth') + 1]
    if qdisc.startswith('qdisc htb'):
        classes = guest.out('tc class show dev %s' % iface).split()
        return classes[classes.index('rate') + 1]
    return None


def test_queue_bandwidth_shapes_both_ends_and_survives_a_reconnect(converged):
    iface = 'ppp-%s' % FIXED.name
    assert shaper(FIXED, iface) == QUEUE_RATE
    assert shaper(SERVER, iface) == QUEUE_RATE
    assert shaper(POOL1, 'ppp-%s' % POOL1.name) is None, 'no bandwidth given: no shaper'
    # The ip-up hooks put it back on the new interfaces after the link redials.
    index = FIXED.out('cat /sys/class/net/%s/ifindex' % iface).strip()
    FIXED.sh('kill -9 $(pgrep -x ssh -P "$(pgrep -d, -P $(head -1 /run/ppp-pppssh-%s.pid))")' % FIXED.name)
    FIXED.wait_for(lambda: FIXED.out('cat /sys/class/net/%s/ifindex 2>/dev/null; true' % iface).strip()
                   not in ('', index), 60, 'the link redialled')
    FIXED.wait_for(lambda: shaper(FIXED, iface) == QUEUE_RATE, 15, 'shaper back on the client')
    SERVER.wait_for(lambda: shaper(SERVER, iface) == QUEUE_RATE, 15, 'shaper back on the server')
    assert pings(FIXED, '10.99.0.1')


def test_removing_a_client_leaves_the_others_up(converged, fleet, timings):
    kept = (POOL2, FIXED)
    pids = dict((guest.name, guest.processes('pppd')) for guest in kept)
    report, seconds = run_playbook(write_inventory(fleet, absent=(POOL1.name,)), SITE)
    timings['site_remove_one_client_s'] = round(seconds, 1)
    assert failures(report) == []
    POOL1.wait_for(lambda: not POOL1.processes('pppd'), 10, 'pppd gone')
    assert POOL1.ppp_interfaces() == []
    assert POOL1.sh('ls /etc/pppssh/keys/%s' % POOL1.name, check=False).returncode != 0
    assert POOL1.sh('ls /etc/ppp/peers/pppssh-%s' % POOL1.name, check=False).returncode != 0
    assert 'pppssh-%s' % POOL1.name not in SERVER.out('cat /etc/sudoers.d/pppssh')
    assert SERVER.sh('ls /etc/pppssh/authorized_keys/pppssh-%s' % POOL1.name, check=False).returncode != 0
    assert SERVER.sh('getent passwd pppssh-%s' % POOL1.name, check=False).returncode != 0
    assert SERVER.sh('ls /etc/ppp/peers/pppssh-%s' % POOL1.name, check=False).returncode != 0
    SERVER.wait_for(lambda: len(SERVER.ppp_interfaces()) == 2, 15, 'two server links left')
    for guest in kept:
        assert guest.processes('pppd') == pids[guest.name], '%s link was restarted' % guest.name
        assert pings(guest, link_addresses(guest)[1])
