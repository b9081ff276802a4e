# pppssh developer entry points. `make setup` once (as root), then any target.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: setup collection lint sanity unit integration test lab lab-down bench clean

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

integration: collection
	$(BIN)/pytest -v tests/integration

test: unit integration

clean:
	rm -rf .build tests/output
