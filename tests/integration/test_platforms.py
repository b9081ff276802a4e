"""playbooks/site.yml on the Debian releases the roles claim: a trixie server with a trixie client,
and the same server with a bookworm client (a mixed pair); links up, pings both ways, rerun changed=0.

The controller is the oldest ansible-core that meta/runtime.yml claims (OLDEST, from its make
matrix venv): converge and idempotence on it, then a rerun on the newest (the main venv) that must
change nothing either. The other suites converge on the newest.

Guests (addresses 192.168.213.100-119 only), shell init, booted in parallel:
  pserver   .100  trixie    the pppssh server
  pclient1  .101  trixie    client: the trixie pair
  pclient2  .102  bookworm  client: the mixed pair (bookworm client, trixie server)

The guests run the UML kernel by default (fast); PPPSSH_PLATFORMS_KERNEL=debian runs the same
test on QEMU guests with each release's own Debian kernel (much slower: site.yml took 19 min
there, against ~3 min on UML).
PPPSSH_KEEP_GUESTS=1 keeps the guests after the module. Wall time 6-9.5 min on the 2-core
machine while other suites ran (two site.yml runs of 160-310 s each; the trixie image build, ~2 min,
comes first when its stamp is stale).
"""
import json
import os
import re
import subprocess

import pytest

from guests import REPO, RIG_DIR, Guest, changed_tasks, controller, failures, rig, run_playbook_output

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
KERNEL = os.environ.get('PPPSSH_PLATFORMS_KERNEL', 'uml')
SERVER = Guest('pserver', '192.168.213.100')
TRIXIE_CLIENT = Guest('pclient1', '192.168.213.101')
BOOKWORM_CLIENT = Guest('pclient2', '192.168.213.102')
CLIENTS = (TRIXIE_CLIENT, BOOKWORM_CLIENT)
RELEASE = {SERVER.name: 'trixie', TRIXIE_CLIENT.name: 'trixie', BOOKWORM_CLIENT.name: 'bookworm'}
VERSION_ID = {'bookworm': '12', 'trixie': '13'}
with open(os.path.join(REPO, 'meta', 'runtime.yml')) as _runtime:
    OLDEST = re.search(r'requires_ansible:\s*["\']>=(\d+\.\d+)', _runtime.read()).group(1)


def write_inventory(path):
    common = {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
              'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
              'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'}
    if KERNEL == 'debian':
        # Under TCG on a busy 2-core host, two links dialled at once onto one server took longer
        # than the default 30 s to come up.
        common['pppssh_client_connect_timeout'] = 120
    inventory = {'all': {
        'vars': common,
        'children': {
            'pppssh_servers': {'hosts': {SERVER.name: {'ansible_host': SERVER.ip}}},
            'pppssh_clients': {'hosts': dict((guest.name, {'ansible_host': guest.ip}) for guest in CLIENTS)},
        }}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


def link_addresses(guest):
    """(local, peer) of the client's ppp-NAME interface, or None."""
    words = guest.out('ip -4 -o addr show dev ppp-%s 2>/dev/null; true' % guest.name).split()
    if 'peer' not in words:
        return None
    return words[words.index('inet') + 1], words[words.index('peer') + 1].split('/')[0]


def pings(source, address):
    return source.sh('ping -n -q -c 3 -i 0.2 -W 2 %s' % address, check=False).returncode == 0


def site(inventory_path, version=OLDEST):
    """site.yml from the ansible-core ``version`` controller (None: the newest, the main venv)."""
    report, seconds, output = run_playbook_output(inventory_path, SITE, bin_dir=controller(version))
    return report, round(seconds, 1), output


@pytest.fixture(scope='module')
def platforms(tmp_path_factory):
    for release in sorted(set(RELEASE.values())):
        rig('image', '--release', release, timeout=1800)
    rig('net-up')
    guests = (SERVER,) + CLIENTS
    for guest in guests:
        rig('destroy', guest.name, check=False)
    # rig start returns at once: the three guests boot at the same time.
    for guest in guests:
        rig('start', guest.name, guest.ip, '--fresh', '--kernel', KERNEL, '--release', RELEASE[guest.name])
    try:
        for guest in guests:
            rig('wait', guest.name, '300' if KERNEL == 'debian' else '180')
        yield write_inventory(str(tmp_path_factory.mktemp('platforms') / 'inventory.json'))
    finally:
        if not os.environ.get('PPPSSH_KEEP_GUESTS'):
            for guest in guests:
                rig('destroy', guest.name, check=False)


@pytest.fixture(scope='module')
def converged(platforms, timings):
    report, seconds, output = site(platforms)
    timings['platforms_%s_site_first_run_s' % KERNEL] = seconds
    assert failures(report) == [], output[-3000:]
    return report


def test_each_guest_runs_its_release(platforms):
    for guest in (SERVER,) + CLIENTS:
        os_release = guest.out('. /etc/os-release && echo "$VERSION_CODENAME $VERSION_ID"').split()
        assert os_release == [RELEASE[guest.name], VERSION_ID[RELEASE[guest.name]]], guest.name


def test_both_links_come_up(converged):
    pairs = dict((guest.name, link_addresses(guest)) for guest in CLIENTS)
    assert all(pairs.values()), pairs
    assert len(SERVER.ppp_interfaces()) == 2, SERVER.ppp_interfaces()


@pytest.mark.parametrize('client', CLIENTS, ids=['trixie-trixie', 'trixie-server-bookworm-client'])
def test_pings_cross_the_link_both_ways(converged, client):
    local, remote = link_addresses(client)
    assert pings(client, remote), '%s -> server end %s' % (client.name, remote)
    assert pings(SERVER, local), 'server -> %s end %s' % (client.name, local)


def test_the_converge_ran_on_the_oldest_claimed_ansible_core():
    version = subprocess.run([os.path.join(controller(OLDEST), 'ansible-playbook'), '--version'],
                             capture_output=True, text=True, check=True).stdout.splitlines()[0]
    assert 'core %s.' % OLDEST in version, version


@pytest.mark.parametrize('version', [OLDEST, None], ids=['oldest-ansible-core', 'newest-ansible-core'])
def test_second_run_changes_nothing(converged, platforms, timings, version):
    report, seconds, output = site(platforms, version)
    timings['platforms_%s_site_rerun_%s_s' % (KERNEL, version or 'newest')] = seconds
    assert failures(report) == [], output[-3000:]
    assert changed_tasks(report) == []
    assert all(stats['changed'] == 0 for stats in report['stats'].values())
