"""make matrix: ansible-test sanity and the unit tests on every ansible-core that meta/runtime.yml claims.

Each version has a venv: the newest (the one requirements-dev.txt pins) is .venv from make
setup; each older one is .venvs/ansible-2.NN from tests/matrix/requirements-2.NN.txt, made here
when missing or when its requirements file changed. Versions run PPPSSH_MATRIX_JOBS at a time
(default: 2, or 1 on a one-core machine), each with its own sanity copy and ansible-test HOME so
that two runs never build the same ansible-test venv at once. Logs: .build/matrix/2.NN/*.log.
Prints a version x (sanity, unit) table; exits non-zero when any cell failed.

    python scripts/version_matrix.py [2.16 2.18 ...]
    python scripts/version_matrix.py --venv-only 2.16   # only make (or check) that venv; prints its bin
"""
import concurrent.futures
import hashlib
import os
import re
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(REPO, 'tests', 'matrix')
BUILD = os.path.join(REPO, '.build', 'matrix')
MAIN_VENV = os.path.join(REPO, '.venv')
STEP_TIMEOUT_S = 1800
_print_lock = threading.Lock()


def say(message):
    with _print_lock:
        print('matrix: ' + message, flush=True)


def requirement_files(directory=REQUIREMENTS):
    """{'2.16': path} of tests/matrix/requirements-2.NN.txt."""
    found = {}
    for name in os.listdir(directory):
        match = re.match(r'^requirements-(\d+\.\d+)\.txt$', name)
        if match:
            found[match.group(1)] = os.path.join(directory, name)
    return found


def version_key(version):
    return tuple(int(part) for part in version.split('.'))


def minor(full_version):
    return '.'.join(full_version.split('.')[:2])


def pytest_counts(output):
    """'93 passed' / '1 failed, 92 passed' from pytest's closing line, or ''."""
    lines = [line for line in output.splitlines() if re.search(r'\d+ (passed|failed|error)', line)]
    if not lines:
        return ''
    return ', '.join(re.findall(r'\d+ (?:passed|failed|errors?|skipped)', lines[-1]))


class Job(object):
    """One ansible-core version: its venv, then sanity, then unit."""

    def __init__(self, version, venv, requirements=None):
        self.version = version
        self.venv = venv
        self.requirements = requirements        # None: the main venv, made by make setup
        self.full_version = '?'
        self.cells = {}                         # step -> (status, seconds, detail)
        self.logs = os.path.join(BUILD, version)

    def run(self):
        os.makedirs(self.logs, exist_ok=True)
        if self._step('venv'):
            self._step('sanity')
            self._step('unit')          # also after a failed sanity: the cells are independent
        else:
            self.cells.update(sanity=('not run', 0.0, ''), unit=('not run', 0.0, ''))
        return self

    def _step(self, step):
        started = time.time()
        try:
            status, detail = getattr(self, '_' + step)()
        except (OSError, subprocess.SubprocessError) as error:
            status, detail = 'FAILED', str(error)
        seconds = time.time() - started
        self.cells[step] = (status, seconds, detail)
        say('%s %-6s %s in %.0f s%s' % (self.version, step, status, seconds, (' (%s)' % detail) if detail else ''))
        return status in ('passed', 'cached', 'built')

    def _log(self, step, argv, env=None):
        path = os.path.join(self.logs, step + '.log')
        with open(path, 'w') as log:
            proc = subprocess.run(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT_S, check=False)
        with open(path) as log:
            return proc.returncode, log.read()

    def _venv(self):
        python = os.path.join(self.venv, 'bin', 'python')
        if self.requirements is not None:
            with open(self.requirements, 'rb') as handle:
                wanted = hashlib.sha256(handle.read()).hexdigest()
            stamp = os.path.join(self.venv, '.requirements.sha256')
            have = open(stamp).read().strip() if os.path.exists(stamp) else ''
            if not os.path.exists(python) or have != wanted:
                code, output = self._log('venv', ['bash', '-c', 'python3 -m venv "$1" && "$1/bin/pip" install -q -r "$2"',
                                                  'venv', self.venv, self.requirements])
                if code:
                    return 'FAILED', output.strip().splitlines()[-1] if output.strip() else 'rc %d' % code
                with open(stamp, 'w') as handle:
                    handle.write(wanted + '\n')
                status = 'built'
            else:
                status = 'cached'
        elif not os.path.exists(python):
            return 'FAILED', 'no %s: run make setup' % self.venv
        else:
            status = 'cached'
        self.full_version = subprocess.run(
            [python, '-c', 'import ansible.release; print(ansible.release.__version__)'],
            capture_output=True, text=True, check=True).stdout.strip()
        if minor(self.full_version) != self.version:
            return 'FAILED', '%s has ansible-core %s' % (self.venv, self.full_version)
        return status, self.full_version

    def _sanity(self):
        env = dict(os.environ, PPPSSH_VENV=self.venv, PPPSSH_SANITY_DIR=os.path.join(BUILD, self.version, 'sanity'))
        if self.requirements is not None:
            # Its own ansible-test cache (sanity venvs, get-pip stand-in); pip's download cache is shared.
            home = os.path.join(os.path.expanduser('~'), '.cache', 'pppssh-matrix', self.version)
            os.makedirs(home, exist_ok=True)
            env.update(HOME=home, PIP_CACHE_DIR=os.path.join(os.path.expanduser('~'), '.cache', 'pip'))
        code, output = self._log('sanity', ['bash', 'scripts/sanity.sh'], env)
        failed = sorted(set(re.findall(r'^ERROR: Found \d+ (\S+) issue', output, re.M)))
        return ('passed', '') if code == 0 else ('FAILED', ' '.join(failed) or 'rc %d' % code)

    def _unit(self):
        code, output = self._log('unit', [os.path.join(self.venv, 'bin', 'python'), '-m', 'pytest', '-q',
                                          '-p', 'no:cacheprovider', 'tests/unit'])
        return ('passed' if code == 0 else 'FAILED'), pytest_counts(output)


