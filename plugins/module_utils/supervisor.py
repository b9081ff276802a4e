# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop one link, with exactly one pppd per link name.

Processes are found through pppd's own pidfile and their parent ids, never by
matching command lines, and never with killall.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import signal
import time

from ansible_collections.pppssh.vpn.plugins.module_utils import causes, commands, link, processes

LOCK_DIR = '/run/pppssh'
PIDFILE_WAIT_S = 3
POLL_S = 0.2
STOP_TIMEOUT_S = 10


class LinkError(Exception):
    def __init__(self, message, cause=None):
        super(LinkError, self).__init__(message)
        self.cause = cause


class LinkLock(object):
    """An exclusive lock per link name, so concurrent calls run one after the other."""

    def __init__(self, name):
        self.path = '%s/%s.lock' % (LOCK_DIR, name)
        self.handle = None

    def __enter__(self):
        if not os.path.isdir(LOCK_DIR):
            os.makedirs(LOCK_DIR, 0o755)
        self.handle = open(self.path, 'a')
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def _wait_until(predicate, timeout):
    """The first true value of ``predicate()`` within ``timeout`` seconds, else its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL_S)
    return predicate()


class Supervisor(object):
    """Drives pppd for one link; ``module`` supplies run_command and the fail/warn hooks."""

    def __init__(self, module, name, interface, kind='pppd'):
        self.module = module
        self.name = name
        self.interface = interface
        self.kind = kind

    def status(self):
        return link.read_status(self.name, self.interface, self._run)

    def _run(self, argv):
        return self.module.run_command(argv)

    def _gone(self, pids):
        return all(processes.process(pid) is None for pid in pids) and \
            not os.path.isdir('/sys/class/net/%s' % self.interface)

    def stop(self):
        """Stop the link; True if anything was running."""
        ran = False
        if self.kind == 'systemd' or self._unit_active():
            ran = self._unit_active()
            self._run(['systemctl', 'stop', commands.systemd_unit(self.name)])
        pid = link.pppd_pid(self.name)
        self._forget_pid()
        if pid is None:
            return ran
        pids = [pid] + processes.children(pid)
        _signal(pid, signal.SIGTERM)
        if not _wait_until(lambda: self._gone(pids), STOP_TIMEOUT_S):
            for leftover in pids:
                _signal(leftover, signal.SIGKILL)
            if not _wait_until(lambda: self._gone(pids), 3):
                raise LinkError('pppd %d of link %s did not stop; processes left: %s'
                                % (pid, self.name, [p for p in pids if processes.process(p)]))
            self.module.warn('pppd %d did not stop within %d s of SIGTERM and was killed'
                             % (pid, STOP_TIMEOUT_S))
        return True

    def _unit_active(self):
        if not os.path.isdir('/run/systemd/system'):
            return False
        rc, _out, _err = self._run(['systemctl', 'is-active', '--quiet', commands.systemd_unit(self.name)])
        return rc == 0

    def start(self, connect_timeout):
        """Start pppd from the peers file and wait for IPCP; on failure stop it and raise."""
        offset = link.log_size(self.name)
        # A deliberate start is not a redial: it clears the dialler's streak (commands.BACKOFF_SCRIPT).
        # Else a start within a minute of five quick dials first slept up to 30 s and could miss its
        # connect_timeout.
        try:
            os.unlink(commands.dial_state_path(self.name))
        except OSError:
            pass
        if self.kind == 'systemd':
            self._run(['systemctl', 'reset-failed', commands.systemd_unit(self.name)])
            rc, out, err = self._run(['systemctl', 'start', commands.systemd_unit(self.name)])
        else:
            rc, out, err = self._run(commands.pppd_call_argv(self.name))
        if rc != 0:
            self._fail(out + '\n' + err + '\n' + link.read_log_tail(self.name, offset),
                       'pppd refused to start (exit code %d): %s' % (rc, (err or out).strip()))
        self._record_pid()
        started = time.time()
        deadline = started + connect_timeout
        while True:
            status = self.status()
            if status['state'] == 'up':
                return status
            log = link.read_log_tail(self.name, offset)
            cause = causes.classify(log)
            if cause and cause['cause'] != 'peer_dead':
                self._fail(log, None)
            if status['pid'] is None and time.time() - started > 3:
                self._fail(log, 'pppd exited before the link came up')
            if time.time() > deadline:
                self._fail(log, 'the link did not come up within connect_timeout=%d s' % connect_timeout)
            time.sleep(POLL_S)

    def _record_pid(self):
        """Keep the new pppd's pid: its own link pidfile disappears while it waits to redial."""
        # Write the pid that was seen: a second read can find the pidfile already gone (redial).
        pid = _wait_until(lambda: link.pppd_pid(self.name), PIDFILE_WAIT_S)
        if pid:
            with open(commands.state_pidfile_path(self.name), 'w') as handle:
                handle.write('%d\n' % pid)

    def _forget_pid(self):
        try:
            os.unlink(commands.state_pidfile_path(self.name))
        except OSError:
            pass

    def _fail(self, text, fallback):
        """Stop whatever this start left running, then raise with the clearest cause known."""
        self.stop()
        cause = causes.classify(text)
        if cause:
            raise LinkError(causes.describe(cause), cause)
        tail = ' | '.join(line for line in text.strip().splitlines()[-5:] if line.strip())
        raise LinkError('%s. Last log lines: %s' % (fallback, tail or '(none)'))
