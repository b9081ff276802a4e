"""Figure 2: throughput client -> server through each link variant, beside a raw ssh stream.

CPU-bound on the plain rig network (``run``), bandwidth-bound over a 4 mbit outer link
(``run_4mbit``), and where the CPU goes during a bulk stream (``run_cpu``, section 2b).

The raw ssh stream is the reference every ratio is taken against, so it validates itself in
every repetition (bench/verdicts.py): its own dd's byte counter, read on the server every
RAW_INTERVAL s, grew in every interval of its window by at least a quarter of the window's median
interval; it is not slower than any tunnel variant
measured beside it in the same repetition; and its repetitions stay within the spread bound.
A repetition that fails is measured again once, at the end of its repetition; a reference
that still fails is reported failed and its goal reads "not measured".
"""
import json
import os
import time

import cpuprofile
import rigbench as rb
import verdicts
from lab import (CLIENT, HOWTO_PAIR, HOWTO_USER, IPERF_SECONDS, OUR_LINK, OUTER_RATE_KBIT, REPS, SERVER,
                 VARIANT_PAIR, iperf, known_hosts_line, link_up, netem, restart_ours_with_deflate, start_howto,
                 start_ours, stop_howto, stop_ours, stop_pidfile_link, upclock, variant_config)

# name: (description, client pppd lines, server pppd args, module params)
# No 'sync' variant: it got no link in any repetition (5 of 5 on 2026-12-03, 3 of 3 on 2026-12-07).
# pppd's sync framing (the N_SYNC_PPP line discipline) takes each chunk the tty delivers as one
# whole frame; an ssh byte stream keeps no frame boundaries, so no frame arrives intact.
VARIANTS = [
    ('default', 'module defaults (what pppssh_tunnel renders today)', (), '', {}),
    ('asyncmap0', 'asyncmap 0 on both ends (no control-character escaping)', ('asyncmap 0',), 'asyncmap 0', {}),
    ('mtu4000', 'asyncmap 0 + mtu/mru 4000 on both ends', ('asyncmap 0',), 'asyncmap 0 mtu 4000 mru 4000',
     {'mtu': 4000, 'mru': 4000}),
    ('deflate', 'PPP deflate compression (module compression=deflate)', (), 'deflate 15 nobsdcomp',
     {'compression': 'deflate'}),
    ('sshcomp', 'ssh Compression=yes', (), '', {'ssh_options': {'Compression': 'yes'}}),
    ('aesgcm', 'ssh Ciphers=aes128-gcm@openssh.com', (), '', {'ssh_options': {'Ciphers': 'aes128-gcm@openssh.com'}}),
    ('aesgcmam0', 'asyncmap 0 + aes128-gcm', ('asyncmap 0',), 'asyncmap 0',
     {'ssh_options': {'Ciphers': 'aes128-gcm@openssh.com'}}),
]


RAW_REFERENCES = ('raw_ssh', 'raw_ssh_aes128gcm')
# The warm-up, counted from the session being up (its pidfile written): at least RAW_WARMUP_MIN s and
# RAW_WARMUP_MB moved (a new ssh session here first trickles at about 1 Mbit/s for 2-10 s; the window
# of the first version fell into that), at most RAW_WARMUP_MAX s.
RAW_WARMUP_MIN = 2.0
RAW_WARMUP_MB = 16      # CPU-bound; over the 4 mbit line RAW_WARMUP_MB_BOUND (4 s at the line rate)
RAW_WARMUP_MB_BOUND = 2
RAW_WARMUP_MAX = 40
RAW_INTERVAL = 1.0      # s between readings of the server dd's counter
RAW_SESSION_WAIT = 30   # s for the session to come up

