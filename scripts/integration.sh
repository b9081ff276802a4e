#!/usr/bin/env bash
# make integration: the guest suites, in two groups run side by side, each with two pytest workers
# (pytest-xdist, --dist loadgroup: one worker per module that boots its own guests, and the
# modules sharing a site.yml fleet together). The groups use different fleets (PPPSSH_FLEET f, g),
# so no guest name or address is ever booted twice. Logs: tests/output/integration-{a,b}.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bin=${PPPSSH_VENV:-$PWD/.venv}/bin
workers=${PPPSSH_TEST_WORKERS:-2}
out=tests/output
mkdir -p "$out"

# Group b: the trust and session suites on fleet g, and the modules with guests of their own
# that take longest. Group a: every other module, on fleet f.
group_b=(test_sessions.py test_trust_boundary.py test_firewall.py test_upgrade.py test_platforms.py)
group_a=()
for path in tests/integration/test_*.py; do
    name=${path##*/}
    [[ " ${group_b[*]} " == *" $name "* ]] || group_a+=("$path")
done
existing_b=()
for name in "${group_b[@]}"; do
    [[ -e tests/integration/$name ]] && existing_b+=("tests/integration/$name")
done

run_group() {
    local label=$1 fleet=$2
    shift 2
    PPPSSH_FLEET=$fleet "$bin/pytest" -v -n "$workers" --dist loadgroup -p no:cacheprovider "$@" \
        >"$out/integration-$label.log" 2>&1
}

run_group a f "${group_a[@]}" &
pid_a=$!
run_group b g "${existing_b[@]}" &
pid_b=$!
wait "$pid_a"; status_a=$?
wait "$pid_b"; status_b=$?
rig/rig down
for label in a b; do
    echo "==== integration group $label: $out/integration-$label.log"
    cat "$out/integration-$label.log"
done
echo "integration: group a $( ((status_a == 0)) && echo passed || echo FAILED), group b $( ((status_b == 0)) && echo passed || echo FAILED)"
((status_a == 0 && status_b == 0))
