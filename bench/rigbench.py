"""Host-side helpers of the pppssh benchmarks: rig guests, ssh into them, Ansible, statistics.

Patterns follow tests/integration/guests.py; the bench keeps its own rig dir
(PPPSSH_RIG_DIR, default /var/tmp/pppssh-bench) and guest names/addresses
(bserver 192.168.213.70, bclientN 192.168.213.70+N).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
DEFAULT_RIG_DIR = '/var/tmp/pppssh-rig'
RIG_DIR = os.environ.setdefault('PPPSSH_RIG_DIR', '/var/tmp/pppssh-bench')
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
BUILD = os.path.join(REPO, '.build', 'bench')

sys.path.append(os.path.join(REPO, 'tests', 'integration'))   # after bench/: its fleet.py is no figure
import guests  # noqa: E402  pylint: disable=wrong-import-position


def log(message):
    print('[bench %s] %s' % (time.strftime('%H:%M:%S'), message), flush=True)


rig = guests.rig  # raises AssertionError naming the rig command and its output


def seed_image():
    """Reuse the default rig dir's image (same admin key, so the same stamp) instead of a rebuild."""
    os.makedirs(RIG_DIR, exist_ok=True)
    files = ('id_ed25519', 'id_ed25519.pub', 'image.ext4', 'image.ext4.stamp')
    if os.path.exists(os.path.join(RIG_DIR, 'image.ext4')):
        return
    if RIG_DIR != DEFAULT_RIG_DIR and all(os.path.exists(os.path.join(DEFAULT_RIG_DIR, f)) for f in files):
        for name in files:
            subprocess.run(['cp', '--sparse=always', '-p', os.path.join(DEFAULT_RIG_DIR, name),
                            os.path.join(RIG_DIR, name)], check=True)


def ssh_argv(ip):
    return ['ssh', '-F', '/dev/null', '-i', os.path.join(RIG_DIR, 'id_ed25519'), '-l', 'root',
            '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10',
            '-o', 'ControlMaster=auto', '-o', 'ControlPath=%s/cm-%%h' % BUILD, '-o', 'ControlPersist=600', ip]


