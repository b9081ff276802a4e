"""Which files are host-side suites, how each is read, and who provides each program they run."""
import os

import yaml

from host_commands import marked_file, make_source, python_source, shell_lexer, shell_source, yaml_source

# The suites: what `make setup`, `make lab`, `make test`, `make bench` and CI run on the host.
SUITES = ('rig', 'scripts', 'tests', 'bench', 'molecule', 'playbooks', 'Makefile', '.ci/run')
# Files that run inside guests or containers, not on the host (also: MARK + ' file' in a file).
GUEST_SIDE = ('rig/guest/', 'bench/guest/', 'bench/vpn-pppssh', 'molecule/default/Dockerfile')
SKIP_DIRS = frozenset(('__pycache__', '.pytest_cache', 'results', 'output'))

# Bash builtins and reserved words: never a program on PATH that a package must provide.
BUILTINS = frozenset('''
    . : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare
    dirs disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill
    let local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt
    source suspend test times trap true type typeset ulimit umask unalias unset wait
'''.split())


def files(repo):
    """Repo-relative paths of the suite files, guest-side ones left out."""
    found = []
    for suite in SUITES:
        top = os.path.join(repo, suite)
        if os.path.isfile(top):
            found.append(suite)
            continue
        for directory, subdirs, names in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
            for name in sorted(names):
                found.append(os.path.relpath(os.path.join(directory, name), repo))
    return [path for path in found if not path.startswith(GUEST_SIDE)]


def kind(path, text):
    name = os.path.basename(path)
    if name.endswith('.py'):
        return 'python'
    if name == 'Makefile' or name.endswith('.mk'):
        return 'make'
    if name.endswith(('.yml', '.yaml')):
        return 'yaml'
    first = text.split('\n', 1)[0]
    if name.endswith('.sh') or (first.startswith('#!') and first.split('/')[-1].split()[-1] in ('bash', 'sh')):
        return 'shell'
    return None


class Scan(object):
    """Every host program use in the suites under repo, and the names the project itself defines."""

    def __init__(self, repo):
        self.repo = repo
        self.uses = []
        self.files = 0
        self.functions = set()      # shell functions of the suites (not programs)
        self.project = set()        # the suites' own executables (rig, lab.sh, ...)
        self.unreadable = []        # files that did not parse: the check fails on them
        sources = []
        variables, clash = {}, set()
        for path in files(repo):
            with open(os.path.join(repo, path), encoding='utf-8', errors='replace') as handle:
                text = handle.read()
            file_kind = kind(path, text)
            if os.access(os.path.join(repo, path), os.X_OK) or file_kind == 'shell':
                self.project.add(os.path.basename(path))
            if file_kind is None or marked_file(text):
                continue
            sources.append((path, file_kind, text))
            if file_kind == 'shell':
                self.functions |= shell_lexer.functions(text)
                for name, value in shell_source.plain_assignments(text).items():
                    if variables.get(name, value) != value:
                        clash.add(name)
                    variables[name] = value
        variables = dict((k, v) for k, v in variables.items() if k not in clash)
        for path, file_kind, text in sources:
            self.files += 1
            try:
                if file_kind == 'shell':
                    self.uses.extend(shell_source.uses(text, path, variables))
                elif file_kind == 'python':
                    self.uses.extend(python_source.uses(text, path))
                elif file_kind == 'yaml':
                    self.uses.extend(yaml_source.uses(text, path))
                else:
                    self.uses.extend(make_source.uses(text, path))
            except (SyntaxError, ValueError, yaml.YAMLError) as error:
                self.unreadable.append('%s: %s' % (path, error))


def program(command):
    """The name a package would provide for a command as written, or None for a project path."""
    if '/' in command and not command.startswith(('/', '.../')):
        return None                 # rig/rig, scripts/lab.sh: the project's own files
    return os.path.basename(command)


def provider(name, scan, listed, baseline, venv):
    """Who provides program name: a label, or None when nobody does."""
    if name in BUILTINS:
        return 'builtin'
    if name in listed:
        return 'package ' + listed[name]
    if name in baseline:
        return 'baseline ' + baseline[name]
    if name in scan.functions:
        return 'shell function'
    if name in venv:
        return 'venv'
    if name in scan.project:
        return 'project file'
    return None
