"""Python suites: the argv of subprocess calls, followed through names, + and functions."""
import textwrap

from host_commands import python_source

# The historic case (tests/integration/test_faults.py, issue 12): nft on the host, in the rig netns.
FAULTS = textwrap.dedent('''
    import subprocess

    def bridge_cut(clients, on):
        table = 'pppsshfault'
        netns = ['ip', 'netns', 'exec', 'pppssh-rig', 'nft']
        subprocess.run(netns + ['delete', 'table', 'bridge', table], capture_output=True, check=False)
        if not on:
            return
        subprocess.run(netns + ['-f', '-'], input='rules', text=True, check=True)
''')


def uses(source):
    return [(use.command, use.line) for use in python_source.uses(textwrap.dedent(source), 'x.py')]


def test_the_nft_in_the_rig_netns_is_found_where_it_runs():
    found = python_source.uses(FAULTS, 'tests/integration/test_faults.py')
    assert [(use.command, use.line) for use in found] == [('ip', 7), ('nft', 7), ('ip', 10), ('nft', 10)]
    assert 'ip netns exec pppssh-rig nft -f -' in found[3].text


def test_strings_sent_over_ssh_are_not_host_commands():
    assert uses('''
        import subprocess
        SSH = ['ssh', '-F', '/dev/null']
        def sh(ip, script):
            return subprocess.run(SSH + [ip, script], check=False)
        sh('10.0.0.1', 'nft list ruleset; tc qdisc show')
    ''') == [('ssh', 5)]


def test_parameters_are_followed_to_the_calls_of_their_function():
    assert uses('''
        import subprocess
        def machine():
            def cmd(argv):
                return subprocess.run(argv, capture_output=True).stdout
            return cmd(['hostname']), cmd(['uname', '-r'])
    ''') == [('hostname', 5), ('uname', 5)]


def test_functions_that_return_an_argv_are_followed():
    assert uses('''
        import subprocess
        def ssh_argv(ip):
            return ['ssh', '-l', 'root', ip]
        subprocess.Popen(ssh_argv('x') + ['iperf3 -s'])
        subprocess.run(ssh_argv('x')[:-1] + ['-O', 'exit', 'x'])
    ''') == [('ssh', 5), ('ssh', 6)]


def test_shell_strings_are_read_as_shell_and_which_counts():
    assert uses('''
        import os, shutil, subprocess
        subprocess.run('iperf3 -s | tee log', shell=True)
        os.system('sysctl -w a=1')
        shutil.which('qemu-system-x86_64')
    ''') == [('iperf3', 3), ('tee', 3), ('sysctl', 4), ('qemu-system-x86_64', 5)]


def test_calls_that_only_share_a_name_with_subprocess_run_do_not_count():
    assert uses('''
        from subprocess import check_output as out
        def run(line):
            return line
        run('nft -f -')
        out(['ss', '-t'])
    ''') == [('ss', 6)]


def test_the_venv_python_and_unknown_argv_are_not_host_commands():
    assert uses('''
        import os, subprocess, sys
        subprocess.run([sys.executable, '-m', 'pip', 'install', 'x'])
        subprocess.run(make_argv())
        subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), 'site.yml'])
    ''') == [('.../ansible-playbook', 5)]


def test_the_guest_side_mark_drops_the_call():
    assert uses('''
        import subprocess
        subprocess.run(['nft', '-f', '-'])  # guest-side: argv is run by the guest agent
        subprocess.run(['tc', 'qdisc'])
    ''') == [('tc', 4)]
