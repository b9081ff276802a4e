"""The server's client table with IPv6: pairs from pppssh_server_pool6, fixed pairs, IPv6-only links,
subnets of either family, and the refusals that keep one site's traffic out of another's."""
import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import allocation
from ansible_collections.pppssh.vpn.plugins.module_utils.allocation import Client

POOL6 = 'fd13:213::/64'
SERVER_FACTS = {'interfaces': ['eth0', 'eth1'],
                'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'},
                         'ipv6': [{'address': 'fe80::1', 'prefix': '64', 'scope': 'link'}]},
                'eth1': {'ipv4': {'address': '172.20.0.1', 'netmask': '255.255.255.0'},
                         'ipv6': [{'address': '2001:db8:20::1', 'prefix': '64', 'scope': 'global'}]}}


def client_facts(address6=None):
    eth0 = {'ipv4': {'address': '192.168.213.61', 'netmask': '255.255.255.0'}}
    if address6:
        eth0['ipv6'] = [{'address': address6, 'prefix': '64', 'scope': 'global'}]
    return {'interfaces': ['eth0'], 'eth0': eth0}


def published(host, name, key, network=None, subnets=(), **pairs):
    info = {'name': name, 'state': 'present', 'server': 'srv', 'pubkey': key, 'subnets': list(subnets),
            'key_exists': True}
    info.update(pairs)
    return Client(host, info, network=network or client_facts())


def run(clients, old=None, pool='10.213.0.0/24', pool6=POOL6, server_subnets=(), client_to_client=False):
    return allocation.allocate('srv', pool, list(server_subnets), 'pppssh-', old, clients, SERVER_FACTS, {},
                               client_to_client=client_to_client, pool6=pool6)


def pairs6(result):
    return dict((name, (c['server_ip6'], c['client_ip6'])) for name, c in result['state']['clients'].items())


def errors_of(clients, **kwargs):
    result = run(clients, **kwargs)
    assert result['state'] is None
    return ' | '.join(result['errors'])


def test_dual_stack_clients_get_a_pair_of_each_family(keys):
    result = run([published('h2', 'b', keys[1]), published('h1', 'a', keys[0])])
    assert result['errors'] == []
    assert pairs6(result) == {'a': ('fd13:213::1', 'fd13:213::2'), 'b': ('fd13:213::5', 'fd13:213::6')}
    assert result['state']['clients']['a']['client_ip'] == '10.213.0.2'
    assert result['state']['pool6'] == POOL6
    assert result['pairs']['b']['server_ip6'] == 'fd13:213::5' and result['pairs']['b']['client_ip'] == '10.213.0.6'


def test_ipv6_only_links_have_no_ipv4_pair(keys):
    result = run([published('h1', 'a', keys[0], subnets=['fd20:1::/64'])], pool=None)
    assert result['errors'] == []
    entry = result['state']['clients']['a']
    assert (entry['server_ip'], entry['client_ip'], entry['index']) == (None, None, None)
    assert (entry['server_ip6'], entry['client_ip6'], entry['index6']) == ('fd13:213::1', 'fd13:213::2', 0)
    assert entry['subnets'] == ['fd20:1::/64'] and result['state']['pool'] is None


def test_ipv6_pairs_are_stable_across_runs_new_clients_and_host_order(keys):
    first = run([published('h2', 'b', keys[1])])
    again = run([published('h1', 'a', keys[0]), published('h2', 'b', keys[1])], old=first['state'])
    assert pairs6(again) == {'b': ('fd13:213::1', 'fd13:213::2'), 'a': ('fd13:213::5', 'fd13:213::6')}
    reordered = run([published('h2', 'b', keys[1]), published('h1', 'a', keys[0])], old=again['state'])
    assert pairs6(reordered) == pairs6(again)
    # A client that did not run this time keeps its persisted IPv6 pair too.
    absent = run([published('h1', 'a', keys[0]), Client('h2')], old=again['state'])
    assert pairs6(absent) == pairs6(again)


