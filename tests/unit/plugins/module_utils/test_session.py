"""The server's session entry point: which processes it ends, and what it refuses. The /proc tree
is a fake one in a temporary directory; os.kill is replaced by one that ends fake processes."""
import json
import signal

import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import processes, session

ACCOUNT_UID = 998


class FakeProc(object):
    def __init__(self, root):
        self.root = root
        self.killed = []

    def add(self, pid, comm, ppid, argv, uid=0, state='S'):
        entry = self.root / str(pid)
        entry.mkdir()
        entry.joinpath('stat').write_text('%d (%s) %s %d 0 0' % (pid, comm, state, ppid))
        entry.joinpath('cmdline').write_text('\0'.join(argv) + '\0')
        entry.joinpath('status').write_text('Name:\t%s\nUid:\t%d\t0\t0\t0\n' % (comm, uid))

    def kill(self, pid, signum):
        self.killed.append((pid, signum))
        for child in self.root.iterdir():
            if child.joinpath('stat').read_text().split()[0] == str(pid):
                for name in ('stat', 'cmdline', 'status'):
                    child.joinpath(name).unlink()
                child.rmdir()


@pytest.fixture
def proc(tmp_path, monkeypatch):
    fake = FakeProc(tmp_path / 'proc')
    fake.root.mkdir()
    monkeypatch.setattr(processes.os, 'kill', fake.kill)
    monkeypatch.setattr(session, 'uid_of', lambda account: ACCOUNT_UID if account == 'pppssh-a' else None)
    monkeypatch.setattr(session, 'STOP_TIMEOUT_S', 0.2)
    monkeypatch.setattr(session, 'INTERFACE_GONE_S', 0.1)
    return fake


def two_sessions(proc):
    """An old session of link a (sshd, sudo, pppd and its shunt child), the new one calling us, and
    link b's pppd beside them."""
    proc.add(100, 'sshd', 1, ['sshd: pppssh-a'], uid=ACCOUNT_UID)
    proc.add(101, 'sudo', 100, ['sudo', '-n', '/usr/local/sbin/pppssh-session', 'a'], uid=ACCOUNT_UID)
    proc.add(102, 'pppd', 101, ['/usr/sbin/pppd', 'call', 'pppssh-a'])
    proc.add(103, 'pppd', 102, ['/usr/sbin/pppd', 'call', 'pppssh-a'])
    proc.add(200, 'sshd', 1, ['sshd: pppssh-a'], uid=ACCOUNT_UID)
    proc.add(201, 'sudo', 200, ['sudo', '-n', '/usr/local/sbin/pppssh-session', 'a'], uid=ACCOUNT_UID)
    proc.add(300, 'pppd', 1, ['/usr/sbin/pppd', 'call', 'pppssh-b'])
    proc.add(301, 'bash', 1, ['bash', 'call', 'pppssh-a'])


def test_the_links_pppd_is_found_without_its_shunt_child(proc):
    two_sessions(proc)
    root = str(proc.root)
    assert processes.link_pppds('a', root) == [102]
    assert processes.link_pppds('b', root) == [300]
    assert processes.processes_of_uid(ACCOUNT_UID, root) == [100, 101, 200, 201]
    assert processes.ancestors(201, root) == [201, 200, 1]


def test_a_new_session_ends_the_old_one_and_nothing_else(proc, tmp_path):
    two_sessions(proc)
    ended = session.end_session('a', 'pppssh-a', keep=[201, 200, 1], proc=str(proc.root), sys_net=str(tmp_path))
    assert ended == [102, 103, 100, 101]
    assert [pid for pid, signum in proc.killed if signum == signal.SIGTERM] == [102, 103, 100, 101]
    left = sorted(int(p.name) for p in proc.root.iterdir())
    assert left == [200, 201, 300, 301]


def test_stop_ends_every_process_of_the_client(proc, tmp_path):
    two_sessions(proc)
    ended = session.end_session('a', 'pppssh-a', keep=[], proc=str(proc.root), sys_net=str(tmp_path))
    assert sorted(ended) == [100, 101, 102, 103, 200, 201]
    assert sorted(int(p.name) for p in proc.root.iterdir()) == [300, 301]


