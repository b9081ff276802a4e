"""The server trusts nothing a client publishes, and no client account reaches another client's link
(issue "The hub trusts nothing a managed host publishes"; review findings H1, H2, M4, L1, L2, L6).

Each test is an attack a compromised client (or a careless inventory) can make, run against the
fleet deployed by playbooks/site.yml. Every one of them passed silently on the code before the
per-client accounts and the Python validation.
"""
import os
import re

import pytest

pytest.register_assert_rewrite('fleet')
from fleet import CLIENTS, FCLIENT1, FCLIENT2, FSERVER, assert_single_link, fingerprint, site, write_inventory  # noqa: E402
from guests import ansible_env, failures  # noqa: E402

pytest_plugins = ['fleet']

HOOKS = '/etc/ppp/ip-up.d /etc/ppp/ip-down.d /etc/pppssh'
INJECTION = '10.77.0.0/24; touch /tmp/pppssh-pwned #'
# A compromised client's interpreter: it runs every module as usual, then adds a forged fact to what
# each module returns (the plays gather no facts; the first module on the client is the roles' host
# read, before the links are resolved). Facts override inventory variables while INJECT_FACTS_AS_VARS
# is on.
FORGING_PYTHON = '/usr/local/bin/python3-forging'
FORGE = r'''
import json, sys
text = sys.stdin.read()
start = text.find('{')
try:
    result = json.loads(text[start:])
except ValueError:
    sys.stdout.write(text)
    sys.exit(0)
if isinstance(result, dict):
    result.setdefault('ansible_facts', {})['pppssh_client_subnets'] = [%r]
sys.stdout.write(json.dumps(result))
''' % INJECTION


def authorized_key_files():
    """{path: [non-comment lines]} of every authorized keys file that can log a client in."""
    listing = FSERVER.out('for f in /etc/pppssh/authorized_keys/* /var/lib/pppssh/.ssh/authorized_keys; do '
                          '[ -f "$f" ] && { echo "== $f"; grep -v "^#" "$f" | grep .; }; done; true')
    files, current = {}, None
    for line in listing.splitlines():
        if line.startswith('== '):
            current = files.setdefault(line[3:], [])
        elif current is not None:
            current.append(line)
    return files


def account_of(guest):
    """The server account whose authorized keys hold this client's key (whatever the code's layout)."""
    blob = guest.out('cut -d" " -f2 /etc/pppssh/keys/%s.pub' % guest.name).strip()
    for path, lines in authorized_key_files().items():
        if any(blob in line for line in lines):
            return 'vpn' if path.startswith('/var/lib/pppssh/') else os.path.basename(path)
    raise AssertionError('no account on the server holds the key of %s' % guest.name)


def refused_run(tmp_path, server_vars=None, client_vars=None, words=(), env=None):
    """site.yml with a bad inventory: it must fail naming ``words`` and change nothing on any host."""
    inventory = write_inventory(str(tmp_path / 'inventory.json'), server_vars, client_vars)
    before = fingerprint()
    report, _seconds, _output = site(inventory, env=env)
    errors = failures(report)
    assert errors, 'site.yml accepted it (rc 0)'
    text = ' '.join(errors)
    for word in words:
        assert word in text, errors
    assert fingerprint() == before, 'the refused run changed something'
    return text


def assert_no_host_holds(text):
    for guest in (FSERVER,) + CLIENTS:
        found = guest.out('grep -rlF -- %s %s 2>/dev/null; true' % ("'%s'" % text, HOOKS)).strip()
        assert found == '', '%s: %s' % (guest.name, found)
        assert guest.sh('test -e /tmp/pppssh-pwned', check=False).returncode != 0, guest.name


def test_every_key_line_is_one_restricted_forced_command_per_client_account(fleet):
    files = authorized_key_files()
    assert sorted(files) == sorted('/etc/pppssh/authorized_keys/pppssh-%s' % g.name for g in CLIENTS), files
    for guest in CLIENTS:
        lines = files['/etc/pppssh/authorized_keys/pppssh-%s' % guest.name]
        assert len(lines) == 1, lines
        # PPPSSH_KEY: the tag of the key, which the session entry point records (key rotation).
        assert re.match(r'restrict,command="PPPSSH_KEY=[0-9a-f]{24} exec sudo -n /usr/local/sbin/pppssh-session %s" '
                        r'ssh-ed25519 ' % guest.name, lines[0]), lines


def install_forging_python(guest):
    guest.sh("cat > /usr/local/lib/pppssh-forge.py <<'EOF'\n%s\nEOF\n"
             "printf '#!/bin/sh\\n/usr/bin/python3 \"$@\" | /usr/bin/python3 /usr/local/lib/pppssh-forge.py\\n' "
             "> %s && chmod 755 %s" % (FORGE, FORGING_PYTHON, FORGING_PYTHON))


