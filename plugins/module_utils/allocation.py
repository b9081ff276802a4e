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

from ansible_collections.pppssh.vpn.plugins.module_utils import published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

PAIR_BLOCK = 4   # each pool pair is an aligned block of four: .1 server, .2 client


class Client(object):
    """One client host as the server sees it this run."""

    def __init__(self, host, published_info=None, inventory_state='present', inventory_server=None,
                 facts=None):
        self.host = host
        self.published = published_info        # pppssh_client_info, or None when play 1 did not run there
        self.inventory_state = inventory_state
        self.inventory_server = inventory_server
        self.facts = facts or {}


def _pool(pool, server):
    try:
        network = ipaddress.IPv4Network(str(pool), strict=False)
    except ValueError:
        raise Refusal(server, 'pppssh_server_pool', pool, 'is not an IPv4 network in CIDR form',
                      'use a prefix of /30 or shorter, e.g. 10.213.0.0/24')
    if '/' not in str(pool) or network.prefixlen > 30:
        raise Refusal(server, 'pppssh_server_pool', pool, 'must be an IPv4 network with a prefix of /30 or shorter',
                      'use e.g. 10.213.0.0/24')
    if str(network) != str(pool).strip():
        raise Refusal(server, 'pppssh_server_pool', pool, 'is not a network address (did you mean %s?)' % network,
                      'write the network address, %s' % network)
    return network


def _pair_of(pool, index):
    base = int(pool.network_address) + PAIR_BLOCK * index
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


