"""The address monitor: which links lose their local address. Fake /proc and /run trees."""
import os

import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import addrwatch


@pytest.mark.parametrize('line, address', [
    ('Deleted 2: eth0    inet 192.168.213.62/24 brd 192.168.213.255 scope global eth0\\       valid_lft forever',
     '192.168.213.62'),
    ('2: eth0    inet 192.168.213.72/24 scope global secondary eth0', None),
    ('Deleted 2: eth0    inet6 fe80::1/64 scope link', None),
    ('', None),
])
def test_deleted_addresses_are_read_from_ip_monitor(line, address):
    assert addrwatch.deleted_address(line) == address


TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 3ED5A8C0:D2F4 3CD5A8C0:0016 01 00000000:00000000 02:000A0E6B 00000000     0        0 4242 2 0
   1: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0
"""


def test_tcp_local_addresses_decode_little_endian():
    assert addrwatch.tcp_local_addresses(TCP) == {'4242': '192.168.213.62', '77': '127.0.0.1'}


def fake_link(root, name, pppd, ssh, inode):
    """pppd, the sh -c it runs its pty command with (pid ssh - 1), and ssh under that shell."""
    proc, run = root / 'proc', root / 'run'
    for pid, comm, ppid, argv in [(pppd, 'pppd', 1, ['/usr/sbin/pppd', 'call', 'pppssh-%s' % name]),
                                  (ssh - 1, 'sh', pppd, ['/bin/sh', '-c', '/usr/bin/ssh server']),
                                  (ssh, 'ssh', ssh - 1, ['/usr/bin/ssh', 'server'])]:
        entry = proc / str(pid)
        (entry / 'fd').mkdir(parents=True)
        (entry / 'stat').write_text('%d (%s) S %d 0 0' % (pid, comm, ppid))
        (entry / 'cmdline').write_text('\0'.join(argv) + '\0')
    os.symlink('socket:[%s]' % inode, str(proc / str(ssh) / 'fd' / '3'))
    run.mkdir(exist_ok=True)
    (run / ('ppp-pppssh-%s.pid' % name)).write_text('%d\nppp-%s\n' % (pppd, name))


def test_only_the_link_bound_to_the_lost_address_is_kicked(tmp_path):
    (tmp_path / 'proc' / 'net').mkdir(parents=True)
    (tmp_path / 'proc' / 'net' / 'tcp').write_text(TCP)
    fake_link(tmp_path, 'office', 10, 12, '4242')
    fake_link(tmp_path, 'backup', 20, 22, '77')
    (tmp_path / 'run' / 'ppp-pppssh-stale.pid').write_text('999\n')
    proc, run = str(tmp_path / 'proc'), str(tmp_path / 'run')
    assert addrwatch.links_bound_to('192.168.213.62', proc, run) == [('office', 10, 12)]
    assert addrwatch.links_bound_to('10.0.0.1', proc, run) == []


def test_only_the_links_own_ssh_is_ended(tmp_path):
    (tmp_path / 'proc' / 'net').mkdir(parents=True)
    (tmp_path / 'proc' / 'net' / 'tcp').write_text(TCP)
    fake_link(tmp_path, 'office', 10, 12, '4242')
    fake_link(tmp_path, 'backup', 20, 22, '77')
    proc = str(tmp_path / 'proc')
    assert addrwatch.is_links_ssh(12, 10, 'office', proc)
    assert not addrwatch.is_links_ssh(22, 10, 'office', proc), 'an ssh of another link'
    assert not addrwatch.is_links_ssh(11, 10, 'office', proc), 'the shell, not ssh'
    assert not addrwatch.is_links_ssh(12, 20, 'backup', proc), 'a pid reused under another pppd'
