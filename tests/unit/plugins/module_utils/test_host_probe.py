import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import host_probe, published

# dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' ppp openssh-server sudo nosuchpkg on a Debian 12
# host (rc 1: two names unknown to dpkg, reported on stderr only).
DPKG_OUT = 'openssh-server un \nppp ii \n'
DPKG_ERR = ('dpkg-query: no packages found matching sudo\n'
            'dpkg-query: no packages found matching nosuchpkg\n')


class Runs(object):
    """A run_command stand-in: answers by argv[0], records every argv."""

    def __init__(self, answers):
        self.answers, self.argvs = answers, []

    def __call__(self, argv):
        self.argvs.append(argv)
        return self.answers[argv[0]]


def test_only_packages_dpkg_lists_as_installed_count():
    assert host_probe.installed_packages(DPKG_OUT) == {'ppp'}
    # removed with its configuration kept, half-installed: not installed
    assert host_probe.installed_packages('sudo rc \nppp iU \niproute2 ii \n') == {'iproute2'}


def test_missing_packages_keep_their_order_and_ask_dpkg_once():
    run = Runs({'/usr/bin/dpkg-query': (1, DPKG_OUT, DPKG_ERR)})
    missing = host_probe.missing_packages(run, ['sudo', 'ppp', 'openssh-server'], '/usr/bin/dpkg-query')
    assert missing == ['sudo', 'openssh-server']
    assert run.argvs == [['/usr/bin/dpkg-query', '-W', '-f=${Package} ${db:Status-Abbrev}\n',
                          'sudo', 'ppp', 'openssh-server']]


def test_without_dpkg_the_missing_packages_are_unknown_not_none_missing():
    run = Runs({})
    assert host_probe.missing_packages(run, ['ppp'], None) is None
    assert host_probe.missing_packages(run, [], None) == []
    assert run.argvs == []


def test_kernel_ppp_reads_like_the_shell_probe_it_replaces():
    devices = 'Character devices:\n  1 mem\n108 ppp\n\nBlock devices:\n  8 sd\n'
    assert host_probe.kernel_ppp(devices, False, 1) == 'present'
    # pppoe or a word containing ppp is no ppp_generic major
    assert host_probe.kernel_ppp('Character devices:\n  1 mem\n 10 misc_pppoe\n', False, 1) == 'missing'
    assert host_probe.kernel_ppp('Character devices:\n  1 mem\n', True, 1) == 'loadable'
    assert host_probe.kernel_ppp('Character devices:\n  1 mem\n', False, 0) == 'loadable'
    assert host_probe.kernel_ppp(None, False, 1) == 'missing'


def test_nftables_names_the_kernels_refusal():
    assert host_probe.nftables(0, '') == ('supported', '')
    state, message = host_probe.nftables(1, 'Error: Could not process rule: Operation not supported\n'
                                            'add table inet pppssh_probe\n^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n')
    assert state == 'unsupported' and message == 'Error: Could not process rule: Operation not supported'
    assert host_probe.nftables(139, '') == ('unsupported', 'nft exited 139')
    assert host_probe.read_nftables(Runs({}), None) == ('missing', 'nft is not installed')


def test_passwd_entries_have_the_form_ansible_getent_gives():
    out = ('root:x:0:0:root:/root:/bin/bash\n'
           'pppssh-office:x:998:997:pppssh client office,,,:/var/lib/pppssh/office:/usr/sbin/nologin\n'
           'nopass::1001:1001::/home/nopass:\n')
    entries = host_probe.getent_entries(out)
    assert entries['root'] == ['x', '0', '0', 'root', '/root', '/bin/bash']
    assert entries['pppssh-office'][1:3] == ['998', '997'] and entries['pppssh-office'][3] == 'pppssh client office,,,'
    assert entries['nopass'] == ['', '1001', '1001', '', '/home/nopass', '']
    groups = host_probe.getent_entries('pppssh:x:998:\nsudo:x:27:alice,bob\n')
    assert groups == {'pppssh': ['x', '998', ''], 'sudo': ['x', '27', 'alice,bob']}


