# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's entry point for one client's session: one session per client, and the newest wins.

The pppssh_server role installs this file as /usr/local/lib/pppssh/pppssh_session.py (with
processes.py beside it as pppssh_processes.py) and a launcher /usr/local/sbin/pppssh-session:

  pppssh-session NAME                     the forced command of client NAME's key, through its one
                                          sudo rule: end NAME's old session, then become its pppd
  pppssh-session --stop NAME [--account A] [--keep-key TAG[,TAG]]
                                          run by the role as root when NAME is removed or its key
                                          changes: end every session of NAME, print what ended;
                                          with --keep-key, a live session that logged in with one of
                                          those keys keeps running (a finished key rotation)

Under a per-client lock, the old session's pppd is ended first (pppd then removes its interface
and runs its ip-down hooks), then every other process of the client's account (the old sshd
session, and the sudo an older sudoers kept beside it), except the new session's own chain. Because each client has its own
account, that never touches another client.

Each key's forced command sets PPPSSH_KEY=TAG (published.key_tag: a digest of the public key). The
role's sudoers keeps it for this command only, and sudo executes the entry point in its own place
(no PAM session or pty for it to close), so the session finds the tag in its own environment. A
session started through an older sudoers, where sudo stayed as the parent and dropped the variable
from the command's environment, finds it in that sudo's /proc/PID/environ. The tag is recorded,
under the lock, in /run/pppssh/session-NAME.key. The newest session is the only one, so that record
names the key of the live session.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import pwd
import re
import sys

try:
    from ansible_collections.pppssh.vpn.plugins.module_utils import processes
except ImportError:  # installed on the server next to pppssh_processes.py, run with python3 -I
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pppssh_processes as processes  # pylint: disable=import-error

PPPD = '/usr/sbin/pppd'
STATE_FILE = '/etc/pppssh/server-allocations.json'
LOCK_DIR = '/run/pppssh'
SYS_NET = '/sys/class/net'
NAME_RE = re.compile(r'[a-z][a-z0-9_-]{0,10}')
ACCOUNT_RE = re.compile(r'[a-z_][a-z0-9_-]{0,31}')
KEY_RE = re.compile(r'[0-9a-f]{24}')
KEY_VARIABLE = 'PPPSSH_KEY'
STOP_TIMEOUT_S = 5
INTERFACE_GONE_S = 5
# Open lock files, held until this process exits or becomes pppd (exec closes them: they are not
# inherited), so a racing newer session can then end the pppd this one became.
_HELD = []


class Refused(Exception):
    pass


def check_name(name):
    if not NAME_RE.fullmatch(name or '') or name.startswith(('ppp-', 'pppssh-')):
        raise Refused('invalid link name %r' % (name,))
    return name


def account_of(name, state_file=STATE_FILE):
    """The account the allocation gave link NAME, from the root-owned state file."""
    try:
        with open(state_file) as handle:
            clients = json.load(handle).get('clients') or {}
    except (IOError, OSError, ValueError):
        raise Refused('cannot read the allocation %s' % state_file)
    account = (clients.get(name) or {}).get('account')
    if not account or not ACCOUNT_RE.fullmatch(account):
        raise Refused('%s is not a client of this server' % name)
    return account


def uid_of(account):
    try:
        return pwd.getpwnam(account).pw_uid
    except KeyError:
        return None


def end_session(name, account, keep=(), proc='/proc', sys_net=SYS_NET):
    """End link NAME's pppd and every process of ACCOUNT but ``keep``; the pids that were signalled."""
    # Every pppd of the link, the main ones first (their character-shunt children end with them).
    pppds = processes.link_pppds(name, proc)
    pppds += [pid for pid in processes.pids(proc) if pid not in pppds and processes.is_link_pppd(pid, name, proc)]
    ended = processes.terminate([(pid, lambda pid: processes.is_link_pppd(pid, name, proc)) for pid in pppds],
                                STOP_TIMEOUT_S)
    processes.wait_until(lambda: not os.path.exists('%s/ppp-%s' % (sys_net, name)), INTERFACE_GONE_S)
    return ended + end_account(account, keep, proc)


def end_account(account, keep=(), proc='/proc'):
    """End every process of ACCOUNT but ``keep``; the pids that were signalled."""
    ended = []
    uid = uid_of(account) if account else None
    if uid not in (None, 0):
        def still_his(pid):
            return pid not in keep and processes.real_uid(pid, proc) == uid
        ended += processes.terminate([(pid, still_his) for pid in processes.processes_of_uid(uid, proc)
                                      if pid not in keep], STOP_TIMEOUT_S)
    return ended


