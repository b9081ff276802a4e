"""The exporter's file: rendered from read_link() reports, parsed back by prometheus-client's own
text parser, and replaced atomically."""
import os
import stat

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.pppssh.vpn.plugins.module_utils import exporter, link

NOW = 1796179800.25
CLIENT = {'name': 'office', 'role': 'client', 'server': 'vpn.example.org', 'client': None, 'state': 'up',
          'interface': 'ppp-office', 'local_ip': '10.213.0.2', 'remote_ip': '10.213.0.1', 'uptime_s': 402,
          'rx_bytes': 565, 'tx_bytes': 536, 'redials': 3, 'last_cause': 'peer_dead', 'last_cause_time': 1796179739}
SERVER_END = {'name': 'office', 'role': 'server', 'server': None, 'client': 'office.example.org', 'state': 'up',
              'interface': 'ppp-office', 'local_ip': '10.213.0.1', 'remote_ip': '10.213.0.2', 'uptime_s': 400,
              'rx_bytes': 536, 'tx_bytes': 565, 'redials': None, 'last_cause': None, 'last_cause_time': None}
DOWN = {'name': 'home', 'role': 'client', 'server': 'vpn.example.org', 'state': 'down', 'interface': 'ppp-home',
        'local_ip': None, 'remote_ip': None, 'uptime_s': None, 'rx_bytes': None, 'tx_bytes': None, 'redials': 0,
        'last_cause': 'auth_refused', 'last_cause_time': 1796179700}


def parsed(text):
    """{(sample name, frozenset(labels)): value} and {family: type}, by the real parser."""
    values, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for item in family.samples:
            values[(item.name, frozenset(item.labels.items()))] = item.value
    return values, types


def labels(**pairs):
    return frozenset(pairs.items())


def test_every_metric_of_both_ends_parses_with_its_value():
    values, types = parsed(exporter.render([CLIENT, SERVER_END, DOWN], NOW, 'gateway'))
    office = dict(link='office', server='vpn.example.org', role='client')
    server_end = dict(link='office', server='gateway', role='server', client='office.example.org')
    home = dict(link='home', server='vpn.example.org', role='client')
    assert values[('pppssh_link_up', labels(**office))] == 1
    assert values[('pppssh_link_up', labels(**server_end))] == 1
    assert values[('pppssh_link_up', labels(**home))] == 0
    assert values[('pppssh_link_uptime_seconds', labels(**office))] == 402
    assert values[('pppssh_link_uptime_seconds', labels(**home))] == 0
    assert values[('pppssh_link_receive_bytes_total', labels(**office))] == 565
    assert values[('pppssh_link_transmit_bytes_total', labels(**office))] == 536
    assert values[('pppssh_link_receive_bytes_total', labels(**server_end))] == 536
    assert ('pppssh_link_receive_bytes_total', labels(**home)) not in values  # no interface, no counter
    assert values[('pppssh_link_redials_total', labels(**office))] == 3
    assert values[('pppssh_link_redials_total', labels(**home))] == 0
    assert ('pppssh_link_redials_total', labels(**server_end)) not in values  # the server end keeps no log
    assert values[('pppssh_link_last_failure_timestamp_seconds', labels(cause='peer_dead', **office))] == 1796179739
    assert values[('pppssh_link_last_failure_timestamp_seconds', labels(cause='auth_refused', **home))] == 1796179700
    assert values[('pppssh_link_info', labels(interface='ppp-office', local_ip='10.213.0.2', remote_ip='10.213.0.1',
                                              **office))] == 1
    assert values[('pppssh_exporter_last_run_timestamp_seconds', frozenset())] == NOW
    assert types['pppssh_link_receive_bytes'] == 'counter' and types['pppssh_link_redials'] == 'counter'
    assert types['pppssh_link_up'] == 'gauge'


def test_no_links_still_says_when_it_ran():
    values, _types = parsed(exporter.render([], NOW, 'gateway'))
    assert values == {('pppssh_exporter_last_run_timestamp_seconds', frozenset()): NOW}