def jobs_for(selected=None):
    jobs = [Job(version, os.path.join(REPO, '.venvs', 'ansible-' + version), path)
            for version, path in requirement_files().items()]
    main_version = _main_version()
    if main_version and main_version not in [job.version for job in jobs]:
        jobs.append(Job(main_version, MAIN_VENV))
    jobs.sort(key=lambda job: version_key(job.version))
    return [job for job in jobs if not selected or job.version in selected]


def _main_version():
    """The ansible-core minor version requirements-dev.txt pins (the main venv's)."""
    with open(os.path.join(REPO, 'requirements-dev.txt')) as handle:
        match = re.search(r'^ansible-core==(\d+\.\d+)\.', handle.read(), re.M)
    return match.group(1) if match else None


def failure_excerpt(output, lines=25):
    """What a failed log says: ansible-test's ERROR lines when it has some, else its last lines."""
    errors = [line for line in output.splitlines() if line.startswith(('ERROR:', 'FATAL:'))]
    return '\n'.join(errors[:lines * 2] if errors else output.splitlines()[-lines:])


def table(jobs):
    head = ['ansible-core', 'venv', 'sanity', 'unit']
    rows = []
    for job in jobs:
        row = [job.full_version if job.full_version != '?' else job.version]
        for step in ('venv', 'sanity', 'unit'):
            status, seconds, detail = job.cells.get(step, ('not run', 0.0, ''))
            if step == 'venv':
                text = '%s %.0f s' % (status, seconds)
            elif status == 'not run':
                text = status
            else:
                text = '%s %.0f s%s' % (status, seconds, (' (%s)' % detail) if detail else '')
            row.append(text)
        rows.append(row)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + rows)


def failed_cells(jobs):
    return ['%s %s' % (job.version, step) for job in jobs for step, cell in sorted(job.cells.items())
            if cell[0] not in ('passed', 'cached', 'built')]


def venv_only(versions):
    """Make (or reuse) the venvs of ``versions`` and print each one's bin directory: the live
    converge on the oldest ansible-core (tests/integration/test_platforms.py) runs from there."""
    jobs = jobs_for(versions)
    missing = sorted(set(versions) - set(job.version for job in jobs))
    if missing:
        say('no requirements file for %s in %s' % (' '.join(missing), os.path.relpath(REQUIREMENTS, REPO)))
        return 2
    for job in jobs:
        os.makedirs(job.logs, exist_ok=True)
        if not job._step('venv'):
            return 1
        print(os.path.join(job.venv, 'bin'), flush=True)
    return 0


def main(argv=None):
    argv = list(argv if argv is not None else sys.argv[1:])
    if argv[:1] == ['--venv-only']:
        return venv_only(argv[1:])
    selected = argv or None
    jobs = jobs_for(selected)
    if not jobs:
        say('no version to run (tests/matrix/requirements-2.NN.txt, requirements-dev.txt)')
        return 2
    workers = int(os.environ.get('PPPSSH_MATRIX_JOBS') or min(2, os.cpu_count() or 1))
    started = time.time()
    say('%s, %d at a time; logs in %s' % (' '.join(job.version for job in jobs), workers,
                                          os.path.relpath(BUILD, REPO)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(Job.run, jobs))
    print('\n' + table(jobs) + '\n', flush=True)
    failed = failed_cells(jobs)
    for job in jobs:
        for step in ('venv', 'sanity', 'unit'):
            log_path = os.path.join(job.logs, step + '.log')
            if '%s %s' % (job.version, step) in failed and os.path.exists(log_path):
                with open(log_path) as log:
                    print('--- %s ---\n%s' % (os.path.relpath(log_path, REPO), failure_excerpt(log.read())))
    say('%s in %.0f s' % ('FAILED: ' + ', '.join(failed) if failed else 'all %d versions passed' % len(jobs),
                          time.time() - started))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
