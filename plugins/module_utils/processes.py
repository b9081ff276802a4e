# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Processes from /proc: who is who, checked before anything is signalled.

Standard library only: the server role also installs this file next to the session entry point
(pppssh_session.py), where no collection is importable. Processes are identified by comm, cmdline,
parent and real uid read from /proc, never by a name match over the whole process table, and a
pid is always re-checked right before it is signalled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import signal
import time


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def parse_stat(text):
    """(comm, ppid, state) from /proc/PID/stat; comm may hold spaces and parentheses."""
    head, _sep, tail = text.rpartition(')')
    fields = tail.split()
    return head.partition('(')[2], int(fields[1]), fields[0]


def process(pid, proc='/proc'):
    """(comm, ppid) of a live process, or None for a missing or zombie one."""
    text = read_text('%s/%d/stat' % (proc, pid))
    if not text:
        return None
    comm, ppid, state = parse_stat(text)
    return None if state in ('Z', 'X') else (comm, ppid)


def cmdline(pid, proc='/proc'):
    return (read_text('%s/%d/cmdline' % (proc, pid)) or '').split('\0')


def real_uid(pid, proc='/proc'):
    """The real uid of a process (sudo keeps its caller's), or None."""
    for line in (read_text('%s/%d/status' % (proc, pid)) or '').splitlines():
        if line.startswith('Uid:'):
            return int(line.split()[1])
    return None


def pids(proc='/proc'):
    return sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())


def children(pid, proc='/proc'):
    """Pids whose parent is ``pid`` (the pty child: ssh), found by parent id, never by name."""
    found = []
    for candidate in pids(proc):
        info = process(candidate, proc)
        if info and info[1] == pid:
            found.append(candidate)
    return found


def ancestors(pid, proc='/proc'):
    """``pid`` and its parents up to init."""
    chain = []
    while pid and pid not in chain:
        chain.append(pid)
        info = process(pid, proc)
        if not info:
            break
        pid = info[1]
    return chain


def calls_link(argv, name):
    """True for a pppd argv holding ``call pppssh-NAME``."""
    return any(argv[i] == 'call' and argv[i + 1] == 'pppssh-%s' % name for i in range(len(argv) - 1))


def is_link_pppd(pid, name, proc='/proc'):
    """True if ``pid`` is a live pppd started with ``call pppssh-NAME`` (guards against reused pids)."""
    info = process(pid, proc)
    return bool(info) and info[0] == 'pppd' and calls_link(cmdline(pid, proc), name)


def link_pppds(name, proc='/proc'):
    """The main pppd processes of link NAME, found by comm and cmdline. With notty pppd forks a
    character-shunt child (also a pppd with the same cmdline): it is left out, it ends with its parent."""
    found = [pid for pid in pids(proc) if is_link_pppd(pid, name, proc)]
    return [pid for pid in found if (process(pid, proc) or (None, 0))[1] not in found]


def processes_of_uid(uid, proc='/proc'):
    return [pid for pid in pids(proc) if process(pid, proc) and real_uid(pid, proc) == uid]


def send(pid, signum, still_it):
    """Signal ``pid`` if ``still_it(pid)`` holds right now; True when it was signalled."""
    if not still_it(pid):
        return False
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise
        return False
    return True


def wait_until(predicate, timeout, poll=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def terminate(pids_and_checks, timeout):
    """SIGTERM each (pid, check) whose check holds, wait, then SIGKILL what still passes its check.
    Returns the pids that were signalled."""
    signalled = [pid for pid, check in pids_and_checks if send(pid, signal.SIGTERM, check)]
    if not wait_until(lambda: not [pid for pid, check in pids_and_checks if check(pid)], timeout):
        for pid, check in pids_and_checks:
            send(pid, signal.SIGKILL, check)
        wait_until(lambda: not [pid for pid, check in pids_and_checks if check(pid)], 2)
    return signalled
