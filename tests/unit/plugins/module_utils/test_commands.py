import json
import os
import shlex
import subprocess
import time

import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import commands, options

BASE = {'name': 'office', 'state': 'started', 'server': 'vpn.example.org',
        'identity_file': '/etc/pppssh/keys/office', 'known_hosts_file': '/etc/pppssh/known_hosts',
        'local_ip': '10.213.0.2', 'remote_ip': '10.213.0.1'}


def config(**overrides):
    return options.normalise(dict(BASE, **overrides))


def pppd_words(line):
    """Split one options-file line the way pppd's getword() does (quotes, backslash escapes)."""
    words, word, quote, escaped, in_word = [], '', None, False, False
    for char in line:
        if escaped:
            word += {'n': '\n', 't': '\t'}.get(char, char)
            escaped = False
        elif char == '\\':
            escaped, in_word = True, True
        elif quote:
            if char == quote:
                quote = None
            else:
                word += char
        elif char in '"\'':
            quote, in_word = char, True
        elif char.isspace():
            if in_word:
                words.append(word)
            word, in_word = '', False
        else:
            word += char
            in_word = True
    if in_word:
        words.append(word)
    return words


def peers_pty_argv(peers_text):
    line = next(line for line in peers_text.splitlines() if line.startswith('pty '))
    words = pppd_words(line)
    assert words[0] == 'pty' and len(words) == 2
    return shlex.split(words[1])


def test_ssh_pins_the_host_key_and_never_prompts():
    argv = commands.ssh_argv(config())
    joined = ' '.join(argv)
    assert argv[:4] == ['/usr/bin/ssh', '-F', 'none', '-e']
    for option in ('BatchMode=yes', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile=/etc/pppssh/known_hosts',
                   'GlobalKnownHostsFile=/dev/null', 'IdentityFile=/etc/pppssh/keys/office',
                   'IdentitiesOnly=yes', 'ServerAliveInterval=3', 'ServerAliveCountMax=4', 'ClearAllForwardings=yes'):
        assert option in argv, option
    assert 'accept-new' not in joined
    # Nothing but the pinned file can vouch for the server (review I3).
    for option in ('UpdateHostKeys=no', 'VerifyHostKeyDNS=no', 'CheckHostIP=no'):
        assert option in argv, option
    assert argv[-3:] == ['--', 'vpn.example.org', 'sudo -n /usr/sbin/pppd nodetach notty noauth']
    assert argv[argv.index('-l') + 1] == 'vpn'


def test_keepalives_are_tuned_together():
    lines = commands.pppd_options(config(keepalive_interval=2, keepalive_failures=4))
    argv = commands.ssh_argv(config(keepalive_interval=2, keepalive_failures=4))
    assert 'lcp-echo-interval 2' in lines and 'lcp-echo-failure 4' in lines
    assert 'ServerAliveInterval=2' in argv and 'ServerAliveCountMax=4' in argv


@pytest.mark.parametrize('remote_command', [
    'sudo -n /usr/sbin/pppd nodetach notty noauth',
    'sudo -n /usr/sbin/pppd call "pppssh-a b"',
    "echo 'single' \"double\" \\back\\slash $HOME `id` ; & | > #hash",
])
def test_pty_survives_both_quoting_layers(remote_command):
    cfg = config(remote_command=remote_command, ssh_options={'Ciphers': 'aes128-ctr,chacha20-poly1305@openssh.com'})
    assert peers_pty_argv(commands.peers_file(cfg)) == commands.pty_argv(cfg)
    assert peers_pty_argv(commands.peers_file(cfg))[4:] == commands.ssh_argv(cfg)
    assert peers_pty_argv(commands.peers_file(cfg))[-1] == remote_command


def dial(tmp_path, now_offset=None, state=None):
    """Run the real backoff script with sh, ``echo`` standing in for ssh; returns (output, state)."""
    path = tmp_path / 'link.dial'
    if state is not None:
        path.write_text(state)
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / 'sleep').write_text('#!/bin/sh\necho "slept $1"\n')   # the wait, without waiting
    (fake_bin / 'sleep').chmod(0o755)
    env = dict(os.environ, PATH='%s:%s' % (fake_bin, os.environ['PATH']))
    out = subprocess.run(['/bin/sh', '-c', commands.BACKOFF_SCRIPT, str(path), 'echo', 'ssh', 'ran'],
                         capture_output=True, text=True, env=env, check=True).stdout
    return out, path.read_text().split()


