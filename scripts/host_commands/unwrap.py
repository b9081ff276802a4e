"""Which programs one command line runs on the host: its first word, and what wrappers run.

`setsid ip netns exec pppssh-rig nft -f -` runs setsid, ip and nft on the host. What follows
`ssh HOST`, `chroot DIR` or `docker exec|run` runs elsewhere (a guest, a chroot, a container)
and is not looked at. `bash -c SCRIPT` and `sh -c SCRIPT` are parsed as shell.
`command -v NAME`, `type -P NAME` and the rig's `need NAME...` probe for host commands: the
names they are given count as used.
"""
import os

from host_commands import shell_lexer

# Options of a wrapper that take a value (the value is not the wrapped command).
_VALUE_OPTIONS = {
    'setsid': (),
    'nohup': (),
    'time': (),
    'nice': ('-n', '--adjustment'),
    'ionice': ('-c', '-n', '--class', '--classdata'),
    'timeout': ('-s', '-k', '--signal', '--kill-after'),
    'stdbuf': ('-i', '-o', '-e'),
    'exec': ('-a',),
    'sudo': ('-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U', '--user', '--group'),
    'xargs': ('-I', '-n', '-P', '-d', '-a', '-L', '-s', '-E', '--max-args', '--max-procs', '--delimiter'),
    'env': ('-u', '-C', '-S', '--unset', '--chdir'),
    'flock': ('-w', '-E', '--timeout', '--conflict-exit-code'),
}
# The rest of the line runs somewhere else than the host.
ELSEWHERE = frozenset(('ssh', 'chroot', 'systemd-nspawn', 'lxc-attach'))
PROBES = frozenset(('need',))       # rig/lib.sh: need CMD... dies naming the missing ones
# The project's own wrappers: how many of their arguments come before the command they run.
PROJECT_WRAPPERS = {'stage.sh': 1}  # scripts/stage.sh NAME CMD...


def host_programs(words, depth=0):
    """Yield (name, word) for each program the words run on the host, the first one first.

    words: shell_lexer.Word items. A word that is not literal (an expansion) ends the walk:
    what it runs is not known here, except that its own substitutions were parsed already.
    """
    while words and depth < 8:
        first = words[0]
        if not first.literal:
            return
        name = first.value
        if not name:
            return
        yield name, first
        base = os.path.basename(name)
        rest = words[1:]
        if base in PROBES or (base in ('command', 'type', 'hash') and _probe_option(rest)):
            for word in rest:
                if word.literal and not word.value.startswith('-'):
                    yield word.value, word
            return
        if base in ELSEWHERE or (base == 'docker' and rest and rest[0].value in ('exec', 'run')):
            return
        if base in ('bash', 'sh', 'dash') and rest and os.path.basename(rest[0].value) in PROJECT_WRAPPERS:
            words = rest[1 + PROJECT_WRAPPERS[os.path.basename(rest[0].value)]:]
            depth += 1
            continue
        if base in PROJECT_WRAPPERS:
            words = rest[PROJECT_WRAPPERS[base]:]
            depth += 1
            continue
        if base in ('bash', 'sh', 'dash') and len(rest) >= 2 and rest[0].value == '-c':
            if rest[1].literal or '$' not in rest[1].value:
                for command in shell_lexer.commands(rest[1].value, first.line):
                    yield from host_programs(command.words, depth + 1)
            return
        if base == 'ip':
            words = rest[3:] if [w.value for w in rest[:2]] == ['netns', 'exec'] else []
        elif base == 'command':
            words = [w for w in rest if w.value != '-p']
        elif base == 'env':
            words = _skip_options(rest, _VALUE_OPTIONS['env'])
            while words and '=' in words[0].value and not words[0].value.startswith('='):
                words = words[1:]
        elif base == 'timeout':
            words = _skip_options(rest, _VALUE_OPTIONS['timeout'])[1:]
        elif base == 'flock':
            words = _flock(rest)
        elif base in _VALUE_OPTIONS:
            words = _skip_options(rest, _VALUE_OPTIONS[base])
        else:
            return
        depth += 1


def names(words):
    """Just the names host_programs finds."""
    return [found[0] for found in host_programs(words)]


def _probe_option(rest):
    return bool(rest) and rest[0].value in ('-v', '-V', '-P', '-p', '-t')


def _skip_options(words, value_options):
    index = 0
    while index < len(words) and words[index].value.startswith('-') and words[index].value != '-':
        if words[index].value == '--':
            return words[index + 1:]
        index += 2 if words[index].value in value_options else 1
    return words[index:]


def _flock(rest):
    for index, word in enumerate(rest):
        if word.value in ('-c', '--command'):
            return [shell_lexer.Word('sh', True, None, word.line), shell_lexer.Word('-c', True, None, word.line)] \
                + rest[index + 1:index + 2]
    rest = _skip_options(rest, _VALUE_OPTIONS['flock'])
    # flock FD (a number): no command; flock FILE COMMAND...
    return [] if not rest or rest[0].value.isdigit() else rest[1:]