def test_an_ipv4_only_server_keeps_its_state_file_and_pairs_when_ipv6_is_added(keys):
    clients = [published('h1', 'a', keys[0]), published('h2', 'b', keys[1])]
    before = run(clients, pool6=None)
    assert set(before['state']) == {'pool', 'clients'}
    assert not any(key.endswith('6') for entry in before['state']['clients'].values() for key in entry)
    after = run(clients, old=before['state'])
    assert dict((n, (c['server_ip'], c['client_ip'])) for n, c in after['state']['clients'].items()) == \
        dict((n, (c['server_ip'], c['client_ip'])) for n, c in before['state']['clients'].items())
    assert pairs6(after) == {'a': ('fd13:213::1', 'fd13:213::2'), 'b': ('fd13:213::5', 'fd13:213::6')}


def test_fixed_ipv6_pairs_are_kept_and_reserve_their_pool_slot(keys):
    result = run([published('h1', 'a', keys[0], local_ip6='fd13:213::2', remote_ip6='fd13:213::1'),
                  published('h2', 'b', keys[1]),
                  published('h3', 'c', keys[2], local_ip6='fd99::2', remote_ip6='fd99::1')])
    assert result['errors'] == []
    assert pairs6(result) == {'a': ('fd13:213::1', 'fd13:213::2'), 'b': ('fd13:213::5', 'fd13:213::6'),
                              'c': ('fd99::1', 'fd99::2')}
    assert result['state']['clients']['c']['index6'] is None


def test_a_fixed_ipv6_pair_works_without_a_pool6(keys):
    result = run([published('h1', 'a', keys[0], local_ip6='fd99::2', remote_ip6='fd99::1')], pool6=None)
    assert result['errors'] == [] and pairs6(result) == {'a': ('fd99::1', 'fd99::2')}
    assert result['state']['pool6'] is None


def test_the_ipv6_pool_runs_out(keys):
    text = errors_of([published('h1', 'a', keys[0]), published('h2', 'b', keys[1])], pool6='fd13:213::/126')
    assert 'pppssh_server_pool6 fd13:213::/126 has no free address pair left for h2' in text


@pytest.mark.parametrize('pool6, words', [
    ('10.214.0.0/24', 'not an IPv6 network'),
    ('fd13:213::/127', 'prefix of /126 or shorter'),
    ('fd13:213::1/64', 'did you mean fd13:213::/64'),
    ('fe80::/64', 'not unicast address space'),
    ('ff02::/64', 'not unicast address space'),
    ('2001:db8:20::/48', 'overlaps 2001:db8:20::/64 on srv (eth1)'),
    ('fd13:213::/64\n', 'not an IPv6 network'),
])
def test_bad_ipv6_pools_are_refused(keys, pool6, words):
    assert words in errors_of([published('h1', 'a', keys[0])], pool6=pool6)


def test_a_pool6_overlapping_a_client_network_is_refused(keys):
    client = published('h1', 'a', keys[0], network=client_facts('fd13:213::77'))
    assert 'pppssh_server_pool6 fd13:213::/64 overlaps fd13:213::/64 on h1 (eth0)' in errors_of([client])


def test_a_server_needs_at_least_one_pool(keys):
    assert 'pppssh_server_pool and pppssh_server_pool6 are both unset' in errors_of(
        [published('h1', 'a', keys[0])], pool=None, pool6=None)


@pytest.mark.parametrize('pair, words', [
    (dict(local_ip6='fd99::2'), 'pppssh_client_local_ip6/pppssh_client_remote_ip6: set both, or neither'),
    (dict(local_ip6='fd99::1', remote_ip6='fd99::1'), 'two different IPv6 addresses'),
    (dict(local_ip6='fd99::2', remote_ip6='fd98::2'), 'end in the same 64 bits (::2)'),
    (dict(local_ip6='fe80::2', remote_ip6='fe80::1'), 'cannot be a point-to-point address'),
    (dict(local_ip6='fd99::', remote_ip6='fd99::1'), 'cannot be a point-to-point address'),
    (dict(local_ip6='10.88.0.2', remote_ip6='10.88.0.1'), 'is not an IPv6 address'),
    (dict(local_ip6='fd99::2\n', remote_ip6='fd99::1'), 'is not an IPv6 address'),
    (dict(local_ip6='2001:db8:20::9', remote_ip6='2001:db8:20::8'), 'lies in 2001:db8:20::/64 on srv (eth1)'),
])
def test_bad_fixed_ipv6_pairs_are_refused(keys, pair, words):
    assert words in errors_of([published('h1', 'a', keys[0], **pair)])


