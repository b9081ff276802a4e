"""The client bundle (module_utils/bundle.py, filter client_bundle): the files a client needs, rendered
only from validated values of the server's state file and host key."""
import base64
import json
import os
import subprocess
import sys

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.filter import pppssh
from ansible_collections.pppssh.vpn.plugins.module_utils import bundle, commands
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

MODULE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules', 'pppssh_tunnel.py')
HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSIv3NBeQA2VWhmFAxKdn4iipKVlgabVwNPYCApa/oq root@srv\n'
CLIENT_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1ptLjuoJm6lDEL2jT4pIAi6ShtVp0qd3zjXTmW85H0'
DEFAULTS = {'pppssh_client_persist': True, 'pppssh_client_keepalive_interval': 3, 'pppssh_client_keepalive_failures': 4,
            'pppssh_client_mtu': None, 'pppssh_client_mru': None, 'pppssh_client_connect_timeout': 30,
            'pppssh_client_ipparam': 'vpn', 'pppssh_client_ssh_options': {}, 'pppssh_client_supervisor': 'auto'}


def state(**entry):
    base = {'index': 1, 'server_ip': '10.213.0.5', 'client_ip': '10.213.0.6', 'host': 'laptop', 'static': True,
            'account': 'pppssh-laptop', 'pubkey': CLIENT_KEY, 'compression': 'none', 'subnets': []}
    base.update(entry)
    return {'pool': '10.213.0.0/24', 'clients': {'laptop': base}}


def make(st=None, host_key=HOST_KEY, address='192.0.2.10', port=22, link=None, name='laptop'):
    return bundle.make(st or state(), name, 'srv', host_key, address, port, link, unit='[Unit]\n', managed=False)


def files(result):
    return dict((item['name'], item) for item in result['files'])


def module_peers_file(tmp_path, args):
    """What the pppssh_tunnel module itself would write for ``args`` (check mode, --diff: 'after')."""
    (tmp_path / 'tmp').mkdir(exist_ok=True)
    path = tmp_path / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(
        args, _ansible_check_mode=True, _ansible_diff=True, _ansible_remote_tmp=str(tmp_path / 'tmp'),
        _ansible_keep_remote_files=False)}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))   # ansible_collections importable (conftest)
    proc = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, check=False, env=env)
    result = json.loads(proc.stdout or '{"failed": true, "msg": %s}' % json.dumps(proc.stderr))
    assert not result.get('failed'), result
    return result['diff']['after']


def role_args(name, address, port, account, client_ip, server_ip, link, client_ip6=None, server_ip6=None,
              compression='none'):
    """The module arguments as roles/pppssh_client/tasks/main.yml renders them (Jinja gives strings)."""
    args = {'name': name, 'state': 'started', 'server': address, 'port': str(port), 'user': account,
            'identity_file': '/etc/pppssh/keys/%s' % name, 'known_hosts_file': '/etc/pppssh/known_hosts',
            'local_ip': client_ip, 'remote_ip': server_ip, 'ipparam': link['ipparam'], 'persist': str(link['persist']),
            'keepalive_interval': str(link['keepalive_interval']),
            'keepalive_failures': str(link['keepalive_failures']), 'compression': compression,
            'connect_timeout': str(link['connect_timeout']), 'supervisor': link['supervisor']}
    for key in ('mtu', 'mru', 'ssh_options'):
        if link.get(key):
            args[key] = link[key] if key == 'ssh_options' else str(link[key])
    if client_ip6:
        args.update(local_ip6=client_ip6, remote_ip6=server_ip6)
    return args