def test_a_failing_getent_is_an_error_not_an_empty_account_list():
    run = Runs({'/usr/bin/getent': (2, '', 'getent: cannot open database\n')})
    with pytest.raises(RuntimeError, match=r'getent passwd failed \(rc 2\): getent: cannot open database'):
        host_probe.read_getent(run, '/usr/bin/getent', 'passwd')


def test_a_file_reads_as_slurp_gives_it_and_a_missing_one_as_none(tmp_path):
    state = tmp_path / 'server-allocations.json'
    state.write_bytes(b'{"clients": {}}\n')
    assert host_probe.read_file(str(state)) == 'eyJjbGllbnRzIjoge319Cg=='
    assert host_probe.read_file(str(tmp_path / 'none')) is None


def test_an_unreadable_file_is_an_error_not_a_missing_one(tmp_path):
    # A directory where the state file should be: open() fails with EISDIR, not ENOENT.
    (tmp_path / 'state').mkdir()
    with pytest.raises(RuntimeError, match='cannot read .*/state'):
        host_probe.read_file(str(tmp_path / 'state'))


def test_a_directory_lists_its_regular_files_as_find_does(tmp_path):
    keys = tmp_path / 'keys'
    keys.mkdir(mode=0o700)
    keys.chmod(0o700)
    (keys / 'uplink').write_text('key')
    (keys / 'uplink.pub').write_text('pub')
    (keys / '.hidden').write_text('x')
    (keys / 'subdir').mkdir()
    (keys / 'link').symlink_to(keys / 'uplink')
    got = host_probe.read_directory(str(keys))
    assert got['files'] == [str(keys / 'uplink'), str(keys / 'uplink.pub')]
    assert got['exists'] and got['isdir'] and got['mode'] == '0700'


def test_a_symlinked_or_missing_directory_is_not_one(tmp_path):
    (tmp_path / 'real').mkdir()
    (tmp_path / 'keys').symlink_to(tmp_path / 'real')
    linked = host_probe.read_directory(str(tmp_path / 'keys'))
    assert linked['exists'] and not linked['isdir'] and linked['files'] == []
    missing = host_probe.read_directory(str(tmp_path / 'none'))
    assert missing == {'exists': False, 'isdir': False, 'mode': None, 'uid': None, 'gid': None, 'files': []}


def test_the_sshd_probe_account_is_the_first_member_of_the_group_by_name():
    passwd = host_probe.getent_entries('root:x:0:0:root:/root:/bin/bash\n'
                                       'pppssh-west:x:998:997::/var/lib/pppssh:/bin/sh\n'
                                       'pppssh-east:x:997:997::/var/lib/pppssh:/bin/sh\n'
                                       'other:x:1000:1000::/home/other:/bin/sh\n')
    groups = host_probe.getent_entries('pppssh:x:997:\nother:x:1000:\nempty:x:1200:\n')
    assert host_probe.first_member(passwd, groups, 'pppssh') == 'pppssh-east'
    assert host_probe.first_member(passwd, groups, 'empty') is None
    assert host_probe.first_member(passwd, groups, 'nosuchgroup') is None


def test_sshd_settings_or_why_sshd_cannot_tell():
    run = Runs({'/usr/sbin/sshd': (0, 'port 22\npermittty no\n', '')})
    got = host_probe.read_sshd_effective(run, '/usr/sbin/sshd', 'pppssh-east')
    assert got == {'account': 'pppssh-east', 'settings': 'port 22\npermittty no\n', 'error': None}
    assert run.argvs == [['/usr/sbin/sshd', '-T', '-C', 'user=pppssh-east,host=pppssh.invalid,addr=192.0.2.1']]
    broken = Runs({'/usr/sbin/sshd': (255, '', '/etc/ssh/sshd_config line 3: Bad configuration option: Nope\n')})
    got = host_probe.read_sshd_effective(broken, '/usr/sbin/sshd', 'pppssh-east')
    assert got['settings'] is None and got['error'] == ('sshd -T exited 255: /etc/ssh/sshd_config line 3: '
                                                        'Bad configuration option: Nope')
    assert host_probe.read_sshd_effective(Runs({}), None, 'pppssh-east')['error'] == 'sshd is not installed'


