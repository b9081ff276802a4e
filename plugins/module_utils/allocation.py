# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's client table: who its clients are, their tunnel pairs, accounts, keys and subnets.

Pure logic over plain data, so it is unit-tested without Ansible running. Everything a client
published, and everything read back from the persisted state, is validated here again
(published.py): the result holds only canonical values, or the run is refused with errors that
each name the host, the variable, the value and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.pppssh.vpn.plugins.module_utils import inventory_links, options, published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

PAIR_BLOCK = 4   # each pool pair is an aligned block of four: .1 server, .2 client (::1, ::2 for IPv6)
# Clients Ansible does not manage, listed on the server: their keys, as a published client's fields.
STATIC_VAR = 'pppssh_server_static_clients'
STATIC_KEYS = ('name', 'pubkey', 'local_ip', 'remote_ip', 'local_ip6', 'remote_ip6', 'subnets', 'compression')
# The variable each field of a managed client's published entry comes from (NAME: its link name).
MANAGED_FIELDS = {'name': 'pppssh_client_name', 'pubkey': '/etc/pppssh/keys/NAME.pub',
                  'next_pubkey': '/etc/pppssh/keys/NAME.next.pub',
                  'compression': 'pppssh_client_compression', 'local_ip': 'pppssh_client_local_ip',
                  'remote_ip': 'pppssh_client_remote_ip', 'local_ip6': 'pppssh_client_local_ip6',
                  'remote_ip6': 'pppssh_client_remote_ip6', 'subnets': 'pppssh_client_subnets'}


class Client(object):
    """One link of a client host as the server sees it this run (a host with several links gives several).

    ``published_info`` is one value of the host's pppssh_client_links_info, or None when play 1 did not
    run there; then ``inventory_state``/``inventory_server`` (the host's pppssh_client_state and
    pppssh_client_server) and ``links`` (its raw pppssh_client_links) say which of its persisted
    entries it keeps. ``fields`` names the variable of a published key where it is not the short form's
    (MANAGED_FIELDS), e.g. {'name': 'pppssh_client_links[1].name'}. ``network`` is the host's interfaces and
    addresses as it published them (setup's network facts shape, published.host_networks)."""

    def __init__(self, host, published_info=None, inventory_state='present', inventory_server=None,
                 network=None, links=None, fields=None):
        self.host = host
        self.published = published_info        # one link's pppssh_client_links_info value, or None
        self.inventory_state = inventory_state
        self.inventory_server = inventory_server
        self.links = links
        self.fields = fields or {}
        self.network = network or {}

    def field(self, key):
        return self.fields.get(key) or MANAGED_FIELDS[key]


class Family(object):
    """The names one address family uses: in the variables, the state file and the result."""

    def __init__(self, version, suffix, max_prefix, example):
        self.version = version
        self.pool_var = 'pppssh_server_pool' + suffix
        self.pair_vars = 'pppssh_client_local_ip%s/pppssh_client_remote_ip%s' % (suffix, suffix)
        self.index = 'index' + suffix            # state file: the pool slot, None for a fixed pair
        self.server_ip = 'server_ip' + suffix
        self.client_ip = 'client_ip' + suffix
        self.local = 'local_ip' + suffix         # what a client publishes (its own end first)
        self.remote = 'remote_ip' + suffix
        self.state_pool = 'pool' + suffix
        self.max_prefix = max_prefix
        self.example = example
        self.name = 'IPv%d' % version


IPV4 = Family(4, '', 30, '10.213.0.0/24')
IPV6 = Family(6, '6', 126, 'fd13:213::/64')
FAMILIES = (IPV4, IPV6)


