# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the installed pppd new enough? Upstream 2.4.9 fixed CVE-2020-8597 (EAP buffer overflow,
remote code execution as root before any authentication); some distributions backported it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

FLOOR = (2, 4, 9)
# Distribution builds of older upstream versions that carry the CVE-2020-8597 fix.
BACKPORTS = {
    '2.4.7': ('2.4.7-2+4.1+deb10u1', '2.4.7-2+2ubuntu1.2', '2.4.7-2+4.1ubuntu5.1'),
}


def upstream(version_output):
    """(2, 4, 9) from `pppd --version` ("pppd version 2.4.9"), or None."""
    match = re.search(r'pppd version (\d+)\.(\d+)\.(\d+)', version_output or '')
    return tuple(int(part) for part in match.groups()) if match else None


def _order(char):
    if char == '~':
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a, b):
    """dpkg's comparison of one upstream-version or revision string."""
    while a or b:
        text_a, text_b = re.match(r'\D*', a).group(), re.match(r'\D*', b).group()
        a, b = a[len(text_a):], b[len(text_b):]
        for char_a, char_b in zip(text_a + '\0' * (len(text_b) - len(text_a)),
                                  text_b + '\0' * (len(text_a) - len(text_b))):
            order_a = 0 if char_a == '\0' else _order(char_a)
            order_b = 0 if char_b == '\0' else _order(char_b)
            if order_a != order_b:
                return -1 if order_a < order_b else 1
        digits_a, digits_b = re.match(r'\d*', a).group(), re.match(r'\d*', b).group()
        a, b = a[len(digits_a):], b[len(digits_b):]
        if int(digits_a or 0) != int(digits_b or 0):
            return -1 if int(digits_a or 0) < int(digits_b or 0) else 1
    return 0


def compare_debian(a, b):
    """-1, 0 or 1, as `dpkg --compare-versions` orders two package versions."""
    def split(version):
        epoch, _sep, rest = version.rpartition(':') if ':' in version else ('0', '', version)
        upstream_part, _sep, revision = rest.rpartition('-') if '-' in rest else (rest, '', '0')
        return int(epoch or 0), upstream_part, revision
    epoch_a, up_a, rev_a = split(a)
    epoch_b, up_b, rev_b = split(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    return _compare_part(up_a, up_b) or _compare_part(rev_a, rev_b)


def problem(version_output, package_version=None):
    """Why this pppd may not be used, or None."""
    found = upstream(version_output)
    if found is None:
        return 'cannot tell the pppd version from %r' % (version_output or '').strip()[:80]
    if found >= FLOOR:
        return None
    text = '.'.join(str(part) for part in found)
    package = (package_version or '').strip()
    for fixed in BACKPORTS.get(text, ()):
        # Later updates of the same fixed line: 2.4.7-2+4.1+deb10u1, ...u2; not another release's line.
        line = re.sub(r'\d+$', '', fixed)
        if package.startswith(line) and compare_debian(package, fixed) >= 0:
            return None
    return ('pppd %s is older than 2.4.9 and has no known backport of the CVE-2020-8597 fix (package %s): '
            'it lets a peer run code as root before authentication' % (text, package or 'unknown'))
