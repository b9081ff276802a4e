#!/usr/bin/env bash
# make docs: the collection's HTML docs site in .build/docs/html, built with antsibull-docs and
# Sphinx: a page per module and filter (from their documentation), per role (from its
# meta/argument_specs.yml) and the README (docs/site/conf.py has the Sphinx settings).
# Warnings are errors. Environment: PPPSSH_VENV (default .venv), PPPSSH_DOCS_DIR (default .build/docs).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PPPSSH_VENV:-$repo/.venv}
build=${PPPSSH_DOCS_DIR:-$repo/.build/docs}
[ -x "$venv/bin/antsibull-docs" ] || { echo "docs: antsibull-docs not found in $venv; run 'make setup' first" >&2; exit 1; }
export PATH="$venv/bin:$PATH"
collections=$repo/.build/collections
mkdir -p "$collections/ansible_collections/pppssh"
ln -sfn "$repo" "$collections/ansible_collections/pppssh/vpn"
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_NOCOLOR=1
start=$SECONDS

rm -rf "$build"
# antsibull-docs wants its destination readable by its owner only.
mkdir -p "$build"
mkdir -m 0700 "$build/rst"
t0=$SECONDS
antsibull-docs --config-file "$repo/docs/site/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
  --fail-on-error --dest-dir "$build/rst" pppssh.vpn
# The README as a page, linked from the collection's index; the labels of Ansible's own docs that
# the generated pages reference (no intersphinx without network access).
cp "$repo/README.md" "$build/rst/readme.md"
cp "$repo/docs/site/ansible_refs.rst" "$build/rst/ansible_refs.rst"
cat >>"$build/rst/index.rst" <<'RST'

.. toctree::
   :maxdepth: 2
   :caption: Guide

   readme
RST
echo "docs: antsibull-docs wrote $(find "$build/rst" -name '*.rst' | wc -l) pages in $((SECONDS - t0)) s"
sphinx-build -M html "$build/rst" "$build" -c "$repo/docs/site" -W --keep-going -q
for page in index.html readme.html pppssh_tunnel_module.html pppssh_tunnel_info_module.html pppssh_host_info_module.html \
  pppssh_client_role.html pppssh_server_role.html pppssh_metrics_role.html fleet_status_filter.html; do
  [ -s "$build/html/$page" ] || { echo "docs: $build/html/$page is missing" >&2; exit 1; }
done
echo "docs: $build/html/index.html ($(find "$build/html" -name '*.html' | wc -l) pages) in $((SECONDS - start)) s"
