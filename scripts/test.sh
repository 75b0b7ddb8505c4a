#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# Test peers that later tests need (Mosquitto and its clients, paho-mqtt, MQTT.js) are
# installed here, idempotently, before `cargo test --workspace` runs; until the interop
# tests exist there is nothing to install, so this stays a thin wrapper.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace "$@"
