#!/usr/bin/env bash
# The project's test command: installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static and strace for the busybox and CLI tests; then the Debian programs the
# workload tests (tests/tests/workloads_*.rs) run natively and sandboxed; then the container
# engines the OCI tests (tests/tests/engines.rs) drive.
need=()
for pkg in busybox-static strace \
    bash coreutils findutils grep sed mawk tar gzip xz-utils diffutils util-linux libc-bin \
    python3 python3-venv perl sqlite3 gcc libc6-dev git curl nginx \
    runc podman containerd docker.io; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --workspace --all-targets
export RVISOR_BIN="$PWD/target/x86_64-unknown-linux-gnu/release/rvisor"
# Every test once on the default platform (systrap where the CPU has rdtscp), then every
# sandbox test again on ptrace, the fallback (RVISOR_PLATFORM is the default of rvisor's
# --platform for do, create and run; tests/src/lib.rs passes it through, and the engines in
# engines.rs hand it on). Left out of the second run: the unit tests of the other crates (no
# sandbox) and tests/systrap*.rs (name their platform themselves). The OCI and engine tests
# add about 25 s to it.
status=0
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast || status=1
  RVISOR_PLATFORM=ptrace cargo nextest run --release --workspace --no-fail-fast \
    -E 'package(rvisor-tests) & !binary(/^systrap/)' || status=1
else
  cargo test --release --workspace --no-fail-fast || status=1
  RVISOR_PLATFORM=ptrace cargo test --release -p rvisor-tests --no-fail-fast --tests || status=1
fi
exit $status
