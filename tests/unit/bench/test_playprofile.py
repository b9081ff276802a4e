"""bench/playprofile.py: tasks per host and the slowest tasks of a site.yml rerun, from its json report."""
import playprofile


def task(name, start, end, **hosts):
    return {'task': {'name': name, 'duration': {'start': start, 'end': end}}, 'hosts': hosts}


REPORT = {'plays': [
    {'tasks': [task('Gathering Facts', '2026-12-07T12:00:00.000100Z', '2026-12-07T12:00:02.500100Z',
                    server={'changed': False}),
               task('Install packages', '2026-12-07T12:00:02.5Z', '2026-12-07T12:00:03Z',
                    server={'changed': False}),
               task('Refuse settings of earlier versions', '2026-12-07T12:00:03Z', '2026-12-07T12:00:03Z',
                    server={'skipped': True})]},
    {'tasks': [task('Start the links', '2026-12-07T12:00:03Z', '2026-12-07T12:00:07.25Z',
                    client1={'changed': False}, client2={'changed': False}),
               task('Key switch', '2026-12-07T12:00:07.25Z', 'not a time',
                    client1={'skipped': True}, client2={'skipped': True})]},
]}


def test_tasks_per_host_count_what_ran_and_what_was_skipped():
    assert playprofile.rerun_profile(REPORT)['tasks_per_host'] == {
        'server': {'ran': 2, 'skipped': 1}, 'client1': {'ran': 1, 'skipped': 1}, 'client2': {'ran': 1, 'skipped': 1}}


def test_the_slowest_tasks_come_first_with_their_seconds_and_untimed_ones_are_left_out():
    slowest = playprofile.rerun_profile(REPORT, slowest=3)['slowest']
    assert slowest == [['Start the links', 4.25], ['Gathering Facts', 2.5], ['Install packages', 0.5]]


def test_a_duration_without_microseconds_or_without_a_time_is_read_or_none():
    assert playprofile.task_seconds({'start': '2026-12-07T12:00:00Z', 'end': '2026-12-07T12:00:01.5Z'}) == 1.5
    assert playprofile.task_seconds({'start': '2026-12-07T12:00:00Z'}) is None
    assert playprofile.task_seconds(None) is None
