import os

import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import link, processes


def test_pidfile_before_and_after_the_interface_exists():
    assert link.parse_pidfile('1234\n') == (1234, None)
    assert link.parse_pidfile('1234\nppp-office\n') == (1234, 'ppp-office')
    assert link.parse_pidfile('') == (None, None)
    assert link.parse_pidfile(None) == (None, None)
    assert link.parse_pidfile('garbage\n') == (None, None)


@pytest.mark.parametrize('output, expected', [
    ('5: ppp-office    inet 10.213.0.2 peer 10.213.0.1/32 scope global ppp-office\\       valid_lft forever',
     ('10.213.0.2', '10.213.0.1')),
    ('7: ppp0    inet 192.168.3.1 peer 192.168.3.2/32 scope global ppp0', ('192.168.3.1', '192.168.3.2')),
    ('2: eth0    inet 192.168.213.11/24 brd 192.168.213.255 scope global eth0', ('192.168.213.11', None)),
    ('', (None, None)),
])
def test_addresses(output, expected):
    assert link.parse_addresses(output) == expected


def test_stat_with_awkward_command_names():
    assert processes.parse_stat('42 (pppd) S 1 42 42 0 -1') == ('pppd', 1, 'S')
    assert processes.parse_stat('43 (a) b) (c) Z 42 43') == ('a) b) (c', 42, 'Z')


def test_process_and_children_read_real_proc():
    me = processes.process(os.getpid())
    assert me is not None and me[1] == os.getppid()
    assert os.getpid() in link.children(os.getppid())
    assert processes.process(2 ** 22 + 1) is None


def test_interface_counters_of_loopback():
    counters = link.interface_counters('lo')
    assert counters['up'] is True and counters['rx_bytes'] >= 0
    assert link.interface_counters('ppp-nosuchlink') is None


def test_only_the_links_own_pppd_counts(tmp_path):
    proc = tmp_path
    for pid, comm, cmdline in [(10, 'pppd', 'pppd\0call\0pppssh-office\0'), (11, 'pppd', 'pppd\0call\0pppssh-other\0'),
                               (12, 'bash', 'bash\0call\0pppssh-office\0')]:
        (proc / str(pid)).mkdir()
        (proc / str(pid) / 'stat').write_text('%d (%s) S 1 0 0' % (pid, comm))
        (proc / str(pid) / 'cmdline').write_text(cmdline)
    assert link.is_link_pppd(10, 'office', str(proc))
    assert not link.is_link_pppd(11, 'office', str(proc))
    assert not link.is_link_pppd(12, 'office', str(proc))
    assert not link.is_link_pppd(13, 'office', str(proc))


def test_ipv6_addresses_skip_the_link_local_pair():
    output = ('5: ppp-office    inet 10.213.0.2 peer 10.213.0.1/32 scope global ppp-office\\       valid_lft forever\n'
              '5: ppp-office    inet6 fe80::2 peer fe80::1/128 scope link \\       valid_lft forever\n'
              '5: ppp-office    inet6 fd13:213::2 peer fd13:213::1/128 scope global nodad \\       valid_lft forever\n')
    assert link.parse_addresses(output) == ('10.213.0.2', '10.213.0.1')
    assert link.parse_addresses6(output) == ('fd13:213::2', 'fd13:213::1')
    assert link.parse_addresses6(output.splitlines()[1]) == (None, None)
    assert link.parse_addresses6('') == (None, None)
