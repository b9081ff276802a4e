"""The collection's execution environment metadata (meta/execution-environment.yml, bindep.txt):
ansible-builder finds its requirements in an installed copy, and `ansible-builder create` makes a
build context for an EE holding the collection (create needs no container engine)."""
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
BUILDER = os.path.join(BIN, 'ansible-builder')
pytestmark = pytest.mark.skipif(not os.path.exists(BUILDER), reason='ansible-builder is not in this venv')


def run(argv, cwd):
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
                            env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    assert result.returncode == 0, (argv, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('build')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), REPO], REPO)
    found = [name for name in os.listdir(str(out)) if name.endswith('.tar.gz')]
    assert len(found) == 1
    return out / found[0]


def test_the_metadata_names_only_what_exists():
    meta = yaml.safe_load(open(os.path.join(REPO, 'meta', 'execution-environment.yml')))
    for path in meta['dependencies'].values():
        assert os.path.isfile(os.path.join(REPO, path)), path


def test_ansible_builder_finds_the_collections_requirements(tarball, tmp_path):
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(tmp_path / 'collections'),
         str(tarball)], str(tmp_path))
    found = yaml.safe_load(run([BUILDER, 'introspect', str(tmp_path / 'collections')], str(tmp_path)))
    assert found['python'] == []
    assert found['system'] == ['openssh-client [platform:dpkg]  # from collection pppssh.vpn',
                               'openssh-clients [platform:rpm]  # from collection pppssh.vpn']


def test_ansible_builder_create_makes_a_build_context(tarball, tmp_path):
    shutil.copy(str(tarball), str(tmp_path / tarball.name))
    (tmp_path / 'requirements.yml').write_text(yaml.safe_dump(
        {'collections': [{'name': '/build/%s' % tarball.name, 'type': 'file'}]}))  # _build/ is /build there
    (tmp_path / 'execution-environment.yml').write_text(yaml.safe_dump({
        'version': 3,
        'images': {'base_image': {'name': 'quay.io/ansible/awx-ee:latest'}},
        'dependencies': {'galaxy': 'requirements.yml'},
        'additional_build_files': [{'src': tarball.name, 'dest': '.'}],
    }))
    run([BUILDER, 'create', '-f', 'execution-environment.yml', '-c', 'context', '--output-filename', 'Containerfile'],
        str(tmp_path))
    containerfile = (tmp_path / 'context' / 'Containerfile').read_text()
    assert 'ansible-galaxy collection install' in containerfile
    assert 'introspect.py introspect' in containerfile  # the collection's bindep.txt is read in the build
    assert (tmp_path / 'context' / '_build' / tarball.name).is_file()
    assert (tmp_path / 'context' / '_build' / 'requirements.yml').is_file()
