"""pppssh_server_static_clients: clients Ansible does not manage, validated like published ones."""
import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import allocation
from ansible_collections.pppssh.vpn.plugins.module_utils.allocation import Allocator, Client
from ansible_collections.pppssh.vpn.plugins.module_utils.published import key_tag

SERVER_FACTS = {'interfaces': ['eth0', 'eth1'],
                'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'}},
                'eth1': {'ipv4': {'address': '172.20.0.1', 'netmask': '255.255.255.0'}}}
VAR = 'pppssh_server_static_clients'


def managed(host, name, key, **extra):
    info = dict({'name': name, 'state': 'present', 'server': 'srv', 'pubkey': key + ' c@h', 'key_exists': True,
                 'subnets': []}, **extra)
    return Client(host, info, network={'interfaces': []})


def run(clients=(), static=None, old=None, pool='10.213.0.0/24', pool6=None):
    return allocation.allocate('srv', pool, [], 'pppssh-', old, list(clients), SERVER_FACTS, {},
                               static_clients=static, pool6=pool6)


def refused(result, *words):
    text = ' '.join(result['errors'])
    assert result['state'] is None, result
    for word in ('srv', VAR, 'Fix:') + words:
        assert word in text, (word, text)
    return text


def test_a_static_client_gets_a_pool_pair_and_an_account_and_is_persisted_as_static(keys):
    result = run([managed('h1', 'a', keys[0])], [{'name': 'laptop', 'pubkey': keys[1] + ' me@laptop'}])
    assert result['errors'] == []
    entry = result['state']['clients']['laptop']
    assert entry == {'index': 1, 'server_ip': '10.213.0.5', 'client_ip': '10.213.0.6', 'host': 'laptop',
                     'static': True, 'account': 'pppssh-laptop', 'pubkey': keys[1], 'compression': 'none',
                     'subnets': []}
    assert 'static' not in result['state']['clients']['a']
    assert result['pairs']['laptop']['account'] == 'pppssh-laptop'


def test_a_static_client_keeps_its_fixed_pairs_subnets_and_compression(keys):
    static = [{'name': 'router', 'pubkey': keys[0], 'local_ip': '10.99.0.2', 'remote_ip': '10.99.0.1',
               'local_ip6': 'fd99::2', 'remote_ip6': 'fd99::1', 'subnets': ['172.30.0.0/24', 'fd30::/64'],
               'compression': 'deflate'}]
    result = run([], static)
    assert result['errors'] == []
    entry = result['state']['clients']['router']
    assert (entry['server_ip'], entry['client_ip'], entry['index']) == ('10.99.0.1', '10.99.0.2', None)
    assert (entry['server_ip6'], entry['client_ip6']) == ('fd99::1', 'fd99::2')
    assert entry['subnets'] == ['172.30.0.0/24', 'fd30::/64'] and entry['compression'] == 'deflate'


def test_its_pair_is_stable_and_removing_it_from_the_list_removes_it_and_ends_its_session(keys):
    first = run([managed('h1', 'a', keys[0])], [{'name': 'laptop', 'pubkey': keys[1]}])
    again = run([managed('h1', 'a', keys[0]), managed('h0', 'b', keys[2])],
                [{'name': 'laptop', 'pubkey': keys[1]}], old=first['state'])
    assert again['state']['clients']['laptop']['index'] == 1 and again['removed'] == []
    gone = run([managed('h1', 'a', keys[0])], [], old=first['state'])
    assert gone['errors'] == [] and gone['removed'] == ['laptop']
    assert gone['removed_accounts'] == ['pppssh-laptop']
    assert gone['ended'] == [{'name': 'laptop', 'account': 'pppssh-laptop'}]
    assert 'laptop' not in gone['state']['clients']


def test_a_managed_client_that_did_not_run_keeps_its_entry_while_a_removed_static_one_goes(keys):
    first = run([managed('h1', 'a', keys[0])], [{'name': 'laptop', 'pubkey': keys[1]}])
    second = run([Client('h1')], None, old=first['state'])
    assert second['errors'] == [] and second['removed'] == ['laptop']
    assert second['state']['clients']['a'] == first['state']['clients']['a']


def test_a_managed_host_named_like_a_removed_static_client_does_not_inherit_its_entry(keys):
    first = run([], [{'name': 'laptop', 'pubkey': keys[1]}])
    # Host "laptop" of the clients group did not run (--limit): the static entry is not its entry.
    second = run([Client('laptop')], [], old=first['state'])
    assert second['errors'] == [] and second['removed'] == ['laptop'] and second['state']['clients'] == {}


def test_a_changed_static_key_ends_the_sessions_of_the_old_key(keys):
    first = run([], [{'name': 'laptop', 'pubkey': keys[1]}])
    second = run([], [{'name': 'laptop', 'pubkey': keys[2]}], old=first['state'])
    assert second['rotated'] == ['laptop']
    assert second['ended'] == [{'name': 'laptop', 'account': 'pppssh-laptop', 'keep_keys': [key_tag(keys[2])]}]


def test_static_entries_go_through_the_published_clients_validation(keys, monkeypatch):
    seen = []
    original = Allocator._published_entry

    def spy(self, client, fields=None):
        seen.append((client.host, client.published['name']))
        return original(self, client, fields)

    monkeypatch.setattr(Allocator, '_published_entry', spy)
    assert run([managed('h1', 'a', keys[0])], [{'name': 'laptop', 'pubkey': keys[1]}])['errors'] == []
    assert seen == [('h1', 'a'), ('srv: %s[laptop]' % VAR, 'laptop')]


