#!/usr/bin/env bash
# scripts/stage.sh NAME CMD...: run one stage of make test / make setup and, when
# PPPSSH_STAGE_LOG names a file (.ci/run sets it), append "NAME<TAB>passed|FAILED<TAB>SECONDS"
# to it, so that .ci/run can print a timing table at the end even after a failure. There it
# also marks where each stage starts in the log.
set -uo pipefail
name=$1
shift
[[ -z ${PPPSSH_STAGE_LOG:-} ]] || printf '== stage %s: %s\n' "$name" "$*"
start=$(date +%s.%N)
"$@"
status=$?
if [[ -n ${PPPSSH_STAGE_LOG:-} ]]; then
    result=passed
    ((status == 0)) || result=FAILED
    printf '%s\t%s\t%s\n' "$name" "$result" \
        "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" >>"$PPPSSH_STAGE_LOG"
fi
exit "$status"
