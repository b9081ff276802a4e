"""Key rotation on the server (issue 15, "Keys that rotate"): a client publishes its current and its next
key; the server accepts both, each validated like the single key of any other run, until the client has
switched; then only the new key, and the sessions of the old one end."""
import pytest

from ansible_collections.pppssh.vpn.plugins.module_utils import allocation
from ansible_collections.pppssh.vpn.plugins.module_utils.allocation import Client
from ansible_collections.pppssh.vpn.plugins.module_utils.published import key_tag

SERVER_FACTS = {'interfaces': ['eth0'], 'eth0': {'ipv4': {'address': '192.168.213.60', 'netmask': '255.255.255.0'}}}


def info(name, key, next_key=None, **extra):
    found = {'name': name, 'state': 'present', 'server': 'srv', 'pubkey': key + ' pppssh-%s@host' % name,
             'next_pubkey': next_key, 'local_ip': None, 'remote_ip': None, 'subnets': [], 'key_exists': True}
    found.update(extra)
    return found


def run(clients, old=None):
    return allocation.allocate('srv', '10.213.0.0/24', [], 'pppssh-', old, clients, SERVER_FACTS, {})


def client(host, *args, **kwargs):
    return Client(host, info(*args, **kwargs))


def accepted(result, name):
    return [(line['pubkey'], line['tag']) for line in result['authorized'][name]]


def test_during_a_rotation_both_keys_are_accepted_and_no_session_ends(keys):
    first = run([client('h1', 'a', keys[0])])
    assert 'next_pubkey' not in first['state']['clients']['a'] and 'next_pubkey' not in first['pairs']['a']
    assert accepted(first, 'a') == [(keys[0], key_tag(keys[0]))]
    during = run([client('h1', 'a', keys[0], next_key=keys[1] + ' pppssh-a@host generation 2')], old=first['state'])
    assert during['errors'] == []
    assert accepted(during, 'a') == [(keys[0], key_tag(keys[0])), (keys[1], key_tag(keys[1]))]
    entry = during['state']['clients']['a']
    assert (entry['pubkey'], entry['next_pubkey']) == (keys[0], keys[1])
    # The client learns that its next key is accepted, and nothing ends yet.
    assert during['pairs']['a']['next_pubkey'] == keys[1]
    assert during['rotated'] == [] and during['ended'] == []
    # The same run again (an interrupted rotation resumed) changes nothing.
    assert run([client('h1', 'a', keys[0], next_key=keys[1])], old=during['state'])['state'] == during['state']


def test_after_the_switch_only_the_new_key_is_accepted_and_the_old_keys_sessions_end(keys):
    first = run([client('h1', 'a', keys[0])])
    during = run([client('h1', 'a', keys[0], next_key=keys[1])], old=first['state'])
    switched = run([client('h1', 'a', keys[1], switched=True)], old=during['state'])
    assert switched['errors'] == []
    assert accepted(switched, 'a') == [(keys[1], key_tag(keys[1]))]
    assert switched['state']['clients']['a'] == dict(first['state']['clients']['a'], pubkey=keys[1])
    assert switched['rotated'] == ['a']
    assert switched['ended'] == [{'name': 'a', 'account': 'pppssh-a', 'keep_keys': [key_tag(keys[1])]}]
    # The rerun: nothing rotated, nothing ended.
    again = run([client('h1', 'a', keys[1])], old=switched['state'])
    assert again['state'] == switched['state'] and again['ended'] == [] and again['rotated'] == []


def test_a_client_that_did_not_run_keeps_both_keys_of_its_rotation(keys):
    during = run([client('h1', 'a', keys[0], next_key=keys[1])])
    later = run([Client('h1', None)], old=during['state'])
    assert later['errors'] == [] and later['state'] == during['state']
    assert [line['pubkey'] for line in later['authorized']['a']] == [keys[0], keys[1]]


def test_a_rotation_given_up_ends_the_sessions_of_the_unused_next_key_only(keys):
    during = run([client('h1', 'a', keys[0], next_key=keys[1])])
    given_up = run([client('h1', 'a', keys[0])], old=during['state'])
    assert given_up['ended'] == [{'name': 'a', 'account': 'pppssh-a', 'keep_keys': [key_tag(keys[0])]}]
    assert 'next_pubkey' not in given_up['state']['clients']['a']


