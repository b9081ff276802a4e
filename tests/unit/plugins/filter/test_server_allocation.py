"""Several links per client host (pppssh_client_links): the server_allocation filter makes one
allocation Client per published link of pppssh_client_links_info, and a host that did not run keeps
its persisted entries as its inventory list still wants them, whatever that list holds."""
import base64
import json

import pytest

from ansible_collections.pppssh.vpn.plugins.filter import pppssh

SERVER_FACTS = {'interfaces': ['eth0'], 'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'}}}


def client_facts(address='192.168.213.61'):
    return {'interfaces': ['eth0'], 'eth0': {'ipv4': {'address': address, 'netmask': '255.255.255.0'}}}


def link(name, key, server='srv', state='present', **extra):
    """One value of pppssh_client_links_info: the fields of the short form's pppssh_client_info."""
    return dict({'name': name, 'state': state, 'server': server, 'pubkey': key + ' pppssh-%s@host' % name,
                 'next_pubkey': None, 'key_generation': 1, 'local_ip': None, 'remote_ip': None, 'local_ip6': None,
                 'remote_ip6': None, 'subnets': [], 'key_exists': True, 'compression': 'none'}, **extra)


def ran(*links, **variables):
    """The hostvars of a client host that ran play 1 and published ``links``."""
    return dict({'pppssh_client_links_info': dict((each['name'], each) for each in links),
                 'pppssh_client_network_info': client_facts()}, **variables)


def slurped(result):
    if result is None:
        return {'failed': True, 'msg': 'file not found'}
    return {'content': base64.b64encode(json.dumps(result['state']).encode()).decode()}


def allocate(hostvars, server='srv', old=None, pool='10.213.0.0/24'):
    hostvars = dict(hostvars, **{server: {}})
    clients = sorted(host for host in hostvars if host.startswith('h'))
    return pppssh.server_allocation(slurped(old), server, pool, [], 'pppssh-', clients, hostvars, passwd={},
                                    server_network=SERVER_FACTS)


def pairs(result):
    assert result['errors'] == [], result['errors']
    return dict((name, (entry['host'], entry['server_ip'], entry['client_ip']))
                for name, entry in result['state']['clients'].items())


def test_each_server_allocates_only_its_own_link_of_a_multi_link_host(keys):
    hostvars = {'h1': ran(link('office', keys[0], server='srv'), link('lab', keys[1], server='srv2'),
                          pppssh_client_links=[{'name': 'office', 'server': 'srv'}, {'name': 'lab', 'server': 'srv2'}]),
                'h2': ran(link('h2', keys[2]))}
    assert pairs(allocate(hostvars)) == {'h2': ('h2', '10.213.0.1', '10.213.0.2'),
                                         'office': ('h1', '10.213.0.5', '10.213.0.6')}
    assert pairs(allocate(hostvars, server='srv2')) == {'lab': ('h1', '10.213.0.1', '10.213.0.2')}


def test_two_links_of_one_host_to_the_same_server_get_two_pairs_and_accounts(keys):
    hostvars = {'h1': ran(link('office', keys[0]), link('lab', keys[1], subnets=['172.21.1.0/24']))}
    result = allocate(hostvars)
    assert pairs(result) == {'lab': ('h1', '10.213.0.1', '10.213.0.2'), 'office': ('h1', '10.213.0.5', '10.213.0.6')}
    assert (result['pairs']['lab']['account'], result['pairs']['office']['account']) == ('pppssh-lab', 'pppssh-office')
    assert result['state']['clients']['lab']['subnets'] == ['172.21.1.0/24']
    # The host's own networks count once, however many links it has: one error, not one per link.
    hostvars['h1']['pppssh_client_network_info'] = client_facts('10.213.0.77')
    errors = allocate(hostvars)['errors']
    assert errors == ['srv: pppssh_server_pool 10.213.0.0/24 overlaps 10.213.0.0/24 on h1 (eth0). Fix: choose another '
                      'pppssh_server_pool'], errors


def test_two_links_of_one_host_to_one_server_cannot_route_the_same_lan(keys):
    # The server routes each client subnet into one link: the host default shared by both is refused.
    errors = allocate({'h1': ran(link('office', keys[0], subnets=['192.168.50.0/24']),
                                 link('lab', keys[1], subnets=['192.168.50.0/24']))})['errors']
    assert errors == ['h1: pppssh_client_subnets 192.168.50.0/24 overlaps pppssh_client_subnets 192.168.50.0/24 of '
                      'client h1. Fix: declare only the LAN behind this client, outside every network the server '
                      'routes or holds'], errors


def test_a_multi_link_host_that_did_not_run_keeps_every_persisted_link(keys):
    links = [{'name': 'office'}, {'name': 'lab'}, {'name': 'home', 'server': 'srv2'}]
    first = allocate({'h1': ran(link('office', keys[0]), link('lab', keys[1]), link('home', keys[2], server='srv2'),
                                pppssh_client_links=links)})
    assert sorted(first['state']['clients']) == ['lab', 'office']
    kept = allocate({'h1': {'pppssh_client_links': links}}, old=first)
    assert kept['errors'] == [] and kept['removed'] == [] and kept['state'] == first['state']


@pytest.mark.parametrize('links', [
    [{'name': 'office'}],
    [{'name': 'office'}, {'name': 'lab', 'state': 'absent'}],
    [{'name': 'office'}, {'name': 'lab', 'server': 'srv2'}],
    [{'name': 'office', 'server': 'srv'}, {'name': 'lab'}],   # the host's pppssh_client_server is srv2
])
def test_a_host_that_did_not_run_loses_a_link_its_list_no_longer_wants_here(keys, links):
    first = allocate({'h1': ran(link('office', keys[0]), link('lab', keys[1]))})
    variables = {'pppssh_client_links': links}
    if 'server' in links[0]:
        variables['pppssh_client_server'] = 'srv2'
    second = allocate({'h1': variables}, old=first)
    assert second['errors'] == [] and list(second['state']['clients']) == ['office']
    assert second['removed'] == ['lab'] and second['removed_accounts'] == ['pppssh-lab']
    assert second['ended'] == [{'name': 'lab', 'account': 'pppssh-lab'}]


