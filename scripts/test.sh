#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# Test peers that later tests need (Mosquitto and its clients, paho-mqtt, MQTT.js) are
# installed here, idempotently, before `cargo test --workspace` runs; until the interop
# tests exist there is nothing to install, so this stays a thin wrapper.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole run: cargo prints one "test result" per test binary, and
# the last of them (an empty doc-test run) would otherwise read as "no tests ran".
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
