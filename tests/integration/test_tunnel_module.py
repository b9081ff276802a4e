"""pppssh_tunnel against real pppd, sshd and sudo, in two guests whose kernels have PPP."""
import pytest

from conftest import CLIENT, KEY, SERVER

LINK_PID = '/run/ppp-pppssh-howto.pid'


def ping(guest, address, count=3, size=56):
    return guest.sh('ping -n -q -c %d -i 0.2 -W 2 -s %d %s' % (count, size, address), check=False)


def assert_nothing_running(server_pppd_before=()):
    """No pppd or ssh left on the client, no ppp interface; the server's pppd for us is gone too."""
    CLIENT.wait_for(lambda: not CLIENT.processes('pppd') and not CLIENT.processes('ssh'), 10,
                    'no pppd/ssh on the client')
    assert CLIENT.ppp_interfaces() == []
    SERVER.wait_for(lambda: not set(SERVER.processes('pppd')) - set(server_pppd_before), 15,
                    'server pppd gone')


def test_started_brings_the_link_up_and_ping_crosses_it(tunnel, timings):
    tunnel(state='stopped')
    result, seconds = tunnel()
    timings['started_call_s'] = round(seconds, 2)
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True
    assert result['state'] == 'up'
    assert result['interface'] == 'ppp-howto'
    assert (result['local_ip'], result['remote_ip']) == ('10.213.0.2', '10.213.0.1')
    assert result['pid'] == int(CLIENT.out('head -1 %s' % LINK_PID))
    assert CLIENT.ppp_interfaces() == ['ppp-howto']
    server_ppp = SERVER.ppp_interfaces()
    assert len(server_ppp) == 1 and server_ppp[0].startswith('ppp')
    assert 'inet 10.213.0.1 peer 10.213.0.2' in SERVER.out('ip -4 -o addr show dev %s' % server_ppp[0])
    assert ping(CLIENT, '10.213.0.1').returncode == 0
    assert ping(SERVER, '10.213.0.2').returncode == 0


def test_second_started_changes_nothing(tunnel):
    before = tunnel(state='status')[0]
    result = tunnel()[0]
    assert result['changed'] is False
    assert result['pid'] == before['pid']
    assert len(CLIENT.processes('pppd')) == 1


def test_status_reports_true_figures(tunnel):
    before = tunnel(state='status')[0]
    assert before['changed'] is False and before['state'] == 'up'
    assert before['config']['server'] == SERVER.ip and before['config']['persist'] is True
    assert ping(CLIENT, '10.213.0.1', count=20, size=1000).returncode == 0
    after = tunnel(state='status')[0]
    assert after['tx_bytes'] - before['tx_bytes'] >= 20 * 1000
    assert after['rx_bytes'] - before['rx_bytes'] >= 20 * 1000
    assert after['uptime_s'] >= before['uptime_s'] >= 0
    assert after['pid'] == before['pid']


def test_check_mode_predicts_without_acting(tunnel):
    pid = tunnel(state='status')[0]['pid']
    assert tunnel(check=True)[0]['changed'] is False
    assert tunnel(check=True, mtu=1400)[0]['changed'] is True
    assert tunnel(check=True, state='stopped')[0]['changed'] is True
    assert tunnel(state='status')[0]['pid'] == pid
    assert 'mtu 1400' not in CLIENT.out('cat /etc/ppp/peers/pppssh-howto')


def test_configuration_drift_restarts_the_link_and_shows_the_diff(tunnel):
    old_pid = tunnel(state='status')[0]['pid']
    result = tunnel(diff=True, mtu=1400, mru=1400)[0]
    assert result['changed'] is True and result['state'] == 'up'
    assert result['pid'] != old_pid
    assert '+mtu 1400' in str(result.get('diff')) or 'mtu 1400' in result['diff']['after']
    assert len(CLIENT.processes('pppd')) == 1 and CLIENT.ppp_interfaces() == ['ppp-howto']
    assert 'mtu 1400' in CLIENT.out('ip link show dev ppp-howto')
    assert ping(CLIENT, '10.213.0.1').returncode == 0


def test_restarted_always_cycles(tunnel):
    old_pid = tunnel(state='status')[0]['pid']
    result = tunnel(state='restarted', mtu=1400, mru=1400)[0]
    assert result['changed'] is True and result['state'] == 'up' and result['pid'] != old_pid
    assert len(CLIENT.processes('pppd')) == 1


def test_a_deliberate_start_is_not_held_back_by_the_redial_backoff(tunnel):
    # A streak of ten quick dials a moment ago: pppd's own next redial would first sleep 30 s.
    CLIENT.sh('mkdir -p /run/pppssh && echo "$(date +%s) 10" > /run/pppssh/howto.dial')
    result = tunnel(state='restarted')[0]
    assert result.get('failed') is not True and result['state'] == 'up', result.get('msg')
    # The module cleared the streak: the one dial of this start counted from zero.
    assert CLIENT.out('cat /run/pppssh/howto.dial').split()[1] == '0'


def test_stopped_removes_interface_and_processes(tunnel):
    result = tunnel(state='stopped')[0]
    assert result['changed'] is True and result['state'] == 'down' and result['pid'] is None
    assert_nothing_running()
    assert SERVER.ppp_interfaces() == []
    again = tunnel(state='stopped')[0]
    assert again['changed'] is False
    status = tunnel(state='status')[0]
    assert status['state'] == 'down' and status['changed'] is False


@pytest.mark.parametrize('case', ['auth_refused', 'host_key_unknown', 'host_key_changed', 'sudo_refused'])
def test_failures_are_named_and_leave_nothing_running(tunnel, case):
    tunnel(state='stopped')
    server_pppd = SERVER.processes('pppd')
    peers_before = CLIENT.out('cat /etc/ppp/peers/pppssh-howto 2>/dev/null; true')
    overrides = {}
    if case == 'auth_refused':
        CLIENT.sh("[ -f /root/stranger ] || ssh-keygen -q -t ed25519 -N '' -f /root/stranger")
        overrides = {'identity_file': '/root/stranger'}
    elif case == 'host_key_unknown':
        CLIENT.sh(': > /root/empty_known_hosts')
        overrides = {'known_hosts_file': '/root/empty_known_hosts'}
    elif case == 'host_key_changed':
        CLIENT.sh("[ -f /root/impostor ] || ssh-keygen -q -t ed25519 -N '' -f /root/impostor; "
                  "echo \"%s $(cut -d' ' -f1,2 /root/impostor.pub)\" > /root/wrong_known_hosts" % SERVER.ip)
        overrides = {'known_hosts_file': '/root/wrong_known_hosts'}
    elif case == 'sudo_refused':
        overrides = {'remote_command': 'sudo -n /usr/bin/id'}
    result, _seconds = tunnel(**overrides)
    assert result.get('failed') is True, result
    assert result['cause'] == case, result['msg']
    assert 'Fix:' in result['msg']
    assert result['state'] == 'down'
    assert_nothing_running(server_pppd)
    assert CLIENT.out('cat /etc/ppp/peers/pppssh-howto 2>/dev/null; true') == peers_before


def test_kept_key_works_again_after_failures(tunnel):
    result = tunnel()[0]
    assert result['changed'] is True and result['state'] == 'up', result.get('msg')
    assert ping(CLIENT, '10.213.0.1').returncode == 0
    assert tunnel(state='absent')[0]['changed'] is True
    assert_nothing_running()
    assert CLIENT.sh('test -e /etc/ppp/peers/pppssh-howto', check=False).returncode != 0
    assert KEY
