"""The client's check of what its server published (filter client_link): a compromised server
must not reach root on its clients through the values it publishes."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.filter import pppssh

FACTS = {'interfaces': ['eth0', 'eth1'],
         'eth0': {'ipv4': {'address': '192.168.213.61', 'netmask': '255.255.255.0'}},
         'eth1': {'ipv4': {'address': '172.21.1.1', 'netmask': '255.255.255.0'}}}


def view(**overrides):
    base = {'address': '192.168.213.60', 'port': '22', 'ipparam': 'vpn', 'subnets': ['172.20.0.0/24'],
            'clients': {'a': {'server_ip': '10.213.0.1', 'client_ip': '10.213.0.2', 'account': 'pppssh-a'}}}
    base.update(overrides)
    return base


def link(published, **kwargs):
    return pppssh.client_link(published, 'a', 'c1', 'srv', FACTS, **kwargs)


def test_a_good_view_comes_back_canonical():
    assert link(view(subnets=['172.20.0.0/255.255.255.0'])) == {
        'address': '192.168.213.60', 'port': 22, 'account': 'pppssh-a', 'ipparam': 'vpn',
        'server_ip': '10.213.0.1', 'client_ip': '10.213.0.2', 'server_ip6': None, 'client_ip6': None,
        'subnets': ['172.20.0.0/24'], 'next_pubkey': None}


def test_the_inventory_may_override_address_and_port():
    result = link(view(), address='vpn.example.org', port=2222)
    assert (result['address'], result['port']) == ('vpn.example.org', 2222)
    with pytest.raises(AnsibleFilterError, match='pppssh_client_server_address'):
        link(view(), address='-oProxyCommand=id')


def forged_pair(**pair):
    return view(clients={'a': dict(view()['clients']['a'], **pair)})


@pytest.mark.parametrize('published, words', [
    (view(subnets=['10.77.0.0/24; touch /tmp/pwned #']), 'not an IPv4 or IPv6 network'),
    (view(subnets=['172.21.0.0/16']), 'overlaps 172.21.1.0/24 on this client (eth1)'),
    (view(subnets=['192.168.213.0/25']), 'overlaps 192.168.213.0/24 on this client (eth0)'),
    (view(subnets=['0.0.0.0/0']), 'not a routable unicast network'),
    (view(address='x; id'), 'pppssh_server_address'),
    (view(port='22 -oProxyCommand=id'), 'pppssh_server_ssh_port'),
    (view(ipparam='vpn" ] || id; [ "'), 'pppssh_server_ipparam'),
    (forged_pair(account='root'), 'account'),
    (forged_pair(account='a\nb'), 'account'),
    (forged_pair(server_ip='10.213.0.1; id'), 'server_ip'),
    (forged_pair(client_ip='10.213.0.1'), 'no usable address pair'),
    (view(clients={}), 'published no address pair for link a'),
])
def test_forged_views_are_refused_naming_the_value(published, words):
    with pytest.raises(AnsibleFilterError) as info:
        link(published)
    assert words in str(info.value) and 'Fix:' in str(info.value) and str(info.value).startswith('c1'), str(info.value)


def test_host_keys_and_client_keys_must_be_one_ed25519_line(keys):
    assert pppssh.ed25519_host_key(keys[0] + ' root@srv\n', 'srv') == keys[0]
    with pytest.raises(AnsibleFilterError, match='exactly one line'):
        pppssh.ed25519_host_key(keys[0] + '\n' + keys[1], 'srv')
    with pytest.raises(AnsibleFilterError, match='/etc/pppssh/keys/a.pub'):
        pppssh.ed25519_public_key('ssh-rsa AAAA', 'c1', '/etc/pppssh/keys/a.pub')


def test_sshd_settings_that_differ_from_the_drop_in_are_named():
    expected = {'passwordauthentication': 'no', 'allowtcpforwarding': 'no', 'maxsessions': '1',
                'authorizedkeysfile': '/etc/pppssh/authorized_keys/%u'}
    effective = ('port 22\nPasswordAuthentication yes\nallowtcpforwarding no\nmaxsessions 1\n'
                 'authorizedkeysfile /etc/pppssh/authorized_keys/%u\n')
    assert pppssh.sshd_overrides(effective, expected) == ['passwordauthentication yes (pppssh sets no)']
    assert pppssh.sshd_overrides(effective.replace('Password', 'X'), expected) == [
        'passwordauthentication (unset) (pppssh sets no)']
    assert pppssh.sshd_overrides(effective.replace('yes', 'no'), expected) == []


def test_a_dual_stack_view_comes_back_canonical_with_the_subnets_of_both_families():
    result = link(forged_pair(server_ip6='FD13:213::1', client_ip6='fd13:213::2'),)
    assert (result['server_ip6'], result['client_ip6']) == ('fd13:213::1', 'fd13:213::2')
    result = link(view(subnets=['172.20.0.0/24', 'fd22::/64']))
    assert result['subnets'] == ['172.20.0.0/24'], 'an IPv4-only link routes no IPv6 subnet'


def test_an_ipv6_only_view_keeps_only_its_ipv6_subnets():
    result = link(dict(forged_pair(server_ip=None, client_ip=None, server_ip6='fd13:213::1', client_ip6='fd13:213::2'),
                       subnets=['172.20.0.0/24', 'fd22::/64']))
    assert (result['server_ip'], result['client_ip']) == (None, None)
    assert result['subnets'] == ['fd22::/64']


@pytest.mark.parametrize('pair, words', [
    (dict(server_ip6='fd13:213::1'), 'no usable address pair'),
    (dict(server_ip=None, client_ip=None), 'no usable address pair'),
    (dict(server_ip6='fd13:213::1', client_ip6='fd13:213::1 nodad'), 'not an IPv6 address'),
    (dict(server_ip6='fe80::1', client_ip6='fd13:213::2'), 'cannot be a point-to-point address'),
])
def test_forged_ipv6_pairs_are_refused(pair, words):
    with pytest.raises(AnsibleFilterError) as info:
        link(forged_pair(**pair))
    assert words in str(info.value) and str(info.value).startswith('c1'), str(info.value)


def test_by_family_splits_addresses_and_networks_keeping_their_order():
    assert pppssh.by_family(['10.213.0.2', None, 'fd13:213::2', '172.21.1.0/24', '', 'fd21:1::/64']) == {
        'ip': ['10.213.0.2', '172.21.1.0/24'], 'ip6': ['fd13:213::2', 'fd21:1::/64']}
    assert pppssh.by_family([]) == {'ip': [], 'ip6': []}
    with pytest.raises(AnsibleFilterError, match='not an address or network'):
        pppssh.by_family(['10.0.0.0/24; id'])


def test_the_role_and_the_module_write_the_same_ipv6_options():
    assert pppssh.pppd_ipv6_options(None, None) == ['noipv6']
    assert pppssh.pppd_ipv6_options('fd13:213::1', 'FD13:213::2') == [
        '+ipv6', 'ipv6 ::1,::2', 'set PPPSSH_LOCAL6=fd13:213::1', 'set PPPSSH_REMOTE6=fd13:213::2']
    with pytest.raises(AnsibleFilterError, match='not an IPv6 address'):
        pppssh.pppd_ipv6_options('fd13:213::1\nplugin x.so', 'fd13:213::2')
    assert pppssh.ipv6_up_hook() == pppssh.ipv6_up_hook('ignored') and 'PPPSSH_LOCAL6' in pppssh.ipv6_up_hook()


def test_the_view_names_the_next_key_the_server_accepts(keys):
    result = link(forged_pair(next_pubkey=keys[1] + ' comment'))
    assert result['next_pubkey'] == keys[1]
    with pytest.raises(AnsibleFilterError, match='next_pubkey'):
        link(forged_pair(next_pubkey='command="id" ' + keys[1]))


def test_key_switches_lists_the_clients_of_this_server_that_switched():
    hostvars = {'c1': {'pppssh_client_links_info': {'a': {'name': 'a', 'server': 'srv', 'switched': True}}},
                'c2': {'pppssh_client_links_info': {'b': {'name': 'b', 'server': 'srv'}}},
                'c3': {'pppssh_client_links_info': {'c': {'name': 'c', 'server': 'other', 'switched': True}}},
                'c4': {}}
    assert pppssh.key_switches(['c1', 'c2', 'c3', 'c4'], hostvars, 'srv') == ['a']


def test_key_switches_reads_every_link_of_a_host():
    hostvars = {'c1': {'pppssh_client_links_info': {
        'office': {'name': 'office', 'server': 'srv', 'switched': True},
        'lab': {'name': 'lab', 'server': 'srv', 'switched': True},
        'home': {'name': 'home', 'server': 'other', 'switched': True},
        'idle': {'name': 'idle', 'server': 'srv'}}},
        'c2': {'pppssh_client_links_info': 'junk'},
        'c3': {'pppssh_client_links_info': {'x': ['junk'], 'y': {'name': 'y', 'server': 'srv', 'switched': 'yes'}}}}
    assert pppssh.key_switches(['c1', 'c2', 'c3'], hostvars, 'srv') == ['lab', 'office']
    assert pppssh.key_switches(['c1'], hostvars, 'other') == ['home']


def test_key_plan_fails_naming_the_host_and_the_variable():
    assert pppssh.key_plan('2', None, True, False, 'c1', '/etc/pppssh/keys/a')['action'] == 'rotate'
    with pytest.raises(AnsibleFilterError, match='^c1: pppssh_client_key_generation'):
        pppssh.key_plan('yes', None, True, False, 'c1', '/etc/pppssh/keys/a')
