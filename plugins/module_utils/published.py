# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate what one managed host publishes to another, and return only canonical values.

A managed host may be compromised: its facts, the files it lets Ansible slurp and the values it
publishes are untrusted wherever another host uses them. Every function here parses a value,
refuses it with a Refusal that names the host, the variable, the value and the fix, or returns
the canonical form that templates may render (never the input itself).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import ipaddress
import re
import struct

from ansible_collections.pppssh.vpn.plugins.module_utils import host_probe, options

ED25519 = 'ssh-ed25519'
# What an ed25519 public key blob holds: string "ssh-ed25519", then a 32-byte string.
ED25519_BLOB_LEN = 4 + len(ED25519) + 4 + 32
HOST_KEY_TYPES = ('ssh-ed25519',)
DNS_LABEL_RE = re.compile(r'[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z')
# The word that names the server's own tunnel address among pppssh_client_dns servers.
DNS_SERVER_WORD = 'server'


class Refusal(ValueError):
    """A published value that may not be used: where it came from, what is wrong, the fix."""

    def __init__(self, host, field, value, problem, fix):
        self.host = host
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        super(Refusal, self).__init__('%s: %s %s: %s. Fix: %s' % (host, field, _shown(value), problem, fix))


def _shown(value):
    """The value as the operator should see it: quoted, control characters escaped, bounded."""
    text = repr(value) if not isinstance(value, str) else repr(str(value))
    return text if len(text) <= 120 else text[:117] + '...'


def link_name(value, host, field='pppssh_client_name'):
    problem = options.name_problem(value)
    if problem:
        raise Refusal(host, field, value, *problem)
    return value


def account_name(value, host, field):
    if not isinstance(value, str) or not options.USER_RE.fullmatch(value) or value == 'root':
        raise Refusal(host, field, value, 'not a usable account name',
                      'use at most 32 lowercase letters, digits, "_" or "-", a letter or "_" first, never root')
    return value


def ipparam(value, host, field):
    if not isinstance(value, str) or not options.IPPARAM_RE.fullmatch(value):
        raise Refusal(host, field, value, 'not a usable pppd ipparam',
                      'use up to 32 letters, digits and ._- (the HOWTO uses "vpn")')
    return value


def server_address(value, host, field='pppssh_server_address'):
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not text or text.startswith('-') or not options.HOST_RE.fullmatch(text):
        raise Refusal(host, field, value, 'not a host name or address',
                      'give a plain host name, IPv4 or IPv6 address (no spaces, no leading "-")')
    return text


def port(value, host, field='pppssh_server_ssh_port'):
    try:
        number = int(str(value), 10)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not 1 <= number <= 65535:
        raise Refusal(host, field, value, 'not a TCP port', 'use a whole number from 1 to 65535')
    return number


def compression(value, host, field='pppssh_client_compression'):
    if value not in options.COMPRESSIONS:
        raise Refusal(host, field, value, 'is not a known compression', 'use one of: %s' % ', '.join(options.COMPRESSIONS))
    return value


