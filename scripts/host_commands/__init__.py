"""Find the programs the project's suites run on the host (see scripts/check_host_commands.py)."""
import collections

Use = collections.namedtuple('Use', 'command path line text')
Use.__doc__ = """A host program run by a suite: command (its name or path as written), the file,
the 1-based line, and the command line as the scanner understood it (for the report)."""

# A comment holding this marks a line's commands as run in a guest, not on the host;
# MARK + ' file' in a file's first five lines marks the whole file.
MARK = 'guest-side'


def marked_lines(text):
    """1-based numbers of the lines that carry the guest-side mark."""
    return set(number for number, line in enumerate(text.splitlines(), 1)
               if '#' in line and MARK in line[line.index('#'):])


def marked_file(text):
    return any(MARK + ' file' in line for line in text.splitlines()[:5])
