"""The timing table at the end of .ci/run."""
import stage_table

LOG = 'setup\tpassed\t2.0\ncheck-host-commands\tpassed\t0.9\nlint\tpassed\t40.5\nmatrix\tFAILED\t300.0\n'
STAGES = ['setup', 'check-host-commands', 'lint', 'matrix', 'molecule-default', 'integration']


def test_a_failed_run_shows_each_stage_and_what_did_not_run():
    lines = stage_table.table(stage_table.parse(LOG), STAGES, 350.0).splitlines()
    assert lines[0].split() == ['ci:', 'stage', 'result', 'seconds']
    assert lines[4].split() == ['ci:', 'matrix', 'FAILED', '300.0']
    assert lines[5].split() == ['ci:', 'molecule-default', 'not', 'run']
    assert lines[7].split() == ['ci:', 'total', 'FAILED', '350.0']
    assert lines[8] == 'ci: 5.8 min of the 60 min budget'


def test_a_full_run_passes_and_a_repeated_stage_adds_up():
    log = ''.join('%s\tpassed\t1.0\n' % name for name in STAGES) + 'lint\tpassed\t2.5\n'
    text = stage_table.table(stage_table.parse(log), STAGES, 9.5)
    assert 'ci: total' in text and 'FAILED' not in text and 'not run' not in text
    assert [line.split()[1:] for line in text.splitlines() if ' lint ' in line] == [['lint', 'passed', '3.5']]


def test_stages_outside_the_expected_list_are_shown_too_and_junk_is_ignored():
    stages = stage_table.parse('bench\tpassed\t5.0\nnot a stage line\n')
    assert stages == {'bench': ('passed', 5.0)}
    assert 'ci: bench' in stage_table.table(stages, ['setup'], 6.0)
