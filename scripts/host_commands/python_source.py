"""Host programs of a Python file: the argv of its subprocess calls, resolved as far as plainly written.

`subprocess.run(netns + ['-f', '-'])` with `netns = ['ip', 'netns', 'exec', 'pppssh-rig', 'nft']`
runs ip and nft. An argv is followed through list literals, `+`, names assigned in the same
function or the module, parameters (through the calls of that function in the same file),
functions of the file that return an argv, `list(...)`, slices and `os.path.join(..., 'name')`.
What cannot be followed (an attribute of another module, an f-string) ends the argv there.
Strings sent over ssh are arguments of ssh, so they never count. `shutil.which(NAME)` counts
NAME as used. `sys.executable` is the venv's Python, not a host command.
"""
import ast
import os

from host_commands import Use, marked_lines, shell_lexer, unwrap

RUNNERS = frozenset(('run', 'call', 'check_call', 'check_output', 'Popen'))
PYTHON = '<python>'
_MAX_DEPTH = 8
_MAX_CANDIDATES = 16


def uses(text, path):
    tree = ast.parse(text, filename=path)
    module = _Module(tree)
    skip = marked_lines(text)
    lines = text.splitlines()
    found = []
    for call, scope in module.calls:
        kind = _runner(call, module.imported)
        if kind is None or call.lineno in skip:
            continue
        node = _argv_node(call)
        if node is None:
            continue
        shell = kind == 'system' or any(k.arg == 'shell' and isinstance(k.value, ast.Constant) and k.value.value
                                        for k in call.keywords)
        context = lines[call.lineno - 1].strip()
        for argv in module.argv(node, scope, 0)[:_MAX_CANDIDATES]:
            found.extend(_uses_of(argv, shell, kind == 'which', path, call.lineno, context))
    return _unique(found)


def _uses_of(argv, shell, probe, path, line, context):
    if not argv or argv[0] is None or argv[0] == PYTHON:
        return []
    if probe:
        return [Use(argv[0], path, line, context)]
    if shell:
        found = []
        for command in shell_lexer.commands(argv[0], line):
            found.extend(Use(name, path, line, context) for name in unwrap.names(command.words))
        return found
    words = [shell_lexer.Word(value or '', value is not None, None, line) for value in argv]
    shown = ' '.join(value if value is not None else '?' for value in argv)
    return [Use(name, path, line, '%s   [argv: %s]' % (context, shown)) for name in unwrap.names(words)]


def _unique(found):
    seen, result = set(), []
    for use in found:
        if (use.command, use.line) not in seen:
            seen.add((use.command, use.line))
            result.append(use)
    return result


def _runner(call, imported):
    """'run', 'system' or 'which' for a call that starts a program (or probes for one), else None."""
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner, name = func.value.id, func.attr
    elif isinstance(func, ast.Name) and func.id in imported:
        owner, name = imported[func.id]         # from subprocess import run
    else:
        return None
    if name in RUNNERS and owner == 'subprocess':
        return 'run'
    if name == 'system' and owner == 'os':
        return 'system'
    if name == 'which' and owner == 'shutil':
        return 'which'
    return None


def _argv_node(call):
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg in ('args', 'cmd'):
            return keyword.value
    return None


class _Module(object):
    """Assignments, functions and calls of one file, with the function each belongs to."""

    def __init__(self, tree):
        self.assignments = {}   # (scope, name) -> [value nodes]; scope is a FunctionDef or None
        self.functions = {}     # name -> [FunctionDef]
        self.calls = []         # (Call, scope)
        self.imported = {}      # local name -> (module, name) of `from subprocess import run`
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ('subprocess', 'os', 'shutil'):
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = (node.module, alias.name)
        self._visit(tree, None)

    def _visit(self, node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(child.name, []).append(child)
                self._visit(child, child)
                continue
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        self.assignments.setdefault((scope, target.id), []).append(child.value)
            elif isinstance(child, ast.Call):
                self.calls.append((child, scope))
            self._visit(child, scope)

    def argv(self, node, scope, depth):
        """Candidate argv lists for node: each a list of str, PYTHON or None (unknown)."""
        if depth > _MAX_DEPTH:
            return [[None]]
        depth += 1
        if isinstance(node, (ast.List, ast.Tuple)):
            argv = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    argv.append(None)
                    break
                argv.append(self.string(element, scope, depth))
            return [argv]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return [left + right for left in self.argv(node.left, scope, depth)
                    for right in self.argv(node.right, scope, depth)][:_MAX_CANDIDATES]
        if isinstance(node, ast.Subscript):
            return self.argv(node.value, scope, depth)
        if isinstance(node, ast.IfExp):
            return self.argv(node.body, scope, depth) + self.argv(node.orelse, scope, depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [[node.value]]
        if isinstance(node, ast.Name):
            return self._name(node.id, scope, depth, self.argv) or [[None]]
        if isinstance(node, ast.Call):
            return self._call(node, scope, depth)
        return [[None]]

    def string(self, node, scope, depth):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Attribute) and node.attr == 'executable' and _is_name(node.value, 'sys'):
            return PYTHON
        if isinstance(node, ast.Call) and _dotted(node.func) == 'os.path.join' and node.args:
            last = self.string(node.args[-1], scope, depth + 1)
            return os.path.join('...', last) if last not in (None, PYTHON) else None
        if isinstance(node, ast.Name) and depth <= _MAX_DEPTH:
            values = self._name(node.id, scope, depth + 1, lambda n, s, d: [self.string(n, s, d)])
            values = set(value for value in values or [None])
            return values.pop() if len(values) == 1 else None
        return None

    def _name(self, name, scope, depth, resolve):
        values = self.assignments.get((scope, name)) or self.assignments.get((None, name))
        if values:
            return [found for value in values for found in resolve(value, scope, depth)]
        if scope is not None:
            return self._parameter(name, scope, depth, resolve)
        return None

    def _parameter(self, name, scope, depth, resolve):
        params = [arg.arg for arg in scope.args.args]
        if name not in params:
            return None
        index = params.index(name) - (1 if params and params[0] in ('self', 'cls') else 0)
        found = []
        for call, call_scope in self.calls:
            if _called_name(call) != scope.name:
                continue
            arg = next((k.value for k in call.keywords if k.arg == name), None)
            if arg is None and 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
                arg = call.args[index]
            if arg is not None:
                found.extend(resolve(arg, call_scope, depth))
        return found

    def _call(self, node, scope, depth):
        if isinstance(node.func, ast.Name) and node.func.id in ('list', 'tuple') and node.args:
            return self.argv(node.args[0], scope, depth)
        found = []
        for function in self.functions.get(_called_name(node), []):
            for statement in ast.walk(function):
                if isinstance(statement, ast.Return) and statement.value is not None:
                    found.extend(self.argv(statement.value, function, depth))
        return found or [[None]]


def _called_name(call):
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _is_name(node, name):
    return isinstance(node, ast.Name) and node.id == name


def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return inner + '.' + node.attr if inner else None
    return None
