"""Do the listed commands exist on this host, and come from the package the list names?

Commands are looked up in the system directories only (not /usr/local, not a venv or pyenv):
what a fresh Debian gets from the package. A command counts as the package's when dpkg says
that package, or one of its dependencies (python3-venv -> python3 -> python3.11-minimal), owns
the file or the file it links to.
"""
import os
import re
import shutil
import subprocess

SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin'


def locate(command, path=SYSTEM_PATH):
    return shutil.which(command, path=path)


def file_variants(path):
    """The path, the file it resolves to, and both with and without the /usr merge."""
    variants = set()
    for candidate in (path, os.path.realpath(path)):
        variants.add(candidate)
        variants.add(candidate[4:] if candidate.startswith('/usr/') else '/usr' + candidate)
    return sorted(variants)


def parse_owners(output):
    """{path: set(packages)} from `dpkg-query -S` output."""
    owners = {}
    for line in output.splitlines():
        if line.startswith('diversion ') or ': ' not in line:
            continue
        packages, path = line.rsplit(': ', 1)
        owners.setdefault(path.strip(), set()).update(p.strip().split(':')[0] for p in packages.split(','))
    return owners


def parse_depends(output):
    """{package: set(direct dependencies)} from `dpkg-query -W -f '${Package}\\t${Depends}, ${Pre-Depends}\\n'`."""
    graph = {}
    for line in output.splitlines():
        if '\t' not in line:
            continue
        package, depends = line.split('\t', 1)
        names = set()
        for clause in depends.split(','):
            for alternative in clause.split('|'):
                match = re.match(r'\s*([a-z0-9][a-z0-9+.-]*)', alternative)
                if match:
                    names.add(match.group(1))
        graph[package.split(':')[0]] = names
    return graph


def closure(package, graph):
    seen, todo = set(), [package]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def dpkg_owners(paths):
    if not paths:
        return {}
    proc = subprocess.run(['dpkg-query', '-S'] + sorted(paths), capture_output=True, text=True, check=False)
    return parse_owners(proc.stdout)


def dpkg_depends():
    proc = subprocess.run(['dpkg-query', '-W', '-f', '${Package}\t${Depends}, ${Pre-Depends}\n'],
                          capture_output=True, text=True, check=False)
    return parse_depends(proc.stdout)


def problems(entries, locate_=locate, owners_=dpkg_owners, depends_=dpkg_depends):
    """Messages for listed commands that do not resolve, or resolve to another package's file."""
    found, where = [], {}
    for package, commands in entries:
        for command in commands:
            path = locate_(command)
            if path is None:
                found.append('%s (package %s) is not found in %s' % (command, package, SYSTEM_PATH))
            else:
                where[(package, command)] = path
    owners = owners_(set(v for path in where.values() for v in file_variants(path)))
    graph = depends_() if where else {}
    for (package, command), path in sorted(where.items()):
        owning = set(p for v in file_variants(path) for p in owners.get(v, ()))
        if not owning & closure(package, graph):
            found.append('%s resolves to %s, which %s, not %s or a package it depends on' % (
                command, path, ('belongs to ' + ', '.join(sorted(owning))) if owning else 'no package owns', package))
    return found


def main(lists):
    """python3 -m host_commands.resolve LIST...: print the problems; exit 1 when there are any."""
    from host_commands import packages     # pylint: disable=import-outside-toplevel
    entries = [entry for path in lists for entry in packages.read(path)]
    found = problems(entries)
    for problem in found:
        print('FAILED: ' + problem)
    count = sum(len(entry[1]) for entry in entries)
    print('%d of %d listed commands resolve in %s, each from its package' % (count - len(found), count, SYSTEM_PATH))
    return 1 if found else 0


if __name__ == '__main__':
    import sys
    sys.exit(main(sys.argv[1:]))