def _pool(pool, server, family):
    """The family's pool as a network, or None when it is not set."""
    if pool is None or pool == '':
        return None
    network = None
    try:
        network = ipaddress.ip_network(str(pool), strict=False)
    except ValueError:
        pass
    if network is None or network.version != family.version:
        raise Refusal(server, family.pool_var, pool, 'is not an %s network in CIDR form' % family.name,
                      'use a prefix of /%d or shorter, e.g. %s' % (family.max_prefix, family.example))
    if '/' not in str(pool) or network.prefixlen > family.max_prefix:
        raise Refusal(server, family.pool_var, pool, 'must be an %s network with a prefix of /%d or shorter'
                      % (family.name, family.max_prefix), 'use e.g. %s' % family.example)
    if network.network_address != ipaddress.ip_interface(str(pool)).ip:
        raise Refusal(server, family.pool_var, pool, 'is not a network address (did you mean %s?)' % network,
                      'write the network address, %s' % network)
    if network.is_link_local or network.is_multicast or network.is_loopback or network.is_reserved \
            or network.is_unspecified:
        raise Refusal(server, family.pool_var, pool, 'is not unicast address space a link can use',
                      'use private space, e.g. %s' % family.example)
    return network


def _next_key(text, pubkey, host, field):
    """The next key of a rotation: one ed25519 line like the current key, and not the current key itself."""
    next_pubkey = published.ed25519_public_key(text, host, field)
    if pubkey is None or next_pubkey == published.ed25519_public_key(pubkey, host, field):
        raise Refusal(host, field, text, 'a next key needs a current key to replace, and must differ from it',
                      'delete the pending key pair (%s and its .pub) and rerun' % field.replace('.pub', ''))
    return next_pubkey


def _accepted(entry):
    """The keys a client's account accepts: its current key and, during a rotation, its next one."""
    return set(key for key in (entry.get('pubkey'), entry.get('next_pubkey')) if isinstance(key, str) and key)


def _pair_of(pool, index):
    base = pool.network_address + PAIR_BLOCK * index
    return str(base + 1), str(base + 2)


