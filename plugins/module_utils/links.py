# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The links of one client host: pppssh_client_links, or the single link of the short form.

A client host may hold several links (a primary and a backup hub, say). Each entry of
pppssh_client_links names its link and may set any per-link option; what it leaves out comes from
the host's pppssh_client_* variable of the same name (the short form). With an empty list the host
has one link, made of those variables alone. Host-wide settings (supervisor, forwarding, firewall,
masquerade, packages, metrics) are never per link.

Pure logic over plain data, unit-tested without Ansible running.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pppssh.vpn.plugins.module_utils import inventory_links, options, published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

LINKS_VAR = inventory_links.VAR
# The per-link keys; each defaults to the host variable pppssh_client_KEY.
LINK_KEYS = ('name',) + inventory_links.LINK_KEYS
STATES = ('present', 'absent')
LINK_STATES = ('started', 'stopped')
# ip route's metric is an unsigned 32-bit number.
MAX_METRIC = 2 ** 32 - 1


def _field(index, key):
    """The variable an error names: the list entry's key, or the short form's host variable."""
    return 'pppssh_client_%s' % key if index is None else inventory_links.field(index, key)


def _metric(value, host, field):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        number = -1
    else:
        try:
            number = int(str(value), 10)
        except ValueError:
            number = -1
    if not 0 <= number <= MAX_METRIC:
        raise Refusal(host, field, value, 'not a route metric',
                      'use a whole number from 0 to %d; the lower metric wins, e.g. 10 for the primary link '
                      'and 20 for the backup' % MAX_METRIC)
    return number


def _one(entry, index, host, defaults, servers):
    """One link with every key set, the host's defaults filled in, the server resolved and checked."""
    link = dict((key, defaults.get(key)) for key in LINK_KEYS)
    # None is "not set" (the role's argument validation may fill the keys an entry left out with None).
    link.update((key, value) for key, value in entry.items() if value is not None)
    name = published.link_name(link['name'], host, _field(index, 'name'))
    if link['state'] not in STATES:
        raise Refusal(host, _field(index, 'state'), link['state'], 'is neither present nor absent',
                      'use present or absent')
    if defaults.get('state') == 'absent':
        link['state'] = 'absent'     # the host's own state removes every link it has
    if link['link_state'] not in LINK_STATES:
        raise Refusal(host, _field(index, 'link_state'), link['link_state'], 'is neither started nor stopped',
                      'use started or stopped')
    server = link['server'] if link['server'] not in (None, '') else (servers[0] if len(servers) == 1 else None)
    if server not in servers:
        raise Refusal(host, _field(index, 'server'), link['server'],
                      'does not name a host of the pppssh_servers group (it may only be left unset when the '
                      'inventory has exactly one server)', 'name the link\'s server as the inventory does')
    link.update(name=name, server=server,
                ipparam=published.ipparam(link['ipparam'], host, _field(index, 'ipparam')),
                route_metric=_metric(link['route_metric'] if link['route_metric'] is not None else 0, host,
                                     _field(index, 'route_metric')))
    return link


def plan(links, host, defaults, servers):
    """The host's links: a list of dicts with every key of LINK_KEYS, in the order given.

    ``links`` is pppssh_client_links (empty: the short form), ``defaults`` {key: the host's pppssh_client_KEY},
    ``servers`` the pppssh_servers group. Raises Refusal naming the host, the variable and the fix."""
    servers = [str(server) for server in servers or []]
    if defaults.get('state') not in STATES:
        raise Refusal(host, 'pppssh_client_state', defaults.get('state'), 'is neither present nor absent',
                      'use present or absent')
    if inventory_links.is_short_form(links):
        return [_one({}, None, host, defaults, servers)]
    # The list's shape and its names: the same checks the server, status and export make of it.
    found = []
    for index, entry in inventory_links.checked(links, host):
        unknown = sorted(str(key) for key in entry if key not in LINK_KEYS)
        if unknown:
            raise Refusal(host, '%s[%d]' % (LINKS_VAR, index), entry, 'has unknown keys %s' % ', '.join(unknown),
                          'use only %s; host-wide settings stay pppssh_client_* variables' % ', '.join(LINK_KEYS))
        found.append(_one(entry, index, host, defaults, servers))
    return found


def stale(key_files, links):
    """Link names that have a key in /etc/pppssh/keys (``key_files``: the paths find returned) but are no longer
    links of this host that are present: what the role removes. Only names a link could have count, so no other
    file there is ever taken for a link."""
    wanted = set(link['name'] for link in links if link['state'] == 'present')
    names = set()
    for path in key_files or []:
        base = str(path).rsplit('/', 1)[-1]
        for suffix in ('.next.pub', '.generation', '.next', '.pub'):
            if base.endswith(suffix):
                base = base[:-len(suffix)]
                break
        if options.name_problem(base) is None:
            names.add(base)
    return sorted(names - wanted)


def clashes(views):
    """Errors for links of one host whose servers gave them overlapping tunnel addresses ({name: view} of
    client_link views): two links cannot share an address on one host."""
    errors, seen = [], {}
    for name in sorted(views):
        view = views[name] or {}
        for key in ('client_ip', 'server_ip', 'client_ip6', 'server_ip6'):
            address = view.get(key)
            if not address:
                continue
            if address in seen and seen[address] != name:
                errors.append('links %s and %s both have the tunnel address %s. Fix: give their servers pools that '
                              'do not overlap (pppssh_server_pool, pppssh_server_pool6), or fix each link\'s pair '
                              '(local_ip/remote_ip)' % (seen[address], name, address))
            seen.setdefault(address, name)
    return errors
