"""pppssh_host_info, run as Ansible runs it, on this host: it must read what the shell probes it
replaced read (the roles' tasks before issue 17 folded them into one call)."""
import json
import os
import subprocess
import sys

# No group of that name: the module reads no sshd settings without a member to read them for.
NO_MEMBERS = 'pppssh-no-such-group'
MODULE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules', 'pppssh_host_info.py')

# The roles' probes before this module, verbatim.
KERNEL_PROBE = '''if grep -qw ppp /proc/devices 2>/dev/null; then echo present
elif [ -c /dev/ppp ] || modinfo ppp_generic >/dev/null 2>&1; then echo loadable
else echo missing
fi'''
PPPD_PROBE = '''[ -x /usr/sbin/pppd ] || { echo missing; exit 0; }
/usr/sbin/pppd --version 2>&1
dpkg-query -W -f='package ${Version}\\n' ppp 2>/dev/null || true'''
NFT_PROBE = '''command -v nft >/dev/null 2>&1 || { echo nft-missing; exit 0; }
nft -c add table inet pppssh_probe 2>&1 && echo supported'''


def run(tmp_path, **args):
    args.update(_ansible_check_mode=True, _ansible_remote_tmp=str(tmp_path), _ansible_tmpdir=None,
                _ansible_keep_remote_files=False)
    path = tmp_path / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    # the module imports its module_utils from the collection (tests/unit/conftest.py puts it on sys.path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, env=env, check=False)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def shell(script):
    env = dict(os.environ, PATH=os.environ.get('PATH', '') + ':/sbin:/usr/sbin')
    return subprocess.run(['sh', '-c', script], capture_output=True, text=True, env=env, check=False).stdout


def test_reads_what_the_shell_probes_read_on_this_host(tmp_path):
    got = run(tmp_path, packages=['dpkg', 'pppssh-no-such-package'], nftables=True, accounts=True)
    assert got['changed'] is False and not got.get('failed'), got
    assert got['missing_packages'] == ['pppssh-no-such-package']
    assert got['kernel_ppp'] == shell(KERNEL_PROBE).strip()
    assert got['pppd_version'].split() == shell(PPPD_PROBE).split()
    nft = shell(NFT_PROBE).splitlines()
    assert (got['nftables'] == 'supported') == ('supported' in nft)
    assert (got['nftables'] == 'missing') == ('nft-missing' in nft)
    for database in ('passwd', 'group'):
        entries = got['ansible_facts']['getent_' + database]
        lines = shell('getent ' + database).splitlines()
        assert lines and len(entries) == len(set(line.split(':')[0] for line in lines))
        for line in lines:
            assert entries[line.split(':')[0]] == line.split(':')[1:]


def test_reads_no_accounts_and_no_nftables_unless_asked(tmp_path):
    got = run(tmp_path)
    assert got['missing_packages'] == [] and got['nftables'] is None and 'ansible_facts' not in got


def test_reads_files_and_directories_and_no_sshd_without_a_group_member(tmp_path):
    keys = tmp_path / 'keys'
    keys.mkdir()
    keys.chmod(0o700)
    (keys / 'uplink.pub').write_text('ssh-ed25519 AAAA uplink\n')
    # sshd_group names a group without members here: sshd -T itself runs on the guests (server role).
    got = run(tmp_path, files=[str(keys / 'uplink.pub'), str(keys / 'uplink.generation')],
              directories=[str(keys), str(tmp_path / 'none')], sshd_group=NO_MEMBERS)
    assert not got.get('failed'), got
    assert got['files'] == {str(keys / 'uplink.pub'): 'c3NoLWVkMjU1MTkgQUFBQSB1cGxpbmsK',
                            str(keys / 'uplink.generation'): None}
    assert got['directories'][str(keys)]['files'] == [str(keys / 'uplink.pub')]
    assert got['directories'][str(keys)]['mode'] == '0700'
    assert got['directories'][str(tmp_path / 'none')]['exists'] is False
    assert 'ansible_facts' not in got   # the accounts are read for sshd_group, not returned
    assert got['sshd_effective'] is None


def gathered_facts(tmp_path):
    """ansible.builtin.setup's facts of this host (network subset, with min's service_mgr and os_family),
    the module run as Ansible runs it, like ours above."""
    path = tmp_path / 'setup-args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'gather_subset': ['network'], '_ansible_remote_tmp': str(tmp_path), '_ansible_tmpdir': None,
        '_ansible_keep_remote_files': False}}))
    proc = subprocess.run([sys.executable, '-m', 'ansible.modules.setup', str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = json.loads(proc.stdout)['ansible_facts']
    return dict((key[len('ansible_'):] if key.startswith('ansible_') else key, value) for key, value in facts.items())


def test_the_host_facts_the_roles_use_are_setups_on_this_host(tmp_path):
    """The roles' plays no longer gather facts: the module's network, service_mgr and os_family must give
    the collection what setup gave it, here on a real host."""
    from ansible_collections.pppssh.vpn.plugins.module_utils import published
    got = run(tmp_path)
    facts = gathered_facts(tmp_path)
    assert got['network']['interfaces'] == sorted(facts['interfaces'])
    assert sorted(map(str, published.host_networks(got['network']))) == sorted(map(str, published.host_networks(facts)))
    assert published.host_networks(got['network']), 'this host has no address besides link-local ones?'
    assert got['service_mgr'] == facts['service_mgr']
    assert got['os_family'] == facts['os_family']
