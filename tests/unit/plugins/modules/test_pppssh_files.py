"""pppssh_files, run as Ansible runs it (a Python process reading its arguments), on a temp dir."""
import grp
import json
import os
import pwd
import stat
import subprocess
import sys

import pytest

MODULE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules', 'pppssh_files.py')
OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(tmp_path, files=(), remove=(), check=False, diff=False):
    args = {'files': [dict({'owner': OWNER, 'group': GROUP}, **entry) for entry in files], 'remove': list(remove),
            '_ansible_check_mode': check, '_ansible_diff': diff, '_ansible_remote_tmp': str(tmp_path / 'tmp'),
            '_ansible_tmpdir': None, '_ansible_keep_remote_files': False}
    (tmp_path / 'tmp').mkdir(exist_ok=True)
    path = tmp_path / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    out = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, check=False).stdout
    return json.loads(out)


def mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / 'etc'
    return root, [
        {'path': str(root), 'state': 'directory', 'mode': '0755'},
        {'path': str(root / 'peers'), 'mode': '0600', 'content': 'linkname pppssh-a\n'},
        {'path': str(root / 'hook'), 'mode': '0755', 'content': '#!/bin/sh\nexit 0\n'},
    ]


def test_writes_in_order_then_a_rerun_changes_nothing(tmp_path, tree):
    root, files = tree
    first = run(tmp_path, files)
    assert first['changed'] and first['written'] == [entry['path'] for entry in files]
    assert (root / 'peers').read_text() == 'linkname pppssh-a\n'
    assert (mode(root), mode(root / 'peers'), mode(root / 'hook')) == (0o755, 0o600, 0o755)
    again = run(tmp_path, files)
    assert (again['changed'], again['written'], again['removed']) == (False, [], [])


def test_a_mode_changed_by_hand_is_set_back(tmp_path, tree):
    root, files = tree
    run(tmp_path, files)
    os.chmod(str(root / 'peers'), 0o644)
    result = run(tmp_path, files)
    assert result['written'] == [str(root / 'peers')] and mode(root / 'peers') == 0o600


def test_a_refused_validation_writes_nothing_at_all(tmp_path, tree):
    root, files = tree
    files = files + [{'path': str(root / 'sudoers'), 'mode': '0440', 'content': 'bad\n',
                      'validate': 'grep -q good %s'}]
    result = run(tmp_path, files)
    assert result.get('failed') and str(root / 'sudoers') in result['msg'] and 'nothing was written' in result['msg']
    assert not root.exists()


def test_validation_sees_the_new_content(tmp_path, tree):
    root, files = tree
    files = files + [{'path': str(root / 'sudoers'), 'mode': '0440', 'content': 'good\n',
                      'validate': 'grep -q good %s'}]
    assert run(tmp_path, files)['written'][-1] == str(root / 'sudoers')


def test_check_mode_reports_and_changes_nothing(tmp_path, tree):
    root, files = tree
    result = run(tmp_path, files, check=True, diff=True)
    assert result['changed'] and len(result['written']) == 3 and not root.exists()
    assert {'before_header': str(root / 'peers'), 'after_header': str(root / 'peers'), 'before': '',
            'after': 'linkname pppssh-a\n'} in result['diff']


def test_remove_takes_files_and_whole_directories_and_missing_paths_are_no_change(tmp_path, tree):
    root, files = tree
    run(tmp_path, files)
    (root / 'old').mkdir()
    (root / 'old' / 'authorized_keys').write_text('ssh-ed25519 AAAA\n')
    result = run(tmp_path, remove=[str(root / 'old'), str(root / 'hook'), str(root / 'never')])
    assert result['removed'] == [str(root / 'old'), str(root / 'hook')]
    assert sorted(os.listdir(str(root))) == ['peers']
    assert run(tmp_path, remove=[str(root / 'old')])['changed'] is False


def test_a_symlink_at_a_file_path_is_refused_and_not_followed(tmp_path, tree):
    root, files = tree
    run(tmp_path, files[:1])
    victim = tmp_path / 'victim'
    victim.write_text('untouched\n')
    os.symlink(str(victim), str(root / 'peers'))
    result = run(tmp_path, files)
    assert result.get('failed') and 'not a regular file' in result['msg']
    assert victim.read_text() == 'untouched\n'


@pytest.mark.parametrize('entry, cause', [
    ({'path': 'relative', 'mode': '0644', 'content': ''}, 'must be absolute'),
    ({'path': '/x', 'mode': '644;', 'content': ''}, 'mode must be octal'),
    ({'path': '/x', 'mode': '0644'}, 'needs content'),
])
def test_malformed_entries_are_refused_with_their_cause(tmp_path, entry, cause):
    result = run(tmp_path, [entry])
    assert result.get('failed') and cause in result['msg']


def test_no_temporary_file_is_left_next_to_the_written_files(tmp_path, tree):
    root, files = tree
    run(tmp_path, files)
    assert sorted(os.listdir(str(root))) == ['hook', 'peers']