def test_two_clients_may_not_share_an_ipv6_tunnel_address(keys):
    text = errors_of([published('h1', 'a', keys[0], local_ip6='fd99::2', remote_ip6='fd99::1'),
                      published('h2', 'b', keys[1], local_ip6='fd99::3', remote_ip6='fd99::1')])
    assert 'tunnel address fd99::1 is already used by another client of srv (h1)' in text


@pytest.mark.parametrize('subnets, server_subnets, words', [
    (['fd13:213::/48'], [], 'overlaps pppssh_server_pool6 fd13:213::/64'),
    (['2001:db8:20::/56'], [], 'overlaps its network 2001:db8:20::/64 of server srv (eth1)'),
    (['fd21::/56'], ['fd21:0:0:5::/64'], 'overlaps pppssh_server_subnets fd21:0:0:5::/64 of server srv'),
    (['fe80::/64'], [], 'not a routable unicast network'),
    (['::/0'], [], 'not a routable unicast network'),
    (['fd20::1/64'], [], 'did you mean fd20::/64'),
])
def test_ipv6_client_subnets_that_would_take_traffic_are_refused(keys, subnets, server_subnets, words):
    assert words in errors_of([published('h1', 'a', keys[0], subnets=subnets)], server_subnets=server_subnets)


def test_two_clients_may_not_claim_the_same_ipv6_lan(keys):
    text = errors_of([published('h1', 'a', keys[0], subnets=['fd20:1::/64']),
                      published('h2', 'b', keys[1], subnets=['fd20:1::/56'])])
    assert 'h2: pppssh_client_subnets fd20:1::/56 overlaps pppssh_client_subnets fd20:1::/64 of client h1' in text


def test_a_client_subnet_holding_a_fixed_ipv6_tunnel_address_is_refused(keys):
    text = errors_of([published('h1', 'a', keys[0], local_ip6='fd99::2', remote_ip6='fd99::1'),
                      published('h2', 'b', keys[1], subnets=['fd99::/64'])])
    assert 'holds tunnel address fd99::' in text


def test_an_ipv6_subnet_needs_an_ipv6_link(keys):
    text = errors_of([published('h1', 'a', keys[0], subnets=['fd20:1::/64'])], pool6=None)
    assert 'pppssh_client_subnets fd20:1::/64 is IPv6, but the link a has no IPv6 pair' in text
    assert 'set pppssh_server_pool6 on srv, or pppssh_client_local_ip6/pppssh_client_remote_ip6' in text


def test_an_ipv4_subnet_needs_an_ipv4_link(keys):
    text = errors_of([published('h1', 'a', keys[0], subnets=['172.21.1.0/24'])], pool=None)
    assert 'pppssh_client_subnets 172.21.1.0/24 is IPv4, but the link a has no IPv4 pair' in text


def test_server_subnets_of_a_family_no_link_carries_are_refused(keys):
    text = errors_of([published('h1', 'a', keys[0])], pool6=None, server_subnets=['172.22.0.0/24', 'fd22::/64'])
    assert 'pppssh_server_subnets fd22::/64: no link of this server carries IPv6' in text


def test_subnets_of_both_families_are_stored_canonical(keys):
    result = run([published('h1', 'a', keys[0], subnets=['FD20:0001:0::/64', '10.77.0.0/255.255.255.0'])],
                 server_subnets=['fd22:0::/64'])
    assert result['errors'] == []
    assert result['state']['clients']['a']['subnets'] == ['fd20:1::/64', '10.77.0.0/24']
    assert result['subnets'] == ['fd22::/64']


def test_with_client_to_client_each_link_learns_only_the_families_it_carries(keys):
    clients = [published('h1', 'a', keys[0], subnets=['172.21.1.0/24', 'fd21:1::/64'],
                         local_ip6='fd99::2', remote_ip6='fd99::1'),
               published('h2', 'b', keys[1]),
               published('h3', 'c', keys[2], subnets=['fd21:3::/64'], local_ip6='fd99::6', remote_ip6='fd99::5')]
    result = run(clients, pool6=None, client_to_client=True)
    assert result['errors'] == []
    assert result['pairs']['a']['peer_subnets'] == ['10.213.0.0/24', 'fd99::6/128', 'fd21:3::/64']
    assert result['pairs']['b']['peer_subnets'] == ['10.213.0.0/24', '172.21.1.0/24']
    assert result['pairs']['c']['peer_subnets'] == ['10.213.0.0/24', 'fd99::2/128', '172.21.1.0/24', 'fd21:1::/64']