@pytest.mark.parametrize('link, entry, port', [
    ({'persist': True, 'keepalive_interval': 3, 'keepalive_failures': 4, 'connect_timeout': 30, 'ipparam': 'vpn',
      'supervisor': 'systemd'}, {}, 22),
    ({'persist': False, 'keepalive_interval': 5, 'keepalive_failures': 2, 'connect_timeout': 10, 'ipparam': 'office',
      'supervisor': 'pppd', 'mtu': 1400, 'mru': 1400, 'ssh_options': {'Ciphers': 'aes256-gcm@openssh.com'}},
     {'server_ip6': 'fd13:213::5', 'client_ip6': 'fd13:213::6', 'compression': 'deflate'}, 2222),
])
def test_the_peers_file_is_byte_for_byte_what_the_module_writes(tmp_path, link, entry, port):
    st = state(**entry)
    result = make(st, port=port, link=dict(link))
    peers = files(result)['pppssh-laptop']
    e = st['clients']['laptop']
    expected = module_peers_file(tmp_path, role_args('laptop', '192.0.2.10', port, 'pppssh-laptop', e['client_ip'],
                                                     e['server_ip'], link, e.get('client_ip6'), e.get('server_ip6'),
                                                     e['compression']))
    assert peers['content'] == expected
    assert peers['dest'] == '/etc/ppp/peers/pppssh-laptop' and peers['mode'] == '0600'


def test_the_known_hosts_line_pins_the_validated_host_key_without_its_comment():
    assert files(make())['known_hosts']['content'] == '192.0.2.10 ' + HOST_KEY.rsplit(' ', 1)[0] + '\n'
    assert files(make(port=2222))['known_hosts']['content'].startswith('[192.0.2.10]:2222 ssh-ed25519 ')


def test_the_howto_script_is_valid_shell_with_the_links_addresses(tmp_path):
    script = files(make())['vpn-pppssh']
    assert script['mode'] == '0755' and script['dest'] == '/usr/local/bin/vpn-pppssh'
    text = script['content']
    for line in ('SERVER_HOSTNAME=192.0.2.10', 'SERVER_USERNAME=pppssh-laptop', 'SERVER_IFIPADDR=10.213.0.5',
                 'CLIENT_IFIPADDR=10.213.0.6', 'IDENTITY=/etc/pppssh/keys/laptop', 'LINKNAME=pppssh-laptop',
                 '        "$CLIENT_IFIPADDR:$SERVER_IFIPADDR"'):
        assert line in text.splitlines(), line
    assert '    $PPPD updetach \\' in text and "refuse-pap" in text and 'noccp' in text
    path = tmp_path / 'vpn-pppssh'
    path.write_text(text)
    assert subprocess.run(['sh', '-n', str(path)], check=False).returncode == 0
    # "config" prints what start uses (with stand-ins for pppd and ssh, which this host lacks).
    fake = text.replace('PPPD=/usr/sbin/pppd', 'PPPD=/bin/true').replace('SSH=/usr/bin/ssh', 'SSH=/bin/true')
    path.write_text(fake)
    out = subprocess.run(['sh', str(path), 'config'], capture_output=True, text=True, check=True).stdout
    assert 'SERVER_IFIPADDR=10.213.0.5\nCLIENT_IFIPADDR=10.213.0.6\n' in out
    # start runs pppd with exactly the peers file's options (pty as one word), updetach first.
    recorder = tmp_path / 'pppd'
    recorder.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    recorder.chmod(0o755)
    fake = fake.replace('PPPD=/bin/true', 'PPPD=%s' % recorder)
    fake = fake.replace('mkdir -p /var/log/pppssh /run/pppssh', 'true')
    path.write_text(fake)
    argv = subprocess.run(['sh', str(path), 'start'], capture_output=True, text=True,
                          check=True).stdout.splitlines()[1:-1]
    config = bundle.link_config(bundle.link_params(bundle.server_entry(state(), 'laptop', 'srv'), '192.0.2.10', 22))
    assert argv == ['updetach'] + [word for words in bundle.pppd_words(config) for word in words]
    assert commands.pty_command(config) in argv


