# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the truth about a link: pppd's pidfile, /proc, /sys/class/net, its addresses and its log.

One reader for every view of a link: ``pppssh_tunnel state=status`` calls observe(), and
``pppssh_tunnel_info`` and the metrics exporter call read_link() (observe() plus the link's role,
configuration and history). Standard library only: the roles install it with commands.py,
causes.py and processes.py beside it (as pppssh_link.py, ...) for the exporter, where no collection
is importable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import sys
import time

try:
    from ansible_collections.pppssh.vpn.plugins.module_utils import causes, commands, options
    from ansible_collections.pppssh.vpn.plugins.module_utils.processes import children, is_link_pppd, read_text
except ImportError:  # installed on a host next to pppssh_commands.py & co., run with python3 -I
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pppssh_causes as causes  # pylint: disable=import-error
    import pppssh_commands as commands  # pylint: disable=import-error
    import pppssh_options as options  # pylint: disable=import-error
    from pppssh_processes import children, is_link_pppd, read_text  # pylint: disable=import-error

INET_PEER_RE = re.compile(r'\binet (?P<local>[0-9.]+)(?:/\d+)? peer (?P<remote>[0-9.]+)')
INET_RE = re.compile(r'\binet (?P<local>[0-9.]+)')
INET6_PEER_RE = re.compile(r'\binet6 (?P<local>[0-9a-f:]+)(?:/\d+)? peer (?P<remote>[0-9a-f:]+)')
# The end of the log the current cause is read from (what is wrong since the link last came up).
CAUSE_LOG_LIMIT = 8192
# The end of the log the history (redials since boot, the last failure) is read from: about 4000
# dial attempts. A link that redialled more often since boot reports the redials of that much log.
HISTORY_LOG_LIMIT = 1 << 20
# Where the pppssh_server role keeps its clients (the host behind each server end).
SERVER_STATE_FILE = '/etc/pppssh/server-allocations.json'
# The dialler (commands.BACKOFF_SCRIPT) writes this line to the log as every attempt starts.
DIAL_RE = re.compile(r'^pppssh: dial (?P<time>\d+)[ \t]*$', re.M)
# pppd stopped on purpose (the module, the boot unit, a shutdown): what follows is no failure.
STOPPED_RE = re.compile(r'^Terminating on signal ', re.M)
# pppd's words when an attempt ends by itself (ssh exited, keepalives failed, SIGHUP).
ENDED_RE = re.compile(r'^(Modem hangup|Connection terminated|Hangup \(SIGHUP\))', re.M)
IFNAME_RE = re.compile(r'^ifname[ \t]+(\S+)', re.M)


def parse_pidfile(text):
    """pppd's link pidfile: the pid on line one, the interface on line two once it exists."""
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    pid = int(lines[0]) if lines and lines[0].isdigit() else None
    interface = lines[1] if len(lines) > 1 else None
    return pid, interface


def parse_addresses(ip_output):
    """Local and peer IPv4 address from ``ip -o addr show dev IFACE``."""
    match = INET_PEER_RE.search(ip_output or '')
    if match:
        return match.group('local'), match.group('remote')
    match = INET_RE.search(ip_output or '')
    return (match.group('local'), None) if match else (None, None)


def parse_addresses6(ip_output):
    """Local and peer IPv6 address from ``ip -o addr show dev IFACE``, link-local ones left out: the
    pair a pppssh hook set (IPV6CP itself sets only the link-local addresses)."""
    for match in INET6_PEER_RE.finditer(ip_output or ''):
        if not match.group('local').startswith('fe80:'):
            return match.group('local'), match.group('remote')
    return None, None


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
        'local_ip6': None, 'remote_ip6': None, 'uptime_s': None, 'rx_bytes': None, 'tx_bytes': None, 'ssh_pids': [],
    }
    if pid is None:
        return status
    status['state'] = 'connecting'
    status['ssh_pids'] = children(pid)
    counters = interface_counters(interface)
    if counters is None:
        return status
    rc, out, _err = run_command(['ip', '-o', 'addr', 'show', 'dev', interface])
    local_ip, remote_ip = parse_addresses(out if rc == 0 else '')
    local_ip6, remote_ip6 = parse_addresses6(out if rc == 0 else '')
    status.update(local_ip=local_ip, remote_ip=remote_ip, local_ip6=local_ip6, remote_ip6=remote_ip6,
                  rx_bytes=counters['rx_bytes'], tx_bytes=counters['tx_bytes'])
    if counters['up'] and ((local_ip and remote_ip) or (local_ip6 and remote_ip6)):
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


def log_mtime(name):
    try:
        return int(os.path.getmtime(commands.log_path(name)))
    except OSError:
        return None


def boot_time(proc='/proc'):
    """The kernel's boot time (epoch seconds, ``btime`` of /proc/stat), or 0 when unknown."""
    for line in (read_text('%s/stat' % proc) or '').splitlines():
        if line.startswith('btime '):
            return int(line.split()[1])
    return 0


def current_cause(name):
    """What is wrong with the link now: the cause in its log since it last came up, or None."""
    return causes.classify(causes.since_last_up(read_log_tail(name, limit=CAUSE_LOG_LIMIT)))


def observe(name, interface, run_command):
    """read_status() plus the current cause (``cause``, and ``last_error`` in words): what
    ``pppssh_tunnel state=status`` reports, and the core of read_link()."""
    status = read_status(name, interface, run_command)
    logged = current_cause(name)
    status.update(last_error=causes.describe(logged) if logged else None,
                  cause=logged['cause'] if logged else None)
    return status


