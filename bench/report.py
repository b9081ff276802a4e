"""Render bench/results/latest.json as latest.md (tables) and latest.png (plots).

The PNG needs matplotlib: when the venv lacks it, it is pip-installed into the venv
(never into requirements-dev.txt). Without it (no PyPI), only the Markdown is written.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, 'results')
sys.path.insert(0, HERE)
# pylint: disable=wrong-import-position
import history  # noqa: E402
import verdicts  # noqa: E402


def fmt(value, digits=2):
    if value is None:
        return '-'
    if isinstance(value, float):
        return ('%%.%df' % digits) % value
    return str(value)


def row_stats(label, st, digits=2, extra=()):
    st = st or {}
    cells = (label, fmt(st.get('n')), fmt(st.get('min'), digits), fmt(st.get('median'), digits),
             fmt(st.get('max'), digits), ''.join(' %s |' % e for e in extra))
    return '| %s | %s | %s | %s | %s |%s' % cells


def med(st):
    return (st or {}).get('median')


def throughput_table(t, title):
    out = ['## 2. %s: iperf3 %d s (1 s omitted) vs a raw ssh stream' % (title, t['iperf_seconds'])]
    if t.get('outer'):
        out.append('')
        out.append('Outer link: %s. "of outer" = goodput / outer rate.' % t['outer'])
    out += ['', '| variant | n | min Mbit/s | median Mbit/s | max Mbit/s | ratio to raw ssh (median of per-rep) '
            '| eth0 bytes per payload byte (median) |%s' % (' of outer (median) |' if t.get('outer') else ''),
            '|---|---|---|---|---|---|---|%s' % ('---|' if t.get('outer') else '')]
    labels = dict(t['variants'])
    labels.update({'ours_shipped': 'ours as shipped (site.yml link, forced command, no queue option)',
                   'howto_script': 'HOWTO `vpn-pppssh` link',
                   'raw_ssh': 'reference: raw ssh stream (dd from /dev/zero through ssh into dd, steady state)',
                   'raw_ssh_aes128gcm': 'reference: raw ssh stream, aes128-gcm'})
    first = [k for k in ('raw_ssh', 'raw_ssh_aes128gcm', 'howto_script', 'ours_shipped') if k in t['names']]
    for key in first + [k for k in t['names'] if k not in first]:
        extra = [fmt(med(t['ratio_stats'].get(key))), fmt(med(t.get('wire_per_byte', {}).get(key)), 3)]
        if t.get('outer'):
            extra.append(fmt(med(t['of_outer_rate'].get(key))))
        out.append(row_stats('%s (`%s`)' % (labels.get(key, key), key), t['mbit'].get(key), 1, extra=extra))
    out.append('')
    if t.get('errors'):
        out += ['Errors: ' + '; '.join(t['errors'][:12]), '']
    return out


def cpu_table(cpu):
    """Each part's share of the one guest CPU during a bulk stream, and the CPU per Mbit/s carried."""
    if not cpu:
        return []
    out = ['## 2b. Where the CPU goes during a bulk stream client -> server (%s)' % cpu['how'], '',
           'Share of the guest\'s one virtual CPU (medians). Processes include the system time of their own '
           'syscalls; "kernel, no process" is the rest of the busy time: packet processing in softirq, the '
           'ppp line discipline, the TCP stacks.', '',
           '| stream | end | eth0 Mbit/s | busy | pppd | ssh / sshd | iperf3 / dd | other processes '
           '| kernel, no process | busy per 10 Mbit/s |',
           '|---|---|---|---|---|---|---|---|---|---|']
    named = {'pppd': ('proc_pppd',), 'ssh': ('proc_ssh', 'proc_sshd', 'proc_sshd-session'),
             'load': ('proc_iperf3', 'proc_dd')}
    for name in cpu['names']:
        for end in ('client', 'server'):
            s = cpu['summary'][name][end]

            def share(keys):
                return sum(med(s.get(k)) or 0.0 for k in keys)
            busy = 1.0 - share(('cpu_idle', 'cpu_iowait'))
            procs = share([k for k in s if k.startswith('proc_')])
            parts = dict((part, share(keys)) for part, keys in named.items())
            mbit = med(s.get('eth0_mbit')) or 0.0
            out.append('| %s | %s | %s | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %s |' % (
                name, end, fmt(mbit, 1), 100 * busy, 100 * parts['pppd'], 100 * parts['ssh'], 100 * parts['load'],
                100 * (procs - sum(parts.values())), 100 * max(0.0, busy - procs),
                '%.1f%%' % (1000 * busy / mbit) if mbit else '-'))
    return out + ['']