class Allocator(object):
    """Builds the table; collects every error instead of stopping at the first."""

    def __init__(self, server, pool, server_subnets, account_prefix, old_state, clients, server_facts,
                 accounts=None, ipparam='vpn', client_to_client=False):
        self.server = server
        self.client_to_client = bool(client_to_client)
        self.errors = []
        self.ipparam = self._try(published.ipparam, ipparam, server, 'pppssh_server_ipparam')
        self.account_prefix = account_prefix
        self.accounts = accounts or {}
        self.old = old_state if isinstance(old_state, dict) else {}
        self.old_clients = self.old.get('clients') if isinstance(self.old.get('clients'), dict) else {}
        self.clients = sorted(clients, key=lambda client: client.host)
        self.networks = [(server, interface, network)
                         for interface, network in published.host_networks(server_facts)]
        self.pool = self._try(_pool, pool, server)
        self.server_subnets = self._try(published.ipv4_networks, server_subnets, server, 'pppssh_server_subnets') or []

    def _try(self, function, *args):
        try:
            return function(*args)
        except Refusal as exc:
            self.errors.append(str(exc))
            return None

    # ---------------------------------------------------------------- who the clients are

    def wanted(self):
        """{link name: entry} of this server's clients: published ones are authoritative; a client of
        the group that did not run this time (--limit, unreachable) keeps its persisted entry unless
        its inventory now says absent or another server."""
        want = {}
        for client in self.clients:
            info = client.published
            if info is not None:
                if not isinstance(info, dict) or info.get('server') != self.server or info.get('state') != 'present':
                    continue
                entry = self._try(self._published_entry, client)
                if entry is not None:
                    self.networks += [(client.host, interface, network)
                                      for interface, network in published.host_networks(client.facts)]
            else:
                if client.inventory_state != 'present' or (client.inventory_server or self.server) != self.server:
                    continue
                entry = self._try(self._persisted_entry, client)
            if entry is None:
                continue
            if entry['name'] in want:
                self.errors.append('%s: pppssh_client_name %r is also the link name of %s on server %s. Fix: set '
                                   'pppssh_client_name on one of them' % (client.host, entry['name'],
                                                                          want[entry['name']]['host'], self.server))
                continue
            want[entry['name']] = entry
        return want

    def _published_entry(self, client):
        info, host = client.published, client.host
        name = published.link_name(info.get('name'), host)
        pubkey = None
        if info.get('key_exists', True):
            pubkey = published.ed25519_public_key(info.get('pubkey'), host, '/etc/pppssh/keys/%s.pub' % name)
        return {'name': name, 'host': host, 'pubkey': pubkey,
                'compression': published.compression(info.get('compression', 'none'), host),
                'local_ip': published.ipv4_address(info.get('local_ip'), host, 'pppssh_client_local_ip'),
                'remote_ip': published.ipv4_address(info.get('remote_ip'), host, 'pppssh_client_remote_ip'),
                'subnets': published.ipv4_networks(info.get('subnets'), host, 'pppssh_client_subnets')}

    def _persisted_entry(self, client):
        """A persisted entry of a client that did not run: validated like a published one."""
        for name, old in sorted(self.old_clients.items()):
            if isinstance(old, dict) and old.get('host') == client.host:
                host = '%s (persisted in the state file)' % client.host
                fixed = old.get('index') is None
                return {'name': published.link_name(name, host), 'host': client.host,
                        'pubkey': published.ed25519_public_key(old.get('pubkey'), host, 'pubkey')
                        if old.get('pubkey') else None,
                        'compression': published.compression(old.get('compression', 'none'), host),
                        'local_ip': published.ipv4_address(old.get('client_ip'), host, 'client_ip') if fixed else None,
                        'remote_ip': published.ipv4_address(old.get('server_ip'), host, 'server_ip') if fixed else None,
                        'subnets': published.ipv4_networks(old.get('subnets'), host, 'subnets')}
        return None

    # ---------------------------------------------------------------- checks across clients

    def check_pool(self):
        if self.pool is None:
            return
        for host, interface, network in self.networks:
            if network.overlaps(self.pool):
                self.errors.append('%s: pppssh_server_pool %s overlaps %s on %s (%s). Fix: choose another '
                                   'pppssh_server_pool' % (self.server, self.pool, network, host, interface))
        for subnet in self.server_subnets:
            if subnet.overlaps(self.pool):
                self.errors.append('%s: pppssh_server_subnets %s overlaps pppssh_server_pool %s. Fix: choose a pool '
                                   'outside the subnets behind the server' % (self.server, subnet, self.pool))

    def check_keys(self, want):
        owners = {}
        for name, entry in sorted(want.items()):
            if entry['pubkey'] is None:
                continue
            if entry['pubkey'] in owners:
                self.errors.append('%s: /etc/pppssh/keys/%s.pub holds the same public key as client %s. Fix: give '
                                   'every client its own key (delete the copied key pair on %s and rerun)'
                                   % (entry['host'], name, owners[entry['pubkey']], entry['host']))
            else:
                owners[entry['pubkey']] = entry['host']

    def check_subnets(self, want, pairs):
        """Client subnets may overlap nothing the server routes or holds: another client's subnets,
        the server's subnets, the pool, a tunnel address, a network on the server."""
        claimed = [('server %s' % self.server, 'pppssh_server_subnets', subnet) for subnet in self.server_subnets]
        if self.pool is not None:
            claimed.append(('server %s' % self.server, 'pppssh_server_pool', self.pool))
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
                    if ipaddress.IPv4Address(address) in subnet:
                        self.errors.append('%s: pppssh_client_subnets %s holds tunnel address %s of %s. Fix: '
                                           'choose a subnet outside the tunnel pairs'
                                           % (entry['host'], subnet, address, holder))
            for subnet in entry['subnets']:
                claimed.append(('client %s' % entry['host'], 'pppssh_client_subnets', subnet))

    # ---------------------------------------------------------------- pairs

    def fixed_pairs(self, want):
        """Validate the clients' own pairs; the pool slots they touch are reserved."""
        table, used, reserved = {}, {}, set()
        for name, entry in sorted(want.items()):
            local, remote = entry['local_ip'], entry['remote_ip']
            if not local and not remote:
                continue
            host = entry['host']
            if not (local and remote):
                self.errors.append('%s: pppssh_client_local_ip/pppssh_client_remote_ip: set both, or neither. Fix: '
                                   'give the whole pair, or neither to get one from the pool' % host)
                continue
            if local == remote:
                self.errors.append('%s: pppssh_client_local_ip/pppssh_client_remote_ip must be two different IPv4 '
                                   'addresses, got %s/%s. Fix: give each end its own address' % (host, local, remote))
                continue
            bad = False
            for address in (local, remote):
                if address in used:
                    self.errors.append('%s: pppssh_client_local_ip/pppssh_client_remote_ip: tunnel address %s is '
                                       'already used by another client of %s (%s). Fix: give each client its own '
                                       'pair, or neither value to get one from the pool'
                                       % (host, address, self.server, used[address]))
                    bad = True
                for owner, interface, network in self.networks:
                    if owner in (self.server, host) and ipaddress.IPv4Address(address) in network:
                        self.errors.append('%s: pppssh_client_local_ip/pppssh_client_remote_ip: tunnel address %s '
                                           'lies in %s on %s (%s). Fix: choose another pair'
                                           % (host, address, network, owner, interface))
                        bad = True
                for subnet in self.server_subnets:
                    if ipaddress.IPv4Address(address) in subnet:
                        self.errors.append('%s: pppssh_client_local_ip/pppssh_client_remote_ip: tunnel address %s '
                                           'lies in pppssh_server_subnets %s. Fix: choose another pair'
                                           % (host, address, subnet))
                        bad = True
                used[address] = host
                if self.pool is not None and ipaddress.IPv4Address(address) in self.pool:
                    reserved.add((int(ipaddress.IPv4Address(address)) - int(self.pool.network_address)) // PAIR_BLOCK)
            if not bad:
                table[name] = {'index': None, 'server_ip': remote, 'client_ip': local}
        return table, reserved

    def pool_pairs(self, want, reserved):
        """Keep each pool client's persisted slot (same pool); new ones get the lowest free slot, by name."""
        table = {}
        if self.pool is None:
            return table
        slots = self.pool.num_addresses // PAIR_BLOCK
        same_pool = self.old.get('pool') == str(self.pool)
        taken = set(reserved)
        names = [name for name, entry in sorted(want.items()) if not entry['local_ip'] and not entry['remote_ip']]
        new = []
        for name in names:
            index = (self.old_clients.get(name) or {}).get('index') if same_pool else None
            if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < slots and index not in taken:
                taken.add(index)
                table[name] = index
            else:
                new.append(name)
        for name in new:
            free = next((index for index in range(slots) if index not in taken), None)
            if free is None:
                self.errors.append('%s: pppssh_server_pool %s has no free address pair left for %s. Fix: use a '
                                   'larger pool' % (self.server, self.pool, want[name]['host']))
                continue
            taken.add(free)
            table[name] = free
        result = {}
        for name, index in table.items():
            server_ip, client_ip = _pair_of(self.pool, index)
            result[name] = {'index': index, 'server_ip': server_ip, 'client_ip': client_ip}
        return result

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
        if not self.client_to_client:
            return []
        others = [subnet for other, entry in sorted(clients.items()) if other != name for subnet in entry['subnets']]
        fixed = ['%s/32' % entry['client_ip'] for other, entry in sorted(clients.items())
                 if other != name and entry['index'] is None]
        return [str(self.pool)] + fixed + others

    # ---------------------------------------------------------------- the whole table

    def run(self):
        want = self.wanted()
        self.check_pool()
        self.check_keys(want)
        fixed, reserved = self.fixed_pairs(want)
        pairs = dict(fixed, **self.pool_pairs(want, reserved))
        addresses = [(address, want[name]['host']) for name, pair in pairs.items()
                     for address in (pair['server_ip'], pair['client_ip'])]
        self.check_subnets(want, addresses)
        clients = {}
        for name, pair in sorted(pairs.items()):
            entry = want[name]
            account = self._try(self.account, name, entry['host'])
            clients[name] = dict(pair, host=entry['host'], account=account, pubkey=entry['pubkey'],
                                 compression=entry['compression'],
                                 subnets=[str(subnet) for subnet in entry['subnets']])
        removed = []
        for name in sorted(set(self.old_clients) - set(clients)):
            # Removed names go into cleanup commands: a tampered state file must not smuggle anything in.
            if self._try(published.link_name, name, '%s (state file)' % self.server, 'clients') is not None:
                removed.append(name)
        rotated = sorted(name for name in clients if name in self.old_clients
                         and isinstance(self.old_clients[name], dict)
                         and self.old_clients[name].get('pubkey') not in (None, clients[name]['pubkey']))
        old_accounts = set(old.get('account') for old in self.old_clients.values()
                           if isinstance(old, dict) and old.get('account'))
        removed_accounts = []
        for account in sorted(old_accounts - set(entry['account'] for entry in clients.values())):
            if self._try(published.account_name, account, '%s (state file)' % self.server, 'account') is not None:
                removed_accounts.append(account)
        # Sessions to end: those of removed clients, and those that logged in with a key now replaced.
        ended = [{'name': name, 'account': self.old_clients[name].get('account')} for name in removed
                 if isinstance(self.old_clients[name], dict)] \
            + [{'name': name, 'account': clients[name]['account']} for name in rotated]
        if self.errors:
            return {'errors': self.errors, 'removed': [], 'rotated': [], 'removed_accounts': [], 'ended': [],
                    'state': None}
        return {'errors': [], 'removed': removed, 'rotated': rotated, 'removed_accounts': removed_accounts,
                'ended': ended,
                'ipparam': self.ipparam, 'subnets': [str(subnet) for subnet in self.server_subnets],
                # What the clients learn: their pair and account, nothing about the other clients' keys;
                # with client_to_client, the routes to the others (the pool and their subnets).
                'pairs': dict((name, {'server_ip': entry['server_ip'], 'client_ip': entry['client_ip'],
                                      'account': entry['account'], 'peer_subnets': self.peer_subnets(name, clients)})
                              for name, entry in clients.items()),
                'state': {'pool': str(self.pool), 'clients': clients}}


def allocate(server, pool, server_subnets, account_prefix, old_state, clients, server_facts, accounts=None,
             ipparam='vpn', client_to_client=False):
    """The client table of ``server``: {'errors', 'removed', 'rotated', 'removed_accounts', 'ended',
    'ipparam', 'subnets', 'pairs', 'state'}; the last four in canonical form. 'ended' lists the
    sessions to end ({name, account}): removed clients' and those of clients whose key changed.

    ``clients`` are Client objects for every host of the clients group; ``accounts`` maps
    existing account names to their getent passwd fields (to refuse accounts pppssh did not make).
    """
    return Allocator(server, pool, server_subnets, account_prefix, old_state, clients, server_facts,
                     accounts, ipparam, client_to_client).run()