# ip -j addr show (iproute2 6.1), trimmed to the keys read: a secondary address listed first, a ppp
# link with its peer, IPv6 global and link-local, an interface without addresses.
IP_JSON = '''[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},
{"ifindex":2,"ifname":"br-lan","addr_info":[
 {"family":"inet","local":"10.9.0.9","prefixlen":16,"secondary":true,"scope":"global"},
 {"family":"inet","local":"192.168.50.1","prefixlen":24,"scope":"global"},
 {"family":"inet6","local":"fd50::1","prefixlen":64,"scope":"global"},
 {"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]},
{"ifindex":3,"ifname":"ppp-office","addr_info":[{"family":"inet","local":"10.213.0.2","address":"10.213.0.1","prefixlen":32}]},
{"ifindex":4,"ifname":"eth1.7","addr_info":[]},
{"ifname":5}, "junk"]'''


def test_network_facts_have_setups_shape():
    facts = host_probe.network_facts(IP_JSON)
    assert facts['interfaces'] == ['br-lan', 'eth1.7', 'lo', 'ppp-office']
    assert facts['br_lan']['ipv4'] == {'address': '192.168.50.1', 'netmask': '255.255.255.0', 'prefix': '24',
                                       'network': '192.168.50.0'}
    assert [a['address'] for a in facts['br_lan']['ipv4_secondaries']] == ['10.9.0.9']
    assert facts['br_lan']['ipv6'][0] == {'address': 'fd50::1', 'prefix': '64', 'scope': 'global'}
    assert 'ipv4' not in facts['eth1_7'] and facts['eth1_7']['ipv6'] == []
    # what the collection reads of it: ppp-* and link-local left out
    assert [(name, str(net)) for name, net in published.host_networks(facts)] == [
        ('br-lan', '192.168.50.0/24'), ('br-lan', '10.9.0.0/16'), ('br-lan', 'fd50::/64'), ('lo', '127.0.0.0/8')]


def test_network_facts_refuse_what_is_not_json():
    with pytest.raises(RuntimeError, match='no JSON'):
        host_probe.network_facts('Object "addr" is unknown')


def test_read_network_runs_ip_once_and_names_its_failure():
    run = Runs({'/sbin/ip': (0, IP_JSON, '')})
    assert host_probe.read_network(run, '/sbin/ip')['interfaces'][0] == 'br-lan'
    assert run.argvs == [['/sbin/ip', '-j', 'addr', 'show']]
    assert host_probe.read_network(run, None) is None
    with pytest.raises(RuntimeError, match='rc 255'):
        host_probe.read_network(Runs({'/sbin/ip': (255, '', 'Option "-j" is unknown')}), '/sbin/ip')


def test_service_mgr_is_systemd_by_its_runtime_directory_else_process_one(tmp_path):
    comm = tmp_path / 'comm'
    comm.write_text('runit\n')
    assert host_probe.read_service_mgr([str(tmp_path)], str(comm)) == 'systemd'
    assert host_probe.read_service_mgr([str(tmp_path / 'none')], str(comm)) == 'runit'
    assert host_probe.read_service_mgr([str(tmp_path / 'none')], str(tmp_path / 'none')) == 'unknown'


@pytest.mark.parametrize('text, family', [
    ('ID=debian\nVERSION_ID="12"\n', 'Debian'),
    ('ID=ubuntu\nID_LIKE=debian\n', 'Debian'),
    ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', 'Debian'),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', 'RedHat'),
    ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n', 'Suse'),
    ('ID=nixos\n', 'nixos'),
    ('', 'unknown'),
])
def test_os_family_as_setup_names_it(text, family):
    assert host_probe.os_family(text) == family


def test_read_os_family_takes_the_first_os_release_there(tmp_path):
    release = tmp_path / 'os-release'
    release.write_text('ID=alpine\n')
    assert host_probe.read_os_family([str(tmp_path / 'none'), str(release)]) == 'Alpine'
    assert host_probe.read_os_family([str(tmp_path / 'none')]) == 'unknown'
