# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate and normalise the options of one PPP-over-SSH link.

Every error names the field and says how to fix it. Nothing here touches the system.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# Used with fullmatch only: "$" would also match before a trailing newline.
NAME_RE = re.compile(r'[a-z][a-z0-9_-]{0,10}')
# pppd names its pidfiles ppp-LINKNAME.pid and IFACE.pid: a link called ppp-x or pppssh-x
# would share them with another link's interface or linkname.
RESERVED_NAME_PREFIXES = ('ppp-', 'pppssh-')
HOST_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252}')
USER_RE = re.compile(r'[a-z_][a-z0-9_-]{0,31}')
PATH_RE = re.compile(r'/[A-Za-z0-9._/@+-]{0,4095}')
IPPARAM_RE = re.compile(r'[A-Za-z0-9_.-]{1,32}')
SSH_VALUE_RE = re.compile(r'[A-Za-z0-9@._:,+=/-]{1,256}')

DEFAULT_REMOTE_COMMAND = 'sudo -n /usr/sbin/pppd nodetach notty noauth'
COMPRESSIONS = ('none', 'deflate', 'bsdcomp')
SUPERVISORS = ('pppd', 'systemd')

# ssh -o options a caller may tune. Anything that runs a program (ProxyCommand,
# LocalCommand, KnownHostsCommand, Match exec), weakens host key pinning or
# authentication, or forwards anything is deliberately absent.
ALLOWED_SSH_OPTIONS = (
    'AddressFamily', 'BindAddress', 'BindInterface', 'Ciphers', 'Compression',
    'ConnectionAttempts', 'HostKeyAlgorithms', 'IPQoS', 'KexAlgorithms', 'MACs',
    'ProxyJump', 'PubkeyAcceptedAlgorithms', 'RekeyLimit', 'TCPKeepAlive',
)
# Options the module sets itself; a caller overriding them would break the contract.
MANAGED_SSH_OPTIONS = (
    'BatchMode', 'StrictHostKeyChecking', 'UserKnownHostsFile', 'GlobalKnownHostsFile',
    'IdentityFile', 'IdentitiesOnly', 'ServerAliveInterval', 'ServerAliveCountMax',
    'ConnectTimeout', 'Port', 'User', 'UpdateHostKeys', 'VerifyHostKeyDNS', 'CheckHostIP',
)

SHELL_METACHARACTERS = set('\n\r\0')


class OptionError(ValueError):
    """A bad option: which field, what is wrong, and what to do about it."""

    def __init__(self, field, problem, fix):
        self.field = field
        self.problem = problem
        self.fix = fix
        super(OptionError, self).__init__('%s: %s. Fix: %s' % (field, problem, fix))


def interface_for(name):
    return 'ppp-%s' % name


