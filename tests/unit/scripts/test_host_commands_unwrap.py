"""Wrappers run the command they are given on the host; ssh, chroot and docker exec do not."""
import pytest

from host_commands import shell_lexer, unwrap


def run(line):
    command = shell_lexer.commands(line)[0]
    return unwrap.names(command.words)


@pytest.mark.parametrize('line, expected', [
    ('ip netns exec pppssh-rig nft -f -', ['ip', 'nft']),
    ('ip -n pppssh-rig link show', ['ip']),
    ('setsid ip netns exec ns /usr/bin/linux mem=1G', ['setsid', 'ip', '/usr/bin/linux']),
    ('timeout -s KILL 10 ssh host true', ['timeout', 'ssh']),
    ('env -i A=1 LC_ALL=C tc qdisc', ['env', 'tc']),
    ('sudo -n -u vpn pppd call x', ['sudo', 'pppd']),
    ('nohup nice -n 5 dockerd', ['nohup', 'nice', 'dockerd']),
    ('xargs -r -n 1 kill', ['xargs', 'kill']),
    ('exec ssh -F /dev/null host', ['exec', 'ssh']),
    ('flock -w 5 /run/lock rsync a b', ['flock', 'rsync']),
    ('flock -n 9', ['flock']),
    ('flock /run/lock -c "iptables -L"', ['flock', 'sh', 'iptables']),
])
def test_wrapped_commands_run_on_the_host(line, expected):
    assert run(line) == expected


@pytest.mark.parametrize('line, expected', [
    ("ssh root@guest 'nft list ruleset; tc qdisc'", ['ssh']),
    ('chroot "$root" apt-get install -y ppp', ['chroot']),
    ('docker exec server pppd call x', ['docker']),
    ('docker run --rm img iperf3 -s', ['docker']),
    ('"$rig" ssh guest nft -f -', []),
])
def test_what_runs_elsewhere_is_not_looked_at(line, expected):
    assert run(line) == expected


def test_shell_scripts_given_to_bash_c_are_read():
    assert run("bash -c 'mkfs.ext4 -q x && e2fsck -f x'") == ['bash', 'mkfs.ext4', 'e2fsck']
    assert run("timeout 0.3 bash -c 'exec 3<>/dev/tcp/$1/22' _ host") == ['timeout', 'bash', 'exec']


def test_probes_count_their_arguments():
    assert run('command -v debootstrap') == ['command', 'debootstrap']
    assert run('need ip sysctl "$UML"') == ['need', 'ip', 'sysctl']
    assert run('command docker info') == ['command', 'docker']
