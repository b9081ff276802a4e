"""Guest-side stopwatch of the pppssh benchmarks: time until the first ICMP echo reply.

Runs inside a rig guest as root (raw ICMP socket), started before the timed window so
that the guest's slow process start is not counted. Pings TARGET every 20 ms and ignores
send errors (no route while the link is down).

  upclock.py up TARGET TIMEOUT -- CMD...   t0, run CMD; JSON: first reply and CMD exit after t0
  upclock.py wait TARGET TIMEOUT           print "ready", then "reply" at the first reply
                                           (the caller timestamps the lines on its own clock)
  upclock.py kill TARGET TIMEOUT PID       t0, SIGKILL PID; JSON: first reply after t0
"""
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

INTERVAL = 0.02


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


class Pinger(object):
    def __init__(self, target):
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        self.ident = os.getpid() & 0xffff
        self.seq = 0
        self.next_send = 0.0

    def send(self):
        self.seq = (self.seq + 1) & 0xffff
        header = struct.pack('!BBHHH', 8, 0, 0, self.ident, self.seq)
        payload = b'pppssh-bench'
        packet = struct.pack('!BBHHH', 8, 0, checksum(header + payload), self.ident, self.seq) + payload
        try:
            self.sock.sendto(packet, (self.target, 0))
        except OSError:
            pass

    def poll(self, timeout):
        """True when an echo reply of ours arrived within ``timeout`` seconds (sends as due)."""
        now = time.monotonic()
        if now >= self.next_send:
            self.send()
            self.next_send = now + INTERVAL
        ready = select.select([self.sock], [], [], min(timeout, max(0.0, self.next_send - now)))[0]
        while ready:
            try:
                data, addr = self.sock.recvfrom(2048)
            except BlockingIOError:
                break
            ihl = (data[0] & 0x0f) * 4
            icmp_type, _code, _sum, ident = struct.unpack('!BBHH', data[ihl:ihl + 6])
            if icmp_type == 0 and ident == self.ident and addr[0] == self.target:
                return True
        return False


def wait_reply(pinger, deadline, proc=None, times=None, t0=0.0):
    while time.monotonic() < deadline:
        if proc is not None and times.get('cmd_exit_s') is None and proc.poll() is not None:
            times['cmd_exit_s'] = time.monotonic() - t0
            times['rc'] = proc.returncode
        if pinger.poll(0.005):
            return time.monotonic()
    return None


def main(argv):
    mode, target, timeout = argv[1], argv[2], float(argv[3])
    pinger = Pinger(target)
    if mode == 'wait':
        print('ready', flush=True)
        got = wait_reply(pinger, time.monotonic() + timeout)
        print('reply' if got else 'timeout', flush=True)
        return 0 if got else 1
    if mode == 'up':
        command = argv[argv.index('--') + 1:]
        times = {'cmd_exit_s': None, 'rc': None, 'first_reply_s': None}
        log = open('/tmp/upclock-cmd.log', 'w')
        t0 = time.monotonic()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        got = wait_reply(pinger, t0 + timeout, proc, times, t0)
        if got:
            times['first_reply_s'] = got - t0
        try:
            proc.wait(max(1.0, t0 + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        if times['cmd_exit_s'] is None and proc.poll() is not None:
            times['cmd_exit_s'] = time.monotonic() - t0
            times['rc'] = proc.returncode
        print(json.dumps(times))
        return 0 if got else 1
    if mode == 'kill':
        pid = int(argv[4])
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        got = wait_reply(pinger, t0 + timeout)
        print(json.dumps({'first_reply_s': (got - t0) if got else None}))
        return 0 if got else 1
    raise SystemExit('unknown mode %r' % mode)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