def test_the_openwrt_section_uses_the_pppossh_options():
    text = files(make())['openwrt-network']['content']
    lines = text.splitlines()
    assert "config interface 'laptop'" in lines
    for option in ("option proto 'pppossh'", "option server '192.0.2.10'", "option port '22'",
                   "option sshuser 'pppssh-laptop'", "list identity '/etc/pppssh/keys/laptop'",
                   "option ipaddr '10.213.0.6'", "option peeraddr '10.213.0.5'", "option keepalive '4 3'",
                   "option defaultroute '0'", "option peerdns '0'"):
        assert '\t' + option in lines, option
    ssh = [line for line in lines if line.startswith('\toption ssh_options ')][0]
    for word in ('-o StrictHostKeyChecking=yes', '-o UserKnownHostsFile=/etc/pppssh/known_hosts',
                 '-o GlobalKnownHostsFile=/dev/null', '-o BatchMode=yes', '-o IdentitiesOnly=yes'):
        assert word in ssh, word
    assert 'IdentityFile' not in ssh and ' -p ' not in ssh and '-l ' not in ssh
    pppd = [line for line in lines if line.startswith('\toption pppd_options ')][0]
    assert 'refuse-pap' in pppd and 'refuse-eap' in pppd and 'noccp' in pppd and 'silent' in pppd


def test_a_link_named_with_a_dash_gets_a_uci_section_name():
    st = state()
    st['clients'] = {'my-pc': dict(st['clients']['laptop'], account='pppssh-my-pc')}
    assert "config interface 'my_pc'" in files(make(st, name='my-pc'))['openwrt-network']['content']


def test_an_ipv6_only_link_has_the_hook_and_no_openwrt_section():
    st = state(server_ip=None, client_ip=None, index=None, server_ip6='fd13:213::1', client_ip6='fd13:213::2')
    found = files(make(st))
    assert found['ipv6-up']['content'] == commands.IPV6_UP_HOOK
    assert 'config interface' not in found['openwrt-network']['content']


def test_the_readme_says_where_the_private_key_goes_and_holds_none():
    text = files(make())['README']['content']
    assert 'holds no private key' in text and '/etc/pppssh/keys/laptop' in text and CLIENT_KEY in text
    assert 'PRIVATE KEY' not in ''.join(item['content'] for item in make()['files'])


def test_a_server_without_the_link_gives_none():
    assert make(name='other') is None
    assert bundle.make(None, 'laptop', 'srv', HOST_KEY, '192.0.2.10', 22) is None


# ---------------------------------------------------------------- what a compromised server may send

@pytest.mark.parametrize('entry, words', [
    ({'account': 'root'}, ('clients.laptop.account', 'not a usable account name')),
    ({'account': "x'; id #"}, ('clients.laptop.account',)),
    ({'client_ip': '10.213.0.6; touch /tmp/x'}, ('clients.laptop.client_ip',)),
    ({'server_ip': "10.213.0.5' -oProxyCommand=x"}, ('clients.laptop.server_ip',)),
    ({'server_ip': None}, ('no usable IPv4 pair',)),
    ({'client_ip': '10.213.0.5'}, ('no usable IPv4 pair',)),
    ({'client_ip6': 'fd13::2\nplugin x.so', 'server_ip6': 'fd13::1'}, ('clients.laptop.client_ip6',)),
    ({'compression': 'deflate 15 plugin'}, ('clients.laptop.compression',)),
    ({'pubkey': 'command="sh" ' + CLIENT_KEY}, ('clients.laptop.pubkey',)),
])
def test_a_tampered_state_entry_is_refused(entry, words):
    with pytest.raises(Refusal) as caught:
        make(state(**entry))
    text = str(caught.value)
    assert text.startswith('srv (state file): ') and 'Fix:' in text
    for word in words:
        assert word in text, text


def test_a_state_entry_that_is_not_a_dictionary_is_refused():
    with pytest.raises(Refusal, match='is not a dictionary'):
        make({'clients': {'laptop': 'x'}})
    with pytest.raises(Refusal, match='is not a dictionary'):
        make({'clients': ['laptop']})


@pytest.mark.parametrize('host_key, problem', [
    ('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 root@srv', 'not an ssh-ed25519 public key line'),
    (HOST_KEY + HOST_KEY, 'exactly one line'),
    ('@cert-authority * ' + HOST_KEY, 'not an ssh-ed25519 public key line'),
    (None, 'is not text'),
])
def test_a_bad_host_key_is_refused(host_key, problem):
    with pytest.raises(Refusal, match=problem):
        make(host_key=host_key)


