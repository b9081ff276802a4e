"""Host programs of a bash/sh script (or of a Makefile recipe, once make's syntax is undone)."""
import re

from host_commands import Use, marked_lines, shell_lexer, unwrap

# NAME=VALUE with a plain value (no expansion, no spaces): the value a later "$NAME" stands for.
_PLAIN_ASSIGNMENT = re.compile(
    r'^\s*(?:(?:local|readonly|export|declare(?:\s+-\w+)*)\s+)?([A-Za-z_][A-Za-z0-9_]*)=([\'"]?)([^\s$`\'"();&|<>]+)\2\s*(?:#.*)?$')


def plain_assignments(text):
    """{NAME: VALUE} of the plain assignments in text (NAME assigned twice differently is left out)."""
    found, clash = {}, set()
    for line in text.splitlines():
        match = _PLAIN_ASSIGNMENT.match(line)
        if match:
            name, value = match.group(1), match.group(3)
            if found.get(name, value) != value:
                clash.add(name)
            found[name] = value
    return dict((name, value) for name, value in found.items() if name not in clash)


def uses(text, path, variables=None, first_line=1):
    """Use records for every program the script runs on the host.

    variables: {NAME: VALUE} from plain assignments, so that "$RIG_UML" counts as /usr/bin/linux.
    """
    variables = variables or {}
    skip = marked_lines(text)
    lines = text.splitlines()
    found = []
    for command in shell_lexer.commands(text, first_line):
        if command.line - first_line + 1 in skip:
            continue
        words = [_substitute(word, variables) for word in command.words]
        shown = ' '.join(word.value if word.literal else '$?' for word in words)
        for name, word in unwrap.host_programs(words):
            index = word.line - first_line
            context = lines[index].strip() if 0 <= index < len(lines) else shown
            found.append(Use(name, path, word.line, context))
    return found


def _substitute(word, variables):
    if word.var and word.var in variables:
        return shell_lexer.Word(variables[word.var], True, None, word.line)
    return word