def latency_ratios(summary, config, load):
    """(ping median / idle median, ping p95 / idle median, goodput / the HOWTO's) of one config and load."""
    loads = summary[config]
    idle = med(loads['idle']['ping_median_ms'])
    return (med(loads[load]['ping_median_ms']) / idle, med(loads[load]['ping_p95_ms']) / idle,
            med(loads[load]['goodput_mbit']) / med(summary['howto'][load]['goodput_mbit']))


def latency_goals_table(summary):
    """Issue 6's latency goals for every shaped configuration, against its own idle median."""
    out = ['Latency goals per configuration (ping median <= 1.5 x and p95 <= 2 x the idle median, goodput >= 90% '
           'of the HOWTO\'s under the same load, Jain >= 0.98):', '',
           '| config | 1 flow: median, p95 x idle | goodput / HOWTO | 10 flows: median, p95 x idle | goodput / HOWTO '
           '| Jain | all met |', '|---|---|---|---|---|---|---|']
    for config, loads in summary.items():
        if not config.startswith('ours_shaped'):
            continue
        cells, met = [], True
        for load in ('bulk1', 'bulk10'):
            median, p95, goodput = latency_ratios(summary, config, load)
            cells += ['%.2f, %.2f' % (median, p95), '%.2f' % goodput]
            met = met and median <= 1.5 and p95 <= 2.0 and goodput >= 0.9
        jain = med(loads['bulk10']['jain'])
        met = met and jain >= 0.98
        out.append('| %s | %s | %.3f | %s |' % (config, ' | '.join(cells), jain, 'yes' if met else '**no**'))
    return out + ['']


def goals_table(sec):
    """The goals of this run, judged by bench/verdicts.py on the per-pair ratios (or per-rep values)."""
    rows = verdicts.goals(sec)
    if not rows:
        return []
    out = ['## Goals (judged on the spread of per-pair ratios: met only when the median clears the goal and '
           'min..max does not straddle it)', '',
           '| goal | n | min | median | max | verdict | why |', '|---|---|---|---|---|---|---|']
    for goal, got in rows:
        verdict = got['verdict']
        out.append('| %s | %s | %s | %s | %s | %s | %s |' % (
            goal, got['n'], fmt(got['min']), fmt(got['median']), fmt(got['max']),
            '**%s**' % verdict if verdict != verdicts.MET else verdict, got['why'][:200]))
    return out + ['']


def references_lines(section, title):
    """One line per reference of a section: valid or failed, and why."""
    out = []
    for name, ref in sorted((section.get('references') or {}).items()):
        st = ref.get('spread') or {}
        out.append('- reference `%s` (%s): %s; %s repetitions, %s-%s%s' % (
            name, title, 'valid' if ref.get('ok') else '**FAILED**', st.get('n'), fmt(st.get('min')),
            fmt(st.get('max')), '' if ref.get('ok') else ': ' + '; '.join(ref.get('problems') or [])))
    return out + [''] if out else []