def session_key(pid, proc='/proc'):
    """The PPPSSH_KEY tag the forced command set, from the environment of ``pid`` itself (sudo kept it)
    or of its nearest ancestor that holds it (a sudo that stayed as the parent); None when there is
    none (a key line of an earlier version) or it is not a tag."""
    for ancestor in processes.ancestors(pid, proc):
        for item in (processes.read_text('%s/%d/environ' % (proc, ancestor)) or '').split('\0'):
            variable, _sep, value = item.partition('=')
            if variable == KEY_VARIABLE:
                return value if KEY_RE.fullmatch(value) else None
    return None


def key_record(name):
    return '%s/session-%s.key' % (LOCK_DIR, name)


def record_key(name, tag):
    """Record (under the client's lock) which key the session about to start logged in with."""
    path = key_record(name)
    if tag is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    with open(path + '.tmp', 'w') as handle:
        handle.write(tag + '\n')
    os.rename(path + '.tmp', path)


def recorded_key(name):
    text = processes.read_text(key_record(name))
    value = (text or '').strip()
    return value if KEY_RE.fullmatch(value) else None


def lock(name):
    if not os.path.isdir(LOCK_DIR):
        os.makedirs(LOCK_DIR, 0o700)
    handle = open('%s/session-%s.lock' % (LOCK_DIR, name), 'a')
    fcntl.flock(handle, fcntl.LOCK_EX)
    _HELD.append(handle)


def start(name, environ):
    check_name(name)
    account = account_of(name)
    if environ.get('SUDO_USER') != account:
        raise Refused('the session of %s must come from its own account %s, not %r'
                      % (name, account, environ.get('SUDO_USER')))
    if not os.path.isfile('/etc/ppp/peers/pppssh-%s' % name):
        raise Refused('no peers file for %s' % name)
    lock(name)
    ended = end_session(name, account, keep=processes.ancestors(os.getpid()))
    record_key(name, session_key(os.getpid()))
    if ended:
        sys.stderr.write('pppssh-session: ended the previous session of %s (pids %s)\n'
                         % (name, ' '.join(str(pid) for pid in ended)))
    sys.stderr.flush()
    os.execv(PPPD, [PPPD, 'call', 'pppssh-%s' % name])


def stop(name, account, keep_keys=(), proc='/proc'):
    """End NAME's sessions. With ``keep_keys``: when the live session logged in with one of those keys, it
    keeps running and only the other processes of the account end (logins that have not become the session)."""
    check_name(name)
    if account is not None and not ACCOUNT_RE.fullmatch(account):
        raise Refused('invalid account %r' % (account,))
    for tag in keep_keys:
        if not KEY_RE.fullmatch(tag):
            raise Refused('invalid key tag %r' % (tag,))
    lock(name)
    live = processes.link_pppds(name, proc)
    if keep_keys and len(live) == 1 and recorded_key(name) in keep_keys:
        keep = processes.ancestors(os.getpid(), proc) + processes.ancestors(live[0], proc)
        ended, kept = end_account(account, keep, proc), True
    else:
        ended, kept = end_session(name, account, keep=processes.ancestors(os.getpid(), proc), proc=proc), False
        record_key(name, None)
    sys.stdout.write(json.dumps({'name': name, 'ended': ended, 'kept': kept}) + '\n')


def parse_stop(argv):
    """(name, account, keep_keys) of ``--stop NAME [--account A] [--keep-key TAG[,TAG]]``."""
    if len(argv) < 2 or argv[0] != '--stop' or len(argv) % 2:
        raise Refused('usage: pppssh-session NAME | pppssh-session --stop NAME [--account ACCOUNT] [--keep-key TAG[,TAG]]')
    account, keep_keys = None, []
    for option, value in zip(argv[2::2], argv[3::2]):
        if option == '--account' and account is None:
            account = value
        elif option == '--keep-key':
            keep_keys += value.split(',')
        else:
            raise Refused('usage: pppssh-session NAME | pppssh-session --stop NAME [--account ACCOUNT] '
                          '[--keep-key TAG[,TAG]]')
    return argv[1], account, keep_keys


def main(argv, environ=None):
    environ = os.environ if environ is None else environ
    try:
        if len(argv) == 1 and not argv[0].startswith('-'):
            start(argv[0], environ)
        else:
            name, account, keep_keys = parse_stop(argv)
            # The clients' sudo rules allow only "pppssh-session NAME"; Ansible's become may use sudo.
            if os.geteuid() != 0:
                raise Refused('--stop is for root only')
            stop(name, account, keep_keys)
    except Refused as exc:
        sys.stderr.write('pppssh-session: refused: %s\n' % exc)
        return 2
    return 0


if __name__ == '__main__':
    raise SystemExit(main(sys.argv[1:]))
