# pppssh developer entry points. `make setup` once (as root), then any target.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: setup collection lint sanity unit integration test clean

setup:
	bash scripts/setup-host.sh

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

# Everything CI runs (.ci/run): static checks first, guests last.
test: lint sanity unit integration

clean:
	rm -rf .build tests/output
