#!/usr/bin/env bash
# ansible-test sanity on a clean copy of the collection.
#
# ansible-test wants to run inside ansible_collections/NAMESPACE/NAME and only looks at files
# git knows about, so the working tree (tracked files plus untracked, not ignored ones: what the
# next commit would hold) is copied to .build/sanity/ansible_collections/pppssh/vpn, which
# becomes its own throw-away git repository.
#
# ansible-test bootstraps pip in each sanity virtualenv with a get-pip script that it downloads
# from ci-files.testing.ansible.com (unreachable here). It uses a cached copy when one exists,
# so a stand-in that gets the same pip from ensurepip + PyPI is put there when missing.
#
# Usage: scripts/sanity.sh [extra ansible-test sanity arguments, e.g. --test pep8]
# Environment: PPPSSH_VENV (the venv whose ansible-test runs, default .venv), PPPSSH_SANITY_DIR
# (where the copy goes, default .build/sanity; make matrix gives each ansible-core its own).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PPPSSH_VENV:-$repo/.venv}
python_version=${PPPSSH_SANITY_PYTHON:-3.11}
build=${PPPSSH_SANITY_DIR:-$repo/.build/sanity}
copy=$build/ansible_collections/pppssh/vpn

if [ -x "$venv/bin/ansible-test" ]; then
  export PATH="$venv/bin:$PATH"
fi
command -v ansible-test >/dev/null || { echo "sanity: ansible-test not found; run 'make setup' first" >&2; exit 1; }
# The pip that this ansible-test bootstraps its sanity venvs with (23.1.2 up to 2.17, 24.2 after).
pip_version=$("$(dirname "$(command -v ansible-test)")/python" - <<'EOF'
import os
import re
import ansible_test
with open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')) as handle:
    print(re.search(r"pip='([0-9.]+)'", handle.read()).group(1))
EOF
)
# The collection has no dependencies; keep ansible-test away from other pppssh.vpn copies.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

start=$(date +%s)

# 1. The get-pip stand-in (see the ansible-test section of the host notes).
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$cache" ]; then
  echo "sanity: writing the pip bootstrap stand-in $cache"
  mkdir -p "$(dirname "$cache")"
  cat >"$cache.tmp" <<'EOF'
"""Stand-in for ansible-test's get-pip script (its download host is unreachable).

ansible-test runs this in a new, empty virtual environment with pip's install arguments.
Those are ignored: pip comes from ensurepip, then the wanted version from PyPI.
Written by pppssh's scripts/sanity.sh.
"""
import subprocess
import sys

PIP_VERSION = '@PIP_VERSION@'

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q',
                       'pip==%s' % PIP_VERSION])
EOF
  sed -i "s/@PIP_VERSION@/$pip_version/" "$cache.tmp"
  mv "$cache.tmp" "$cache"
fi

# 2. A clean copy that is its own git repository.
cd "$repo"
rm -rf "$build"
mkdir -p "$copy"
git ls-files -z -co --exclude-standard \
  | grep -zvE '^(\.venv|\.venvs|\.build|\.rig)(/|$)' \
  | while IFS= read -r -d '' file; do
      # tracked files deleted in the working tree are listed too: skip them
      if [ -e "$file" ] || [ -L "$file" ]; then printf '%s\0' "$file"; fi
    done \
  | rsync -a --from0 --files-from=- "$repo/" "$copy/"
git -C "$copy" init -q
git -C "$copy" add -A
git -C "$copy" -c user.name=pppssh-sanity -c user.email=sanity@pppssh.invalid \
  -c commit.gpgsign=false commit -q -m 'sanity snapshot'

# 3. The sanity run.
cd "$copy"
status=0
ansible-test sanity --requirements --python "$python_version" --color no "$@" || status=$?

echo "sanity: $( ((status == 0)) && echo passed || echo FAILED ) in $(($(date +%s) - start)) s"
exit "$status"
