"""Split bash text into simple commands: the words at command position and their lines.

Not a full bash parser: enough of its grammar to know which word of a line is run as a
command. Quotes, escapes, comments, here-documents (their bodies are data and are skipped),
redirections, `$(...)`, backticks, `<(...)`, arithmetic, `[[ ]]`, `for`/`case` headers,
function definitions and assignments are understood. Command substitutions are parsed as
commands of their own, wherever they appear.
"""
import collections
import re

Word = collections.namedtuple('Word', 'value literal var line')
Word.__doc__ = """One shell word. value: its text with quotes removed; literal: no expansion in it;
var: the NAME when the whole word is one `$NAME` / `${NAME}` (else None); line: 1-based."""

Command = collections.namedtuple('Command', 'words line')

OPERATORS = ('&&', '||', ';;&', ';;', ';&', '|&', '&', ';', '|', '(', ')', '\n')
REDIRECTS = ('&>>', '&>', '<<<', '<<-', '<<', '<>', '<&', '>&', '>>', '>|', '<', '>')
BREAK = set(' \t\n;&|<>()')
NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
ASSIGNMENT = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=')
# Reserved words after which a command position follows.
OPENERS = frozenset(('if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', 'time', '{', '}',
                     'fi', 'done'))


class Lexer(object):
    """Tokens of one piece of shell text: ('word', Word), ('op', text, line), ('redir', text, line)."""

    def __init__(self, text, first_line=1):
        self.text = text
        self.pos = 0
        self.line = first_line
        self.tokens = []
        self.substitutions = []     # (text, line): bodies of $(...), `...`, <(...)
        self.heredocs = []          # delimiters waiting for the next newline

    def run(self):
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in ' \t':
                self.pos += 1
            elif char == '\\' and text.startswith('\\\n', self.pos):
                self.pos += 2
                self.line += 1
            elif char == '#':
                end = text.find('\n', self.pos)
                self.pos = len(text) if end < 0 else end
            elif char == '\n':
                self.tokens.append(('op', '\n', self.line))
                self.pos += 1
                self.line += 1
                self._skip_heredoc_bodies()
            elif text.startswith('((', self.pos):
                self.tokens.append(('word', Word('((', False, None, self.line)))
                self._skip_balanced(self.pos, '(', ')')
            elif char in '<>' and text.startswith('(', self.pos + 1):
                self.tokens.append(('word', Word('<(', False, None, self.line)))
                self._substitution(self.pos + 1)
            elif self._redirect():
                pass
            elif self._operator():
                pass
            else:
                word = self._word()
                if not (word.literal and word.value.isdigit() and text[self.pos:self.pos + 1] in ('<', '>')):
                    self.tokens.append(('word', word))     # (a digit word before < or > is an fd)
        return self

    def _operator(self):
        for op in OPERATORS:
            if self.text.startswith(op, self.pos):
                self.tokens.append(('op', op, self.line))
                self.pos += len(op)
                return True
        return False

    def _redirect(self):
        for op in REDIRECTS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                self.tokens.append(('redir', op, self.line))
                if op in ('<<', '<<-'):
                    while self.text[self.pos:self.pos + 1] in (' ', '\t'):
                        self.pos += 1
                    delimiter = self._word()
                    self.heredocs.append((delimiter.value, op == '<<-'))
                    self.tokens.append(('word', delimiter))
                return True
        return False

    def _skip_heredoc_bodies(self):
        while self.heredocs:
            delimiter, strip_tabs = self.heredocs.pop(0)
            while self.pos < len(self.text):
                end = self.text.find('\n', self.pos)
                end = len(self.text) if end < 0 else end
                body_line = self.text[self.pos:end]
                self.pos = min(end + 1, len(self.text))
                self.line += 1
                if (body_line.lstrip('\t') if strip_tabs else body_line) == delimiter:
                    break

    def _skip_balanced(self, start, opener, closer):
        """Move past the closer matching text[start] (an opener), minding quotes; return the body."""
        depth, pos, text = 0, start, self.text
        while pos < len(text):
            char = text[pos]
            if char == '\\':
                pos += 1
            elif char == "'":
                pos = text.find("'", pos + 1)
                pos = len(text) if pos < 0 else pos
            elif char == '"':
                pos = self._end_of_double_quotes(pos)
            elif char == opener:
                depth += 1
            elif char == closer:
                depth -= 1
                if depth == 0:
                    body = text[start + 1:pos]
                    self.line += body.count('\n')
                    self.pos = pos + 1
                    return body
            pos += 1
        body = text[start + 1:]
        self.line += body.count('\n')
        self.pos = len(text)
        return body

    def _end_of_double_quotes(self, pos):
        pos += 1
        while pos < len(self.text) and self.text[pos] != '"':
            if self.text[pos] == '\\':
                pos += 1
            elif self.text.startswith('$(', pos):
                depth = 0
                while pos < len(self.text):
                    depth += {'(': 1, ')': -1}.get(self.text[pos], 0)
                    if depth == 0 and self.text[pos] == ')':
                        break
                    pos += 1
            pos += 1
        return pos

    def _substitution(self, open_pos):
        """$( ... ) or <( ... ): record the body as commands of their own. open_pos is at '('."""
        line = self.line
        body = self._skip_balanced(open_pos, '(', ')')
        self.substitutions.append((body, line))

    def _word(self):
        text, line = self.text, self.line
        start = self.pos
        parts, literal = [], True
        while self.pos < len(text) and text[self.pos] not in BREAK:
            char = text[self.pos]
            if char == '\\':
                if text.startswith('\\\n', self.pos):
                    self.line += 1
                else:
                    parts.append(text[self.pos + 1:self.pos + 2])
                self.pos += 2
            elif char == "'":
                end = text.find("'", self.pos + 1)
                end = len(text) if end < 0 else end
                parts.append(text[self.pos + 1:end])
                self.line += text.count('\n', self.pos, end)
                self.pos = end + 1
            elif char == '"':
                end = self._end_of_double_quotes(self.pos)
                inner = text[self.pos + 1:end]
                if '$' in inner or '`' in inner:
                    literal = False
                    self._nested_in_quotes(inner)
                parts.append(inner)
                self.line += inner.count('\n')
                self.pos = end + 1
            elif char == '$':
                if self._dollar(parts):
                    literal = False
            elif char == '`':
                literal = False
                end = text.find('`', self.pos + 1)
                end = len(text) if end < 0 else end
                self.substitutions.append((text[self.pos + 1:end], self.line))
                self.line += text.count('\n', self.pos, end)
                self.pos = end + 1
            elif char == '=' and text.startswith('(', self.pos + 1):
                # array=( ... ): words, not commands; only their substitutions run.
                parts.append('=(')
                body_line = self.line
                body = self._skip_balanced(self.pos + 1, '(', ')')
                inner = Lexer(body, body_line).run()
                self.substitutions.extend(inner.substitutions)
                parts.append(')')
            else:
                parts.append(char)
                self.pos += 1
        return Word(''.join(parts), literal, _single_var(text[start:self.pos]), line)

    def _dollar(self, parts):
        """Move past an expansion at self.pos; True when it was one (not a lone '$')."""
        text = self.text
        nxt = text[self.pos + 1:self.pos + 2]
        if text.startswith('$((', self.pos):
            self._skip_balanced(self.pos + 1, '(', ')')
        elif nxt == '(':
            self._substitution(self.pos + 1)
        elif nxt == '{':
            self._skip_balanced(self.pos + 1, '{', '}')
        elif nxt == "'":
            end = text.find("'", self.pos + 2)
            end = len(text) if end < 0 else end
            parts.append(text[self.pos + 2:end])
            self.pos = end + 1
        elif nxt and nxt in '@*#?$!-0123456789':
            self.pos += 2
        else:
            match = NAME.match(text, self.pos + 1)
            if not match:
                self.pos += 1           # a lone '$' (as in a regex) is itself
                parts.append('$')
                return False
            self.pos = match.end()
        parts.append('$')
        return True

    def _nested_in_quotes(self, inner):
        """Command substitutions inside double quotes run too."""
        pos = 0
        while True:
            found = [p for p in (inner.find('$(', pos), inner.find('`', pos)) if p >= 0]
            if not found:
                return
            pos = min(found)
            if inner.startswith('$((', pos):
                sub = Lexer(inner, self.line)
                sub._skip_balanced(pos + 1, '(', ')')
                pos = sub.pos
            elif inner[pos] == '`':
                end = inner.find('`', pos + 1)
                end = len(inner) if end < 0 else end
                self.substitutions.append((inner[pos + 1:end], self.line + inner.count('\n', 0, pos)))
                pos = end + 1
            else:
                sub = Lexer(inner, self.line + inner.count('\n', 0, pos))
                body = sub._skip_balanced(pos + 1, '(', ')')
                self.substitutions.append((body, self.line + inner.count('\n', 0, pos)))
                pos = sub.pos


