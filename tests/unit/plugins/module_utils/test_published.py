import ipaddress

import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal


def refusal(function, *args):
    with pytest.raises(Refusal) as info:
        function(*args)
    message = str(info.value)
    assert message.startswith('h1: ') and 'Fix: ' in message, message
    return message


def test_a_key_line_comes_back_without_its_comment(keys):
    assert published.ed25519_public_key(keys[0] + ' pppssh-a@client\n', 'h1', 'f') == keys[0]


@pytest.mark.parametrize('text, words', [
    ('{0}\n{1}', 'exactly one line'),
    ('{0} a\n{1} attacker-shell\n', 'found 2 lines'),
    ('{0}\r{1}', 'exactly one line'),
    ('{0}\x00', 'exactly one line'),
    ('command="/bin/sh" {0}', 'not an ssh-ed25519 public key line'),
    ('restrict {0}', 'not an ssh-ed25519 public key line'),
    ('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ', 'not an ssh-ed25519'),
    ('ssh-ed25519', 'not an ssh-ed25519'),
    ('ssh-ed25519 AAAA', 'not a valid ssh-ed25519 public key'),
    ('ssh-ed25519 {rsa_blob}', 'not a valid ssh-ed25519 public key'),
    ('ssh-ed25519 {bad_b64}', 'not a valid ssh-ed25519 public key'),
    ('', 'not an ssh-ed25519'),
])
def test_bad_key_lines_are_refused(keys, text, words):
    blob = keys[0].split()[1]
    text = text.format(keys[0], keys[1], rsa_blob='AAAAB3NzaC1yc2EAAAADAQABAAABAQC7' + 'A' * 36,
                       bad_b64=blob[:-2] + '!=')
    assert words in refusal(published.ed25519_public_key, text, 'h1', '/etc/pppssh/keys/a.pub')


def test_a_key_that_is_not_text_is_refused():
    refusal(published.ed25519_public_key, ['ssh-ed25519', 'x'], 'h1', 'f')


@pytest.mark.parametrize('name', ['a\n', 'ppp-a', 'pppssh-a', 'A', '1a', 'a/b', 'a' * 12, '', None, 'a;b'])
def test_bad_link_names_are_refused(name):
    refusal(published.link_name, name, 'h1')


@pytest.mark.parametrize('value, canonical', [
    ('172.20.0.0/24', '172.20.0.0/24'),
    ('10.0.0.0/255.255.0.0', '10.0.0.0/16'),
    ('192.168.7.9/32', '192.168.7.9/32'),
])
def test_networks_come_back_canonical(value, canonical):
    assert str(published.ipv4_network(value, 'h1', 'f')) == canonical


@pytest.mark.parametrize('value, words', [
    ('10.77.0.0/24; touch /tmp/pwned #', 'not an IPv4 network'),
    ('10.0.0.0/8 dev lo', 'not an IPv4 network'),
    ('default', 'not an IPv4 network'),
    ('0.0.0.0/0', 'not a routable unicast network'),
    ('127.0.0.0/8', 'not a routable unicast network'),
    ('224.0.0.0/4', 'not a routable unicast network'),
    ('169.254.0.0/16', 'not a routable unicast network'),
    ('10.0.0.1/24', 'host bits set (did you mean 10.0.0.0/24?)'),
    ('10.0.0.0', 'no prefix length'),
    ('10.0.0.0/24\n', 'not an IPv4 network'),
    ('fd00::/64', 'not an IPv4 network'),
    (['10.0.0.0/24'], 'not a CIDR string'),
])
def test_bad_networks_are_refused(value, words):
    assert words in refusal(published.ipv4_network, value, 'h1', 'pppssh_client_subnets')


def test_a_list_of_networks_refuses_overlaps_and_non_lists():
    assert published.ipv4_networks(['10.1.0.0/24', '10.2.0.0/24'], 'h1', 'f') == [
        ipaddress.IPv4Network('10.1.0.0/24'), ipaddress.IPv4Network('10.2.0.0/24')]
    assert 'overlaps 10.1.0.0/16' in refusal(published.ipv4_networks, ['10.1.0.0/16', '10.1.2.0/24'], 'h1', 'f')
    assert 'not a list' in refusal(published.ipv4_networks, '10.1.0.0/16', 'h1', 'f')


