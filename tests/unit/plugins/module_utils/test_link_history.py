"""The link's history from its log: redials since boot, the last failure and its time, the links
of a host and their role (link.read_link, shared by pppssh_tunnel_info and the exporter)."""
import json
import subprocess

from ansible_collections.pppssh.vpn.plugins.module_utils import causes, commands, link

BOOT = 1796179100
UP = ('Renamed interface ppp0 to ppp-office\nUsing interface ppp-office\nConnect: ppp-office <--> /dev/pts/0\n'
      'local  IP address 10.213.0.2\nremote IP address 10.213.0.1\n')
HANGUP = 'Modem hangup\nConnect time 2.9 minutes.\nSent 0 bytes, received 0 bytes.\nConnection terminated.\n'
ECHO_LOST = ('No response to 4 echo-requests\nSerial link appears to be disconnected.\nConnect time 5.0 minutes.\n'
             'Connection terminated.\n')
REFUSED = 'pppssh-office@192.168.213.170: Permission denied (publickey).\nModem hangup\nConnection terminated.\n'
STOP = 'Terminating on signal 15\nConnect time 1.0 minutes.\nConnection terminated.\n'


def dial(at):
    return 'pppssh: dial %d\n' % at


def test_a_first_dial_that_came_up_is_no_redial_and_no_failure():
    assert link.history(dial(BOOT + 10) + UP, BOOT, BOOT + 20) == {
        'redials': 0, 'last_cause': None, 'last_cause_time': None, 'last_cause_line': None}


def test_every_attempt_after_one_that_ended_by_itself_is_a_redial():
    log = dial(BOOT + 10) + UP + HANGUP + dial(BOOT + 200) + UP + ECHO_LOST + dial(BOOT + 500) + UP
    past = link.history(log, BOOT, BOOT + 510)
    assert past['redials'] == 2
    # The latest failure, dated by the redial that followed it (holdoff seconds later).
    assert (past['last_cause'], past['last_cause_time']) == ('peer_dead', BOOT + 500)
    assert past['last_cause_line'] == 'Connection terminated.'  # causes.classify: the last line of the cause


def test_only_redials_since_boot_count():
    log = dial(BOOT - 900) + UP + HANGUP + dial(BOOT - 800) + UP + HANGUP + dial(BOOT + 30) + UP
    # The dial at BOOT + 30 followed an attempt that ended by itself before the reboot: it is the
    # first one of this boot, yet pppd had "redialled"; only what is dated since boot counts.
    assert link.history(log, BOOT, BOOT + 40)['redials'] == 1
    assert link.history(log, BOOT + 60, BOOT + 70)['redials'] == 0


def test_a_start_after_a_stop_is_no_redial_and_a_stop_is_no_failure():
    log = dial(BOOT + 10) + UP + STOP + dial(BOOT + 100) + UP
    past = link.history(log, BOOT, BOOT + 110)
    assert past['redials'] == 0
    assert past['last_cause'] is None


def test_a_start_after_pppd_was_killed_is_no_redial():
    # SIGKILL leaves no line at all: the attempt simply ends.
    assert link.history(dial(BOOT + 10) + UP + dial(BOOT + 100) + UP, BOOT, BOOT + 110)['redials'] == 0


def test_a_cause_logged_before_a_stop_still_counts():
    log = dial(BOOT + 10) + REFUSED.replace('Modem hangup\nConnection terminated.\n', '') + STOP
    past = link.history(log, BOOT, BOOT + 12)
    assert (past['last_cause'], past['last_cause_time']) == ('auth_refused', BOOT + 12)


def test_a_failing_latest_attempt_is_dated_by_the_logs_last_write():
    log = dial(BOOT + 10) + UP + HANGUP + dial(BOOT + 20) + REFUSED + dial(BOOT + 22) + REFUSED
    past = link.history(log, BOOT, BOOT + 23)
    assert past['redials'] == 2
    assert (past['last_cause'], past['last_cause_time']) == ('auth_refused', BOOT + 23)
    assert past['last_cause_line'].endswith('Permission denied (publickey).')


def test_a_dial_still_waiting_dates_the_failure_before_it():
    # The dialler is in its backoff wait: the current attempt has only its marker so far.
    log = dial(BOOT + 10) + REFUSED + dial(BOOT + 40)
    past = link.history(log, BOOT, BOOT + 40)
    assert (past['redials'], past['last_cause'], past['last_cause_time']) == (1, 'auth_refused', BOOT + 40)


