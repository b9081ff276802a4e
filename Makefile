# pppssh developer entry points. `make setup` once (as root), then any target.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
# Times a stage into the file PPPSSH_STAGE_LOG names, when set (.ci/run prints the table).
STAGE := bash scripts/stage.sh
# What make test runs, in order (.ci/run lists the ones that did not run).
TEST_STAGES := check-host-commands lint docs matrix molecule-default integration

.PHONY: setup check-host-commands check-fresh collection lint docs sanity unit matrix ci-stages integration molecule molecule-default molecule-uml test clean lab lab-down bench

setup:
	@$(STAGE) setup bash scripts/setup-host.sh

# Fails when a suite runs a host command that scripts/host-packages.txt lacks, or when a listed
# command does not resolve here (after make setup). Seconds; first in make test.
check-host-commands:
	@$(STAGE) check-host-commands $(BIN)/python scripts/check_host_commands.py

# The setup package install in a pristine Debian 12 chroot (debootstrap), run twice, and every
# listed command resolving there. About 5 min on first use; not part of make test.
check-fresh:
	bash scripts/check-fresh.sh

# Ansible finds the collection as ansible_collections/pppssh/vpn: point that at this checkout.
collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/pppssh
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/pppssh/vpn

# ansible-lint (production profile), ansible-doc of every module, changelog fragments.
lint: collection
	@$(STAGE) lint bash scripts/lint.sh

# The collection's HTML docs site in .build/docs/html (antsibull-docs + Sphinx, warnings are
# errors): modules, filters, roles from their argument specs, the README. About a minute.
docs: collection
	@$(STAGE) docs bash scripts/docs.sh

# ansible-test sanity on a git copy in .build/sanity (pip from PyPI, see scripts/sanity.sh).
sanity:
	bash scripts/sanity.sh

unit: collection
	$(BIN)/pytest -q tests/unit

# sanity + unit on every ansible-core meta/runtime.yml claims (2.16-2.19, two at a time):
# .venv for the newest, .venvs/ansible-2.NN from tests/matrix/requirements-2.NN.txt for the rest.
matrix: collection
	@$(STAGE) matrix $(BIN)/python scripts/version_matrix.py

# The guest suites (rig/): real pppd, sshd and sudo driven through Ansible, side by side
# (scripts/integration.sh: one pytest run per shared fleet, and two for the modules with guests
# of their own, split by measured time).
integration: collection
	@$(STAGE) integration bash scripts/integration.sh

# Molecule `default`: site.yml on two privileged systemd containers with a live link: on the
# local engine where it can (privileged, kernel PPP), else on an engine guest (rig/engine/,
# guest dengine 192.168.213.140; PPPSSH_MOLECULE_ENGINE=local|rig forces one). Builds its image
# locally (scripts/docker-image.sh, no registry). Needs dockerd (make setup).
molecule-default: collection
	@$(STAGE) molecule-default molecule test -s default

# Molecule `uml`: the same playbook on rig guests whose kernel has PPP: always a live link. Not in
# make test: `default` carries a live link too, and the integration fleets run the same playbook
# on the same guests with every check of this scenario's own tests (redial after a killed ssh in
# test_faults, stop/start in test_tunnel_module, no shell for a client key in test_security).
molecule-uml: collection
	@$(STAGE) molecule-uml bash -c 'molecule test -s uml; status=$$?; rig/rig down; exit $$status'

molecule: molecule-default molecule-uml

# Everything CI runs (.ci/run): the host command check first, static checks, guests last.
# matrix is sanity and unit on each supported ansible-core (make sanity, make unit: the newest only).
# matrix runs beside molecule-default: on a new machine it spends about 7 min building
# ansible-test's sanity venvs (pip, network), while molecule's engine guest keeps about one core
# busy. integration starts only when both passed: it loads the host on its own.
test: check-host-commands lint docs
	@$(MAKE) --no-print-directory -j2 matrix molecule-default
	@$(MAKE) --no-print-directory integration

# The stages of .ci/run (make setup test), for its timing table.
ci-stages:
	@echo setup $(TEST_STAGES)

# The main job: one server and two clients (rig guests) with live tunnels, a status table
# and pings; rerun it to reconverge. PPPSSH_LAB_RIG_DIR (default /var/tmp/pppssh-lab).
lab: collection
	bash scripts/lab.sh up

# Stops and deletes the lab's guests (its rig dir only) and .build/lab.
lab-down:
	bash scripts/lab.sh down

# Side-by-side measurements on rig guests bserver/bclient1-4 (192.168.213.70-74, rig dir
# /var/tmp/pppssh-bench): bench/results/latest.{json,md,png}. See bench/README.md.
bench: collection
	$(BIN)/python bench/bench.py

clean:
	rm -rf .build tests/output
