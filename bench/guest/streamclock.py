"""Guest-side counter of the pppssh benchmarks' raw ssh stream: bytes received, by this guest's clock.

Runs on the server guest. The stream's remote command writes its shell's pid to PIDFILE and
then execs ``dd of=/dev/null``, so the process read here is that stream's own dd, never another
(the first version took the newest dd of the user, and read a dying or a not yet started one).

  streamclock.py PIDFILE WAIT WARMUP_MIN WARMUP_BYTES WARMUP_MAX SECONDS INTERVAL

waits up to WAIT s for PIDFILE (the session is up), reads the dd's rchar every INTERVAL s
through the warm-up, then SECONDS s of window, and prints one JSON line: session_wait_s,
warmup_s, warmup and window ([[seconds, bytes read, eth0 rx bytes], ...], seconds since the
session was seen), and error when the pidfile never came, the process went away or the
warm-up never ended.

The warm-up ends once WARMUP_MIN s have passed AND the stream has moved WARMUP_BYTES: a new
ssh session in these guests first trickles (one 64 KiB block every 0.5 s, about 1 Mbit/s) for
2-10 s before it runs at its rate, so a fixed warm-up from the start read that trickle. No end
by WARMUP_MAX s is an error (the stream never reached its steady state).
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


def main(pidfile, wait, warmup_min, warmup_bytes, warmup_max, seconds, interval):
    # pylint: disable=too-many-arguments
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
    opened = None   # seconds since the session was seen when the window opened
    while True:
        now = time.monotonic() - seen
        got = rchar(pid)
        if got is None:
            out['error'] = 'stream process %d gone %.1f s after the session was seen' % (pid, now)
            break
        reading = [round(now, 4), got, eth0_rx()]
        if opened is None and now >= warmup_min and got >= warmup_bytes:
            opened = now
            out['warmup_s'] = round(now, 3)
        (out['warmup'] if opened is None else out['window']).append(reading)
        if opened is None and now >= warmup_max:
            out['error'] = 'no steady state: %.1f MB moved in %.0f s of warm-up (%.0f MB needed)' % (
                got / 1e6, now, warmup_bytes / 1e6)
            break
        if opened is not None and now >= opened + seconds:
            break
        step += 1
        time.sleep(max(0.0, seen + step * interval - time.monotonic()))
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1], *(float(arg) for arg in sys.argv[2:8]))
