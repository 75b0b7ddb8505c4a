#!/usr/bin/env bash
# Instructions per decode for our codec and rumqttc's, counted by callgrind.
# Usage: benches/callgrind.sh [N]   (needs valgrind; N defaults to 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
cargo build --profile bench -p benches --example decode_loop >/dev/null 2>&1
bin=target/release/examples/decode_loop
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$n" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-11s %12s %12s %8s\n' packet mqtt-codec rumqttc ratio
for packet in publish16 publish1k publish64k connect subscribe; do
  base=$(count setup-only "$packet")
  ours=$(( ($(count mqtt-codec "$packet") - base) / n ))
  peer=$(( ($(count rumqttc "$packet") - base) / n ))
  printf '%-11s %12s %12s %8s\n' "$packet" "$ours" "$peer" "$(awk "BEGIN{printf \"%.1fx\", $peer/$ours}")"
done
