#!/usr/bin/env bash
# Static checks that need no guests: ansible-lint (production profile) over roles/, playbooks/
# and molecule/, ansible-doc rendering of every module, antsibull-docs lint-collection-docs (the
# documentation of every module, filter and role, as the docs site renders it), and the changelog
# fragments.
# Python style: pep8 here with ansible-test's own settings (a blank line too many once failed CI's
# matrix after 4 minutes); pylint and the rest of ansible-test sanity: `make sanity`.
# Runs every check, then exits non-zero when any failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PPPSSH_VENV:-$repo/.venv}
if [ -x "$venv/bin/ansible-lint" ]; then
  export PATH="$venv/bin:$PATH"
fi
# ansible-doc and ansible-lint find the collection as ansible_collections/pppssh/vpn
# (the same link `make collection` makes).
collections=$repo/.build/collections
mkdir -p "$collections/ansible_collections/pppssh"
ln -sfn "$repo" "$collections/ansible_collections/pppssh/vpn"
export ANSIBLE_COLLECTIONS_PATH=$collections
# ansible-lint puts ANSIBLE_HOME/collections (default ~/.ansible/collections) first: a pppssh.vpn
# installed there (another checkout's, an older one) would be linted against instead of this one.
export ANSIBLE_HOME=$repo/.build/ansible-home
mkdir -p "$ANSIBLE_HOME"
export ANSIBLE_NOCOLOR=1
cd "$repo" || exit 1

failed=()
step() {
  local name=$1 begin=$SECONDS
  shift
  echo "== lint: $name"
  if "$@"; then
    echo "== lint: $name passed ($((SECONDS - begin)) s)"
  else
    echo "== lint: $name FAILED ($((SECONDS - begin)) s)" >&2
    failed+=("$name")
  fi
}

# ansible-doc exits 0 on some documentation problems and only warns: treat any output on
# stderr as a failure, and render the JSON form too (it is what docs tooling consumes).
ansible_doc() {
  local module errors status=0
  errors=$(mktemp)
  for module in plugins/modules/*.py; do
    module=pppssh.vpn.$(basename "$module" .py)
    if ! ansible-doc -t module "$module" >/dev/null 2>"$errors" || [ -s "$errors" ] \
      || ! ansible-doc -t module --json "$module" >/dev/null 2>>"$errors" || [ -s "$errors" ]; then
      echo "ansible-doc $module:" >&2
      cat "$errors" >&2
      status=1
    else
      echo "ansible-doc $module renders"
    fi
  done
  rm -f "$errors"
  return "$status"
}

# ansible-test sanity's pep8: pycodestyle with 160 columns and the ignore list ansible-test itself
# reads (_util/controller/sanity/pep8/current-ignore.txt of the installed ansible-test).
pep8() {
  local ignore
  ignore=$(python3 - <<'EOF'
import os
import ansible_test
with open(os.path.join(os.path.dirname(ansible_test.__file__), '_util', 'controller', 'sanity', 'pep8',
                       'current-ignore.txt')) as handle:
    print(','.join(line.strip() for line in handle if line.strip() and not line.startswith('#')))
EOF
) || return 1
  git ls-files -z '*.py' | xargs -0 pycodestyle --max-line-length 160 --ignore "$ignore"
}

lint_color=(); [ -t 1 ] || lint_color=(--nocolor)
step pep8 pep8
step ansible-lint ansible-lint --offline "${lint_color[@]}"
step ansible-doc ansible_doc
step collection-docs antsibull-docs lint-collection-docs --plugin-docs "$collections/ansible_collections/pppssh/vpn"
step changelog antsibull-changelog lint

if [ ${#failed[@]} -gt 0 ]; then
  echo "lint: FAILED: ${failed[*]} (${SECONDS} s)" >&2
  exit 1
fi
echo "lint: passed (${SECONDS} s)"
