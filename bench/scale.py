"""Figure 6: server scale, 10 then 20 concurrent tunnels from one client to the server guest, and
the server's memory per tunnel (MemTotal - MemAvailable after drop_caches).

Each tunnel is a product session: the server lists one static client per tunnel
(pppssh_server_static_clients, each with its own key and pair), so site.yml gives each its own
account, forced command, sudo rule and peers file, exactly as for a client Ansible does not manage.
The client guest dials them with plain ``pppd call`` and module-rendered peers files."""
import os
import time

import rigbench as rb
from lab import CLIENT, SERVER, SITE, inventory_path, variant_config

KEY_DIR = '/root/scale-keys'
COMMS = ('sshd', 'sh', 'sudo', 'python3', 'pppd')     # what a session may run on the server


def scale_pairs(index):
    """(client end, server end) of tunnel ``index``: one /24 per tunnel below 250 tunnels."""
    return '10.98.%d.2' % index, '10.98.%d.1' % index


def static_clients(count):
    """One ed25519 key per tunnel, made on the client guest; the server's static client list for them."""
    CLIENT.sh('install -d -m 700 %s; for i in $(seq 1 %d); do test -s %s/s$i || '
              'ssh-keygen -q -t ed25519 -N "" -C scale$i -f %s/s$i; done' % (KEY_DIR, count, KEY_DIR, KEY_DIR),
              timeout=600)
    pubkeys = CLIENT.out('for i in $(seq 1 %d); do cat %s/s$i.pub; done' % (count, KEY_DIR)).splitlines()
    clients = []
    for index, pubkey in enumerate(pubkeys, 1):
        local, remote = scale_pairs(index)
        clients.append({'name': 's%d' % index, 'pubkey': pubkey.strip(), 'local_ip': local, 'remote_ip': remote})
    return clients


def scale_peers(index):
    """(link name, the client's peers file) of tunnel ``index``: the product account of static client sINDEX."""
    name = 's%d' % index
    local, remote = scale_pairs(index)
    return name, variant_config(name, local_ip=local, remote_ip=remote, user='pppssh-%s' % name,
                                identity_file='%s/%s' % (KEY_DIR, name), remote_command=None)


def server_mem_kb():
    info = dict(line.split(':') for line in SERVER.out('cat /proc/meminfo').splitlines())
    return int(info['MemTotal'].split()[0]) - int(info['MemAvailable'].split()[0])


def session_processes():
    """{comm: [count, summed RSS kB]} of the server's processes a session may run."""
    out = SERVER.out('ps -e -o rss=,comm=')
    found = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[1] in COMMS:
            entry = found.setdefault(words[1], [0, 0])
            entry[0] += 1
            entry[1] += int(words[0])
    return found


def deploy(count):
    """site.yml with ``count`` static clients on the server; seconds it took."""
    inv = rb.write_inventory(inventory_path('scale.json'), SERVER, [CLIENT],
                             server_vars={'pppssh_server_static_clients': static_clients(count)})
    _report, elapsed = rb.run_playbook(inv, SITE, timeout=3600)
    for index in range(1, count + 1):
        name, text = scale_peers(index)
        CLIENT.put('/etc/ppp/peers/pppssh-%s' % name, text, '0600')
    return elapsed


def run(results, _inv=None):
    steps = [int(s) for s in os.environ.get('BENCH_SCALE_STEPS', '10,20').split(',')]
    reps = int(os.environ.get('BENCH_SCALE_REPS', '3'))
    rb.log('scale: site.yml with %d static clients' % max(steps))
    deploy_s = deploy(max(steps))
    runs = []
    for rep in range(reps):
        rb.log('scale rep %d/%d' % (rep + 1, reps))
        SERVER.sh('sync; echo 3 > /proc/sys/vm/drop_caches')
        base = server_mem_kb()
        base_procs = session_processes()
        run = {'base_used_kb': base, 'base_processes': base_procs, 'steps': []}
        started = 0
        for step in steps:
            t0 = time.time()
            CLIENT.sh(' '.join('pppd call pppssh-s%d;' % i for i in range(started + 1, step + 1)))
            remotes = [scale_pairs(i)[1] for i in range(1, step + 1)]
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
            procs = session_processes()
            per_tunnel = dict((comm, (count - base_procs.get(comm, [0, 0])[0]) / float(step))
                              for comm, (count, _rss) in procs.items())
            run['steps'].append({'tunnels': step, 'reachable': int(ok), 'up_s': round(up_s, 1), 'used_kb': used,
                                 'per_tunnel_kb': (used - base) / float(step), 'processes': procs,
                                 'processes_per_tunnel': per_tunnel})
            started = step
        CLIENT.sh('for f in /run/ppp-pppssh-s*.pid; do kill $(head -1 $f); done; true')
        SERVER.wait_for('! ls /sys/class/net | grep -q "^ppp-s"', 60, 'scale links gone')
        runs.append(run)
    per_tunnel = [s['per_tunnel_kb'] / 1024.0 for run in runs for s in run['steps'] if s['tunnels'] == max(steps)]
    results.section('scale', {'runs': runs, 'per_tunnel_mb': rb.stats(per_tunnel), 'steps': steps, 'reps': reps,
                              'deploy_s': round(deploy_s, 1), 'server_mem': '384M guest',
                              'how': 'one product account per tunnel (static clients of site.yml), module-rendered '
                                     'peers files on one client; server MemTotal-MemAvailable after drop_caches'})
