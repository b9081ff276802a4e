# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pppssh_client role for hosts with several links. Thin: the logic is module_utils/links.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.module_utils import links
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal


def _plain(value):
    """Ansible's lazy and tagged containers as plain Python data (JSON round trip)."""
    return json.loads(json.dumps(value, default=str))


def client_links(value, host, defaults, servers):
    """The host's links (pppssh_client_links, or the short form when empty), each with every per-link key."""
    try:
        return links.plan(_plain(value), str(host), _plain(defaults or {}), _plain(servers or []))
    except Refusal as exc:
        raise AnsibleFilterError(str(exc))


def stale_links(key_files, wanted):
    """Names of links that still have a key on the host but are no longer present links of it."""
    return links.stale(_plain(key_files or []), _plain(wanted or []))


def link_clashes(views):
    """Errors for links of one host that were given overlapping tunnel addresses."""
    return links.clashes(_plain(views or {}))


class FilterModule(object):
    def filters(self):
        return {'client_links': client_links, 'stale_links': stale_links, 'link_clashes': link_clashes}
