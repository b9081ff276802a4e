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
        'server_ip': '10.213.0.1', 'client_ip': '10.213.0.2', 'subnets': ['172.20.0.0/24']}


def test_the_inventory_may_override_address_and_port():
    result = link(view(), address='vpn.example.org', port=2222)
    assert (result['address'], result['port']) == ('vpn.example.org', 2222)
    with pytest.raises(AnsibleFilterError, match='pppssh_client_server_address'):
        link(view(), address='-oProxyCommand=id')


def forged_pair(**pair):
    return view(clients={'a': dict(view()['clients']['a'], **pair)})


@pytest.mark.parametrize('published, words', [
    (view(subnets=['10.77.0.0/24; touch /tmp/pwned #']), 'not an IPv4 network'),
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