def ed25519_public_key(text, host, field):
    """'ssh-ed25519 BLOB' from a public key file's text: exactly one line, one ed25519 key.

    The comment is dropped (the consumer writes its own), and so is anything that could be
    an authorized_keys option or a second key.
    """
    if not isinstance(text, str):
        raise Refusal(host, field, text, 'is not text', 'publish the content of an ssh-ed25519 .pub file')
    lines = text.strip('\n').split('\n')
    if len(lines) != 1 or '\r' in text or '\0' in text:
        raise Refusal(host, field, text, 'must be exactly one line holding one key (found %d lines)' % len(lines),
                      'make the .pub file hold one "ssh-ed25519 AAAA... comment" line, e.g. regenerate it with '
                      'ssh-keygen -y -f PRIVATE_KEY')
    words = lines[0].split()
    if len(words) < 2 or words[0] != ED25519:
        raise Refusal(host, field, text, 'is not an ssh-ed25519 public key line (it must start with "%s ")' % ED25519,
                      'publish only the key that ssh-keygen -t ed25519 wrote, with no options before it')
    blob = words[1]
    try:
        raw = base64.b64decode(blob.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b''
    if len(raw) != ED25519_BLOB_LEN or base64.b64encode(raw).decode('ascii') != blob \
            or raw[:4 + len(ED25519)] != struct.pack('>I', len(ED25519)) + ED25519.encode('ascii') \
            or raw[4 + len(ED25519):4 + len(ED25519) + 4] != struct.pack('>I', 32):
        raise Refusal(host, field, text, 'the key blob is not a valid ssh-ed25519 public key',
                      'regenerate the key pair with ssh-keygen -t ed25519')
    return '%s %s' % (ED25519, blob)


def key_tag(pubkey):
    """The tag of a canonical public key ('ssh-ed25519 BLOB'): 24 hex digits of the SHA-256 of its blob.

    The server's forced command sets it as PPPSSH_KEY, so the session entry point records which key
    a session logged in with, and a rotation ends only the sessions of the keys it drops."""
    return hashlib.sha256(base64.b64decode(pubkey.split()[1])).hexdigest()[:24]


def host_key(text, host, field='/etc/ssh/ssh_host_ed25519_key.pub'):
    """'TYPE BLOB' of a server's host key file, for a known_hosts line."""
    return ed25519_public_key(text, host, field)


EXAMPLE_NETWORK = {4: '172.20.0.0/24', 6: 'fd20::/64'}
FAMILY_NAME = {(4,): 'IPv4', (6,): 'IPv6', (4, 6): 'IPv4 or IPv6'}


def ip_network(value, host, field, versions=(4,)):
    """A canonical network ('172.20.0.0/24', 'fd20::/64') of one of ``versions`` from a CIDR string,
    or a Refusal."""
    example = ' or '.join(EXAMPLE_NETWORK[version] for version in versions)
    family = FAMILY_NAME[tuple(versions)]
    if not isinstance(value, str):
        raise Refusal(host, field, value, 'is not a CIDR string', 'write it like %s' % example)
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        network = None
    if network is None or network.version not in versions:
        raise Refusal(host, field, value, 'is not an %s network in CIDR form' % family, 'write it like %s' % example)
    if '/' not in value:
        raise Refusal(host, field, value, 'has no prefix length', 'write the network with its prefix, like %s/%d'
                      % (network.network_address, network.max_prefixlen))
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise Refusal(host, field, value, 'has host bits set (did you mean %s?)' % network,
                      'write the network address, %s' % network)
    if network.prefixlen == 0 or network.is_loopback or network.is_multicast or network.is_link_local \
            or network.is_unspecified or network.is_reserved:
        raise Refusal(host, field, value, 'is not a routable unicast network',
                      'name the LAN itself (e.g. %s), never the default route, loopback, '
                      'link-local, multicast or reserved space' % example)
    return network


def ipv4_network(value, host, field):
    """A canonical IPv4 network ('172.20.0.0/24') from a CIDR string, or a Refusal."""
    return ip_network(value, host, field, (4,))


def ip_networks(values, host, field, versions=(4,)):
    """Canonical networks of a list, refusing duplicates and overlaps within the list."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise Refusal(host, field, values, 'is not a list', 'give a list of CIDR networks, e.g. [%s]'
                      % EXAMPLE_NETWORK[versions[0]])
    networks = []
    for value in values:
        network = ip_network(value, host, field, versions)
        for seen in networks:
            if network.overlaps(seen):
                raise Refusal(host, field, values, '%s overlaps %s in the same list' % (network, seen),
                              'list each network once, without overlaps')
        networks.append(network)
    return networks


def ipv4_networks(values, host, field):
    return ip_networks(values, host, field, (4,))


def _tunnel_address(check, value, host, field):
    """A tunnel end checked by the module's own ``check`` (options._check_ip / _check_ip6), or None."""
    if value is None or value == '':
        return None
    try:
        return str(check(field, value))
    except options.OptionError as exc:
        raise Refusal(host, field, value, exc.problem, exc.fix)


def ipv4_address(value, host, field):
    return _tunnel_address(options._check_ip, value, host, field)


def ipv6_address(value, host, field):
    return _tunnel_address(options._check_ip6, value, host, field)


def host_networks(facts):
    """[(interface, IPv4Network or IPv6Network)] configured on a host, from its gathered facts. The
    ppp-* interfaces of pppssh links are left out: their peer addresses come from the pool itself;
    so are IPv6 link-local networks, which every interface has."""
    found = []
    facts = facts or {}
    for interface in facts.get('interfaces') or []:
        if not isinstance(interface, str) or interface.startswith('ppp-'):
            continue
        data = facts.get(host_probe.fact_key(interface)) or {}
        addresses = ([data['ipv4']] if isinstance(data.get('ipv4'), dict) else []) \
            + [a for a in data.get('ipv4_secondaries') or [] if isinstance(a, dict)]
        for address in addresses:
            try:
                network = ipaddress.IPv4Interface('%s/%s' % (address['address'], address['netmask'])).network
            except (KeyError, TypeError, ValueError):
                continue
            found.append((interface, network))
        for address in data.get('ipv6') or []:
            try:
                network = ipaddress.IPv6Interface('%s/%s' % (address['address'], address['prefix'])).network
            except (KeyError, TypeError, ValueError):
                continue
            if not network.is_link_local:
                found.append((interface, network))
    return found


def dns_domain(value, host, field):
    """A canonical search domain ('corp.example') or route-only domain ('~corp.example', '~.' for
    every name), lowercase, without the trailing dot."""
    if not isinstance(value, str):
        raise Refusal(host, field, value, 'is not a domain name', 'write it like corp.example or ~corp.example')
    text = value.strip().lower()
    route_only = text.startswith('~')
    name = text[1:] if route_only else text
    if route_only and name in ('', '.'):
        return '~.'
    name = name[:-1] if name.endswith('.') else name
    labels = name.split('.')
    if not name or len(name) > 253 or not all(DNS_LABEL_RE.match(label) for label in labels):
        raise Refusal(host, field, value, 'is not a domain name (labels of letters, digits and inner "-", '
                      'at most 63 characters each)', 'write it like corp.example, ~corp.example (route-only) or ~.')
    return ('~' if route_only else '') + name


def dns_settings(value, host, field='pppssh_client_dns', server_ip=None):
    """{'servers', 'domains', 'search', 'default_route'} of a link's DNS settings, canonical: servers are
    IPv4 or IPv6 unicast addresses (the word "server" stands for ``server_ip``, the server's tunnel
    address), domains as dns_domain returns them, search the domains that are not route-only (what a
    resolv.conf can say), default_route whether names outside the domains go to these servers too (no
    domains, or "~."). Empty (no DNS for the link): no servers, no domains."""
    if value is None or value == {} or value == '':
        return {'servers': [], 'domains': [], 'search': [], 'default_route': False}
    if not isinstance(value, dict):
        raise Refusal(host, field, value, 'is not a dictionary',
                      'write it like {servers: [server], domains: [corp.example]}')
    unknown = sorted(str(key) for key in value if key not in ('servers', 'domains'))
    if unknown:
        raise Refusal(host, field, value, 'has unknown keys %s' % ', '.join(unknown), 'use only servers and domains')
    lists = {}
    for key in ('servers', 'domains'):
        items = value.get(key) or []
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise Refusal(host, '%s.%s' % (field, key), items, 'is not a list', 'give a list, e.g. [%s]'
                          % ('server' if key == 'servers' else 'corp.example'))
        lists[key] = list(items)
    servers = []
    for item in lists['servers']:
        if item == DNS_SERVER_WORD:
            if not server_ip:
                raise Refusal(host, '%s.servers' % field, item, 'the server\'s tunnel address is not known here',
                              'name the resolver by its address')
            item = server_ip
        try:
            address = ipaddress.ip_address(str(item).strip())
        except ValueError:
            raise Refusal(host, '%s.servers' % field, item, 'is not an IPv4 or IPv6 address',
                          'write an address such as 10.213.0.1, or "server" for the server\'s tunnel address')
        if address.is_multicast or address.is_unspecified or (address.version == 6 and address.is_link_local):
            raise Refusal(host, '%s.servers' % field, item, 'is not a unicast resolver address',
                          'name a resolver reachable through the link')
        if str(address) not in servers:
            servers.append(str(address))
    domains = []
    for item in lists['domains']:
        domain = dns_domain(item, host, '%s.domains' % field)
        if domain not in domains:
            domains.append(domain)
    if domains and not servers:
        raise Refusal(host, field, value, 'has domains but no servers',
                      'add the resolver that answers for them, e.g. servers: [server]')
    if len(servers) > 8 or len(domains) > 32:
        raise Refusal(host, field, value, 'lists more than 8 servers or 32 domains', 'list fewer')
    return {'servers': servers, 'domains': domains, 'search': [domain for domain in domains if domain[0] != '~'],
            'default_route': bool(servers) and (not domains or '~.' in domains)}