@pytest.mark.parametrize('address, port, problem', [
    ('-oProxyCommand=sh', 22, 'not a host name or address'),
    ('vpn.example.org; id', 22, 'not a host name or address'),
    ('192.0.2.10', 0, 'not a TCP port'),
    ('192.0.2.10', '22 -v', 'not a TCP port'),
])
def test_a_bad_address_or_port_is_refused(address, port, problem):
    with pytest.raises(Refusal, match=problem):
        make(address=address, port=port)


@pytest.mark.parametrize('link, problem', [
    ({'ssh_options': {'ProxyCommand': 'sh -c id'}}, 'not allowed'),
    ({'ssh_options': {'Ciphers': "aes' -oX=y"}}, 'not allowed'),
    ({'ipparam': 'vpn x'}, 'invalid ipparam'),
    ({'keepalive_interval': 'three'}, 'not a whole number'),
    ({'persist': 'maybe'}, 'not a boolean'),
    ({'plugin': 'x.so'}, 'not a link option'),
])
def test_bad_link_options_are_refused(link, problem):
    with pytest.raises((Refusal, bundle.BundleError), match=problem):
        make(link=link)


# ---------------------------------------------------------------- the filter

def slurped(data):
    return {'content': base64.b64encode(data.encode()).decode()}


def test_the_filter_takes_a_managed_clients_link_options_from_its_inventory():
    st = state(static=False, host='pc1.example.org')
    st['clients']['pc1'] = st['clients'].pop('laptop')
    hostvars = {'pc1.example.org': {'pppssh_client_keepalive_interval': 7, 'pppssh_client_server_port': 2222},
                'other': {'pppssh_client_name': 'x'}}
    result = pppssh.client_bundle(slurped(json.dumps(st)), 'pc1', 'srv', slurped(HOST_KEY), '192.0.2.10', 22,
                                  client_hosts=['other', 'pc1.example.org'], hostvars=hostvars, defaults=DEFAULTS)
    assert result['managed'] is True
    config = commands.config_from_peers_file(files(result)['pppssh-pc1']['content'])
    assert config['keepalive_interval'] == 7 and config['port'] == 2222 and config['supervisor'] == 'systemd'
    assert 'made its key at /etc/pppssh/keys/pc1' in files(result)['README']['content']


def test_the_filter_gives_a_static_client_the_role_defaults_and_refuses_with_a_filter_error():
    hostvars = {'laptop': {'pppssh_client_keepalive_interval': 9}}
    result = pppssh.client_bundle(slurped(json.dumps(state())), 'laptop', 'srv', slurped(HOST_KEY), '192.0.2.10', 22,
                                  client_hosts=['laptop'], hostvars=hostvars, defaults=DEFAULTS, supervisor='pppd')
    config = commands.config_from_peers_file(files(result)['pppssh-laptop']['content'])
    assert result['managed'] is False and config['keepalive_interval'] == 3 and config['supervisor'] == 'pppd'
    with pytest.raises(AnsibleFilterError, match='clients.laptop.account'):
        pppssh.client_bundle(slurped(json.dumps(state(account='root'))), 'laptop', 'srv', slurped(HOST_KEY),
                             '192.0.2.10', 22, defaults=DEFAULTS)
    with pytest.raises(AnsibleFilterError, match='not valid JSON'):
        pppssh.client_bundle(slurped('{'), 'laptop', 'srv', slurped(HOST_KEY), '192.0.2.10', 22)
    assert pppssh.client_bundle({'failed': True, 'msg': 'file not found'}, 'laptop', 'srv', {}, 'a', 22) is None


# ---------------------------------------------------------------- several links per client host

