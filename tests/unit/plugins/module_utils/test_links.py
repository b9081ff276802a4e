"""The links of one client host (module_utils/links.py): pppssh_client_links, or the short form's one link."""
import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import links
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

DEFAULTS = dict((key, None) for key in links.LINK_KEYS)
DEFAULTS.update(name='c1', state='present', link_state='started', ipparam='vpn', keepalive_interval=3,
                keepalive_failures=4, compression='none', subnets=[], dns={}, route_metric=0)
SERVERS = ['hub1', 'hub2']


def plan(entries, servers=None, **defaults):
    return links.plan(entries, 'c1', dict(DEFAULTS, **defaults), SERVERS if servers is None else servers)


def refused(entries, *parts, **kwargs):
    with pytest.raises(Refusal) as caught:
        plan(entries, **kwargs)
    for part in parts:
        assert part in str(caught.value), str(caught.value)
    return str(caught.value)


def test_the_short_form_is_one_link_of_the_host_variables():
    found = plan([], server='hub2', keepalive_interval=5)
    assert len(found) == 1
    assert (found[0]['name'], found[0]['server'], found[0]['keepalive_interval'], found[0]['route_metric']) == \
        ('c1', 'hub2', 5, 0)
    assert set(found[0]) == set(links.LINK_KEYS)


def test_the_short_form_takes_the_only_server_and_names_its_variables_in_errors():
    assert plan(None, servers=['hub1'])[0]['server'] == 'hub1'
    refused([], 'pppssh_client_server', 'pppssh_servers group', server='elsewhere')
    refused([], 'pppssh_client_name', name='Bad Name', server='hub1')
    refused([], 'pppssh_client_route_metric', route_metric=-1, server='hub1')
    refused([], 'pppssh_client_state', state='gone')


def test_each_entry_takes_what_it_leaves_out_from_the_host():
    found = plan([{'name': 'primary', 'server': 'hub1', 'route_metric': 10},
                  {'name': 'backup', 'server': 'hub2', 'route_metric': '20', 'keepalive_interval': 1}],
                 keepalive_interval=3, subnets=['10.9.0.0/24'])
    assert [(link['name'], link['server'], link['route_metric'], link['keepalive_interval'], link['subnets'])
            for link in found] == [('primary', 'hub1', 10, 3, ['10.9.0.0/24']), ('backup', 'hub2', 20, 1, ['10.9.0.0/24'])]


def test_a_key_set_to_none_is_left_to_the_host():
    # The role's argument validation may fill the keys an entry left out with None.
    found = plan([{'name': 'a', 'server': 'hub1', 'keepalive_interval': None, 'state': None}], keepalive_interval=7)
    assert (found[0]['keepalive_interval'], found[0]['state']) == (7, 'present')


def test_the_host_state_absent_removes_every_link():
    found = plan([{'name': 'a', 'server': 'hub1', 'state': 'present'}, {'name': 'b', 'server': 'hub2'}], state='absent')
    assert [link['state'] for link in found] == ['absent', 'absent']


@pytest.mark.parametrize('entries, parts', [
    ('primary', ['pppssh_client_links', 'is not a list']),
    ([{'server': 'hub1'}], ['pppssh_client_links[0]', 'with a name']),
    (['primary'], ['pppssh_client_links[0]', 'with a name']),
    ([{'name': 'a', 'server': 'hub1', 'forwarding': True}], ['unknown keys forwarding', 'host-wide']),
    ([{'name': 'a', 'server': 'hub1'}, {'name': 'a', 'server': 'hub2'}],
     ['pppssh_client_links[1].name', 'also the name of pppssh_client_links[0]']),
    ([{'name': 'a'}], ['pppssh_client_links[0].server', 'exactly one server']),
    ([{'name': 'a', 'server': 'hub3'}], ['pppssh_client_links[0].server', "'hub3'"]),
    ([{'name': 'A;reboot', 'server': 'hub1'}], ['pppssh_client_links[0].name']),
    ([{'name': 'a', 'server': 'hub1', 'ipparam': 'vpn; reboot'}], ['pppssh_client_links[0].ipparam']),
    ([{'name': 'a', 'server': 'hub1', 'route_metric': 'ten'}],
     ['pppssh_client_links[0].route_metric', 'lower metric wins']),
    ([{'name': 'a', 'server': 'hub1', 'route_metric': 2 ** 32}], ['route_metric']),
    ([{'name': 'a', 'server': 'hub1', 'route_metric': True}], ['route_metric']),
    ([{'name': 'a', 'server': 'hub1', 'state': 'down'}], ['pppssh_client_links[0].state']),
    ([{'name': 'a', 'server': 'hub1', 'link_state': 'up'}], ['pppssh_client_links[0].link_state']),
], ids=['not_a_list', 'no_name', 'not_a_dict', 'host_wide_key', 'duplicate_name', 'no_server_of_two',
        'unknown_server', 'bad_name', 'bad_ipparam', 'metric_word', 'metric_too_big', 'metric_bool', 'bad_state',
        'bad_link_state'])
def test_refused_entries_name_the_entry_and_the_fix(entries, parts):
    assert 'Fix:' in refused(entries, 'c1: ', *parts)


def test_stale_links_are_keys_of_links_no_longer_present():
    wanted = plan([{'name': 'primary', 'server': 'hub1'}, {'name': 'old', 'server': 'hub2', 'state': 'absent'}])
    files = ['/etc/pppssh/keys/%s' % name for name in
             ('primary', 'primary.pub', 'primary.generation', 'gone', 'gone.pub', 'gone.next', 'gone.next.pub',
              'old', 'Not-A-Link', 'ppp-x', '.hidden')]
    assert links.stale(files, wanted) == ['gone', 'old']
    assert links.stale([], wanted) == []


def test_links_given_the_same_tunnel_address_clash():
    views = {'primary': {'client_ip': '10.213.0.2', 'server_ip': '10.213.0.1'},
             'backup': {'client_ip': '10.213.0.2', 'server_ip': '10.213.0.1', 'client_ip6': None}}
    errors = links.clashes(views)
    assert len(errors) == 2 and 'links backup and primary both have the tunnel address 10.213.0.2' in errors[0]
    assert 'pppssh_server_pool' in errors[0]
    assert links.clashes({'primary': {'client_ip': '10.213.0.2', 'server_ip': '10.213.0.1'},
                          'backup': {'client_ip': '10.214.0.2', 'server_ip': '10.214.0.1'}}) == []
