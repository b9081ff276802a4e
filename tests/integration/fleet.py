"""A fleet deployed with playbooks/site.yml, shared by test_faults, test_security and test_bad_input.

Load it with ``pytest_plugins = ['fleet']`` in a test module: the fixtures are then registered
once, so the fleet is booted and deployed once per session whichever of the three files run.

Guests (addresses 192.168.213.60-69 only; PPPSSH_FLEET=g gives gserver/gclient1/gclient2 at .64-.66,
so two groups of modules can each have a fleet at once):
  fserver   .60  shell init    the pppssh server
  fclient1  .61  systemd init  supervisor=systemd (boot unit), for the client-reboot fault
  fclient2  .62  shell init    supervisor=pppd

PPPSSH_KEEP_GUESTS=1 keeps the guests after the session; PPPSSH_REUSE_GUESTS=1 reuses running
ones instead of booting fresh, and PPPSSH_REUSE_GUESTS=deployed also skips the site.yml run
(development only: the tests assume a fresh fleet).
"""
import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from guests import REPO, RIG_DIR, Guest, failures, merge_figures, rig, run_module, run_playbook_output

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
SSH_BASE = ['ssh', '-F', '/dev/null', '-i', os.path.join(RIG_DIR, 'id_ed25519'), '-l', 'root',
            '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5',
            '-o', 'ServerAliveInterval=2', '-o', 'ServerAliveCountMax=3']


class FleetGuest(Guest):
    """A guest reached over one multiplexed ssh connection: a command costs one round trip, not a
    key exchange (the guests are slow, and the fault tests poll them)."""

    def control_path(self):
        return '/tmp/pppssh-fleet-%s.sock' % self.name

    def connect(self):
        """(Re)start the master connection; commands fall back to plain ssh while it is missing."""
        self.disconnect()
        subprocess.run(SSH_BASE + ['-f', '-N', '-M', '-o', 'ControlPath=%s' % self.control_path(), self.ip],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30, check=False)

    def disconnect(self):
        if os.path.exists(self.control_path()):
            subprocess.run(SSH_BASE + ['-o', 'ControlPath=%s' % self.control_path(), '-O', 'exit', self.ip],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)

    def processes(self, comm):
        return sorted(int(pid) for pid in self.out('pgrep -x %s; true' % comm).split())

    def sh(self, script, check=True, timeout=120):
        argv = SSH_BASE + ['-o', 'ControlMaster=no', '-o', 'ControlPath=%s' % self.control_path(), self.ip, script]
        try:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            self.connect()
            raise
        if result.returncode == 255 and not check:
            self.connect()  # the master died (reboot): reconnect for the next call
        if check and result.returncode != 0:
            raise AssertionError('%s: %r failed (%d):\n%s\n%s' % (self.name, script, result.returncode,
                                                                  result.stdout, result.stderr))
        return result


# Two fleets can run at once (make integration runs the fleet modules as two groups):
# PPPSSH_FLEET=f (the default: fserver .60, fclient1 .61, fclient2 .62) or g (gserver .64, ...).
FLEET = os.environ.get('PPPSSH_FLEET', 'f')
_BASE = {'f': 60, 'g': 64}[FLEET]
FSERVER = FleetGuest('%sserver' % FLEET, '192.168.213.%d' % _BASE)
FCLIENT1 = FleetGuest('%sclient1' % FLEET, '192.168.213.%d' % (_BASE + 1))
FCLIENT2 = FleetGuest('%sclient2' % FLEET, '192.168.213.%d' % (_BASE + 2))
CLIENTS = (FCLIENT1, FCLIENT2)
INIT = {FSERVER.name: 'shell', FCLIENT1.name: 'systemd', FCLIENT2.name: 'shell'}
FAULT_TIMINGS = os.path.join(REPO, 'tests', 'output', 'fault-timings.json')
MODULE = 'pppssh.vpn.pppssh_tunnel'


with open(os.path.join(REPO, 'roles', 'pppssh_client', 'defaults', 'main.yml')) as _defaults:
    CLIENT_DEFAULTS = yaml.safe_load(_defaults)
# The documented bound on noticing a dead path: interval x (failures + 1), because pppd sends its
# first unanswered LCP echo up to one interval after the cut (ssh's ServerAlive runs alongside).
KEEPALIVE_WORST_S = (CLIENT_DEFAULTS['pppssh_client_keepalive_interval']
                     * (CLIENT_DEFAULTS['pppssh_client_keepalive_failures'] + 1))


def write_inventory(path, server_vars=None, client_vars=None):
    """site.yml inventory of the fleet; ``client_vars`` maps guest name -> extra host vars."""
    clients = dict((guest.name, {'ansible_host': guest.ip}) for guest in CLIENTS)
    for name, extra in (client_vars or {}).items():
        clients[name].update(extra)
    server = dict({'ansible_host': FSERVER.ip}, **(server_vars or {}))
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {
            'pppssh_servers': {'hosts': {FSERVER.name: server}},
            'pppssh_clients': {'hosts': clients},
        }}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