def _single_var(raw):
    match = re.match(r'^"?\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))"?$', raw)
    return (match.group(1) or match.group(2)) if match else None


def commands(text, first_line=1):
    """Every simple command in text (substitutions included), as Command(words, line)."""
    lexer = Lexer(text, first_line).run()
    found = list(_Parser(lexer.tokens).commands())
    for body, line in lexer.substitutions:
        found.extend(commands(body, line))
    return sorted(found, key=lambda command: command.line)


def functions(text):
    """Names of the functions text defines (`name() {` and `function name`)."""
    lexer = Lexer(text).run()
    return set(_Parser(lexer.tokens).defined_functions())


class _Parser(object):
    """Walk the tokens and collect the words of each simple command."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.functions = []

    def defined_functions(self):
        list(self.commands())
        return self.functions

    def commands(self):
        tokens, index = self.tokens, 0
        words, expect_pattern, skip_until, after_redirect = [], [], None, False
        while index < len(tokens):
            token = tokens[index]
            index += 1
            kind = token[0]
            if kind == 'redir':
                after_redirect = True
                continue
            if kind == 'op':
                after_redirect = False
                op = token[1]
                if op == '(' and words and index < len(tokens) and tokens[index][:2] == ('op', ')'):
                    self.functions.append(words[0].value)     # name() { ...
                    words = []
                    index += 1
                    continue
                if op == ')' and expect_pattern and expect_pattern[-1]:
                    expect_pattern[-1] = False                # end of a case pattern
                    words = []
                    continue
                if op in (';;', ';&', ';;&') and expect_pattern:
                    expect_pattern[-1] = True
                if words:
                    yield Command(words, words[0].line)
                words = []
                continue
            word = token[1]
            if after_redirect:
                after_redirect = False
                continue
            if skip_until is not None:
                if word.literal and word.value in (skip_until, 'do') and not words:
                    if word.value == 'in' and skip_until == 'in':
                        expect_pattern.append(True)
                    skip_until = None
                continue
            if expect_pattern and expect_pattern[-1]:
                if word.literal and word.value == 'esac':
                    expect_pattern.pop()
                continue
            if not words:
                if word.literal and word.value in OPENERS:
                    continue
                if word.literal and word.value in ('for', 'select'):
                    skip_until = 'do'
                    continue
                if word.literal and word.value == 'case':
                    skip_until = 'in'
                    continue
                if word.literal and word.value == 'esac':
                    continue
                if word.literal and word.value == 'function':
                    if index < len(tokens) and tokens[index][0] == 'word':
                        self.functions.append(tokens[index][1].value)
                        index += 1
                    continue
                if word.value == '((':
                    continue
                if word.literal and word.value == '[[':
                    index = self._past(index, ']]')
                    continue
                if ASSIGNMENT.match(word.value):
                    continue
            words.append(word)
        if words:
            yield Command(words, words[0].line)

    def _past(self, index, closing):
        while index < len(self.tokens):
            token = self.tokens[index]
            index += 1
            if token[0] == 'word' and token[1].value == closing:
                break
        return index
