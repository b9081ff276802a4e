"""make check-host-commands: every host command the suites run is one that setup installs.

1. Scans rig/, scripts/, tests/, bench/, molecule/, playbooks/, the Makefile and .ci/run for the
   programs they run on the host (see scripts/host_commands/), and fails naming each one that
   no line of scripts/host-packages.txt provides (nor scripts/host-baseline.txt, the venv, a
   shell builtin, or the project's own scripts and functions), with every place it is run.
2. Fails when a listed command does not resolve on this host, or resolves to a file that
   another package than the listed one owns (run it after `make setup`).

Commands sent to a guest (over ssh, into a chroot or container) are not host commands. A line
that runs a program in a guest some other way is marked with a `# guest-side` comment; a whole
file with `guest-side file` in a comment in its first five lines.

    python scripts/check_host_commands.py [--packages FILE] [--venv DIR]... [--verbose]
"""
import argparse
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from host_commands import packages, resolve, scan  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = ("Fix: add the Debian package that ships it to scripts/host-packages.txt (the package, then the "
       "command), or mark the line '# guest-side' if it runs in a guest.")


def venv_programs(venvs):
    names = set()
    for venv in venvs:
        names.update(os.listdir(os.path.join(venv, 'bin')) if os.path.isdir(os.path.join(venv, 'bin')) else ())
    return names


def missing_programs(result, listed, baseline, venv):
    """{program: [uses]} of the programs nobody provides."""
    missing = {}
    for use in result.uses:
        name = scan.program(use.command)
        if name and scan.provider(name, result, listed, baseline, venv) is None:
            missing.setdefault(name, []).append(use)
    return missing


def report_missing(missing, list_path, out):
    out.write('check-host-commands: FAILED: %d host command(s) that no package in %s provides:\n'
              % (len(missing), _shown(list_path)))
    for name in sorted(missing):
        for index, use in enumerate(missing[name]):
            out.write('  %-12s %s:%d: %s\n' % (name if index == 0 else '', use.path, use.line, use.text))
    out.write('  ' + FIX + '\n')


def _shown(path):
    path = os.path.abspath(path)
    return os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else path


def report_all(result, listed, baseline, venv, out):
    seen = {}
    for use in result.uses:
        name = scan.program(use.command)
        if name:
            seen.setdefault(name, []).append(use)
    for name in sorted(seen):
        first = seen[name][0]
        out.write('  %-18s %-28s %3d use(s), first %s:%d\n' % (
            name, scan.provider(name, result, listed, baseline, venv) or 'MISSING', len(seen[name]),
            first.path, first.line))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--repo', default=REPO)
    parser.add_argument('--packages', default=os.path.join(REPO, 'scripts', 'host-packages.txt'))
    parser.add_argument('--baseline', default=os.path.join(REPO, 'scripts', 'host-baseline.txt'))
    parser.add_argument('--venv', action='append', help='venv whose bin/ provides commands '
                        '(default: .venv and .venvs/*)')
    parser.add_argument('--no-resolve', action='store_true', help='only scan, do not look the commands up')
    parser.add_argument('--verbose', '-v', action='store_true', help='list every program and who provides it')
    args = parser.parse_args(argv)
    started = time.time()
    out = sys.stdout

    venvs = args.venv or [os.path.join(args.repo, '.venv')] + sorted(glob.glob(os.path.join(args.repo, '.venvs', '*')))
    listed_entries = packages.read(args.packages)
    baseline_entries = packages.read(args.baseline)
    listed, baseline = packages.providers(listed_entries), packages.providers(baseline_entries)
    venv = venv_programs(venvs)
    result = scan.Scan(args.repo)
    programs = set(filter(None, (scan.program(use.command) for use in result.uses)))
    out.write('check-host-commands: %d files of %s: %d host command uses, %d distinct programs\n'
              % (result.files, ' '.join(scan.SUITES), len(result.uses), len(programs)))
    if not venv:
        out.write('check-host-commands: no venv at %s: run make setup first\n' % ' '.join(venvs))
    if args.verbose:
        report_all(result, listed, baseline, venv, out)

    failed = bool(result.unreadable)
    for problem in result.unreadable:
        out.write('check-host-commands: FAILED: cannot read %s\n' % problem)
    missing = missing_programs(result, listed, baseline, venv)
    if missing:
        report_missing(missing, args.packages, out)
        failed = True
    unused = sorted(set(listed) - programs)
    if unused:
        out.write('check-host-commands: listed, not seen run by a suite (fine if a guest-side or '
                  'indirect use needs it): %s\n' % ' '.join(unused))

    if not args.no_resolve:
        problems = resolve.problems(listed_entries + baseline_entries)
        for problem in problems:
            out.write('check-host-commands: FAILED: %s\n' % problem)
        if problems:
            out.write('  Fix: run make setup; if that does not help, the list names the wrong package.\n')
            failed = True
        else:
            out.write('check-host-commands: all %d listed and %d baseline commands resolve in %s, '
                      'each from its package\n' % (len(listed), len(baseline), resolve.SYSTEM_PATH))
    out.write('check-host-commands: %s (%.1f s)\n' % ('FAILED' if failed else 'passed', time.time() - started))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
