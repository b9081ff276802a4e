# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet table of playbooks/status.yml. Thin: the logic is module_utils/fleet.py (unit-tested)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.module_utils import fleet, inventory_links
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

CLIENT_VARS = ('pppssh_client_name', 'pppssh_client_state', 'pppssh_client_link_state', 'pppssh_client_server')


def _plain(value):
    """Ansible's lazy and tagged containers as plain Python data (JSON round trip)."""
    return json.loads(json.dumps(value, default=str))


def fleet_status(hostvars, clients, servers, result='pppssh_status_info', ping_to_server='pppssh_status_ping_server',
                 ping_to_client='pppssh_status_ping_client', now=None, pinged=None):
    """{rows, lines, summary, problems, ok} of the fleet; see module_utils/fleet.py. A client host with a
    non-empty pppssh_client_links gets a row per listed link (fleet.expected_links); its rows show no pings,
    which status.yml takes of one link per host."""
    servers = [str(host) for host in servers or []]
    entries = []
    for host in clients or []:
        variables = hostvars[host]
        picked = dict((key, _plain(variables.get(key))) for key in CLIENT_VARS if variables.get(key) is not None)
        links = variables.get('pppssh_client_links')
        links = _plain(links) if links is not None else None
        if not inventory_links.is_short_form(links):
            try:
                expected = fleet.expected_links(str(host), picked, links, servers)
            except Refusal as exc:
                raise AnsibleFilterError(str(exc))
            info = _plain(variables.get(result))
            entries += [{'host': str(host), 'vars': link_vars, 'server': server, 'info': info, 'pings': {}}
                        for link_vars, server in expected]
            continue
        server = picked.get('pppssh_client_server') or (servers[0] if len(servers) == 1 else None)
        if server is not None and str(server) not in servers:
            raise AnsibleFilterError('%s: pppssh_client_server %r is not a host of the pppssh_servers group. Fix: '
                                     'name its server as the inventory does' % (host, server))
        pings = dict((direction, _plain(variables.get(key))) for direction, key in
                     (('to_server', ping_to_server), ('to_client', ping_to_client)) if variables.get(key) is not None)
        entries.append({'host': str(host), 'vars': picked, 'server': server and str(server),
                        'info': _plain(variables.get(result)), 'pings': pings})
    server_results = dict((host, _plain(hostvars[host].get(result))) for host in servers)
    return fleet.status(entries, server_results, now, None if pinged is None else bool(pinged))


def default_link_name(host):
    """The pppssh_client role's default link name (pppssh_client_name) of inventory host ``host``."""
    return fleet.default_link_name(host)


class FilterModule(object):
    def filters(self):
        return {'fleet_status': fleet_status, 'default_link_name': default_link_name}
