"""Host programs of a Makefile: its recipe lines and $(shell ...) calls, read as bash.

Make's own syntax is undone first: `$$` is the shell's `$`, a make reference `$(NAME)` becomes
the shell expansion `${NAME}` (not known here, so `$(BIN)/pytest` is not taken for a host
command) unless the Makefile assigns NAME a plain value (`STAGE := bash scripts/stage.sh`), which
then stands in; `$(shell CMD)` becomes `$(CMD)`, and `@`, `-`, `+` before a recipe line go.
"""
import re

from host_commands import marked_lines, shell_source

_ASSIGNMENT = re.compile(r'^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?::=|\?=|=)\s*(.*)$')
_REFERENCE = re.compile(r'\$(\$|\((shell\s+)?([^()]*)\)|\{([^{}]*)\}|[A-Za-z@<^*?])')


def plain_variables(text):
    """{NAME: VALUE} of the Makefile's assignments whose value holds no reference."""
    found = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match and '$' not in match.group(2):
            found[match.group(1)] = match.group(2).strip()
    return found


def to_shell(line, variables=None):
    variables = variables or {}

    def replace(match):
        whole = match.group(1)
        if whole == '$':
            return '$'
        if match.group(2):
            return '$(' + match.group(3) + ')'
        name = match.group(3) if match.group(3) is not None else match.group(4) or 'MAKE'
        if name in variables:
            return variables[name]
        return '${MAKE_%s}' % re.sub(r'\W', '_', name.split()[0] if name.split() else 'MAKE')
    return _REFERENCE.sub(replace, line)


def uses(text, path):
    skip = marked_lines(text)
    variables = plain_variables(text)
    found = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start = index
        line = lines[index]
        while line.endswith('\\') and index + 1 < len(lines):
            index += 1
            line = line[:-1] + ' ' + lines[index].lstrip('\t')
        index += 1
        if start + 1 in skip:
            continue
        if line.startswith('\t'):
            script = to_shell(line[1:].lstrip('@-+ \t'), variables)
        elif '$(shell' in line:
            script = ''.join(to_shell(body, variables) + '\n' for body in re.findall(r'\$\(shell\s+([^()]*)\)', line))
        else:
            continue
        for use in shell_source.uses(script, path, first_line=start + 1):
            found.append(use._replace(text=line.strip()))
    return found