# The raw stream's ssh client keeps glibc's malloc off mmap for its buffers. With the default
# threshold (128 KiB, raised only as mmap'd chunks are freed), an ssh holding more of stdin than
# it can send re-maps its growing channel buffer, and a page fault costs so much in these guests
# that the client spends 75-88 % of the CPU on it while the stream trickles at 1-1.8 Mbit/s: the
# 2-10 s trickle at the start of every session, and over the 4 mbit line a stream slower than the
# tunnels (2026-12-07 17:1x, bclient1: ssh's CPU share 0.75-0.88 with few reads and writes and no
# sleeps; with this setting 0.00-0.05 and the line full). A tunnel's ssh never holds that much:
# the inner TCP is clocked by its ACKs.
RAW_SSH_MALLOC = 'GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728'
# The server end has the same trouble: the stream's sshd, with the default threshold, sat on the
# CPU while the stream trickled at 1-5 Mbit/s for its first 10-14 s (the warm-up waited it out);
# started with the setting, it ran at 600-900 Mbit/s within 2 s. So the raw stream goes to a second
# sshd on RAW_SSH_PORT, started with it (same sshd_config and host key). The tunnels keep the
# system's sshd: measured beside it, their throughput was the same on either.
RAW_SSH_PORT = 2222
RAW_SSHD_PIDFILE = '/run/pppssh-bench-sshd.pid'
# The raw stream's client up to its options (the stream's and the CPU figure's).
RAW_SSH_CLIENT = 'env %s ssh -T -o BatchMode=yes -p %d' % (RAW_SSH_MALLOC, RAW_SSH_PORT)
# The stream: the client's dd through ssh into a dd on the server whose pid the remote command
# writes first (exec keeps the pid), so the server reads exactly this stream's counter.
RAW_SSH_START = ("setsid sh -c \"dd if=/dev/zero bs=64k 2>/dev/null | " + RAW_SSH_CLIENT + " %(extra)s "
                 "%(user)s@%(server)s 'echo \\$\\$ > %(pidfile)s; exec dd of=/dev/null bs=64k 2>/dev/null'\" "
                 ">/dev/null 2>&1 </dev/null & echo $! > /tmp/bench-raw.pid")
RAW_SSH_STOP = ('p=$(cat /tmp/bench-raw.pid 2>/dev/null) && { pkill -P $p; kill $p; }; '
                'for i in $(seq 50); do pgrep -f "^ssh -T -o BatchMode=yes.*of=/dev/null" >/dev/null || break; '
                'sleep 0.1; done; true')
# Streams left running (on either end) would share the guests' one CPU with the next figure.
RAW_LEFTOVERS_SERVER = 'pgrep -u %s -x dd' % HOWTO_USER
RAW_LEFTOVERS_CLIENT = 'pgrep -f "^ssh -T -o BatchMode=yes.*of=/dev/null"'
ATTEMPT = [0]


def start_stream_sshd():
    """The raw stream's sshd on RAW_SSH_PORT (started once per guest boot) and its known_hosts line."""
    SERVER.sh('test -s {p} && kill -0 $(cat {p}) 2>/dev/null || env {m} /usr/sbin/sshd -p {port} -o PidFile={p}'
              .format(p=RAW_SSHD_PIDFILE, m=RAW_SSH_MALLOC, port=RAW_SSH_PORT))
    line = known_hosts_line(SERVER, RAW_SSH_PORT)
    CLIENT.sh("grep -qxF '{l}' /root/.ssh/known_hosts || echo '{l}' >> /root/.ssh/known_hosts".format(l=line))


def leftovers():
    """Pids of raw streams still running on the client (ssh) and the server (the howto user's dd)."""
    return {'client': CLIENT.out(RAW_LEFTOVERS_CLIENT, check=False).split(),
            'server': SERVER.out(RAW_LEFTOVERS_SERVER, check=False).split()}


