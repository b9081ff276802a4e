# -*- coding: utf-8 -*-
"""The docker scenario's tests use the shared fixtures of molecule/shared/tests."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'tests'))

# pytest finds fixtures by name in conftest: importing them is using them.
from pppssh_testlib import (  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position
    allocations, ansible_hosts, fleet, hosts, inventory, inventory_name, live, runner)


def pytest_terminal_summary(terminalreporter):
    """Name the engine the containers ran on (create.yml recorded it), next to the branch."""
    path = os.path.join(os.environ.get('MOLECULE_EPHEMERAL_DIRECTORY', ''), 'engine')
    if os.path.isfile(path):
        with open(path) as handle:
            terminalreporter.write_line('pppssh verify engine: %s' % handle.read().strip())
