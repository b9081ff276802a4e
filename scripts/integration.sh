#!/usr/bin/env bash
# make integration: the guest suites, as four pytest runs side by side:
#   fleet-f  the modules that share fleet.py's site.yml fleet f (PPPSSH_FLEET=f), one after another
#   fleet-g  the same for fleet g: the session suite, the longest, alone on its own fleet; then, in the
#            same pytest run, the modules of own_g below (static clients, several links per client),
#            which boot guests of their own (fleet g ends about 7 min before the other lanes: room for them)
#   own-a    the modules that boot guests of their own, listed in own_a below
#   own-b    every other module that boots guests of its own
# The own modules are split in two lanes by their measured times (CI at 278579c, seconds:
# firewall 1780, site_playbook 880, platforms 820, dualstack 620, tunnel_module 600,
# observability 530), not by xdist: its loadfile scheduling left one worker idle for 10 min.
# No guest name or address is ever booted twice: each fleet has its own, and each other module
# its own range (see their docstrings). (xdist's loadgroup would do this in one run, but its
# groups are ignored with pytest 9.2: tests of one group were spread over both workers.)
# Logs: tests/output/integration-{fleet-f,fleet-g,own-a,own-b}.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bin=${PPPSSH_VENV:-$PWD/.venv}/bin
out=tests/output
mkdir -p "$out"

fleet_g=(test_sessions.py)
own_g=(test_static_clients.py test_multilink.py)
own_a=(test_firewall.py test_platforms.py)
fleet_modules=()
for path in tests/integration/test_*.py; do
    grep -q "^pytest_plugins = \['fleet'\]" "$path" && fleet_modules+=("${path##*/}")
done
run_f=() run_g=() run_a=() run_b=()
for path in tests/integration/test_*.py; do
    name=${path##*/}
    if [[ " ${fleet_g[*]} ${own_g[*]} " == *" $name "* ]]; then
        run_g+=("$path")
    elif [[ " ${fleet_modules[*]} " == *" $name "* ]]; then
        run_f+=("$path")
    elif [[ " ${own_a[*]} " == *" $name "* ]]; then
        run_a+=("$path")
    else
        run_b+=("$path")
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
((${#run_a[@]})) && run own-a "${pytest[@]}" "${run_a[@]}"
((${#run_b[@]})) && run own-b "${pytest[@]}" "${run_b[@]}"

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
