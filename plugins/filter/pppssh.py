# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pppssh roles: the server's allocation and the validation of published data.

Thin wrappers: the logic is in module_utils (allocation.py, published.py) with its unit tests.
A refused value raises AnsibleFilterError, so the task fails with the named cause before any
file is written from it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress
import json

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.module_utils import (allocation, bundle, commands, fleet, inventory_links,
                                                                 keys, pppd_version, published)
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal


def _plain(value):
    """Ansible's lazy and tagged containers as plain Python data (JSON round trip)."""
    return json.loads(json.dumps(value, default=str))


def _old_state(slurped):
    content = (slurped or {}).get('content') if isinstance(slurped, dict) else None
    if not content:
        return None
    try:
        return json.loads(base64.b64decode(content).decode('utf-8'))
    except (ValueError, TypeError):
        raise AnsibleFilterError('the persisted allocation is not valid JSON. Fix: move the state file aside '
                                 '(the next run allocates again) or restore it from a backup')


def _link_fields(links, name):
    """The variables of a published link's keys (allocation.MANAGED_FIELDS) where its pppssh_client_links
    entry sets them: {'name': 'pppssh_client_links[1].name', ...}; the rest are the host's."""
    index = inventory_links.index_of(links, name)
    if index is None:
        return {}
    entry = links[index]
    fields = dict((key, inventory_links.source(entry, index, key))
                  for key in ('compression', 'local_ip', 'remote_ip', 'local_ip6', 'remote_ip6', 'subnets'))
    fields['name'] = inventory_links.field(index, 'name')
    return fields


def server_allocation(slurped_state, server, pool, server_subnets, account_prefix, client_hosts, hostvars,
                      passwd=None, ipparam='vpn', client_to_client=False, pool6=None, static_clients=None,
                      server_network=None):
    """The server's client table; see module_utils/allocation.py. ``passwd`` is getent's passwd table,
    ``static_clients`` pppssh_server_static_clients (clients Ansible does not manage), ``server_network``
    the server's interfaces and addresses (pppssh_host_info's ``network``, shaped as setup's facts).
    Each client's own come from what it published as pppssh_client_network_info.

    One allocation.Client per link a client host published (the values of its fact
    pppssh_client_links_info, {link name: info}); a host without that fact (play 1 did not run there)
    gives one Client that keeps its persisted entries as its inventory still wants them."""
    clients = []
    for host in client_hosts or []:
        variables = hostvars[host]
        state = str(variables.get('pppssh_client_state') or 'present')
        inventory_server = variables.get('pppssh_client_server') or None
        links = variables.get('pppssh_client_links')
        links = _plain(links) if links is not None else None
        published_links = variables.get('pppssh_client_links_info')
        if published_links is None:
            clients.append(allocation.Client(host=host, inventory_state=state, inventory_server=inventory_server,
                                             links=links))
            continue
        published_links = _plain(published_links)
        network = _plain(variables.get('pppssh_client_network_info') or {})
        # Not a dictionary: one Client that allocation skips, as any published value that is not one.
        for info in ([value for _name, value in sorted(published_links.items())]
                     if isinstance(published_links, dict) else [published_links]):
            clients.append(allocation.Client(
                host=host, published_info=info, inventory_state=state, inventory_server=inventory_server,
                network=network, links=links,
                fields=_link_fields(links, info.get('name')) if isinstance(info, dict) else None))
    return allocation.allocate(str(server), pool or None, _plain(server_subnets or []), str(account_prefix),
                               _old_state(slurped_state), clients, _plain(server_network or {}), _plain(passwd or {}),
                               ipparam, bool(client_to_client), pool6 or None,
                               _plain(static_clients) if static_clients is not None else None)


def by_family(values):
    """{'ip': [...], 'ip6': [...]} of canonical addresses and networks (None left out), each family in the
    order given: what an nft rule of each family lists."""
    found = {'ip': [], 'ip6': []}
    for value in _plain(values or []):
        if value is None or value == '':
            continue
        text = str(value)
        try:
            version = (ipaddress.ip_network(text) if '/' in text else ipaddress.ip_address(text)).version
        except ValueError:
            raise AnsibleFilterError('by_family: %r is not an address or network' % (value,))
        found['ip' if version == 4 else 'ip6'].append(text)
    return found