def attempts(text):
    """[(start, text)] of each dial attempt in a log excerpt, oldest first. ``start`` is the time of
    the attempt's dial marker; the first entry holds what precedes the first marker (an older
    pppssh wrote none, or the excerpt began mid-attempt) and has no time."""
    marks = list(DIAL_RE.finditer(text))
    found = [(None, text[:marks[0].start()] if marks else text)]
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        found.append((int(mark.group('time')), text[mark.end():end]))
    return found


def ended_by_itself(attempt_text):
    """True when pppd's attempt ended without being told to (so the next attempt is a redial)."""
    return bool(ENDED_RE.search(attempt_text)) and not STOPPED_RE.search(attempt_text)


def failure(attempt_text):
    """The cause that ended an attempt, or None: still up, or stopped on purpose with nothing wrong
    (the hangup lines a stop writes are no failure; a cause logged before the stop still is)."""
    stop = STOPPED_RE.search(attempt_text)
    return causes.classify(causes.since_last_up(attempt_text[:stop.start()] if stop else attempt_text))


def history(text, boot, mtime=None):
    """From a link's log: ``redials`` since ``boot`` (epoch s), the attempts that followed one that
    ended by itself (a fresh start after a stop is none; None when the log has no dial marker),
    and the ``last_cause`` of a failure with its ``last_cause_time`` and ``last_cause_line``.

    The time of a failure is the start of the attempt after it (pppd redials ``holdoff`` seconds
    after it logs the failure), or ``mtime`` (the log's last write) for the latest attempt.
    """
    found = attempts(text)
    redials = None
    if len(found) > 1:
        redials = sum(1 for index in range(1, len(found))
                      if found[index][0] >= boot and ended_by_itself(found[index - 1][1]))
    last = {'redials': redials, 'last_cause': None, 'last_cause_time': None, 'last_cause_line': None}
    for index in range(len(found) - 1, -1, -1):
        cause = failure(found[index][1])
        if cause:
            when = found[index + 1][0] if index + 1 < len(found) else mtime
            last.update(last_cause=cause['cause'], last_cause_time=when, last_cause_line=cause['line'])
            break
    return last


def read_history(name, boot=None):
    """history() of link NAME's log /var/log/pppssh/NAME.log (its last HISTORY_LOG_LIMIT bytes)."""
    text = read_log_tail(name, limit=HISTORY_LOG_LIMIT)
    try:
        if os.path.getsize(commands.log_path(name)) > HISTORY_LOG_LIMIT:
            text = text.partition('\n')[2]  # the excerpt began mid-line
    except OSError:
        pass
    return history(text, boot_time() if boot is None else boot, log_mtime(name))


def link_names(peers_dir=None, run_dir=None):
    """Every pppssh link on this host: a peers file pppssh-NAME (client or server end), or a link
    pidfile of a pppd whose peers file is gone."""
    peers_dir = peers_dir or commands.PEERS_DIR
    run_dir = run_dir or commands.RUN_DIR
    names = set()
    for path in glob.glob('%s/%s' % (peers_dir, commands.peer_name('*'))):
        names.add(os.path.basename(path)[len(commands.peer_name('')):])
    for path in glob.glob('%s/ppp-%s.pid' % (run_dir, commands.peer_name('*'))):
        names.add(os.path.basename(path)[len('ppp-' + commands.peer_name('')):-len('.pid')])
    return sorted(name for name in names if options.name_problem(name) is None)


def server_client(name, state_file=SERVER_STATE_FILE):
    """The pppssh_server role's entry for client link NAME ({host, account, ...}), or {}."""
    try:
        with open(state_file) as handle:
            entry = (json.load(handle).get('clients') or {}).get(name)
    except (IOError, OSError, ValueError, AttributeError):
        return {}
    return entry if isinstance(entry, dict) else {}


def read_link(name, run_command, state_file=SERVER_STATE_FILE, boot=None):
    """Everything known about link NAME: observe() (state, addresses, uptime, bytes, current cause),
    its ``role``, ``config`` and read_history() (redials since boot, the last failure and its time).

    A peers file with the module's ``# pppssh-config:`` line is a client end (role ``client``); one
    without it a server end (``server``: the pppd the session entry point started with
    ``pppd call pppssh-NAME``), whose ``client`` is the host the server's allocation names.
    """
    peers_file = commands.peers_path(name)
    peers = read_text(peers_file)
    config = commands.config_from_peers_file(peers)
    role = 'client' if config is not None else ('server' if peers is not None else None)
    ifname = IFNAME_RE.search(peers or '')
    interface = (config or {}).get('interface') or (ifname.group(1) if ifname else options.interface_for(name))
    report = observe(name, interface, run_command)
    report.pop('ssh_pids', None)
    report.update(read_history(name, boot))
    report.update(name=name, role=role, server=None, client=None, persist=None)
    if role == 'client':
        report.update(server=config.get('server'), persist=config.get('persist'),
                      config=dict(config, peers_file=peers_file))
    else:
        entry = server_client(name, state_file) if role == 'server' else {}
        report.update(client=entry.get('host'),
                      config={'name': name, 'interface': interface, 'peers_file': peers_file,
                              'account': entry.get('account'), 'local_ip': entry.get('server_ip'),
                              'remote_ip': entry.get('client_ip'), 'local_ip6': entry.get('server_ip6'),
                              'remote_ip6': entry.get('client_ip6')})
    return report


def read_links(run_command, name=None, state_file=SERVER_STATE_FILE):
    """read_link() of every link on this host (link_names()), or of link ``name`` if it exists."""
    boot = boot_time()
    names = link_names()
    if name is not None:
        names = [name] if name in names else []
    return [read_link(each, run_command, state_file, boot) for each in names]
