import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import allocation
from ansible_collections.pppssh.vpn.plugins.module_utils.allocation import Client
from ansible_collections.pppssh.vpn.plugins.module_utils.published import key_tag

SERVER_FACTS = {'interfaces': ['eth0', 'eth1'],
                'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'}},
                'eth1': {'ipv4': {'address': '172.20.0.1', 'netmask': '255.255.255.0'}}}


def client_facts(address='192.168.213.61'):
    return {'interfaces': ['eth0'], 'eth0': {'ipv4': {'address': address, 'netmask': '255.255.255.0'}}}


def info(name, key, server='srv', subnets=(), local_ip=None, remote_ip=None, state='present'):
    return {'name': name, 'state': state, 'server': server, 'pubkey': key + ' pppssh-%s@host' % name,
            'local_ip': local_ip, 'remote_ip': remote_ip, 'subnets': list(subnets), 'key_exists': True}


def run(clients, old=None, pool='10.213.0.0/24', server_subnets=(), accounts=None, prefix='pppssh-'):
    return allocation.allocate('srv', pool, list(server_subnets), prefix, old, clients, SERVER_FACTS, accounts)


def published(host, *args, **kwargs):
    return Client(host, info(*args, **kwargs), network=client_facts())


def pairs(result):
    return dict((name, (c['server_ip'], c['client_ip'])) for name, c in result['state']['clients'].items())


def test_pool_clients_get_pairs_by_name_with_their_own_account(keys):
    result = run([published('h2', 'b', keys[1]), published('h1', 'a', keys[0])])
    assert result['errors'] == []
    assert pairs(result) == {'a': ('10.213.0.1', '10.213.0.2'), 'b': ('10.213.0.5', '10.213.0.6')}
    a = result['state']['clients']['a']
    assert a['account'] == 'pppssh-a' and a['pubkey'] == keys[0] and a['host'] == 'h1'
    assert result['pairs']['b'] == {'server_ip': '10.213.0.5', 'client_ip': '10.213.0.6', 'account': 'pppssh-b',
                                    'server_ip6': None, 'client_ip6': None, 'peer_subnets': []}


def test_with_client_to_client_each_client_learns_the_routes_to_the_others(keys):
    clients = [published('h1', 'a', keys[0], subnets=['172.21.1.0/24']),
               published('h2', 'b', keys[1], local_ip='10.99.0.2', remote_ip='10.99.0.1'),
               published('h3', 'c', keys[2], subnets=['172.21.3.0/24'])]
    result = allocation.allocate('srv', '10.213.0.0/24', [], 'pppssh-', None, clients, SERVER_FACTS, {},
                                 client_to_client=True)
    assert result['pairs']['a']['peer_subnets'] == ['10.213.0.0/24', '10.99.0.2/32', '172.21.3.0/24']
    assert result['pairs']['b']['peer_subnets'] == ['10.213.0.0/24', '172.21.1.0/24', '172.21.3.0/24']


def test_pairs_are_stable_across_runs_new_clients_and_host_order(keys):
    first = run([published('h2', 'b', keys[1])])
    again = run([published('h1', 'a', keys[0]), published('h2', 'b', keys[1])], old=first['state'])
    assert pairs(again) == {'b': ('10.213.0.1', '10.213.0.2'), 'a': ('10.213.0.5', '10.213.0.6')}
    reordered = run([published('h2', 'b', keys[1]), published('h1', 'a', keys[0])], old=again['state'])
    assert pairs(reordered) == pairs(again)


def test_a_removed_client_is_reported_with_its_account_and_frees_its_slot(keys):
    first = run([published('h1', 'a', keys[0]), published('h2', 'b', keys[1])])
    second = run([published('h1', 'a', keys[0]), published('h2', 'b', keys[1], state='absent')], old=first['state'])
    assert second['removed'] == ['b'] and second['removed_accounts'] == ['pppssh-b']
    assert second['ended'] == [{'name': 'b', 'account': 'pppssh-b'}]
    third = run([published('h1', 'a', keys[0]), published('h3', 'c', keys[2])], old=second['state'])
    assert pairs(third)['c'] == ('10.213.0.5', '10.213.0.6')


def test_a_client_that_did_not_run_keeps_its_persisted_entry_revalidated(keys):
    first = run([published('h1', 'a', keys[0]), published('h2', 'b', keys[1], subnets=['10.77.0.0/24'])])
    kept = run([published('h1', 'a', keys[0]), Client('h2')], old=first['state'])
    assert kept['errors'] == [] and kept['state']['clients']['b'] == first['state']['clients']['b']
    gone = run([published('h1', 'a', keys[0]), Client('h2', inventory_state='absent')], old=first['state'])
    assert gone['removed'] == ['b']
    moved = run([published('h1', 'a', keys[0]), Client('h2', inventory_server='other')], old=first['state'])
    assert moved['removed'] == ['b']
    tampered = dict(first['state'], clients=dict(first['state']['clients']))
    tampered['clients']['b'] = dict(tampered['clients']['b'], subnets=['10.0.0.0/8; id'])
    errors = run([published('h1', 'a', keys[0]), Client('h2')], old=tampered)['errors']
    assert 'not an IPv4 or IPv6 network' in ' '.join(errors)


