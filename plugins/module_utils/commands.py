# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the ssh argv, the pty command and the pppd peers file of a link.

This is the only place that quotes anything. Two layers are quoted here:
the shell (pppd runs the ``pty`` string with ``/bin/sh -c``) and pppd's own
option-file words (double quotes with backslash escapes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shlex
import sys

try:
    from ansible_collections.pppssh.vpn.plugins.module_utils import options
except ImportError:  # installed on a host next to pppssh_options.py (the metrics exporter), run with python3 -I
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pppssh_options as options  # pylint: disable=import-error

PPPD = '/usr/sbin/pppd'
SSH = '/usr/bin/ssh'
PEERS_DIR = '/etc/ppp/peers'
LOG_DIR = '/var/log/pppssh'
RUN_DIR = '/run'

HEADER = ('# Managed by pppssh.vpn.pppssh_tunnel: every option of link %s.\n'
          '# Edits are overwritten on the next run; change the module parameters instead.\n')
CONFIG_MARK = '# pppssh-config: '

# pppd configures only the link-local IPv6 addresses (from the interface identifiers IPV6CP agreed):
# this hook adds the link's own pair, which its peers file hands over with pppd's "set" option.
IPV6_UP_HOOK_PATH = '/etc/ppp/ipv6-up.d/pppssh'
IPV6_UP_HOOK = """#!/bin/sh
# Managed by pppssh: the IPv6 tunnel pair of a pppssh link, from its peers file (set PPPSSH_LOCAL6=,
# set PPPSSH_REMOTE6=); pppd itself sets only the link-local addresses. Other links: nothing.
[ -n "$PPPSSH_LOCAL6" ] && [ -n "$PPPSSH_REMOTE6" ] && [ -n "$PPP_IFACE" ] || exit 0
exec ip -6 addr replace "$PPPSSH_LOCAL6" peer "$PPPSSH_REMOTE6" dev "$PPP_IFACE" nodad
"""


def peer_name(name):
    return 'pppssh-%s' % name


def peers_path(name):
    return '%s/%s' % (PEERS_DIR, peer_name(name))


def log_path(name):
    return '%s/%s.log' % (LOG_DIR, name)


def pidfile_path(name):
    """pppd writes ppp-LINKNAME.pid for ``linkname``; its second line is the interface."""
    return '%s/ppp-%s.pid' % (RUN_DIR, peer_name(name))


def state_pidfile_path(name):
    """The pid the module recorded when it started the link."""
    return '/run/pppssh/%s.pid' % name


def ssh_argv(config):
    """The ssh command pppd runs as its pty: batch mode, pinned host key, keepalives."""
    options = [
        ('BatchMode', 'yes'),
        ('StrictHostKeyChecking', 'yes'),
        ('ServerAliveInterval', str(config['keepalive_interval'])),
        ('ServerAliveCountMax', str(config['keepalive_failures'])),
        ('ConnectTimeout', str(config['connect_timeout'])),
        ('ClearAllForwardings', 'yes'),
        ('ForwardAgent', 'no'),
        ('ForwardX11', 'no'),
        # The pin is the known_hosts file alone: no key learnt from the server, none from DNS, and
        # no warning path through the server's address (the defaults today; stated so a changed
        # default cannot alter it).
        ('UpdateHostKeys', 'no'),
        ('VerifyHostKeyDNS', 'no'),
        ('CheckHostIP', 'no'),
        ('LogLevel', 'ERROR'),
    ]
    if config.get('known_hosts_file'):
        options += [('UserKnownHostsFile', config['known_hosts_file']),
                    ('GlobalKnownHostsFile', '/dev/null')]
    if config.get('identity_file'):
        options += [('IdentityFile', config['identity_file']), ('IdentitiesOnly', 'yes')]
    options += sorted(config.get('ssh_options', {}).items())

    argv = [SSH, '-F', 'none', '-e', 'none', '-T']
    for key, value in options:
        argv += ['-o', '%s=%s' % (key, value)]
    argv += ['-p', str(config['port']), '-l', config['user'], '--', config['server'],
             config['remote_command']]
    return argv


# Redial backoff: attempts less than a minute apart count as one failing streak; from the fifth
# on, the dialler waits 2, 4, 8, 16, then 30 s before ssh, so a revoked or refused client knocks
# a couple of times a minute instead of once a second. It then becomes ssh (exec): pppd's child
# is ssh as before. The wait spends no LCP budget: with 'silent' pppd sends nothing until the
# server's pppd has spoken.
# Each attempt first writes "pppssh: dial EPOCH" to its stderr, the link's log: pppd's own lines
# carry no time, and link.history() dates redials and failures by these markers.
BACKOFF_SCRIPT = (
    'f=$0; last=0; n=0; [ -r "$f" ] && read -r last n <"$f"; now=$(date +%s); echo "pppssh: dial $now" >&2; '
    'if [ $((now - ${last:-0})) -gt 60 ]; then n=0; else n=$((${n:-0} + 1)); fi; '
    '[ "$n" -gt 20 ] && n=20; echo "$now $n" >"$f"; '
    'if [ "$n" -ge 5 ]; then d=$((1 << (n - 4))); [ "$d" -gt 30 ] && d=30; sleep "$d"; fi; '
    'exec "$@"')
LCP_MAX_CONFIGURE = 30   # x lcp-restart 3 s = 90 s: as much as the longest wait plus connect_timeout


def dial_state_path(name):
    return '%s/pppssh/%s.dial' % (RUN_DIR, name)


def pty_argv(config):
    """What pppd runs as its pty: the backoff, then ssh."""
    return ['/bin/sh', '-c', BACKOFF_SCRIPT, dial_state_path(config['name'])] + ssh_argv(config)


def pty_command(config):
    return ' '.join(shlex.quote(arg) for arg in pty_argv(config))


# pppd reads option words of at most MAXWORDLEN (1024) bytes and silently cuts longer ones.
PPPD_MAX_WORD = 1023


def pty_too_long(config):
    """The length of the quoted pty word when pppd would cut it, else None."""
    length = len(pppd_word(pty_command(config)).encode('utf-8'))
    return length if length > PPPD_MAX_WORD else None


def pppd_word(text):
    """Quote one word for a pppd options file."""
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def pppd_options(config):
    """The pppd options of a link, one option per line, in a stable order."""
    lines = [
        'linkname %s' % peer_name(config['name']),
        'ifname %s' % config['interface'],
        'logfile %s' % log_path(config['name']),
        'ipparam %s' % config['ipparam'],
        'pty %s' % pppd_word(pty_command(config)),
        'noauth',
        # Speak only once the server's pppd has: a Configure-Request sent while ssh still connects
        # reaches the server before its notty relay is ready, is dropped there, and the link then
        # waits one lcp-restart (3 s) for the resend. bench/bringup.py measured that on 5 of 15
        # bring-ups with the old 'passive' (about 4.4 s against 2.3 s); with 'silent', on none.
        'silent',
        'nodefaultroute',
    ] + ipv6_options(config) + [
        # The ssh key authenticated both ends: never agree to authenticate in PPP.
        'refuse-pap', 'refuse-chap', 'refuse-mschap', 'refuse-mschap-v2', 'refuse-eap',
        'lcp-echo-interval %d' % config['keepalive_interval'],
        'lcp-echo-failure %d' % config['keepalive_failures'],
        'lcp-max-configure %d' % LCP_MAX_CONFIGURE,
    ]
    if config['persist']:
        lines += ['persist', 'maxfail 0', 'holdoff %d' % config['holdoff']]
    else:
        lines += ['nopersist']
    if config.get('mtu'):
        lines.append('mtu %d' % config['mtu'])
    if config.get('mru'):
        lines.append('mru %d' % config['mru'])
    lines += {
        'none': ['noccp'],
        'deflate': ['deflate 15', 'nobsdcomp', 'nopredictor1'],
        'bsdcomp': ['bsdcomp 15', 'nodeflate', 'nopredictor1'],
    }[config['compression']]
    if config.get('local_ip'):
        lines.append('%s:%s' % (config['local_ip'], config['remote_ip']))
    return lines


def ipv6_options(config):
    """IPV6CP with interface identifiers from the link's IPv6 pair, or none at all."""
    if not config.get('local_ip6'):
        return ['noipv6']
    return ['+ipv6', 'ipv6 %s,%s' % (options.interface_id(config['local_ip6']),
                                     options.interface_id(config['remote_ip6'])),
            # The values are canonical IPv6 addresses (options.normalise): no quoting needed.
            'set PPPSSH_LOCAL6=%s' % config['local_ip6'], 'set PPPSSH_REMOTE6=%s' % config['remote_ip6']]


def peers_file(config):
    """The peers file: the pppd options, plus the effective configuration for ``status`` to read back."""
    return (HEADER % config['name'] + CONFIG_MARK + json.dumps(config, sort_keys=True) + '\n'
            + '\n'.join(pppd_options(config)) + '\n')


def config_from_peers_file(text):
    for line in (text or '').splitlines():
        if line.startswith(CONFIG_MARK):
            try:
                return json.loads(line[len(CONFIG_MARK):])
            except ValueError:
                return None
    return None


def pppd_call_argv(name):
    """Start a link from its peers file; pppd detaches once its options are accepted."""
    return [PPPD, 'call', peer_name(name)]


def systemd_unit(name):
    return 'pppssh@%s.service' % name