@pytest.mark.parametrize('function, value', [
    (published.account_name, 'root'), (published.account_name, 'a b'), (published.account_name, 'x\n'),
    (published.ipparam, 'vpn"; id; "'), (published.ipparam, 'vpn\n'),
    (published.server_address, '-oProxyCommand=id'), (published.server_address, 'a b'),
    (published.server_address, 'host\n'), (published.port, 0), (published.port, '22; id'), (published.port, True),
])
def test_bad_scalars_are_refused(function, value):
    refusal(function, value, 'h1', 'field')


def test_host_networks_come_from_facts_without_the_tunnels():
    facts = {'interfaces': ['lo', 'eth0', 'eth1', 'ppp-office', 'br-lan'],
             'lo': {'ipv4': {'address': '127.0.0.1', 'netmask': '255.0.0.0'}},
             'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'},
                      'ipv4_secondaries': [{'address': '10.9.0.1', 'netmask': '255.255.0.0'}]},
             'eth1': {},
             'ppp_office': {'ipv4': {'address': '10.213.0.1', 'netmask': '255.255.255.255'}},
             'br_lan': {'ipv4': {'address': '172.20.0.1', 'netmask': 'garbage'}}}
    assert [(i, str(n)) for i, n in published.host_networks(facts)] == [
        ('lo', '127.0.0.0/8'), ('eth0', '192.168.213.0/24'), ('eth0', '10.9.0.0/16')]


def test_host_networks_include_ipv6_but_not_link_local():
    facts = {'interfaces': ['eth0', 'ppp-office'],
             'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'},
                      'ipv6': [{'address': 'fe80::1', 'prefix': '64', 'scope': 'link'},
                               {'address': '2001:db8:5::1', 'prefix': '64', 'scope': 'global'},
                               {'address': 'fd00::1', 'prefix': 'x'}]},
             'ppp_office': {'ipv6': [{'address': 'fd13:213::1', 'prefix': '128', 'scope': 'global'}]}}
    assert [(i, str(n)) for i, n in published.host_networks(facts)] == [
        ('eth0', '192.168.213.0/24'), ('eth0', '2001:db8:5::/64')]


def test_networks_of_both_families_come_back_canonical():
    assert [str(n) for n in published.ip_networks(['FD20:0:0:1::/64', '10.0.0.0/255.0.0.0'], 'h1', 'f',
                                                  (4, 6))] == ['fd20:0:0:1::/64', '10.0.0.0/8']


@pytest.mark.parametrize('value, words', [
    ('fd20::1/64', 'host bits set (did you mean fd20::/64?)'),
    ('fe80::/64', 'not a routable unicast network'),
    ('ff00::/8', 'not a routable unicast network'),
    ('::1/128', 'not a routable unicast network'),
    ('::/0', 'not a routable unicast network'),
    ('fd20::/64\n', 'not an IPv4 or IPv6 network'),
    ('fd20::/64; id', 'not an IPv4 or IPv6 network'),
    ('fd20::', 'no prefix length'),
])
def test_bad_ipv6_networks_are_refused(value, words):
    assert words in refusal(published.ip_networks, [value], 'h1', 'pppssh_client_subnets', (4, 6))


def test_ipv6_networks_are_refused_where_only_ipv4_is_carried():
    assert 'not an IPv4 network' in refusal(published.ip_networks, ['fd20::/64'], 'h1', 'f', (4,))


@pytest.mark.parametrize('value, words', [
    ('fd13:213::1\n', 'not an IPv6 address'),
    ('10.0.0.1', 'not an IPv6 address'),
    ('fe80::1', 'cannot be a point-to-point address'),
    ('::ffff:10.0.0.1', 'cannot be a point-to-point address'),
    ('fd13:213::', 'last 64 bits are not all zero'),
])
def test_bad_ipv6_tunnel_addresses_are_refused(value, words):
    assert words in refusal(published.ipv6_address, value, 'h1', 'pppssh_client_local_ip6')


def test_an_ipv6_tunnel_address_comes_back_canonical():
    assert published.ipv6_address('FD13:0213:0::2', 'h1', 'f') == 'fd13:213::2'
    assert published.ipv6_address(None, 'h1', 'f') is None