def test_a_host_with_several_links_that_did_not_run_keeps_every_persisted_entry(keys):
    first = run([published('h1', 'a', keys[0]), published('h1', 'b', keys[1]), published('h2', 'c', keys[2])])
    assert [first['state']['clients'][name]['host'] for name in ('a', 'b', 'c')] == ['h1', 'h1', 'h2']
    kept = run([Client('h1'), published('h2', 'c', keys[2])], old=first['state'])
    assert kept['errors'] == [] and kept['removed'] == [] and kept['state'] == first['state']
    listed = run([Client('h1', links=[{'name': 'b'}, {'name': 'a', 'server': 'srv'}]),
                  published('h2', 'c', keys[2])], old=first['state'])
    assert listed['state'] == first['state']
    dropped = run([Client('h1', links=[{'name': 'b'}]), published('h2', 'c', keys[2])], old=first['state'])
    assert dropped['removed'] == ['a'] and sorted(dropped['state']['clients']) == ['b', 'c']


def test_a_changed_key_is_reported_as_rotated(keys):
    first = run([published('h1', 'a', keys[0])])
    assert run([published('h1', 'a', keys[0])], old=first['state'])['rotated'] == []
    rotated = run([published('h1', 'a', keys[1])], old=first['state'])
    # Sessions of the new key (its tag) may stay; every other session of the account ends.
    assert rotated['rotated'] == ['a'] and rotated['ended'] == [{'name': 'a', 'account': 'pppssh-a',
                                                                 'keep_keys': [key_tag(keys[1])]}]


def test_clients_of_other_servers_are_left_out(keys):
    result = run([published('h1', 'a', keys[0], server='other'), published('h2', 'b', keys[1])])
    assert list(result['state']['clients']) == ['b']


def test_fixed_pairs_are_kept_and_reserve_their_pool_slot(keys):
    result = run([published('h1', 'a', keys[0], local_ip='10.213.0.2', remote_ip='10.213.0.1'),
                  published('h2', 'b', keys[1]),
                  published('h3', 'c', keys[2], local_ip='10.99.0.2', remote_ip='10.99.0.1')])
    assert result['errors'] == []
    assert pairs(result) == {'a': ('10.213.0.1', '10.213.0.2'), 'b': ('10.213.0.5', '10.213.0.6'),
                             'c': ('10.99.0.1', '10.99.0.2')}
    assert result['state']['clients']['c']['index'] is None


def test_the_pool_runs_out(keys):
    result = run([published('h1', 'a', keys[0]), published('h2', 'b', keys[1])], pool='10.213.0.0/30')
    assert any('no free address pair left for h2' in e and 'larger pool' in e for e in result['errors'])
    assert result['state'] is None


def errors_of(clients, **kwargs):
    result = run(clients, **kwargs)
    assert result['state'] is None and result['removed'] == [] and result['rotated'] == []
    return ' | '.join(result['errors'])


@pytest.mark.parametrize('pool, words', [
    ('192.168.213.0/24', 'overlaps 192.168.213.0/24 on srv (eth0)'),
    ('10.213.0.1/24', 'did you mean 10.213.0.0/24'),
    ('10.213.0.0/31', 'prefix of /30 or shorter'),
    ('10.213.0.0', 'prefix of /30 or shorter'),
    ('banana', 'not an IPv4 network'),
])
def test_bad_pools_are_refused(keys, pool, words):
    assert words in errors_of([published('h1', 'a', keys[0])], pool=pool)


def test_a_pool_overlapping_a_client_network_is_refused(keys):
    client = Client('h1', info('a', keys[0]), network=client_facts('10.213.0.77'))
    assert 'overlaps 10.213.0.0/24 on h1 (eth0)' in errors_of([client])


@pytest.mark.parametrize('a, b, words', [
    (dict(local_ip='10.88.0.2', remote_ip='10.88.0.1'), dict(local_ip='10.88.0.2', remote_ip='10.88.0.1'),
     'tunnel address 10.88.0.2 is already used by another client of srv (h1)'),
    (dict(local_ip='10.88.0.1', remote_ip='10.88.0.1'), {}, 'two different IPv4 addresses'),
    (dict(local_ip='10.88.0.2'), {}, 'set both, or neither'),
    (dict(local_ip='192.168.213.202', remote_ip='192.168.213.201'), {},
     '192.168.213.202 lies in 192.168.213.0/24 on srv (eth0)'),
    (dict(local_ip='172.20.0.9', remote_ip='172.20.0.8'), {}, 'lies in 172.20.0.0/24 on srv (eth1)'),
    (dict(local_ip='10.88.0.300', remote_ip='10.88.0.1'), {}, "pppssh_client_local_ip '10.88.0.300'"),
])
def test_bad_fixed_pairs_are_refused(keys, a, b, words):
    assert words in errors_of([published('h1', 'a', keys[0], **a), published('h2', 'b', keys[1], **b)])


