"""Bad input, through the module and through playbooks/site.yml: each case fails (failed=true) with an
error that names the field (or the cause) and the fix, and changes nothing on any host of the fleet.
The same table, with the messages, is in docs/bad-input.md."""
import json
import os
import subprocess

import pytest

pytest.register_assert_rewrite('fleet')
from fleet import FCLIENT2, FSERVER, MODULE, fingerprint, site, write_inventory  # noqa: E402
from guests import VENV_BIN, ansible_env, changed_tasks, failures  # noqa: E402

pytest_plugins = ['fleet']

THROWAWAY = 'badin'
CLIENT = FCLIENT2
KEY = '/etc/pppssh/keys/%s' % CLIENT.name
KNOWN_HOSTS = '/etc/pppssh/known_hosts'

# (id, module arguments over a good throwaway link, field named in the error, cause)
MODULE_CASES = [
    ('invalid_ip', {'local_ip': '10.213.0.300'}, 'local_ip', 'invalid_option'),
    ('ip_not_unicast', {'remote_ip': '224.0.0.1'}, 'remote_ip', 'invalid_option'),
    ('local_equals_remote', {'local_ip': '10.77.0.1', 'remote_ip': '10.77.0.1'}, 'remote_ip', 'invalid_option'),
    ('one_end_only', {'remote_ip': None}, 'remote_ip', None),
    ('name_too_long', {'name': 'abcdefghijkl'}, 'name', 'invalid_option'),
    ('name_slash', {'name': 'a/b'}, 'name', 'invalid_option'),
    ('name_dotdot', {'name': '..'}, 'name', 'invalid_option'),
    ('name_space', {'name': 'a b'}, 'name', 'invalid_option'),
    ('name_shell_semicolon', {'name': 'a;reboot'}, 'name', 'invalid_option'),
    ('name_shell_subst', {'name': '$(id)'}, 'name', 'invalid_option'),
    ('user_root', {'user': 'root'}, 'user', 'invalid_option'),
    ('server_option_injection', {'server': '-oProxyCommand=id'}, 'server', 'invalid_option'),
    ('ssh_option_runs_program', {'ssh_options': {'ProxyCommand': 'id'}}, 'ssh_options', 'invalid_option'),
    ('ssh_option_weakens_pinning', {'ssh_options': {'StrictHostKeyChecking': 'no'}}, 'ssh_options',
     'invalid_option'),
    ('pair_overlaps_client_network', {'local_ip': '192.168.213.202', 'remote_ip': '192.168.213.201'},
     'local_ip', 'address_in_use'),
    ('identity_file_missing', {'identity_file': '/etc/pppssh/keys/nope'}, 'identity_file',
     'identity_file_missing'),
    ('unreachable_server', {'server': '192.168.213.69', 'connect_timeout': 8}, None, 'server_unreachable'),
    ('wrong_key', {'identity_file': '/root/badin-stranger'}, None, 'auth_refused'),
    ('host_key_changed', {'known_hosts_file': '/root/badin-impostor-known-hosts'}, None, 'host_key_changed'),
    ('host_key_unknown', {'known_hosts_file': '/root/badin-empty-known-hosts'}, None, 'host_key_unknown'),
    ('sudo_rule_missing_on_hand_made_server', {'user': 'handmade'}, None, 'sudo_refused'),
]


@pytest.fixture(scope='module')
def prepared(fleet):
    """Keys and known_hosts files for the failure cases; a hand-made server account with no sudo rule."""
    CLIENT.sh("set -e; [ -f /root/badin-stranger ] || ssh-keygen -q -t ed25519 -N '' -f /root/badin-stranger; "
              "[ -f /root/badin-impostor ] || ssh-keygen -q -t ed25519 -N '' -f /root/badin-impostor; "
              "echo \"%s $(cut -d' ' -f1,2 /root/badin-impostor.pub)\" > /root/badin-impostor-known-hosts; "
              ": > /root/badin-empty-known-hosts" % FSERVER.ip)
    pubkey = CLIENT.out('cat %s.pub' % KEY).strip()
    FSERVER.sh("set -e; id handmade >/dev/null 2>&1 || useradd -m -s /bin/sh handmade; "
               "install -d -m 700 -o handmade -g handmade ~handmade/.ssh; echo '%s' > ~handmade/.ssh/authorized_keys; "
               "chown handmade:handmade ~handmade/.ssh/authorized_keys; chmod 600 ~handmade/.ssh/authorized_keys"
               % pubkey)
    yield fleet
    FSERVER.sh('userdel -r handmade 2>/dev/null; true')
    CLIENT.sh('rm -f /root/badin-*; true')


def good_args():
    return {'name': THROWAWAY, 'server': FSERVER.ip, 'identity_file': KEY, 'known_hosts_file': KNOWN_HOSTS,
            'local_ip': '10.77.0.2', 'remote_ip': '10.77.0.1', 'connect_timeout': 15}


