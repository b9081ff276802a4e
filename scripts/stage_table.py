"""Print .ci/run's stage timing table from the lines scripts/stage.sh appended.

    python3 scripts/stage_table.py STAGE_LOG TOTAL_SECONDS STAGE...

STAGE... are the stages make setup test runs, in order: one that left no line is "not run".
A stage that ran more than once (a retry) shows its last result and the sum of its times.
"""
import sys

BUDGET_MIN = 60


def parse(text):
    """{stage: (result, seconds)} in the order stages first appear."""
    stages = {}
    for line in text.splitlines():
        parts = line.split('\t')
        if len(parts) != 3:
            continue
        name, result, seconds = parts
        before = stages.get(name, ('', 0.0))[1]
        stages[name] = (result, before + float(seconds))
    return stages


def table(stages, expected, total):
    names = list(expected) + [name for name in stages if name not in expected]
    rows = [('stage', 'result', 'seconds')]
    for name in names:
        result, seconds = stages.get(name, ('not run', None))
        rows.append((name, result, '' if seconds is None else '%.1f' % seconds))
    failed = [name for name in names if stages.get(name, ('',))[0] == 'FAILED']
    missing = [name for name in expected if name not in stages]
    verdict = 'FAILED' if failed or missing else 'passed'
    rows.append(('total', verdict, '%.1f' % total))
    width = max(len(row[0]) for row in rows)
    lines = ['%-*s  %-7s  %8s' % (width, name, result, seconds) for name, result, seconds in rows]
    lines.append('%.1f min of the %d min budget' % (total / 60.0, BUDGET_MIN))
    return '\n'.join('ci: ' + line.rstrip() for line in lines)


def main(argv):
    path, total, expected = argv[0], float(argv[1]), argv[2:]
    try:
        with open(path) as handle:
            stages = parse(handle.read())
    except OSError:
        stages = {}
    print(table(stages, expected, total))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