class Guest(object):
    def __init__(self, name, ip):
        self.name = name
        self.ip = ip

    def sh(self, script, check=True, timeout=300, stdin=None):
        result = subprocess.run(ssh_argv(self.ip) + [script], capture_output=True, text=True,
                                timeout=timeout, check=False, input=stdin)
        if check and result.returncode != 0:
            raise RuntimeError('%s: %r failed (%d):\n%s\n%s' % (self.name, script[:300], result.returncode,
                                                                result.stdout[-2000:], result.stderr[-2000:]))
        return result

    def out(self, script, **kwargs):
        return self.sh(script, **kwargs).stdout

    def put(self, path, text, mode='0644'):
        self.sh('cat > %s.tmp && chmod %s %s.tmp && mv %s.tmp %s' % (path, mode, path, path, path), stdin=text)

    def popen(self, script):
        return subprocess.Popen(ssh_argv(self.ip) + [script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def wait_for(self, script, timeout=30, what='condition'):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.sh(script, check=False, timeout=60).returncode == 0:
                return True
            time.sleep(0.3)
        raise RuntimeError('%s: %s not reached within %d s' % (self.name, what, timeout))


CONTROL_GENERATION = 0   # bumped when guests are replaced: a new Ansible ssh control dir


def forget_connections(guests):
    """Fresh guests reuse old addresses: drop our ssh masters and Ansible's persistent connections."""
    global CONTROL_GENERATION
    for guest in guests:
        subprocess.run(ssh_argv(guest.ip)[:-1] + ['-O', 'exit', guest.ip], capture_output=True, check=False)
    CONTROL_GENERATION += 1


def boot(guests, mem='256M', ipv6=False):
    forget_connections(guests)
    rig('image', timeout=1800)
    rig('net-up')
    for guest in guests:
        rig('destroy', guest.name, check=False)
    for guest in guests:
        rig('start', guest.name, guest.ip, '--fresh', '--mem', mem, *(['--ipv6'] if ipv6 else []))
    for guest in guests:
        rig('wait', guest.name, '180')


def destroy(guests):
    for guest in guests:
        rig('destroy', guest.name, check=False)


def ansible_env():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_HOST_KEY_CHECKING='False',
               ANSIBLE_PIPELINING='True', ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='False',
               ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(BUILD, 'cp-%d-%d' % (os.getpid(), CONTROL_GENERATION)))
    env['PATH'] = VENV_BIN + os.pathsep + env.get('PATH', '')
    return env


def write_inventory(path, server, clients, client_vars=None, server_vars=None):
    """A site.yml inventory (JSON is YAML) for one server and its clients."""
    hosts = {}
    for guest in clients:
        hosts[guest.name] = dict({'ansible_host': guest.ip}, **(client_vars or {}))
    inventory = {'all': {
        'vars': {'ansible_user': 'root', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ansible_ssh_private_key_file': os.path.join(RIG_DIR, 'id_ed25519'),
                 'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'},
        'children': {
            'pppssh_servers': {'hosts': {server.name: dict({'ansible_host': server.ip}, **(server_vars or {}))}},
            'pppssh_clients': {'hosts': hosts},
        }}}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


def run_module(inventory_path, host, module, args, timeout=300):
    argv = [os.path.join(VENV_BIN, 'ansible'), '-i', inventory_path, host, '-m', module]
    if args is not None:
        argv += ['-a', json.dumps(args)]
    started = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), timeout=timeout, check=False)
    elapsed = time.time() - started
    try:
        result = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts'][host]
    except (ValueError, KeyError, IndexError):
        raise RuntimeError('ansible gave no result (rc %d):\n%s\n%s'
                           % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    if result.get('failed') or result.get('unreachable'):
        raise RuntimeError('%s on %s failed: %s' % (module, host, result.get('msg')))
    return result, elapsed


def run_playbook(inventory_path, playbook, timeout=1800):
    """The integration tests' ansible-playbook runner, with the bench's environment; failures raise."""
    report, elapsed, _output = guests.run_playbook_output(inventory_path, playbook, timeout=timeout, env=ansible_env())
    failed = guests.failures(report)
    if failed:
        raise RuntimeError('site.yml failed:\n' + '\n'.join(failed))
    return report, elapsed


def changed_count(report):
    return sum(stats['changed'] for stats in report['stats'].values())


class LineClock(object):
    """Read a process's stdout lines in a thread; remember the host time each line arrived."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append((time.time(), line.strip()))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.time(), None))
            self.cond.notify_all()

    def wait_line(self, text, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for stamp, line in self.lines:
                    if line == text:
                        return stamp
                    if line is None:
                        return None
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return {'n': 0, 'min': None, 'median': None, 'max': None}
    return {'n': len(values), 'min': min(values), 'median': statistics.median(values), 'max': max(values)}


def percentile(values, fraction):
    values = sorted(values)
    if not values:
        return None
    index = min(len(values) - 1, max(0, int(round(fraction * (len(values) - 1)))))
    return values[index]


def jain(values):
    values = [v for v in values if v is not None]
    if not values or not any(values):
        return None
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def machine():
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ''
    model = ''
    try:
        with open('/proc/cpuinfo') as handle:
            model = next((line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')), '')
    except OSError:
        pass
    with open('/proc/meminfo') as handle:
        mem_kb = int(handle.readline().split()[1])
    return {'host': cmd(['hostname']), 'kernel': cmd(['uname', '-r']), 'cpu': model, 'cores': os.cpu_count(),
            'mem_gb': round(mem_kb / 1048576.0, 1), 'os': cmd(['sh', '-c', '. /etc/os-release; echo $PRETTY_NAME']),
            'loadavg_start': open('/proc/loadavg').read().split()[:3],
            'other_rig_guests': [line for line in rig('ps', check=False).stdout.splitlines()
                                 if '/pppssh-bench' not in line]}


def have(command):
    return shutil.which(command) is not None
