#!/usr/bin/env bash
# make integration: the guest suites, as three pytest runs side by side:
#   fleet-f  the modules that share fleet.py's site.yml fleet f (PPPSSH_FLEET=f), one after another
#   fleet-g  the same for fleet g: the session suite, the longest, alone on its own fleet
#   own      every module that boots guests of its own, PPPSSH_TEST_WORKERS workers (default 2),
#            each module whole on one worker (pytest-xdist --dist loadfile)
# No guest name or address is ever booted twice: each fleet has its own, and each other module
# its own range (see their docstrings). (xdist's loadgroup would do this in one run, but its
# groups are ignored with pytest 9.2: tests of one group were spread over both workers.)
# Logs: tests/output/integration-{fleet-f,fleet-g,own}.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bin=${PPPSSH_VENV:-$PWD/.venv}/bin
workers=${PPPSSH_TEST_WORKERS:-2}
out=tests/output
mkdir -p "$out"

fleet_g=(test_sessions.py)
fleet_modules=()
for path in tests/integration/test_*.py; do
    grep -q "^pytest_plugins = \['fleet'\]" "$path" && fleet_modules+=("${path##*/}")
done
run_f=() run_g=() run_own=()
for path in tests/integration/test_*.py; do
    name=${path##*/}
    if [[ " ${fleet_g[*]} " == *" $name "* ]]; then
        run_g+=("$path")
    elif [[ " ${fleet_modules[*]} " == *" $name "* ]]; then
        run_f+=("$path")
    else
        run_own+=("$path")
    fi
done

labels=() pids=()
run() {
    local label=$1
    shift
    echo "integration: $label: $*"
    "$@" >"$out/integration-$label.log" 2>&1 &
    labels+=("$label")
    pids+=($!)
}
pytest=("$bin/pytest" -v -p no:cacheprovider --durations=25)
((${#run_f[@]})) && run fleet-f env PPPSSH_FLEET=f "${pytest[@]}" "${run_f[@]}"
((${#run_g[@]})) && run fleet-g env PPPSSH_FLEET=g "${pytest[@]}" "${run_g[@]}"
((${#run_own[@]})) && run own "${pytest[@]}" -n "$workers" --dist loadfile "${run_own[@]}"

status=0 summary=()
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        summary+=("${labels[$i]} passed")
    else
        summary+=("${labels[$i]} FAILED")
        status=1
    fi
done
rig/rig down
for label in "${labels[@]}"; do
    echo "==== integration $label: $out/integration-$label.log"
    cat "$out/integration-$label.log"
done
joined=$(printf '%s, ' "${summary[@]}")
echo "integration: ${joined%, }"
exit "$status"
