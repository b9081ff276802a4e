"""Security properties of a fleet deployed with playbooks/site.yml, each one an assertion.
See docs/security.md for the threat model these check."""
import re
import time

import pytest

pytest.register_assert_rewrite('fleet')
from fleet import (  # noqa: E402
    CLIENTS, FCLIENT1, FCLIENT2, FSERVER, assert_single_link, server_end, server_link_pids,
    wait_working)

pytest_plugins = ['fleet']

IDS = [guest.name for guest in CLIENTS]


def account(guest):
    """The client's own account on the server."""
    return 'pppssh-%s' % guest.name


def ssh_as_client(guest, extra, command='', timeout=8):
    """ssh from a client to its account on the server with its own key and pinned host key."""
    return guest.sh(
        'timeout %d ssh -F none -i /etc/pppssh/keys/%s -o IdentitiesOnly=yes -o BatchMode=yes '
        '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/pppssh/known_hosts %s %s@%s %s '
        '</dev/null 2>&1 | tr -c "[:print:]\\n" "." | head -c 4000; true'
        % (timeout, guest.name, extra, account(guest), FSERVER.ip, command), check=False,
        timeout=timeout + 30).stdout


def server_pppd_cmdlines():
    return FSERVER.out("for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = pppd ] && "
                       "tr '\\0' ' ' < $p/cmdline && echo; done; true").splitlines()


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_client_key_runs_no_command_of_its_own(fleet, guest):
    FSERVER.sh('rm -f /tmp/pppssh-pwned')
    out = ssh_as_client(guest, '', '"touch /tmp/pppssh-pwned; id; echo MARK-$((6*7))"')
    assert 'uid=' not in out and 'MARK-42' not in out, out
    assert FSERVER.sh('test -e /tmp/pppssh-pwned', check=False).returncode != 0
    assert_single_link(guest)


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_client_key_gets_no_tty(fleet, guest):
    out = ssh_as_client(guest, '-tt', 'tty')
    assert '/dev/pts' not in out, out
    assert_single_link(guest)


def test_client_key_gets_no_port_or_agent_forwarding(fleet):
    guest = FCLIENT2
    # A session with agent forwarding and a local forward to the server's own sshd, held open
    # for a few seconds in the background; meanwhile probe the forward and the agent socket.
    guest.sh('rm -rf /tmp/pppssh-agent; mkdir -m 700 /tmp/pppssh-agent; '
             'ssh-agent -a /tmp/pppssh-agent/sock | sed -n "s/^SSH_AGENT_PID=\\([0-9]*\\).*/\\1/p" '
             '>/tmp/pppssh-agent/pid; '
             'SSH_AUTH_SOCK=/tmp/pppssh-agent/sock ssh-add -q /etc/pppssh/keys/%s' % guest.name, check=False)
    guest.sh('(SSH_AUTH_SOCK=/tmp/pppssh-agent/sock timeout 12 ssh -F none -A -L 127.0.0.1:2222:127.0.0.1:22 '
             '-i /etc/pppssh/keys/%s -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes '
             '-o UserKnownHostsFile=/etc/pppssh/known_hosts %s@%s </dev/null >/tmp/pppssh-fwd.log 2>&1 &) ; true'
             % (guest.name, account(guest), FSERVER.ip))
    time.sleep(4)
    banner = guest.out("timeout 4 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2222 && head -c 40 <&3' 2>&1; true")
    agent = FSERVER.out("find /tmp -name 'agent.*' -user %s 2>/dev/null; "
                        "grep -l SSH_AUTH_SOCK /proc/[0-9]*/environ 2>/dev/null | head; true" % account(guest))
    guest.sh('sleep 9; kill $(cat /tmp/pppssh-agent/pid); rm -rf /tmp/pppssh-agent; true', timeout=60)
    assert 'SSH-2.0' not in banner, banner
    assert agent.strip() == '', agent
    assert_single_link(guest)


@pytest.mark.parametrize('guest', CLIENTS, ids=IDS)
def test_each_account_may_sudo_only_its_own_session(fleet, guest):
    listing = FSERVER.out('runuser -u %s -- sudo -n -l' % account(guest))
    commands = listing.split('may run the following commands', 1)[1]
    lines = sorted(line.strip() for line in commands.splitlines()[1:] if line.strip())
    assert lines == ['(root) NOPASSWD: /usr/local/sbin/pppssh-session %s' % guest.name], listing


@pytest.mark.parametrize('words', [
    'plugin /tmp/evil.so',
    'call pppssh-fclient1 plugin /tmp/evil.so',
    'call pppssh-fclient1 connect /bin/sh',
    'file /tmp/options',
    'call pppssh-fclient1 file /tmp/options',
    'pty /bin/sh',
    'call ../../../tmp/x',
    'call pppssh-fclient1 call pppssh-fclient2',
], ids=lambda words: words.split()[-2] if words.startswith('call pppssh') else words.split()[0])
def test_sudo_refuses_other_pppd_options(fleet, words):
    FSERVER.sh("printf 'connect /bin/true\\n' > /tmp/options; chmod 644 /tmp/options")
    result = FSERVER.sh('runuser -u %s -- sudo -n /usr/sbin/pppd %s' % (account(FCLIENT1), words), check=False)
    assert result.returncode != 0
    assert re.search(r'not allowed|a password is required', result.stderr), result.stderr


