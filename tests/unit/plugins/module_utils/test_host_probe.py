import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import host_probe

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
