# pppssh developer entry points. `make setup` once (as root), then any target.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: setup check-host-commands collection lint sanity unit integration molecule molecule-default molecule-uml test clean lab lab-down bench

setup:
	bash scripts/setup-host.sh

# Fails when a suite runs a host command that scripts/host-packages.txt lacks, or when a listed
# command does not resolve here (after make setup). Seconds; first in make test.
check-host-commands:
	$(BIN)/python scripts/check_host_commands.py

# Ansible finds the collection as ansible_collections/pppssh/vpn: point that at this checkout.
collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/pppssh
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/pppssh/vpn

# ansible-lint (production profile), ansible-doc of every module, changelog fragments.
lint: collection
	bash scripts/lint.sh

# ansible-test sanity on a git copy in .build/sanity (pip from PyPI, see scripts/sanity.sh).
sanity:
	bash scripts/sanity.sh

unit: collection
	$(BIN)/pytest -q tests/unit

# Boots two User-mode Linux guests (rig/) and drives real pppd, sshd and sudo through Ansible.
integration: collection
	$(BIN)/pytest -v tests/integration; status=$$?; rig/rig down; exit $$status

# Molecule `default`: site.yml on two systemd containers (privileged, or explicit capabilities
# where the host refuses that: PPPSSH_MOLECULE_PRIVILEGED=true|false, auto-detected when unset).
# Builds its image locally (scripts/docker-image.sh, no registry). Needs dockerd (make setup).
molecule-default: collection
	molecule test -s default

# Molecule `uml`: the same playbook on rig guests whose kernel has PPP: always a live link.
molecule-uml: collection
	molecule test -s uml; status=$$?; rig/rig down; exit $$status

molecule: molecule-default molecule-uml

# Everything CI runs (.ci/run): static checks first, guests last.
test: check-host-commands lint sanity unit molecule integration

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