def raw_samples_lines(t):
    """The raw ssh reference's readings: each repetition's Mbit/s, its session start and retries."""
    out = []
    for name, readings in sorted((t.get('raw_samples') or {}).items()):
        cells = []
        for got in readings:
            cells.append('rep %s%s: %s Mbit/s (session up after %s s, window from %s s%s)' % (
                got.get('rep'), ' (again)' if got.get('retried') else '', fmt(got.get('mbit'), 1),
                fmt(got.get('session_wait_s'), 1), fmt(got.get('warmup_s'), 1), ', ' + got['problem'] if got.get('problem') else ''))
        out.append('- `%s` readings (%s): %s' % (name, t.get('raw_how', ''), '; '.join(cells)))
    for retry in t.get('raw_retries') or []:
        first = retry.get('first') or {}
        out.append('- retried rep %s: first reading %s Mbit/s: %s' % (
            retry.get('rep'), fmt(first.get('mbit'), 1), first.get('problem')))
    return out + [''] if out else []


def rerun_profile_lines(fleet):
    """Issue 17's rerun cost under the fleet table: tasks per host (ran + skipped) and the slowest
    tasks of each size's first repetition."""
    out = []
    for key, e in sorted(fleet.items(), key=lambda item: item[0]):
        profiles = (e.get('runs') or {}).get('rerun_profile') if isinstance(e, dict) else None
        if not key.startswith('n') or not profiles:
            continue
        first = profiles[0]
        hosts = ', '.join('%s %d + %d' % (host, c['ran'], c['skipped'])
                          for host, c in sorted(first['tasks_per_host'].items()))
        slowest = ', '.join('%s %.1f s' % (name, seconds) for name, seconds in first['slowest'][:5])
        out += ['N=%s rerun, tasks per host (ran + skipped): %s.' % (key[1:], hosts),
                'Slowest rerun tasks: %s.' % slowest, '']
    return out


