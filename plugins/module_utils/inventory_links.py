# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The links of a client host as its inventory declares them, read by the server, status and export filters.

``pppssh_client_links`` is a list of dictionaries, one per link: ``name`` (required) and any of
LINK_KEYS; a key an entry leaves out (or sets to null) takes the host's ``pppssh_client_KEY``
variable. Unset, null or an empty list is the short form: the one link of the ``pppssh_client_*``
variables. The client role resolves its own links (module_utils/links.py); here, other hosts' plays
read the raw list of a client host that may not even have run:

- the server (allocation.py), to know which persisted links of such a host to keep: ``usable``
  tolerates anything and never raises (an unusable list or entry yields nothing);
- the fleet status and the client export: ``checked`` refuses with a Refusal naming the host, the
  variable and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pppssh.vpn.plugins.module_utils import options, published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

VAR = 'pppssh_client_links'
# The keys of one entry besides its name: each defaults to the host's pppssh_client_KEY variable.
LINK_KEYS = ('state', 'server', 'server_address', 'server_port', 'local_ip', 'remote_ip', 'local_ip6', 'remote_ip6',
             'key_generation', 'link_state', 'persist', 'keepalive_interval', 'keepalive_failures', 'mtu', 'mru',
             'compression', 'connect_timeout', 'ipparam', 'ssh_options', 'subnets', 'dns', 'queue_bandwidth',
             'route_metric')
EXAMPLE = '[{name: office, server: srv1}, {name: lab, server: srv2}]'


def is_short_form(raw):
    """Whether ``raw`` (the host's pppssh_client_links) means the short form: unset, null or []."""
    return raw is None or (isinstance(raw, list) and not raw)


def field(index, key):
    """'pppssh_client_links[1].server': the variable a key of an entry is, for messages."""
    return '%s[%d].%s' % (VAR, index, key)


def value(entry, variables, key):
    """The link's ``key``: the entry's, else (absent or null) the host's pppssh_client_KEY variable."""
    found = entry.get(key) if isinstance(entry, dict) else None
    return found if found is not None else variables.get('pppssh_client_' + key)


def source(entry, index, key):
    """The variable a link's ``key`` comes from: the entry's key when it sets one, else the host's."""
    if isinstance(entry, dict) and entry.get(key) is not None and index is not None:
        return field(index, key)
    return 'pppssh_client_' + key


def _name(entry):
    name = entry.get('name') if isinstance(entry, dict) else None
    return name if isinstance(name, str) and options.name_problem(name) is None else None


def usable(raw):
    """[(index, entry)] of the entries of a raw list that may be used, never raising: dictionaries with a
    valid link name that no other entry of the list has. Anything else (not a list, an entry that is not
    a dictionary, a bad or repeated name) yields nothing."""
    if not isinstance(raw, list):
        return []
    names = [_name(entry) for entry in raw]
    return [(index, entry) for index, (entry, name) in enumerate(zip(raw, names))
            if name is not None and names.count(name) == 1]


def index_of(raw, name):
    """The index of the usable entry named ``name``, or None."""
    return next((index for index, entry in usable(raw) if entry['name'] == name), None)


def checked(raw, host):
    """[(index, entry)] of a non-empty pppssh_client_links, or a Refusal naming the host, the variable and
    the fix: the list, each entry a dictionary with a valid link name, no name twice."""
    if not isinstance(raw, list):
        raise Refusal(host, VAR, raw, 'is not a list',
                      'give a list of links, e.g. %s, or leave it unset for the one link of the pppssh_client_* '
                      'variables' % EXAMPLE)
    found, seen = [], {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or entry.get('name') is None:
            raise Refusal(host, '%s[%d]' % (VAR, index), entry, 'is not a dictionary with a name',
                          'write each link like {name: office, server: srv1}')
        name = published.link_name(entry['name'], host, field(index, 'name'))
        if name in seen:
            raise Refusal(host, field(index, 'name'), name, 'is also the name of %s[%d]' % (VAR, seen[name]),
                          'give every link of the host its own name')
        seen[name] = index
        found.append((index, entry))
    return found
