"""The bench's fixture, shared by every figure module: its guests, the two setups of the server
(site.yml and the HOWTO's by hand), and the link control in the guests (start, stop, time).

The rig itself is driven through rigbench (the wrapper over tests/integration/guests.py).
"""
import importlib
import json
import os
import re
import shlex
import sys
import time

import rigbench as rb

REPS = int(os.environ.get('BENCH_REPS', '5'))
SITE = os.path.join(rb.REPO, 'playbooks', 'site.yml')

SERVER = rb.Guest('bserver', '192.168.213.70')
# Eight for the fleet figure's N = 2, 4, 8; the other figures use the first one or two.
CLIENTS = [rb.Guest('bclient%d' % i, '192.168.213.%d' % (70 + i)) for i in range(1, 9)]
CLIENT = CLIENTS[0]
HOWTO_USER = 'howto'
HOWTO_PAIR = ('10.99.9.2', '10.99.9.1')         # client, server ends of the HOWTO script's link
VARIANT_PAIR = ('10.99.8.2', '10.99.8.1')       # throughput variants
VARIANT_PAIR6 = ('fd99:8::2', 'fd99:8::1')      # bring-up's dual-stack variant
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
    """A module_utils module of this checkout, imported as the collection's (make bench links
    .build/collections/ansible_collections/pppssh/vpn to it)."""
    root = os.path.join(rb.REPO, '.build', 'collections')
    if root not in sys.path:
        sys.path.append(root)
    return importlib.import_module('ansible_collections.pppssh.vpn.plugins.module_utils.' + name)


options = load_module_utils('options')
commands = load_module_utils('commands')


# ---------------------------------------------------------------- setup

def inventory_path(name):
    os.makedirs(rb.BUILD, exist_ok=True)
    return os.path.join(rb.BUILD, name)


def setup_guest_tools(guests):
    helpers = dict((name, open(os.path.join(rb.BENCH, 'guest', name)).read())
                   for name in ('upclock.py', 'streamclock.py', 'procsnap.py'))
    for guest in guests:
        for name, text in sorted(helpers.items()):
            guest.put('/root/' + name, text, '0755')
        guest.sh('modprobe -a sch_netem sch_cake sch_htb sch_fq_codel')


def known_hosts_line(server, port=22):
    """The known_hosts line of ``server``'s ed25519 host key, read from its key file (never scanned)."""
    key_type, key = server.out('cat /etc/ssh/ssh_host_ed25519_key.pub').split()[:2]
    host = server.ip if port == 22 else '[%s]:%d' % (server.ip, port)
    return '%s %s %s' % (host, key_type, key)


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
    client.sh("install -d -m 700 /root/.ssh && echo '%s' > /root/.ssh/known_hosts" % known_hosts_line(server))
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
    rb.boot([SERVER, CLIENT], mem='384M', ipv6=True)   # IPv6 on: bring-up's dual-stack variant needs it
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


def stop_strays(name):
    """End every pppd of link NAME still running (one whose start never came up, say) and wait for them.

    A plain ``pppd call`` has none of the module's guards: a second pppd of a link dials a second
    session, the server's entry point ends the older one (the newest wins), that pppd redials, and
    the two take turns. In cpu rep 3 of a run on 2026-12-07, three of them did so for 12 minutes and
    left the 384 MB server guest too busy to answer ssh."""
    pattern = "'^/usr/sbin/pppd call %s$'" % commands.peer_name(name)
    if CLIENT.out('pgrep -f %s; true' % pattern).split():
        CLIENT.sh('pkill -f %s; true' % pattern)
        CLIENT.wait_for('! pgrep -f %s >/dev/null' % pattern, 20, 'no pppd of %s' % name)


def start_ours(name=OUR_LINK):
    """``pppd call`` of the link, as the module starts it: without the dialler's streak of earlier
    dials (the module clears it; pppd's own redials keep it and back off), and never beside
    another pppd of the same link."""
    stop_strays(name)
    CLIENT.sh('rm -f %s' % commands.dial_state_path(name))
    return upclock('10.213.0.1', ['/usr/sbin/pppd', 'call', commands.peer_name(name)])


def restart_ours_with_deflate(on):
    """Restart our link with Deflate on (the HOWTO pppd's default) or back to the module's noccp."""
    stop_ours()
    old, new = ('noccp', 'deflate 15') if on else ('deflate 15', 'noccp')
    CLIENT.sh("sed -i 's/^%s$/%s/' %s" % (old, new, OUR_PEERS))
    return start_ours()


def link_up(target):
    return CLIENT.sh('ping -n -q -c 1 -W 3 %s' % target, check=False).returncode == 0


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


def netem(on):
    """The outer link of the bandwidth-bound figures: netem on eth0 of both guests."""
    for guest in (SERVER, CLIENT):
        if on:
            guest.sh('tc qdisc replace dev eth0 root netem delay 20ms rate %dkbit' % OUTER_RATE_KBIT)
        else:
            guest.sh('tc qdisc del dev eth0 root 2>/dev/null; true')
