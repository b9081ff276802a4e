"""The fleet table of playbooks/status.yml (filter fleet_status over module_utils/fleet.py)."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.filter import fleet_status as plugin
from ansible_collections.pppssh.vpn.plugins.module_utils import fleet

NOW = 1796180000


def end(name, role, state='up', local='10.213.0.2', remote='10.213.0.1', **extra):
    base = {'name': name, 'role': role, 'interface': 'ppp-%s' % name, 'state': state, 'pid': 100,
            'local_ip': local if state != 'down' else None, 'remote_ip': remote if state != 'down' else None,
            'uptime_s': 191 if state == 'up' else None, 'rx_bytes': 565 if state != 'down' else None,
            'tx_bytes': 536 if state != 'down' else None, 'redials': 0 if role == 'client' else None,
            'last_cause': None, 'last_cause_time': None, 'cause': None, 'last_error': None,
            'client': None if role == 'client' else 'host-%s' % name}
    base.update(extra)
    return base


def info(*links):
    return {'changed': False, 'links': list(links)}


def hostvars():
    return {
        'oserver': {'pppssh_status_info': info(end('oclient1', 'server', local='10.213.0.1', remote='10.213.0.2'),
                                               end('oclient2', 'server', 'down'))},
        'oclient1': {'pppssh_status_info': info(end('oclient1', 'client', redials=2, last_cause='peer_dead',
                                                    last_cause_time=NOW - 130))},
        'oclient2.example.org': {'pppssh_status_info': info(end('oclient2', 'client', 'down', cause='auth_refused',
                                                                last_error='the server refused the ssh key'))},
    }


def test_the_table_of_a_fleet_with_one_link_down():
    result = plugin.fleet_status(hostvars(), ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['lines'] == [
        'client                server   interface     addresses                  want  state  server end  uptime  '
        'rx/tx bytes  redials  last cause',
        'oclient1              oserver  ppp-oclient1  10.213.0.2 <-> 10.213.0.1  up    up     up          3m11s   '
        '565/536      2        peer_dead 2m10s ago',
        'oclient2.example.org  oserver  ppp-oclient2  -                          up    down   down        -       '
        '-            0        -',
    ]
    assert result['problems'] == ['oclient2.example.org: link oclient2 should be up but is down '
                                  '(cause auth_refused: the server refused the ssh key)']
    assert result['summary'] == 'pppssh fleet: 2 links, 1 up, 2 should be up; 1 problem'
    assert not result['ok']
    assert result['rows'][0]['link'] == 'oclient1' and result['rows'][1]['link'] == 'oclient2'


def test_all_up_is_ok():
    variables = hostvars()
    variables['oclient2.example.org']['pppssh_status_info'] = info(end('oclient2', 'client', local='10.213.0.6',
                                                                       remote='10.213.0.5'))
    variables['oserver']['pppssh_status_info'] = info(end('oclient1', 'server'), end('oclient2', 'server'))
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['ok'] and result['problems'] == []
    assert result['summary'] == 'pppssh fleet: 2 links, 2 up, 2 should be up; all as wanted'


def test_links_that_are_not_wanted_up_are_no_problem():
    variables = hostvars()
    variables['oclient2.example.org'].update(pppssh_client_link_state='stopped')
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['ok'], result['problems']
    assert [row['want'] for row in result['rows']] == ['up', 'stopped']
    variables['oclient2.example.org'].update(pppssh_client_state='absent',
                                             pppssh_status_info=info())
    variables['oserver']['pppssh_status_info'] = info(end('oclient1', 'server'))
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['ok'] and [row['state'] for row in result['rows']] == ['up', 'absent']


def test_the_link_name_and_the_server_come_from_the_inventory():
    variables = {'srv-a': {'pppssh_status_info': info()},
                 'srv-b': {'pppssh_status_info': info(end('office', 'server'))},
                 'c1': {'pppssh_client_name': 'office', 'pppssh_client_server': 'srv-b',
                        'pppssh_status_info': info(end('c1', 'client', 'down'), end('office', 'client'))}}
    result = plugin.fleet_status(variables, ['c1'], ['srv-a', 'srv-b'], now=NOW)
    assert result['ok'], result['problems']
    assert (result['rows'][0]['link'], result['rows'][0]['server'], result['rows'][0]['server_end']) == \
        ('office', 'srv-b', 'up')
    variables['c1']['pppssh_client_server'] = 'elsewhere'
    with pytest.raises(AnsibleFilterError, match='c1: pppssh_client_server'):
        plugin.fleet_status(variables, ['c1'], ['srv-a', 'srv-b'], now=NOW)


def test_unreachable_and_failed_hosts_are_problems():
    variables = hostvars()
    variables['oclient1']['pppssh_status_info'] = {'unreachable': True, 'msg': 'ssh: connect to host: No route'}
    variables['oserver']['pppssh_status_info'] = {'failed': False, 'msg': 'MODULE FAILURE'}
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['rows'][0]['state'] == 'unreachable' and result['rows'][0]['server_end'] == 'unread'
    assert result['problems'][:2] == ['server oserver: pppssh_tunnel_info failed: MODULE FAILURE',
                                      'client oclient1: unreachable: ssh: connect to host: No route']
    assert not result['ok']


def test_a_server_end_without_a_client_in_the_inventory_gets_a_row():
    variables = hostvars()
    variables['oserver']['pppssh_status_info']['links'].append(end('stray', 'server'))
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['rows'][-1]['client'] == 'host-stray (not in inventory)'
    assert result['rows'][-1]['server_end'] == 'up'
    assert len(result['problems']) == 1  # only the down link


def test_a_server_end_down_under_an_up_client_is_a_problem():
    variables = hostvars()
    variables['oserver']['pppssh_status_info'] = info(end('oclient1', 'server', 'connecting'))
    result = plugin.fleet_status(variables, ['oclient1'], ['oserver'], now=NOW)
    assert result['problems'] == ['oclient1: link oclient1 is up on the client but its server end on oserver '
                                  'is connecting']


PING_OK = {'rc': 0, 'stdout': '3 packets transmitted, 3 received, 0% packet loss, time 402ms\n'
                              'rtt min/avg/max/mdev = 2.226/3.545/4.328/0.9 ms\n'}
PING_FAIL = {'rc': 1, 'stdout': '3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n'}


def test_pings_add_two_columns_and_a_failed_ping_is_a_problem():
    variables = hostvars()
    variables['oclient1'].update(pppssh_status_ping_server=PING_OK, pppssh_status_ping_client=PING_FAIL)
    skipped = {'skipped': True}
    variables['oclient2.example.org'].update(pppssh_status_ping_server=skipped, pppssh_status_ping_client=skipped)
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert result['lines'][0].endswith('last cause           ping to server   ping to client')
    assert (result['rows'][0]['ping_to_server'], result['rows'][0]['ping_to_client']) == ('ok 3/3 3.545 ms', 'FAIL 0/3')
    assert result['rows'][1]['ping_to_server'] == '-'
    assert 'oclient1: ping to the client across link oclient1 failed (FAIL 0/3)' in result['problems']


@pytest.mark.parametrize('seconds, text', [(None, '-'), (0, '0s'), (59, '59s'), (60, '1m00s'), (191, '3m11s'),
                                           (3600, '1h00m'), (7500, '2h05m'), (86400 * 3 + 3600 * 4, '3d04h')])
def test_durations(seconds, text):
    assert fleet.duration(seconds) == text


@pytest.mark.parametrize('host, name', [('labclient1', 'labclient1'), ('Office-GW.example.org', 'office-gw'),
                                        ('a.b', 'a'), ('very_long_host_name', 'very_long_h'), ('x+y', 'x-y')])
def test_the_default_link_name_is_the_roles(host, name):
    assert fleet.default_link_name(host) == name


def test_metrics_settings_name_the_roles_variable():
    from ansible_collections.pppssh.vpn.plugins.filter import metrics_settings
    assert metrics_settings.metrics_settings('/srv/node/', 15, 'c1', 'pppssh_client_metrics') == {
        'dir': '/srv/node', 'output': '/srv/node/pppssh.prom', 'interval': 15}
    with pytest.raises(AnsibleFilterError, match=r'^c1: pppssh_client_metrics_dir: .* Fix: '):
        metrics_settings.metrics_settings('node', 15, 'c1', 'pppssh_client_metrics')
    with pytest.raises(AnsibleFilterError, match=r'^c1: pppssh_server_metrics_interval: '):
        metrics_settings.metrics_settings('/srv/node', 0, 'c1', 'pppssh_server_metrics')


def test_skipped_pings_show_no_ping_columns_unless_asked():
    variables = hostvars()
    for host in ('oclient1', 'oclient2.example.org'):
        variables[host].update(pppssh_status_ping_server={'skipped': True}, pppssh_status_ping_client={'skipped': True})
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW)
    assert 'ping' not in result['lines'][0]
    result = plugin.fleet_status(variables, ['oclient1', 'oclient2.example.org'], ['oserver'], now=NOW, pinged=True)
    assert result['lines'][0].endswith('ping to server  ping to client')
    assert result['rows'][0]['ping_to_server'] == '-'


@pytest.mark.parametrize('end, text', [
    ({'local_ip': '10.213.0.2', 'remote_ip': '10.213.0.1'}, '10.213.0.2 <-> 10.213.0.1'),
    ({'local_ip': '10.213.0.2', 'remote_ip': '10.213.0.1', 'local_ip6': 'fd13:213::2', 'remote_ip6': 'fd13:213::1'},
     '10.213.0.2 <-> 10.213.0.1, fd13:213::2 <-> fd13:213::1'),
    ({'local_ip': None, 'remote_ip': None, 'local_ip6': 'fd13:214::2', 'remote_ip6': 'fd13:214::1'},
     'fd13:214::2 <-> fd13:214::1'),
    ({'local_ip': None, 'remote_ip': None}, '-'),
    (None, '-'),
])
def test_the_addresses_column_shows_each_family_a_link_carries(end, text):
    assert fleet._addresses(end) == text


# ---------------------------------------------------------------- several links per client host

def multi_link_hostvars():
    """branch1 holds primary (hub1) and backup (hub2, stopped); lab (hub1) is gone from it; oclient1 is the short
    form, on hub1."""
    return {
        'hub1': {'pppssh_status_info': info(end('primary', 'server', local='10.231.1.1', remote='10.231.1.2'),
                                            end('oclient1', 'server'))},
        'hub2': {'pppssh_status_info': info(end('backup', 'server', 'down'))},
        'branch1': {'pppssh_client_server': 'hub1',
                    'pppssh_client_links': [{'name': 'primary', 'route_metric': 10},
                                            {'name': 'backup', 'server': 'hub2', 'link_state': 'stopped'},
                                            {'name': 'lab', 'state': 'absent'}],
                    'pppssh_status_ping_server': PING_FAIL,
                    'pppssh_status_info': info(end('primary', 'client', local='10.231.1.2', remote='10.231.1.1'),
                                               end('backup', 'client', 'down'))},
        'oclient1': {'pppssh_client_server': 'hub1', 'pppssh_status_info': info(end('oclient1', 'client'))},
    }


def test_a_client_with_several_links_gets_a_row_per_listed_link():
    result = plugin.fleet_status(multi_link_hostvars(), ['oclient1', 'branch1'], ['hub1', 'hub2'], now=NOW)
    assert [(row['client'], row['link'], row['server'], row['want'], row['state'], row['server_end'])
            for row in result['rows']] == [
        ('branch1', 'primary', 'hub1', 'up', 'up', 'up'),
        ('branch1', 'backup', 'hub2', 'stopped', 'down', 'down'),
        ('branch1', 'lab', 'hub1', 'absent', 'absent', 'absent'),
        ('oclient1', 'oclient1', 'hub1', 'up', 'up', 'up')]
    assert result['ok'], result['problems']
    assert result['summary'] == 'pppssh fleet: 4 links, 2 up, 2 should be up; all as wanted'
    assert result['lines'][1].split()[:4] == ['branch1', 'hub1', 'ppp-primary', '10.231.1.2']
    # status.yml pings one link per host: a host with several links shows none.
    pinged = plugin.fleet_status(multi_link_hostvars(), ['oclient1', 'branch1'], ['hub1', 'hub2'], now=NOW,
                                 pinged=True)
    assert pinged['ok'] and [row['ping_to_server'] for row in pinged['rows']] == ['-', '-', '-', '-']


def test_each_link_of_a_client_falls_back_to_the_hosts_state_and_link_state():
    variables = multi_link_hostvars()
    variables['branch1'].update(pppssh_client_link_state='stopped')
    variables['branch1']['pppssh_client_links'][0]['link_state'] = None
    result = plugin.fleet_status(variables, ['branch1', 'oclient1'], ['hub1', 'hub2'], now=NOW)
    assert [row['want'] for row in result['rows'][:3]] == ['stopped', 'stopped', 'absent']
    variables['branch1']['pppssh_client_links'][1].update(link_state='started')
    result = plugin.fleet_status(variables, ['branch1', 'oclient1'], ['hub1', 'hub2'], now=NOW)
    assert result['problems'] == ['branch1: link backup should be up but is down']
    # As in the client role: the host's own state absent takes every link away.
    variables['branch1'].update(pppssh_client_state='absent')
    variables['branch1']['pppssh_client_links'][0]['state'] = 'present'
    result = plugin.fleet_status(variables, ['branch1', 'oclient1'], ['hub1', 'hub2'], now=NOW)
    assert [row['want'] for row in result['rows'][:3]] == ['absent', 'absent', 'absent']


def test_a_single_server_is_the_default_of_every_link():
    variables = {'hub1': {'pppssh_status_info': info(end('a', 'server'), end('b', 'server'))},
                 'c1': {'pppssh_client_links': [{'name': 'a'}, {'name': 'b'}],
                        'pppssh_status_info': info(end('a', 'client'), end('b', 'client'))}}
    result = plugin.fleet_status(variables, ['c1'], ['hub1'], now=NOW)
    assert result['ok'] and [(row['link'], row['server'], row['server_end']) for row in result['rows']] == [
        ('a', 'hub1', 'up'), ('b', 'hub1', 'up')]


@pytest.mark.parametrize('links, words', [
    ('primary', "branch1: pppssh_client_links 'primary': is not a list. Fix: give a list of links"),
    ([1, 2], 'branch1: pppssh_client_links[0] 1: is not a dictionary with a name. Fix: '),
    ([{'name': 'a'}, {'server': 'hub1'}], 'branch1: pppssh_client_links[1] '),
    ([{'name': 'a'}, {'name': 'Bad!'}], "branch1: pppssh_client_links[1].name 'Bad!': invalid link name"),
    ([{'name': 'a'}, {'name': 'a'}], "branch1: pppssh_client_links[1].name 'a': is also the name of "
                                     "pppssh_client_links[0]. Fix: give every link of the host its own name"),
    ([{'name': 'a', 'server': 'elsewhere'}], "branch1: pppssh_client_links[0].server 'elsewhere': is not a host of "
                                             "the pppssh_servers group. Fix: name the link's server"),
    ([{'name': 'a', 'server': ['hub1']}], "branch1: pppssh_client_links[0].server ['hub1']: is not a host"),
    ([{'name': 'a'}], "branch1: pppssh_client_server 'nowhere': is not a host of the pppssh_servers group"),
])
def test_a_bad_links_list_is_refused_naming_the_host_the_variable_and_the_fix(links, words):
    variables = multi_link_hostvars()
    variables['branch1']['pppssh_client_links'] = links
    if links == [{'name': 'a'}]:
        variables['branch1']['pppssh_client_server'] = 'nowhere'
    with pytest.raises(AnsibleFilterError) as failure:
        plugin.fleet_status(variables, ['branch1'], ['hub1', 'hub2'], now=NOW)
    assert words in str(failure.value) and 'Fix: ' in str(failure.value), str(failure.value)


def test_an_empty_links_list_is_the_short_form():
    variables = multi_link_hostvars()
    variables['branch1'].update(pppssh_client_links=[], pppssh_client_name='primary')
    result = plugin.fleet_status(variables, ['branch1'], ['hub1', 'hub2'], now=NOW)
    assert [(row['link'], row['server']) for row in result['rows'][:1]] == [('primary', 'hub1')]
    assert result['rows'][0]['ping_to_server'] == 'FAIL 0/3'
