"""A client Ansible does not manage (issue 15, "Peers outside the inventory, and client bundles"):
the server lists it in pppssh_server_static_clients, playbooks/export_client.yml writes its bundle on
the controller, and the unmanaged guest, which is never in the inventory, brings the link up with
what the bundle holds: the HOWTO-style vpn-pppssh script, then separately `pppd call` with the
exported peers file. Pings cross both ways. Removed from the list, its session ends and its account
is refused, while a managed client that did not run (--limit) keeps its link. The bundle of that
managed client holds byte for byte the peers file and known_hosts line its role wrote.

Guests (names x*, addresses 192.168.213.190-199 only; test_site_playbook has the s* names):
  xserver   .190  the pppssh server (site.yml, one converge)
  xclient   .191  the unmanaged client: its key is made on it, the bundle is copied onto it by ssh
  xmanaged  .192  a managed client of the same server (shell init: its role runs supervisor pppd)

PPPSSH_KEEP_GUESTS=1 keeps the guests after the module.
"""
import json
import os
import re
import subprocess
import time

import pytest

from guests import REPO, RIG_DIR, Guest, booted, failures, merge_figures, run_playbook_output

SSERVER = Guest('xserver', '192.168.213.190')
SCLIENT = Guest('xclient', '192.168.213.191')
SMANAGED = Guest('xmanaged', '192.168.213.192')
NAME = 'xclient'
ACCOUNT = 'pppssh-%s' % NAME
SITE = os.path.join(REPO, 'playbooks', 'site.yml')
EXPORT = os.path.join(REPO, 'playbooks', 'export_client.yml')
TIMINGS = os.path.join(REPO, 'tests', 'output', 'integration-timings.json')
SSH = ['ssh', '-F', '/dev/null', '-i', os.path.join(RIG_DIR, 'id_ed25519'), '-l', 'root', '-o', 'IdentitiesOnly=yes',
       '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
       '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10']
RTT_RE = re.compile(r'(\d+) received.*?= [\d.]+/([\d.]+)/', re.S)


def write_inventory(path, static_clients):
    """The server and the managed client: the unmanaged one is in no group, only in the server's static list."""
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {
            'pppssh_servers': {'hosts': {SSERVER.name: {'ansible_host': SSERVER.ip,
                                                        'pppssh_server_static_clients': static_clients}}},
            'pppssh_clients': {'hosts': {SMANAGED.name: {'ansible_host': SMANAGED.ip}}},
        }}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


