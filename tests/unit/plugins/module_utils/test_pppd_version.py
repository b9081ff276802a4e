import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import pppd_version


@pytest.mark.parametrize('first, second, order', [
    ('2.4.9-1+1.1+b1', '2.4.9-1+1.1', 1), ('2.4.7-2+4.1+deb10u1', '2.4.7-2+4.1', 1),
    ('2.4.7-2+4.1+deb10u2', '2.4.7-2+4.1+deb10u1', 1), ('1:2.4.7-1', '2.5.0-1', 1), ('2.4.7~rc1-1', '2.4.7-1', -1),
    ('2.4.7-2+4.1ubuntu5.1', '2.4.7-2+4.1ubuntu5', 1), ('2.5.1-1', '2.5.1-1', 0), ('2.4.10-1', '2.4.9-1', 1),
])
def test_debian_versions_compare_like_dpkg(first, second, order):
    assert pppd_version.compare_debian(first, second) == order
    assert pppd_version.compare_debian(second, first) == -order


@pytest.mark.parametrize('output, package', [
    ('pppd version 2.4.9', '2.4.9-1+1.1+b1'), ('pppd version 2.5.1\n', '2.5.1-1'), ('pppd version 2.5.0', None),
    ('pppd version 2.4.7', '2.4.7-2+4.1+deb10u1'), ('pppd version 2.4.7', '2.4.7-2+4.1+deb10u3'),
    ('pppd version 2.4.7', '2.4.7-2+4.1ubuntu5.1'),
])
def test_fixed_versions_pass(output, package):
    assert pppd_version.problem(output, package) is None


@pytest.mark.parametrize('output, package, words', [
    ('pppd version 2.4.7', '2.4.7-2+4.1', 'pppd 2.4.7 is older than 2.4.9'),
    ('pppd version 2.4.8', '2.4.8-1', 'no known backport'),
    ('pppd version 2.4.7', '2.4.9-1+1.1', 'package 2.4.9-1+1.1'),  # a stub binary under a newer package
    ('pppd version 2.4.7', '2.4.7-2+4.1ubuntu5', 'CVE-2020-8597'),
    ('pppd version 2.4.7', None, 'package unknown'),
    ('bash: pppd: not found', None, 'cannot tell the pppd version'),
])
def test_vulnerable_or_unknown_versions_are_named(output, package, words):
    assert words in pppd_version.problem(output, package)
