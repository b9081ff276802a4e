"""Where the CPU goes while a bulk stream runs: through the tunnel vs a raw ssh stream.

Both guests have one virtual CPU, so a CPU-bound stream is as fast as the work per byte
allows. Two snapshots of /proc/stat and of each interesting process's utime + stime, taken
while the stream runs, give each part's share of the CPU and the bytes eth0 carried in
between: the work per megabyte of each part, which is what the tunnel adds to raw ssh.
"""
import shlex
import time

# /proc/stat's first line, then "P comm ticks" per process (kernel threads too), then the eth0
# byte counters (bench/guest/procsnap.py, installed by lab.setup_guest_tools).
SNAPSHOT = 'python3 /root/procsnap.py'
CATEGORIES = ('user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq')


def snapshot(guest):
    """(cpu ticks by category, ticks by process name, eth0 (tx, rx) bytes, host time of the reading)."""
    cpu, procs, net = None, {}, None
    text = guest.out(SNAPSHOT)
    taken = time.time()
    for line in text.splitlines():
        words = line.split()
        if words[0] == 'cpu':
            cpu = [int(w) for w in words[1:1 + len(CATEGORIES)]]
        elif words[0] == 'P':
            procs[words[1]] = procs.get(words[1], 0) + int(words[2])
        elif words[0] == 'N':
            net = (int(words[1]), int(words[2]))
    return cpu, procs, net, taken


def shares(before, after, byte_index):
    """CPU share of each category and process between two snapshots, and the eth0 Mbit/s."""
    total = float(sum(after[0]) - sum(before[0])) or 1.0
    out = dict(('cpu_' + name, (after[0][i] - before[0][i]) / total) for i, name in enumerate(CATEGORIES))
    for comm in set(before[1]) | set(after[1]):
        used = after[1].get(comm, 0) - before[1].get(comm, 0)
        if used > 0:
            out['proc_' + comm] = used / total
    # By the host's clock: a UML guest's ticks do not keep wall time under load.
    out['eth0_mbit'] = (after[2][byte_index] - before[2][byte_index]) * 8 / (after[3] - before[3]) / 1e6
    return out


def profile(client, server, start, stop, warmup=2, window=5):
    """Start a stream (a shell command in the client, backgrounded), profile both ends, stop it."""
    client.sh('setsid sh -c %s >/dev/null 2>&1 < /dev/null &' % shlex.quote(start))
    time.sleep(warmup)
    before = snapshot(client), snapshot(server)
    time.sleep(window)
    after = snapshot(client), snapshot(server)
    client.sh(stop + '; true')
    time.sleep(2)
    return {'client': shares(before[0], after[0], 0), 'server': shares(before[1], after[1], 1)}