def raw_ssh(seconds, cipher=None, bound=False):
    """One raw ssh stream client -> server (the same user, key and host key as the tunnels):
    {'mbit', 'wire_per_byte', 'samples', 'session_wait_s', 'problem', ...}.

    Mbit/s is the bytes the server's dd read over the window by the server's clock, after a
    warm-up counted from the session being up (not from the client's start: ssh's session start
    takes 3-4 s in these guests). ``problem`` is set when the window is no valid reading."""
    ATTEMPT[0] += 1
    pidfile = '/tmp/bench-raw-%d-%d.pid' % (os.getpid(), ATTEMPT[0])
    args = {'extra': '-o Ciphers=%s' % cipher if cipher else '', 'user': HOWTO_USER, 'server': SERVER.ip,
            'pidfile': pidfile}
    got = {'leftovers_before': leftovers()}
    if got['leftovers_before']['client'] or got['leftovers_before']['server']:
        CLIENT.sh('kill %s; true' % ' '.join(got['leftovers_before']['client']))
        SERVER.sh('kill %s; true' % ' '.join(got['leftovers_before']['server']))
    SERVER.sh('rm -f %s' % pidfile)
    warmup_bytes = (RAW_WARMUP_MB_BOUND if bound else RAW_WARMUP_MB) * 1000000
    clock = SERVER.popen('python3 /root/streamclock.py %s %d %s %d %d %s %s' % (
        pidfile, RAW_SESSION_WAIT, RAW_WARMUP_MIN, warmup_bytes, RAW_WARMUP_MAX, seconds, RAW_INTERVAL))
    time.sleep(1.0)   # the clock runs before the stream starts
    started = time.time()
    CLIENT.sh(RAW_SSH_START % args)
    try:
        out, err = clock.communicate(timeout=RAW_SESSION_WAIT + RAW_WARMUP_MAX + seconds + 60)
    finally:
        if clock.poll() is None:
            clock.kill()
        CLIENT.sh(RAW_SSH_STOP)
        SERVER.sh('rm -f %s' % pidfile)
    got['host_seconds'] = round(time.time() - started, 1)
    try:
        reading = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        got.update(mbit=None, problem='no reading from the server: %s' % (out + err)[-300:])
        return got
    got.update(samples=reading['window'], warmup_samples=reading['warmup'],
               session_wait_s=reading.get('session_wait_s'), warmup_s=reading.get('warmup_s'))
    if reading.get('error'):
        got.update(mbit=None, problem=reading['error'])
        return got
    mbit, problem = verdicts.check_stream(reading['window'])
    got.update(mbit=mbit, problem=problem)
    if mbit:
        (_t1, b1, rx1), (_t2, b2, rx2) = reading['window'][0], reading['window'][-1]
        got['wire_per_byte'] = (rx2 - rx1) / float(b2 - b1)   # the server's eth0 bytes per payload byte
    return got


def raw_ssh_checked(seconds, cipher, rep, log, bound=False):
    """raw_ssh(), measured again once when its window is no valid reading."""
    got = raw_ssh(seconds, cipher, bound)
    if got.get('problem'):
        log.append({'rep': rep, 'first': got})
        rb.log('raw ssh rep %d: %s; measuring it again' % (rep, got['problem']))
        got = dict(raw_ssh(seconds, cipher, bound), retried=True)
    return got


def measure(what, seconds, errors):
    """One variant, link or reference of one repetition: {'mbit', 'wire_per_byte', ...}."""
    if what in RAW_REFERENCES:
        raise ValueError(what)
    if what == 'ours_shipped':
        if not link_up('10.213.0.1'):
            start_ours()
        for guest in (CLIENT, SERVER):   # as shipped: no queue option set
            guest.sh('tc qdisc del dev ppp-%s root 2>/dev/null; true' % OUR_LINK)
        return iperf('10.213.0.1', seconds)
    if what == 'howto_script':
        stop_ours()
        start_howto()
        got = iperf(HOWTO_PAIR[1], seconds)
        stop_howto()
        start_ours()
        return got
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
    return got