def pppd_ipv6_options(local_ip6, remote_ip6):
    """The pppd option lines of a link end's IPv6 pair (commands.ipv6_options): IPV6CP with the
    pair's interface identifiers and the pair for the IPv6 hook, or 'noipv6'."""
    config = {}
    if local_ip6 or remote_ip6:
        config = {'local_ip6': _refused(published.ipv6_address, local_ip6, 'this host', 'local_ip6'),
                  'remote_ip6': _refused(published.ipv6_address, remote_ip6, 'this host', 'remote_ip6')}
    return commands.ipv6_options(config)


def ipv6_up_hook(_unused=None):
    """The content of /etc/ppp/ipv6-up.d/pppssh, the same on both ends (module_utils/commands.py)."""
    return commands.IPV6_UP_HOOK


def _refused(function, *args):
    try:
        return function(*args)
    except Refusal as exc:
        raise AnsibleFilterError(str(exc))


def client_link(server_view, name, host, server, network, address=None, port=None):
    """What a client may use of its server's published view, validated on the client.

    Returns {address, port, account, ipparam, server_ip, client_ip, server_ip6, client_ip6, subnets, next_pubkey}
    in canonical form (the addresses of a family the link does not carry are None, and so are its subnets
    left out; next_pubkey is the client's next key, which the server accepts during a rotation), or raises:
    a compromised server must not reach root on its clients through these values.
    ``address`` and ``port`` override the published ones (pppssh_client_server_address/_port). ``network`` is
    the client's interfaces and addresses (pppssh_host_info's ``network``, shaped as setup's facts).
    """
    view = _plain(server_view or {})
    pair = (view.get('clients') or {}).get(name)
    if not isinstance(pair, dict):
        raise AnsibleFilterError('%s: server %s published no address pair for link %s. Fix: run playbooks/site.yml '
                                 'with the server in the limit: its play (pppssh_server role) allocates the pair '
                                 'and authorizes the key' % (host, server, name))
    source = '%s (published by server %s)' % (host, server)
    server_ip = _refused(published.ipv4_address, pair.get('server_ip'), source, 'server_ip')
    client_ip = _refused(published.ipv4_address, pair.get('client_ip'), source, 'client_ip')
    server_ip6 = _refused(published.ipv6_address, pair.get('server_ip6'), source, 'server_ip6')
    client_ip6 = _refused(published.ipv6_address, pair.get('client_ip6'), source, 'client_ip6')
    carried = [version for version, ends in ((4, (server_ip, client_ip)), (6, (server_ip6, client_ip6)))
               if all(ends) and ends[0] != ends[1]]
    if not carried or bool(server_ip) != bool(client_ip) or bool(server_ip6) != bool(client_ip6):
        raise AnsibleFilterError('%s: server %s published no usable address pair for link %s (%r/%r, %r/%r). Fix: '
                                 'rerun playbooks/site.yml with the server'
                                 % (host, server, name, server_ip, client_ip, server_ip6, client_ip6))
    subnets = [subnet for subnet in _refused(published.ip_networks, list(view.get('subnets') or [])
                                             + list(pair.get('peer_subnets') or []), source, 'pppssh_server_subnets',
                                             (4, 6))
               if subnet.version in carried]
    mine = published.host_networks(_plain(network or {}))
    for subnet in subnets:
        for interface, network in mine:
            if subnet.overlaps(network):
                raise AnsibleFilterError('%s: pppssh_server_subnets %s of server %s overlaps %s on this client (%s). '
                                         'Fix: route only subnets behind the server that this client does not hold '
                                         'itself' % (host, subnet, server, network, interface))
    return {
        'address': _refused(published.server_address, address, host, 'pppssh_client_server_address') if address
        else _refused(published.server_address, view.get('address'), source, 'pppssh_server_address'),
        'port': _refused(published.port, port, host, 'pppssh_client_server_port') if port
        else _refused(published.port, view.get('port'), source, 'pppssh_server_ssh_port'),
        'account': _refused(published.account_name, pair.get('account'), source, 'account'),
        'ipparam': _refused(published.ipparam, view.get('ipparam'), source, 'pppssh_server_ipparam'),
        'server_ip': server_ip,
        'client_ip': client_ip,
        'server_ip6': server_ip6,
        'client_ip6': client_ip6,
        'subnets': [str(subnet) for subnet in subnets],
        'next_pubkey': _refused(published.ed25519_public_key, pair.get('next_pubkey'), source, 'next_pubkey')
        if pair.get('next_pubkey') is not None else None,
    }