def put(guest, path, content, mode):
    """Copy a bundle file onto the guest over plain ssh (the guest is in no inventory)."""
    proc = subprocess.run(SSH + [guest.ip, 'umask 077; cat > %s && chmod %s %s' % (path, mode, path)], input=content,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def ping(source, address, count=3):
    """(replies, average rtt in ms) of a ping from ``source`` across the link."""
    out = source.out('ping -n -q -c %d -W 2 %s; true' % (count, address), timeout=60)
    found = RTT_RE.search(out)
    return (int(found.group(1)), float(found.group(2))) if found else (0, None)


def assert_pings_both_ways(state, figures, how):
    """Three replies each way across the unmanaged client's link; the average rtts into ``figures``."""
    out, back = ping(SCLIENT, state['server_ip']), ping(SSERVER, state['client_ip'])
    figures.update({'static_%s_ping_to_server_ms' % how: out[1], 'static_%s_ping_to_client_ms' % how: back[1]})
    print('%s: %s -> %s %s; %s -> %s %s' % (how, SCLIENT.name, state['server_ip'], out, SSERVER.name,
                                            state['client_ip'], back))
    assert out[0] == 3 and back[0] == 3, (out, back)


def wait_ping(source, address, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ping(source, address, 1)[0] == 1:
            return
        time.sleep(1)
    raise AssertionError('%s: no ping reply from %s within %d s' % (source.name, address, timeout))


def server_session(name=NAME, account=ACCOUNT):
    """(main pppd pids of the link, found by cmdline, ppp-NAME present, pids of the account) on the server.
    With notty, pppd forks a character-shunt child (also a pppd): only the main pppd is counted."""
    text = SSERVER.out('ps -e -o pid=,ppid=,comm=,args=; echo IFACE $(test -e /sys/class/net/ppp-{n} && echo yes); '
                       'echo ACCOUNT $(pgrep -u {a} 2>/dev/null)'.format(n=name, a=account))
    procs, interface, account = {}, False, []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ['IFACE']:
            interface = words[1:] == ['yes']
        elif words[:1] == ['ACCOUNT']:
            account = words[1:]
        elif len(words) >= 3 and words[0].isdigit():
            procs[int(words[0])] = (int(words[1]), words[2], words[3:])
    pids = [pid for pid, (ppid, comm, args) in procs.items()
            if comm == 'pppd' and procs.get(ppid, (0, ''))[1] != 'pppd' and args[-2:] == ['call', 'pppssh-' + name]]
    return sorted(pids), interface, account


def client_pppd():
    return SCLIENT.out("pgrep -x pppd; true").split()


@pytest.fixture(scope='module')
def deployed(tmp_path_factory):
    work = tmp_path_factory.mktemp('static')
    figures = {}
    with booted([SSERVER, SCLIENT, SMANAGED]):
        # The private key is made on the unmanaged client and never leaves it; the server gets its public key.
        SCLIENT.sh("install -d -m 0700 /etc/pppssh /etc/pppssh/keys /var/log/pppssh /run/pppssh && "
                   "ssh-keygen -q -t ed25519 -N '' -C me@xclient -f /etc/pppssh/keys/%s" % NAME)
        pubkey = SCLIENT.out('cat /etc/pppssh/keys/%s.pub' % NAME).strip()
        static = [{'name': NAME, 'pubkey': pubkey}]
        inventory = write_inventory(str(work / 'inventory.json'), static)
        report, seconds, _out = run_playbook_output(inventory, SITE)
        assert failures(report) == [], failures(report)
        figures['static_site_first_run_s'] = round(seconds, 1)
        dest = work / 'bundles'
        report, seconds, _out = run_playbook_output(inventory, EXPORT, ['-e', 'client=%s' % NAME, '-e', 'dest=%s' % dest])
        assert failures(report) == [], failures(report)
        figures['static_export_s'] = round(seconds, 1)
        bundle = dict((path.name, path.read_text()) for path in (dest / NAME).iterdir())
        # The managed client's role ran with supervisor "auto", which is pppd on a shell-init guest.
        report, _seconds, _out = run_playbook_output(inventory, EXPORT, ['-e', 'client=%s' % SMANAGED.name, '-e',
                                                                         'dest=%s' % dest, '-e', 'supervisor=pppd'])
        assert failures(report) == [], failures(report)
        managed = dict((path.name, path.read_text()) for path in (dest / SMANAGED.name).iterdir())
        yield {'work': work, 'inventory': inventory, 'bundle': bundle, 'managed': managed, 'pubkey': pubkey,
               'figures': figures}
    merge_figures(TIMINGS, figures)


def test_the_bundle_holds_the_links_files_and_no_private_key(deployed):
    bundle = deployed['bundle']
    assert sorted(bundle) == sorted(['known_hosts', 'pppssh-%s' % NAME, 'pppssh@.service', 'vpn-pppssh',
                                     'openwrt-network', 'README'])
    private = SCLIENT.out('cat /etc/pppssh/keys/%s' % NAME)
    assert 'PRIVATE KEY' in private
    for name, text in bundle.items():
        assert 'PRIVATE KEY' not in text and private.splitlines()[1] not in text, name
    host_key = SSERVER.out('cat /etc/ssh/ssh_host_ed25519_key.pub').split()
    assert bundle['known_hosts'] == '%s %s %s\n' % (SSERVER.ip, host_key[0], host_key[1])
    state = json.loads(SSERVER.out('cat /etc/pppssh/server-allocations.json'))['clients'][NAME]
    assert state['static'] is True and state['pubkey'] == ' '.join(deployed['pubkey'].split()[:2])
    assert 'CLIENT_IFIPADDR=%s' % state['client_ip'] in bundle['vpn-pppssh'].splitlines()
    assert "\toption peeraddr '%s'" % state['server_ip'] in bundle['openwrt-network'].splitlines()
    assert deployed['pubkey'].split()[1] in bundle['README']


def test_a_managed_clients_bundle_holds_what_its_role_wrote(deployed):
    managed = deployed['managed']
    name = SMANAGED.name
    assert managed['pppssh-%s' % name] == SMANAGED.out('cat /etc/ppp/peers/pppssh-%s' % name)
    assert managed['known_hosts'] == SMANAGED.out('cat /etc/pppssh/known_hosts')
    assert 'made its key at /etc/pppssh/keys/%s' % name in managed['README']
    assert 'PRIVATE KEY' not in ''.join(managed.values())


def test_the_exported_howto_script_brings_the_link_up_and_down(deployed):
    bundle, figures = deployed['bundle'], deployed['figures']
    state = json.loads(SSERVER.out('cat /etc/pppssh/server-allocations.json'))['clients'][NAME]
    put(SCLIENT, '/etc/pppssh/known_hosts', bundle['known_hosts'], '0644')
    put(SCLIENT, '/usr/local/bin/vpn-pppssh', bundle['vpn-pppssh'], '0755')
    started = time.time()
    # updetach: pppd returns once the link is up (its stdio detached, or it would never return over ssh).
    SCLIENT.sh('vpn-pppssh start </dev/null >/root/howto.log 2>&1', timeout=120)
    wait_ping(SCLIENT, state['server_ip'], 30)
    figures['static_howto_up_s'] = round(time.time() - started, 1)
    assert_pings_both_ways(state, figures, 'howto')
    assert len(server_session()[0]) == 1
    assert 'disconnected.' in SCLIENT.out('vpn-pppssh stop')
    SCLIENT.wait_for(lambda: client_pppd() == [], 20, 'the HOWTO link stopped')
    SSERVER.wait_for(lambda: server_session()[0] == [], 30, 'the server end ended')


def test_the_exported_peers_file_brings_the_link_up_with_pppd_call(deployed):
    bundle, figures = deployed['bundle'], deployed['figures']
    state = json.loads(SSERVER.out('cat /etc/pppssh/server-allocations.json'))['clients'][NAME]
    assert client_pppd() == []
    put(SCLIENT, '/etc/ppp/peers/pppssh-%s' % NAME, bundle['pppssh-%s' % NAME], '0600')
    started = time.time()
    SCLIENT.sh('pppd call pppssh-%s </dev/null >/dev/null 2>&1' % NAME, timeout=60)
    wait_ping(SCLIENT, state['server_ip'], 60)
    figures['static_peers_up_s'] = round(time.time() - started, 1)
    assert_pings_both_ways(state, figures, 'peers')
    # The interface and both addresses are the ones the server allocated, from the exported file.
    addresses = SCLIENT.out('ip -4 -o addr show dev ppp-%s' % NAME)
    assert '%s peer %s' % (state['client_ip'], state['server_ip']) in addresses, addresses
    assert len(server_session()[0]) == 1


def test_removed_from_the_list_its_session_ends_and_its_account_is_refused(deployed):
    assert len(server_session()[0]) == 1, 'the peers file link of the previous test is not up'
    managed_before = server_session(SMANAGED.name, 'pppssh-%s' % SMANAGED.name)[0]
    assert len(managed_before) == 1
    inventory = write_inventory(str(deployed['work'] / 'removed.json'), [])
    # Only the server runs: the managed client did not run, and keeps its entry and its link.
    report, seconds, _out = run_playbook_output(inventory, SITE, ['--limit', SSERVER.name])
    assert failures(report) == [], failures(report)
    deployed['figures']['static_site_removal_s'] = round(seconds, 1)
    pids, interface, account_pids = server_session()
    assert pids == [] and not interface and account_pids == [], (pids, interface, account_pids)
    assert SSERVER.sh('getent passwd %s' % ACCOUNT, check=False).returncode != 0
    assert SSERVER.sh('test -e /etc/ppp/peers/pppssh-%s || test -e /etc/pppssh/authorized_keys/%s'
                      % (NAME, ACCOUNT), check=False).returncode != 0
    clients = json.loads(SSERVER.out('cat /etc/pppssh/server-allocations.json'))['clients']
    assert NAME not in clients and SMANAGED.name in clients, clients
    assert server_session(SMANAGED.name, 'pppssh-%s' % SMANAGED.name)[0] == managed_before
    assert ping(SMANAGED, clients[SMANAGED.name]['server_ip'])[0] == 3
    # The client's pppd (persist) keeps dialling, and is refused: no address on its link, no session.
    SCLIENT.wait_for(lambda: SCLIENT.out('ip -4 -o addr show dev ppp-%s 2>/dev/null; true' % NAME).strip() == '',
                     30, 'the link down on the client')
    out = SCLIENT.out('timeout 20 ssh -F none -i /etc/pppssh/keys/{n} -o IdentitiesOnly=yes -o BatchMode=yes '
                      '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/pppssh/known_hosts {a}@{s} '
                      '</dev/null 2>&1; true'.format(n=NAME, a=ACCOUNT, s=SSERVER.ip))
    assert 'Permission denied' in out, out
    time.sleep(5)
    assert server_session()[0] == [] and not server_session()[1]
    SCLIENT.sh('pkill -x pppd; true')
