"""bench/results/history: dated runs and the trend series of their main ratios."""
import history
import verdicts


def run(date, raw, ours):
    ref = verdicts.reference_status(raw, {})
    return {'date': date, 'sections': {'throughput': {'runs': {'raw_ssh': raw, 'ours_shipped': ours},
                                                      'references': {'raw_ssh': ref}}}}


def test_a_run_date_names_its_history_file():
    assert history.dated_name('2026-12-02 05:10:03 UTC') == '2026-12-02T051003.json'


def test_runs_are_kept_and_read_back_oldest_first(tmp_path):
    history.record(run('2026-12-02 05:10:03 UTC', [180.0] * 3, [27.0] * 3), str(tmp_path))
    history.record(run('2026-11-25 04:18:59 UTC', [187.0] * 3, [28.0] * 3), str(tmp_path))
    assert [r['date'] for r in history.load(str(tmp_path))] == ['2026-11-25 04:18:59 UTC', '2026-12-02 05:10:03 UTC']


def test_the_trend_follows_each_ratio_and_marks_a_failed_reference():
    runs = [run('2026-11-25 04:18:59 UTC', [187.0, 165.0, 205.0], [28.0, 25.0, 30.0]),
            run('2026-12-01 10:00:00 UTC', [0.8, 1.0, 291.1], [12.0, 11.5, 25.0])]
    series = history.trend(runs)
    points = series['throughput ours / raw ssh']
    assert [date for date, _got in points] == ['2026-11-25 04:18:59 UTC', '2026-12-01 10:00:00 UTC']
    assert points[0][1]['verdict'] == verdicts.NOT_MET
    assert abs(points[0][1]['median'] - 28.0 / 187.0) < 1e-9
    assert points[1][1]['verdict'] == verdicts.NOT_MEASURED
    assert series['bring-up ours / HOWTO'] == []
