"""Two `make bench` runs side by side: each goal's verdict in both, whether they agree, and the
raw samples of every reference (issue: a rerun on the same machine must give the same verdict).

  python bench/compare.py bench/results/history/A.json bench/results/history/B.json

Prints a markdown table. Exits 1 when a goal is met in one run and not met in the other: a
verdict that flips between two runs of the same code on the same machine is no verdict. A goal
undecided or not measured in either run is reported as such, never as agreement on "met".
"""
import json
import sys

import verdicts

AGREE, DIFFER, OPEN = 'agree', 'DIFFER', 'open'


def agreement(first, second):
    """'agree' (the same verdict in both), 'DIFFER' (met in one, not met in the other), else 'open'
    (the verdicts differ and one of them is undecided or not measured)."""
    decided = (verdicts.MET, verdicts.NOT_MET)
    if first in decided and second in decided:
        return AGREE if first == second else DIFFER
    if first == second:
        return AGREE
    return OPEN


def side_by_side(run_a, run_b):
    """[(goal, verdict dict of A or None, verdict dict of B or None, agreement)] over the goals of both."""
    goals_a = dict(verdicts.goals(run_a.get('sections') or {}))
    goals_b = dict(verdicts.goals(run_b.get('sections') or {}))
    rows = []
    for text in list(goals_a) + [t for t in goals_b if t not in goals_a]:
        a, b = goals_a.get(text), goals_b.get(text)
        rows.append((text, a, b, agreement(a and a['verdict'], b and b['verdict'])))
    return rows


def reference_samples(run):
    """{section/reference: (ok, [values])} of a run."""
    out = {}
    for name, section in sorted((run.get('sections') or {}).items()):
        for ref_name, ref in sorted((section.get('references') or {}).items()):
            out['%s/%s' % (name, ref_name)] = (ref.get('ok'), ref.get('values') or [])
    return out


def _cell(got):
    if not got:
        return '-'
    if got['median'] is None:
        return got['verdict']
    return '%s (%.2f; %.2f-%.2f, n=%d)' % (got['verdict'], got['median'], got['min'], got['max'], got['n'])


def _values(values):
    return ', '.join('-' if v is None else '%.3g' % v for v in values)


def render(run_a, run_b):
    lines = ['| goal | %s | %s | |' % (run_a.get('date'), run_b.get('date')), '|---|---|---|---|']
    rows = side_by_side(run_a, run_b)
    for text, a, b, agreed in rows:
        lines.append('| %s | %s | %s | %s |' % (text, _cell(a), _cell(b), agreed))
    lines += ['', '| reference | %s | %s |' % (run_a.get('date'), run_b.get('date')), '|---|---|---|']
    refs_a, refs_b = reference_samples(run_a), reference_samples(run_b)
    for name in sorted(set(refs_a) | set(refs_b)):
        cells = []
        for refs in (refs_a, refs_b):
            ok, values = refs.get(name, (None, []))
            cells.append('-' if ok is None else '%s: %s' % ('ok' if ok else 'FAILED', _values(values)))
        lines.append('| %s | %s | %s |' % (name, cells[0], cells[1]))
    return '\n'.join(lines), [text for text, _a, _b, agreed in rows if agreed == DIFFER]


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    runs = []
    for path in argv:
        with open(path) as handle:
            runs.append(json.load(handle))
    text, differ = render(*runs)
    print(text)
    if differ:
        print('\nverdicts that differ between the runs: %s' % '; '.join(differ))
    return 1 if differ else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