def ed25519_public_key(text, host, field):
    """'ssh-ed25519 BLOB' of one public key line, or a failure naming the host and the file."""
    return _refused(published.ed25519_public_key, text, str(host), str(field))


def key_plan(wanted, recorded, key_exists, next_exists, host, key_file):
    """What play 1 does with a link key (module_utils/keys.py): create, keep or rotate it, or a failure naming
    the host and the variable."""
    return _refused(keys.plan, _plain(wanted), _plain(recorded), bool(key_exists), bool(next_exists), str(host),
                    str(key_file))


def key_switches(client_hosts, hostvars, server):
    """Link names of the clients of ``server`` that switched to their next key in this run (play 3 of site.yml
    marks the link's value of pppssh_client_links_info ``switched: true``): the server then drops their old
    keys."""
    found = []
    for host in client_hosts or []:
        links = hostvars[host].get('pppssh_client_links_info')
        links = _plain(links) if links is not None else None
        for info in links.values() if isinstance(links, dict) else []:
            if isinstance(info, dict) and info.get('switched') is True and info.get('server') == server:
                found.append(str(info.get('name')))
    return sorted(found)


def ed25519_host_key(text, host):
    """'ssh-ed25519 BLOB' of a server's host key file, for the pinned known_hosts line."""
    return _refused(published.host_key, text, str(host))


def sshd_overrides(effective, expected):
    """Settings of ``sshd -T`` output that differ from ``expected`` ({keyword: value}, lowercase):
    ['keyword VALUE (pppssh sets WANTED)', ...]."""
    applied = {}
    for line in (effective or '').splitlines():
        keyword, _sep, value = line.strip().partition(' ')
        applied.setdefault(keyword.lower(), []).append(value.strip().lower())
    wrong = []
    for keyword, wanted in sorted(_plain(expected).items()):
        values = applied.get(keyword, ['(unset)'])
        if values != [str(wanted).lower()]:
            wrong.append('%s %s (pppssh sets %s)' % (keyword, ' '.join(values), wanted))
    return wrong


def pppd_problem(probe_output, check_mode=False):
    """Why the installed pppd may not be used ('' when it may), from the roles' probe: `pppd --version`
    output, then 'package VERSION' (dpkg), or 'missing' when no pppd is installed (yet, in check mode)."""
    lines = (probe_output or '').splitlines()
    if 'missing' in lines:
        return '' if check_mode else 'pppd is not installed at /usr/sbin/pppd'
    package = next((line.split(None, 1)[1] for line in lines if line.startswith('package ')), None)
    return pppd_version.problem('\n'.join(lines), package) or ''


def link_name(value, host, field='pppssh_client_name'):
    """A valid link name, or a failure naming the host and the variable."""
    return _refused(published.link_name, value, str(host), str(field))


def ipparam(value, host, field):
    """A valid pppd ipparam, or a failure naming the host and the variable."""
    return _refused(published.ipparam, value, str(host), str(field))


def canonical_networks(values, host, field, versions=(4,)):
    """Canonical CIDR strings of a list of networks of ``versions`` (IPv4 unless told), or a failure naming
    the host and the variable."""
    versions = tuple(sorted(int(version) for version in _plain(versions)))
    return [str(network) for network in _refused(published.ip_networks, _plain(values), str(host), str(field),
                                                 versions)]


def dns_settings(value, host, server_ip=None, field='pppssh_client_dns'):
    """The canonical {servers, domains} of a link's per-link DNS, or a failure naming the host and the variable."""
    return _refused(published.dns_settings, _plain(value), str(host), str(field), server_ip)