def name_problem(name):
    """Why ``name`` cannot be a link name, or None. Shared by the module and the roles' filters."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return ('invalid link name %r' % (name,),
                'use 1 to 11 characters: a lowercase letter first, then lowercase letters, digits, '
                '"_" or "-" (it becomes the interface ppp-NAME, at most 15 characters)')
    if name.startswith(RESERVED_NAME_PREFIXES):
        return ('link name %r starts with %s' % (name, ' or '.join(RESERVED_NAME_PREFIXES)),
                'choose a name without that prefix: pppd names its pidfiles ppp-NAME.pid and '
                'ppp-pppssh-NAME.pid, which would collide with another link\'s')
    return None


def _check_name(name):
    problem = name_problem(name)
    if problem:
        raise OptionError('name', *problem)
    return name


def _check_host(server):
    if not server:
        raise OptionError('server', 'no server given',
                          'set server to the host name or address of the VPN server')
    if server.startswith('-') or not HOST_RE.fullmatch(server):
        raise OptionError('server', 'invalid server %r' % (server,),
                          'give a plain host name, IPv4 or IPv6 address (no spaces, no leading "-")')
    return server


def _check_user(user):
    if user == 'root':
        raise OptionError('user', 'refusing to log in to the server as root',
                          'use the dedicated unprivileged user (default "vpn") that runs pppd through sudo')
    if not USER_RE.fullmatch(user or ''):
        raise OptionError('user', 'invalid user name %r' % (user,),
                          'use a POSIX user name such as "vpn"')
    return user


def _check_path(field, value, required=False):
    if value is None:
        if required:
            raise OptionError(field, 'no path given', 'set %s to an absolute path' % field)
        return None
    if not PATH_RE.fullmatch(value) or '/../' in value + '/' or value.endswith('/'):
        raise OptionError(field, 'invalid path %r' % (value,),
                          'use an absolute file path made of letters, digits and ._/@+- only')
    return value


def _check_int(field, value, low, high, unit=''):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OptionError(field, '%r is out of range' % (value,),
                          'use a whole number from %d to %d%s' % (low, high, unit))
    return value


def _check_ip(field, value):
    if value is None or value == '':
        return None
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError:
        raise OptionError(field, '%r is not an IPv4 address' % (value,),
                          'write a dotted quad such as 10.213.0.2')
    if address.is_multicast or address.is_unspecified or address.is_loopback or address == ipaddress.IPv4Address('255.255.255.255'):
        raise OptionError(field, '%s cannot be a point-to-point address' % address,
                          'choose a unicast address outside 127.0.0.0/8, 0.0.0.0 and multicast, '
                          'for example from 10.213.0.0/24')
    return str(address)


def _check_ip6(field, value):
    """A tunnel end's IPv6 address: global or unique-local unicast (the link-local one comes from
    the interface identifier, which pppd derives from this address's low 64 bits)."""
    if value is None or value == '':
        return None
    try:
        address = ipaddress.IPv6Address(str(value))
    except ValueError:
        raise OptionError(field, '%r is not an IPv6 address' % (value,),
                          'write it like fd13:213::2')
    if address.is_multicast or address.is_unspecified or address.is_loopback or address.is_link_local \
            or address.ipv4_mapped is not None or not int(address) & 0xFFFFFFFFFFFFFFFF:
        raise OptionError(field, '%s cannot be a point-to-point address' % address,
                          'choose a global or unique-local unicast address whose last 64 bits are not all '
                          'zero, for example from fd13:213::/64')
    return str(address)


def _check_pair(params, suffix, check, pair, neither):
    """One family's pair local_ipSUFFIX/remote_ipSUFFIX, each end checked by ``check``: both or neither, never equal."""
    local_field, remote_field = 'local_ip' + suffix, 'remote_ip' + suffix
    local = check(local_field, params.get(local_field))
    remote = check(remote_field, params.get(remote_field))
    if bool(local) != bool(remote):
        raise OptionError(local_field if remote else remote_field, 'only one end of the %s is set' % pair,
                          'set both %s and %s%s' % (local_field, remote_field, neither))
    if local and local == remote:
        raise OptionError(remote_field, '%s and %s are both %s' % (local_field, remote_field, local),
                          'give each end of the tunnel its own address')
    return local, remote


def _check_remote_command(command):
    if not command or not command.strip():
        raise OptionError('remote_command', 'empty remote command',
                          'leave it unset for the HOWTO default %r' % DEFAULT_REMOTE_COMMAND)
    if SHELL_METACHARACTERS & set(command):
        raise OptionError('remote_command', 'contains a newline or NUL character',
                          'give the command on one line')
    return command


def _check_ssh_options(ssh_options):
    normalised = {}
    for key, value in sorted((ssh_options or {}).items()):
        canonical = next((o for o in ALLOWED_SSH_OPTIONS if o.lower() == str(key).lower()), None)
        if canonical is None:
            managed = next((o for o in MANAGED_SSH_OPTIONS if o.lower() == str(key).lower()), None)
            if managed:
                raise OptionError('ssh_options', '%s is set by the module itself' % managed,
                                  'use the matching module option instead (port, user, identity_file, '
                                  'known_hosts_file, keepalive_interval, connect_timeout)')
            raise OptionError('ssh_options', 'ssh option %r is not allowed' % (key,),
                              'use one of: %s' % ', '.join(ALLOWED_SSH_OPTIONS))
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, bool):
            text = 'yes' if value else 'no'
        if not SSH_VALUE_RE.fullmatch(text):
            raise OptionError('ssh_options', 'value %r for %s is not allowed' % (value, canonical),
                              'use letters, digits and @._:,+=/- only, no spaces or quotes')
        normalised[canonical] = text
    return normalised


