# -*- coding: utf-8 -*-
"""Server end (pppssh_server role): least privilege, whatever the platform."""

import re

from pppssh_testlib import content_lines, links_of

testinfra_hosts = ['ansible://pppssh_servers']

RUNS_PROGRAMS = re.compile(r'^\s*(pty|connect|disconnect|init|welcome|plugin|file|call)\b')


def server_of(inventory_name, fleet):
    return inventory_name, fleet['users'][inventory_name]


def mode(host, path):
    return host.file(path).mode


def test_vpn_user_is_a_locked_system_account(host, inventory_name, fleet):
    name, user = server_of(inventory_name, fleet)
    account = host.user(user)
    assert account.exists
    assert account.uid < 1000, 'the VPN user should be a system account'
    password = host.check_output('getent shadow %s' % user).split(':')[1]
    assert password in ('*', '!', '!*') or password.startswith('!'), 'password login must be locked'


def test_authorized_keys_are_root_owned(host, inventory_name, fleet):
    _name, user = server_of(inventory_name, fleet)
    home = host.user(user).home
    ssh_dir, keys = host.file(home + '/.ssh'), host.file(home + '/.ssh/authorized_keys')
    for item in (ssh_dir, keys):
        assert item.user == 'root' and item.group == 'root', '%s must be root-owned' % item.path
        assert item.mode & 0o022 == 0, '%s must not be group/world writable' % item.path
    assert ssh_dir.mode == 0o755
    assert keys.mode == 0o644


def test_authorized_keys_force_the_per_client_command(host, inventory_name, fleet, hosts):
    name, user = server_of(inventory_name, fleet)
    path = host.user(user).home + '/.ssh/authorized_keys'
    forced = re.compile(r'^restrict,command="sudo -n /usr/sbin/pppd call pppssh-([a-z][a-z0-9_-]{0,10})" '
                        r'(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+) (\S+)( .*)?$')
    found = {}
    for line in content_lines(host, path):
        match = forced.match(line)
        assert match, 'authorized_keys line without restrict and forced pppd call: %r' % line
        found[match.group(1)] = '%s %s' % (match.group(2), match.group(3))
    assert sorted(found) == links_of(fleet, name)
    for client in fleet['clients']:
        if client['server'] == name:
            pub = hosts(client['host']).file('/etc/pppssh/keys/%s.pub' % client['link']).content_string
            assert found[client['link']] == ' '.join(pub.split()[:2]), \
                'the key of link %s is not the one of %s' % (client['link'], client['host'])


def test_sudoers_allows_only_the_per_client_pppd_call(host, inventory_name, fleet):
    name, user = server_of(inventory_name, fleet)
    rule = host.file('/etc/sudoers.d/pppssh')
    assert rule.user == 'root' and rule.group == 'root' and rule.mode == 0o440
    expected = ['%s ALL=(root) NOPASSWD: /usr/sbin/pppd call pppssh-%s' % (user, link)
                for link in links_of(fleet, name)]
    assert sorted(content_lines(host, '/etc/sudoers.d/pppssh')) == sorted(expected)
    assert host.run('visudo -c').rc == 0


def test_sudo_refuses_free_pppd_arguments(host, inventory_name, fleet):
    name, user = server_of(inventory_name, fleet)
    for link in links_of(fleet, name):
        allowed = host.run('runuser -u %s -- sudo -n -l /usr/sbin/pppd call pppssh-%s' % (user, link))
        assert allowed.rc == 0, allowed.stderr
    for argv in ('/usr/sbin/pppd nodetach notty noauth', '/usr/sbin/pppd file /etc/shadow',
                 '/usr/sbin/pppd call ../../../tmp/x', '/bin/sh'):
        refused = host.run('runuser -u %s -- sudo -n -l %s' % (user, argv))
        assert refused.rc != 0, 'sudo allows %s: %s' % (user, argv)


def test_peers_files_are_root_owned_and_run_nothing(host, inventory_name, fleet, allocations):
    name, _user = server_of(inventory_name, fleet)
    for link in links_of(fleet, name):
        path = '/etc/ppp/peers/pppssh-%s' % link
        peers = host.file(path)
        assert peers.exists, path
        assert peers.user == 'root' and peers.group == 'root'
        assert peers.mode & 0o022 == 0, '%s must not be group/world writable' % path
        lines = [line.strip() for line in content_lines(host, path)]
        pair = allocations[name][link]
        assert '%s:%s' % (pair['server_ip'], pair['client_ip']) in lines
        assert 'ifname ppp-%s' % link in lines
        assert 'linkname pppssh-%s' % link in lines
        assert not [line for line in lines if RUNS_PROGRAMS.match(line)], \
            '%s has an option that runs programs' % path


def test_sshd_config_is_valid_and_confines_the_vpn_user(host, inventory_name, fleet):
    _name, user = server_of(inventory_name, fleet)
    assert host.run('/usr/sbin/sshd -t').rc == 0
    dropin = host.file('/etc/ssh/sshd_config.d/pppssh.conf')
    assert dropin.user == 'root' and dropin.mode == 0o644
    effective = host.check_output('/usr/sbin/sshd -T -C user=%s,host=client.invalid,addr=192.0.2.1' % user).lower()
    settings = dict(line.split(None, 1) for line in effective.splitlines() if ' ' in line)
    assert settings['authenticationmethods'] == 'publickey'
    assert settings['passwordauthentication'] == 'no'
    assert settings['permittty'] == 'no'
    assert settings['allowtcpforwarding'] == 'no'
    assert settings['permittunnel'] == 'no'


def test_allocation_state_is_private(host):
    state = host.file('/etc/pppssh/server-allocations.json')
    assert state.user == 'root' and state.mode == 0o600
