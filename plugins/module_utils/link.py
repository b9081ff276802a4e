# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the truth about a link: pppd's pidfile, /proc, /sys/class/net and its addresses."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible_collections.pppssh.vpn.plugins.module_utils import commands
from ansible_collections.pppssh.vpn.plugins.module_utils.processes import children, is_link_pppd, read_text

INET_PEER_RE = re.compile(r'\binet (?P<local>[0-9.]+)(?:/\d+)? peer (?P<remote>[0-9.]+)')
INET_RE = re.compile(r'\binet (?P<local>[0-9.]+)')


def parse_pidfile(text):
    """pppd's link pidfile: the pid on line one, the interface on line two once it exists."""
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    pid = int(lines[0]) if lines and lines[0].isdigit() else None
    interface = lines[1] if len(lines) > 1 else None
    return pid, interface


def parse_addresses(ip_output):
    """Local and peer IPv4 address from ``ip -4 -o addr show dev IFACE``."""
    match = INET_PEER_RE.search(ip_output or '')
    if match:
        return match.group('local'), match.group('remote')
    match = INET_RE.search(ip_output or '')
    return (match.group('local'), None) if match else (None, None)


def pppd_pid(name, proc='/proc'):
    """The pid of the link's pppd, or None.

    pppd removes its link pidfile while it waits to redial (holdoff), so the pid the
    module recorded at start is the fallback; both are checked against /proc first.
    """
    for path in (commands.pidfile_path(name), commands.state_pidfile_path(name)):
        pid, _interface = parse_pidfile(read_text(path))
        if pid is not None and is_link_pppd(pid, name, proc):
            return pid
    return None


def interface_counters(interface, sys_net='/sys/class/net'):
    base = '%s/%s' % (sys_net, interface)
    if not os.path.isdir(base):
        return None
    flags = int((read_text(base + '/flags') or '0').strip() or '0', 16)
    return {
        'up': bool(flags & 0x1),
        'rx_bytes': int((read_text(base + '/statistics/rx_bytes') or '0').strip()),
        'tx_bytes': int((read_text(base + '/statistics/tx_bytes') or '0').strip()),
    }


def interface_uptime(interface, now=None):
    """Seconds since pppd created the interface (it writes /run/IFACE.pid then)."""
    try:
        created = os.stat('%s/%s.pid' % (commands.RUN_DIR, interface)).st_mtime
    except OSError:
        return None
    return max(0, int((now or time.time()) - created))


def read_status(name, interface, run_command):
    """What is true about the link right now. ``run_command`` runs ``ip`` (argv list)."""
    pid = pppd_pid(name)
    status = {
        'interface': interface, 'pid': pid, 'state': 'down', 'local_ip': None, 'remote_ip': None,
        'uptime_s': None, 'rx_bytes': None, 'tx_bytes': None, 'ssh_pids': [],
    }
    if pid is None:
        return status
    status['state'] = 'connecting'
    status['ssh_pids'] = children(pid)
    counters = interface_counters(interface)
    if counters is None:
        return status
    rc, out, _err = run_command(['ip', '-4', '-o', 'addr', 'show', 'dev', interface])
    local_ip, remote_ip = parse_addresses(out if rc == 0 else '')
    status.update(local_ip=local_ip, remote_ip=remote_ip, rx_bytes=counters['rx_bytes'],
                  tx_bytes=counters['tx_bytes'])
    if counters['up'] and local_ip and remote_ip:
        status.update(state='up', uptime_s=interface_uptime(interface))
    return status


def read_log_tail(name, offset=None, limit=65536):
    """New log text since ``offset`` (bytes), or the last ``limit`` bytes of the link's log."""
    path = commands.log_path(name)
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as handle:
            handle.seek(offset if offset is not None and offset <= size else max(0, size - limit))
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return ''


def log_size(name):
    try:
        return os.path.getsize(commands.log_path(name))
    except OSError:
        return 0
