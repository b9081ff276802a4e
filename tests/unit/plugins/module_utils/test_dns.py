"""Per-link DNS (pppssh_client_dns): validation to canonical values, and the hooks rendered from them."""
import os
import shlex
import subprocess

import jinja2
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.filter import pppssh
from ansible_collections.pppssh.vpn.plugins.module_utils import published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..',
                         'roles', 'pppssh_client', 'templates')


def refused(value, server_ip='10.213.0.1'):
    with pytest.raises(Refusal) as info:
        published.dns_settings(value, 'h1', 'pppssh_client_dns', server_ip)
    message = str(info.value)
    assert message.startswith('h1: pppssh_client_dns') and 'Fix: ' in message, message
    return message


@pytest.mark.parametrize('value', [None, {}, ''])
def test_nothing_means_no_dns(value):
    assert published.dns_settings(value, 'h1') == {'servers': [], 'domains': [], 'search': [], 'default_route': False}


def test_canonical_servers_and_domains():
    got = published.dns_settings({'servers': ['server', ' 10.0.0.53', 'FD00::0035', '10.213.0.1'],
                                  'domains': ['Corp.Example.', '~Lab.example', '~', 'corp.example']},
                                 'h1', 'pppssh_client_dns', '10.213.0.1')
    assert got == {'servers': ['10.213.0.1', '10.0.0.53', 'fd00::35'],
                   'domains': ['corp.example', '~lab.example', '~.'], 'search': ['corp.example'],
                   'default_route': True}


@pytest.mark.parametrize('value, words', [
    ('10.0.0.1', 'is not a dictionary'),
    ({'server': ['10.0.0.1']}, 'unknown keys server'),
    ({'servers': '10.0.0.1'}, 'is not a list'),
    ({'servers': ['10.0.0.1; rm -rf /']}, 'not an IPv4 or IPv6 address'),
    ({'servers': ['$(id)']}, 'not an IPv4 or IPv6 address'),
    ({'servers': ['224.0.0.251']}, 'not a unicast resolver'),
    ({'servers': ['fe80::1']}, 'not a unicast resolver'),
    ({'servers': ['0.0.0.0']}, 'not a unicast resolver'),
    ({'servers': ['10.0.0.1'], 'domains': ["corp.example'; reboot; '"]}, 'is not a domain name'),
    ({'servers': ['10.0.0.1'], 'domains': ['-corp.example']}, 'is not a domain name'),
    ({'servers': ['10.0.0.1'], 'domains': ['a..b']}, 'is not a domain name'),
    ({'servers': ['10.0.0.1'], 'domains': ['x' * 64 + '.example']}, 'is not a domain name'),
    ({'servers': ['10.0.0.1'], 'domains': [7]}, 'is not a domain name'),
    ({'domains': ['corp.example']}, 'has domains but no servers'),
    ({'servers': ['10.0.0.%d' % n for n in range(1, 10)]}, 'more than 8 servers'),
])
def test_bad_settings_are_refused(value, words):
    assert words in refused(value)


def test_the_server_word_needs_the_server_address():
    assert 'tunnel address is not known' in refused({'servers': ['server']}, server_ip=None)


def test_the_filter_fails_with_the_refusal():
    with pytest.raises(AnsibleFilterError, match='h1: pppssh_client_dns.servers'):
        pppssh.dns_settings({'servers': ['nope']}, 'h1', '10.213.0.1')
    assert pppssh.dns_settings({'servers': ['server']}, 'h1', '10.213.0.1')['servers'] == ['10.213.0.1']


def render(name, dns):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(comment=lambda text: '# ' + text, quote=shlex.quote)
    view = published.dns_settings(dns, 'h1', 'pppssh_client_dns', '10.213.0.1')
    # Two links: the hooks act on the one with DNS settings only.
    return env.get_template(name).render(ansible_managed='managed',
                                         pppssh_client_links_present=[{'name': 'office', 'ipparam': 'vpn'},
                                                                      {'name': 'backup', 'ipparam': 'vpn'}],
                                         pppssh_client_links_dns=['office'],
                                         pppssh_client_views={'office': {'dns': view}, 'backup': {}})


def lines(text):
    return [line.strip() for line in text.splitlines()]


def test_the_up_hook_configures_the_link_only():
    text = render('dns-up.sh.j2', {'servers': ['server', 'fd00::35'], 'domains': ['corp.example', '~lab.example']})
    assert subprocess.run(['sh', '-n'], input=text, text=True, check=False).returncode == 0
    assert 'resolvectl dns "$PPP_IFACE" 10.213.0.1 fd00::35' in lines(text)
    assert 'resolvectl domain "$PPP_IFACE" corp.example \'~lab.example\'' in lines(text)
    assert 'resolvectl default-route "$PPP_IFACE" no' in lines(text)
    assert "printf '%s\\n' 'nameserver 10.213.0.1' 'nameserver fd00::35' 'search corp.example' |" in lines(text)
    assert '/etc/resolv.conf' not in text.replace('/etc/resolv.conf left alone', '').replace(
        '/etc/resolv.conf is never written', '')
    assert '"ppp-office vpn")' in lines(text) and 'ppp-backup' not in text
    assert lines(text).index('*)') > lines(text).index('"ppp-office vpn")')


def test_without_domains_the_link_is_the_default_dns_route():
    text = render('dns-up.sh.j2', {'servers': ['10.0.0.53']})
    assert 'resolvectl domain "$PPP_IFACE" \'\'' in lines(text)
    assert 'resolvectl default-route "$PPP_IFACE" yes' in lines(text)
    assert "printf '%s\\n' 'nameserver 10.0.0.53' |" in lines(text)
    assert 'resolvectl default-route "$PPP_IFACE" yes' in lines(
        render('dns-up.sh.j2', {'servers': ['10.0.0.53'], 'domains': ['~.', 'corp.example']}))


def test_the_down_hook_reverts_the_link():
    text = render('dns-down.sh.j2', {'servers': ['10.0.0.53']})
    assert subprocess.run(['sh', '-n'], input=text, text=True, check=False).returncode == 0
    assert 'resolvectl revert "$PPP_IFACE" 2>/dev/null' in lines(text)
    assert 'resolvconf -d "$PPP_IFACE.pppssh" 2>/dev/null' in lines(text)
    assert '"ppp-office vpn") ;;' in lines(text) and 'ppp-backup' not in text


def test_the_hooks_leave_a_link_without_dns_alone():
    for name in ('dns-up.sh.j2', 'dns-down.sh.j2'):
        script = render(name, {'servers': ['10.0.0.53']})
        done = subprocess.run(['sh', '-c', script.replace('resolvectl', 'echo resolvectl').replace(
            'resolvconf -', 'echo resolvconf -').replace('logger', 'echo logger'), name],
            env={'PATH': os.environ['PATH'], 'PPP_IFACE': 'ppp-backup', 'PPP_IPPARAM': 'vpn'},
            capture_output=True, text=True, check=False)
        assert (done.returncode, done.stdout) == (0, ''), (name, done.stdout)
