"""What a playbook run's json-callback report says about its cost: tasks per host and the slowest
tasks (issue 17's rerun figures; bench/fleet.py records them for each site.yml rerun)."""
import datetime


def task_seconds(duration):
    """Seconds of a json-callback task duration {'start': ISO, 'end': ISO}, or None."""
    try:
        # utcnow().isoformat() + 'Z': microseconds are left out when they are 0.
        start, end = (datetime.datetime.fromisoformat(duration[k].rstrip('Z')) for k in ('start', 'end'))
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    return (end - start).total_seconds()


def rerun_profile(report, slowest=10):
    """Issue 17's rerun cost: per host, the tasks that ran and those skipped; the ``slowest`` tasks
    of the play (a task's time spans all its hosts) as [name, seconds]."""
    per_host, timed = {}, []
    for play in report['plays']:
        for task in play['tasks']:
            for host, result in task['hosts'].items():
                counts = per_host.setdefault(host, {'ran': 0, 'skipped': 0})
                counts['skipped' if result.get('skipped') else 'ran'] += 1
            seconds = task_seconds(task['task'].get('duration'))
            if seconds is not None:
                timed.append((seconds, task['task']['name']))
    timed.sort(key=lambda item: -item[0])
    return {'tasks_per_host': per_host, 'slowest': [[name, round(seconds, 2)] for seconds, name in timed[:slowest]]}