def test_the_dialler_backs_off_only_on_a_streak_of_quick_attempts(tmp_path):
    now = int(time.time())
    out, state = dial(tmp_path)
    assert out == 'ssh ran\n' and state[1] == '0'
    out, state = dial(tmp_path, state='%d 3' % now)
    assert out == 'ssh ran\n' and state[1] == '4'          # four quick failures: no wait yet
    out, state = dial(tmp_path, state='%d 4' % now)
    assert out == 'slept 2\nssh ran\n' and state[1] == '5'
    out, _state = dial(tmp_path, state='%d 7' % now)
    assert out == 'slept 16\nssh ran\n'
    out, state = dial(tmp_path, state='%d 40' % now)
    assert out == 'slept 30\nssh ran\n' and state[1] == '20'
    out, state = dial(tmp_path, state='%d 9' % (now - 120))  # the link was up for minutes: start over
    assert out == 'ssh ran\n' and state[1] == '0'


def test_the_lcp_budget_covers_the_longest_wait_and_the_connect_timeout():
    lines = commands.pppd_options(config())
    assert 'lcp-max-configure %d' % commands.LCP_MAX_CONFIGURE in lines
    assert commands.LCP_MAX_CONFIGURE * 3 >= 30 + config()['connect_timeout']


def test_the_client_speaks_only_after_the_server():
    # 'passive' sent a Configure-Request before the server's pppd was ready to read it (lost to its
    # notty relay about one bring-up in three on the bench: 3 s more); 'silent' waits for the server.
    lines = commands.pppd_options(config())
    assert 'silent' in lines and 'passive' not in lines


def test_peers_file_names_link_interface_and_log():
    lines = commands.pppd_options(config())
    assert lines[:4] == ['linkname pppssh-office', 'ifname ppp-office', 'logfile /var/log/pppssh/office.log',
                         'ipparam vpn']
    assert '10.213.0.2:10.213.0.1' in lines
    for option in ('noauth', 'persist', 'maxfail 0', 'holdoff 1', 'noccp', 'nodefaultroute'):
        assert option in lines


def test_persist_off_and_compression_choices():
    assert 'nopersist' in commands.pppd_options(config(persist=False))
    assert 'persist' not in commands.pppd_options(config(persist=False))
    assert commands.pppd_options(config(compression='deflate'))[-4:-1] == ['deflate 15', 'nobsdcomp', 'nopredictor1']
    assert 'bsdcomp 15' in commands.pppd_options(config(compression='bsdcomp'))
    assert 'noccp' in commands.pppd_options(config())


def test_the_client_never_agrees_to_authenticate_in_ppp():
    lines = commands.pppd_options(config())
    for option in ('refuse-pap', 'refuse-chap', 'refuse-mschap', 'refuse-mschap-v2', 'refuse-eap', 'noipv6'):
        assert option in lines


def test_no_addresses_when_the_server_assigns_them():
    lines = commands.pppd_options(config(local_ip=None, remote_ip=None))
    assert not [line for line in lines if ':' in line and not line.startswith('pty')]


def test_mtu_mru():
    lines = commands.pppd_options(config(mtu=1400, mru=1400))
    assert 'mtu 1400' in lines and 'mru 1400' in lines


def test_peers_file_carries_its_configuration():
    cfg = config()
    text = commands.peers_file(cfg)
    assert commands.config_from_peers_file(text) == json.loads(json.dumps(cfg))
    assert commands.config_from_peers_file('noauth\n') is None
    assert text.startswith('# Managed by pppssh.vpn.pppssh_tunnel')


def test_paths():
    assert commands.peers_path('office') == '/etc/ppp/peers/pppssh-office'
    assert commands.pidfile_path('office') == '/run/ppp-pppssh-office.pid'
    assert commands.pppd_call_argv('office') == ['/usr/sbin/pppd', 'call', 'pppssh-office']
    assert commands.systemd_unit('office') == 'pppssh@office.service'


def test_a_pty_word_longer_than_pppd_reads_is_detected():
    assert commands.pty_too_long(config()) is None
    assert commands.pty_too_long(config(remote_command='sudo -n /usr/sbin/pppd call x ' + 'y' * 600)) > 1023


def test_an_ipv4_link_refuses_ipv6cp():
    lines = commands.pppd_options(config())
    assert 'noipv6' in lines and not [line for line in lines if line.startswith(('+ipv6', 'ipv6 ', 'set '))]


def test_an_ipv6_pair_gives_ipv6cp_its_interface_identifiers_and_the_hook_its_addresses():
    lines = commands.pppd_options(config(local_ip6='fd13:213::2', remote_ip6='fd13:213::1'))
    assert 'noipv6' not in lines
    assert lines[lines.index('+ipv6') + 1:lines.index('+ipv6') + 4] == [
        'ipv6 ::2,::1', 'set PPPSSH_LOCAL6=fd13:213::2', 'set PPPSSH_REMOTE6=fd13:213::1']
    assert '10.213.0.2:10.213.0.1' in lines
