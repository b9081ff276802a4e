# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics of every pppssh link on a host, for node_exporter's textfile collector.

Standard library only: the roles install it as /usr/local/lib/pppssh/pppssh_exporter.py, with
link.py, commands.py, causes.py, options.py and processes.py beside it (pppssh_link.py, ...), and
run it from a systemd timer:

  pppssh_exporter.py --output /var/lib/prometheus/node-exporter/pppssh.prom

Each run reads the links through link.read_links() (the reader pppssh_tunnel_info uses) and
replaces the file atomically: a temporary file in the same directory (its name does not end in
.prom, so the collector never reads it half-written), then a rename.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

try:
    from ansible_collections.pppssh.vpn.plugins.module_utils import link
except ImportError:  # installed on a host next to pppssh_link.py & co., run with python3 -I
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pppssh_link as link  # pylint: disable=import-error

# (name, type, help): the families in the order they are written.
FAMILIES = (
    ('pppssh_link_up', 'gauge', '1 when the link is up (IPCP up, addresses set), else 0.'),
    ('pppssh_link_info', 'gauge', 'The link\'s interface and addresses (always 1).'),
    ('pppssh_link_uptime_seconds', 'gauge', 'Seconds since the link\'s interface came up (0 when it is not up).'),
    ('pppssh_link_receive_bytes_total', 'counter', 'Bytes received on the link\'s interface (new after every redial).'),
    ('pppssh_link_transmit_bytes_total', 'counter', 'Bytes sent on the link\'s interface (new after every redial).'),
    ('pppssh_link_redials_total', 'counter', 'Redials since boot: attempts that followed one that ended by itself.'),
    ('pppssh_link_last_failure_timestamp_seconds', 'gauge',
     'When the latest failure in the link\'s log happened (seconds since the epoch), by cause.'),
    ('pppssh_exporter_last_run_timestamp_seconds', 'gauge', 'When the pppssh exporter last wrote this file.'),
)


def label_value(value):
    """A label value in the text format: backslash, double quote and newline escaped."""
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def sample(name, labels, value):
    inner = ','.join('%s="%s"' % (key, label_value(val)) for key, val in labels)
    return '%s{%s} %s' % (name, inner, value) if inner else '%s %s' % (name, value)


def link_labels(each, hostname):
    """link, server and role of a link; a server end also names its client. The server of a server
    end is this host (``hostname``); that of a client end is the server it dials."""
    labels = [('link', each['name']), ('server', each.get('server') or hostname), ('role', each.get('role') or 'unknown')]
    if each.get('role') == 'server':
        labels.append(('client', each.get('client') or ''))
    return labels


def link_samples(each, hostname):
    """{family: [sample lines]} of one link from its read_link() report."""
    labels = link_labels(each, hostname)
    up = each.get('state') == 'up'
    found = {
        'pppssh_link_up': [sample('pppssh_link_up', labels, 1 if up else 0)],
        'pppssh_link_info': [sample('pppssh_link_info', labels + [
            ('interface', each.get('interface') or ''),
            ('local_ip', each.get('local_ip') or ''), ('remote_ip', each.get('remote_ip') or '')], 1)],
        'pppssh_link_uptime_seconds': [sample('pppssh_link_uptime_seconds', labels,
                                              (each.get('uptime_s') or 0) if up else 0)],
    }
    for family, key in (('pppssh_link_receive_bytes_total', 'rx_bytes'),
                        ('pppssh_link_transmit_bytes_total', 'tx_bytes'),
                        ('pppssh_link_redials_total', 'redials')):
        if each.get(key) is not None:
            found[family] = [sample(family, labels, int(each[key]))]
    if each.get('last_cause') and each.get('last_cause_time') is not None:
        family = 'pppssh_link_last_failure_timestamp_seconds'
        found[family] = [sample(family, labels + [('cause', each['last_cause'])], int(each['last_cause_time']))]
    return found


def render(links, now, hostname):
    """The whole file (text exposition format 0.0.4) for ``links`` (read_link() reports)."""
    per_family = dict((name, []) for name, _kind, _help in FAMILIES)
    for each in sorted(links, key=lambda item: (item.get('name') or '', item.get('role') or '')):
        for family, lines in link_samples(each, hostname).items():
            per_family[family].extend(lines)
    per_family['pppssh_exporter_last_run_timestamp_seconds'] = [
        sample('pppssh_exporter_last_run_timestamp_seconds', [], '%.3f' % now)]
    out = []
    for name, kind, text in FAMILIES:
        out += ['# HELP %s %s' % (name, text), '# TYPE %s %s' % (name, kind)] + per_family[name]
    return '\n'.join(out) + '\n'


def write_atomically(path, text):
    """Replace ``path`` with ``text``: a temporary file in the same directory, fsync, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(handle, 'w') as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


# The textfile directory lands in a systemd unit: no spaces, no "%" (a unit specifier), no quotes.
DIRECTORY_RE = re.compile(r'/[A-Za-z0-9._/@+-]*')
INTERVAL_MAX_S = 86400
FILE_NAME = 'pppssh.prom'


def settings(directory, interval):
    """The canonical textfile directory, file and timer interval of the roles' metrics settings;
    ValueError (field, problem, fix) when one cannot be used."""
    text = directory if isinstance(directory, str) else ''
    clean = os.path.normpath(text) if text else ''
    if not DIRECTORY_RE.fullmatch(clean) or clean == '/' or '..' in clean.split('/'):
        raise ValueError('dir', 'textfile directory %r is not an absolute path of letters, digits and ._/@+-'
                         % (directory,), 'give node_exporter\'s --collector.textfile.directory, e.g. '
                         '/var/lib/prometheus/node-exporter')
    try:
        seconds = int(str(interval).strip())
    except ValueError:
        seconds = 0
    if isinstance(interval, bool) or not 1 <= seconds <= INTERVAL_MAX_S:
        raise ValueError('interval', 'interval %r is not a whole number of seconds from 1 to %d'
                         % (interval, INTERVAL_MAX_S), 'use e.g. 15 (node_exporter reads the file on every scrape)')
    return {'dir': clean, 'output': '%s/%s' % (clean, FILE_NAME), 'interval': seconds}


def run_command(argv):
    """``ip`` for link.read_status(): (rc, stdout, stderr)."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def main(argv=None):
    parser = argparse.ArgumentParser(description='Write the metrics of the pppssh links of this host.')
    parser.add_argument('--output', required=True, help='the .prom file in node_exporter\'s textfile directory')
    parser.add_argument('--server-state-file', default=link.SERVER_STATE_FILE)
    args = parser.parse_args(argv)
    links = link.read_links(run_command, state_file=args.server_state_file)
    write_atomically(args.output, render(links, time.time(), socket.gethostname()))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
