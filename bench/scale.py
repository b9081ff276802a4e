"""Figure 6: server scale, 10 then 20 concurrent tunnels from one client to the server guest, and
the server's memory per tunnel (MemTotal - MemAvailable after drop_caches)."""
import os
import time

import rigbench as rb
from lab import CLIENT, SERVER, variant_config


def scale_peers(index):
    name = 's%d' % index
    local, remote = '10.98.%d.2' % index, '10.98.%d.1' % index
    return name, remote, variant_config(name, local_ip=local, remote_ip=remote)


def server_mem_kb():
    info = dict(line.split(':') for line in SERVER.out('cat /proc/meminfo').splitlines())
    return int(info['MemTotal'].split()[0]) - int(info['MemAvailable'].split()[0])


def run(results, _inv=None):
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