def test_client_a_key_cannot_bring_up_client_b_addresses(fleet):
    a, b = FCLIENT1, FCLIENT2
    b_remote, b_local = server_end(b)
    b_server_pids = server_link_pids(b.name)
    # With A's key, ask the server for B's peers file and B's addresses.
    args = fleet.link_args(a, name='steal', local_ip=b_local, remote_ip=b_remote, supervisor='pppd',
                           remote_command='sudo -n /usr/sbin/pppd call pppssh-%s' % b.name, connect_timeout=15)
    result = fleet.module(a, args)
    try:
        assert result.get('failed') is True, result
        assert result['state'] == 'down'
        assert a.sh('test -e /sys/class/net/ppp-steal', check=False).returncode != 0
        # The server never ran B's pppd for A, and B's link is the one it was.
        assert server_link_pids(b.name) == b_server_pids
        holders = FSERVER.out('ip -4 -o addr | grep -w "peer %s" | cut -d" " -f2; true' % b_local).split()
        assert holders == ['ppp-%s' % b.name], holders
        assert wait_working(b, 30) is not None
    finally:
        fleet.module(a, {'name': 'steal', 'state': 'absent'})
        a.sh('rm -f /var/log/pppssh/steal.log /run/pppssh/steal.lock /run/pppssh/steal.pid')
    wait_working(a, 120)
    assert_single_link(a)


CLIENT_FILES = {
    '/etc/pppssh': ('root', 'root', '700'),
    '/etc/pppssh/keys': ('root', 'root', '700'),
    '/etc/pppssh/keys/{name}': ('root', 'root', '600'),
    '/etc/pppssh/keys/{name}.pub': ('root', 'root', '644'),
    '/etc/pppssh/known_hosts': ('root', 'root', '644'),
    '/etc/ppp/peers/pppssh-{name}': ('root', 'dip', '600'),  # group of Debian's setgid /etc/ppp/peers
    '/var/log/pppssh': ('root', 'root', '750'),
}
SERVER_FILES = {
    '/etc/pppssh': ('root', 'root', '755'),
    '/etc/pppssh/server-allocations.json': ('root', 'root', '600'),
    '/etc/pppssh/authorized_keys': ('root', 'root', '755'),
    '/etc/pppssh/authorized_keys/pppssh-{name}': ('root', 'root', '644'),
    '/etc/sudoers.d/pppssh': ('root', 'root', '440'),
    '/etc/ssh/sshd_config.d/00-pppssh.conf': ('root', 'root', '644'),
    '/var/lib/pppssh': ('root', 'root', '755'),
    '/etc/ppp/peers/pppssh-{name}': ('root', 'root', '600'),
}


def stat(guest, path):
    owner, group, mode = guest.out('stat -c "%%U %%G %%a" %s' % path).split()
    return owner, group, mode


@pytest.mark.parametrize('guest', (FSERVER,) + CLIENTS, ids=['fserver'] + IDS)
def test_files_are_root_owned_with_narrow_modes(fleet, guest):
    if guest is FSERVER:
        wanted = {}
        for client in CLIENTS:
            wanted.update((path.format(name=client.name), want) for path, want in SERVER_FILES.items())
    else:
        wanted = dict((path.format(name=guest.name), want) for path, want in CLIENT_FILES.items())
        if guest.out('cat /proc/1/comm').strip() == 'systemd':
            wanted['/etc/systemd/system/pppssh@.service'] = ('root', 'root', '644')
    found = dict((path, stat(guest, path)) for path in wanted)
    assert found == wanted
    # Nothing pppssh wrote is writable by anyone but root.
    loose = guest.out('find /etc/pppssh /etc/ppp/peers /var/log/pppssh /var/lib/pppssh /etc/sudoers.d '
                      '\\( -perm -o+w -o -perm -g+w -o ! -user root \\) -print 2>/dev/null; true')
    assert loose.strip() == '', loose


def test_no_private_key_in_ansible_output(fleet):
    if not fleet.stdout:
        pytest.skip('the fleet was not deployed in this session (PPPSSH_REUSE_GUESTS=deployed)')
    assert 'PRIVATE KEY' not in fleet.stdout
    for guest in CLIENTS:
        key = guest.out('cat /etc/pppssh/keys/%s' % guest.name)
        body = [line for line in key.splitlines() if line and not line.startswith('-----')]
        assert body
        for line in body:
            assert line[:40] not in fleet.stdout, '%s private key material in the site.yml output' % guest.name


def test_changed_host_key_is_refused_with_the_cause_named(fleet):
    guest = FCLIENT2
    args = fleet.link_args(guest)
    FSERVER.sh('cp -a /etc/ssh/ssh_host_ed25519_key /root/hk.bak && cp -a /etc/ssh/ssh_host_ed25519_key.pub '
               '/root/hk.pub.bak && rm -f /etc/ssh/ssh_host_ed25519_key* && '
               'ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key && kill -HUP $(cat /run/sshd.pid)')
    try:
        time.sleep(1)
        result = fleet.module(guest, dict(args, state='restarted'))
        assert result.get('failed') is True, result
        assert result['cause'] == 'host_key_changed', result
        assert 'host key' in result['msg'] and 'Fix:' in result['msg'], result['msg']
        assert result['state'] == 'down'
        guest.wait_for(lambda: not guest.processes('pppd') and not guest.processes('ssh'), 15, 'nothing left')
        status = fleet.status(guest)
        assert status['state'] == 'down' and status['cause'] == 'host_key_changed', status
        # The pinned key was not replaced behind the operator's back.
        assert FSERVER.out('cut -d" " -f2 /root/hk.pub.bak').strip() in guest.out('cat /etc/pppssh/known_hosts')
    finally:
        FSERVER.sh('mv -f /root/hk.bak /etc/ssh/ssh_host_ed25519_key && mv -f /root/hk.pub.bak '
                   '/etc/ssh/ssh_host_ed25519_key.pub && kill -HUP $(cat /run/sshd.pid)')
        time.sleep(1)
    result = fleet.module(guest, args)
    assert result.get('failed') is not True and result['state'] == 'up', result
    assert_single_link(guest)