def normalise(params):
    """Return the effective configuration of a link, or raise OptionError.

    ``params`` holds the module parameters; the result is a plain dict that is stable
    (same input, same output) so it can be compared with the configuration of a running link.
    """
    name = _check_name(params.get('name'))
    state = params.get('state') or 'started'
    config = {'name': name, 'interface': interface_for(name)}
    if state in ('stopped', 'status', 'absent'):
        return config

    local_ip, remote_ip = _check_pair(params, '', _check_ip, 'address pair',
                                      ', or neither to let the server assign them')
    local_ip6, remote_ip6 = _check_pair(params, '6', _check_ip6, 'IPv6 pair', ' to carry IPv6, or neither')
    if local_ip6 and interface_id(local_ip6) == interface_id(remote_ip6):
        raise OptionError('remote_ip6', 'local_ip6 and remote_ip6 end in the same 64 bits (%s)'
                          % interface_id(local_ip6),
                          'give the two ends different interface identifiers (the last 64 bits), e.g. ::1 and ::2')

    compression = params.get('compression') or 'none'
    if compression not in COMPRESSIONS:
        raise OptionError('compression', 'unknown compression %r' % (compression,),
                          'use one of: %s' % ', '.join(COMPRESSIONS))
    supervisor = params.get('supervisor') or 'pppd'
    if supervisor not in SUPERVISORS:
        raise OptionError('supervisor', 'unknown supervisor %r' % (supervisor,),
                          'use one of: %s' % ', '.join(SUPERVISORS))
    ipparam = params.get('ipparam') or 'vpn'
    if not IPPARAM_RE.fullmatch(ipparam):
        raise OptionError('ipparam', 'invalid ipparam %r' % (ipparam,),
                          'use up to 32 letters, digits and ._- (the HOWTO uses "vpn")')

    def get(key, default):
        value = params.get(key)
        return default if value is None else value

    persist = params.get('persist')
    config.update({
        'server': _check_host(params.get('server')),
        'port': _check_int('port', get('port', 22), 1, 65535),
        'user': _check_user(params.get('user') or 'vpn'),
        'identity_file': _check_path('identity_file', params.get('identity_file')),
        'known_hosts_file': _check_path('known_hosts_file', params.get('known_hosts_file')),
        'local_ip': local_ip,
        'remote_ip': remote_ip,
        'remote_command': _check_remote_command(params.get('remote_command') or DEFAULT_REMOTE_COMMAND),
        'persist': True if persist is None else bool(persist),
        'holdoff': _check_int('holdoff', get('holdoff', 1), 0, 3600, ' seconds'),
        'keepalive_interval': _check_int('keepalive_interval', get('keepalive_interval', 3), 1, 300,
                                         ' seconds'),
        'keepalive_failures': _check_int('keepalive_failures', get('keepalive_failures', 4), 1, 100),
        'mtu': _check_int('mtu', params.get('mtu'), 128, 16384, ' bytes'),
        'mru': _check_int('mru', params.get('mru'), 128, 16384, ' bytes'),
        'compression': compression,
        'connect_timeout': _check_int('connect_timeout', get('connect_timeout', 30), 1, 600, ' seconds'),
        'ipparam': ipparam,
        'ssh_options': _check_ssh_options(params.get('ssh_options')),
        'supervisor': supervisor,
    })
    if local_ip6:
        # Only when set: an IPv4 link's configuration (and its peers file) stays what it was.
        config.update(local_ip6=local_ip6, remote_ip6=remote_ip6)
    return config


def interface_id(address):
    """The interface identifier pppd's ``ipv6`` option takes for an address: its last 64 bits,
    written as an address (fd13:213::1 -> ::1)."""
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(address)) & 0xFFFFFFFFFFFFFFFF))


def address_clash(config, ip_output):
    """(field, address, network, interface) of a tunnel address inside a network already on this
    host (``ip -4 -o addr show``), ignoring the link's own interface; None when there is none."""
    for line in ip_output.splitlines():
        words = line.split()
        if len(words) < 4 or words[2] != 'inet' or words[1].split('@')[0] == config['interface']:
            continue
        try:
            if 'peer' in words:
                networks = [ipaddress.ip_network(words[3].split('/')[0]),
                            ipaddress.ip_network(words[words.index('peer') + 1], strict=False)]
            else:
                networks = [ipaddress.ip_interface(words[3]).network]
        except (ValueError, IndexError):
            continue
        for field in ('local_ip', 'remote_ip'):
            address = ipaddress.ip_address(config[field])
            for network in networks:
                if address in network:
                    return field, config[field], str(network), words[1].split('@')[0]
    return None