def test_the_host_server_is_the_default_of_a_list_entry_and_an_absent_host_keeps_nothing(keys):
    first = allocate({'h1': ran(link('office', keys[0]), link('lab', keys[1]))})
    links = [{'name': 'office', 'state': 'present', 'server': 'srv'}, {'name': 'lab'}]
    moved = allocate({'h1': {'pppssh_client_links': links, 'pppssh_client_server': 'srv2'}}, old=first)
    assert list(moved['state']['clients']) == ['office'] and moved['removed'] == ['lab']
    # As in the client role (module_utils/links.py): the host's own state absent removes every link it has.
    absent = allocate({'h1': {'pppssh_client_links': links, 'pppssh_client_state': 'absent'}}, old=first)
    assert absent['state']['clients'] == {} and absent['removed'] == ['lab', 'office']


def test_the_short_form_of_a_host_that_did_not_run_is_unchanged(keys):
    first = allocate({'h1': ran(link('h1', keys[0])), 'h2': ran(link('b', keys[1]))})
    for links in (None, []):
        variables = {} if links is None else {'pppssh_client_links': links}
        assert allocate({'h1': ran(link('h1', keys[0])), 'h2': variables}, old=first)['state'] == first['state']
        gone = allocate({'h1': ran(link('h1', keys[0])), 'h2': dict(variables, pppssh_client_state='absent')},
                        old=first)
        assert gone['removed'] == ['b']


@pytest.mark.parametrize('junk', [
    'office', 42, {'name': 'office'}, [1, 2], [None, 'office', ['office']], [{'name': ['office']}],
    [{'name': {'x': 1}}, {'server': 'srv'}], [{'name': 'Office!'}], [{'name': 'office', 'server': ['srv']}],
    [{'name': 'office', 'state': {'present': 1}}], [{'name': 'office'}, {'name': 'office'}],
])
def test_a_junk_inventory_list_keeps_nothing_and_never_raises(keys, junk):
    first = allocate({'h1': ran(link('office', keys[0])), 'h2': ran(link('b', keys[1]))})
    result = allocate({'h1': {'pppssh_client_links': junk}, 'h2': ran(link('b', keys[1]))}, old=first)
    assert result['errors'] == [] and list(result['state']['clients']) == ['b'] and result['removed'] == ['office']


def test_a_junk_inventory_list_beside_published_links_is_harmless(keys):
    for junk in ('office', [1, 2], [{'name': 'office', 'local_ip': ['x']}]):
        result = allocate({'h1': ran(link('office', keys[0]), pppssh_client_links=junk)})
        assert list(result['state']['clients']) == ['office'], result['errors']


@pytest.mark.parametrize('published', ['junk', ['office'], {'office': 'junk'}, {'office': None}])
def test_a_junk_published_fact_is_not_a_link(keys, published):
    result = allocate({'h1': {'pppssh_client_links_info': published, 'pppssh_client_network_info': client_facts()},
                       'h2': ran(link('b', keys[1]))})
    assert result['errors'] == [] and list(result['state']['clients']) == ['b']


def test_refusals_name_the_host_and_the_list_entry_that_set_the_value(keys):
    hostvars = {'h1': ran(link('office', keys[0]), link('lab', keys[1], local_ip='10.88.0.300', remote_ip='10.88.0.1'),
                          pppssh_client_links=[{'name': 'office'}, {'name': 'lab', 'local_ip': '10.88.0.300'}])}
    errors = ' | '.join(allocate(hostvars)['errors'])
    assert "h1: pppssh_client_links[1].local_ip '10.88.0.300'" in errors, errors
    assert "pppssh_client_remote_ip '10.88.0.1'" not in errors, 'a valid value is no refusal'
    hostvars['h1']['pppssh_client_links_info']['lab'].update(local_ip='10.88.0.2', remote_ip='x')
    assert "h1: pppssh_client_remote_ip 'x'" in ' | '.join(allocate(hostvars)['errors']), 'the host default is named'


def test_a_link_name_used_twice_on_one_server_names_both_hosts(keys):
    hostvars = {'h1': ran(link('office', keys[0]), pppssh_client_links=[{'name': 'lab'}, {'name': 'office'}]),
                'h2': ran(link('office', keys[1]))}
    assert allocate(hostvars)['errors'] == [
        "h2: pppssh_client_name 'office' is also the link name of h1 on server srv. Fix: set pppssh_client_name on "
        "one of them"]
    hostvars = {'h1': ran(link('office', keys[0])),
                'h2': ran(link('office', keys[1]), pppssh_client_links=[{'name': 'lab'}, {'name': 'office'}])}
    assert allocate(hostvars)['errors'] == [
        "h2: pppssh_client_links[1].name 'office' is also the link name of h1 on server srv. Fix: give one of the "
        "two links another name"]
    # A value published under another link's key cannot give one host the same name twice either.
    hostvars = {'h1': {'pppssh_client_links_info': {'lab': link('office', keys[0]), 'office': link('office', keys[1])},
                       'pppssh_client_network_info': client_facts()}}
    assert allocate(hostvars)['errors'] == [
        "h1: pppssh_client_name 'office' is also the link name of h1 on server srv. Fix: set pppssh_client_name on "
        "one of them"]
