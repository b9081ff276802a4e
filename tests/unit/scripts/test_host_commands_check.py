"""The whole check on a small repository: it fails naming the command and where it runs."""
import os
import textwrap

import pytest

import check_host_commands
from host_commands import packages, resolve, scan

from test_host_commands_python import FAULTS


@pytest.fixture
def repo(tmp_path):
    write(tmp_path, 'tests/integration/test_faults.py', FAULTS)
    write(tmp_path, 'rig/net.sh', 'up() { ip link add x type veth; }\nup\nsysctl -qw a=1\n')
    write(tmp_path, 'rig/guest/init', '#!/bin/sh\nmodprobe ppp_generic\n')
    write(tmp_path, 'bench/helper.sh', '# guest-side file: copied into the guests\nmodprobe ppp_async\n')
    write(tmp_path, 'Makefile', 'test:\n\t$(BIN)/pytest tests\n\tmolecule test\n')
    write(tmp_path, 'scripts/host-baseline.txt', 'coreutils cat\n')
    os.makedirs(str(tmp_path / 'venv' / 'bin'))
    for name in ('pytest', 'molecule'):
        write(tmp_path, 'venv/bin/' + name, '')
    return tmp_path


def write(root, path, text):
    full = root / path
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_text(textwrap.dedent(text))


def check(repo, package_lines, capsys):
    write(repo, 'scripts/host-packages.txt', package_lines)
    status = check_host_commands.main(['--repo', str(repo), '--packages', str(repo / 'scripts/host-packages.txt'),
                                       '--baseline', str(repo / 'scripts/host-baseline.txt'),
                                       '--venv', str(repo / 'venv'), '--no-resolve'])
    return status, capsys.readouterr().out


def test_without_nftables_the_check_fails_naming_nft_and_where(repo, capsys):
    status, out = check(repo, 'iproute2 ip\nprocps sysctl\n', capsys)
    assert status == 1
    assert 'FAILED: 1 host command(s)' in out
    assert 'nft          tests/integration/test_faults.py:7: subprocess.run(netns' in out
    assert 'tests/integration/test_faults.py:10:' in out and 'ip netns exec pppssh-rig nft -f -' in out


def test_with_nftables_listed_the_check_passes(repo, capsys):
    status, out = check(repo, 'iproute2 ip\nprocps sysctl\nnftables nft\n', capsys)
    assert status == 0, out
    assert out.rstrip().endswith('passed (%s)' % out.rstrip().rsplit('(', 1)[1][:-1])


def test_guest_side_files_are_not_scanned(repo):
    assert scan.files(str(repo)).count('rig/guest/init') == 0
    found = set(use.command for use in scan.Scan(str(repo)).uses)
    assert 'modprobe' not in found and {'ip', 'nft', 'sysctl', 'molecule'} <= found


def test_who_provides_what(repo):
    result = scan.Scan(str(repo))
    listed, baseline = {'ip': 'iproute2'}, {'cat': 'coreutils'}
    assert scan.provider('up', result, listed, baseline, set()) == 'shell function'
    assert scan.provider('ip', result, listed, baseline, set()) == 'package iproute2'
    assert scan.provider('cat', result, listed, baseline, set()) == 'baseline coreutils'
    assert scan.provider('molecule', result, listed, baseline, {'molecule'}) == 'venv'
    assert scan.provider('net.sh', result, listed, baseline, set()) == 'project file'
    assert scan.provider('printf', result, listed, baseline, set()) == 'builtin'
    assert scan.provider('nft', result, listed, baseline, set()) is None
    assert scan.program('rig/rig') is None and scan.program('/usr/sbin/nft') == 'nft'


def test_package_lists_parse():
    entries = packages.parse('# head\niproute2  ip tc  # the rest\npython3-venv\n\n')
    assert entries == [('iproute2', ['ip', 'tc']), ('python3-venv', [])]
    assert packages.providers(entries) == {'ip': 'iproute2', 'tc': 'iproute2'}


def test_the_real_lists_parse_and_name_each_command_once():
    here = os.path.dirname(os.path.abspath(check_host_commands.__file__))
    commands = [c for name in ('host-packages.txt', 'host-baseline.txt')
                for entry in packages.read(os.path.join(here, name)) for c in entry[1]]
    assert 'nft' in commands and len(commands) == len(set(commands))


def test_resolution_follows_the_package_and_its_dependencies():
    owners = resolve.parse_owners('python3.11-minimal: /usr/bin/python3.11\nnftables: /usr/sbin/nft\n'
                                  'diversion by dash from: /bin/sh\ncoreutils, other: /bin/cat\n')
    assert owners == {'/usr/bin/python3.11': {'python3.11-minimal'}, '/usr/sbin/nft': {'nftables'},
                      '/bin/cat': {'coreutils', 'other'}}
    graph = resolve.parse_depends('python3-venv\tpython3.11-venv (>= 3.11), python3 (>= 3.11.2), \n'
                                  'python3\tpython3.11 (>= 3.11.2), python3-minimal | foo, \n'
                                  'python3-minimal:amd64\tpython3.11-minimal, \n')
    assert 'python3.11-minimal' in resolve.closure('python3-venv', graph)
    assert '/bin/nft' in resolve.file_variants('/usr/sbin/nft') or '/sbin/nft' in resolve.file_variants('/usr/sbin/nft')


def test_problems_name_what_does_not_resolve_or_is_another_packages():
    where = {'nft': '/usr/sbin/nft', 'ip': '/usr/bin/ip'}
    found = resolve.problems([('nftables', ['nft', 'ss']), ('iproute2', ['ip'])],
                             locate_=where.get,
                             owners_=lambda paths: {'/usr/sbin/nft': {'nftables'}, '/bin/ip': {'busybox'}},
                             depends_=lambda: {})
    assert found == ['ss (package nftables) is not found in %s' % resolve.SYSTEM_PATH,
                     'ip resolves to /usr/bin/ip, which belongs to busybox, not iproute2 or a package it depends on']


def test_a_file_that_does_not_parse_fails_the_check(repo, capsys):
    write(repo, 'tests/broken.py', 'def f(:\n')
    status, out = check(repo, 'iproute2 ip\nprocps sysctl\nnftables nft\n', capsys)
    assert status == 1 and 'FAILED: cannot read tests/broken.py' in out
