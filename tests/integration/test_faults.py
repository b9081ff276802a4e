"""Faults on a fleet deployed with playbooks/site.yml: each is injected, the time to a working link
again is measured (tests/output/fault-timings.json, never asserted), and afterwards there is exactly
one pppd, one ssh and one ppp-NAME per link on both ends; the module's status agrees with the truth
meanwhile. fclient1 is supervised by its systemd unit, fclient2 by pppd itself."""
import json
import os
import subprocess
import time

import pytest

pytest.register_assert_rewrite('fleet')
from fleet import (  # noqa: E402
    CLIENTS, FCLIENT1, FSERVER, KEEPALIVE_WORST_S, MODULE, assert_single_link, assert_status_truthful,
    client_counts, server_link_pids, wait_link_gone, wait_working)
from guests import VENV_BIN, ansible_env, failures, rig, run_module  # noqa: E402

pytest_plugins = ['fleet']

RECOVERY_TIMEOUT_S = 120
IDS = [guest.name for guest in CLIENTS]
MAC = dict((guest.name, '02:00:c0:a8:d5:%02x' % int(guest.ip.rsplit('.', 1)[1])) for guest in (FSERVER,) + CLIENTS)


def client_link_pid(guest):
    return int(guest.out('head -1 /run/ppp-pppssh-%s.pid' % guest.name).strip())


def recovered(fleet, guest, fault_timings, key, injected_at):
    """After a fault: status stays truthful, the link works again by itself, nothing is duplicated."""
    assert_status_truthful(fleet, guest)
    wait_working(guest, RECOVERY_TIMEOUT_S)
    fault_timings[key] = round(time.time() - injected_at, 1)
    assert_single_link(guest)
    result = assert_status_truthful(fleet, guest)
    assert result['state'] == 'up', result
    assert result['cause'] is None, 'an up link reports no current cause: %r' % result['last_error']


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_client_ssh_killed(fleet, fault_timings, guest):
    assert_single_link(guest)
    pppd = client_link_pid(guest)
    old_server = server_link_pids(guest.name)
    started = time.time()
    # pppd runs its pty command through sh: the ssh is a grandchild of pppd.
    guest.sh('kill -9 $(pgrep -x ssh -P "$(pgrep -d, -P %d)")' % pppd)
    recovered(fleet, guest, fault_timings, 'client_ssh_killed_%s_s' % guest.name, started)
    assert client_link_pid(guest) == pppd, 'the same pppd redials (persist)'
    assert server_link_pids(guest.name) != old_server


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_server_sshd_child_killed(fleet, fault_timings, guest):
    assert_single_link(guest)
    old_server = server_link_pids(guest.name)
    # Walk up from the server's pppd of this link to the sshd process serving the session.
    killed = FSERVER.out('p=%d; while [ "$p" -gt 1 ]; do p=$(cut -d" " -f4 /proc/$p/stat); '
                         'if [ "$(cat /proc/$p/comm)" = sshd ]; then kill -9 $p; echo $p; break; fi; done'
                         % old_server[0]).strip()
    started = time.time()
    assert killed.isdigit(), 'no sshd above the server pppd'
    recovered(fleet, guest, fault_timings, 'server_sshd_killed_%s_s' % guest.name, started)
    assert server_link_pids(guest.name) != old_server


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_server_pppd_killed(fleet, fault_timings, guest):
    assert_single_link(guest)
    old_server = server_link_pids(guest.name)
    started = time.time()
    FSERVER.sh('kill -9 %d' % old_server[0])
    recovered(fleet, guest, fault_timings, 'server_pppd_killed_%s_s' % guest.name, started)
    assert server_link_pids(guest.name) != old_server


def bridge_cut(clients, on):
    """Drop every frame between the clients and the server on the rig bridge (host side, this fleet only)."""
    table = 'pppsshfault'
    netns = ['ip', 'netns', 'exec', 'pppssh-rig', 'nft']
    subprocess.run(netns + ['delete', 'table', 'bridge', table], capture_output=True, check=False)
    if not on:
        return
    rules = ['add table bridge %s' % table,
             'add chain bridge %s cut { type filter hook forward priority -200 ; policy accept ; }' % table]
    for guest in clients:
        for src, dst in ((guest.name, FSERVER.name), (FSERVER.name, guest.name)):
            rules.append('add rule bridge %s cut ether saddr %s ether daddr %s drop' % (table, MAC[src], MAC[dst]))
    subprocess.run(netns + ['-f', '-'], input='\n'.join(rules) + '\n', text=True, check=True)


def test_outer_network_cut_for_30_s(fleet, fault_timings):
    """Both clients lose the server for 30 s: each notices within the keepalive bound (its ppp-NAME
    loses its address), status says connecting/down with the cause, and each link comes back by
    itself once the network does."""
    for guest in CLIENTS:
        assert_single_link(guest)
    cut_s = 30
    started = time.time()
    bridge_cut(CLIENTS, True)
    try:
        gone = wait_link_gone(CLIENTS, cut_s, started)
        during = dict((guest.name, assert_status_truthful(fleet, guest)) for guest in CLIENTS)
        # A redialling link keeps one pppd and at most one ssh: no pile-up.
        counts = dict((guest.name, client_counts(guest)) for guest in CLIENTS)
        time.sleep(max(0, cut_s - (time.time() - started)))
    finally:
        bridge_cut(CLIENTS, False)
    restored = time.time()
    for guest in CLIENTS:
        fault_timings['network_cut_detected_%s_s' % guest.name] = gone[guest.name]
    for guest in CLIENTS:
        wait_working(guest, RECOVERY_TIMEOUT_S)
        fault_timings['network_cut_working_after_restore_%s_s' % guest.name] = round(time.time() - restored, 1)
    for guest in CLIENTS:
        assert gone[guest.name] is not None, 'ppp-%s kept its address during the whole cut' % guest.name
        # Bound: interval x (failures + 1); the slack covers polling a slow guest, not the product.
        assert gone[guest.name] <= KEEPALIVE_WORST_S + 5, gone
        assert during[guest.name]['state'] in ('connecting', 'down'), during[guest.name]
        assert during[guest.name]['cause'] in ('peer_dead', 'server_unreachable', 'timeout'), during[guest.name]
        assert counts[guest.name][0] == 1 and counts[guest.name][1] <= 1, counts
        assert_single_link(guest)


