import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import options

BASE = {'name': 'office', 'state': 'started', 'server': 'vpn.example.org'}


def norm(**overrides):
    return options.normalise(dict(BASE, **overrides))


def refused(field, **overrides):
    with pytest.raises(options.OptionError) as info:
        norm(**overrides)
    assert info.value.field == field
    assert 'Fix:' in str(info.value)
    return str(info.value)


def test_defaults_follow_the_howto():
    config = norm()
    assert config['interface'] == 'ppp-office'
    assert config['user'] == 'vpn'
    assert config['port'] == 22
    assert config['remote_command'] == 'sudo -n /usr/sbin/pppd nodetach notty noauth'
    assert config['ipparam'] == 'vpn'
    assert config['persist'] is True
    assert config['keepalive_interval'] * (config['keepalive_failures'] + 1) <= 15
    assert config['local_ip'] is None and config['remote_ip'] is None


def test_normalise_is_stable():
    assert norm(ssh_options={'ipqos': 'throughput', 'Ciphers': 'aes128-ctr'}) == \
        norm(ssh_options={'Ciphers': 'aes128-ctr', 'IPQoS': 'throughput'})


@pytest.mark.parametrize('name', ['', 'a' * 12, 'Office', '1office', 'of/fice', '..', 'a..b/', 'of fice',
                                  'of;fice', 'of$(id)', 'of`x`', 'of\nx', 'office\n', 'ppp-x', 'pppssh-x', None])
def test_bad_link_names_are_refused(name):
    message = refused('name', name=name)
    assert 'ppp-NAME' in message


@pytest.mark.parametrize('name', ['a', 'office', 'branch_2', 'hq-a1', 'abcdefghijk'])
def test_good_link_names(name):
    assert norm(name=name)['interface'] == 'ppp-' + name
    assert len(norm(name=name)['interface']) <= 15


def test_root_is_refused():
    assert 'root' in refused('user', user='root')


@pytest.mark.parametrize('server', ['-oProxyCommand=x', 'a b', 'host;id', ''])
def test_bad_servers(server):
    refused('server', server=server)


@pytest.mark.parametrize('field, value', [('local_ip', '10.0.0.300'), ('local_ip', 'ten'),
                                          ('remote_ip', '127.0.0.1'), ('remote_ip', '224.0.0.1'),
                                          ('local_ip', '0.0.0.0')])
def test_bad_addresses(field, value):
    other = 'remote_ip' if field == 'local_ip' else 'local_ip'
    refused(field, **{field: value, other: '10.213.0.9'})


def test_equal_addresses_are_refused():
    assert 'both 10.213.0.1' in refused('remote_ip', local_ip='10.213.0.1', remote_ip='10.213.0.1')


def test_half_a_pair_is_refused():
    refused('remote_ip', local_ip='10.213.0.2')
    refused('local_ip', remote_ip='10.213.0.1')


@pytest.mark.parametrize('field, value', [('port', 0), ('port', 70000), ('keepalive_interval', 0),
                                          ('keepalive_failures', 0), ('connect_timeout', 0), ('mtu', 64),
                                          ('mru', 99999), ('holdoff', -1), ('port', True)])
def test_numbers_out_of_range(field, value):
    refused(field, **{field: value})


@pytest.mark.parametrize('key', ['ProxyCommand', 'LocalCommand', 'PermitLocalCommand', 'KnownHostsCommand',
                                 'ForwardAgent', 'LocalForward', 'Include', 'Match'])
def test_dangerous_ssh_options_are_refused(key):
    assert 'not allowed' in refused('ssh_options', ssh_options={key: 'x'})


@pytest.mark.parametrize('key', ['StrictHostKeyChecking', 'port', 'UserKnownHostsFile', 'BatchMode',
                                 'UpdateHostKeys', 'VerifyHostKeyDNS', 'CheckHostIP'])
def test_managed_ssh_options_point_to_the_module_option(key):
    assert 'set by the module itself' in refused('ssh_options', ssh_options={key: 'no'})