def test_link_names_and_keys_are_checked_for_every_client(keys):
    assert "h2: pppssh_client_name 'a' is also the link name of h1" in errors_of(
        [published('h1', 'a', keys[0]), published('h2', 'a', keys[1])])
    assert "pppssh_client_name 'a\\n'" in errors_of([published('h1', 'a\n', keys[0])])
    assert "'ppp-a'" in errors_of([published('h1', 'ppp-a', keys[0])])
    assert 'same public key as client h1' in errors_of([published('h1', 'a', keys[0]),
                                                        published('h2', 'b', keys[0])])


@pytest.mark.parametrize('pubkey, words', [
    ('{0} a\n{1} attacker-shell', 'exactly one line'),
    ('{0}\r{1}', 'exactly one line'),
    ('command="id" {0}', 'not an ssh-ed25519 public key line'),
    ('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ', 'not an ssh-ed25519'),
])
def test_injected_keys_are_refused_naming_host_and_file(keys, pubkey, words):
    client = published('h1', 'a', keys[0])
    client.published['pubkey'] = pubkey.format(keys[0], keys[1])
    text = errors_of([client])
    assert text.startswith('h1: /etc/pppssh/keys/a.pub ') and words in text, text


@pytest.mark.parametrize('subnets, server_subnets, words', [
    (['10.77.0.0/24; touch /tmp/pwned #'], [], 'not an IPv4 or IPv6 network'),
    (['0.0.0.0/1'], [], 'overlaps'),
    (['172.20.0.0/24'], [], 'overlaps its network 172.20.0.0/24 of server srv (eth1)'),
    (['172.21.0.0/16'], ['172.21.5.0/24'], 'overlaps pppssh_server_subnets 172.21.5.0/24 of server srv'),
    (['10.213.0.0/28'], [], 'overlaps pppssh_server_pool 10.213.0.0/24'),
    (['10.0.0.0/8'], [], 'overlaps pppssh_server_pool'),
])
def test_client_subnets_that_would_take_traffic_are_refused(keys, subnets, server_subnets, words):
    assert words in errors_of([published('h1', 'a', keys[0], subnets=subnets)], server_subnets=server_subnets)


def test_two_clients_may_not_claim_the_same_lan(keys):
    text = errors_of([published('h1', 'a', keys[0], subnets=['192.168.1.0/24']),
                      published('h2', 'b', keys[1], subnets=['192.168.1.0/25'])])
    assert 'h2: pppssh_client_subnets 192.168.1.0/25 overlaps pppssh_client_subnets 192.168.1.0/24 of client h1' in text


def test_a_client_subnet_holding_another_clients_fixed_pair_is_refused(keys):
    text = errors_of([published('h1', 'a', keys[0], local_ip='10.99.0.2', remote_ip='10.99.0.1'),
                      published('h2', 'b', keys[1], subnets=['10.99.0.0/24'])])
    assert 'holds tunnel address 10.99.0.' in text


def test_subnets_are_stored_canonical(keys):
    result = run([published('h1', 'a', keys[0], subnets=['10.77.0.0/255.255.255.0'])])
    assert result['state']['clients']['a']['subnets'] == ['10.77.0.0/24']


def test_server_settings_are_checked(keys):
    assert 'pppssh_server_subnets' in errors_of([published('h1', 'a', keys[0])], server_subnets=['x; id'])
    assert 'pppssh_server_account_prefix' in errors_of([published('h1', 'a', keys[0])], prefix='Root ')
    text = errors_of([published('h1', 'a', keys[0])],
                     accounts={'pppssh-a': ['x', '1000', '1000', 'Alice', '/home/alice', '/bin/bash']})
    assert 'the account pppssh-a of client h1 already exists and was not made by pppssh' in text
    ours = {'pppssh-a': ['x', '998', '998', 'pppssh client a', '/var/lib/pppssh', '/bin/sh']}
    assert run([published('h1', 'a', keys[0])], accounts=ours)['errors'] == []
    result = allocation.allocate('srv', '10.213.0.0/24', [], 'pppssh-', None, [], SERVER_FACTS, {}, 'vpn"; id')
    assert 'pppssh_server_ipparam' in ' '.join(result['errors'])


def test_compression_is_carried_and_checked(keys):
    client = published('h1', 'a', keys[0])
    assert run([client])['state']['clients']['a']['compression'] == 'none'
    client.published['compression'] = 'deflate'
    assert run([client])['state']['clients']['a']['compression'] == 'deflate'
    client.published['compression'] = 'deflate 15\nplugin /tmp/x.so'
    assert 'pppssh_client_compression' in errors_of([client])


def test_a_key_not_yet_made_in_check_mode_gets_a_pair_and_no_key(keys):
    client = published('h1', 'a', keys[0])
    client.published.update(pubkey=None, key_exists=False)
    result = run([client])
    assert result['errors'] == [] and result['state']['clients']['a']['pubkey'] is None
