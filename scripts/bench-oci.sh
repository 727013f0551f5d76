#!/usr/bin/env bash
# `rvisor run` against `runc run` of the same busybox bundle running /bin/true,
# alternating, N runs each; prints the medians and their ratio.
# Needs root, runc and busybox-static. Usage: scripts/bench-oci.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-30}
rvisor=${RVISOR_BIN:-$PWD/target/x86_64-unknown-linux-gnu/release/rvisor}
work=$(mktemp -d /tmp/rvisor-bench-oci.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/b/rootfs/bin"
cp /bin/busybox "$work/b/rootfs/bin/busybox"
ln -s busybox "$work/b/rootfs/bin/true"
"$rvisor" spec --bundle "$work/b"
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' "$work/b/config.json"
grep -q '"/bin/true"' "$work/b/config.json"
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in $(seq "$n"); do
  ms "$rvisor" --root "$work/rv" run --bundle "$work/b" "r$i" >>"$work/rv.txt"
  ms runc --root "$work/runc" run --bundle "$work/b" "c$i" >>"$work/runc.txt"
done
r=$(median <"$work/rv.txt")
c=$(median <"$work/runc.txt")
echo "rvisor run: ${r} us (median of $n)"
echo "runc run:   ${c} us (median of $n)"
awk -v r="$r" -v c="$c" 'BEGIN {printf "ratio rvisor/runc: %.2f\n", r / c}'
