import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import causes

# Lines as pppd 2.4.9, OpenSSH 9.2 and sudo 1.9 print them.
SAMPLES = [
    ('pppd: Sorry - this system lacks PPP kernel support', 'kernel_no_ppp'),
    ("Couldn't open the /dev/ppp device: Operation not permitted", 'kernel_no_ppp'),
    ('@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n'
     '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n'
     'Host key verification failed.', 'host_key_changed'),
    ('No ED25519 host key is known for 192.168.213.10 and you have requested strict checking.\n'
     'Host key verification failed.', 'host_key_unknown'),
    ('vpn@192.168.213.10: Permission denied (publickey).', 'auth_refused'),
    ('sudo: a password is required', 'sudo_refused'),
    ('Sorry, user vpn is not allowed to execute \'/usr/sbin/pppd plugin x\' as root on server.', 'sudo_refused'),
    ('ssh: connect to host 192.168.213.99 port 22: No route to host', 'server_unreachable'),
    ('ssh: connect to host 192.168.213.10 port 2222: Connection refused', 'server_unreachable'),
    ('ssh: connect to host 10.0.0.1 port 22: Connection timed out', 'server_unreachable'),
    ('Peer refused to agree to our IP address', 'address_in_use'),
    ('LCP: timeout sending Config-Requests', 'timeout'),
    ('No response to 3 echo-requests\nSerial link appears to be disconnected.\nConnection terminated.',
     'peer_dead'),
    ('Modem hangup', 'peer_dead'),
]


@pytest.mark.parametrize('text, cause', SAMPLES)
def test_known_lines_are_named(text, cause):
    found = causes.classify(text)
    assert found['cause'] == cause
    assert found['fix'] and found['problem']
    assert cause in causes.describe(found) and 'Fix:' in causes.describe(found)


def test_fatal_cause_wins_over_the_hangup_that_follows_it():
    log = ('Using interface ppp-office\nConnect: ppp-office <--> /dev/pts/1\n'
           'vpn@server: Permission denied (publickey).\nModem hangup\nConnection terminated.\n')
    assert causes.classify(log)['cause'] == 'auth_refused'


def test_healthy_log_has_no_cause():
    log = ('Using interface ppp-office\nConnect: ppp-office <--> /dev/pts/1\n'
           'local  IP address 10.213.0.2\nremote IP address 10.213.0.1\n')
    assert causes.classify(log) is None


def test_every_cause_has_problem_and_fix():
    names = [cause[0] for cause in causes.CAUSES]
    assert len(names) == len(set(names))
    assert causes.FATAL <= set(names)


def test_kernel_permission_errors_are_not_auth_refusals():
    assert causes.classify('sif6addr: ioctl(SIOCSIFADDR): Permission denied (line 2986)') is None


def test_a_specific_cause_wins_over_the_hangup_after_it():
    log = 'ssh: connect to host 192.168.213.60 port 22: Connection refused\nModem hangup\n'
    assert causes.classify(log)['cause'] == 'server_unreachable'


def test_only_what_followed_the_last_link_up_is_current():
    log = ('vpn@server: Permission denied (publickey).\nModem hangup\n'
           'local  IP address 10.213.0.2\nremote IP address 10.213.0.1\n')
    assert causes.classify(causes.since_last_up(log)) is None
    later = log + 'No response to 3 echo-requests\nConnection terminated.\n'
    assert causes.classify(causes.since_last_up(later))['cause'] == 'peer_dead'
    assert causes.since_last_up('Modem hangup\n') == 'Modem hangup\n'
