"""bench/report.py: the scale figure's line of server processes per tunnel."""
import report


def scale(steps):
    return {'steps': [10, 20], 'runs': [{'steps': steps}]}


def test_processes_per_tunnel_name_each_command_and_their_sum_at_the_top_step():
    lines = report.scale_process_lines(scale([
        {'tunnels': 10, 'processes_per_tunnel': {'sshd': 2.0, 'pppd': 2.0}},
        {'tunnels': 20, 'processes_per_tunnel': {'sshd': 2.0, 'pppd': 2.0, 'sudo': 0.0, 'sh': 0.05}}]))
    assert lines[0] == ('Server processes per tunnel at 20 tunnels (last rep, over the count before the first '
                        'tunnel): pppd 2.00, sh 0.05, sshd 2.00; 4.05 in all.')


def test_a_run_without_the_figure_prints_no_line():
    assert report.scale_process_lines(scale([{'tunnels': 20, 'per_tunnel_kb': 4000.0}])) == []
