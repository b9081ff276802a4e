"""Figure 4: recovery after the ssh under a link is killed, ours beside the HOWTO's (which never
comes back: it is tried BENCH_HOWTO_RECOVERY_REPS times, capped at 30 s each)."""
import json
import os
import time

import rigbench as rb
from lab import CLIENT, HOWTO_PAIR, HOWTO_USER, OUR_LINK, REPS, link_up, start_howto, start_ours, stop_howto, stop_ours


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


def run(results, _inv=None):
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