def markdown(data):
    m = data['machine']
    out = ['# pppssh benchmarks: latest run', '',
           '- date: %s' % data['date'],
           '- machine: %s, %s (%s cores), %s GB RAM, %s, kernel %s'
           % (m.get('host'), m.get('cpu'), m.get('cores'), m.get('mem_gb'), m.get('os'), m.get('kernel')),
           '- guests: User-mode Linux (one virtual CPU each), rig dir %s; load average at start %s, at end %s'
           % (data.get('config', {}).get('rig_dir'), ' '.join(m.get('loadavg_start', [])),
              ' '.join(m.get('loadavg_end', []))),
           '- other rig guests running at start (other engineers): %d' % len(m.get('other_rig_guests', [])),
           '- `make bench` wall time: %s s; per section: %s'
           % (fmt(data.get('bench_seconds'), 0),
              ', '.join('%s %s s' % (k, fmt(v, 0)) for k, v in data.get('section_seconds', {}).items())),
           ]
    out += ['- re-measured by a second invocation (`BENCH_MERGE=1`): %s on %s (%s s)'
            % (', '.join(r['sections']), r['date'], fmt(r.get('seconds'), 0)) for r in data.get('merged_runs', [])]
    out += ['- repetitions: %s unless a row says otherwise; every figure is min / median / max over them.'
            % data.get('reps'),
            '- Ratios are taken within one run, side by side (interleaved order): absolute numbers swing with '
            'the machine\'s load.',
            '- Every run is kept under `history/` (DATE.json); `history/trend.png` plots the main ratios across them.',
            '']
    setup = data.get('setup')
    if setup:
        out += ['Setup: two guests booted in %s s; `site.yml` for 1 server + 1 client: first run %s s, rerun %s s '
                '(changed=%s).' % (fmt(setup['boot_two_guests_s'], 1), fmt(setup['site_n1_first_s'], 1),
                                   fmt(setup['site_n1_rerun_s'], 1), setup['site_n1_rerun_changed']), '']
    for name, why in sorted(verdicts.failures(data).items()):
        out += ['**Section %s failed:** `%s`' % (name, why), '']
    sec = data['sections']
    out += goals_table(sec)

    b = sec.get('bringup')
    if b:
        s = b['stats']
        out += ['## 1. Link bring-up (to the first ping reply across the link)', '',
                '%s in-guest pairs (HOWTO and ours back to back, order alternating), %s of them with the '
                'ansible path as well. Ours under 2.0 s in %s.'
                % (b.get('pairs'), s['ours_ansible_call']['n'], b.get('ours_under_2s')), '',
                '| what | n | min s | median s | max s |', '|---|---|---|---|---|',
                row_stats('HOWTO `vpn-pppssh start` (in the guest)', s['howto_in_guest']),
                row_stats('ours: `pppd call pppssh-NAME`, the module\'s peers file (in the guest)', s['ours_in_guest']),
                row_stats('**ratio ours / HOWTO** (per pair)', b['ratio_ours_over_howto']),
                row_stats('ours with `ssh_options: {KexAlgorithms: curve25519-sha256}` (in the guest)',
                          s.get('ours_kex_curve25519_in_guest')),
                row_stats('ratio curve25519 / default key exchange (per pair)', b.get('ratio_kex_over_ours')),
                row_stats('IPv4-only link through the HOWTO\'s account (in the guest; per pair, the median of %s '
                          'starts)' % b.get('family_starts_per_pair', 1), s.get('ipv4_only_in_guest')),
                row_stats('the same link dual-stack, `+ipv6` (IPV6CP beside IPCP; likewise)',
                          s.get('dual_stack_in_guest')),
                row_stats('ratio dual-stack / IPv4-only (per pair)', b.get('ratio_dual_stack_over_ipv4_only')),
                row_stats('ours end to end: `ansible -m pppssh.vpn.pppssh_tunnel` start to first reply',
                          s['ours_ansible_to_first_reply']),
                row_stats('`ansible -m pppssh.vpn.pppssh_tunnel` call alone', s['ours_ansible_call']),
                row_stats('floor: `ansible -m ping` on the same guest', s['ansible_ping_floor']),
                row_stats('HOWTO script returned (updetach)', s['howto_script_exit']),
                row_stats('`pppd call` returned (forks at once)', s['ours_pppd_call_exit']), '']
        out += references_lines(b, 'bring-up, s')
        if b.get('errors'):
            out += ['Errors: ' + '; '.join(b['errors']), '']

    for key, title in (('throughput', 'Throughput client -> server on the plain rig network (CPU-bound guests)'),
                       ('throughput_4mbit', 'Throughput client -> server over a 4 mbit outer link (bandwidth-bound)')):
        t = sec.get(key)
        if t:
            out += throughput_table(t, title)
            out += references_lines(t, 'Mbit/s') + raw_samples_lines(t)

    out += cpu_table(sec.get('cpu'))

    lat = sec.get('latency')
    if lat:
        out += ['## 3. Latency under load (%s; loads %d s; ping every 0.2 s across the tunnel)'
                % (lat['netem'], lat['load_seconds']), '',
                'Shaper: role option `pppssh_client_queue_bandwidth` / `pppssh_server_queue_bandwidth` = %d kbit '
                '(~90%% of the outer rate) on both ends; `ours_no_bandwidth` is the same link without it; '
                '`ours_shaped_RATE`: the same cake qdisc at another rate (kbit), set with tc on the running link.'
                % lat['shaper_kbit'], '',
                '| config | load | ping median ms (min/med/max over reps) | ping p95 ms (min/med/max) | loss (median) '
                '| goodput Mbit/s (min/med/max) | Jain fairness, 10 flows (min/med/max) |',
                '|---|---|---|---|---|---|---|']

        def mmm(st, digits=1):
            st = st or {}
            if not st.get('n'):
                return '-'
            return '%s / %s / %s' % (fmt(st['min'], digits), fmt(st['median'], digits), fmt(st['max'], digits))
        for config, loads in lat['summary'].items():
            for load, e in sorted(loads.items(), key=lambda kv: ['idle', 'bulk1', 'bulk10'].index(kv[0])):
                out.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                    config, load, mmm(e['ping_median_ms']), mmm(e['ping_p95_ms']),
                    fmt(med(e['ping_loss']), 2), mmm(e.get('goodput_mbit'), 2), mmm(e.get('jain'), 3)))
        out += [''] + latency_goals_table(lat['summary'])
        out += ['Loss under load is mostly pings still queued when `ping -w` ends (their RTT exceeds the '
                'time left), i.e. the same queueing delay again.']
        hooks = lat.get('hooks', {})
        out += ['', 'Role option applied by `site.yml` in %s s (changed=%s); qdisc after the run: client `%s`, server '
                '`%s`; after a reconnect (ip-up hook): client `%s`, server `%s`.' % (
                    fmt(hooks.get('site_with_bandwidth_s'), 1), hooks.get('changed'),
                    hooks.get('qdisc_after_site', {}).get('client', '')[:60],
                    hooks.get('qdisc_after_site', {}).get('server', '')[:60],
                    hooks.get('qdisc_after_reconnect', {}).get('client', '')[:60],
                    hooks.get('qdisc_after_reconnect', {}).get('server', '')[:60]), '']
        out += references_lines(lat, 'howto: bulk1 goodput Mbit/s; ours_idle: idle ping median ms')
        if lat.get('errors'):
            out += ['Errors: ' + '; '.join(lat['errors'][:12]), '']

    r = sec.get('recovery')
    if r:
        out += ['## 4. Recovery after the ssh connection is killed (%s)' % r['how'], '',
                '| what | n | min s | median s | max s |', '|---|---|---|---|---|',
                row_stats('ours (persist, holdoff %s)' % r.get('holdoff_s', 2), r['ours_s']),
                '| HOWTO script | %d | recovered %d of %d within %d s | | |' % (
                    len(r['howto_runs']), r['howto_recovered'], len(r['howto_runs']), r['cap_s']),
                '', 'HOWTO: link interface gone after the cap: %s.' % r.get('howto_link_gone_after_cap'), '']

    f = sec.get('fleet')
    if f:
        out += ['## 5. Fleet: `playbooks/site.yml`, 1 server + N clients, fresh guests each repetition', '',
                '| N | reps | first run s (min/med/max) | rerun s | rerun changed | per host, first / rerun s (median) '
                '| floor `ansible all -m ping` s | links up |', '|---|---|---|---|---|---|---|---|']
        for key, e in sorted(f.items()):
            if not key.startswith('n') or not isinstance(e, dict):
                continue
            s = e['stats']
            out.append('| %s | %s | %s / %s / %s | %s / %s / %s | %s | %s / %s | %s | %s |' % (
                key[1:], e['reps'], fmt(s['first_s']['min'], 1), fmt(s['first_s']['median'], 1),
                fmt(s['first_s']['max'], 1), fmt(s['rerun_s']['min'], 1), fmt(s['rerun_s']['median'], 1),
                fmt(s['rerun_s']['max'], 1), fmt(s['rerun_changed']['max']),
                fmt(med(e['first_per_host_s']), 1), fmt(med(e['rerun_per_host_s']), 1),
                fmt(s['ping_floor_s']['median'], 1), '%s/%s' % (fmt(s.get('links_up', {}).get('min')), key[1:])))
        out.append('')
        out += rerun_profile_lines(f)

    sc = sec.get('scale')
    if sc:
        out += ['## 6. Server scale: concurrent tunnels on one server guest (%s; %s)' % (sc['server_mem'], sc['how']), '',
                '| tunnels | reps | reachable (min) | bring-up of the step s (median) | server memory per tunnel MB (min/med/max) |',
                '|---|---|---|---|---|']
        for step in sc['steps']:
            rows = [s for run in sc['runs'] for s in run['steps'] if s['tunnels'] == step]
            per = sorted(s['per_tunnel_kb'] / 1024.0 for s in rows)
            ups = sorted(s['up_s'] for s in rows)
            out.append('| %d | %d | %d | %s | %s / %s / %s |' % (
                step, len(rows), min(s['reachable'] for s in rows), fmt(ups[len(ups) // 2], 1),
                fmt(per[0]), fmt(per[len(per) // 2]), fmt(per[-1])))
        out.append('')
        out += scale_process_lines(sc)
    for note in data.get('notes', []):
        out.append('- ' + note)
    return '\n'.join(out) + '\n'


def scale_process_lines(sc):
    """The server's processes per tunnel at the top step of the last rep (runs before the
    product-account scale have no such figure)."""
    top = [s for s in sc['runs'][-1]['steps'] if s['tunnels'] == max(sc['steps'])]
    if not top or 'processes_per_tunnel' not in top[0]:
        return []
    step = top[0]
    per = step['processes_per_tunnel']
    line = ', '.join('%s %s' % (comm, fmt(per[comm], 2)) for comm in sorted(per) if per[comm])
    return ['Server processes per tunnel at %d tunnels (last rep, over the count before the first tunnel): %s; '
            '%s in all.' % (step['tunnels'], line or 'none', fmt(sum(per.values()), 2)), '']


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        pass
    print('report: matplotlib missing, installing it into %s' % sys.prefix, flush=True)
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'matplotlib'], check=False)
    if proc.returncode != 0:
        return False
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def plot(data, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sec = data['sections']
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    fig.suptitle('pppssh bench %s (%s, %s cores): min/median/max' % (data['date'], data['machine'].get('host'),
                                                                     data['machine'].get('cores')))

    def bars(ax, labels, stats, title, unit):
        meds = [(s or {}).get('median') or 0 for s in stats]
        lo = [m - ((s or {}).get('min') or m) for m, s in zip(meds, stats)]
        hi = [((s or {}).get('max') or m) - m for m, s in zip(meds, stats)]
        ax.barh(range(len(labels)), meds, xerr=[lo, hi], color='#4a7fb5', capsize=3)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(unit)

    b = sec.get('bringup')
    if b:
        keys = ['howto_in_guest', 'ours_in_guest', 'ours_kex_curve25519_in_guest', 'ours_ansible_to_first_reply',
                'ansible_ping_floor']
        bars(axes[0][0], ['HOWTO script', 'ours (pppd call)', 'ours, curve25519 kex', 'ours via ansible',
                          'ansible -m ping floor'],
             [b['stats'][k] for k in keys], '1. bring-up to first ping reply', 's')
    t = sec.get('throughput')
    if t:
        keys = t['names']
        bars(axes[0][1], keys, [t['ratio_stats'].get(k) for k in keys],
             '2. throughput client->server / raw ssh stream (same rep)', 'ratio')
    lat = sec.get('latency')
    if lat:
        ax = axes[1][0]
        labels, stats = [], []
        for config, loads in lat['summary'].items():
            for load, e in loads.items():
                labels.append('%s %s p95' % (config, load))
                stats.append(e['ping_p95_ms'])
        bars(ax, labels, stats, '3. ping p95 across the tunnel (netem 20 ms, 4 mbit)', 'ms')
        ax.set_xscale('symlog', linthresh=100)
    f = sec.get('fleet')
    ax = axes[1][1]
    if f:
        labels, stats = [], []
        for key, e in sorted(f.items()):
            if not key.startswith('n') or not isinstance(e, dict):
                continue
            for what in ('first_s', 'rerun_s', 'ping_floor_s'):
                labels.append('N=%s %s' % (key[1:], what))
                stats.append(e['stats'][what])
        bars(ax, labels, stats, '5. site.yml, 1 server + N clients', 's')
    else:
        ax.axis('off')
    for ax in (axes[0][0], axes[0][1], axes[1][0]):
        if not ax.has_data():
            ax.axis('off')
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(RESULTS, 'latest.json')
    with open(path) as handle:
        data = json.load(handle)
    base = os.path.splitext(path)[0]
    with open(base + '.md', 'w') as handle:
        handle.write(markdown(data))
    print('report: wrote %s.md' % base)
    if ensure_matplotlib():
        plot(data, base + '.png')
        print('report: wrote %s.png' % base)
        runs = history.load(os.path.dirname(path))
        if runs:
            trend = os.path.join(os.path.dirname(path), 'history', 'trend.png')
            history.plot(runs, trend)
            print('report: wrote %s (%d runs)' % (trend, len(runs)))
    else:
        print('report: no matplotlib, no PNG')


if __name__ == '__main__':
    main()