def multi_link_state():
    """srv's state file with the two links of branch1 (pppssh_client_links) and the short-form link of pc1."""
    st = state(static=False, host='branch1')
    entry = st['clients'].pop('laptop')
    st['clients']['primary'] = dict(entry, account='pppssh-primary', index=0, server_ip='10.213.0.1',
                                    client_ip='10.213.0.2')
    st['clients']['backup'] = dict(entry, account='pppssh-backup', compression='deflate')
    st['clients']['pc1'] = dict(entry, account='pppssh-pc1', host='pc1', index=2, server_ip='10.213.0.9',
                                client_ip='10.213.0.10')
    return st


def multi_link_hostvars(**backup):
    return {'branch1': {'pppssh_client_keepalive_interval': 7, 'pppssh_client_mtu': 1400,
                        'pppssh_client_server': 'srv',
                        'pppssh_client_links': [
                            {'name': 'primary', 'ipparam': 'office'},
                            dict({'name': 'backup', 'keepalive_interval': 11, 'keepalive_failures': 2,
                                  'server_port': 2200, 'server_address': 'hub.example.org', 'mtu': None,
                                  'ssh_options': {'Ciphers': 'aes256-gcm@openssh.com'}}, **backup)]},
            'pc1': {'pppssh_client_name': 'backup', 'pppssh_client_server': 'other'},
            'other': {'pppssh_client_links': 'junk'}}


def export(name, hostvars, st=None, **kwargs):
    return pppssh.client_bundle(slurped(json.dumps(st or multi_link_state())), name, 'srv', slurped(HOST_KEY),
                                '192.0.2.10', 22, client_hosts=sorted(hostvars), hostvars=hostvars,
                                defaults=DEFAULTS, **kwargs)


def test_the_second_link_of_a_multi_link_host_is_exported_with_its_own_options(tmp_path):
    result = export('backup', multi_link_hostvars())
    assert result['managed'] is True
    peers = files(result)['pppssh-backup']['content']
    # What the client role hands pppssh_tunnel for that link: the entry's keys, else the host's, else the defaults.
    link = dict(persist=True, keepalive_interval=11, keepalive_failures=2, connect_timeout=30, ipparam='vpn',
                supervisor='systemd', mtu=1400, ssh_options={'Ciphers': 'aes256-gcm@openssh.com'})
    entry = multi_link_state()['clients']['backup']
    assert peers == module_peers_file(tmp_path, role_args('backup', 'hub.example.org', 2200, 'pppssh-backup',
                                                          entry['client_ip'], entry['server_ip'], link,
                                                          compression='deflate'))
    assert files(result)['known_hosts']['content'].startswith('[hub.example.org]:2200 ssh-ed25519 ')
    first = commands.config_from_peers_file(files(export('primary', multi_link_hostvars()))['pppssh-primary']['content'])
    assert (first['keepalive_interval'], first['ipparam'], first['port'], first['mtu']) == (7, 'office', 22, 1400)


def test_a_link_of_another_server_is_not_the_one_exported():
    # Link names are unique per server only: pc1's short-form link "backup" goes to the server "other".
    hostvars = multi_link_hostvars(server='elsewhere')
    assert export('backup', hostvars)['managed'] is False
    hostvars['pc1']['pppssh_client_server'] = 'srv'
    result = export('backup', hostvars)
    config = commands.config_from_peers_file(files(result)['pppssh-backup']['content'])
    assert result['managed'] is True and config['keepalive_interval'] == 3 and config['port'] == 22
    del hostvars['pc1']['pppssh_client_server']
    assert export('backup', hostvars)['managed'] is True


def test_a_bad_option_of_a_listed_link_is_refused_naming_the_list_entry():
    with pytest.raises(AnsibleFilterError, match=r"pppssh_client_links\[1\]\.keepalive_interval 'three'"):
        export('backup', multi_link_hostvars(keepalive_interval='three'))
    with pytest.raises(AnsibleFilterError, match=r"srv: pppssh_client_keepalive_interval 'seven'"):
        hostvars = multi_link_hostvars()
        hostvars['branch1']['pppssh_client_keepalive_interval'] = 'seven'
        export('primary', hostvars)
