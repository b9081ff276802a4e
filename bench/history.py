"""Each `make bench` run kept under bench/results/history/, and a trend plot of its main ratios.

``record`` copies the run's latest.json to history/DATE.json; ``trend`` reads every kept run
back into series (pure, unit-tested); ``plot`` draws them to history/trend.png.
"""
import json
import os
import re

import verdicts

# The goals whose per-pair spread the trend plot follows, and their short names.
TREND_GOALS = (
    ('bring-up: ours / HOWTO <= 1.0 (per pair)', 'bring-up ours / HOWTO'),
    ('throughput: ours as shipped >= 0.85 x raw ssh (per rep)', 'throughput ours / raw ssh'),
    ('latency bulk10: ping median <= 1.5 x idle (per rep)', 'ping under 10 flows / idle'),
    ('latency bulk10: goodput >= 0.9 x HOWTO (per rep)', 'goodput under 10 flows / HOWTO'),
)


def dated_name(date):
    """history file name of a run date such as '2026-12-02 05:10:03 UTC' -> '2026-12-02T051003.json'."""
    found = re.match(r'(\d{4}-\d{2}-\d{2})[ T](\d{2}):?(\d{2}):?(\d{2})', date or '')
    if not found:
        raise ValueError('no date in %r' % date)
    return '%sT%s%s%s.json' % found.groups()


def record(data, results_dir):
    """Keep this run as history/DATE.json (replaced when the same run is saved again)."""
    history = os.path.join(results_dir, 'history')
    os.makedirs(history, exist_ok=True)
    path = os.path.join(history, dated_name(data['date']))
    with open(path + '.tmp', 'w') as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(path + '.tmp', path)
    return path


def load(results_dir):
    """Every kept run, oldest first."""
    history = os.path.join(results_dir, 'history')
    runs = []
    for name in sorted(os.listdir(history)) if os.path.isdir(history) else []:
        if name.endswith('.json'):
            with open(os.path.join(history, name)) as handle:
                runs.append(json.load(handle))
    return runs


def trend(runs):
    """{short name: [(date, verdict dict), ...]} of the trend goals over the runs, oldest first.

    A run without the goal's section is left out of that series; a run whose reference failed
    (or was never validated) keeps its point, with verdict 'not measured'."""
    series = dict((short, []) for _text, short in TREND_GOALS)
    for data in runs:
        rows = dict(verdicts.goals(data.get('sections') or {}))
        for text, short in TREND_GOALS:
            if text in rows and rows[text]['n']:
                series[short].append((data.get('date'), rows[text]))
    return series


def plot(runs, path):
    """history/trend.png: median and min..max of each trend ratio per run, its goal as a line.

    Hollow points: the run's reference failed or was never validated (not measured)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    series = trend(runs)
    fig, axes = plt.subplots(len(series), 1, figsize=(10, 2.6 * len(series)), sharex=False)
    for ax, (short, points) in zip(axes, series.items()):
        ax.set_title(short, fontsize=10)
        if not points:
            ax.text(0.5, 0.5, 'no run measured it', ha='center', transform=ax.transAxes)
            continue
        xs = list(range(len(points)))
        for x, (_date, got) in zip(xs, points):
            measured = got['verdict'] != verdicts.NOT_MEASURED
            ax.errorbar([x], [got['median']], yerr=[[got['median'] - got['min']], [got['max'] - got['median']]],
                        fmt='o', color='#4a7fb5' if measured else '#999999', capsize=3,
                        markerfacecolor='#4a7fb5' if measured else 'none')
        ax.axhline(points[-1][1]['goal'], color='#b54a4a', linestyle='--', linewidth=1)
        ax.set_xticks(xs)
        ax.set_xticklabels([date[:16] for date, _got in points], fontsize=7, rotation=20)
    fig.suptitle('pppssh bench: main ratios across runs (median, min..max of per-pair ratios; dashed: goal; '
                 'hollow: reference not validated)', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
