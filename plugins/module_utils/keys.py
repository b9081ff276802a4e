# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client's link key across runs: made once, kept, and rotated only when its generation is raised.

The key of link NAME is /etc/pppssh/keys/NAME (and NAME.pub). Its generation is a whole number in
NAME.generation beside it; a key without that file is generation 1 (every key made before
generations existed, and every first key while pppssh_client_key_generation is 1). Raising
pppssh_client_key_generation above the key's generation rotates it once:

  play 1  the client makes NAME.next (the next key) and publishes both public keys;
  play 2  the server authorizes both for the client's account;
  play 3  the client moves NAME.next over NAME, records the generation, restarts its link (one redial);
  play 4  the server drops the old key and ends a session still logged in with it.

A rerun finds the generation recorded and does nothing. A lower or equal generation keeps the key:
nothing ever makes a key again while one exists, except a raised generation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

GENERATION_VAR = 'pppssh_client_key_generation'
DEFAULT_GENERATION = 1
MAX_GENERATION = 10 ** 9


def generation(value, host, field=GENERATION_VAR):
    """A generation as an int >= 1, from an int or a string of digits (extra vars arrive as strings)."""
    text = value.strip() if isinstance(value, str) else value
    number = None
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    elif isinstance(text, str) and text.isdigit() and text.isascii():
        number = int(text, 10)
    if number is None or not 1 <= number <= MAX_GENERATION:
        raise Refusal(host, field, value, 'is not a key generation',
                      'use a whole number from 1 (the first key) up; raise it by one to rotate the key once')
    return number


def plan(wanted, recorded, key_exists, next_exists, host, key_file):
    """What play 1 does with the link key.

    ``wanted`` is pppssh_client_key_generation, ``recorded`` the text of KEY.generation (None when
    the file is missing), ``key_exists`` / ``next_exists`` whether KEY and KEY.next exist.
    Returns {'action': 'create' | 'keep' | 'rotate', 'generation': the generation of the key in use
    (after 'create': the new key's), 'target': what KEY.generation holds once done, 'make_next':
    generate KEY.next now, 'discard_next': remove a KEY.next left over, 'record': write KEY.generation
    after creating the first key}.
    """
    target = generation(wanted, host)
    if not key_exists:
        # The first key is of the wanted generation: nothing to rotate. A next key without a current one
        # is a leftover (the key was removed by hand): it is never used.
        return {'action': 'create', 'generation': target, 'target': target, 'make_next': False,
                'discard_next': bool(next_exists), 'record': target != DEFAULT_GENERATION}
    current = DEFAULT_GENERATION if recorded is None else generation(recorded, host, key_file + '.generation')
    if target > current:
        # A pending next key (a rotation that did not finish) is used as it is: never made twice.
        return {'action': 'rotate', 'generation': current, 'target': target, 'make_next': not next_exists,
                'discard_next': False, 'record': False}
    return {'action': 'keep', 'generation': current, 'target': current, 'make_next': False,
            'discard_next': bool(next_exists), 'record': False}
