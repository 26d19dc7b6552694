#!/usr/bin/env bash
# Runs make targets as the stages of `make test` (and `make test-fast`), then tests/report.py's summary.
#
#   bash tests/stages.sh ARTIFACTS STAGE...
#
# A STAGE is a make target, or targets joined with "+" that run side by side (`molecule+test-ui`):
# the first one's output shows as it comes, the others' go to ARTIFACTS/<target>.log and are shown
# when the stage ends. Every stage runs even when one before it failed. Each target's wall time and
# /proc/stat's cpu line before and after it (how busy the cores were, and the time a virtual
# machine's host took from them) go to ARTIFACTS/stages.tsv, with the stage it ran in.
set -uo pipefail
artifacts="$1"; shift
mkdir -p "$artifacts"
rm -f "$artifacts"/junit-*.xml "$artifacts/stages.tsv"

# One target: its line in stages.tsv; its exit status is the function's.
run_target() {
  local target="$1" stage="$2" started cpu result rc=0
  started=$(date +%s) cpu=$(head -1 /proc/stat)
  make --no-print-directory "$target" || rc=$?
  if [ "$rc" -eq 0 ]; then result=passed; else result=failed; echo "=== make $target FAILED"; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$(( $(date +%s) - started ))" "$result" "$cpu" \
    "$(head -1 /proc/stat)" "$stage" >> "$artifacts/stages.tsv"
  return "$rc"
}

rc=0
for stage in "$@"; do
  IFS=+ read -r -a targets <<< "$stage"
  if [ "${#targets[@]}" -eq 1 ]; then
    echo "=== make $stage"
  else
    echo "=== make ${targets[*]} (side by side; the output of ${targets[*]:1} follows when each ends)"
  fi
  pids=()
  for target in "${targets[@]:1}"; do
    run_target "$target" "$stage" > "$artifacts/$target.log" 2>&1 &
    pids+=("$!")
  done
  run_target "${targets[0]}" "$stage" || rc=1
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || rc=1
    echo "=== make ${targets[$((i + 1))]} (its output, from $artifacts/${targets[$((i + 1))]}.log)"
    cat "$artifacts/${targets[$((i + 1))]}.log"
  done
done
"${PY:-python3}" "$(dirname "$0")/report.py" "$artifacts"
exit "$rc"
