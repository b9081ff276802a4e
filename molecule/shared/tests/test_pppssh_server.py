# -*- coding: utf-8 -*-
"""Server end (pppssh_server role): least privilege, whatever the platform."""

import re

from pppssh_testlib import SESSION_DEFAULTS, clients_of, content_lines, links_of

testinfra_hosts = ['ansible://pppssh_servers']

RUNS_PROGRAMS = re.compile(r'^\s*(pty|connect|disconnect|init|welcome|plugin|file|call)\b')
KEYS_DIR = '/etc/pppssh/authorized_keys'


def test_each_client_has_its_own_locked_system_account(host, inventory_name, fleet):
    for client in clients_of(fleet, inventory_name):
        account = host.user(client['account'])
        assert account.exists, client
        assert account.uid < 1000, 'the client account should be a system account'
        assert account.group == 'pppssh'
        assert account.home == '/var/lib/pppssh' and host.file(account.home).user == 'root'
        password = host.check_output('getent shadow %s' % client['account']).split(':')[1]
        assert password in ('*', '!', '!*') or password.startswith('!'), 'password login must be locked'


def test_authorized_keys_are_root_owned(host, inventory_name, fleet):
    directory = host.file(KEYS_DIR)
    assert directory.user == 'root' and directory.group == 'root' and directory.mode == 0o755
    for client in clients_of(fleet, inventory_name):
        keys = host.file('%s/%s' % (KEYS_DIR, client['account']))
        assert keys.user == 'root' and keys.group == 'root' and keys.mode == 0o644, keys.path


def test_each_account_holds_one_key_with_its_own_forced_command(host, inventory_name, fleet, hosts):
    # PPPSSH_KEY: the tag of the key, which the session entry point records (key rotation).
    forced = re.compile(r'^restrict,command="PPPSSH_KEY=[0-9a-f]{24} exec sudo -n /usr/local/sbin/pppssh-session '
                        r'([a-z][a-z0-9_-]{0,10})" '
                        r'(ssh-ed25519) ([A-Za-z0-9+/=]+) pppssh-([a-z][a-z0-9_-]{0,10})$')
    clients = clients_of(fleet, inventory_name)
    assert sorted(host.file(KEYS_DIR).listdir()) == sorted(c['account'] for c in clients)
    for client in clients:
        lines = content_lines(host, '%s/%s' % (KEYS_DIR, client['account']))
        assert len(lines) == 1, lines
        match = forced.match(lines[0])
        assert match, 'key line without restrict and its forced pppd call: %r' % lines[0]
        assert match.group(1) == match.group(4) == client['link']
        pub = hosts(client['host']).file('/etc/pppssh/keys/%s.pub' % client['link']).content_string
        assert '%s %s' % (match.group(2), match.group(3)) == ' '.join(pub.split()[:2]), \
            'the key of link %s is not the one of %s' % (client['link'], client['host'])


def test_sudoers_allows_each_account_only_its_own_session(host, inventory_name, fleet):
    rule = host.file('/etc/sudoers.d/pppssh')
    assert rule.user == 'root' and rule.group == 'root' and rule.mode == 0o440
    expected = [SESSION_DEFAULTS] + ['%s ALL=(root) NOPASSWD: /usr/local/sbin/pppssh-session %s' % (c['account'], c['link'])
                                     for c in clients_of(fleet, inventory_name)]
    assert sorted(content_lines(host, '/etc/sudoers.d/pppssh')) == sorted(expected)
    assert host.run('visudo -c').rc == 0


def test_sudo_refuses_free_pppd_arguments_and_other_clients_links(host, inventory_name, fleet):
    clients = clients_of(fleet, inventory_name)
    for client in clients:
        user = client['account']
        allowed = host.run('runuser -u %s -- sudo -n -l /usr/local/sbin/pppssh-session %s' % (user, client['link']))
        assert allowed.rc == 0, allowed.stderr
        others = ['/usr/local/sbin/pppssh-session %s' % other['link'] for other in clients if other is not client]
        others += ['/usr/sbin/pppd call pppssh-%s' % other['link'] for other in clients]
        for argv in others + ['/usr/local/sbin/pppssh-session --stop %s' % client['link'],
                              '/usr/sbin/pppd nodetach notty noauth', '/usr/sbin/pppd file /etc/shadow',
                              '/usr/sbin/pppd call ../../../tmp/x', '/bin/sh']:
            refused = host.run('runuser -u %s -- sudo -n -l %s' % (user, argv))
            assert refused.rc != 0, 'sudo allows %s: %s' % (user, argv)


def test_peers_files_are_private_and_run_nothing(host, inventory_name, fleet, allocations):
    for link in links_of(fleet, inventory_name):
        path = '/etc/ppp/peers/pppssh-%s' % link
        peers = host.file(path)
        assert peers.exists, path
        assert peers.user == 'root' and peers.group == 'root' and peers.mode == 0o600, path
        lines = [line.strip() for line in content_lines(host, path)]
        pair = allocations[inventory_name][link]
        assert '%s:%s' % (pair['server_ip'], pair['client_ip']) in lines
        assert 'ifname ppp-%s' % link in lines
        assert 'linkname pppssh-%s' % link in lines
        assert not [line for line in lines if RUNS_PROGRAMS.match(line)], \
            '%s has an option that runs programs' % path


def test_sshd_config_is_valid_and_confines_every_client_account(host, inventory_name, fleet):
    assert host.run('/usr/sbin/sshd -t').rc == 0
    dropin = host.file('/etc/ssh/sshd_config.d/00-pppssh.conf')
    assert dropin.user == 'root' and dropin.mode == 0o644
    assert not host.file('/etc/ssh/sshd_config.d/pppssh.conf').exists
    for client in clients_of(fleet, inventory_name):
        effective = host.check_output('/usr/sbin/sshd -T -C user=%s,host=client.invalid,addr=192.0.2.1'
                                      % client['account']).lower()
        settings = dict(line.split(None, 1) for line in effective.splitlines() if ' ' in line)
        assert settings['authorizedkeysfile'] == '%s/%%u' % KEYS_DIR
        assert settings['authenticationmethods'] == 'publickey'
        assert settings['passwordauthentication'] == 'no'
        assert settings['permittty'] == 'no'
        assert settings['allowtcpforwarding'] == 'no'
        assert settings['permittunnel'] == 'no'


def test_allocation_state_is_private(host):
    state = host.file('/etc/pppssh/server-allocations.json')
    assert state.user == 'root' and state.mode == 0o600
