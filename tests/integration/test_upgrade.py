"""Upgrade in place: a fleet deployed by the last release before per-client accounts (one shared
"vpn" account, commit b2f3dc9) is migrated by the next site.yml run, its links dropping for at
most one redial, and nothing of the shared account is left behind.

Guests (addresses 192.168.213.160-169 only): userver .160, uclient .161 (shell init).
"""
import json
import os
import subprocess
import time

import pytest

from guests import REPO, RIG_DIR, Guest, ansible_env, booted, changed_tasks, failures, run_playbook_output

OLD_RELEASE = 'b2f3dc9'
SERVER = Guest('userver', '192.168.213.160')
CLIENT = Guest('uclient', '192.168.213.161')


def collection_at(commit, root):
    """The collection as it was at ``commit``, unpacked as ansible_collections/pppssh/vpn under ``root``."""
    target = os.path.join(root, 'ansible_collections', 'pppssh', 'vpn')
    os.makedirs(target)
    archive = subprocess.run(['git', '-C', REPO, 'archive', commit], capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', target], input=archive, check=True)
    return root


def inventory(path):
    key = os.path.join(RIG_DIR, 'id_ed25519')
    data = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': key,
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {'pppssh_servers': {'hosts': {SERVER.name: {'ansible_host': SERVER.ip}}},
                     'pppssh_clients': {'hosts': {CLIENT.name: {'ansible_host': CLIENT.ip}}}}}}
    with open(path, 'w') as handle:
        json.dump(data, handle)
    return path


def site(collections, playbook_root, inventory_path, inject_facts='False'):
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_INJECT_FACT_VARS=inject_facts)
    report, seconds, _out = run_playbook_output(inventory_path, os.path.join(playbook_root, 'playbooks', 'site.yml'),
                                                env=env)
    assert failures(report) == [], failures(report)
    return report, seconds


@pytest.fixture(scope='module')
def old_fleet(tmp_path_factory):
    old = collection_at(OLD_RELEASE, str(tmp_path_factory.mktemp('old')))
    with booted([SERVER, CLIENT]):
        path = inventory(str(tmp_path_factory.mktemp('inv') / 'inventory.json'))
        # The old release as its users ran it: Ansible's defaults, facts injected as variables.
        site(old, os.path.join(old, 'ansible_collections', 'pppssh', 'vpn'), path, inject_facts='True')
        assert 'vpn:' in SERVER.out('getent passwd vpn')
        yield path


def test_the_next_run_moves_links_to_their_own_accounts_within_one_redial(old_fleet, timings):
    remote = CLIENT.out("ip -4 -o addr show dev ppp-%s | sed -n 's/.* peer \\([0-9.]*\\).*/\\1/p'" % CLIENT.name).strip()
    assert remote
    # Ping across the link every 0.2 s for the whole run; the longest gap is the migration's cost.
    CLIENT.sh('(ping -n -D -i 0.2 -W 1 %s > /tmp/upgrade-ping.log 2>&1 &) ; true' % remote)
    try:
        report, seconds = site(os.path.join(REPO, '.build', 'collections'), REPO, old_fleet)
        time.sleep(5)
    finally:
        CLIENT.sh('pkill -x ping; true')
    stamps = [float(line.split(']')[0][1:]) for line in CLIENT.out('cat /tmp/upgrade-ping.log').splitlines()
              if line.startswith('[') and 'bytes from' in line]
    assert stamps, 'no ping crossed the link'
    longest = max(b - a for a, b in zip(stamps, stamps[1:]))
    timings['upgrade_site_run_s'] = round(seconds, 1)
    timings['upgrade_longest_link_gap_s'] = round(longest, 1)
    assert longest < 10, 'the link was down for %.1f s' % longest
    assert changed_tasks(report)
    # The shared account and its files are gone; the link runs as the client's own account.
    assert SERVER.sh('getent passwd vpn', check=False).returncode != 0
    assert SERVER.sh('test -e /var/lib/pppssh/.ssh/authorized_keys || test -e /etc/ssh/sshd_config.d/pppssh.conf',
                     check=False).returncode != 0
    sessions = SERVER.out('ps -eo user:20=,args= | grep "[s]shd: pppssh-%s"; true' % CLIENT.name)
    assert sessions.strip(), 'no session of pppssh-%s' % CLIENT.name
    report, _seconds = site(os.path.join(REPO, '.build', 'collections'), REPO, old_fleet)
    assert changed_tasks(report) == []
