#!/usr/bin/env bash
# Nightly syscall fuzzing: at least a million random syscalls from several
# threads inside the sandbox (tests/fuzz/syscall_fuzz.c). Fails if the
# sentry panics, hangs, is killed by its own seccomp filter, loses init's
# exit status, or a run ends without the compatibility report (the sentry
# did not shut down in order).
#
# Usage: scripts/nightly-fuzz.sh [TARGET_CALLS [CALLS_PER_RUN [THREADS]]]
# Runs seeds one after another until TARGET_CALLS (default 1000000) calls
# were issued by runs that finished, in runs of CALLS_PER_RUN (default
# 100000, about a quarter of which are skipped numbers) with THREADS threads
# (default 4); at most MAX_RUNS runs (default 60). FIRST_SEED picks the seeds
# (default: the date), so a failing night can be replayed.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-1000000}
per_run=${2:-100000}
threads=${3:-4}
first_seed=${FIRST_SEED:-$(date +%Y%m%d)}
timeout_s=${RUN_TIMEOUT:-900}
# Random fallocate/ftruncate calls may fill tmpfs: the limit keeps that the sandbox's problem.
limits=(--memory "${FUZZ_MEMORY:-1G}" --pids 1024)

cargo build --release -p rvisor-cli
rvisor="$PWD/target/x86_64-unknown-linux-gnu/release/rvisor"
work=$(mktemp -d /tmp/rvisor-nightly-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -static -O1 -pthread -o "$work/fuzz" tests/fuzz/syscall_fuzz.c

max_runs=${MAX_RUNS:-60}
issued=0 failures=0 self_ended=0 runs=0
start=$(date +%s)
while [ "$issued" -lt "$target" ] && [ "$runs" -lt "$max_runs" ]; do
  seed=$((first_seed + runs))
  runs=$((runs + 1))
  set +e
  (cd / && timeout "$timeout_s" "$rvisor" do --compat-report "${limits[@]}" -- "$work/fuzz" "$per_run" "$seed" "$threads") \
    > "$work/out" 2> "$work/err"
  rc=$?
  set -e
  n=$(sed -n 's/^fuzz done: \([0-9]*\) calls$/\1/p' "$work/out")
  # Runs that ended early still count the calls they reported progress for.
  p=$(sed -n 's/^progress \([0-9]*\)$/\1/p' "$work/out" | sort -n | tail -1)
  why=""
  if [ "$rc" -eq 124 ]; then why="hung (timeout ${timeout_s}s)"; fi
  if grep -q "panicked" "$work/err"; then why="sentry panicked"; fi
  if grep -q "seccomp filter" "$work/err"; then why="sentry killed by its seccomp filter"; fi
  if grep -q "without an exit status" "$work/err"; then why="sentry lost init's exit"; fi
  if [ -z "$why" ] && ! grep -q "^rvisor: compatibility report:" "$work/err" \
     && ! grep -q "reached its memory limit" "$work/err"; then why="no compatibility report"; fi
  if [ -n "$why" ]; then
    failures=$((failures + 1))
    echo "seed $seed: FAIL: $why (exit $rc)"
    tail -20 "$work/err" | sed 's/^/    /'
    continue
  fi
  if [ -z "$n" ]; then
    # The fuzzer ended itself (a random call can kill its own process) or
    # filled its memory limit: the sentry survived; count what was issued.
    self_ended=$((self_ended + 1))
    n=${p:-0}
    echo "seed $seed: the sandbox ended early (exit $rc) after $n calls"
  fi
  issued=$((issued + n))
  echo "seed $seed: $n calls, exit $rc"
done
secs=$(( $(date +%s) - start ))
echo "nightly fuzz: $issued calls completed in ${secs}s over $runs runs ($self_ended ended early, $failures failed)"
if [ "$failures" -gt 0 ]; then
  exit 1
fi
if [ "$issued" -lt "$target" ]; then
  echo "only $issued of $target calls completed within $max_runs runs"
  exit 1
fi
