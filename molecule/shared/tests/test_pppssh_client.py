# -*- coding: utf-8 -*-
"""Client end (pppssh_client role): key, pinned host key and boot unit, whatever the platform."""

import pytest

testinfra_hosts = ['ansible://pppssh_clients']


def links_here(inventory_name, fleet):
    return [c for c in fleet['clients'] if c['host'] == inventory_name]


def test_key_directory_and_private_key(host, inventory_name, fleet):
    keys = host.file('/etc/pppssh/keys')
    assert keys.is_directory and keys.user == 'root' and keys.mode == 0o700
    for client in links_here(inventory_name, fleet):
        key = host.file('/etc/pppssh/keys/%s' % client['link'])
        assert key.user == 'root' and key.group == 'root' and key.mode == 0o600
        assert host.file('/etc/pppssh/keys/%s.pub' % client['link']).exists
        assert 'ED25519' in host.check_output('ssh-keygen -l -f /etc/pppssh/keys/%s' % client['link'])


def test_server_host_key_is_pinned(host, inventory_name, fleet, hosts):
    known = host.file('/etc/pppssh/known_hosts')
    assert known.user == 'root' and known.mode & 0o022 == 0
    entries = [line.split() for line in known.content_string.splitlines() if line.strip()]
    for client in links_here(inventory_name, fleet):
        server_key = hosts(client['server']).file('/etc/ssh/ssh_host_ed25519_key.pub').content_string.split()[:2]
        assert [e[1:3] for e in entries] == [server_key], 'known_hosts must pin exactly the server key'


def test_boot_unit_is_installed_with_systemd(host, inventory_name, fleet):
    if not host.file('/run/systemd/system').is_directory:
        pytest.skip('no systemd: the module supervises pppd itself, there is no unit')
    unit = host.file('/etc/systemd/system/pppssh@.service')
    assert unit.user == 'root' and unit.mode == 0o644
    for client in links_here(inventory_name, fleet):
        assert host.service('pppssh@%s' % client['link']).is_enabled