def _running(name):
    # rig list: NAME IP INIT STATE ... (tab-separated; the state is no longer the last column).
    return any(line.split('\t')[0] == name and 'running' in line.split('\t')[1:]
               for line in rig('list').stdout.splitlines())


def boot_fleet():
    rig('image', timeout=1800)
    rig('net-up')
    reuse = os.environ.get('PPPSSH_REUSE_GUESTS')
    for guest in (FSERVER,) + CLIENTS:
        if reuse and _running(guest.name):
            continue
        rig('destroy', guest.name, check=False)
        rig('start', guest.name, guest.ip, '--init', INIT[guest.name], '--fresh')
    for guest in (FSERVER,) + CLIENTS:
        rig('wait', guest.name, '240')
        guest.connect()


class Fleet(object):
    """The deployed fleet: inventory path, the first site.yml report, helpers."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.inventory = write_inventory(os.path.join(workdir, 'inventory.json'))
        self.report = None
        self.stdout = ''

    def status(self, guest):
        """The module's own report of the guest's link (state=status)."""
        result, _seconds = run_module(self.inventory, guest.name, MODULE, {'name': guest.name, 'state': 'status'})
        assert not result.get('failed'), result
        return result

    def module(self, guest, args, check=False, timeout=300):
        return run_module(self.inventory, guest.name, MODULE, args, check=check, timeout=timeout)[0]

    def link_args(self, guest, **overrides):
        """The module arguments the role used for this link (read back from the peers file)."""
        config = dict(self.status(guest)['config'])
        for key in ('interface', 'peers_file'):
            config.pop(key, None)
        config.update(overrides)
        return dict((key, value) for key, value in config.items() if value is not None)


def site(inventory, extra_args=(), timeout=1800, env=None):
    """Run site.yml; returns (report, seconds, raw stdout) so secrets can be searched in the output."""
    return run_playbook_output(inventory, SITE, extra_args, timeout, env=env)


@pytest.fixture(scope='session')
def fault_timings():
    figures = {}
    yield figures
    merge_figures(FAULT_TIMINGS, figures)


@pytest.fixture(scope='session')
def fleet(tmp_path_factory, fault_timings):
    boot_fleet()
    deployed = Fleet(str(tmp_path_factory.mktemp('fleet')))
    try:
        if os.environ.get('PPPSSH_REUSE_GUESTS') == 'deployed':
            yield deployed  # development only: the fleet is already deployed
            return
        report, seconds, stdout = site(deployed.inventory)
        fault_timings['site_first_run_s'] = round(seconds, 1)
        assert failures(report) == [], failures(report)
        deployed.report, deployed.stdout = report, stdout
        for guest in CLIENTS:
            wait_working(guest, 60)
        yield deployed
    finally:
        for guest in (FSERVER,) + CLIENTS:
            guest.disconnect()
            if not os.environ.get('PPPSSH_KEEP_GUESTS'):
                rig('destroy', guest.name, check=False)


# ---------------------------------------------------------------- link facts, read in the guests

def server_end(guest):
    """The server's tunnel address of a client's link, from the client's peers file."""
    text = guest.out('cat /etc/ppp/peers/pppssh-%s' % guest.name)
    config = json.loads([line for line in text.splitlines() if line.startswith('# pppssh-config: ')][0]
                        .split(': ', 1)[1])
    return config['remote_ip'], config['local_ip']


def pings(guest, timeout=2):
    remote, _local = server_end(guest)
    return guest.sh('ping -n -q -c 1 -W %d %s' % (timeout, remote), check=False, timeout=30).returncode == 0


def wait_working(guest, timeout, poll=0.5):
    """Seconds until a ping crosses the guest's tunnel; AssertionError after ``timeout``."""
    started = time.time()
    while True:
        try:
            if pings(guest, 1):
                return round(time.time() - started, 1)
        except (AssertionError, subprocess.TimeoutExpired):
            pass  # the guest itself may still be booting
        if time.time() - started > timeout:
            raise AssertionError('%s: link not working again within %d s' % (guest.name, timeout))
        time.sleep(poll)


def server_links():
    """{link name: [main pppd pids]} and the ppp interfaces on the server, in one round trip.
    With notty, pppd forks a character-shunt child (also a pppd): only the main pppd is counted."""
    text = FSERVER.out('ps -e -o pid=,ppid=,comm=,args=; echo IFACES $(ls /sys/class/net)')
    procs, interfaces = {}, []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ['IFACES']:
            interfaces = sorted(word for word in words[1:] if word.startswith('ppp'))
        elif len(words) >= 3 and words[0].isdigit():
            procs[int(words[0])] = (int(words[1]), words[2], words[3:])
    pids = {}
    for pid, (ppid, comm, args) in procs.items():
        if comm == 'pppd' and procs.get(ppid, (0, ''))[1] != 'pppd' and 'call' in args[:-1]:
            name = args[args.index('call') + 1].replace('pppssh-', '', 1)
            pids.setdefault(name, []).append(pid)
    return pids, interfaces


