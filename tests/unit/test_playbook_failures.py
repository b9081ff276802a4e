"""guests.failures, the integration tests' reading of a json-callback report: a refusal in a task
that loops (the client role loops over a host's links) is named by its failed item's message, not
by Ansible's "One or more items failed"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration'))
import guests  # noqa: E402  pylint: disable=wrong-import-position

REFUSAL = ('fclient1: /etc/pppssh/keys/fclient1.pub must hold exactly one line (an ed25519 public key). '
           'Fix: remove the other lines.')


def report(result, name='pppssh.vpn.pppssh_client : Collect each link for the server play'):
    return {'plays': [{'tasks': [{'task': {'name': name}, 'hosts': {'fclient1': result}}]}]}


def test_a_looped_task_is_named_by_each_failed_item():
    looped = {'failed': True, 'msg': 'One or more items failed', 'results': [
        {'failed': True, 'msg': REFUSAL, 'ansible_loop_var': 'pppssh_client_l', 'pppssh_client_l': {'name': 'office'}},
        {'changed': False, 'ansible_loop_var': 'pppssh_client_l', 'pppssh_client_l': {'name': 'home'}},
        {'failed': True, 'msg': 'second', 'ansible_loop_var': 'item', 'item': '10.0.0.0/8'}]}
    assert guests.failures(report(looped)) == [
        'fclient1: pppssh.vpn.pppssh_client : Collect each link for the server play (item office): ' + REFUSAL,
        'fclient1: pppssh.vpn.pppssh_client : Collect each link for the server play (item 10.0.0.0/8): second']


def test_a_task_without_a_loop_and_an_ignored_failure_read_as_before():
    assert guests.failures(report({'failed': True, 'msg': 'refused'}, 'Check')) == ['fclient1: Check: refused']
    assert guests.failures(report({'unreachable': True, 'msg': 'gone'}, 'Ping')) == ['fclient1: Ping: gone']
    assert guests.failures(report({'failed': True, 'msg': 'x', 'ignore_errors': True}, 'Probe')) == []
    assert guests.failures(report({'changed': True}, 'Write')) == []
