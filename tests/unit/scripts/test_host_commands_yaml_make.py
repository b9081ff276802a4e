"""Playbooks run on the controller only where they target localhost; Makefile recipes are bash."""
import textwrap

from host_commands import make_source, yaml_source

PLAYBOOK = textwrap.dedent('''
    - name: Create
      hosts: localhost
      tasks:
        - name: Probe
          ansible.builtin.command:
            argv: [docker, run, --rm, img]
        - name: Templated
          ansible.builtin.command: "{{ rig }} start x"
        - name: On a guest
          ansible.builtin.command: nft list ruleset
          delegate_to: server
        - block:
            - name: Shell
              ansible.builtin.shell: ip -br link | grep ppp
    - name: On the fleet
      hosts: pppssh_clients
      tasks:
        - name: In the guest
          ansible.builtin.command: tc qdisc show
        - name: Back on the controller
          ansible.builtin.command: rsync -a x y
          delegate_to: localhost
''')


def test_only_tasks_on_the_controller_count():
    found = [(use.command, use.line) for use in yaml_source.uses(PLAYBOOK, 'create.yml')]
    assert found == [('docker', 7), ('ip', 15), ('grep', 15), ('rsync', 22)]


def test_make_syntax_is_undone_before_reading_bash():
    assert make_source.to_shell('$(BIN)/pytest -q; s=$$?; exit $$s') == '${MAKE_BIN}/pytest -q; s=$?; exit $s'
    assert make_source.to_shell('x $(shell git rev-parse HEAD)') == 'x $(git rev-parse HEAD)'


def test_recipes_and_shell_calls_of_a_makefile():
    makefile = ('REV := $(shell git describe)\n'
                'test: lint\n'
                '\t@$(BIN)/pytest -q tests/unit\n'
                '\tmolecule test -s default; status=$$?; rig/rig down; \\\n'
                '\t  exit $$status\n'
                '# a comment with nft in it\n')
    found = [(use.command, use.line) for use in make_source.uses(makefile, 'Makefile')]
    assert found == [('git', 1), ('molecule', 4), ('rig/rig', 4), ('exit', 4)]


def test_plain_make_variables_stand_in_and_the_stage_wrapper_is_seen_through():
    makefile = ('STAGE := bash scripts/stage.sh\n'
                'BIN := $(VENV)/bin\n'
                'lint:\n'
                '\t@$(STAGE) lint bash scripts/lint.sh\n'
                'integration:\n'
                "\t@$(STAGE) integration bash -c '$(BIN)/pytest tests; s=$$?; rig/rig down; exit $$s'\n")
    found = [(use.command, use.line) for use in make_source.uses(makefile, 'Makefile')]
    assert found == [('bash', 4), ('bash', 4), ('bash', 6), ('bash', 6), ('rig/rig', 6), ('exit', 6)]