def _owned_link(host, variables, name, server):
    """Whether inventory host ``host`` (its ``variables``) holds link ``name`` of ``server``: None when not,
    else (index, entry) of its pppssh_client_links entry of that name, or (None, None) for the short form's
    one link. Link names are unique per server only: a link whose server (the entry's, else the host's
    pppssh_client_server) is set and is another is not the one. The list is read as the server reads it
    (inventory_links.usable: never raising)."""
    links = variables.get('pppssh_client_links')
    links = _plain(links) if links is not None else None
    host_server = variables.get('pppssh_client_server')
    if inventory_links.is_short_form(links):
        if (variables.get('pppssh_client_name') or fleet.default_link_name(host)) != name:
            return None
        return (None, None) if not host_server or host_server == server else None
    for index, entry in inventory_links.usable(links):
        owner = entry.get('server') or host_server
        if entry['name'] == name and (not owner or owner == server):
            return index, entry
    return None


def client_bundle(slurped_state, name, server, host_key, address, port, client_hosts=None, hostvars=None,
                  defaults=None, unit=None, supervisor='systemd'):
    """The client bundle of link ``name`` (module_utils/bundle.py) from ``server``'s slurped state file and
    host key, or None when that server has no such client. A managed client (a host of ``client_hosts``
    whose link it is: its short-form link, or an entry of its pppssh_client_links) takes its link options
    from its inventory variables (the entry's, else the host's), else the client role's ``defaults``;
    ``supervisor`` stands for the role's "auto"."""
    state = _old_state(slurped_state)
    content = (host_key or {}).get('content') if isinstance(host_key, dict) else None
    try:
        key_text = base64.b64decode(content).decode('utf-8') if content else None
    except (ValueError, TypeError):
        key_text = None
    defaults = _plain(defaults or {})
    try:
        entry = bundle.server_entry(state, str(name), str(server))
        if entry is None:
            return None
        host, index, listed = None, None, None
        if not entry['static']:
            for candidate in client_hosts or []:
                owned = _owned_link(candidate, hostvars[candidate], name, str(server))
                if owned is not None:
                    host, (index, listed) = candidate, owned
        variables = _plain(dict((key, hostvars[host].get(key)) for key in
                                ['pppssh_client_%s' % option for option in bundle.LINK_OPTIONS]
                                + ['pppssh_client_server_address', 'pppssh_client_server_port'])) if host else {}
        # A listed link's own keys first (inventory_links.LINK_KEYS), then the host's variables.
        own = dict((key, value) for key, value in (listed or {}).items()
                   if key in inventory_links.LINK_KEYS and value is not None)
        link, fields = {}, {}
        for option in bundle.LINK_OPTIONS:
            value = own.get(option, variables.get('pppssh_client_' + option))
            link[option] = value if value is not None else defaults.get('pppssh_client_' + option)
            if option in own:
                fields[option] = inventory_links.field(index, option)
        if link.get('supervisor') in (None, 'auto'):
            link['supervisor'] = supervisor
        return bundle.make(state, str(name), str(server), key_text,
                           own.get('server_address') or variables.get('pppssh_client_server_address') or address,
                           own.get('server_port') or variables.get('pppssh_client_server_port') or port,
                           link, unit, host is not None, fields)
    except (Refusal, bundle.BundleError) as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {
            'server_allocation': server_allocation,
            'by_family': by_family,
            'pppd_ipv6_options': pppd_ipv6_options,
            'ipv6_up_hook': ipv6_up_hook,
            'client_link': client_link,
            'ed25519_public_key': ed25519_public_key,
            'ed25519_host_key': ed25519_host_key,
            'key_plan': key_plan,
            'key_switches': key_switches,
            'canonical_networks': canonical_networks,
            'link_name': link_name,
            'sshd_overrides': sshd_overrides,
            'pppd_problem': pppd_problem,
            'ipparam': ipparam,
            'dns_settings': dns_settings,
            'client_bundle': client_bundle,
        }
