"""Figure 1: link bring-up, to the first ICMP echo reply across the link, beside the HOWTO's.

The HOWTO's ``vpn-pppssh start`` is the reference of the ratio: a pair whose HOWTO bring-up
got no reply is measured again once; a reference with a pair that failed twice, or whose
pairs spread wider than the bound of bench/verdicts.py (plus one LCP restart: the HOWTO's
client speaks first and its first Configure-Request can be dropped), is failed and the ratio
goal reads "not measured".

What IPV6CP costs: the same link through the HOWTO's account on the server (so that only the
pppd options differ), IPv4-only and dual-stack (``+ipv6``, the module's ``local_ip6``/
``remote_ip6``), each timed to its first IPv4 reply, FAMILY_STARTS times each per pair,
alternating; the pair's figure for each is the median of its starts. The IPv4-only link is the
reference of that ratio; a dual-stack start whose IPV6CP did not come up is no reading, and a
pair with a start that got no reading has no figure.
"""
import os
import time

import rigbench as rb
import verdicts
from lab import (CLIENT, REPS, OUR_LINK, VARIANT_PAIR, VARIANT_PAIR6, commands, options, our_link_args,
                 start_howto, start_ours, stop_howto, stop_ours, stop_pidfile_link, stop_strays, upclock,
                 variant_config)

# The two links of the IPv6 on/off pair: (name, server pppd options, module options of the client end).
FAMILY_LINKS = {
    'ipv4': ('bv4', '', {}),
    'dual': ('bv6', '+ipv6 ipv6 ::1,::2', {'local_ip6': VARIANT_PAIR6[0], 'remote_ip6': VARIANT_PAIR6[1]}),
}


# Starts of each family link per pair: the pair's figure for each is the median of its starts
# (alternating, ABAB then BABA), so that one slow ssh start does not decide the pair's ratio.
FAMILY_STARTS = int(os.environ.get('BENCH_FAMILY_STARTS', '3'))


def start_family_link(what):
    """Bring up the IPv4-only or the dual-stack link; first IPv4 reply in seconds, None without one
    (or, dual-stack, without IPV6CP: the link-local address it negotiates never appeared)."""
    name = FAMILY_LINKS[what][0]
    stop_strays(name)
    CLIENT.sh('rm -f %s' % commands.dial_state_path(name))   # a start, not a redial: no backoff (as start_ours)
    got = upclock(VARIANT_PAIR[1], ['/usr/sbin/pppd', 'call', commands.peer_name(name)])
    if got.get('first_reply_s') is not None and what == 'dual':
        probe = CLIENT.sh('for i in $(seq 50); do ip -6 -o addr show dev ppp-%s | grep -q "inet6 fe80::2[ /]" '
                          '&& exit 0; sleep 0.1; done; exit 1' % name, check=False)
        if probe.returncode != 0:
            got = dict(got, first_reply_s=None, error='IPV6CP did not come up')
    stop_pidfile_link(name, server_addr=VARIANT_PAIR[1])
    return got


def family_pair(rep):
    """FAMILY_STARTS starts of each family link, alternating: ({family: [seconds or None]}, errors)."""
    readings, errors = {'ipv4': [], 'dual': []}, []
    for start in range(FAMILY_STARTS):
        for what in (('ipv4', 'dual') if (rep + start) % 2 == 0 else ('dual', 'ipv4')):
            got = start_family_link(what)
            if got.get('first_reply_s') is None:
                errors.append('pair %d: the %s link: %s' % (rep + 1, what, got.get('error')))
            readings[what].append(got.get('first_reply_s'))
    return readings, errors