def test_label_values_are_escaped():
    odd = dict(CLIENT, server='a"b\\c\nd')
    values, _types = parsed(exporter.render([odd], NOW, 'gateway'))
    assert values[('pppssh_link_up', labels(link='office', server='a"b\\c\nd', role='client'))] == 1


def test_the_file_is_replaced_atomically(tmp_path, monkeypatch):
    target = tmp_path / 'pppssh.prom'
    target.write_text('old\n')
    renames = []
    real_rename = os.rename

    def rename(source, destination):
        renames.append((source, destination))
        assert os.path.dirname(source) == str(tmp_path) and not source.endswith('.prom')
        assert open(source).read() == 'new\n'  # complete before it takes the name
        real_rename(source, destination)

    monkeypatch.setattr(os, 'rename', rename)
    exporter.write_atomically(str(target), 'new\n')
    assert target.read_text() == 'new\n' and len(renames) == 1
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644
    assert os.listdir(str(tmp_path)) == ['pppssh.prom']


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / 'pppssh.prom'
    target.write_text('old\n')

    def full(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(OSError):
        exporter.write_atomically(str(target), 'new\n')
    assert target.read_text() == 'old\n' and os.listdir(str(tmp_path)) == ['pppssh.prom']


def test_main_writes_what_read_links_reports(tmp_path, monkeypatch):
    seen = {}

    def read_links(run_command, name=None, state_file=None):
        seen.update(state_file=state_file, ip=run_command(['true']))
        return [CLIENT]

    monkeypatch.setattr(link, 'read_links', read_links)
    target = tmp_path / 'pppssh.prom'
    assert exporter.main(['--output', str(target), '--server-state-file', '/x/state.json']) == 0
    values, _types = parsed(target.read_text())
    assert values[('pppssh_link_up', labels(link='office', server='vpn.example.org', role='client'))] == 1
    assert seen == {'state_file': '/x/state.json', 'ip': (0, '', '')}


def test_it_runs_as_the_roles_install_it(tmp_path):
    """pppssh_exporter.py with pppssh_link.py & co. beside it, python3 -I: no collection importable."""
    import shutil
    import subprocess
    import sys
    source = os.path.dirname(exporter.__file__)
    for name in ('exporter', 'link', 'commands', 'causes', 'options', 'processes'):
        shutil.copy(os.path.join(source, '%s.py' % name), str(tmp_path / ('pppssh_%s.py' % name)))
    target = tmp_path / 'out' / 'pppssh.prom'
    target.parent.mkdir()
    subprocess.run([sys.executable, '-I', '-B', str(tmp_path / 'pppssh_exporter.py'), '--output', str(target)],
                   check=True, cwd='/')
    values, _types = parsed(target.read_text())
    assert ('pppssh_exporter_last_run_timestamp_seconds', frozenset()) in values


@pytest.mark.parametrize('directory, interval, expected', [
    ('/var/lib/prometheus/node-exporter', 15, ('/var/lib/prometheus/node-exporter', 15)),
    ('/var/lib/prometheus/node-exporter/', '30', ('/var/lib/prometheus/node-exporter', 30)),
    ('/srv//metrics', 1, ('/srv/metrics', 1)),
])
def test_settings_are_made_canonical(directory, interval, expected):
    result = exporter.settings(directory, interval)
    assert (result['dir'], result['interval']) == expected
    assert result['output'] == expected[0] + '/pppssh.prom'


@pytest.mark.parametrize('directory, interval, field', [
    ('relative/dir', 15, 'dir'),
    ('/', 15, 'dir'),
    ('/var/lib/with space', 15, 'dir'),
    ('/var/lib/%h', 15, 'dir'),
    ('/var/lib/x\nExecStart=/bin/sh', 15, 'dir'),
    (None, 15, 'dir'),
    ('/var/lib/node', 0, 'interval'),
    ('/var/lib/node', '15s', 'interval'),
    ('/var/lib/node', True, 'interval'),
    ('/var/lib/node', 86401, 'interval'),
])
def test_settings_that_cannot_be_used_are_refused(directory, interval, field):
    with pytest.raises(ValueError) as caught:
        exporter.settings(directory, interval)
    assert caught.value.args[0] == field
