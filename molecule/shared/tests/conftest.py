# -*- coding: utf-8 -*-
"""Fixtures of the shared pppssh verify tests (see pppssh_testlib.py)."""

# pytest finds fixtures and hooks by name in conftest: importing them is using them.
from pppssh_testlib import (  # noqa: F401 pylint: disable=unused-import
    allocations, ansible_hosts, fleet, hosts, inventory, inventory_name, live, pytest_terminal_summary, runner)
