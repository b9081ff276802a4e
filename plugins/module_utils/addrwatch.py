# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kick a link whose ssh lost its local address (a roaming client), instead of waiting for the
keepalives to notice: the address monitor of the pppssh_client role.

Standard library only: the client role installs it as /usr/local/lib/pppssh/pppssh_addrwatch.py
(with processes.py beside it as pppssh_processes.py) and runs it as a systemd service. It reads
`ip -o monitor address`; when an IPv4 address is deleted, every pppssh link whose ssh connection
was bound to that address has that ssh ended (SIGTERM): pppd sees its line hang up, drops the link
at once and redials after its holdoff from the address the host has now, and the server's session
entry point hands it the old session's place. (A SIGHUP to pppd would first send LCP Terminate-Requests
over the dead path and wait lcp-max-terminate x lcp-restart, 6 s, for an answer that cannot come.)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import signal
import socket
import struct
import subprocess
import sys

try:
    from ansible_collections.pppssh.vpn.plugins.module_utils import processes
except ImportError:  # installed on the client next to pppssh_processes.py, run with python3 -I
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pppssh_processes as processes  # pylint: disable=import-error

DELETED_RE = re.compile(r'^Deleted\s+\d+:\s+\S+\s+inet\s+(?P<address>[0-9.]+)/')
PIDFILE_RE = re.compile(r'/ppp-pppssh-(?P<name>[a-z][a-z0-9_-]{0,10})\.pid$')


def deleted_address(line):
    """The IPv4 address an `ip -o monitor address` line says was deleted, or None."""
    match = DELETED_RE.match(line.strip())
    return match.group('address') if match else None


def tcp_local_addresses(text):
    """{socket inode: local IPv4 address} from /proc/net/tcp."""
    found = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local_hex = fields[1].split(':')[0]
        address = socket.inet_ntoa(struct.pack('<I', int(local_hex, 16)))
        found[fields[9]] = address
    return found


def socket_inodes(pid, proc='/proc'):
    inodes = []
    for fd in glob.glob('%s/%d/fd/*' % (proc, pid)):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.append(target[8:-1])
    return inodes


def links_bound_to(address, proc='/proc', run='/run'):
    """[(name, pppd pid, ssh pid)] of the links whose ssh has a TCP socket bound to ``address``."""
    bound = []
    tcp = tcp_local_addresses(processes.read_text('%s/net/tcp' % proc) or '')
    for path in sorted(glob.glob('%s/ppp-pppssh-*.pid' % run)):
        match = PIDFILE_RE.search(path)
        text = (processes.read_text(path) or '').split()
        if not match or not text or not text[0].isdigit():
            continue
        pid, name = int(text[0]), match.group('name')
        if not processes.is_link_pppd(pid, name, proc):
            continue
        # pppd runs its pty command with sh -c: ssh is a child or a grandchild of pppd.
        descendants = processes.children(pid, proc)
        descendants += [grandchild for child in descendants for grandchild in processes.children(child, proc)]
        for child in descendants:
            if any(tcp.get(inode) == address for inode in socket_inodes(child, proc)):
                bound.append((name, pid, child))
                break
    return bound


def is_links_ssh(ssh, pppd, name, proc='/proc'):
    """True while ``ssh`` is an ssh under the link's pppd (guards against reused pids)."""
    info = processes.process(ssh, proc)
    return (bool(info) and info[0] == 'ssh' and pppd in processes.ancestors(ssh, proc)
            and processes.is_link_pppd(pppd, name, proc))


def main():
    monitor = subprocess.Popen(['ip', '-o', 'monitor', 'address'], stdout=subprocess.PIPE,
                               universal_newlines=True)
    for line in monitor.stdout:
        address = deleted_address(line)
        if not address:
            continue
        for name, pppd, ssh in links_bound_to(address):
            if processes.send(ssh, signal.SIGTERM, lambda ssh, pppd=pppd, name=name: is_links_ssh(ssh, pppd, name)):
                sys.stderr.write('pppssh-addrwatch: %s lost its address %s: redialling link %s (ssh %d of pppd %d)\n'
                                 % (name, address, name, ssh, pppd))
                sys.stderr.flush()
    return monitor.wait()


if __name__ == '__main__':
    raise SystemExit(main())