def test_a_log_of_an_older_version_has_no_redial_count_but_still_a_cause():
    past = link.history(UP + HANGUP, BOOT, BOOT + 5)
    assert past['redials'] is None
    assert (past['last_cause'], past['last_cause_time']) == ('peer_dead', BOOT + 5)
    # Older lines before the first marker: their failure is dated by the first marker.
    past = link.history(UP + HANGUP + dial(BOOT + 50) + UP, BOOT, BOOT + 60)
    assert (past['redials'], past['last_cause'], past['last_cause_time']) == (1, 'peer_dead', BOOT + 50)


def test_an_empty_log():
    assert link.history('', BOOT, None) == {
        'redials': None, 'last_cause': None, 'last_cause_time': None, 'last_cause_line': None}


def test_the_dial_marker_is_what_the_dialler_writes(tmp_path):
    out = subprocess.run(['/bin/sh', '-c', commands.BACKOFF_SCRIPT, str(tmp_path / 'x.dial'), 'true'],
                         capture_output=True, text=True, check=True)
    marks = link.attempts(out.stderr)
    assert len(marks) == 2 and abs(marks[1][0] - int(open(str(tmp_path / 'x.dial')).read().split()[0])) <= 1


def test_boot_time_from_proc_stat(tmp_path):
    (tmp_path / 'stat').write_text('cpu  1 2 3\nbtime 1796179109\nprocesses 10\n')
    assert link.boot_time(str(tmp_path)) == 1796179109
    assert link.boot_time(str(tmp_path / 'missing')) == 0
    assert link.boot_time() > 0


def test_link_names_are_peers_files_and_pidfiles(tmp_path):
    (tmp_path / 'pppssh-office').write_text('x')
    (tmp_path / 'pppssh-home').write_text('x')
    (tmp_path / 'pppssh-home.pppssh-tmp').write_text('x')  # a write in progress
    (tmp_path / 'provider').write_text('x')
    (tmp_path / 'ppp-pppssh-gone.pid').write_text('42\n')
    (tmp_path / 'ppp-ppp-office.pid').write_text('42\n')
    assert link.link_names(str(tmp_path), str(tmp_path)) == ['gone', 'home', 'office']


def client_peers(name='office', server='vpn.example.org'):
    config = {'name': name, 'interface': 'ppp-%s' % name, 'server': server, 'port': 22, 'user': 'vpn',
              'persist': True, 'holdoff': 1, 'keepalive_interval': 3, 'keepalive_failures': 4,
              'compression': 'none', 'connect_timeout': 30, 'ipparam': 'vpn', 'ssh_options': {},
              'remote_command': 'x', 'local_ip': '10.213.0.2', 'remote_ip': '10.213.0.1'}
    return commands.peers_file(config)


SERVER_PEERS = ('# Server end of the pppssh link of client1.\nnodetach\nnotty\nnoauth\n10.213.0.1:10.213.0.2\n'
                'ifname ppp-client1\nlinkname pppssh-client1\nipparam vpn\n')


def fake_pppd(proc, pid, name, run_dir):
    (proc / str(pid)).mkdir()
    (proc / str(pid) / 'stat').write_text('%d (pppd) S 1 0 0' % pid)
    (proc / str(pid) / 'cmdline').write_text('/usr/sbin/pppd\0call\0pppssh-%s\0' % name)
    (run_dir / ('ppp-pppssh-%s.pid' % name)).write_text('%d\nppp-%s\n' % (pid, name))


