# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' metrics settings, validated and canonical (module_utils/exporter.py settings())."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.pppssh.vpn.plugins.module_utils import exporter


def metrics_settings(directory, interval, host, prefix):
    """{dir, output, interval} or a failure naming the host, the variable and the fix."""
    try:
        return exporter.settings(directory, interval)
    except ValueError as exc:
        field, problem, fix = exc.args
        raise AnsibleFilterError('%s: %s_%s: %s. Fix: %s' % (host, prefix, field, problem, fix))


class FilterModule(object):
    def filters(self):
        return {'metrics_settings': metrics_settings}
