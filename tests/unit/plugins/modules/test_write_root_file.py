"""pppssh_tunnel writes peers files through a fresh exclusive temp file (review L8)."""
import os
import stat

from ansible_collections.pppssh.vpn.plugins.modules import pppssh_tunnel


class FakeModule(object):
    """Only what write_root_file uses: AnsibleModule.atomic_move is a rename here."""

    @staticmethod
    def atomic_move(src, dest):
        os.rename(src, dest)


def test_a_symlink_planted_at_the_old_fixed_temp_name_is_not_followed(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('untouched\n')
    peers = tmp_path / 'peers'
    peers.mkdir()
    target = peers / 'pppssh-office'
    os.symlink(str(victim), str(target) + '.pppssh-tmp')
    pppssh_tunnel.write_root_file(FakeModule(), str(target), 'linkname pppssh-office\n')
    assert victim.read_text() == 'untouched\n'
    assert target.read_text() == 'linkname pppssh-office\n'
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    assert sorted(os.listdir(str(peers))) == ['pppssh-office', 'pppssh-office.pppssh-tmp']


def test_no_temp_file_is_left_when_the_move_fails(tmp_path):
    class Failing(FakeModule):
        @staticmethod
        def atomic_move(src, dest):
            raise OSError('disk full')

    target = tmp_path / 'pppssh-office'
    try:
        pppssh_tunnel.write_root_file(Failing(), str(target), 'x\n')
    except OSError:
        pass
    assert os.listdir(str(tmp_path)) == []


def test_a_missing_directory_is_made_private(tmp_path):
    target = tmp_path / 'peers' / 'pppssh-office'
    pppssh_tunnel.write_root_file(FakeModule(), str(target), 'x\n')
    assert stat.S_IMODE(os.stat(str(tmp_path / 'peers')).st_mode) & 0o007 == 0