def test_read_link_of_both_ends(tmp_path, monkeypatch):
    peers, run, logs, proc, sys_net = (tmp_path / sub for sub in ('peers', 'run', 'log', 'proc', 'net'))
    for directory in (peers, run, logs, proc, sys_net):
        directory.mkdir()
    monkeypatch.setattr(commands, 'PEERS_DIR', str(peers))
    monkeypatch.setattr(commands, 'RUN_DIR', str(run))
    monkeypatch.setattr(commands, 'LOG_DIR', str(logs))
    monkeypatch.setattr(commands, 'state_pidfile_path', lambda name: str(run / ('%s.state' % name)))
    real_is_link_pppd = link.is_link_pppd
    monkeypatch.setattr(link, 'is_link_pppd', lambda pid, name, _proc='/proc': real_is_link_pppd(pid, name, str(proc)))
    monkeypatch.setattr(link, 'children', lambda pid: [])
    # The log's times are fixed: so is the boot they count from (not this machine's).
    monkeypatch.setattr(link, 'boot_time', lambda proc='/proc': BOOT)
    real_counters = link.interface_counters
    monkeypatch.setattr(link, 'interface_counters', lambda iface: real_counters(iface, str(sys_net)))
    for name, rx, tx in (('office', 565, 536), ('client1', 600, 700)):
        base = sys_net / ('ppp-%s' % name) / 'statistics'
        base.mkdir(parents=True)
        (sys_net / ('ppp-%s' % name) / 'flags').write_text('0x10d1\n')
        (base / 'rx_bytes').write_text('%d\n' % rx)
        (base / 'tx_bytes').write_text('%d\n' % tx)
    (peers / 'pppssh-office').write_text(client_peers())
    (peers / 'pppssh-client1').write_text(SERVER_PEERS)
    fake_pppd(proc, 100, 'office', run)
    fake_pppd(proc, 200, 'client1', run)
    (logs / 'office.log').write_text(dial(BOOT + 10) + UP + HANGUP + dial(BOOT + 20) + UP)
    state = tmp_path / 'state.json'
    state.write_text(json.dumps({'clients': {'client1': {'host': 'client1.example.org', 'account': 'pppssh-client1',
                                                         'client_ip': '10.213.0.2', 'server_ip': '10.213.0.1'}}}))
    addresses = {'ppp-office': '5: ppp-office    inet 10.213.0.2 peer 10.213.0.1/32 scope global ppp-office',
                 'ppp-client1': '6: ppp-client1    inet 10.213.0.1 peer 10.213.0.2/32 scope global ppp-client1'}

    def run_command(argv):
        return 0, addresses[argv[-1]], ''

    links = link.read_links(run_command, state_file=str(state))
    assert [(each['name'], each['role']) for each in links] == [('client1', 'server'), ('office', 'client')]
    server_end, client_end = links
    assert client_end['state'] == 'up' and client_end['pid'] == 100 and client_end['interface'] == 'ppp-office'
    assert (client_end['local_ip'], client_end['remote_ip'], client_end['rx_bytes'], client_end['tx_bytes']) == \
        ('10.213.0.2', '10.213.0.1', 565, 536)
    assert client_end['server'] == 'vpn.example.org' and client_end['persist'] is True
    assert client_end['config']['peers_file'] == str(peers / 'pppssh-office')
    assert client_end['cause'] is None and client_end['last_error'] is None
    assert (client_end['redials'], client_end['last_cause'], client_end['last_cause_time']) == (1, 'peer_dead', BOOT + 20)
    assert 'ssh_pids' not in client_end
    assert server_end['state'] == 'up' and server_end['pid'] == 200
    assert (server_end['local_ip'], server_end['remote_ip']) == ('10.213.0.1', '10.213.0.2')
    assert server_end['client'] == 'client1.example.org' and server_end['server'] is None
    assert server_end['config']['account'] == 'pppssh-client1'
    assert server_end['redials'] is None and server_end['last_cause'] is None  # the server end keeps no log
    # The same fields as state=status, plus the history.
    status_fields = {'interface', 'pid', 'state', 'local_ip', 'remote_ip', 'uptime_s', 'rx_bytes', 'tx_bytes',
                     'persist', 'last_error', 'cause', 'config'}
    assert status_fields <= set(client_end) and status_fields <= set(server_end)
    assert link.read_links(run_command, name='office', state_file=str(state)) == [client_end]
    assert link.read_links(run_command, name='nosuch', state_file=str(state)) == []

    # pppd gone: down, and the log's failure is the current cause.
    (proc / '100' / 'stat').write_text('100 (pppd) Z 1 0 0')
    (logs / 'office.log').write_text(dial(BOOT + 10) + UP + HANGUP + dial(BOOT + 20) + REFUSED)
    down = link.read_link('office', run_command, str(state))
    assert down['state'] == 'down' and down['pid'] is None
    assert down['cause'] == 'auth_refused' and down['last_cause'] == 'auth_refused'
    assert down['last_error'] == causes.describe(causes.classify(REFUSED))


def test_the_history_of_a_long_log_starts_at_a_whole_line(tmp_path, monkeypatch):
    monkeypatch.setattr(commands, 'LOG_DIR', str(tmp_path))
    tail = dial(BOOT + 10) + UP
    monkeypatch.setattr(link, 'HISTORY_LOG_LIMIT', len(tail) + 10)
    # Cut mid-line, "dial" would read as "xxxxpppssh: dial ..." if that partial line were kept.
    (tmp_path / 'office.log').write_text('x' * 100 + '\n' + tail)
    assert link.read_history('office', BOOT)['redials'] == 0
    (tmp_path / 'office.log').write_text('Modem hangup' + 'x' * 100 + '\n' + tail)
    assert link.read_history('office', BOOT)['last_cause'] is None