class Allocator(object):
    """Builds the table; collects every error instead of stopping at the first."""

    def __init__(self, server, pool, server_subnets, account_prefix, old_state, clients, server_network,
                 accounts=None, ipparam='vpn', client_to_client=False, pool6=None, static_clients=None):
        self.server = server
        self.static_clients = static_clients
        self.client_to_client = bool(client_to_client)
        self.errors = []
        self.ipparam = self._try(published.ipparam, ipparam, server, 'pppssh_server_ipparam')
        self.account_prefix = account_prefix
        self.accounts = accounts or {}
        self.old = old_state if isinstance(old_state, dict) else {}
        self.old_clients = self.old.get('clients') if isinstance(self.old.get('clients'), dict) else {}
        self.clients = sorted(clients, key=lambda client: client.host)
        self.networks = [(server, interface, network)
                         for interface, network in published.host_networks(server_network)]
        self.pools = {IPV4.version: self._try(_pool, pool, server, IPV4),
                      IPV6.version: self._try(_pool, pool6, server, IPV6)}
        if not self.errors and not any(self.pools.values()):
            self.errors.append('%s: pppssh_server_pool and pppssh_server_pool6 are both unset. Fix: set one of '
                               'them or both (e.g. %s, %s)' % (server, IPV4.example, IPV6.example))
        self.pool = self.pools[IPV4.version]
        self.server_subnets = self._try(published.ip_networks, server_subnets, server, 'pppssh_server_subnets',
                                        (4, 6)) or []

    def _try(self, function, *args):
        try:
            return function(*args)
        except Refusal as exc:
            self.errors.append(str(exc))
            return None

    # ---------------------------------------------------------------- who the clients are

    def wanted(self):
        """{link name: entry} of this server's clients: published links are authoritative (a host that ran
        keeps exactly the links it published for this server); a client host of the group that did not run
        this time (--limit, unreachable) keeps its persisted entries (_persisted_entries) unless its
        inventory now says absent or another server."""
        want, networks_of = {}, set()
        for client in self.clients:
            info = client.published
            if info is not None:
                if not isinstance(info, dict) or info.get('server') != self.server or info.get('state') != 'present':
                    continue
                entries = [self._try(self._published_entry, client)]
                if entries[0] is not None and client.host not in networks_of:
                    # The host's own networks, once however many links it has.
                    networks_of.add(client.host)
                    self.networks += [(client.host, interface, network)
                                      for interface, network in published.host_networks(client.network)]
            else:
                entries = self._persisted_entries(client)
            for entry in entries:
                if entry is None:
                    continue
                if entry['name'] in want:
                    field = self._name_field(client, entry['name'])
                    self.errors.append('%s: %s %r is also the link name of %s on server %s. Fix: %s'
                                       % (client.host, field, entry['name'], want[entry['name']]['host'], self.server,
                                          'set pppssh_client_name on one of them' if field == 'pppssh_client_name'
                                          else 'give one of the two links another name'))
                    continue
                want[entry['name']] = entry
        for entry in self._static_entries():
            if entry['name'] in want:
                self.errors.append('%s: %s %r: the link name is also that of %s. Fix: give the static client '
                                   'another name, or set pppssh_client_name on %s'
                                   % (self.server, STATIC_VAR, entry['name'], want[entry['name']]['host'],
                                      want[entry['name']]['host']))
                continue
            want[entry['name']] = entry
        return want

    @staticmethod
    def _name_field(client, name):
        """The variable that gives a client's link its name, for messages."""
        if client.published is not None or inventory_links.is_short_form(client.links):
            return client.field('name')
        index = inventory_links.index_of(client.links, name)
        return inventory_links.field(index, 'name') if index is not None else inventory_links.VAR

    def _static_entries(self):
        """The entries of pppssh_server_static_clients: hosts Ansible does not manage, validated by the same
        code as a published client (_published_entry), with errors naming the list and the entry."""
        found = []
        if self.static_clients is None:
            return found
        if not isinstance(self.static_clients, list):
            self.errors.append(str(Refusal(self.server, STATIC_VAR, self.static_clients, 'is not a list',
                                           'give a list of {name, pubkey} entries, e.g. [{name: laptop, '
                                           'pubkey: "ssh-ed25519 AAAA..."}]')))
            return found
        for index, static in enumerate(self.static_clients):
            field = '%s[%d]' % (STATIC_VAR, index)
            if not isinstance(static, dict) or 'name' not in static or 'pubkey' not in static:
                self.errors.append(str(Refusal(self.server, field, static, 'is not a dictionary with a name and a '
                                               'pubkey', 'write it like {name: laptop, pubkey: "ssh-ed25519 '
                                               'AAAA..."}')))
                continue
            unknown = sorted(str(key) for key in static if key not in STATIC_KEYS)
            if unknown:
                self.errors.append(str(Refusal(self.server, field, static, 'has unknown keys %s' % ', '.join(unknown),
                                               'use only %s' % ', '.join(STATIC_KEYS))))
                continue
            label = '%s: %s[%s]' % (self.server, STATIC_VAR, static['name']
                                    if options.name_problem(static['name']) is None else index)
            info = dict(static, server=self.server, state='present', key_exists=True)
            entry = self._try(self._published_entry, Client(label, info), dict(
                (key, key) for key in STATIC_KEYS))
            if entry is None:
                continue
            if entry['name'] in [other['name'] for other in found]:
                self.errors.append('%s: %s lists the name %r twice. Fix: give every static client its own name'
                                   % (self.server, STATIC_VAR, entry['name']))
                continue
            found.append(dict(entry, static=True))
        return found

    def _published_entry(self, client, fields=None):
        """The entry of a published client (or of a static one: ``fields`` then names its keys)."""
        info, host = client.published, client.host
        fields = fields or dict(MANAGED_FIELDS, **client.fields)
        name = published.link_name(info.get('name'), host, fields['name'])
        pubkey, key_field = None, fields['pubkey'].replace('NAME', name)
        if info.get('key_exists', True):
            pubkey = published.ed25519_public_key(info.get('pubkey'), host, key_field)
        next_pubkey = None
        # No rotation: None, or '' from ansible-core before 2.19, which templates an unset value as ''.
        if 'next_pubkey' in fields and info.get('next_pubkey') not in (None, ''):
            # A key rotation under way: the client's next key, authorized beside the current one until
            # the client has switched to it (see _next_key).
            next_pubkey = _next_key(info.get('next_pubkey'), pubkey, host, fields['next_pubkey'].replace('NAME', name))
        return {'name': name, 'host': host, 'pubkey': pubkey, 'key_field': key_field, 'next_pubkey': next_pubkey,
                'compression': published.compression(info.get('compression', 'none'), host, fields['compression']),
                'local_ip': published.ipv4_address(info.get('local_ip'), host, fields['local_ip']),
                'remote_ip': published.ipv4_address(info.get('remote_ip'), host, fields['remote_ip']),
                'local_ip6': published.ipv6_address(info.get('local_ip6'), host, fields['local_ip6']),
                'remote_ip6': published.ipv6_address(info.get('remote_ip6'), host, fields['remote_ip6']),
                'subnets': published.ip_networks(info.get('subnets'), host, fields['subnets'], (4, 6))}

    def _kept_names(self, client):
        """The link names a client host that did not run keeps on this server, or None for all of them.

        As the client role decides (module_utils/links.py): a host whose pppssh_client_state is not present
        keeps nothing, whatever its links say. Otherwise, the short form keeps all of them while the host's
        pppssh_client_server (else this server) is this server; a non-empty pppssh_client_links keeps the
        names of its usable entries (inventory_links.usable) whose state (else the host's) is present and whose
        server (else the host's pppssh_client_server, else this server) is this server. A name no longer
        listed, and every name of a list that is no list, is not kept."""
        host_state = str(client.inventory_state or 'present')
        host_server = client.inventory_server or self.server
        if host_state != 'present':
            return set()
        if inventory_links.is_short_form(client.links):
            return None if host_server == self.server else set()
        return set(entry['name'] for _index, entry in inventory_links.usable(client.links)
                   if (entry.get('state') or host_state) == 'present'
                   and (entry.get('server') or host_server) == self.server)

    def _persisted_entries(self, client):
        """Every persisted, non-static entry of a client host that did not run and that it still keeps
        (_kept_names): each validated like a published one (None for one refused, its error recorded)."""
        kept = self._kept_names(client)
        return [self._try(self._persisted_entry, client, name, old) for name, old in sorted(self.old_clients.items())
                if isinstance(old, dict) and old.get('host') == client.host and not old.get('static')
                and (kept is None or name in kept)]

    def _persisted_entry(self, client, name, old):
        """The persisted entry ``name`` of a client that did not run: validated like a published one."""
        host = '%s (persisted in the state file)' % client.host
        fixed, fixed6 = old.get('index') is None, old.get('index6') is None
        return {'name': published.link_name(name, host), 'host': client.host,
                'pubkey': published.ed25519_public_key(old.get('pubkey'), host, 'pubkey')
                if old.get('pubkey') else None,
                'next_pubkey': _next_key(old.get('next_pubkey'), old.get('pubkey'), host, 'next_pubkey')
                if old.get('next_pubkey') is not None else None,
                'compression': published.compression(old.get('compression', 'none'), host),
                'local_ip': published.ipv4_address(old.get('client_ip'), host, 'client_ip') if fixed else None,
                'remote_ip': published.ipv4_address(old.get('server_ip'), host, 'server_ip') if fixed else None,
                'local_ip6': published.ipv6_address(old.get('client_ip6'), host, 'client_ip6') if fixed6 else None,
                'remote_ip6': published.ipv6_address(old.get('server_ip6'), host, 'server_ip6') if fixed6 else None,
                'subnets': published.ip_networks(old.get('subnets'), host, 'subnets', (4, 6))}

    # ---------------------------------------------------------------- checks across clients

    def check_pool(self):
        for family in FAMILIES:
            pool = self.pools[family.version]
            if pool is None:
                continue
            for host, interface, network in self.networks:
                if network.overlaps(pool):
                    self.errors.append('%s: %s %s overlaps %s on %s (%s). Fix: choose another %s'
                                       % (self.server, family.pool_var, pool, network, host, interface,
                                          family.pool_var))
            for subnet in self.server_subnets:
                if subnet.overlaps(pool):
                    self.errors.append('%s: pppssh_server_subnets %s overlaps %s %s. Fix: choose a pool outside the '
                                       'subnets behind the server' % (self.server, subnet, family.pool_var, pool))

    def check_keys(self, want):
        """No key may open two clients' accounts: every current and every next key (rotation) differs."""
        owners = {}
        for name, entry in sorted(want.items()):
            for key, field in ((entry['pubkey'], entry.get('key_field', 'pubkey')),
                               (entry.get('next_pubkey'), MANAGED_FIELDS['next_pubkey'].replace('NAME', name))):
                if key is None:
                    continue
                if key in owners:
                    self.errors.append('%s: %s holds the same public key as client %s. Fix: give every client its '
                                       'own key (%s)' % (entry['host'], field, owners[key],
                                                         'generate a key pair on that host and list its public key'
                                                         if entry.get('static') else
                                                         'delete the copied key pair on %s and rerun' % entry['host']))
                else:
                    owners[key] = entry['host']

    def check_subnets(self, want, pairs):
        """Client subnets may overlap nothing the server routes or holds: another client's subnets,
        the server's subnets, the pool, a tunnel address, a network on the server."""
        claimed = [('server %s' % self.server, 'pppssh_server_subnets', subnet) for subnet in self.server_subnets]
        claimed += [('server %s' % self.server, family.pool_var, self.pools[family.version])
                    for family in FAMILIES if self.pools[family.version] is not None]
        claimed += [('server %s (%s)' % (self.server, interface), 'its network', network)
                    for host, interface, network in self.networks if host == self.server]
        for name, entry in sorted(want.items()):
            for subnet in entry['subnets']:
                for owner, what, network in claimed:
                    if subnet.overlaps(network):
                        self.errors.append('%s: pppssh_client_subnets %s overlaps %s %s of %s. Fix: declare only '
                                           'the LAN behind this client, outside every network the server routes '
                                           'or holds' % (entry['host'], subnet, what, network, owner))
                for address, holder in pairs:
                    if ipaddress.ip_address(address) in subnet:
                        self.errors.append('%s: pppssh_client_subnets %s holds tunnel address %s of %s. Fix: '
                                           'choose a subnet outside the tunnel pairs'
                                           % (entry['host'], subnet, address, holder))
            for subnet in entry['subnets']:
                claimed.append(('client %s' % entry['host'], 'pppssh_client_subnets', subnet))

    # ---------------------------------------------------------------- pairs

    def fixed_pairs(self, want, family):
        """Validate the clients' own pairs of ``family``; the pool slots they touch are reserved."""
        table, used, reserved = {}, {}, set()
        pool = self.pools[family.version]
        for name, entry in sorted(want.items()):
            local, remote = entry[family.local], entry[family.remote]
            if not local and not remote:
                continue
            host = entry['host']
            if not (local and remote):
                self.errors.append('%s: %s: set both, or neither. Fix: give the whole pair, or neither to get one '
                                   'from the pool' % (host, family.pair_vars))
                continue
            if local == remote:
                self.errors.append('%s: %s must be two different %s addresses, got %s/%s. Fix: give each end its '
                                   'own address' % (host, family.pair_vars, family.name, local, remote))
                continue
            if family is IPV6 and options.interface_id(local) == options.interface_id(remote):
                self.errors.append('%s: %s %s/%s end in the same 64 bits (%s), which IPV6CP cannot tell apart. '
                                   'Fix: give the two ends different interface identifiers (the last 64 bits), '
                                   'e.g. ::2 and ::1' % (host, family.pair_vars, local, remote,
                                                         options.interface_id(local)))
                continue
            bad = False
            for address in (local, remote):
                if address in used:
                    self.errors.append('%s: %s: tunnel address %s is already used by another client of %s (%s). '
                                       'Fix: give each client its own pair, or neither value to get one from the pool'
                                       % (host, family.pair_vars, address, self.server, used[address]))
                    bad = True
                for owner, interface, network in self.networks:
                    if owner in (self.server, host) and ipaddress.ip_address(address) in network:
                        self.errors.append('%s: %s: tunnel address %s lies in %s on %s (%s). Fix: choose another pair'
                                           % (host, family.pair_vars, address, network, owner, interface))
                        bad = True
                for subnet in self.server_subnets:
                    if ipaddress.ip_address(address) in subnet:
                        self.errors.append('%s: %s: tunnel address %s lies in pppssh_server_subnets %s. Fix: choose '
                                           'another pair' % (host, family.pair_vars, address, subnet))
                        bad = True
                used[address] = host
                if pool is not None and ipaddress.ip_address(address) in pool:
                    reserved.add((int(ipaddress.ip_address(address)) - int(pool.network_address)) // PAIR_BLOCK)
            if not bad:
                table[name] = {family.index: None, family.server_ip: remote, family.client_ip: local}
        return table, reserved

    def pool_pairs(self, want, reserved, family):
        """Keep each pool client's persisted slot (same pool); new ones get the lowest free slot, by name."""
        table = {}
        pool = self.pools[family.version]
        if pool is None:
            return table
        slots = pool.num_addresses // PAIR_BLOCK
        same_pool = self.old.get(family.state_pool) == str(pool)
        taken = set(reserved)
        names = [name for name, entry in sorted(want.items())
                 if not entry[family.local] and not entry[family.remote]]
        new = []
        for name in names:
            index = (self.old_clients.get(name) or {}).get(family.index) if same_pool else None
            if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < slots and index not in taken:
                taken.add(index)
                table[name] = index
            else:
                new.append(name)
        for name in new:
            free = next((index for index in range(min(slots, len(taken) + 1)) if index not in taken), None)
            if free is None:
                self.errors.append('%s: %s %s has no free address pair left for %s. Fix: use a larger pool'
                                   % (self.server, family.pool_var, pool, want[name]['host']))
                continue
            taken.add(free)
            table[name] = free
        result = {}
        for name, index in table.items():
            server_ip, client_ip = _pair_of(pool, index)
            result[name] = {family.index: index, family.server_ip: server_ip, family.client_ip: client_ip}
        return result

    def pairs(self, want):
        """{name: pair} with both families' keys (None where a family has no address for that client)."""
        pairs = {}
        for family in FAMILIES:
            fixed, reserved = self.fixed_pairs(want, family)
            found = dict(fixed, **self.pool_pairs(want, reserved, family))
            for name in want:
                pairs.setdefault(name, {}).update(
                    found.get(name) or {family.index: None, family.server_ip: None, family.client_ip: None})
        for name, pair in sorted(pairs.items()):
            if not pair['client_ip'] and not pair['client_ip6'] and not self.errors:
                self.errors.append('%s: the link %s has no tunnel address of either family. Fix: set '
                                   'pppssh_server_pool or pppssh_server_pool6 on %s, or give the client a pair'
                                   % (want[name]['host'], name, self.server))
        return dict((name, pair) for name, pair in pairs.items() if pair['client_ip'] or pair['client_ip6'])

    def check_families(self, want, pairs):
        """An IPv6 subnet needs an IPv6 pair on its link (and an IPv4 one an IPv4 pair); the server's own
        subnets of a family need at least one link that carries it."""
        for family in FAMILIES:
            subnets = [str(subnet) for subnet in self.server_subnets if subnet.version == family.version]
            if subnets and pairs and not any(pair[family.client_ip] for pair in pairs.values()):
                self.errors.append('%s: pppssh_server_subnets %s: no link of this server carries %s. Fix: set %s, '
                                   'or list only subnets of the families the links carry'
                                   % (self.server, ', '.join(subnets), family.name, family.pool_var))
        for name, entry in sorted(want.items()):
            pair = pairs.get(name)
            if pair is None:
                continue
            for subnet in entry['subnets']:
                family = IPV6 if subnet.version == 6 else IPV4
                if not pair[family.client_ip]:
                    self.errors.append('%s: pppssh_client_subnets %s is %s, but the link %s has no %s pair. Fix: set '
                                       '%s on %s, or %s on the client'
                                       % (entry['host'], subnet, family.name, name, family.name, family.pool_var,
                                          self.server, family.pair_vars))

    # ---------------------------------------------------------------- accounts

    def account(self, name, host):
        account = published.account_name('%s%s' % (self.account_prefix, name), self.server,
                                         'pppssh_server_account_prefix')
        existing = self.accounts.get(account)
        # getent passwd: [password, uid, gid, gecos, home, shell]
        if existing is not None and not str((existing + [''] * 4)[3]).startswith('pppssh client'):
            raise Refusal(self.server, 'pppssh_server_account_prefix', self.account_prefix,
                          'the account %s of client %s already exists and was not made by pppssh (GECOS %r)'
                          % (account, host, (existing + [''] * 4)[3]),
                          'choose another pppssh_server_account_prefix, or remove that account')
        return account

    def peer_subnets(self, name, clients):
        """With client_to_client: the networks of the other clients, in the families this link carries."""
        if not self.client_to_client:
            return []
        found = []
        for family in FAMILIES:
            if not clients[name][family.client_ip]:
                continue
            pool = self.pools[family.version]
            found += [str(pool)] if pool is not None else []
            found += ['%s/%d' % (entry[family.client_ip], 32 if family.version == 4 else 128)
                      for other, entry in sorted(clients.items())
                      if other != name and entry[family.client_ip] and entry[family.index] is None]
        carried = [version for version in (4, 6) if clients[name][(IPV4 if version == 4 else IPV6).client_ip]]
        found += [subnet for other, entry in sorted(clients.items()) if other != name for subnet in entry['subnets']
                  if ipaddress.ip_network(subnet).version in carried]
        return found

    # ---------------------------------------------------------------- the whole table

    def run(self):
        want = self.wanted()
        self.check_pool()
        self.check_keys(want)
        pairs = self.pairs(want)
        addresses = [(address, want[name]['host']) for name, pair in pairs.items()
                     for address in (pair['server_ip'], pair['client_ip'], pair['server_ip6'], pair['client_ip6'])
                     if address]
        self.check_subnets(want, addresses)
        self.check_families(want, pairs)
        clients = {}
        for name, pair in sorted(pairs.items()):
            entry = want[name]
            account = self._try(self.account, name, entry['host'])
            clients[name] = dict(pair, host=entry['host'], account=account, pubkey=entry['pubkey'],
                                 compression=entry['compression'],
                                 subnets=[str(subnet) for subnet in entry['subnets']])
            if entry.get('next_pubkey'):
                # Only during a rotation: a state file without one stays byte for byte what it was.
                clients[name]['next_pubkey'] = entry['next_pubkey']
            if entry.get('static'):
                # Persisted as static: removed from the list, it is removed (never kept like a managed
                # client that did not run), and no managed host of the same name takes its entry over.
                clients[name].update(host=name, static=True)
        removed = []
        for name in sorted(set(self.old_clients) - set(clients)):
            # Removed names go into cleanup commands: a tampered state file must not smuggle anything in.
            if self._try(published.link_name, name, '%s (state file)' % self.server, 'clients') is not None:
                removed.append(name)
        # A client's key changed when a key its account accepted is no longer accepted: a new key, or the end of
        # a rotation (the client switched to its next key). Only the sessions of the dropped keys end: those that
        # logged in with a key still accepted (its tag recorded by the session entry point) keep running.
        rotated = sorted(name for name in clients if name in self.old_clients
                         and isinstance(self.old_clients[name], dict) and _accepted(self.old_clients[name])
                         - _accepted(clients[name]))
        old_accounts = set(old.get('account') for old in self.old_clients.values()
                           if isinstance(old, dict) and old.get('account'))
        removed_accounts = []
        for account in sorted(old_accounts - set(entry['account'] for entry in clients.values())):
            if self._try(published.account_name, account, '%s (state file)' % self.server, 'account') is not None:
                removed_accounts.append(account)
        # Sessions to end: those of removed clients, and those that logged in with a key now replaced.
        ended = [{'name': name, 'account': self.old_clients[name].get('account')} for name in removed
                 if isinstance(self.old_clients[name], dict)] \
            + [{'name': name, 'account': clients[name]['account'],
                'keep_keys': sorted(published.key_tag(key) for key in _accepted(clients[name]))} for name in rotated]
        if self.errors:
            return {'errors': self.errors, 'removed': [], 'rotated': [], 'removed_accounts': [], 'ended': [],
                    'ipv6': False, 'state': None, 'authorized': {}}
        return {'errors': [], 'removed': removed, 'rotated': rotated, 'removed_accounts': removed_accounts,
                'ended': ended,
                'ipparam': self.ipparam, 'subnets': [str(subnet) for subnet in self.server_subnets],
                # Whether any link of this server carries IPv6 (the IPv6 hooks, sysctl and nft rules).
                'ipv6': self.pools[IPV6.version] is not None or any(entry['client_ip6'] for entry in clients.values()),
                # What the clients learn: their pair and account, nothing about the other clients' keys;
                # with client_to_client, the routes to the others (the pool and their subnets).
                'pairs': dict((name, self.view(name, clients)) for name in clients),
                # The lines of each account's authorized keys: its current key, then its next one during a
                # rotation, each with the tag its forced command sets (PPPSSH_KEY, see session.py).
                'authorized': dict((name, [{'pubkey': key, 'tag': published.key_tag(key)}
                                           for key in (entry['pubkey'], entry.get('next_pubkey')) if key])
                                   for name, entry in clients.items()),
                'state': self.state(clients)}

    def view(self, name, clients):
        """What client ``name`` learns: its pair and account, nothing about the other clients' keys; with
        client_to_client, the routes to the others; during a rotation, its next key (now accepted)."""
        entry = clients[name]
        found = {'server_ip': entry['server_ip'], 'client_ip': entry['client_ip'], 'server_ip6': entry['server_ip6'],
                 'client_ip6': entry['client_ip6'], 'account': entry['account'],
                 'peer_subnets': self.peer_subnets(name, clients)}
        if entry.get('next_pubkey'):
            found['next_pubkey'] = entry['next_pubkey']
        return found

    def state(self, clients):
        """What the state file keeps. An IPv4-only server writes exactly what it wrote before IPv6 existed,
        so that the upgrade itself changes no file."""
        if self.pools[IPV6.version] is None and not any(entry['client_ip6'] for entry in clients.values()):
            return {'pool': str(self.pool), 'clients': dict(
                (name, dict((key, value) for key, value in entry.items() if key not in ('index6', 'server_ip6',
                                                                                        'client_ip6')))
                for name, entry in clients.items())}
        return {'pool': str(self.pool) if self.pool is not None else None,
                'pool6': str(self.pools[IPV6.version]) if self.pools[IPV6.version] is not None else None,
                'clients': clients}


def allocate(server, pool, server_subnets, account_prefix, old_state, clients, server_network, accounts=None,
             ipparam='vpn', client_to_client=False, pool6=None, static_clients=None):
    """The client table of ``server``: {'errors', 'removed', 'rotated', 'removed_accounts', 'ended',
    'ipparam', 'subnets', 'pairs', 'state'}; the last four in canonical form. ``pool`` and ``pool6``
    are the IPv4 and IPv6 pools (either may be None, not both); a client without a pair of some
    family gets None for its addresses of that family. 'ended' lists the
    sessions to end ({name, account}): removed clients' and those of clients whose key changed.

    ``clients`` are Client objects for every host of the clients group; ``server_network`` is the server's
    interfaces and addresses (setup's network facts shape); ``accounts`` maps
    existing account names to their getent passwd fields (to refuse accounts pppssh did not make).
    ``static_clients`` is pppssh_server_static_clients: hosts Ansible does not manage, each validated
    like a published client and persisted with ``static: true``.
    """
    return Allocator(server, pool, server_subnets, account_prefix, old_state, clients, server_network,
                     accounts, ipparam, client_to_client, pool6, static_clients).run()
