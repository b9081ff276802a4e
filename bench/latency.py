"""Figure 3: latency under load over a 4 mbit, 20 ms outer link, the HOWTO's link beside ours.

Two references validate themselves per repetition (bench/verdicts.py check_load_rep): the
HOWTO's link (its goodput is what ours is held to) and our shaped link's idle pings (what its
loaded pings are held to). A repetition that fails is measured again once; a reference that
still fails, or spreads wider than the bound, makes the goals on it "not measured".
"""
import json
import re
import time

import rigbench as rb
import verdicts
from lab import (CLIENT, EXTRA_SHAPER_KBITS, HOWTO_PAIR, LOAD_SECONDS, OUR_LINK, OUR_PEERS, OUTER_RATE_KBIT, REPS,
                 SERVER, SHAPER_KBIT, SITE, inventory_path, link_up, netem, restart_ours_with_deflate, site_vars,
                 start_howto, start_ours, stop_howto, stop_ours)

LOADS = [('idle', 0), ('bulk1', 1), ('bulk10', 10)]


def ping_rtts(text):
    return [float(m) for m in re.findall(r'time=([0-9.]+) ms', text)]


def load_test(target, streams, seconds):
    """Ping every 0.2 s across the link while ``streams`` iperf3 flows run (0: idle)."""
    if streams == 0:
        out = CLIENT.sh('ping -n -i 0.2 -w %d %s' % (seconds, target), check=False, timeout=seconds + 60).stdout
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


def measure_config(config, iface, deflate_log):
    """One configuration under every load: {load: run}; the link is ours again afterwards."""
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
                guest.sh('tc qdisc replace dev %s root cake bandwidth %skbit' % (iface, config.rsplit('_', 1)[1]))
        else:
            run_queue_hooks(iface)
    time.sleep(3)   # let the new link or qdisc settle
    out = {}
    for load, streams in LOADS:
        out[load] = load_test(target, streams, 5 if streams == 0 else LOAD_SECONDS)
        time.sleep(2)
    if config == 'howto':
        stop_howto()
        start_ours()
    elif config == 'ours_shaped_deflate':
        restart_ours_with_deflate(False)
    return out


def run(results, inv=None):
    del inv
    iface = 'ppp-%s' % OUR_LINK
    # The role option, as a user would set it: site.yml with the bandwidth on both ends.
    client_vars, server_vars = site_vars(shaper=True)
    inv_shaped = rb.write_inventory(inventory_path('main-shaped.json'), SERVER, [CLIENT], client_vars, server_vars)
    report, site_s = rb.run_playbook(inv_shaped, SITE)
    applied = qdiscs(iface)
    # It must survive a reconnect: restart the link, the ip-up hooks put the shaper back.
    stop_ours()
    start_ours()
    t_up = time.time()
    for guest in (CLIENT, SERVER):
        guest.wait_for("tc qdisc show dev %s root | grep -q '^qdisc cake'" % iface, 30, 'cake on %s' % iface)
    after_reconnect = qdiscs(iface)
    after_reconnect['seconds_after_first_reply_max'] = round(time.time() - t_up, 1)
    hooks = {'site_with_bandwidth_s': round(site_s, 1), 'changed': rb.changed_count(report),
             'qdisc_after_site': applied, 'qdisc_after_reconnect': after_reconnect}
    netem(True)
    configs = (['howto', 'ours_no_bandwidth', 'ours_shaped', 'ours_shaped_deflate']
               + ['ours_shaped_%d' % k for k in EXTRA_SHAPER_KBITS])
    raw = dict((c, dict((load[0], []) for load in LOADS)) for c in configs)
    errors, deflate_log, retries = [], [], []
    # the references and what each repetition of them must show
    checks = {'howto': ('howto', None), 'ours_idle': ('ours_shaped', ('idle',))}
    problems = dict((name, {}) for name in checks)
    try:
        for rep in range(REPS):
            rb.log('latency rep %d/%d' % (rep + 1, REPS))
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            for config in order:
                got = measure_config(config, iface, deflate_log)
                for name, (ref_config, loads) in checks.items():
                    if ref_config != config:
                        continue
                    problem = verdicts.check_load_rep(dict((k, v) for k, v in got.items() if not loads or k in loads))
                    if problem:
                        rb.log('latency rep %d: reference %s: %s; measuring it again' % (rep + 1, name, problem))
                        retries.append({'rep': rep + 1, 'reference': name, 'problem': problem, 'first': got})
                        got = measure_config(config, iface, deflate_log)
                        problem = verdicts.check_load_rep(
                            dict((k, v) for k, v in got.items() if not loads or k in loads))
                        if problem:
                            problems[name][rep + 1] = problem
                for load, run_got in got.items():
                    if run_got.get('error'):
                        errors.append('%s %s rep %d: %s' % (config, load, rep + 1, run_got['error']))
                    raw[config][load].append(run_got)
    finally:
        netem(False)
        CLIENT.sh("sed -i 's/^deflate 15$/noccp/' %s" % OUR_PEERS)
    references = {}
    for name, (ref_config, _loads) in checks.items():
        reps = raw[ref_config]
        if name == 'howto':   # what ours is held to: its goodput under each load
            status = verdicts.reference_status([r.get('goodput_mbit') for r in reps['bulk1']], problems[name])
            wide = verdicts.check_spread([r.get('goodput_mbit') for r in reps['bulk10']])
        else:                 # the idle median ours' loaded pings are held to
            status = verdicts.reference_status([rb.percentile(r['rtts'], 0.5) for r in reps['idle']], problems[name])
            wide = None
        if wide:
            status['problems'].append('bulk10 ' + wide)
            status['ok'] = False
        references[name] = status
    summary = {}
    for config in configs:
        summary[config] = {}
        for load in (name for name, _streams in LOADS):
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
               'deflate_negotiated': deflate_log[-1:], 'shaper_kbit': SHAPER_KBIT,
               'extra_shaper_kbit': EXTRA_SHAPER_KBITS, 'load_seconds': LOAD_SECONDS,
               'references': references, 'reference_retries': retries}
    results.section('latency', section)