def run(results, inv):
    """In-guest pairs HOWTO / ours (cheap: BENCH_BRINGUP_PAIRS, default 3 x REPS), plus, for REPS of
    them, the module end to end through ansible next to ansible's own floor."""
    args = our_link_args(inv)
    pairs = int(os.environ.get('BENCH_BRINGUP_PAIRS', str(3 * REPS)))
    # Where the time goes: the same link with the classic curve25519 key exchange instead of
    # OpenSSH 9's default post-quantum hybrid (an ssh_options knob, not a default).
    kex_options = dict(args.get('ssh_options') or {}, KexAlgorithms='curve25519-sha256')
    kex = dict(args, name='bkex', state='started', ssh_options=kex_options)
    CLIENT.put('/etc/ppp/peers/pppssh-bkex', commands.peers_file(options.normalise(kex)), '0600')
    for name, server_args, params in FAMILY_LINKS.values():
        CLIENT.put('/etc/ppp/peers/pppssh-%s' % name, variant_config(name, server_args=server_args, **params), '0600')
    runs = {'howto_in_guest': [], 'ours_in_guest': [], 'ours_kex_curve25519_in_guest': [],
            'ours_ansible_to_first_reply': [], 'ours_ansible_call': [], 'ansible_ping_floor': [],
            'howto_script_exit': [], 'ours_pppd_call_exit': [], 'ipv4_only_in_guest': [], 'dual_stack_in_guest': []}
    family_starts = {'ipv4': [], 'dual': []}   # every start of the family links, per pair
    errors, failures = [], []
    howto_problems, retries = {}, []
    ipv4_problems = {}
    for rep in range(pairs):
        rb.log('bringup pair %d/%d' % (rep + 1, pairs))
        stop_ours()
        order = ['howto', 'ours', 'kex', 'families'] if rep % 2 == 0 else ['families', 'kex', 'ours', 'howto']
        if rep < REPS:
            order.insert(rep % 4, 'ansible')
        for what in order:
            if what == 'howto':
                got = start_howto()
                stop_howto()
                if got.get('first_reply_s') is None:   # the reference: measured again once
                    rb.log('bringup pair %d: the HOWTO link got no reply (%s); again' % (rep + 1, got.get('error')))
                    retries.append({'pair': rep + 1, 'first': got})
                    got = start_howto()
                    stop_howto()
                    if got.get('first_reply_s') is None:
                        howto_problems[rep + 1] = 'no reply across the HOWTO link, twice: %s' % got.get('error')
                runs['howto_in_guest'].append(got.get('first_reply_s'))
                runs['howto_script_exit'].append(got.get('cmd_exit_s'))
            elif what == 'ours':
                got = start_ours()
                runs['ours_in_guest'].append(got.get('first_reply_s'))
                runs['ours_pppd_call_exit'].append(got.get('cmd_exit_s'))
                stop_ours()
            elif what == 'families':
                readings, family_errors = family_pair(rep)
                errors += family_errors
                family_starts['ipv4'].append(readings['ipv4'])
                family_starts['dual'].append(readings['dual'])
                runs['ipv4_only_in_guest'].append(verdicts.pair_figure(readings['ipv4']))
                runs['dual_stack_in_guest'].append(verdicts.pair_figure(readings['dual']))
                if None in readings['ipv4']:
                    ipv4_problems[rep + 1] = 'no reply across the IPv4-only link in %d of %d starts' % (
                        readings['ipv4'].count(None), FAMILY_STARTS)
            elif what == 'kex':
                got = start_ours('bkex')
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
    howto = verdicts.reference_status(runs['howto_in_guest'], howto_problems, allowance=verdicts.LCP_RESTART_S)
    ratios = verdicts.pair_ratios(runs['ours_in_guest'], runs['howto_in_guest']) if howto['ok'] else []
    kex_ratios = [k / o for k, o in zip(runs['ours_kex_curve25519_in_guest'], runs['ours_in_guest']) if k and o]
    ipv4_only = verdicts.reference_status(runs['ipv4_only_in_guest'], ipv4_problems)
    dual_ratios = verdicts.pair_ratios(runs['dual_stack_in_guest'], runs['ipv4_only_in_guest']) if ipv4_only['ok'] else []
    under_2s = [o for o in runs['ours_in_guest'] if o is not None and o < 2.0]
    section = {'runs': runs, 'stats': dict((k, rb.stats(v)) for k, v in runs.items()), 'pairs': pairs,
               'ratio_ours_over_howto': rb.stats(ratios), 'ratio_kex_over_ours': rb.stats(kex_ratios),
               'ratio_dual_stack_over_ipv4_only': rb.stats(dual_ratios),
               'family_starts_per_pair': FAMILY_STARTS, 'family_starts': family_starts,
               'ours_under_2s': '%d of %d' % (len(under_2s), len(runs['ours_in_guest'])), 'errors': errors,
               'module_start_failures': failures,
               'references': {'howto': howto, 'ipv4_only': ipv4_only},
               'howto_retries': retries}
    results.section('bringup', section)
    # leave the product link up for the next sections
    start_ours()
