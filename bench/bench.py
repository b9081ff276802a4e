"""pppssh benchmarks: side-by-side measurements on the guest rig (see bench/README.md).

Writes bench/results/latest.json after every section, then bench/report.py renders
latest.md and latest.png. Sections (in priority order): bringup, throughput, latency,
recovery, scale, fleet. BENCH_SECTIONS=bringup,latency limits the run; BENCH_REPS (5)
sets the repetitions of the cheap figures.
"""
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpuprofile  # noqa: E402
import rigbench as rb  # noqa: E402

REPS = int(os.environ.get('BENCH_REPS', '5'))
SECTIONS = os.environ.get('BENCH_SECTIONS',
                          'bringup,throughput,throughput_4mbit,cpu,latency,recovery,scale,fleet').split(',')
KEEP = os.environ.get('BENCH_KEEP_GUESTS')
RESULTS = os.path.join(rb.BENCH, 'results')
LATEST = os.path.join(RESULTS, 'latest.json')
SITE = os.path.join(rb.REPO, 'playbooks', 'site.yml')

SERVER = rb.Guest('bserver', '192.168.213.70')
CLIENTS = [rb.Guest('bclient%d' % i, '192.168.213.%d' % (70 + i)) for i in range(1, 5)]
CLIENT = CLIENTS[0]
HOWTO_USER = 'howto'
HOWTO_PAIR = ('10.99.9.2', '10.99.9.1')         # client, server ends of the HOWTO script's link
VARIANT_PAIR = ('10.99.8.2', '10.99.8.1')       # throughput variants
OUR_LINK = 'bclient1'                           # the product link (site.yml) of bclient1
OUR_PEERS = '/etc/ppp/peers/pppssh-%s' % OUR_LINK
OUTER_RATE_KBIT = 4000
SHAPER_KBIT = 3600                              # ~90% of the outer rate
# Further shaper rates measured beside it (tc by hand, the same qdisc the hook installs): the trade-off.
EXTRA_SHAPER_KBITS = [int(k) for k in os.environ.get('BENCH_EXTRA_SHAPER_KBIT', '').split(',') if k]
LOAD_SECONDS = int(os.environ.get('BENCH_LOAD_SECONDS', '12'))
IPERF_SECONDS = int(os.environ.get('BENCH_IPERF_SECONDS', '5'))
REUSE = os.environ.get('BENCH_REUSE')                                  # debugging: keep the running guests


