# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One table for a fleet's links, from pppssh_tunnel_info on its servers and clients
(playbooks/status.yml, through the pppssh.vpn.fleet_status filter).

A row per link of each client of the inventory (the one link of the short form, or one per entry
of pppssh_client_links): the link as the client reads it, the server end as its server reads it,
what the inventory wants of it, and (when status.yml pinged) a ping each way. A link should be up
when its state (pppssh_client_state) is present and its link_state (pppssh_client_link_state) is
started (the role's defaults); every one that is not, and every host that could not be read, is a
problem, and status.yml then fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.pppssh.vpn.plugins.module_utils import inventory_links
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

HEAD = ('client', 'server', 'interface', 'addresses', 'want', 'state', 'server end', 'uptime', 'rx/tx bytes',
        'redials', 'last cause')
PING_HEAD = ('ping to server', 'ping to client')
_NOT_NAME = re.compile(r'[^a-z0-9_-]')
_PING_COUNT = re.compile(r'(\d+) packets transmitted, (\d+) received')
_PING_RTT = re.compile(r'= ([\d.]+)/([\d.]+)/([\d.]+)/')


def default_link_name(host):
    """The pppssh_client role's default pppssh_client_name for inventory host ``host``."""
    return _NOT_NAME.sub('-', str(host).partition('.')[0].lower())[:11]


def wanted(client_vars):
    """'up', 'stopped' or 'absent': what the inventory wants of a client's link (role defaults apply)."""
    if str(client_vars.get('pppssh_client_state') or 'present') != 'present':
        return 'absent'
    return 'up' if str(client_vars.get('pppssh_client_link_state') or 'started') == 'started' else 'stopped'


def expected_links(host, variables, links, servers):
    """[(link variables, server)] of client ``host`` with a non-empty pppssh_client_links ``links``: one per
    entry, in the list's order. The link variables are what ``wanted`` and ``status`` read of a short-form
    host (pppssh_client_name, _state, _link_state), each the entry's key or else the host's variable
    (``variables``); as in the client role, a host whose pppssh_client_state is not present wants every link
    absent. The server is the entry's, else the host's pppssh_client_server, else the only one of
    ``servers`` (None when there are several). Raises Refusal naming the host, the variable and the fix."""
    host_state = variables.get('pppssh_client_state') or 'present'
    found = []
    for index, entry in inventory_links.checked(links, host):
        server = entry.get('server') or variables.get('pppssh_client_server') \
            or (servers[0] if len(servers) == 1 else None)
        if server is not None and str(server) not in servers:
            raise Refusal(host, inventory_links.source(entry, index, 'server'), server,
                          'is not a host of the pppssh_servers group', 'name the link\'s server as the inventory does')
        found.append(({'pppssh_client_name': entry['name'],
                       'pppssh_client_state': host_state if str(host_state) != 'present'
                       else entry.get('state') or host_state,
                       'pppssh_client_link_state': entry.get('link_state') or variables.get('pppssh_client_link_state')},
                      None if server is None else str(server)))
    return found


def duration(seconds):
    """42s, 3m12s, 2h05m, 3d04h."""
    if seconds is None:
        return '-'
    seconds = max(0, int(seconds))
    if seconds < 60:
        return '%ds' % seconds
    if seconds < 3600:
        return '%dm%02ds' % divmod(seconds, 60)
    if seconds < 86400:
        return '%dh%02dm' % (seconds // 3600, seconds % 3600 // 60)
    return '%dd%02dh' % (seconds // 86400, seconds % 86400 // 3600)


def ping_text(result):
    """'ok 3/3 2.1 ms', 'FAIL 0/3', or '-' (not pinged), from a registered ping command result."""
    if not isinstance(result, dict) or result.get('skipped') or 'rc' not in result:
        return '-'
    out = result.get('stdout') or ''
    count = _PING_COUNT.search(out)
    rtt = _PING_RTT.search(out)
    replies = '%s/%s' % (count.group(2), count.group(1)) if count else '?'
    return ('ok %s%s' % (replies, ' %s ms' % rtt.group(2) if rtt else '')) if result['rc'] == 0 else 'FAIL %s' % replies


def _read(info):
    """(links, error) from a registered pppssh_tunnel_info result."""
    if not isinstance(info, dict):
        return None, 'not read (the host was not in the play)'
    if info.get('unreachable'):
        return None, 'unreachable: %s' % (info.get('msg') or '').strip()
    if not isinstance(info.get('links'), list):
        return None, 'pppssh_tunnel_info failed: %s' % (info.get('msg') or '').strip()
    return info['links'], None


def _find(links, name, role):
    for each in links or []:
        if each.get('name') == name and each.get('role') == role:
            return each
    return None


def _cause(end, now):
    if not end or not end.get('last_cause'):
        return '-'
    when = end.get('last_cause_time')
    return '%s %s ago' % (end['last_cause'], duration(now - when)) if when is not None else end['last_cause']


def _addresses(end):
    """'10.213.0.2 <-> 10.213.0.1', the IPv6 pair after it on a dual-stack link, or '-'."""
    pairs = ['%s <-> %s' % (end.get(local) or '?', end.get(remote) or '?')
             for local, remote in (('local_ip', 'remote_ip'), ('local_ip6', 'remote_ip6'))
             if end and (end.get(local) or end.get(remote))]
    return ', '.join(pairs) or '-'


def _bytes(end):
    if not end or end.get('rx_bytes') is None:
        return '-'
    return '%s/%s' % (end.get('rx_bytes'), end.get('tx_bytes'))


def table(head, body):
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
    rows = [list(head)] + [[str(cell) for cell in row] for row in body]
    widths = [max(len(row[index]) for row in rows) for index in range(len(head))]
    return ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _was_pinged(result):
    return isinstance(result, dict) and 'rc' in result and not result.get('skipped')


def status(clients, servers, now=None, pinged=None):
    """The fleet table.

    ``clients``: [{host, vars (inventory variables), info (registered pppssh_tunnel_info), server (its
    server's inventory name), pings ({to_server, to_client}: registered ping results, optional)}];
    ``servers``: {inventory name: registered pppssh_tunnel_info result}.
    ``pinged``: whether to show the ping columns (None: when any link was pinged).
    Returns {rows (dicts), lines (the table), summary, problems, ok}.
    """
    now = time.time() if now is None else now
    rows, problems, matched = [], [], set()
    server_links = {}
    for host, info in sorted(servers.items()):
        links, error = _read(info)
        server_links[host] = links
        if error:
            problems.append('server %s: %s' % (host, error))
    if pinged is None:
        pinged = any(_was_pinged(result) for client in clients for result in (client.get('pings') or {}).values())
    for client in sorted(clients, key=lambda item: item['host']):
        host, variables = client['host'], client.get('vars') or {}
        name = str(variables.get('pppssh_client_name') or default_link_name(host))
        want = wanted(variables)
        server = client.get('server')
        links, error = _read(client.get('info'))
        end = _find(links, name, 'client')
        server_end = _find(server_links.get(server), name, 'server')
        if server_end:
            matched.add((server, name))
        if error:
            state = 'unreachable' if error.startswith('unreachable') else 'error'
            problems.append('client %s: %s' % (host, error))
        else:
            state = end['state'] if end else 'absent'
        if server in server_links and server_links[server] is None:
            far = 'unread'
        else:
            far = server_end['state'] if server_end else ('absent' if server in server_links else '-')
        if want == 'up' and not error:
            if state != 'up':
                problems.append('%s: link %s should be up but is %s%s' % (
                    host, name, state, ' (cause %s: %s)' % (end['cause'], end['last_error']) if end and end.get('cause')
                    else ''))
            elif far not in ('up', 'unread', '-'):
                problems.append('%s: link %s is up on the client but its server end on %s is %s' % (host, name, server, far))
        row = {'client': host, 'server': server or '-', 'link': name, 'interface': (end or {}).get('interface') or '-',
               'addresses': _addresses(end), 'want': want, 'state': state, 'server_end': far,
               'uptime': duration((end or {}).get('uptime_s')), 'bytes': _bytes(end),
               'redials': '-' if (end or {}).get('redials') is None else end['redials'],
               'last_cause': _cause(end, now)}
        if pinged:
            pings = client.get('pings') or {}
            row.update(ping_to_server=ping_text(pings.get('to_server')), ping_to_client=ping_text(pings.get('to_client')))
            for direction, text in (('to the server', row['ping_to_server']), ('to the client', row['ping_to_client'])):
                if text.startswith('FAIL'):
                    problems.append('%s: ping %s across link %s failed (%s)' % (host, direction, name, text))
        rows.append(row)
    # Server ends that no client of the inventory claims (a client outside it, or left behind).
    for server, links in sorted(server_links.items()):
        for each in links or []:
            if each.get('role') == 'server' and (server, each.get('name')) not in matched:
                row = {'client': '%s (not in inventory)' % (each.get('client') or '?'), 'server': server,
                       'link': each.get('name'), 'interface': each.get('interface') or '-',
                       'addresses': _addresses(each), 'want': '-', 'state': '-', 'server_end': each.get('state'),
                       'uptime': duration(each.get('uptime_s')), 'bytes': _bytes(each), 'redials': '-',
                       'last_cause': '-'}
                if pinged:
                    row.update(ping_to_server='-', ping_to_client='-')
                rows.append(row)
    keys = ('client', 'server', 'interface', 'addresses', 'want', 'state', 'server_end', 'uptime', 'bytes', 'redials',
            'last_cause') + (('ping_to_server', 'ping_to_client') if pinged else ())
    lines = table(HEAD + (PING_HEAD if pinged else ()), [[row[key] for key in keys] for row in rows])
    up = sum(1 for row in rows if row['state'] == 'up')
    should = sum(1 for row in rows if row['want'] == 'up')
    summary = 'pppssh fleet: %d link%s, %d up, %d should be up; %s' % (
        len(rows), '' if len(rows) == 1 else 's', up, should,
        'all as wanted' if not problems else '%d problem%s' % (len(problems), '' if len(problems) == 1 else 's'))
    return {'rows': rows, 'lines': lines, 'summary': summary, 'problems': problems, 'ok': not problems}
