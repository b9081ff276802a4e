# -*- coding: utf-8 -*-
"""On guests with kernel PPP the link is live: it survives a killed ssh connection, Ansible can
stop and start it, and the client's key gets no shell on the server (the forced command wins)."""

import json
import time

from pppssh_testlib import ppp_interfaces, processes, tunnel_status

testinfra_hosts = ['ansible://pppssh_clients']

RECOVERY_WAIT_S = 60


def my_link(inventory_name, fleet):
    links = [c for c in fleet['clients'] if c['host'] == inventory_name]
    assert len(links) == 1, links
    return links[0]


def ssh_descendants(host, pppd_pid):
    """The ssh pppd runs as its pty (through /bin/sh -c), found by parent ids."""
    rows = processes(host)
    family, found = {pppd_pid}, True
    while found:
        found = False
        for pid, ppid, _user, _comm in rows:
            if ppid in family and pid not in family:
                family.add(pid)
                found = True
    return sorted(pid for pid, _ppid, _user, comm in rows if pid in family and comm == 'ssh')


def test_link_redials_after_its_ssh_is_killed(host, inventory_name, fleet, ansible_hosts, hosts, allocations,
                                              live):
    client = my_link(inventory_name, fleet)
    before = tunnel_status(ansible_hosts(inventory_name), client['link'])
    assert before['state'] == 'up', before
    [ssh] = ssh_descendants(host, before['pid'])
    host.run('kill -9 %d' % ssh)
    deadline = time.time() + RECOVERY_WAIT_S
    while time.time() < deadline:
        status = tunnel_status(ansible_hosts(inventory_name), client['link'])
        if status['state'] == 'up' and ssh_descendants(host, status['pid']) not in ([], [ssh]):
            break
        time.sleep(1)
    else:
        raise AssertionError('no new ssh connection within %d s' % RECOVERY_WAIT_S)
    assert status['pid'] == before['pid'], 'the same pppd redials (persist)'
    assert [p[0] for p in processes(host) if p[3] == 'pppd'] == [before['pid']], 'exactly one pppd'
    assert ppp_interfaces(host) == ['ppp-%s' % client['link']]
    pair = allocations[client['server']][client['link']]
    host.check_output('ping -c 3 -W 2 %s' % pair['server_ip'])
    server = hosts(client['server'])
    server_links = [line for line in server.check_output('ip -4 -o addr show').splitlines()
                    if ' peer %s/' % pair['client_ip'] in line]
    assert len(server_links) == 1, 'one server interface for this client: %s' % server_links


def test_ansible_stops_and_starts_the_link(host, inventory_name, fleet, ansible_hosts, allocations, live):
    client = my_link(inventory_name, fleet)
    runner = ansible_hosts(inventory_name)
    config = tunnel_status(runner, client['link'])['config']
    stopped = runner.ansible('pppssh.vpn.pppssh_tunnel', 'name=%s state=stopped' % client['link'], check=False)
    assert stopped['changed'] is True and stopped['state'] == 'down', stopped
    assert ppp_interfaces(host) == []
    assert [p for p in processes(host) if p[3] in ('pppd', 'ssh')] == []
    args = dict((key, value) for key, value in config.items()
                if key not in ('interface', 'peers_file') and value not in (None, {}))
    started = runner.ansible('pppssh.vpn.pppssh_tunnel', json.dumps(args), check=False)
    assert started.get('failed') is not True, started
    assert started['changed'] is True and started['state'] == 'up', started
    pair = allocations[client['server']][client['link']]
    host.check_output('ping -c 3 -W 2 %s' % pair['server_ip'])
    assert runner.ansible('pppssh.vpn.pppssh_tunnel', json.dumps(args), check=False)['changed'] is False


def test_client_key_gets_no_shell(host, inventory_name, fleet, ansible_hosts, live):
    client = my_link(inventory_name, fleet)
    server_address = tunnel_status(ansible_hosts(inventory_name), client['link'])['config']['server']
    user = client['account']
    ssh = ('timeout 20 ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes '
           '-o UserKnownHostsFile=/etc/pppssh/known_hosts -i /etc/pppssh/keys/%s %s@%s'
           % (client['link'], user, server_address))
    # The forced command answers with PPP frames (binary), whatever command was asked for: keep
    # printable bytes only. "; echo" keeps ssh's own exit code 255 from reading as a testinfra
    # backend failure.
    printable = "{ %s%s id </dev/null; echo \"exit=$?\"; } 2>&1 | tr -c '[:print:]\\n' '?'"
    for tty in ('', ' -tt'):
        out = host.run(printable % (ssh, tty)).stdout
        assert 'uid=' not in out and 'exit=' in out, out