def server_link_pids(name):
    """Pids of the server's main pppd for link ``name``, found by cmdline, not by pidfile."""
    return sorted(server_links()[0].get(name, []))


def client_counts(guest):
    """(pppd count, ssh count, ppp interfaces) on a client, in one round trip."""
    words = guest.out('echo $(pgrep -x pppd | wc -l) $(pgrep -x ssh | wc -l) $(ls /sys/class/net | grep ^ppp)').split()
    return int(words[0]), int(words[1]), sorted(words[2:])


def assert_single_link(guest, timeout=90):
    """Exactly one pppd, at most one ssh, one ppp-NAME on the client; one pppd and one ppp-NAME on the server.

    The default wait covers a redial after a streak of quick ones: the dialler then sleeps up to 30 s
    (commands.BACKOFF_SCRIPT) before ssh even starts, and ssh, LCP and IPCP take their time on loaded
    guests. 30 s was not enough in a CI run (the client's pppd was in that sleep: ssh 0).
    """
    expected = 'ppp-%s' % guest.name
    seen = {}

    def good():
        pppd, ssh, interfaces = client_counts(guest)
        pids, server_interfaces = server_links()
        seen.update(client=(pppd, ssh, interfaces), server=(pids.get(guest.name), server_interfaces))
        return (pppd == 1 and ssh <= 1 and interfaces == [expected]
                and len(pids.get(guest.name, [])) == 1 and server_interfaces.count(expected) == 1)

    try:
        guest.wait_for(good, timeout, 'exactly one link')
    except AssertionError:
        raise AssertionError('%s: not exactly one link: client (pppd, ssh, ifaces) %r, server (pppd, ifaces) %r'
                             % (guest.name, seen.get('client'), seen.get('server')))


def link_truth(guest):
    """(link pppd running, ppp-NAME present) in the guest, one round trip."""
    words = guest.out('echo $(pgrep -x pppd | wc -l) $(test -e /sys/class/net/ppp-%s && echo 1 || echo 0)'
                      % guest.name).split()
    return int(words[0]) > 0, words[1] == '1'


def assert_status_truthful(fleet, guest):
    """The module's status agrees with what is true in the guest. The truth may change while the
    status call runs, so it is read just before and just after, and the status must match one of them."""
    before = link_truth(guest)
    result = fleet.status(guest)
    after = link_truth(guest)
    state = result['state']
    allowed = set()
    for running, interface in (before, after):
        allowed.add('down' if not running else ('up' if interface else 'connecting'))
        if running and interface:
            allowed.add('connecting')  # the interface exists before IPCP has set the addresses
    assert state in allowed, (result, before, after)
    if state == 'down':
        assert result['pid'] is None, result
    else:
        assert result['pid'] is not None, result
    if state == 'up':
        assert result['local_ip'] and result['remote_ip'], result
    return result


def wait_link_gone(guests, timeout, since):
    """Poll (one cheap round trip per guest) until each guest's link is down: seconds since
    ``since`` per guest name, None for a guest whose link stayed up. Down means ppp-NAME lost its
    address, not that it is gone: a redialling pppd creates the interface again as soon as it
    starts ssh, and keeps it through ssh's connect timeout and the backoff, long before LCP."""
    gone = {}
    while time.time() - since < timeout and len(gone) < len(guests):
        for guest in guests:
            if guest.name not in gone and not guest.link_addressed():
                gone[guest.name] = round(time.time() - since, 1)
        time.sleep(0.3)
    return dict((guest.name, gone.get(guest.name)) for guest in guests)


def wait_state(fleet, guest, states, timeout, since):
    """Poll the module's status until its state is one of ``states``; seconds since ``since``
    at the start of the first status call that said so (None on timeout)."""
    while time.time() - since < timeout:
        asked = time.time()
        if assert_status_truthful(fleet, guest)['state'] in states:
            return round(asked - since, 1)
        time.sleep(0.5)
    return None


FINGERPRINT = (
    "find /etc/ppp/peers /etc/pppssh /etc/sudoers.d /var/lib/pppssh /etc/ssh/sshd_config.d "
    "/etc/systemd/system/pppssh@.service -type f -printf '%p %u:%g %m %T@ ' -exec sha256sum {} + 2>/dev/null; "
    "getent passwd | grep -E '^(root|vpn|pppssh-[^:]*):'; getent group pppssh; "
    "pgrep -a -x pppd; pgrep -a -x ssh; ls /sys/class/net; ip -4 -o addr; true")


def fingerprint(guests=None):
    """What a failed run must not change, on every host at once: managed files (owner, mode, mtime,
    content), the root and client accounts, pppd and ssh processes, interfaces and addresses."""
    guests = guests or (FSERVER,) + CLIENTS
    with ThreadPoolExecutor(len(guests)) as pool:
        return dict(zip([guest.name for guest in guests], pool.map(lambda guest: guest.out(FINGERPRINT), guests)))


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]
