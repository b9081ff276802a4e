# -*- coding: utf-8 -*-
"""The link itself, on the docker and uml scenarios: ppp-LINK up on both ends, pings both ways
over it, the module's own status reports it up, and its byte counters grow with traffic over it.

Both scenarios always carry a live link: `default` on an engine whose kernel has PPP (the local
one, or a rig guest's; its prepare stops without PPP), `uml` on rig guests; the ``live`` fixture
fails the run otherwise. The kernel_no_ppp error path is proven on this host by
tests/integration/test_bad_input.py.
"""

import re

from pppssh_testlib import content_lines, tunnel_status

testinfra_hosts = ['ansible://pppssh_clients']


def my_links(inventory_name, fleet):
    links = [c for c in fleet['clients'] if c['host'] == inventory_name]
    assert links, 'no pppssh link for %s in the inventory' % inventory_name
    return links


def test_module_status(inventory_name, fleet, ansible_hosts, allocations, live):
    for client in my_links(inventory_name, fleet):
        status = tunnel_status(ansible_hosts(inventory_name), client['link'])
        assert status.get('failed') is not True, status
        assert status['interface'] == 'ppp-%s' % client['link']
        pair = allocations[client['server']][client['link']]
        assert status['state'] == 'up', status
        assert isinstance(status['pid'], int)
        assert status['local_ip'] == pair['client_ip'] and status['remote_ip'] == pair['server_ip']


def test_interfaces(host, inventory_name, fleet, hosts, live):
    for client in my_links(inventory_name, fleet):
        for end in (host, hosts(client['server'])):
            flags = end.check_output('ip -o link show dev ppp-%s' % client['link'])
            assert 'UP' in flags.split('<', 1)[1].split('>', 1)[0].split(','), flags


def test_pings_both_ways(host, inventory_name, fleet, hosts, allocations, live):
    for client in my_links(inventory_name, fleet):
        pair = allocations[client['server']][client['link']]
        host.check_output('ping -c 3 -W 2 -I ppp-%s %s' % (client['link'], pair['server_ip']))
        hosts(client['server']).check_output('ping -c 3 -W 2 -I ppp-%s %s' % (client['link'], pair['client_ip']))


def test_byte_counters_grow_with_traffic(host, inventory_name, fleet, ansible_hosts, allocations, live):
    count, size = 5, 1000
    for client in my_links(inventory_name, fleet):
        pair = allocations[client['server']][client['link']]
        before = tunnel_status(ansible_hosts(inventory_name), client['link'])
        host.check_output('ping -c %d -i 0.2 -s %d -W 2 -I ppp-%s %s' % (count, size, client['link'], pair['server_ip']))
        after = tunnel_status(ansible_hosts(inventory_name), client['link'])
        assert after['state'] == 'up' and after['pid'] == before['pid'], after
        # Each echo and its reply carry at least `size` bytes across the link, each way.
        assert after['tx_bytes'] - before['tx_bytes'] >= count * size, (before, after)
        assert after['rx_bytes'] - before['rx_bytes'] >= count * size, (before, after)


def test_server_end_is_configured_regardless(inventory_name, fleet, hosts, allocations):
    for client in my_links(inventory_name, fleet):
        server, link = hosts(client['server']), client['link']
        user = client['account']
        assert server.user(user).exists
        assert '%s ALL=(root) NOPASSWD: /usr/local/sbin/pppssh-session %s' % (user, link) \
            in content_lines(server, '/etc/sudoers.d/pppssh')
        keys = content_lines(server, '/etc/pppssh/authorized_keys/%s' % user)
        assert [k for k in keys if re.match(r'restrict,command="PPPSSH_KEY=[0-9a-f]{24} exec sudo -n '
                                            r'/usr/local/sbin/pppssh-session %s" ' % link, k)]
        pair = allocations[client['server']][link]
        assert '%s:%s' % (pair['server_ip'], pair['client_ip']) \
            in content_lines(server, '/etc/ppp/peers/pppssh-%s' % link)
