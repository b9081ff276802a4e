# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Map what pppd, ssh and sudo print to a named cause and its fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Most specific first: the first cause whose pattern matches a line wins for that line.
CAUSES = (
    ('kernel_no_ppp',
     r'lacks PPP kernel support|Couldn\'t open the /dev/ppp device|/dev/ppp: No such',
     'this kernel has no PPP support (pppd cannot open /dev/ppp)',
     'load it with "modprobe ppp_generic ppp_async", or in a container create the device with '
     '"mknod /dev/ppp c 108 0" on a host kernel that has CONFIG_PPP'),
    ('host_key_changed',
     r'REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed',
     'the server\'s host key differs from the pinned one (possible man-in-the-middle, or the server was '
     'reinstalled)',
     'verify the new key out of band, then replace the server\'s entry in known_hosts_file'),
    ('host_key_unknown',
     r'No \S+ host key is known for|Host key verification failed',
     'the server\'s host key is not pinned in known_hosts_file',
     'add the server\'s host key to known_hosts_file (for example from /etc/ssh/ssh_host_ed25519_key.pub '
     'on the server); the module never accepts unknown keys'),
    ('auth_refused',
     r'Permission denied \((publickey|password|keyboard|hostbased|gssapi)|Too many authentication failures|no such identity|Load key .*: ',
     'the server refused the ssh key',
     'install the client\'s public key for the tunnel user on the server (authorized_keys), and check '
     'identity_file and user'),
    ('sudo_refused',
     r'sudo: a password is required|sudo: a terminal is required|is not allowed to execute|'
     r'is not in the sudoers file|sudo: .*command not allowed|may not run sudo',
     'the server refused to run pppd through sudo for the tunnel user',
     'add a sudoers rule for the tunnel user (the pppssh_server role writes one per client), or fix '
     'remote_command'),
    ('server_unreachable',
     r'Connection refused|No route to host|Network is unreachable|Could not resolve hostname|'
     r'Connection timed out|Name or service not known|Connection closed by .* port',
     'the ssh server cannot be reached',
     'check server and port, that sshd runs there, and that firewalls let ssh through'),
    ('remote_pppd_failed',
     r'sudo: .*pppd: command not found|pppd: command not found|No such file or directory.*pppd',
     'pppd is not installed or not at /usr/sbin/pppd on the server',
     'install the ppp package on the server'),
    ('address_in_use',
     r'Cannot assign requested address|address .* already in use|Peer refused to agree to our IP address|'
     r'Could not determine remote IP address|IP address .* is in use|not replacing existing route',
     'the tunnel addresses clash with an address or route already in use',
     'choose a local_ip/remote_ip pair outside every network present on either host'),
    ('interface_busy',
     r'Couldn\'t rename interface|ifname .*(exists|in use)|interface .* already exists',
     'the interface name is already taken',
     'stop whatever uses that interface, or give the link another name'),
    ('option_error',
     r'unrecognized option|In file .*: unrecognized|pppd: .*: invalid|pppd: The remote system is required',
     'pppd rejected an option',
     'check the peers file options (mtu, mru, compression) against this pppd version'),
    ('timeout',
     r'LCP: timeout sending Config-Requests|IPCP: timeout sending Config-Requests',
     'the server side never answered in PPP (its pppd did not start or stalled)',
     'run remote_command by hand as the tunnel user on the server; give the server its own host name in '
     '/etc/hosts so sudo does not stall on DNS'),
    ('peer_dead',
     r'No response to \d+ echo-requests|Modem hangup|Connection terminated',
     'the link went down (peer stopped answering, or the ssh connection closed)',
     'check the server and the network between; with persist the link redials by itself'),
)

_COMPILED = [(cause, re.compile(pattern), problem, fix) for cause, pattern, problem, fix in CAUSES]

# Causes that will not go away by redialling: a start that sees one gives up at once.
FATAL = frozenset(('kernel_no_ppp', 'host_key_changed', 'host_key_unknown', 'auth_refused', 'sudo_refused',
                   'remote_pppd_failed', 'address_in_use', 'interface_busy', 'option_error'))


def classify_line(line):
    for cause, pattern, problem, fix in _COMPILED:
        if pattern.search(line):
            return {'cause': cause, 'problem': problem, 'fix': fix, 'line': line.strip()}
    return None


def classify(text):
    """The most telling cause in a log excerpt: the first fatal one, else the last specific one
    (a hangup, peer_dead, follows every failed dial and would hide why it failed), else peer_dead."""
    found = [c for c in (classify_line(line) for line in text.splitlines()) if c]
    fatal = [c for c in found if c['cause'] in FATAL]
    if fatal:
        return fatal[0]
    specific = [c for c in found if c['cause'] != 'peer_dead']
    return (specific or found or [None])[-1]


_UP_RE = re.compile(r'^remote IP address ', re.M)


def since_last_up(text):
    """The part of a link's log after the link last came up (pppd logs "remote IP address" at IPCP up).

    What went wrong before that is history: a link that is up again has no current cause, and a
    link that is redialling is redialling because of what happened since.
    """
    ends = [match.end() for match in _UP_RE.finditer(text)]
    if not ends:
        return text
    newline = text.find('\n', ends[-1])
    return '' if newline < 0 else text[newline + 1:]


def describe(cause):
    """One sentence for fail_json: the cause, what was seen, and the fix."""
    return '%s (%s): "%s". Fix: %s' % (cause['problem'], cause['cause'], cause['line'], cause['fix'])
