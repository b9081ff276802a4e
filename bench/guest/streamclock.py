"""Guest-side counter of the pppssh benchmarks' raw ssh stream: bytes received, by this guest's clock.

Runs on the server guest. The stream's remote command writes its shell's pid to PIDFILE and
then execs ``dd of=/dev/null``, so the process read here is that stream's own dd, never another
(the first version took the newest dd of the user, and read a dying or a not yet started one).

  streamclock.py PIDFILE WAIT WARMUP SECONDS INTERVAL

waits up to WAIT s for PIDFILE (the session is up), reads the dd's rchar every INTERVAL s
through WARMUP s of warm-up and then SECONDS s of window, and prints one JSON line:
session_wait_s, warmup and window ([[seconds, bytes read, eth0 rx bytes], ...], seconds since the session was
seen), and error when the pidfile never came or the process went away.
"""
import json
import sys
import time


def eth0_rx():
    with open('/sys/class/net/eth0/statistics/rx_bytes') as handle:
        return int(handle.read())


def rchar(pid):
    try:
        with open('/proc/%d/io' % pid) as handle:
            for line in handle:
                if line.startswith('rchar:'):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def main(pidfile, wait, warmup, seconds, interval):
    t0 = time.monotonic()
    out = {'warmup': [], 'window': []}
    pid = None
    while time.monotonic() - t0 < wait:
        try:
            with open(pidfile) as handle:
                pid = int(handle.read().split()[0])
            break
        except (OSError, ValueError, IndexError):
            time.sleep(0.05)
    out['session_wait_s'] = round(time.monotonic() - t0, 3)
    if pid is None:
        out['error'] = 'no stream session within %.0f s (%s never written)' % (wait, pidfile)
        print(json.dumps(out))
        return
    out['pid'] = pid
    seen = time.monotonic()
    step = 0
    while True:
        now = time.monotonic() - seen
        got = rchar(pid)
        if got is None:
            out['error'] = 'stream process %d gone %.1f s after the session was seen' % (pid, now)
            break
        (out['warmup'] if now < warmup else out['window']).append([round(now, 4), got, eth0_rx()])
        if now >= warmup + seconds:
            break
        step += 1
        time.sleep(max(0.0, seen + step * interval - time.monotonic()))
    if out['warmup'] and out['window']:
        out['window'].insert(0, out['warmup'][-1])   # the window starts at the last warm-up reading
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
