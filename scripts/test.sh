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
export RVISOR_BIN="$PWD/target/release/rvisor"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast
else
  cargo test --release --workspace --no-fail-fast
fi