def test_server_reboot(fleet, fault_timings):
    """The server dies without a word (rig stop: SIGTERM to UML), then boots on the same disk: the
    clients' status turns connecting within the keepalive bound, and they reconnect by themselves."""
    for guest in CLIENTS:
        assert_single_link(guest)
    started = time.time()
    rig('stop', FSERVER.name)
    detected = wait_link_gone(CLIENTS, KEEPALIVE_WORST_S + 30, started)
    during = dict((guest.name, assert_status_truthful(fleet, guest)) for guest in CLIENTS)
    for guest in CLIENTS:
        fault_timings['server_reboot_detected_%s_s' % guest.name] = detected[guest.name]
    boot = time.time()
    rig('start', FSERVER.name, FSERVER.ip, '--init', 'shell')
    rig('wait', FSERVER.name, '240')
    FSERVER.connect()
    server_up = time.time()
    fault_timings['server_reboot_ssh_back_after_start_s'] = round(server_up - boot, 1)
    for guest in CLIENTS:
        wait_working(guest, RECOVERY_TIMEOUT_S)
        fault_timings['server_reboot_working_after_start_%s_s' % guest.name] = round(time.time() - boot, 1)
        fault_timings['server_reboot_working_after_ssh_back_%s_s' % guest.name] = round(time.time() - server_up, 1)
    assert all(detected.values()), 'ppp-NAME kept its address long after the server died: %r' % detected
    for guest in CLIENTS:
        assert during[guest.name]['state'] in ('connecting', 'down'), during[guest.name]
        assert_single_link(guest)
        assert assert_status_truthful(fleet, guest)['state'] == 'up'


def test_client_reboot_brings_the_link_up_at_boot(fleet, fault_timings):
    guest = FCLIENT1
    assert guest.out('cat /proc/1/comm').strip() == 'systemd'
    assert guest.out('systemctl is-enabled pppssh@%s.service' % guest.name).strip() == 'enabled'
    old_server = server_link_pids(guest.name)
    started = time.time()
    guest.sh('systemctl reboot', check=False, timeout=30)
    time.sleep(3)
    rig('wait', guest.name, '240')
    guest.connect()
    fault_timings['client_reboot_ssh_back_s'] = round(time.time() - started, 1)
    wait_working(guest, RECOVERY_TIMEOUT_S)
    fault_timings['client_reboot_link_working_s'] = round(time.time() - started, 1)
    assert guest.out('systemctl is-active pppssh@%s.service' % guest.name).strip() == 'active'
    assert_single_link(guest)
    assert server_link_pids(guest.name) != old_server
    result = assert_status_truthful(fleet, guest)
    assert result['state'] == 'up'


def playbook_of_calls(path, host, args, states):
    tasks = [{'name': 'call %02d %s' % (i, state), MODULE: dict(args, state=state)} for i, state in enumerate(states)]
    with open(path, 'w') as handle:
        json.dump([{'hosts': host, 'gather_facts': False, 'tasks': tasks}], handle, indent=1)
    return path


def test_twenty_calls_in_a_row(fleet, fault_timings, tmp_path):
    guest = FCLIENT1
    states = ['started', 'started', 'restarted', 'stopped', 'restarted'] * 4
    playbook = playbook_of_calls(str(tmp_path / 'calls.json'), guest.name, fleet.link_args(guest), states)
    started = time.time()
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', fleet.inventory, playbook],
                          capture_output=True, text=True, env=ansible_env(), timeout=1200, check=False)
    fault_timings['twenty_calls_s'] = round(time.time() - started, 1)
    report = json.loads(proc.stdout)
    assert failures(report) == []
    results = [task['hosts'][guest.name] for task in report['plays'][0]['tasks']]
    assert len(results) == 20
    previous = None
    for state, result in zip(states, results):
        if state == 'stopped':
            assert result['state'] == 'down' and result['pid'] is None, result
        else:
            assert result['state'] == 'up', result
        if state == 'restarted':
            assert result['changed'] and result['pid'] != previous
        if state == 'started' and previous is not None:
            assert not result['changed'] and result['pid'] == previous
        previous = result['pid']
    assert_single_link(guest)


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_two_concurrent_started_calls(fleet, guest):
    args = fleet.link_args(guest)
    assert fleet.module(guest, dict(args, state='stopped'))['state'] == 'down'
    argv = [os.path.join(VENV_BIN, 'ansible'), '-i', fleet.inventory, guest.name, '-m', MODULE,
            '-a', json.dumps(dict(args, state='started'))]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ansible_env())
             for _attempt in range(2)]
    results = []
    for proc in procs:
        out, _err = proc.communicate(timeout=300)
        results.append(json.loads(out)['plays'][0]['tasks'][0]['hosts'][guest.name])
    assert all(not r.get('failed') and r['state'] == 'up' for r in results), results
    assert sorted(r['changed'] for r in results) == [False, True], results
    assert results[0]['pid'] == results[1]['pid']
    assert_single_link(guest)
    assert run_module(fleet.inventory, guest.name, MODULE, {'name': guest.name, 'state': 'status'})[0]['pid'] \
        == results[0]['pid']