def run(results, _inv=None, bound=False):
    """CPU-bound (plain rig network) or, with ``bound``, bandwidth-bound (netem 4 mbit on both NICs)."""
    wanted = os.environ.get('BENCH_VARIANTS')
    names = [v[0] for v in VARIANTS] + ['ours_shipped', 'howto_script', 'raw_ssh', 'raw_ssh_aes128gcm']
    if bound:
        names = ['default', 'howto_script', 'raw_ssh']
    if wanted:
        names = [n for n in names if n in wanted.split(',') or n == 'raw_ssh']   # the reference always
    variants = [v for v in VARIANTS if v[0] in names]
    refs = [n for n in names if n in RAW_REFERENCES]
    tunnels = [n for n in names if n not in RAW_REFERENCES]
    seconds = 8 if bound else IPERF_SECONDS
    figures = dict((name, []) for name in names)
    wire = dict((name, []) for name in names)
    raw_samples = dict((name, []) for name in refs)       # every reading of the reference, kept
    rep_problems = dict((name, {}) for name in refs)
    retries = []
    errors = []
    for name, _d, client_lines, server_args, params in variants:
        CLIENT.put('/etc/ppp/peers/pppssh-tp%s' % name[:8],
                   variant_config('tp%s' % name[:8], client_lines, server_args, **params), '0600')
    start_stream_sshd()
    if bound:
        netem(True)
    try:
        for rep in range(REPS):
            rb.log('throughput%s rep %d/%d' % (' (4 mbit outer link)' if bound else '', rep + 1, REPS))
            order = names[rep % len(names):] + names[:rep % len(names)]
            got_rep = {}
            for what in order:
                if what in RAW_REFERENCES:
                    cipher = 'aes128-gcm@openssh.com' if what == 'raw_ssh_aes128gcm' else None
                    got = raw_ssh_checked(seconds, cipher, rep + 1, retries, bound)
                    raw_samples[what].append(dict(got, rep=rep + 1))
                else:
                    got = measure(what, seconds, errors)
                if 'error' in got:
                    errors.append('%s rep %d: %s' % (what, rep + 1, got['error']))
                got_rep[what] = got
            # The reference bounds every tunnel beside it on the wire: a reading below one is no reading.
            for ref in refs:
                beside = dict((name, verdicts.wire_rate(got_rep[name])) for name in tunnels)
                problem = got_rep[ref].get('problem') or verdicts.check_beside(verdicts.wire_rate(got_rep[ref]),
                                                                               beside)
                if problem and not got_rep[ref].get('retried'):
                    rb.log('throughput rep %d: %s: %s; measuring it again' % (rep + 1, ref, problem))
                    retries.append({'rep': rep + 1, 'first': dict(got_rep[ref], problem=problem)})
                    cipher = 'aes128-gcm@openssh.com' if ref == 'raw_ssh_aes128gcm' else None
                    got = dict(raw_ssh(seconds, cipher, bound), retried=True)
                    raw_samples[ref].append(dict(got, rep=rep + 1))
                    got_rep[ref] = got
                    problem = got.get('problem') or verdicts.check_beside(verdicts.wire_rate(got), beside)
                if problem:
                    rep_problems[ref][rep + 1] = problem
                    got_rep[ref] = dict(got_rep[ref], mbit=None)
            for what in names:
                figures[what].append(got_rep[what].get('mbit'))
                wire[what].append(got_rep[what].get('wire_per_byte'))
    finally:
        if bound:
            netem(False)
    labels = dict((v[0], v[1]) for v in variants)
    warmup = (RAW_INTERVAL, seconds, RAW_WARMUP_MIN, RAW_WARMUP_MB_BOUND if bound else RAW_WARMUP_MB)
    references = dict((ref, verdicts.reference_status(figures[ref], rep_problems[ref])) for ref in refs)
    section = {'mbit': dict((k, rb.stats(v)) for k, v in figures.items()), 'runs': figures,
               'wire_per_byte': dict((k, rb.stats(v)) for k, v in wire.items()), 'wire_runs': wire,
               'variants': labels, 'names': names, 'errors': errors, 'iperf_seconds': seconds,
               'references': references, 'raw_samples': raw_samples, 'raw_retries': retries,
               'raw_how': 'the server dd\'s rchar every %.1f s over %d s, after a warm-up from the session being up '
                          'of >= %.0f s and >= %d MB moved; ssh and its sshd (port %d) with glibc\'s mmap threshold '
                          'at 32 MiB' % (warmup + (RAW_SSH_PORT,))}
    # per-rep ratios against the raw ssh stream of the same rep (none when the reference failed)
    raw_ok = references.get('raw_ssh', {}).get('ok')
    section['ratio_stats'] = dict(
        (k, rb.stats(verdicts.pair_ratios(v, figures['raw_ssh']) if raw_ok else [])) for k, v in figures.items())
    if bound:
        section['outer'] = 'netem delay 20ms rate %dkbit on eth0 of both guests' % OUTER_RATE_KBIT
        section['of_outer_rate'] = dict((k, rb.stats([x * 1000.0 / OUTER_RATE_KBIT for x in v if x]))
                                        for k, v in figures.items())
    results.section('throughput_4mbit' if bound else 'throughput', section)


def run_4mbit(results, inv=None):
    run(results, inv, bound=True)


def run_cpu(results, _inv=None):
    """Where the CPU goes: our link (as shipped, then with Deflate), the HOWTO link, a raw ssh stream."""
    cases = {
        'ours_shipped': ('iperf3 -c 10.213.0.1 -t 30', 'pkill -x iperf3'),
        'howto_script': ('iperf3 -c %s -t 30' % HOWTO_PAIR[1], 'pkill -x iperf3'),
        'raw_ssh': ("dd if=/dev/zero bs=64k | %s %s@%s 'dd of=/dev/null bs=64k'"
                    % (RAW_SSH_CLIENT, HOWTO_USER, SERVER.ip), 'pkill -x dd'),
    }
    cases['ours_deflate'] = cases['ours_shipped']
    names = list(cases)
    runs = dict((name, []) for name in names)
    start_stream_sshd()
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
