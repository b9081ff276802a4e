# -*- coding: utf-8 -*-
"""Fixtures and helpers for the pppssh verify tests (testinfra, ansible inventory).

Shared by every scenario: molecule/shared/tests holds the checks that hold on any platform,
molecule/<scenario>/tests the platform-specific ones (their conftest imports this module).
Everything is derived from the scenario's inventory (groups pppssh_servers and
pppssh_clients) and from what the roles wrote on the hosts, never from docker.
"""

import json
import re

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

SERVER_DEFAULT_ACCOUNT_PREFIX = 'pppssh-'
# The server role's one sudoers Defaults line: sudo executes the session entry point in its own place.
SESSION_DEFAULTS = ('Defaults!/usr/local/sbin/pppssh-session !pam_session, !pam_setcred, !use_pty, '
                    'env_keep += "PPPSSH_KEY"')
LINK_NAME = re.compile(r'^[a-z][a-z0-9_-]{0,10}$')
BRANCH = {}


def default_link_name(inventory_hostname):
    """The pppssh_client role's default pppssh_client_name."""
    short = inventory_hostname.split('.')[0].lower()
    return re.sub(r'[^a-z0-9_-]', '-', short)[:11]


def plain(value):
    """An inventory value, or None when it is unset or still a Jinja template."""
    if value is None or (isinstance(value, str) and ('{{' in value or '{%' in value)):
        return None
    return value


@pytest.fixture(scope='session')
def inventory(request):
    path = request.config.option.ansible_inventory
    assert path, 'run with --ansible-inventory (molecule passes it)'
    return path


@pytest.fixture(scope='session')
def runner(inventory):
    return AnsibleRunner(inventory)


@pytest.fixture(scope='session')
def fleet(runner):
    """Servers and client links of the inventory, with their names as the roles derive them."""
    servers = sorted(runner.get_hosts('pppssh_servers'))
    clients = []
    for name in sorted(runner.get_hosts('pppssh_clients')):
        hostvars = runner.get_variables(name)
        if (plain(hostvars.get('pppssh_client_state')) or 'present') != 'present':
            continue
        server = plain(hostvars.get('pppssh_client_server')) or (servers[0] if len(servers) == 1 else None)
        clients.append(dict(host=name, server=server,
                            link=plain(hostvars.get('pppssh_client_name')) or default_link_name(name)))
    prefixes = dict((s, plain(runner.get_variables(s).get('pppssh_server_account_prefix'))
                     or SERVER_DEFAULT_ACCOUNT_PREFIX) for s in servers)
    for client in clients:
        client['account'] = prefixes.get(client['server'], SERVER_DEFAULT_ACCOUNT_PREFIX) + client['link']
    assert servers and clients, 'the inventory needs pppssh_servers and pppssh_clients'
    return dict(servers=servers, clients=clients)


@pytest.fixture(scope='session')
def hosts(inventory):
    """hosts(name): a testinfra host of the inventory (same backend as the tests)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = testinfra.get_host('ansible://%s' % name, ansible_inventory=inventory)
        return cache[name]
    return get


@pytest.fixture(scope='session')
def ansible_hosts(inventory):
    """ansible_hosts(name): a host that runs Ansible modules (host.ansible) there."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = testinfra.get_host('ansible://%s' % name, ansible_inventory=inventory,
                                             force_ansible=True)
        return cache[name]
    return get


@pytest.fixture
def inventory_name(host, runner, hosts):
    """The inventory name of the host under test (backends only know addresses or containers)."""
    wanted = host.backend.get_pytest_id()
    names = [n for n in runner.get_hosts('all') if hosts(n).backend.get_pytest_id() == wanted]
    assert len(names) == 1, 'cannot tell which inventory host %s is: %s' % (wanted, names)
    return names[0]


def ppp_available(host):
    """True when pppd can open /dev/ppp (`pppd dryrun` exits before starting a link)."""
    return host.run('pppd dryrun notty nodetach noauth').rc == 0


@pytest.fixture(scope='session')
def live(fleet, hosts):
    """Every host of the fleet has kernel PPP, so the link is live: the scenarios exist to prove
    that. Fails (never skips) naming the hosts where pppd cannot open /dev/ppp. Printed once."""
    names = fleet['servers'] + [c['host'] for c in fleet['clients']]
    missing = [n for n in names if not ppp_available(hosts(n))]
    BRANCH['detail'] = ('pppd cannot open /dev/ppp on %s' % ', '.join(missing)) if missing \
        else 'pppd opens /dev/ppp on every host'
    print('\npppssh verify: %s' % BRANCH['detail'])
    if missing:
        pytest.fail('%s: this scenario needs kernel PPP on every host (the default scenario\'s prepare '
                    'picks an engine that has it)' % BRANCH['detail'])
    return True


@pytest.fixture(scope='session')
def allocations(fleet, hosts):
    """Each server's persisted address allocation: {server: {link: {server_ip, client_ip, ...}}}."""
    result = {}
    for server in fleet['servers']:
        text = hosts(server).file('/etc/pppssh/server-allocations.json').content_string
        result[server] = json.loads(text)['clients']
    return result


def links_of(fleet, server):
    return sorted(c['link'] for c in fleet['clients'] if c['server'] == server)


def clients_of(fleet, server):
    """The client links of a server, sorted by link name: dicts with host, link and account."""
    return sorted((c for c in fleet['clients'] if c['server'] == server), key=lambda c: c['link'])


def content_lines(host, path):
    """Lines of a file that are neither blank nor comments."""
    text = host.file(path).content_string
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]


def processes(host):
    """[(pid, ppid, user, comm)] of every process on the host."""
    out = host.check_output('ps -eo pid=,ppid=,user:32=,comm=')
    rows = []
    for line in out.splitlines():
        pid, ppid, user, comm = line.split(None, 3)
        rows.append((int(pid), int(ppid), user, comm.strip()))
    return rows


def ppp_interfaces(host):
    return sorted(n for n in host.check_output('ls -1 /sys/class/net').split() if n.startswith('ppp'))


def tunnel_status(ansible_host, link):
    """The pppssh_tunnel module's own report of a link (state=status changes nothing)."""
    return ansible_host.ansible('pppssh.vpn.pppssh_tunnel', 'name=%s state=status' % link, check=False)


def pytest_terminal_summary(terminalreporter):
    if BRANCH:
        terminalreporter.write_line('pppssh verify: %s' % BRANCH['detail'])
