"""Guest-side snapshot for bench/cpuprofile.py: /proc/stat's first line, "P comm ticks" (utime +
stime) for every process that has used the CPU (kernel threads too, "kworker/0:1" as "kworker"),
then "N tx rx" of eth0's byte counters.

One Python process instead of the shell loop it replaces, which forked a cat per process: under a
CPU-bound stream a UML guest took seconds per snapshot that way.
"""
import os


def main():
    lines = []
    with open('/proc/stat') as handle:
        lines.append(handle.readline().rstrip('\n'))
    own = str(os.getpid())
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or pid == own:
            continue
        try:
            with open('/proc/%s/stat' % pid) as handle:
                text = handle.read()
        except (IOError, OSError):
            continue
        comm = text.split('(', 1)[1].split(')', 1)[0].split('/')[0]
        fields = text[text.rindex(')') + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        if ticks > 0:
            lines.append('P %s %d' % (comm, ticks))
    counters = []
    for name in ('tx_bytes', 'rx_bytes'):
        with open('/sys/class/net/eth0/statistics/' + name) as handle:
            counters.append(handle.read().strip())
    lines.append('N %s %s' % tuple(counters))
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
