"""The integration modules run side by side (scripts/integration.sh) and `rig destroy NAME` before a
boot: two modules with one guest name (or address) take each other's guests down mid-run."""
import collections
import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST_RE = re.compile(r"Guest\('([a-z][a-z0-9-]*)', '(192\.168\.213\.\d+)'\)")


def guests_by_module():
    found = {}
    for path in sorted(glob.glob(os.path.join(REPO, 'tests', 'integration', '*.py'))):
        with open(path) as handle:
            found[os.path.basename(path)] = GUEST_RE.findall(handle.read())
    return found


def test_the_integration_modules_share_no_guest_name_or_address():
    owners = collections.defaultdict(set)
    for module, guests in guests_by_module().items():
        for name, address in guests:
            owners[name].add(module)
            owners[address].add(module)
    assert sum(len(guests) for guests in guests_by_module().values()) >= 20, 'the pattern no longer finds the guests'
    assert dict((key, sorted(mods)) for key, mods in owners.items() if len(mods) > 1) == {}
