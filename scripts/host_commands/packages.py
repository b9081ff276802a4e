"""Read a package list: one Debian package a line, then the host commands it provides.

    # comment
    iproute2         ip tc bridge
    python3-venv     python3

scripts/host-packages.txt is what setup installs; scripts/host-baseline.txt what every
Debian 12 has already (the packages of debootstrap --variant=minbase).
"""


def parse(text):
    """[(package, [commands])] in file order; a package may provide no command."""
    entries = []
    for line in text.splitlines():
        words = line.split('#', 1)[0].split()
        if words:
            entries.append((words[0], words[1:]))
    return entries


def providers(entries):
    """{command: package}."""
    return dict((command, package) for package, commands in entries for command in commands)


def read(path):
    with open(path) as handle:
        return parse(handle.read())
