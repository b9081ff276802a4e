"""bench/compare.py: two runs' verdicts side by side, and a verdict that flips between them."""
import compare
import verdicts


def run(date, raw, ours):
    ref = verdicts.reference_status(raw, {})
    return {'date': date, 'sections': {'throughput': {'runs': {'raw_ssh': raw, 'ours_shipped': ours},
                                                      'references': {'raw_ssh': ref}}}}


GOAL = 'throughput: ours as shipped >= 0.85 x raw ssh (per rep)'
GOAL17 = '17 throughput: ours as shipped >= 0.5 x raw ssh (per rep)'


def test_two_runs_with_the_same_decided_verdict_agree():
    rows = compare.side_by_side(run('a', [100.0] * 3, [10.0, 11.0, 12.0]), run('b', [110.0] * 3, [9.0, 10.0, 11.0]))
    assert [(text, agreed) for text, _a, _b, agreed in rows] == [(GOAL, compare.AGREE), (GOAL17, compare.AGREE)]
    assert rows[0][1]['verdict'] == rows[0][2]['verdict'] == verdicts.NOT_MET


def test_met_in_one_run_and_not_met_in_the_other_differs_and_fails():
    first, second = run('a', [100.0] * 3, [90.0, 95.0, 99.0]), run('b', [100.0] * 3, [10.0, 11.0, 12.0])
    text, differ = compare.render(first, second)
    assert differ == [GOAL, GOAL17]
    assert '| DIFFER |' in text


def test_an_undecided_or_unmeasured_run_is_open_not_agreement():
    met = run('a', [100.0] * 3, [90.0, 95.0, 99.0])
    straddling = run('b', [100.0] * 3, [80.0, 90.0, 99.0])
    dead_reference = run('c', [0.8, 1.0, 291.1], [12.0, 11.5, 25.0])
    assert compare.side_by_side(met, straddling)[0][3] == compare.OPEN
    assert compare.side_by_side(met, dead_reference)[0][3] == compare.OPEN


def test_the_references_raw_values_are_shown_for_both_runs():
    text, _differ = compare.render(run('a', [100.0, 120.0, 110.0], [10.0] * 3), run('b', [0.8, 1.0, 291.1], [10.0] * 3))
    line = [row for row in text.splitlines() if row.startswith('| throughput/raw_ssh')][0]
    assert 'ok: 100, 120, 110' in line and 'FAILED: 0.8, 1, 291' in line
