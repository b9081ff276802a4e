"""The pppssh_client role's hooks for a host with several links (pppssh_client_links): one branch per link,
routes with each link's metric, nothing done for an interface that is not one of the host's links."""
import os
import shlex
import subprocess

import jinja2

from ansible_collections.pppssh.vpn.plugins.filter import pppssh

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'roles', 'pppssh_client',
                         'templates')
LINKS = [{'name': 'primary', 'ipparam': 'vpn', 'route_metric': 10, 'queue_bandwidth': '18mbit',
          'link_state': 'started'},
         {'name': 'backup', 'ipparam': 'vpn', 'route_metric': 20, 'queue_bandwidth': None, 'link_state': 'started'},
         {'name': 'plain', 'ipparam': 'lab', 'route_metric': 0, 'queue_bandwidth': None, 'link_state': 'stopped'}]
VIEWS = {'primary': {'server_ip': '10.231.1.1', 'client_ip': '10.231.1.2', 'subnets': ['10.99.77.0/24']},
         'backup': {'server_ip': '10.231.2.1', 'client_ip': '10.231.2.2', 'server_ip6': 'fd31::1',
                    'client_ip6': 'fd31::2', 'subnets': ['10.99.77.0/24', 'fd77::/64']},
         'plain': {'server_ip': '10.231.3.1', 'client_ip': '10.231.3.2', 'subnets': []}}
INFO = dict((name, {'subnets': ['10.99.88.0/24']}) for name in VIEWS)


def render(name, **extra):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(comment=lambda text: '# ' + text, quote=shlex.quote, by_family=pppssh.by_family)
    env.filters['pppssh.vpn.by_family'] = pppssh.by_family
    env.filters['bool'] = bool
    values = dict(ansible_managed='managed', pppssh_client_links_present=LINKS, pppssh_client_views=VIEWS,
                  pppssh_client_links_info=INFO, pppssh_client_links_queue=['primary'], pppssh_client_forwarding=True,
                  pppssh_client_mss_clamp=True, pppssh_client_firewall=True, pppssh_client_masquerade=True,
                  pppssh_client_nftables=True, pppssh_client_supervisor_effective='systemd')
    values.update(extra)
    return env.get_template(name).render(**values)


def run(script, iface, ipparam, tmp_path):
    """The hook with ip, tc, nft and systemctl faked on PATH (each prints its command line) and /proc/sys
    under tmp_path: the commands it would run."""
    for family in ('ipv4', 'ipv6'):
        (tmp_path / 'proc' / family / 'conf' / iface).mkdir(parents=True, exist_ok=True)
    fakes = tmp_path / 'bin'
    fakes.mkdir(exist_ok=True)
    for command in ('ip', 'tc', 'nft', 'systemctl'):
        (fakes / command).write_text('#!/bin/sh\necho %s "$@"\n' % command)
        (fakes / command).chmod(0o755)
    text = script.replace('/proc/sys/net', str(tmp_path / 'proc'))
    done = subprocess.run(['sh', '-c', text, 'hook'], env={'PATH': '%s:%s' % (fakes, os.environ['PATH']),
                                                           'PPP_IFACE': iface, 'PPP_IPPARAM': ipparam},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_every_hook_is_valid_shell():
    for name in ('ip-up.sh.j2', 'queue.sh.j2', 'dialup-up.sh.j2', 'dialup-down.sh.j2'):
        assert subprocess.run(['sh', '-n'], input=render(name), text=True, check=False).returncode == 0, name


def test_each_link_routes_the_server_subnets_with_its_metric(tmp_path):
    script = render('ip-up.sh.j2')
    assert run(script, 'ppp-primary', 'vpn', tmp_path) == [
        'ip route replace 10.99.77.0/24 dev ppp-primary metric 10', 'nft -f /etc/pppssh/client.nft']
    backup = run(script, 'ppp-backup', 'vpn', tmp_path)
    assert backup[0] == 'ip route replace 10.99.77.0/24 dev ppp-backup metric 20'
    assert backup[1].startswith('ip -6 route replace fd77::/64 dev ppp-backup metric 20')
    assert (tmp_path / 'proc' / 'ipv4' / 'conf' / 'ppp-backup' / 'rp_filter').read_text() == '1\n'
    assert (tmp_path / 'proc' / 'ipv6' / 'conf' / 'ppp-backup' / 'forwarding').read_text() == '1\n'
    # Metric 0 is the kernel's default: no metric word at all, as in the single-link hook.
    assert run(script, 'ppp-plain', 'lab', tmp_path) == ['nft -f /etc/pppssh/client.nft']


def test_interfaces_that_are_not_the_hosts_links_are_left_alone(tmp_path):
    script = render('ip-up.sh.j2')
    assert run(script, 'ppp0', 'vpn', tmp_path) == []
    assert run(script, 'ppp-primary', 'lab', tmp_path) == []  # the right name with another link's ipparam
    assert not (tmp_path / 'proc' / 'ipv4' / 'conf' / 'ppp0' / 'rp_filter').exists()


def test_the_queue_shapes_only_the_links_with_a_rate(tmp_path):
    script = render('queue.sh.j2')
    assert run(script, 'ppp-primary', 'vpn', tmp_path) == [
        'tc qdisc replace dev ppp-primary root cake bandwidth 18mbit']
    assert run(script, 'ppp-backup', 'vpn', tmp_path) == []


def test_the_nft_table_covers_every_link():
    text = render('nftables.nft.j2')
    for name, sources in (('primary', '10.231.1.1, 10.99.77.0/24'), ('backup', '10.231.2.1, 10.99.77.0/24')):
        assert 'iifname "ppp-%s" ip saddr != { %s } counter drop' % (name, sources) in text
        assert 'oifname "ppp-%s" tcp flags syn tcp option maxseg size set rt mtu' % name in text
        assert 'oifname "ppp-%s" ip saddr { 10.99.88.0/24 } masquerade' % name in text
    assert 'iifname "ppp-backup" ip6 saddr != { fe80::/10, fd31::1, fd77::/64 } counter drop' in text
    assert text.count('table inet pppssh_client {') == 1


def test_the_dialup_hooks_start_and_stop_every_started_link():
    up, down = render('dialup-up.sh.j2'), render('dialup-down.sh.j2')
    assert 'systemctl start --no-block pppssh@primary.service' in up
    assert 'systemctl start --no-block pppssh@backup.service' in up
    assert 'pppssh@plain' not in up  # link_state stopped: not started by a dial-up either
    assert '"vpn") exit 0 ;;' in up and '"lab") exit 0 ;;' in up
    assert 'systemctl stop --no-block pppssh@plain.service' in down
    pppd = render('dialup-up.sh.j2', pppssh_client_supervisor_effective='pppd')
    assert '/usr/sbin/pppd call pppssh-primary' in pppd and subprocess.run(
        ['sh', '-n'], input=pppd, text=True, check=False).returncode == 0