@pytest.mark.parametrize('value', ['a b', 'x"y', "x'y", 'x;id', '$(id)', ''])
def test_ssh_option_values_cannot_inject(value):
    refused('ssh_options', ssh_options={'Ciphers': value})


def test_ssh_option_bool_values_render_as_yes_no():
    assert norm(ssh_options={'Compression': True})['ssh_options'] == {'Compression': 'yes'}


@pytest.mark.parametrize('path', ['relative/key', '/etc/../root/key', '/a b', '/x;id', '/dir/'])
def test_bad_paths(path):
    refused('identity_file', identity_file=path)


def test_remote_command_must_be_one_line():
    refused('remote_command', remote_command='sudo pppd\nid')


@pytest.mark.parametrize('field, value', [('compression', 'lz4'), ('supervisor', 'cron'), ('ipparam', 'a b')])
def test_choices(field, value):
    refused(field, **{field: value})


def test_stop_and_status_need_only_the_name():
    assert options.normalise({'name': 'office', 'state': 'stopped'}) == {'name': 'office',
                                                                         'interface': 'ppp-office'}
    refused('name', state='status', name='../x')


IP_ADDR = '''1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 192.168.213.61/24 brd 192.168.213.255 scope global eth0\\       valid_lft forever
5: ppp-office    inet 10.213.0.2 peer 10.213.0.1/32 scope global ppp-office\\       valid_lft forever
6: ppp-other    inet 10.213.0.6 peer 10.213.0.5/32 scope global ppp-other\\       valid_lft forever
'''


@pytest.mark.parametrize('local_ip, remote_ip, expected', [
    ('10.213.0.2', '10.213.0.1', None),                                     # the link's own interface
    ('192.168.213.99', '10.213.0.9', ('local_ip', '192.168.213.0/24', 'eth0')),
    ('10.213.0.9', '10.213.0.5', ('remote_ip', '10.213.0.5/32', 'ppp-other')),
    ('10.214.0.2', '10.214.0.1', None),
])
def test_address_clash_with_networks_on_this_host(local_ip, remote_ip, expected):
    clash = options.address_clash(norm(local_ip=local_ip, remote_ip=remote_ip), IP_ADDR)
    if expected is None:
        assert clash is None
    else:
        field, _address, network, interface = clash
        assert (field, network, interface) == expected


def test_an_ipv4_link_has_no_ipv6_keys():
    assert not [key for key in norm() if key.endswith('6')]


def test_an_ipv6_pair_comes_back_canonical():
    config = norm(local_ip6='FD13:213:0::2', remote_ip6='fd13:213::1')
    assert (config['local_ip6'], config['remote_ip6']) == ('fd13:213::2', 'fd13:213::1')


@pytest.mark.parametrize('pair, field, words', [
    (dict(local_ip6='fd13:213::2'), 'remote_ip6', 'only one end of the IPv6 pair'),
    (dict(local_ip6='fd13:213::2', remote_ip6='fd13:213::2'), 'remote_ip6', 'both fd13:213::2'),
    (dict(local_ip6='fd13:213::2', remote_ip6='fd99::2'), 'remote_ip6', 'same 64 bits (::2)'),
    (dict(local_ip6='fe80::2', remote_ip6='fd13:213::1'), 'local_ip6', 'cannot be a point-to-point'),
    (dict(local_ip6='10.213.0.2', remote_ip6='fd13:213::1'), 'local_ip6', 'not an IPv6 address'),
    (dict(local_ip6='fd13:213::2 nodad', remote_ip6='fd13:213::1'), 'local_ip6', 'not an IPv6 address'),
])
def test_bad_ipv6_pairs_are_refused(pair, field, words):
    assert words in refused(field, **pair)


def test_interface_identifiers_are_the_last_64_bits():
    assert options.interface_id('fd13:213::2') == '::2'
    assert options.interface_id('2001:db8:1:2:aa:bb:cc:dd') == '::aa:bb:cc:dd'
