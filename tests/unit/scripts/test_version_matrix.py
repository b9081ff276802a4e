"""make matrix: which versions run, and how their results are summed up."""
import version_matrix


def test_requirement_files_name_the_versions(tmp_path):
    for name in ('requirements-2.16.txt', 'requirements-2.9.txt', 'README.md', 'requirements-x.txt'):
        (tmp_path / name).write_text('')
    found = version_matrix.requirement_files(str(tmp_path))
    assert sorted(found, key=version_matrix.version_key) == ['2.9', '2.16']


def test_every_claimed_version_has_a_job_and_the_newest_uses_the_main_venv():
    jobs = version_matrix.jobs_for()
    assert [job.version for job in jobs] == ['2.16', '2.17', '2.18', '2.19']
    assert jobs[-1].venv == version_matrix.MAIN_VENV and jobs[-1].requirements is None
    assert all(job.requirements for job in jobs[:-1])


def test_pytest_counts_come_from_the_closing_line():
    assert version_matrix.pytest_counts('....\n93 passed in 1.20s\n') == '93 passed'
    assert version_matrix.pytest_counts('F.\n1 failed, 92 passed, 2 skipped in 1s\n') == '1 failed, 92 passed, 2 skipped'
    assert version_matrix.pytest_counts('ERROR: no tests ran\n') == ''


def test_the_table_has_a_row_per_version_and_failures_are_named():
    ok, bad = version_matrix.Job('2.18', '/v18'), version_matrix.Job('2.16', '/v16')
    ok.full_version = '2.18.19'
    ok.cells = {'venv': ('cached', 0.4, ''), 'sanity': ('passed', 151.0, ''), 'unit': ('passed', 2.2, '93 passed')}
    bad.cells = {'venv': ('FAILED', 3.0, 'no such version'), 'sanity': ('not run', 0.0, ''),
                 'unit': ('not run', 0.0, '')}
    lines = version_matrix.table([bad, ok]).splitlines()
    assert lines[0].split() == ['ansible-core', 'venv', 'sanity', 'unit']
    assert lines[1].split() == ['2.16', 'FAILED', '3', 's', 'not', 'run', 'not', 'run']
    assert lines[2].split() == ['2.18.19', 'cached', '0', 's', 'passed', '151', 's', 'passed', '2', 's', '(93', 'passed)']
    assert version_matrix.failed_cells([bad, ok]) == ['2.16 sanity', '2.16 unit', '2.16 venv']


def test_a_failure_shows_the_error_lines_or_else_the_tail():
    log = 'Running sanity test "pep8"\nERROR: Found 1 pep8 issue(s)\nERROR: x.py:1:1: E128\nmore\nFATAL: 1 failed\n'
    assert version_matrix.failure_excerpt(log) == 'ERROR: Found 1 pep8 issue(s)\nERROR: x.py:1:1: E128\nFATAL: 1 failed'
    assert version_matrix.failure_excerpt('a\nb\nc\n', lines=2) == 'b\nc'