def test_a_pid_that_changed_hands_is_not_signalled(proc, tmp_path, monkeypatch):
    proc.add(102, 'pppd', 1, ['/usr/sbin/pppd', 'call', 'pppssh-a'])
    listed = processes.link_pppds
    # Between the listing and the signal, pid 102 became somebody else's process.

    def listing_then_reuse(name, root):
        found = listed(name, root)
        (proc.root / '102' / 'cmdline').write_text('/usr/sbin/sshd\0-D\0')
        (proc.root / '102' / 'stat').write_text('102 (sshd) S 1 0 0')
        return found
    monkeypatch.setattr(processes, 'link_pppds', listing_then_reuse)
    assert session.end_session('a', None, proc=str(proc.root), sys_net=str(tmp_path)) == []
    assert proc.killed == []


def state(tmp_path, clients):
    path = tmp_path / 'state.json'
    path.write_text(json.dumps({'pool': '10.213.0.0/24', 'clients': clients}))
    return str(path)


def test_the_account_comes_from_the_allocation(tmp_path):
    path = state(tmp_path, {'a': {'account': 'pppssh-a'}, 'b': {'account': 'x y'}})
    assert session.account_of('a', path) == 'pppssh-a'
    for name in ('b', 'c'):
        with pytest.raises(session.Refused):
            session.account_of(name, path)
    with pytest.raises(session.Refused):
        session.account_of('a', str(tmp_path / 'missing.json'))


@pytest.mark.parametrize('argv', [[], ['a', 'b'], ['-x'], ['--stop'], ['--stop', 'a', '--acount', 'x'],
                                  ['a\n'], ['../a'], ['ppp-a'], ['pppssh-a']])
def test_bad_arguments_are_refused(argv, capsys):
    assert session.main(argv, environ={}) == 2
    assert 'pppssh-session: refused' in capsys.readouterr().err


def test_a_session_from_another_account_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(session, 'STATE_FILE', state(tmp_path, {'a': {'account': 'pppssh-a'}}))
    monkeypatch.setattr(session, 'account_of', lambda name: 'pppssh-a')
    assert session.main(['a'], environ={'SUDO_USER': 'pppssh-b'}) == 2
    assert "not 'pppssh-b'" in capsys.readouterr().err


def test_stop_is_for_root_only(monkeypatch, capsys):
    monkeypatch.setattr(session.os, 'geteuid', lambda: 998)
    assert session.main(['--stop', 'a'], environ={}) == 2
    assert 'root only' in capsys.readouterr().err


# ---------------------------------------------------------------- which key a session logged in with

NEW, OLD = 'a' * 24, 'b' * 24


def tagged(proc, pid, tag):
    """The forced command's PPPSSH_KEY in the environment of ``pid``."""
    (proc.root / str(pid) / 'environ').write_text('SSH_CONNECTION=x\0PPPSSH_KEY=%s\0PATH=/bin\0' % tag)


def assert_key_read_from(proc, holder, session_pid):
    """session_key of ``session_pid`` is the tag in ``holder``'s environment: none before it is set,
    and none when it is not a tag (nothing recorded, so a rotation ends that session)."""
    assert session.session_key(session_pid, str(proc.root)) is None
    tagged(proc, holder, NEW)
    assert session.session_key(session_pid, str(proc.root)) == NEW
    tagged(proc, holder, 'x; rm -rf /')
    assert session.session_key(session_pid, str(proc.root)) is None


def test_the_session_key_comes_from_the_sessions_own_environment(proc):
    # The role's sudoers: sudo keeps PPPSSH_KEY and executes the entry point in its own place, so
    # the session's parent is the account's sshd.
    proc.add(200, 'sshd', 1, ['sshd: pppssh-a'], uid=ACCOUNT_UID)
    proc.add(201, 'python3', 200, ['python3', '-I', 'pppssh_session.py', 'a'])
    assert_key_read_from(proc, 201, 201)