@pytest.mark.parametrize('case, overrides, field, cause', MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_refuses(prepared, case, overrides, field, cause):
    args = dict(good_args(), **overrides)
    args = dict((key, value) for key, value in args.items() if value is not None)
    before = fingerprint()
    try:
        result = prepared.module(CLIENT, args)
    finally:
        name = args['name'] if args['name'] == THROWAWAY else None
        if name:
            CLIENT.sh('rm -f /var/log/pppssh/%s.log /run/pppssh/%s.lock /run/pppssh/%s.pid' % (name, name, name))
    assert result.get('failed') is True, result
    message = result['msg']
    if field:
        assert field in message, message
    if cause:
        assert result.get('cause') == cause, result
    if cause is not None:  # Ansible's own required_together check has no fix text
        assert 'Fix:' in message, message
    if cause in ('invalid_option', 'address_in_use'):
        assert result.get('field') == field, result
    assert fingerprint() == before, 'a refused call changed something'


# (id, inventory changes: server vars, client vars by guest name; words the error must contain)
SITE_CASES = [
    ('pool_overlaps_server_network', {'pppssh_server_pool': '192.168.213.0/24'}, {},
     ['pppssh_server_pool', '192.168.213.0/24', 'choose another pppssh_server_pool']),
    ('pool_exhausted', {'pppssh_server_pool': '10.213.0.0/30'}, {},
     ['pppssh_server_pool', 'no free address pair', 'larger pool']),
    ('two_clients_same_pair', {},
     {'fclient1': {'pppssh_client_local_ip': '10.88.0.2', 'pppssh_client_remote_ip': '10.88.0.1'},
      'fclient2': {'pppssh_client_local_ip': '10.88.0.2', 'pppssh_client_remote_ip': '10.88.0.1'}},
     ['pppssh_client_local_ip', '10.88.0.2', 'already used by another client']),
    ('pair_overlaps_network_on_both_hosts', {},
     {'fclient2': {'pppssh_client_local_ip': '192.168.213.202', 'pppssh_client_remote_ip': '192.168.213.201'}},
     ['pppssh_client_local_ip', '192.168.213.202 lies in 192.168.213.0/24 on fserver (eth0)',
      '192.168.213.202 lies in 192.168.213.0/24 on fclient2 (eth0)', 'choose another pair']),
    ('local_equals_remote', {},
     {'fclient2': {'pppssh_client_local_ip': '10.88.0.1', 'pppssh_client_remote_ip': '10.88.0.1'}},
     ['pppssh_client_local_ip', 'two different IPv4 addresses']),
    ('invalid_ip', {}, {'fclient2': {'pppssh_client_local_ip': '10.88.0.300', 'pppssh_client_remote_ip': '10.88.0.1'}},
     ['pppssh_client_local_ip', '10.88.0.300']),
    ('link_name_with_slash', {}, {'fclient2': {'pppssh_client_name': 'a/b'}},
     ['pppssh_client_name', "'a/b'", 'lowercase letter first']),
    ('server_user_of_earlier_versions', {'pppssh_server_user': 'root'}, {}, ['pppssh_server_user', 'root', 'Fix:']),
    ('account_prefix_not_a_user_name', {'pppssh_server_account_prefix': 'Evil '}, {},
     ['pppssh_server_account_prefix', 'Evil fclient1', 'Fix:']),
    # The fleet's UML kernel has no nftables inet family: forwarding with MSS clamping (the default) needs it.
    ('forwarding_without_kernel_nftables', {}, {'fclient2': {'pppssh_client_forwarding': True}},
     ['fclient2', 'cannot load the nftables table', 'Operation not supported', 'pppssh_client_mss_clamp: false']),
]


@pytest.mark.parametrize('case, server_vars, client_vars, words', SITE_CASES, ids=[c[0] for c in SITE_CASES])
def test_site_refuses(prepared, tmp_path, case, server_vars, client_vars, words):
    inventory = write_inventory(str(tmp_path / 'inventory.json'), server_vars, client_vars)
    before = fingerprint()
    report, _seconds, _out = site(inventory)
    errors = failures(report)
    assert errors, 'site.yml accepted %s' % case
    text = ' '.join(errors)
    for word in words:
        assert word in text, errors
    assert changed_tasks(report) == []
    assert fingerprint() == before, 'a refused site.yml run changed something'


def test_kernel_without_ppp_on_this_host(tmp_path):
    """This host's kernel has no PPP: the module, run here on localhost, names kernel_no_ppp."""
    if os.path.exists('/dev/ppp') and 'ppp' in open('/proc/devices').read():
        pytest.skip('this host has PPP')
    name = 'zzbadppp'
    created = [path for path in ('/var/log/pppssh', '/run/pppssh') if not os.path.isdir(path)]
    leftovers = ['/etc/ppp/peers/pppssh-%s' % name, '/var/log/pppssh/%s.log' % name,
                 '/run/pppssh/%s.lock' % name, '/run/pppssh/%s.pid' % name, '/run/ppp-pppssh-%s.pid' % name]
    args = {'name': name, 'server': FSERVER.ip, 'local_ip': '10.77.9.2', 'remote_ip': '10.77.9.1',
            'connect_timeout': 5}
    argv = [os.path.join(VENV_BIN, 'ansible'), 'localhost', '-c', 'local', '-i', 'localhost,',
            '-e', 'ansible_python_interpreter=%s' % os.path.join(VENV_BIN, 'python'),
            '-m', MODULE, '-a', json.dumps(args)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), timeout=120, check=False)
        result = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
        assert result.get('failed') is True, result
        assert result['cause'] == 'kernel_no_ppp', result
        assert 'Fix:' in result['msg'] and 'PPP' in result['msg'], result['msg']
        assert not os.path.exists('/etc/ppp/peers/pppssh-%s' % name), 'the failed start left its peers file'
    finally:
        subprocess.run(argv[:-2] + ['-a', json.dumps({'name': name, 'state': 'absent'})], capture_output=True,
                       env=ansible_env(), timeout=120, check=False)
        for path in leftovers:
            if os.path.exists(path):
                os.unlink(path)
        for path in created:
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
    assert not [path for path in leftovers if os.path.exists(path)]
