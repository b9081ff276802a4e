"""Make the collection importable as ansible_collections.pppssh.vpn from a plain checkout."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_root():
    marker = os.sep + os.path.join('ansible_collections', 'pppssh', 'vpn')
    if REPO.endswith(marker):
        return os.path.dirname(os.path.dirname(os.path.dirname(REPO)))
    root = os.path.join(REPO, '.build', 'collections')
    link = os.path.join(root, 'ansible_collections', 'pppssh', 'vpn')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return root


sys.path.insert(0, _collection_root())


import pytest  # noqa: E402

# Real ed25519 public key lines (made by ssh-keygen, comments stripped), for the validation tests.
ED25519_KEYS = (
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1ptLjuoJm6lDEL2jT4pIAi6ShtVp0qd3zjXTmW85H0',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINqYrOcNVoT2muZLXYqIIm/L6GTXmlzCYEUpOCRNpz2s',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSIv3NBeQA2VWhmFAxKdn4iipKVlgabVwNPYCApa/oq',
)


@pytest.fixture
def keys():
    return ED25519_KEYS