# ---------------------------------------------------------------- refusals

def test_a_name_of_a_managed_client_is_refused(keys):
    text = refused(run([managed('h1', 'office', keys[0])], [{'name': 'office', 'pubkey': keys[1]}]),
                   "'office'", 'h1', 'pppssh_client_name')


def test_a_name_of_a_managed_client_that_did_not_run_is_refused(keys):
    first = run([managed('h1', 'office', keys[0])])
    refused(run([Client('h1')], [{'name': 'office', 'pubkey': keys[1]}], old=first['state']), "'office'", 'h1')


def test_a_name_listed_twice_is_refused(keys):
    refused(run([], [{'name': 'laptop', 'pubkey': keys[0]}, {'name': 'laptop', 'pubkey': keys[1]}]),
            "'laptop'", 'twice')


@pytest.mark.parametrize('key, problem', [
    ('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7', 'is not an ssh-ed25519 public key line'),
    ('restrict,command="/bin/sh" KEY', 'is not an ssh-ed25519 public key line'),
    ('command="/bin/sh" KEY', 'is not an ssh-ed25519 public key line'),
    ('KEY\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINqYrOcNVoT2muZLXYqIIm/L6GTXmlzCYEUpOCRNpz2s', 'exactly one line'),
    ('KEY\rx', 'exactly one line'),
    ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1ptLjuoJm6lDEL2jT4pIAi6ShtVp0qd3zjXTmW85H', 'key blob'),
    (['KEY'], 'is not text'),
])
def test_a_bad_key_is_refused(keys, key, problem):
    key = key.replace('KEY', keys[0]) if isinstance(key, str) else [keys[0]]
    text = refused(run([], [{'name': 'laptop', 'pubkey': key}]), '%s[laptop]: pubkey' % VAR, problem)
    assert 'ssh-keygen' in text or 'ssh-ed25519 .pub' in text


def test_the_key_of_a_managed_client_is_refused(keys):
    refused(run([managed('h1', 'a', keys[0])], [{'name': 'laptop', 'pubkey': keys[0] + ' copied'}]),
            'the same public key as client h1', 'generate a key pair on that host')


@pytest.mark.parametrize('extra, words', [
    ({'local_ip': '10.99.0.300', 'remote_ip': '10.99.0.1'}, ("local_ip '10.99.0.300'",)),
    ({'local_ip': '10.99.0.2'}, ('set both, or neither',)),
    ({'local_ip': '10.99.0.2', 'remote_ip': '10.99.0.2'}, ('two different',)),
    ({'local_ip': '172.20.0.9', 'remote_ip': '172.20.0.10'}, ('lies in 172.20.0.0/24 on srv',)),
    ({'local_ip6': 'fd99::2', 'remote_ip6': 'fd98::2'}, ('same 64 bits',)),
    ({'local_ip': '10.99.0.2; id', 'remote_ip': '10.99.0.1'}, ('local_ip',)),
])
def test_bad_addresses_are_refused(keys, extra, words):
    refused(run([], [dict({'name': 'laptop', 'pubkey': keys[0]}, **extra)]), '%s[laptop]' % VAR, *words)


@pytest.mark.parametrize('subnets, words', [
    (['10.77.0.0/24; touch /tmp/pwned #'], ('subnets', 'not an IPv4 or IPv6 network')),
    (['0.0.0.0/0'], ('subnets', 'not a routable unicast network')),
    (['10.77.0.1/24'], ('host bits',)),
    ('10.77.0.0/24', ('is not a list',)),
    (['172.20.0.0/16'], ('overlaps', 'of server srv (eth1)')),
    (['10.213.0.0/28'], ('overlaps pppssh_server_pool',)),
    (['172.21.1.0/24'], ('overlaps pppssh_client_subnets 172.21.1.0/24 of client h1',)),
])
def test_bad_subnets_are_refused(keys, subnets, words):
    result = run([managed('h1', 'a', keys[0], subnets=['172.21.1.0/24'])],
                 [{'name': 'laptop', 'pubkey': keys[1], 'subnets': subnets}])
    refused(result, '%s[laptop]' % VAR, *words)


@pytest.mark.parametrize('static, words', [
    ({'name': 'Lap top', 'pubkey': 'KEY'}, ('%s[0]: name' % VAR, 'invalid link name')),
    ({'name': 'pppssh-x', 'pubkey': 'KEY'}, ('%s[0]: name' % VAR, 'starts with')),
    ({'name': 'laptop', 'pubkey': 'KEY', 'local_ipv4': '10.0.0.2'}, ('%s[0]' % VAR, 'unknown keys local_ipv4')),
    ({'name': 'laptop'}, ('%s[0]' % VAR, 'with a name and a pubkey')),
    ('laptop', ('%s[0]' % VAR, 'is not a dictionary')),
    ({'name': 'laptop', 'pubkey': 'KEY', 'compression': 'lzo'}, ('%s[laptop]: compression' % VAR,)),
])
def test_bad_entries_are_refused(keys, static, words):
    if isinstance(static, dict):
        static = dict((key, value.replace('KEY', keys[0])) for key, value in static.items())
    refused(run([], [static]), *words)


def test_a_list_that_is_not_a_list_is_refused(keys):
    refused(run([], {'name': 'laptop', 'pubkey': keys[0]}), 'is not a list')
