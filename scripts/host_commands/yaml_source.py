"""Host programs of Ansible playbooks: command/shell tasks that run on the controller.

A task runs on the host when its play targets localhost (or has connection: local) and the
task is not delegated elsewhere, or when the task is delegated to localhost. Templated words
(`{{ rig }}`) are not known here and end the command.
"""
import shlex

import yaml

from host_commands import Use, marked_lines, shell_lexer, unwrap

COMMAND = ('command', 'ansible.builtin.command', 'ansible.legacy.command')
SHELL = ('shell', 'ansible.builtin.shell', 'ansible.legacy.shell')
TASK_LISTS = ('pre_tasks', 'tasks', 'post_tasks', 'handlers', 'block', 'rescue', 'always')
LOCAL = ('localhost', '127.0.0.1')


def uses(text, path):
    skip = marked_lines(text)
    found = []
    for document in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if not isinstance(document, yaml.SequenceNode):
            continue
        for play in document.value:
            if isinstance(play, yaml.MappingNode):
                local = _scalar(play, 'hosts') in LOCAL or _scalar(play, 'connection') == 'local'
                found.extend(_tasks(play, local, path, skip))
    return found


def _tasks(node, local, path, skip):
    found = []
    for key in TASK_LISTS:
        tasks = _get(node, key)
        if not isinstance(tasks, yaml.SequenceNode):
            continue
        for task in tasks.value:
            if not isinstance(task, yaml.MappingNode):
                continue
            delegate = _scalar(task, 'delegate_to')
            here = delegate in LOCAL if delegate is not None else local
            found.extend(_tasks(task, here, path, skip))
            if here and task.start_mark.line + 1 not in skip:
                found.extend(_task_uses(task, path))
    return found


def _task_uses(task, path):
    for key, value in task.value:
        name = key.value
        line = value.start_mark.line + 1
        if name in COMMAND:
            words = _command_words(value, line)
        elif name in SHELL:
            script = value.value if isinstance(value, yaml.ScalarNode) else _scalar(value, 'cmd')
            words = None
            if script:
                return [Use(program, path, line, script.strip().splitlines()[0])
                        for command in shell_lexer.commands(script, line)
                        for program in unwrap.names(command.words)]
        else:
            continue
        if words:
            shown = ' '.join(word.value for word in words)
            return [Use(program, path, line, shown) for program in unwrap.names(words)]
    return []


def _command_words(value, line):
    if isinstance(value, yaml.ScalarNode):
        strings = _split(value.value)
    else:
        argv = _get(value, 'argv')
        if isinstance(argv, yaml.SequenceNode):
            strings = [item.value if isinstance(item, yaml.ScalarNode) else '{{ }}' for item in argv.value]
        else:
            strings = _split(_scalar(value, 'cmd') or '')
    return [shell_lexer.Word(s, '{{' not in s and '{%' not in s, None, line) for s in strings]


def _split(text):
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _get(mapping, key):
    for k, value in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return value
    return None


def _scalar(mapping, key):
    value = _get(mapping, key)
    return value.value if isinstance(value, yaml.ScalarNode) else None
