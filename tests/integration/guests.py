"""Drive the guest rig (rig/rig) and Ansible against its guests, for the integration tests.

PPPSSH_PLAYBOOK_REPORTS=DIR keeps each playbook run's json report there (per-task timings)."""
import contextlib
import fcntl
import glob
import json
import os
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RIG = os.path.join(REPO, 'rig', 'rig')
RIG_DIR = os.environ.get('PPPSSH_RIG_DIR', '/var/tmp/pppssh-rig')
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')


def rig(*args, check=True, timeout=900):
    result = subprocess.run([RIG] + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError('rig %s failed (%d):\n%s\n%s' % (' '.join(args), result.returncode,
                                                              result.stdout[-3000:], result.stderr[-3000:]))
    return result


@contextlib.contextmanager
def booted(guests):
    """Fresh guests for the duration of a block; destroyed after (PPPSSH_KEEP_GUESTS=1 keeps them)."""
    rig('image', timeout=1800)
    rig('net-up')
    for guest in guests:
        rig('destroy', guest.name, check=False)
        rig('start', guest.name, guest.ip, '--fresh')
    try:
        for guest in guests:
            rig('wait', guest.name, '180')
        yield guests
    finally:
        if not os.environ.get('PPPSSH_KEEP_GUESTS'):
            for guest in guests:
                rig('destroy', guest.name, check=False)


class Guest(object):
    def __init__(self, name, ip):
        self.name = name
        self.ip = ip

    def sh(self, script, check=True, timeout=120):
        """Run a shell script as root in the guest; returns CompletedProcess."""
        result = rig('ssh', self.name, script, check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError('%s: %r failed (%d):\n%s\n%s' % (self.name, script, result.returncode,
                                                                  result.stdout, result.stderr))
        return result

    def out(self, script, **kwargs):
        return self.sh(script, **kwargs).stdout

    def processes(self, comm):
        """Pids of processes named ``comm`` (from /proc/PID/comm, exact match)."""
        text = self.out("for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null) && "
                        "[ \"$c\" = %s ] && echo ${p#/proc/}; done; true" % comm)
        return sorted(int(pid) for pid in text.split())

    def ppp_interfaces(self):
        return sorted(name for name in self.out('ls /sys/class/net').split() if name.startswith('ppp'))

    def link_addressed(self):
        """ppp-NAME (the link named after this guest) holds its IPCP address: the link carries traffic."""
        return self.sh('ip -4 -o addr show dev ppp-%s' % self.name, check=False).stdout.strip() != ''

    def wait_for(self, predicate, timeout=15, what='condition'):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise AssertionError('%s: %s not reached within %d s' % (self.name, what, timeout))


def inventory(path, guests):
    key = os.path.join(RIG_DIR, 'id_ed25519')
    lines = ['[all]']
    for guest in guests:
        lines.append('%s ansible_host=%s' % (guest.name, guest.ip))
    lines += ['', '[all:vars]', 'ansible_user=root', 'ansible_ssh_private_key_file=%s' % key,
              'ansible_python_interpreter=/usr/bin/python3',
              "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"]
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


def ansible_env(bin_dir=VENV_BIN):
    """The controller's environment. Facts are not injected as variables, as in the
    playbooks/ansible.cfg we ship: every converge of the suites proves the roles read facts as
    ansible_facts[...] only (issue 12). Tests that need Ansible's default override it."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_HOST_KEY_CHECKING='False',
               ANSIBLE_PIPELINING='True', ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='False', ANSIBLE_INJECT_FACT_VARS='False',
               # ssh's connect timeout (default 10 s): a guest on a host at load 10 once took longer to answer.
               ANSIBLE_TIMEOUT='30')
    env['PATH'] = bin_dir + os.pathsep + env.get('PATH', '')
    if bin_dir != VENV_BIN:
        # An older controller (a make matrix venv) has ansible-core only: the json callback is
        # ansible.posix's, which the main venv's ansible package carries (it supports 2.15+).
        env['ANSIBLE_COLLECTIONS_PATH'] = os.pathsep.join([COLLECTIONS] + glob.glob(
            os.path.join(REPO, '.venv', 'lib', 'python3*', 'site-packages')))
    return env


def controller(version):
    """The bin directory of an ansible-core ``version`` controller (a make matrix venv, made when
    missing), or the main venv's for None."""
    if version is None:
        return VENV_BIN
    proc = subprocess.run([os.path.join(VENV_BIN, 'python'), os.path.join(REPO, 'scripts', 'version_matrix.py'),
                           '--venv-only', version], capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise AssertionError('no ansible-core %s controller:\n%s%s' % (version, proc.stdout, proc.stderr))
    return proc.stdout.strip().splitlines()[-1]


def run_module(inventory_path, host, module, args, check=False, diff=False, timeout=300):
    """Run one module on one host through ansible; returns (result dict, seconds)."""
    argv = [os.path.join(VENV_BIN, 'ansible'), '-i', inventory_path, host, '-m', module, '-a', json.dumps(args)]
    argv += ['--check'] if check else []
    argv += ['--diff'] if diff else []
    started = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), timeout=timeout, check=False)
    elapsed = time.time() - started
    try:
        report = json.loads(proc.stdout)
        result = report['plays'][0]['tasks'][0]['hosts'][host]
    except (ValueError, KeyError, IndexError):
        raise AssertionError('ansible gave no result (rc %d):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return result, elapsed


def run_playbook_output(inventory_path, playbook, extra_args=(), timeout=1800, env=None, bin_dir=VENV_BIN):
    """ansible-playbook with the json callback; returns (report dict, seconds, stdout + stderr)."""
    argv = [os.path.join(bin_dir, 'ansible-playbook'), '-i', inventory_path, playbook] + list(extra_args)
    started = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env or ansible_env(bin_dir), timeout=timeout,
                          check=False)
    elapsed = time.time() - started
    keep_reports = os.environ.get('PPPSSH_PLAYBOOK_REPORTS')
    if keep_reports:
        os.makedirs(keep_reports, exist_ok=True)
        with open(os.path.join(keep_reports, '%d-%s.json' % (started * 1000, os.path.basename(playbook))), 'w') as handle:
            handle.write(proc.stdout)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('ansible-playbook gave no report (rc %d):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return report, elapsed, proc.stdout + proc.stderr


def run_playbook(inventory_path, playbook, extra_args=(), timeout=1800):
    """ansible-playbook with the json callback; returns (report dict, seconds)."""
    report, elapsed, _output = run_playbook_output(inventory_path, playbook, extra_args, timeout)
    return report, elapsed


def failures(report):
    """'host: task: msg' for every failed or unreachable task result in a json-callback report; a
    looped task gives one per failed item ('host: task (item NAME): msg'), where Ansible's own
    message is only "One or more items failed"."""
    found = []
    for play in report['plays']:
        for task in play['tasks']:
            for host, result in task['hosts'].items():
                if not (result.get('failed') or result.get('unreachable')) or result.get('ignore_errors'):
                    continue
                items = [item for item in result.get('results') or [] if item.get('failed')]
                for item in items:
                    found.append('%s: %s (item %s): %s'
                                 % (host, task['task']['name'], item_label(item), item.get('msg')))
                if not items:
                    found.append('%s: %s: %s' % (host, task['task']['name'], result.get('msg')))
    return found


def item_label(item):
    """A loop item's name (the roles loop over links and servers), else the item itself."""
    value = item.get(item.get('ansible_loop_var') or 'item')
    return value.get('name', value) if isinstance(value, dict) else value


def changed_tasks(report):
    return ['%s: %s' % (host, task['task']['name'])
            for play in report['plays'] for task in play['tasks']
            for host, result in task['hosts'].items() if result.get('changed')]


def merge_figures(path, figures):
    """Add ``figures`` to the JSON file at ``path``; parallel workers each merge their own, under a lock."""
    if not figures:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.lock', 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path) as handle:
                old = json.load(handle)
        except (IOError, OSError, ValueError):
            old = {}
        old.update(figures)
        with open(path, 'w') as handle:
            json.dump(old, handle, indent=2, sort_keys=True)
