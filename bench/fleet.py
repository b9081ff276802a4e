"""Figure 5: the fleet, site.yml first run and rerun for 1 server + N clients on fresh guests,
beside `ansible all -m ping` on the same hosts; the rerun's tasks per host and its slowest tasks."""
import os
import subprocess
import time

import rigbench as rb
from playprofile import rerun_profile
from lab import CLIENTS, SERVER, SITE, inventory_path


def run(results, _inv=None):
    sizes = [int(s) for s in os.environ.get('BENCH_FLEET_SIZES', '2,4,8').split(',')]
    reps = dict((n, int(r)) for n, r in zip(sizes, os.environ.get('BENCH_FLEET_REPS', '3,1,1').split(',')))
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
            figures.setdefault('rerun_profile', []).append(rerun_profile(report2))
            ping_peer = ("ping -n -q -c 2 -W 3 $(ip -4 -o addr show dev ppp-%s | awk '{print $6}' | cut -d/ -f1)")
            ok = sum(1 for c in clients if c.sh(ping_peer % c.name, check=False).returncode == 0)
            figures.setdefault('links_up', []).append(ok)
        hosts = n + 1
        out['n%d' % n] = {'hosts': hosts, 'reps': reps.get(n, 1),
                          'stats': dict((k, rb.stats(v)) for k, v in figures.items() if k != 'rerun_profile'),
                          'runs': figures,
                          'first_per_host_s': rb.stats([f / hosts for f in figures['first_s']]),
                          'rerun_per_host_s': rb.stats([f / hosts for f in figures['rerun_s']])}
        results.section('fleet', out)