def test_the_session_key_comes_from_a_sudo_that_stayed_as_the_parent(proc):
    # An older sudoers: sudo forked, waited, and dropped the variable from the command's environment.
    two_sessions(proc)
    proc.add(202, 'python3', 201, ['python3', '-I', 'pppssh_session.py', 'a'])
    assert_key_read_from(proc, 201, 202)


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setattr(session, 'LOCK_DIR', str(tmp_path / 'run'))
    monkeypatch.setattr(session, 'lock', lambda name: None)
    (tmp_path / 'run').mkdir()
    return tmp_path / 'run'


def live_session(proc):
    """Link a's live session (sshd, sudo, pppd and its shunt child), a pending login, and the --stop caller."""
    proc.add(100, 'sshd', 1, ['sshd: pppssh-a'], uid=ACCOUNT_UID)
    proc.add(101, 'sudo', 100, ['sudo', '-n', '/usr/local/sbin/pppssh-session', 'a'], uid=ACCOUNT_UID)
    proc.add(102, 'pppd', 101, ['/usr/sbin/pppd', 'call', 'pppssh-a'])
    proc.add(103, 'pppd', 102, ['/usr/sbin/pppd', 'call', 'pppssh-a'])
    proc.add(200, 'sshd', 1, ['sshd: pppssh-a'], uid=ACCOUNT_UID)
    proc.add(500, 'python3', 1, ['python3', 'pppssh_session.py', '--stop', 'a'])


def stop(proc, monkeypatch, capsys, keep_keys):
    monkeypatch.setattr(session.os, 'getpid', lambda: 500)
    session.stop('a', 'pppssh-a', keep_keys, proc=str(proc.root))
    return json.loads(capsys.readouterr().out)


def test_a_live_session_of_a_kept_key_survives_the_end_of_a_rotation(proc, records, monkeypatch, capsys):
    live_session(proc)
    session.record_key('a', NEW)
    assert session.recorded_key('a') == NEW
    result = stop(proc, monkeypatch, capsys, [NEW])
    # Only the login that has not become the session ends.
    assert result == {'name': 'a', 'ended': [200], 'kept': True}
    assert sorted(int(p.name) for p in proc.root.iterdir()) == [100, 101, 102, 103, 500]


@pytest.mark.parametrize('recorded', [OLD, None])
def test_a_session_of_a_dropped_or_unknown_key_ends(proc, records, monkeypatch, capsys, recorded):
    live_session(proc)
    session.record_key('a', recorded)
    result = stop(proc, monkeypatch, capsys, [NEW])
    assert result['kept'] is False and sorted(result['ended']) == [100, 101, 102, 103, 200]
    assert session.recorded_key('a') is None


def test_without_kept_keys_stop_ends_the_session_whatever_its_key(proc, records, monkeypatch, capsys):
    live_session(proc)
    session.record_key('a', NEW)
    assert stop(proc, monkeypatch, capsys, [])['kept'] is False


@pytest.mark.parametrize('argv', [['--stop', 'a', '--keep-key'], ['--stop', 'a', '--keep-key', 'x'],
                                  ['--stop', 'a', '--keep-key', NEW + ',../x'],
                                  ['--stop', 'a', '--account', 'b', '--account', 'c']])
def test_bad_stop_arguments_are_refused(argv, capsys, monkeypatch):
    monkeypatch.setattr(session.os, 'geteuid', lambda: 0)
    monkeypatch.setattr(session, 'lock', lambda name: pytest.fail('locked before the arguments were checked'))
    assert session.main(argv, environ={}) == 2
    assert 'pppssh-session: refused' in capsys.readouterr().err


def test_stop_takes_the_kept_keys_as_one_list():
    assert session.parse_stop(['--stop', 'a', '--account', 'pppssh-a', '--keep-key', NEW + ',' + OLD]) == \
        ('a', 'pppssh-a', [NEW, OLD])