def test_the_tag_is_a_digest_of_the_key_blob(keys):
    assert len(set(key_tag(key) for key in keys)) == len(keys)
    assert key_tag(keys[0]) == key_tag(keys[0] + ' comment') and len(key_tag(keys[0])) == 24
    assert set(key_tag(keys[0])) <= set('0123456789abcdef')


@pytest.mark.parametrize('forged, words', [
    ('restrict,command="/bin/sh" KEY', 'is not an ssh-ed25519 public key line'),
    ('KEY\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSIv3NBeQA2VWhmFAxKdn4iipKVlgabVwNPYCApa/oq', 'exactly one line'),
    ('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ', 'is not an ssh-ed25519 public key line'),
    ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1ptLjuoJm6lDEL2jT4pIAi6ShtVp0qd3zjXTmW85H', 'key blob is not a valid'),
    (['KEY'], 'is not text'),
])
def test_a_forged_next_key_is_refused_like_a_current_one(keys, forged, words):
    next_key = [keys[1]] if isinstance(forged, list) else forged.replace('KEY', keys[1])
    result = run([client('h1', 'a', keys[0], next_key=next_key)])
    assert result['state'] is None and result['authorized'] == {}
    text = ' '.join(result['errors'])
    assert text.startswith('h1: /etc/pppssh/keys/a.next.pub') and words in text and 'Fix:' in text, text


def test_a_next_key_equal_to_the_current_one_or_without_one_is_refused(keys):
    same = run([client('h1', 'a', keys[0], next_key=keys[0] + ' other comment')])
    assert same['state'] is None and 'must differ from it' in ' '.join(same['errors'])
    alone = run([Client('h1', dict(info('a', keys[0], next_key=keys[1]), pubkey=None, key_exists=False))])
    assert alone['state'] is None and 'needs a current key' in ' '.join(alone['errors'])


def test_a_next_key_that_is_another_clients_key_is_refused(keys):
    # Client b (compromised) publishes client a's key as its next key: it would open a's account... of b with
    # a's private key, and a's own account with b's. Refused, naming the file.
    result = run([client('h1', 'a', keys[0]), client('h2', 'b', keys[1], next_key=keys[0])])
    assert result['state'] is None
    assert any(error.startswith('h2: /etc/pppssh/keys/b.next.pub holds the same public key as client h1')
               for error in result['errors']), result['errors']
    twice = run([client('h1', 'a', keys[0], next_key=keys[2]), client('h2', 'b', keys[1], next_key=keys[2])])
    assert twice['state'] is None and 'holds the same public key as client h1' in ' '.join(twice['errors'])


def test_a_tampered_persisted_next_key_is_refused(keys):
    during = run([client('h1', 'a', keys[0], next_key=keys[1])])
    tampered = dict(during['state'], clients={'a': dict(during['state']['clients']['a'],
                                                        next_pubkey='command="id" ' + keys[1])})
    result = run([Client('h1', None)], old=tampered)
    assert result['state'] is None
    assert 'h1 (persisted in the state file): next_pubkey' in ' '.join(result['errors'])


def test_a_static_client_cannot_carry_a_next_key(keys):
    result = allocation.allocate('srv', '10.213.0.0/24', [], 'pppssh-', None, [], SERVER_FACTS, {},
                                 static_clients=[{'name': 'laptop', 'pubkey': keys[0], 'next_pubkey': keys[1]}])
    assert result['state'] is None and 'unknown keys next_pubkey' in ' '.join(result['errors'])


def test_an_empty_next_key_is_no_rotation(keys):
    # ansible-core before 2.19 publishes the unset next_pubkey ("{{ ... else none }}") as ''.
    result = run([client('h1', 'a', keys[0], next_key='')])
    assert result['errors'] == []
    assert accepted(result, 'a') == [(keys[0], key_tag(keys[0]))]
    assert 'next_pubkey' not in result['state']['clients']['a']
