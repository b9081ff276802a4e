"""pppssh benchmarks: side-by-side measurements on the guest rig (see bench/README.md).

The driver only: one module per figure (bringup, throughput, latency, recovery, fleet, scale)
over the shared fixture lab.py and the rig wrapper rigbench.py; verdicts.py judges. Writes
bench/results/latest.json after every section, keeps the run as results/history/DATE.json,
then bench/report.py renders latest.md, latest.png and history/trend.png. Ends with a
one-screen summary (goals, verdicts, failed sections and why) and exits 1 when a section
failed or a reference did not validate. BENCH_SECTIONS=bringup,latency limits the run;
BENCH_REPS (5) sets the repetitions of the cheap figures.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position
import bringup  # noqa: E402
import fleet  # noqa: E402
import history  # noqa: E402
import lab  # noqa: E402
import latency  # noqa: E402
import recovery  # noqa: E402
import rigbench as rb  # noqa: E402
import scale  # noqa: E402
import throughput  # noqa: E402
import verdicts  # noqa: E402

FIGURES = {'bringup': bringup.run, 'throughput': throughput.run, 'throughput_4mbit': throughput.run_4mbit,
           'cpu': throughput.run_cpu, 'latency': latency.run, 'recovery': recovery.run, 'scale': scale.run,
           'fleet': fleet.run}
# fleet boots its own guests over the main pair (lab.SERVER and lab.CLIENTS[0]): always last, whatever
# order BENCH_SECTIONS gives (2026-12-08: fleet first left the next sections without the HOWTO's setup).
SECTIONS = sorted(os.environ.get('BENCH_SECTIONS',
                                 'bringup,throughput,throughput_4mbit,cpu,latency,recovery,scale,fleet').split(','),
                  key=lambda name: name == 'fleet')
KEEP = os.environ.get('BENCH_KEEP_GUESTS')
RESULTS = os.path.join(rb.BENCH, 'results')
LATEST = os.path.join(RESULTS, 'latest.json')


class Results(object):
    """latest.json, saved after every section; with BENCH_MERGE=1 merged into the earlier run."""

    def __init__(self):
        self.data = {'machine': rb.machine(), 'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
                     'reps': lab.REPS, 'sections': {}, 'notes': []}
        self.started = time.time()
        if os.environ.get('BENCH_MERGE') and os.path.exists(LATEST):
            # Re-measure some sections into an earlier run's results (each section keeps its own date).
            with open(LATEST) as handle:
                earlier = json.load(handle)
            earlier.setdefault('merged_runs', []).append({'date': self.data['date'], 'sections': SECTIONS,
                                                          'machine': self.data['machine']})
            for name in SECTIONS:
                earlier.get('failed_sections', {}).pop(name, None)
            self.data = earlier
            self.merging = True
        else:
            self.merging = False

    def section(self, name, value):
        value['measured'] = time.strftime('%Y-%m-%d %H:%M:%S %Z')
        self.data['sections'][name] = value
        self.save()

    def save(self):
        if not self.merging:
            self.data['bench_seconds'] = round(time.time() - self.started, 1)
        os.makedirs(RESULTS, exist_ok=True)
        with open(LATEST + '.tmp', 'w') as handle:
            json.dump(self.data, handle, indent=1, sort_keys=True)
        os.replace(LATEST + '.tmp', LATEST)

    def invocation_date(self):
        return self.data['merged_runs'][-1]['date'] if self.merging else self.data['date']


def main():
    t_start = time.time()
    unknown = [name for name in SECTIONS if name not in FIGURES]
    if unknown:
        sys.exit('bench: unknown section(s) %s; known: %s' % (', '.join(unknown), ', '.join(FIGURES)))
    os.makedirs(rb.BUILD, exist_ok=True)
    subprocess.run(['make', '-s', '-C', rb.REPO, 'collection'], check=True)
    rb.seed_image()
    results = Results()
    results.data['config' if not results.merging else 'merge_config'] = {
        'sections': SECTIONS, 'reps': lab.REPS, 'load_seconds': lab.LOAD_SECONDS,
        'iperf_seconds': lab.IPERF_SECONDS, 'rig_dir': rb.RIG_DIR}
    try:
        try:
            inv = lab.setup_main(results)
        except Exception as exc:  # no guests, no figures: say so in the summary
            rb.log('setup failed: %s' % exc)
            results.data.setdefault('failed_sections', {})['setup'] = str(exc)[-2000:]
            inv = None
        for name in SECTIONS if inv else []:
            t0 = time.time()
            rb.log('section %s' % name)
            try:
                FIGURES[name](results, inv)
            except Exception as exc:  # keep the other sections' figures
                rb.log('section %s failed: %s' % (name, exc))
                results.data.setdefault('failed_sections', {})[name] = str(exc)[-2000:]
            results.data.setdefault('section_seconds', {})[name] = round(time.time() - t0, 1)
            results.save()
    finally:
        if results.merging:
            results.data['merged_runs'][-1]['seconds'] = round(time.time() - t_start, 1)
        else:
            results.data['bench_seconds'] = round(time.time() - t_start, 1)
            results.data['machine']['loadavg_end'] = open('/proc/loadavg').read().split()[:3]
        results.save()
        kept = history.record(dict(results.data, date=results.invocation_date()), RESULTS)
        rb.log('kept as %s' % os.path.relpath(kept, rb.REPO))
        if not KEEP:
            rb.destroy([lab.SERVER] + lab.CLIENTS)
    subprocess.run([sys.executable, os.path.join(rb.BENCH, 'report.py')], check=False)
    rb.log('done in %.0f s: %s' % (time.time() - t_start, LATEST))
    print()
    print(verdicts.summary(results.data))
    return 1 if verdicts.failures(results.data) else 0


if __name__ == '__main__':
    sys.exit(main())
