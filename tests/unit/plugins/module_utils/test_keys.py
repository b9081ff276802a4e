"""The link key across runs (module_utils/keys.py): made once, kept, rotated only when its generation is raised."""
import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import keys
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

KEY = '/etc/pppssh/keys/a'


def plan(wanted, recorded=None, key_exists=True, next_exists=False):
    return keys.plan(wanted, recorded, key_exists, next_exists, 'c1', KEY)


def test_a_first_key_is_made_at_the_wanted_generation_and_recorded_only_above_1():
    assert plan(1, key_exists=False) == {'action': 'create', 'generation': 1, 'target': 1, 'make_next': False,
                                         'discard_next': False, 'record': False}
    made = plan(3, key_exists=False)
    assert (made['action'], made['target'], made['record']) == ('create', 3, True)


def test_an_existing_key_is_kept_across_runs_never_made_again():
    # A key of an earlier version (no generation file) is generation 1.
    assert plan(1)['action'] == 'keep'
    assert plan('1', '1\n')['action'] == 'keep'
    assert plan(2, '2\n') == {'action': 'keep', 'generation': 2, 'target': 2, 'make_next': False,
                              'discard_next': False, 'record': False}


def test_a_lower_generation_keeps_the_key():
    assert plan(1, '3')['action'] == 'keep' and plan(1, '3')['target'] == 3


def test_a_raised_generation_rotates_once():
    rotate = plan(2)
    assert rotate == {'action': 'rotate', 'generation': 1, 'target': 2, 'make_next': True, 'discard_next': False,
                      'record': False}
    # The rerun after the switch finds the generation recorded: nothing to do.
    assert plan(2, '2\n')['action'] == 'keep'


def test_a_pending_next_key_is_reused_and_discarded_when_no_longer_asked_for():
    resumed = plan(2, None, True, True)
    assert resumed['action'] == 'rotate' and not resumed['make_next']
    assert plan(1, None, True, True)['discard_next'] is True
    assert plan(1, None, False, True)['discard_next'] is True


@pytest.mark.parametrize('wanted', [0, -1, True, '2a', 'two', 1.5, None, '', '²', 10 ** 10])
def test_a_bad_generation_is_refused_naming_the_variable(wanted):
    with pytest.raises(Refusal) as info:
        plan(wanted)
    assert str(info.value).startswith('c1: pppssh_client_key_generation') and 'Fix:' in str(info.value)


@pytest.mark.parametrize('recorded', ['x', '0', '-2', '1 2', ''])
def test_a_bad_generation_file_is_refused_naming_it(recorded):
    with pytest.raises(Refusal) as info:
        plan(2, recorded)
    assert str(info.value).startswith('c1: /etc/pppssh/keys/a.generation'), str(info.value)