def test_a_second_key_line_and_a_subnet_holding_shell_syntax_are_refused(fleet, tmp_path):
    """One run, two attacks: client 1's root appends a key to its .pub; client 2's inventory holds a
    subnet with shell syntax. Each is refused naming its host, and nothing changes on any host."""
    a, b = FCLIENT1, FCLIENT2
    pub = '/etc/pppssh/keys/%s.pub' % a.name
    a.sh("cp -a %s /root/pub.bak && rm -f /root/attacker /root/attacker.pub && "
         "ssh-keygen -q -t ed25519 -N '' -C attacker-shell -f /root/attacker && cat /root/attacker.pub >> %s"
         % (pub, pub))
    try:
        text = refused_run(tmp_path, client_vars={b.name: {'pppssh_client_subnets': [INJECTION]}},
                           words=['%s: %s' % (a.name, pub), 'exactly one line',
                                  '%s: pppssh_client_subnets' % b.name, INJECTION])
        assert 'Fix:' in text
        # The attacker's key opens no account on the server.
        for user in ('pppssh-%s' % a.name, 'vpn'):
            out = a.out('timeout 10 ssh -F none -i /root/attacker -o IdentitiesOnly=yes -o BatchMode=yes '
                        '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/pppssh/known_hosts %s@%s id '
                        '</dev/null 2>&1; true' % (user, FSERVER.ip))
            assert 'uid=' not in out and 'Permission denied' in out, out
    finally:
        a.sh('mv -f /root/pub.bak %s; rm -f /root/attacker /root/attacker.pub' % pub)
    assert_no_host_holds('touch /tmp/pppssh-pwned')
    assert_single_link(a)


def test_a_subnet_forged_through_the_clients_facts_is_refused(fleet, tmp_path):
    guest = FCLIENT2
    install_forging_python(guest)
    try:
        # Ansible's default (facts injected as variables), not the playbooks/ansible.cfg we ship:
        # the forged fact then overrides the inventory, and validation alone must refuse it.
        refused_run(tmp_path, client_vars={guest.name: {'ansible_python_interpreter': FORGING_PYTHON}},
                    words=['%s: pppssh_client_subnets' % guest.name, INJECTION],
                    env=dict(ansible_env(), ANSIBLE_INJECT_FACT_VARS='True'))
    finally:
        guest.sh('rm -f %s /usr/local/lib/pppssh-forge.py' % FORGING_PYTHON)
    assert_no_host_holds('touch /tmp/pppssh-pwned')


def test_overlapping_subnets_are_refused_naming_both_hosts(fleet, tmp_path):
    """Two clients with the same LAN, a client claiming the server's LAN, a client claiming half the
    address space: one run, every case named."""
    a, b = FCLIENT1, FCLIENT2
    text = refused_run(tmp_path, client_vars={
        a.name: {'pppssh_client_subnets': ['192.168.50.0/24']},
        b.name: {'pppssh_client_subnets': ['192.168.50.0/25', '192.168.213.0/24', '0.0.0.0/1']}}, words=[
        '%s: pppssh_client_subnets 192.168.50.0/25 overlaps pppssh_client_subnets 192.168.50.0/24 of client %s'
        % (b.name, a.name),
        '%s: pppssh_client_subnets 192.168.213.0/24 overlaps its network 192.168.213.0/24 of server %s'
        % (b.name, FSERVER.name),
        '%s: pppssh_client_subnets 0.0.0.0/1 overlaps pppssh_server_pool' % b.name])
    assert 'Fix:' in text


def test_client_a_account_cannot_start_client_b_link(fleet):
    a, b = FCLIENT1, FCLIENT2
    user = account_of(a)
    # As if some future bug gave A's key holder a shell on the server.
    for command in ('/usr/sbin/pppd call pppssh-%s' % b.name, '/usr/sbin/pppd call pppssh-%s nodetach' % b.name,
                    '/usr/local/sbin/pppssh-session %s' % b.name, '/usr/local/sbin/pppssh-session --stop %s' % b.name):
        result = FSERVER.sh('runuser -u %s -- sudo -n -l %s' % (user, command), check=False)
        assert result.returncode != 0, '%s may run %s' % (user, command)
    assert FSERVER.sh('runuser -u %s -- sudo -n -l /usr/local/sbin/pppssh-session %s' % (user, a.name),
                      check=False).returncode == 0
    result = FSERVER.sh('runuser -u %s -- sudo -n /usr/sbin/pppd call pppssh-%s' % (user, b.name), check=False)
    assert result.returncode != 0 and re.search(r'not allowed|a password is required', result.stderr), result.stderr
    assert_single_link(b)
