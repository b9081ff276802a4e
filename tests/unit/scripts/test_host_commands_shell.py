"""The bash reading of the host command scan: which word of a line is a command."""
from host_commands import shell_lexer, shell_source


def programs(text, variables=None):
    return [use.command for use in shell_source.uses(text, 'x.sh', variables)]


def test_pipes_lists_and_substitutions_are_command_positions():
    assert programs('a | b && c || d; e & f\n') == ['a', 'b', 'c', 'd', 'e', 'f']
    assert programs('x=$(dirname "$(readlink -f "$0")")\n') == ['dirname', 'readlink']
    assert programs('echo "total $(wc -l <file) lines" `date`\n') == ['echo', 'wc', 'date']
    assert programs('while read -r a; do tail "$a"; done < <(ls /tmp)\n') == ['read', 'tail', 'ls']


def test_arguments_redirect_targets_and_fds_are_not_commands():
    assert programs('grep -q nft file >/dev/null 2>&1\n') == ['grep']
    assert programs('exec 9>"$dir/lock"\nflock -n 9\n') == ['exec', 'flock']
    assert programs("awk '$1 == \"ssh\" { print }' f\n") == ['awk']


def test_here_document_bodies_are_data():
    text = 'cat >f <<EOF\nnft -f -\nEOF\npython3 - <<\'PY\'\nimport os\nPY\nsort f\n'
    assert programs(text) == ['cat', 'python3', 'sort']
    assert [use.line for use in shell_source.uses(text, 'x.sh')] == [1, 4, 7]


def test_reserved_words_headers_and_patterns_are_not_commands():
    text = ('if ! mountpoint -q /x; then umount /x; elif true; then :; else sleep 1; fi\n'
            'for i in a b; do echo "$i"; done\n'
            'for ((i = 0; i < 3; i++)); do sleep 0; done\n'
            'case $1 in\n  start | stop) run_it ;;\n  *) die bad ;;\nesac\n'
            '[[ $x =~ ^[a-z]$ ]] || fail\n'
            '((n > 1)) && big\n')
    assert programs(text) == ['mountpoint', 'umount', 'true', ':', 'sleep', 'echo', 'sleep', 'run_it', 'die',
                              'fail', 'big']


def test_assignments_and_arrays_are_skipped_but_their_substitutions_run():
    assert programs('A=1 B=2 env\nargs=(\n  "x=$(hostname)" y\n)\nlocal z=$(id -u)\n') == \
        ['env', 'hostname', 'local', 'id']


def test_function_definitions_are_found_and_not_run():
    text = 'one() { ip link; }\nfunction two {\n  ss -t\n}\none\n'
    assert shell_lexer.functions(text) == {'one', 'two'}
    assert programs(text) == ['ip', 'ss', 'one']


def test_a_plain_variable_stands_for_its_value():
    text = 'UML=/usr/bin/linux\n"$UML" mem=1G\n"$repo/rig/rig" up\n'
    assert shell_source.plain_assignments(text) == {'UML': '/usr/bin/linux'}
    assert programs(text, shell_source.plain_assignments(text)) == ['/usr/bin/linux']


def test_a_variable_assigned_two_values_is_not_guessed():
    assert shell_source.plain_assignments('X=a\nX=b\nY=c\n') == {'Y': 'c'}


def test_the_guest_side_mark_drops_the_line():
    text = 'ip link\nrun_in_guest nft list ruleset  # guest-side\nsysctl -w x=1 # guest-side: in the netns of a guest\n'
    assert programs(text) == ['ip']


def test_line_continuations_keep_line_numbers():
    text = 'a \\\n  --opt \\\n  arg\nb\n'
    assert [(use.command, use.line) for use in shell_source.uses(text, 'x.sh')] == [('a', 1), ('b', 4)]