def load_module_utils(name):
    path = os.path.join(rb.REPO, 'plugins', 'module_utils', name + '.py')
    spec = importlib.util.spec_from_file_location('pppssh_bench_' + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


commands = load_module_utils('commands')
options = load_module_utils('options')


class Results(object):
    def __init__(self):
        self.data = {'machine': rb.machine(), 'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
                     'reps': REPS, 'sections': {}, 'notes': []}
        self.started = time.time()
        if os.environ.get('BENCH_MERGE') and os.path.exists(LATEST):
            # Re-measure some sections into an earlier run's results (each section keeps its own date).
            with open(LATEST) as handle:
                earlier = json.load(handle)
            earlier.setdefault('merged_runs', []).append({'date': self.data['date'], 'sections': SECTIONS,
                                                          'machine': self.data['machine']})
            for name in SECTIONS:
                earlier.get('failed_sections', {}).pop(name, None)
            self.data = earlier
            self.merging = True
        else:
            self.merging = False

    def section(self, name, value):
        value['measured'] = time.strftime('%Y-%m-%d %H:%M:%S %Z')
        self.data['sections'][name] = value
        self.save()

    def save(self):
        if not self.merging:
            self.data['bench_seconds'] = round(time.time() - self.started, 1)
        os.makedirs(RESULTS, exist_ok=True)
        with open(LATEST + '.tmp', 'w') as handle:
            json.dump(self.data, handle, indent=1, sort_keys=True)
        os.replace(LATEST + '.tmp', LATEST)


# ---------------------------------------------------------------- setup

def inventory_path(name):
    os.makedirs(rb.BUILD, exist_ok=True)
    return os.path.join(rb.BUILD, name)


def setup_guest_tools(guests):
    helper = open(os.path.join(rb.BENCH, 'guest', 'upclock.py')).read()
    for guest in guests:
        guest.put('/root/upclock.py', helper, '0755')
        guest.sh('modprobe -a sch_netem sch_cake sch_htb sch_fq_codel')


def setup_howto(server, client):
    """HOWTO 4.1-4.3 on the server (user 'howto', free sudo pppd) and 4.2/5 on the client (root's key,
    the host key known to root, the 5.2 script with its variables filled in)."""
    client.sh('test -s /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519')
    pub = client.out('cat /root/.ssh/id_ed25519.pub').strip()
    server.sh("""set -e
id %(u)s >/dev/null 2>&1 || useradd --create-home --shell /bin/bash %(u)s
passwd -l %(u)s >/dev/null
install -d -m 755 -o root -g %(u)s ~%(u)s/.ssh
echo '%(pub)s' > ~%(u)s/.ssh/authorized_keys
chown root:%(u)s ~%(u)s/.ssh/authorized_keys; chmod 644 ~%(u)s/.ssh/authorized_keys
printf 'Cmnd_Alias VPN=/usr/sbin/pppd\\n%(u)s ALL=NOPASSWD: VPN\\n' > /etc/sudoers.d/howto-vpn
chmod 440 /etc/sudoers.d/howto-vpn; visudo -cf /etc/sudoers.d/howto-vpn >/dev/null
""" % {'u': HOWTO_USER, 'pub': pub})
    host_key = server.out('cat /etc/ssh/ssh_host_ed25519_key.pub').split()
    client.sh("install -d -m 700 /root/.ssh && echo '%s %s %s' > /root/.ssh/known_hosts"
              % (server.ip, host_key[0], host_key[1]))
    script = open(os.path.join(rb.BENCH, 'vpn-pppssh')).read()
    for key, value in (('SERVER_HOSTNAME', server.ip), ('SERVER_USERNAME', HOWTO_USER),
                       ('SERVER_IFIPADDR', HOWTO_PAIR[1]), ('CLIENT_IFIPADDR', HOWTO_PAIR[0])):
        script = script.replace('@%s@' % key, value)
    client.put('/usr/local/bin/vpn-pppssh', script, '0755')


def site_vars(shaper=False):
    if not shaper:
        return None, None
    return ({'pppssh_client_queue_bandwidth': '%dkbit' % SHAPER_KBIT},
            {'pppssh_server_queue_bandwidth': '%dkbit' % SHAPER_KBIT})


def setup_main(results):
    inv = inventory_path('main.json')
    if REUSE and os.path.exists(inv):
        setup_guest_tools([SERVER, CLIENT])
        return inv
    rb.log('booting %s and %s' % (SERVER.name, CLIENT.name))
    t0 = time.time()
    rb.destroy([SERVER] + CLIENTS)
    rb.boot([SERVER, CLIENT], mem='384M')
    boot_s = time.time() - t0
    inv = rb.write_inventory(inventory_path('main.json'), SERVER, [CLIENT])
    report, first = rb.run_playbook(inv, SITE)
    report2, rerun = rb.run_playbook(inv, SITE)
    setup_guest_tools([SERVER, CLIENT])
    setup_howto(SERVER, CLIENT)
    SERVER.sh('iperf3 -s -D')
    setup = {'boot_two_guests_s': round(boot_s, 1), 'site_n1_first_s': round(first, 1),
             'site_n1_rerun_s': round(rerun, 1), 'site_n1_rerun_changed': rb.changed_count(report2)}
    if results.merging:
        results.data['merged_runs'][-1]['setup'] = setup
    else:
        results.data['setup'] = setup
    results.save()
    return inv


def our_link_args(inv):
    """The product link's module arguments, read back from its peers file (status returns its config)."""
    status = rb.run_module(inv, CLIENT.name, 'pppssh.vpn.pppssh_tunnel', {'name': OUR_LINK, 'state': 'status'})[0]
    config = dict(status['config'])
    for key in ('interface', 'peers_file'):
        config.pop(key, None)
    return config


# ---------------------------------------------------------------- link control in the guests

def wait_gone(guest, iface, timeout=20):
    guest.wait_for('! test -e /sys/class/net/%s' % iface, timeout, '%s gone' % iface)


def wait_no_addr(guest, address, timeout=20):
    guest.wait_for("! ip -4 -o addr | grep -q ' %s/'" % re.escape(address).replace('\\', ''),
                   timeout, 'no address %s' % address)


def stop_pidfile_link(name, client_iface=None, server_iface=None, server_addr=None):
    """Stop a link started from a peers file (pidfile /run/ppp-pppssh-NAME.pid) and wait for both ends."""
    CLIENT.sh('p=$(head -1 /run/ppp-pppssh-%s.pid 2>/dev/null) && kill $p; '
              'rm -f /run/pppssh/%s.pid; true' % (name, name))
    wait_gone(CLIENT, client_iface or 'ppp-%s' % name)
    if server_iface:
        wait_gone(SERVER, server_iface)
    if server_addr:
        wait_no_addr(SERVER, server_addr)


def stop_howto():
    CLIENT.sh('/usr/local/bin/vpn-pppssh stop >/dev/null; true')
    wait_no_addr(CLIENT, HOWTO_PAIR[0])
    wait_no_addr(SERVER, HOWTO_PAIR[1])


def stop_ours():
    stop_pidfile_link(OUR_LINK, server_iface='ppp-%s' % OUR_LINK)


def upclock(target, command, timeout=40):
    """In-guest: time from starting ``command`` to the first echo reply from ``target``."""
    argv = ['python3', '/root/upclock.py', 'up', target, str(timeout), '--'] + command
    result = CLIENT.sh(' '.join(shlex.quote(a) for a in argv), check=False, timeout=timeout + 60)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {'first_reply_s': None, 'error': (result.stdout + result.stderr)[-500:]}


def start_howto():
    return upclock(HOWTO_PAIR[1], ['/usr/local/bin/vpn-pppssh', 'start'])


def start_ours():
    return upclock('10.213.0.1', ['/usr/sbin/pppd', 'call', commands.peer_name(OUR_LINK)])


def restart_ours_with_deflate(on):
    """Restart our link with Deflate on (the HOWTO pppd's default) or back to the module's noccp."""
    stop_ours()
    old, new = ('noccp', 'deflate 15') if on else ('deflate 15', 'noccp')
    CLIENT.sh("sed -i 's/^%s$/%s/' %s" % (old, new, OUR_PEERS))
    return start_ours()


def link_up(target):
    return CLIENT.sh('ping -n -q -c 1 -W 3 %s' % target, check=False).returncode == 0


# ---------------------------------------------------------------- 1. bring-up

def bench_bringup(results, inv):
    """In-guest pairs HOWTO / ours (cheap: BENCH_BRINGUP_PAIRS, default 3 x REPS), plus, for REPS of
    them, the module end to end through ansible next to ansible's own floor."""
    args = our_link_args(inv)
    pairs = int(os.environ.get('BENCH_BRINGUP_PAIRS', str(3 * REPS)))
    # Where the time goes: the same link with the classic curve25519 key exchange instead of
    # OpenSSH 9's default post-quantum hybrid (an ssh_options knob, not a default).
    kex_options = dict(args.get('ssh_options') or {}, KexAlgorithms='curve25519-sha256')
    kex = dict(args, name='bkex', state='started', ssh_options=kex_options)
    CLIENT.put('/etc/ppp/peers/pppssh-bkex', commands.peers_file(options.normalise(kex)), '0600')
    runs = {'howto_in_guest': [], 'ours_in_guest': [], 'ours_kex_curve25519_in_guest': [],
            'ours_ansible_to_first_reply': [], 'ours_ansible_call': [], 'ansible_ping_floor': [],
            'howto_script_exit': [], 'ours_pppd_call_exit': []}
    errors, failures = [], []
    for rep in range(pairs):
        rb.log('bringup pair %d/%d' % (rep + 1, pairs))
        stop_ours()
        order = ['howto', 'ours', 'kex'] if rep % 2 == 0 else ['kex', 'ours', 'howto']
        if rep < REPS:
            order.insert(rep % 4, 'ansible')
        for what in order:
            if what == 'howto':
                got = start_howto()
                runs['howto_in_guest'].append(got.get('first_reply_s'))
                runs['howto_script_exit'].append(got.get('cmd_exit_s'))
                stop_howto()
            elif what == 'ours':
                got = start_ours()
                runs['ours_in_guest'].append(got.get('first_reply_s'))
                runs['ours_pppd_call_exit'].append(got.get('cmd_exit_s'))
                stop_ours()
            elif what == 'kex':
                got = upclock('10.213.0.1', ['/usr/sbin/pppd', 'call', 'pppssh-bkex'])
                runs['ours_kex_curve25519_in_guest'].append(got.get('first_reply_s'))
                stop_pidfile_link('bkex', server_iface='ppp-%s' % OUR_LINK)
            else:
                pinger = CLIENT.popen('python3 /root/upclock.py wait 10.213.0.1 90')
                clock = rb.LineClock(pinger)
                if clock.wait_line('ready', 60) is None:
                    errors.append('pinger did not start')
                    continue
                t0 = time.time()
                try:
                    result, elapsed = rb.run_module(inv, CLIENT.name, 'pppssh.vpn.pppssh_tunnel',
                                                    dict(args, state='started'))
                except RuntimeError as exc:   # a failed start is a data point, not the end of the section
                    errors.append('pair %d: module start failed: %s' % (rep + 1, str(exc)[-300:]))
                    failures.append(rep + 1)
                    pinger.kill()
                    stop_ours()
                    continue
                reply = clock.wait_line('reply', 60)
                pinger.wait()
                runs['ours_ansible_call'].append(elapsed)
                runs['ours_ansible_to_first_reply'].append(reply - t0 if reply else None)
                if result.get('state') != 'up':
                    errors.append('module returned state %s' % result.get('state'))
                floor = rb.run_module(inv, CLIENT.name, 'ansible.builtin.ping', None)[1]
                runs['ansible_ping_floor'].append(floor)
                stop_ours()
        if None in runs['howto_in_guest'] + runs['ours_in_guest']:
            errors.append('a bring-up got no ping reply (pair %d)' % (rep + 1))
    ratios = [o / h for o, h in zip(runs['ours_in_guest'], runs['howto_in_guest']) if o and h]
    kex_ratios = [k / o for k, o in zip(runs['ours_kex_curve25519_in_guest'], runs['ours_in_guest']) if k and o]
    under_2s = [o for o in runs['ours_in_guest'] if o is not None and o < 2.0]
    section = {'runs': runs, 'stats': dict((k, rb.stats(v)) for k, v in runs.items()), 'pairs': pairs,
               'ratio_ours_over_howto': rb.stats(ratios), 'ratio_kex_over_ours': rb.stats(kex_ratios),
               'ours_under_2s': '%d of %d' % (len(under_2s), len(runs['ours_in_guest'])), 'errors': errors,
               'module_start_failures': failures}
    results.section('bringup', section)
    # leave the product link up for the next sections
    start_ours()


# ---------------------------------------------------------------- 2. throughput

def variant_config(name, client_lines=(), server_args='', **params):
    base = {'name': name, 'state': 'started', 'server': SERVER.ip, 'user': HOWTO_USER,
            'identity_file': '/root/.ssh/id_ed25519', 'known_hosts_file': '/root/.ssh/known_hosts',
            'local_ip': VARIANT_PAIR[0], 'remote_ip': VARIANT_PAIR[1], 'persist': False,
            'remote_command': ('sudo -n /usr/sbin/pppd nodetach notty noauth ifname ppp-%s %s'
                               % (name, server_args)).strip()}
    base.update(params)
    config = options.normalise(base)
    text = commands.peers_file(config) + ''.join(line + '\n' for line in client_lines)
    return text


# name: (description, client pppd lines, server pppd args, module params)
VARIANTS = [
    ('default', 'module defaults (what pppssh_tunnel renders today)', (), '', {}),
    ('asyncmap0', 'asyncmap 0 on both ends (no control-character escaping)', ('asyncmap 0',), 'asyncmap 0', {}),
    ('sync', 'sync framing on both ends (ppp_synctty, no HDLC escaping or FCS)', ('sync',), 'sync', {}),
    ('mtu4000', 'asyncmap 0 + mtu/mru 4000 on both ends', ('asyncmap 0',), 'asyncmap 0 mtu 4000 mru 4000',
     {'mtu': 4000, 'mru': 4000}),
    ('deflate', 'PPP deflate compression (module compression=deflate)', (), 'deflate 15 nobsdcomp',
     {'compression': 'deflate'}),
    ('sshcomp', 'ssh Compression=yes', (), '', {'ssh_options': {'Compression': 'yes'}}),
    ('aesgcm', 'ssh Ciphers=aes128-gcm@openssh.com', (), '', {'ssh_options': {'Ciphers': 'aes128-gcm@openssh.com'}}),
    ('aesgcmam0', 'asyncmap 0 + aes128-gcm', ('asyncmap 0',), 'asyncmap 0',
     {'ssh_options': {'Ciphers': 'aes128-gcm@openssh.com'}}),
]


TX = 'cat /sys/class/net/eth0/statistics/tx_bytes'


def iperf(target, seconds, streams=1, omit=1):
    """iperf3 client -> server; also the bytes eth0 sent per payload byte (wire overhead)."""
    out = CLIENT.sh('a=$(%s); iperf3 -c %s -t %d -O %d -P %d -J > /tmp/bench-iperf.json; b=$(%s); '
                    'echo "WIRE $((b - a))"; cat /tmp/bench-iperf.json'
                    % (TX, target, seconds, omit, streams, TX), check=False, timeout=seconds + 90).stdout
    wire, out = out.partition('\n')[::2]
    try:
        report = json.loads(out)
    except ValueError:
        return {'error': out[-300:]}
    if 'error' in report and 'end' not in report:
        return {'error': report['error']}
    end = report['end']
    sent = sum(i['sum']['bytes'] for i in report.get('intervals', []))
    return {'mbit': end['sum_received']['bits_per_second'] / 1e6,
            'streams_mbit': [s['receiver']['bits_per_second'] / 1e6 for s in end.get('streams', [])],
            'retransmits': end.get('sum_sent', {}).get('retransmits'),
            'wire_per_byte': int(wire.split()[1]) / float(sent) if wire.startswith('WIRE') and sent else None}


RAW_SSH_START = ("setsid sh -c \"dd if=/dev/zero bs=64k | ssh -T -o BatchMode=yes %(extra)s %(user)s@%(server)s "
                 "'dd of=/dev/null bs=64k'\" >/dev/null 2>&1 </dev/null & echo $! > /tmp/bench-raw.pid")
# On the server: the bytes its dd read (delivered through ssh) between two readings, by its clock.
RAW_SSH_READ = r"""p=$(pgrep -n -x dd -u %(user)s) || exit 1
r1=$(awk '/^rchar/ {print $2}' /proc/$p/io); s=$(date +%%s%%N)
sleep %(seconds)d
r2=$(awk '/^rchar/ {print $2}' /proc/$p/io); e=$(date +%%s%%N)
echo "RAW $r1 $r2 $s $e"
"""


def raw_ssh(seconds, cipher=None, warmup=3):
    """(Mbit/s, eth0 bytes per payload byte) of a plain ssh stream client -> server (the same user,
    key and host key) in its steady state, like iperf3's receiver figure: the bytes the server's dd
    read between two readings after a warm-up, by the server's clock. Timing a whole short
    transfer instead (the first version) counted ssh's 3-4 s session start and read about a fifth
    of the real rate; counting what the client wrote over-reads while its socket buffer grows."""
    args = {'extra': '-o Ciphers=%s' % cipher if cipher else '', 'user': HOWTO_USER, 'server': SERVER.ip,
            'seconds': seconds}
    CLIENT.sh(RAW_SSH_START % args)
    try:
        time.sleep(warmup)
        tx1 = int(CLIENT.out(TX))
        out = SERVER.sh(RAW_SSH_READ % args, check=False, timeout=seconds + 60).stdout
        tx2 = int(CLIENT.out(TX))
    finally:
        CLIENT.sh('pkill -P $(cat /tmp/bench-raw.pid); sleep 1; true')
    found = re.search(r'RAW (\d+) (\d+) (\d+) (\d+)', out)
    if not found:
        return None, None
    r1, r2, s, e = (int(x) for x in found.groups())
    if r2 <= r1 or e <= s:
        return None, None
    # eth0 bytes over the same window, roughly (read from the host around the server's window)
    return (r2 - r1) * 8 / ((e - s) / 1e9) / 1e6, (tx2 - tx1) / float(r2 - r1)


def bench_throughput(results, bound=False):
    """CPU-bound (plain rig network) or, with ``bound``, bandwidth-bound (netem 4 mbit on both NICs)."""
    wanted = os.environ.get('BENCH_VARIANTS')
    names = [v[0] for v in VARIANTS] + ['ours_shipped', 'howto_script', 'raw_ssh', 'raw_ssh_aes128gcm']
    if bound:
        names = ['default', 'howto_script', 'raw_ssh']
    if wanted:
        names = [n for n in names if n in wanted.split(',')]
    variants = [v for v in VARIANTS if v[0] in names]
    seconds = 8 if bound else IPERF_SECONDS
    figures = dict((name, []) for name in names)
    wire = dict((name, []) for name in names)
    errors = []
    for name, _d, client_lines, server_args, params in variants:
        CLIENT.put('/etc/ppp/peers/pppssh-tp%s' % name[:8],
                   variant_config('tp%s' % name[:8], client_lines, server_args, **params), '0600')
    if bound:
        netem(True)
    try:
        for rep in range(REPS):
            rb.log('throughput%s rep %d/%d' % (' (4 mbit outer link)' if bound else '', rep + 1, REPS))
            order = names[rep % len(names):] + names[:rep % len(names)]
            for what in order:
                got = {}
                if what in ('raw_ssh', 'raw_ssh_aes128gcm'):
                    cipher = 'aes128-gcm@openssh.com' if what == 'raw_ssh_aes128gcm' else None
                    mbit, per_byte = raw_ssh(seconds, cipher)
                    got = {'mbit': mbit, 'wire_per_byte': per_byte}
                elif what == 'ours_shipped':
                    if not link_up('10.213.0.1'):
                        start_ours()
                    for guest in (CLIENT, SERVER):   # as shipped: no queue option set
                        guest.sh('tc qdisc del dev ppp-%s root 2>/dev/null; true' % OUR_LINK)
                    got = iperf('10.213.0.1', seconds)
                elif what == 'howto_script':
                    stop_ours()
                    start_howto()
                    got = iperf(HOWTO_PAIR[1], seconds)
                    stop_howto()
                    start_ours()
                else:
                    link = 'tp%s' % what[:8]
                    up = upclock(VARIANT_PAIR[1], ['/usr/sbin/pppd', 'call', 'pppssh-' + link], timeout=25)
                    got = iperf(VARIANT_PAIR[1], seconds) if up.get('first_reply_s') else {'error': 'no link'}
                    try:
                        stop_pidfile_link(link, server_iface='ppp-' + link)
                    except RuntimeError as exc:
                        errors.append('%s: stop: %s' % (what, exc))
                        CLIENT.sh('p=$(head -1 /run/ppp-pppssh-%s.pid) && kill -9 $p; true' % link)
                        SERVER.sh('for p in $(pgrep -x pppd); do grep -q ppp-%s /proc/$p/cmdline && kill $p; done; '
                                  'true' % link)
                        time.sleep(3)
                if 'error' in got:
                    errors.append('%s rep %d: %s' % (what, rep + 1, got['error']))
                figures[what].append(got.get('mbit'))
                wire[what].append(got.get('wire_per_byte'))
    finally:
        if bound:
            netem(False)
    labels = dict((v[0], v[1]) for v in variants)
    section = {'mbit': dict((k, rb.stats(v)) for k, v in figures.items()), 'runs': figures,
               'wire_per_byte': dict((k, rb.stats(v)) for k, v in wire.items()), 'wire_runs': wire,
               'variants': labels, 'names': names, 'errors': errors, 'iperf_seconds': seconds}
    # per-rep ratios against the raw ssh stream of the same rep
    section['ratio_stats'] = dict(
        (k, rb.stats([a / b for a, b in zip(v, figures.get('raw_ssh', [])) if a and b])) for k, v in figures.items())
    if bound:
        section['outer'] = 'netem delay 20ms rate %dkbit on eth0 of both guests' % OUTER_RATE_KBIT
        section['of_outer_rate'] = dict((k, rb.stats([x * 1000.0 / OUTER_RATE_KBIT for x in v if x]))
                                        for k, v in figures.items())
    results.section('throughput_4mbit' if bound else 'throughput', section)


def bench_cpu(results):
    """Where the CPU goes: our link (as shipped, then with Deflate), the HOWTO link, a raw ssh stream."""
    cases = {
        'ours_shipped': ('iperf3 -c 10.213.0.1 -t 30', 'pkill -x iperf3'),
        'howto_script': ('iperf3 -c %s -t 30' % HOWTO_PAIR[1], 'pkill -x iperf3'),
        'raw_ssh': ("dd if=/dev/zero bs=64k | ssh -T -o BatchMode=yes %s@%s 'dd of=/dev/null bs=64k'"
                    % (HOWTO_USER, SERVER.ip), 'pkill -x dd'),
    }
    cases['ours_deflate'] = cases['ours_shipped']
    names = list(cases)
    runs = dict((name, []) for name in names)
    for rep in range(min(REPS, 3)):
        rb.log('cpu rep %d/%d' % (rep + 1, min(REPS, 3)))
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            if name == 'howto_script':
                stop_ours()
                start_howto()
            elif name == 'ours_deflate':
                restart_ours_with_deflate(True)
            elif not link_up('10.213.0.1'):
                start_ours()
            for guest in (CLIENT, SERVER):   # as shipped: no queue option set
                guest.sh('tc qdisc del dev ppp-%s root 2>/dev/null; true' % OUR_LINK)
            runs[name].append(cpuprofile.profile(CLIENT, SERVER, *cases[name]))
            if name == 'howto_script':
                stop_howto()
                start_ours()
            elif name == 'ours_deflate':
                restart_ours_with_deflate(False)
    summary = {}
    for name in names:
        summary[name] = {}
        for end in ('client', 'server'):
            keys = sorted(set(k for run in runs[name] for k in run[end]))
            summary[name][end] = dict((k, rb.stats([run[end].get(k, 0.0) for run in runs[name]])) for k in keys)
    results.section('cpu', {'summary': summary, 'runs': runs, 'names': names,
                            'how': 'two /proc snapshots 5 s apart while the stream runs (after 2 s)'})


# ---------------------------------------------------------------- 3. latency under load

def netem(on):
    for guest in (SERVER, CLIENT):
        if on:
            guest.sh('tc qdisc replace dev eth0 root netem delay 20ms rate %dkbit' % OUTER_RATE_KBIT)
        else:
            guest.sh('tc qdisc del dev eth0 root 2>/dev/null; true')


def ping_rtts(text):
    return [float(m) for m in re.findall(r'time=([0-9.]+) ms', text)]


def load_test(target, streams, seconds):
    """Ping every 0.2 s across the link while ``streams`` iperf3 flows run (0: idle)."""
    if streams == 0:
        out = CLIENT.sh('ping -n -i 0.2 -w %d %s' % (seconds, target), check=False, timeout=seconds + 60).stdout
        sent = len(re.findall(r'icmp_seq=', out))
        return {'rtts': ping_rtts(out), 'sent': int(seconds / 0.2)}
    script = ('ping -n -i 0.2 -w %d %s > /tmp/lping.txt 2>&1 & '
              'iperf3 -c %s -t %d -P %d -J > /tmp/liperf.json 2>&1; wait; '
              'cat /tmp/lping.txt; echo ===IPERF===; cat /tmp/liperf.json'
              % (seconds + 1, target, target, seconds, streams))
    out = CLIENT.sh(script, check=False, timeout=seconds + 180).stdout
    ping_text, iperf_text = out.partition('===IPERF===')[::2]
    got = {'rtts': ping_rtts(ping_text), 'sent': int((seconds + 1) / 0.2)}
    try:
        end = json.loads(iperf_text)['end']
        got['goodput_mbit'] = end['sum_received']['bits_per_second'] / 1e6
        got['streams_mbit'] = [s['receiver']['bits_per_second'] / 1e6 for s in end['streams']]
    except (ValueError, KeyError):
        got['error'] = iperf_text.strip()[-300:]
    return got


def qdiscs(iface):
    return {'client': CLIENT.out('tc qdisc show dev %s' % iface, check=False).strip(),
            'server': SERVER.out('tc qdisc show dev %s' % iface, check=False).strip()}


def run_queue_hooks(iface):
    """What the roles' ip-up hooks do on every link-up, run by hand on the running link."""
    CLIENT.sh('PPP_IFACE=%s PPP_IPPARAM=vpn /etc/ppp/ip-up.d/pppssh-client-queue' % iface)
    SERVER.sh('PPP_IFACE=%s PPP_IPPARAM=vpn /etc/ppp/ip-up.d/pppssh-server-queue' % iface)


def bench_latency(results, inv):
    iface = 'ppp-%s' % OUR_LINK
    # The role option, as a user would set it: site.yml with the bandwidth on both ends.
    client_vars, server_vars = site_vars(shaper=True)
    inv_shaped = rb.write_inventory(inventory_path('main-shaped.json'), SERVER, [CLIENT], client_vars, server_vars)
    report, site_s = rb.run_playbook(inv_shaped, SITE)
    applied = qdiscs(iface)
    # It must survive a reconnect: restart the link, the ip-up hooks put the shaper back.
    stop_ours()
    up = start_ours()
    t_up = time.time()
    for guest in (CLIENT, SERVER):
        guest.wait_for("tc qdisc show dev %s root | grep -q '^qdisc cake'" % iface, 30, 'cake on %s' % iface)
    after_reconnect = qdiscs(iface)
    after_reconnect['seconds_after_first_reply_max'] = round(time.time() - t_up, 1)
    del up
    hooks = {'site_with_bandwidth_s': round(site_s, 1), 'changed': rb.changed_count(report),
             'qdisc_after_site': applied, 'qdisc_after_reconnect': after_reconnect}
    netem(True)
    configs = (['howto', 'ours_no_bandwidth', 'ours_shaped', 'ours_shaped_deflate']
               + ['ours_shaped_%d' % k for k in EXTRA_SHAPER_KBITS])
    loads = [('idle', 0), ('bulk1', 1), ('bulk10', 10)]
    raw = dict((c, dict((load[0], []) for load in loads)) for c in configs)
    errors, deflate_log = [], []
    try:
        for rep in range(REPS):
            rb.log('latency rep %d/%d' % (rep + 1, REPS))
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            for config in order:
                if config == 'howto':
                    stop_ours()
                    start_howto()
                    target = HOWTO_PAIR[1]
                elif config == 'ours_shaped_deflate':
                    # The HOWTO's pppd negotiates Deflate by default; ours says noccp. Same link, deflate on.
                    restart_ours_with_deflate(True)
                    target = '10.213.0.1'
                    deflate_log.append(CLIENT.out("grep -h 'compression enabled' /var/log/pppssh/%s.log | tail -1; true"
                                                  % OUR_LINK).strip())
                    run_queue_hooks(iface)
                else:
                    if not link_up('10.213.0.1'):
                        stop_howto()
                        start_ours()
                    target = '10.213.0.1'
                    if config == 'ours_no_bandwidth':
                        for guest in (CLIENT, SERVER):
                            guest.sh('tc qdisc del dev %s root 2>/dev/null; true' % iface)
                    elif config != 'ours_shaped':
                        for guest in (CLIENT, SERVER):
                            guest.sh('tc qdisc replace dev %s root cake bandwidth %skbit'
                                     % (iface, config.rsplit('_', 1)[1]))
                    else:
                        run_queue_hooks(iface)
                time.sleep(3)   # let the new link or qdisc settle
                for load, streams in loads:
                    seconds = 5 if streams == 0 else LOAD_SECONDS
                    got = load_test(target, streams, seconds)
                    if got.get('error'):
                        errors.append('%s %s rep %d: %s' % (config, load, rep + 1, got['error']))
                    raw[config][load].append(got)
                    time.sleep(2)
                if config == 'howto':
                    stop_howto()
                    start_ours()
                elif config == 'ours_shaped_deflate':
                    restart_ours_with_deflate(False)
    finally:
        netem(False)
        CLIENT.sh("sed -i 's/^deflate 15$/noccp/' %s" % OUR_PEERS)
    summary = {}
    for config in configs:
        summary[config] = {}
        for load in (name for name, _streams in loads):
            runs = raw[config][load]
            rtts = [r for run in runs for r in run['rtts']]
            medians = [rb.percentile(run['rtts'], 0.5) for run in runs if run['rtts']]
            p95s = [rb.percentile(run['rtts'], 0.95) for run in runs if run['rtts']]
            losses = [1 - len(run['rtts']) / float(run['sent']) for run in runs]
            entry = {'ping_median_ms': rb.stats(medians), 'ping_p95_ms': rb.stats(p95s),
                     'ping_loss': rb.stats(losses), 'ping_all_median_ms': rb.percentile(rtts, 0.5),
                     'ping_all_p95_ms': rb.percentile(rtts, 0.95)}
            if load != 'idle':
                entry['goodput_mbit'] = rb.stats([run.get('goodput_mbit') for run in runs])
            if load == 'bulk10':
                entry['jain'] = rb.stats([rb.jain(run.get('streams_mbit') or []) for run in runs])
            summary[config][load] = entry
    section = {'summary': summary, 'runs': raw, 'errors': errors, 'hooks': hooks,
               'netem': 'delay 20ms rate %dkbit on eth0 of both guests' % OUTER_RATE_KBIT,
               'deflate_negotiated': deflate_log[-1:], 'shaper_kbit': SHAPER_KBIT, 'extra_shaper_kbit': EXTRA_SHAPER_KBITS, 'load_seconds': LOAD_SECONDS}
    results.section('latency', section)


# ---------------------------------------------------------------- 4. recovery

def ssh_child_of_link(pidfile, timeout=15):
    """Pid of the ssh under a link's pppd (pppd -> [sh ->] ssh)."""
    deadline = time.time() + timeout
    while True:
        pid = _ssh_child_of_link(pidfile)
        if pid or time.time() > deadline:
            return pid
        time.sleep(0.5)


def _ssh_child_of_link(pidfile):
    out = CLIENT.out("""p=$(head -1 %s); for c in $(cat /proc/$p/task/*/children); do
  [ "$(cat /proc/$c/comm)" = ssh ] && echo $c
  for g in $(cat /proc/$c/task/*/children 2>/dev/null); do [ "$(cat /proc/$g/comm)" = ssh ] && echo $g; done
done; true""" % pidfile).split()
    return int(out[0]) if out else None


def peers_option(link, option):
    """The value of one option in a link's peers file on the client (None when absent)."""
    for line in CLIENT.out('cat /etc/ppp/peers/pppssh-%s' % link).splitlines():
        if line.split(' ', 1)[0] == option:
            return line.split(' ', 1)[1].strip()
    return None


def bench_recovery(results):
    ours, howto, errors, howto_gone = [], [], [], []
    howto_reps = max(1, min(REPS, int(os.environ.get('BENCH_HOWTO_RECOVERY_REPS', '2'))))
    cap = 30
    for rep in range(REPS):
        rb.log('recovery rep %d/%d' % (rep + 1, REPS))
        if not link_up('10.213.0.1'):
            start_ours()
        pid = ssh_child_of_link('/run/ppp-pppssh-%s.pid' % OUR_LINK)
        if pid is None:
            errors.append('rep %d: no ssh under our pppd' % (rep + 1))
            continue
        got = CLIENT.sh('python3 /root/upclock.py kill 10.213.0.1 %d %d' % (cap, pid), check=False, timeout=cap + 60)
        ours.append(json.loads(got.stdout.strip().splitlines()[-1])['first_reply_s'] if got.stdout.strip() else None)
        if rep < howto_reps:
            stop_ours()
            start_howto()
            # updetach: the pppd that stays forked after the link came up, so its ssh is no child of
            # it; find it the HOWTO's own way (its "stop" greps ps for the ssh command line).
            found = CLIENT.out("for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = ssh ] && "
                               "tr '\\0' ' ' < $p/cmdline | grep -q -- '-l%s -o Batchmode=yes' && echo ${p#/proc/}; "
                               "done; true" % HOWTO_USER).split()
            pid = int(found[0]) if found else None
            if pid is None:
                errors.append('rep %d: no ssh under the HOWTO pppd' % (rep + 1))
                stop_howto()
                start_ours()
                continue
            got = CLIENT.sh('python3 /root/upclock.py kill %s %d %d' % (HOWTO_PAIR[1], cap, pid), check=False,
                            timeout=cap + 60)
            howto.append(json.loads(got.stdout.strip().splitlines()[-1])['first_reply_s'] if got.stdout.strip() else None)
            gone = CLIENT.sh("ip -4 -o addr | grep -q ' %s/'" % HOWTO_PAIR[0], check=False).returncode != 0
            howto_gone.append(gone)
            stop_howto()
            start_ours()
    results.section('recovery', {'ours_s': rb.stats(ours), 'ours_runs': ours, 'howto_runs': howto,
                                 'howto_recovered': sum(1 for h in howto if h is not None),
                                 'howto_link_gone_after_cap': howto_gone,
                                 'cap_s': cap, 'howto_reps': howto_reps, 'errors': errors,
                                 'holdoff_s': peers_option(OUR_LINK, 'holdoff'),
                                 'how': 'SIGKILL to the ssh under the client pppd; time to the first echo reply'})


# ---------------------------------------------------------------- 6. server scale

def scale_peers(index):
    name = 's%d' % index
    local, remote = '10.98.%d.2' % index, '10.98.%d.1' % index
    return name, remote, variant_config(name, local_ip=local, remote_ip=remote)


def server_mem_kb():
    info = dict(line.split(':') for line in SERVER.out('cat /proc/meminfo').splitlines())
    return int(info['MemTotal'].split()[0]) - int(info['MemAvailable'].split()[0])


def bench_scale(results):
    steps = [int(s) for s in os.environ.get('BENCH_SCALE_STEPS', '10,20').split(',')]
    reps = int(os.environ.get('BENCH_SCALE_REPS', '3'))
    runs = []
    for index in range(1, max(steps) + 1):
        name, _remote, text = scale_peers(index)
        CLIENT.put('/etc/ppp/peers/pppssh-%s' % name, text, '0600')
    for rep in range(reps):
        rb.log('scale rep %d/%d' % (rep + 1, reps))
        SERVER.sh('sync; echo 3 > /proc/sys/vm/drop_caches')
        base = server_mem_kb()
        run = {'base_used_kb': base, 'steps': []}
        started = 0
        for step in steps:
            t0 = time.time()
            names = ['s%d' % i for i in range(started + 1, step + 1)]
            CLIENT.sh(' '.join('pppd call pppssh-%s;' % n for n in names))
            remotes = ['10.98.%d.1' % i for i in range(1, step + 1)]
            deadline = time.time() + 120
            while time.time() < deadline:
                ok = CLIENT.out('n=0; for r in %s; do ping -n -q -c1 -W1 $r >/dev/null 2>&1 && n=$((n+1)); done; '
                                'echo $n' % ' '.join(remotes), timeout=300).strip()
                if int(ok) == step:
                    break
            up_s = time.time() - t0
            time.sleep(2)
            SERVER.sh('sync; echo 3 > /proc/sys/vm/drop_caches')
            used = server_mem_kb()
            procs = SERVER.out("ps -e -o rss=,comm= | awk '$2==\"pppd\"||$2==\"sshd\"||$2==\"sudo\" "
                               "{ s[$2]+=$1; n[$2]++ } END { for (k in s) print k, n[k], s[k] }'")
            run['steps'].append({'tunnels': step, 'reachable': int(ok), 'up_s': round(up_s, 1), 'used_kb': used,
                                 'per_tunnel_kb': (used - base) / float(step), 'rss_by_comm': procs.split('\n')})
            started = step
        CLIENT.sh('for f in /run/ppp-pppssh-s*.pid; do kill $(head -1 $f); done; true')
        SERVER.wait_for('! ls /sys/class/net | grep -q "^ppp-s"', 60, 'scale links gone')
        runs.append(run)
    per_tunnel = [s['per_tunnel_kb'] / 1024.0 for run in runs for s in run['steps'] if s['tunnels'] == max(steps)]
    results.section('scale', {'runs': runs, 'per_tunnel_mb': rb.stats(per_tunnel), 'steps': steps, 'reps': reps,
                              'server_mem': '384M guest', 'how': 'free-sudo howto user on the server, module-rendered '
                              'peers files on one client; server MemTotal-MemAvailable after drop_caches'})


# ---------------------------------------------------------------- 5. fleet

def bench_fleet(results):
    sizes = [int(s) for s in os.environ.get('BENCH_FLEET_SIZES', '2,4').split(',')]
    reps = dict((n, int(r)) for n, r in zip(sizes, os.environ.get('BENCH_FLEET_REPS', '3,2').split(',')))
    out = {}
    for n in sizes:
        clients = CLIENTS[:n]
        guests = [SERVER] + clients
        figures = {'first_s': [], 'rerun_s': [], 'rerun_changed': [], 'ping_floor_s': [], 'boot_s': []}
        for rep in range(reps.get(n, 1)):
            rb.log('fleet N=%d rep %d/%d' % (n, rep + 1, reps.get(n, 1)))
            t0 = time.time()
            rb.destroy([SERVER] + CLIENTS)
            rb.boot(guests)
            figures['boot_s'].append(time.time() - t0)
            inv = rb.write_inventory(inventory_path('fleet%d.json' % n), SERVER, clients)
            floor_t0 = time.time()
            subprocess.run([os.path.join(rb.VENV_BIN, 'ansible'), '-i', inv, 'all', '-m', 'ansible.builtin.ping'],
                           env=rb.ansible_env(), capture_output=True, check=True, timeout=300)
            figures['ping_floor_s'].append(time.time() - floor_t0)
            report, first = rb.run_playbook(inv, SITE)
            figures['first_s'].append(first)
            report2, rerun = rb.run_playbook(inv, SITE)
            figures['rerun_s'].append(rerun)
            figures['rerun_changed'].append(rb.changed_count(report2))
            ping_peer = ("ping -n -q -c 2 -W 3 $(ip -4 -o addr show dev ppp-%s | awk '{print $6}' | cut -d/ -f1)")
            ok = sum(1 for c in clients if c.sh(ping_peer % c.name, check=False).returncode == 0)
            figures.setdefault('links_up', []).append(ok)
        hosts = n + 1
        out['n%d' % n] = {'hosts': hosts, 'reps': reps.get(n, 1),
                          'stats': dict((k, rb.stats(v)) for k, v in figures.items()), 'runs': figures,
                          'first_per_host_s': rb.stats([f / hosts for f in figures['first_s']]),
                          'rerun_per_host_s': rb.stats([f / hosts for f in figures['rerun_s']])}
        results.section('fleet', out)


# ---------------------------------------------------------------- main

def main():
    t_start = time.time()
    os.makedirs(rb.BUILD, exist_ok=True)
    subprocess.run(['make', '-s', '-C', rb.REPO, 'collection'], check=True)
    rb.seed_image()
    results = Results()
    results.data['config' if not results.merging else 'merge_config'] = {
        'sections': SECTIONS, 'reps': REPS, 'load_seconds': LOAD_SECONDS,
        'iperf_seconds': IPERF_SECONDS, 'rig_dir': rb.RIG_DIR}
    try:
        inv = setup_main(results)
        for name in SECTIONS:
            t0 = time.time()
            rb.log('section %s' % name)
            try:
                if name == 'bringup':
                    bench_bringup(results, inv)
                elif name == 'throughput':
                    bench_throughput(results)
                elif name == 'throughput_4mbit':
                    bench_throughput(results, bound=True)
                elif name == 'cpu':
                    bench_cpu(results)
                elif name == 'latency':
                    bench_latency(results, inv)
                elif name == 'recovery':
                    bench_recovery(results)
                elif name == 'scale':
                    bench_scale(results)
                elif name == 'fleet':
                    bench_fleet(results)
            except Exception as exc:  # keep the other sections' figures
                rb.log('section %s failed: %s' % (name, exc))
                results.data.setdefault('failed_sections', {})[name] = str(exc)[-2000:]
            results.data.setdefault('section_seconds', {})[name] = round(time.time() - t0, 1)
            results.save()
    finally:
        if results.merging:
            results.data['merged_runs'][-1]['seconds'] = round(time.time() - t_start, 1)
        else:
            results.data['bench_seconds'] = round(time.time() - t_start, 1)
            results.data['machine']['loadavg_end'] = open('/proc/loadavg').read().split()[:3]
        results.save()
        if not KEEP:
            rb.destroy([SERVER] + CLIENTS)
    subprocess.run([sys.executable, os.path.join(rb.BENCH, 'report.py')], check=False)
    rb.log('done in %.0f s: %s' % (time.time() - t_start, LATEST))


if __name__ == '__main__':
    main()
