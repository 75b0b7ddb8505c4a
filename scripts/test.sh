#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# Test peers the interop tests need are installed here first, idempotently (nothing is
# installed when they are present): Mosquitto and its clients from Debian's packages,
# paho-mqtt from PyPI, MQTT.js from npm (into examples/tests/interop, pinned by its
# package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

install_debian_packages() {
    local missing=()
    command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
    command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
            echo "test.sh: ${missing[*]} missing and no root to install them" >&2
            return 1
        fi
        local as_root=()
        [ "$(id -u)" -ne 0 ] && as_root=(sudo)
        echo "test.sh: installing ${missing[*]}" >&2
        "${as_root[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
install_debian_packages

if ! python3 -c 'import paho.mqtt.client' >/dev/null 2>&1; then
    echo "test.sh: installing paho-mqtt" >&2
    python3 -m pip install --quiet --disable-pip-version-check paho-mqtt
fi

if [ ! -f examples/tests/interop/node_modules/mqtt/package.json ]; then
    echo "test.sh: installing MQTT.js" >&2
    (cd examples/tests/interop && npm install --no-audit --no-fund --silent)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole run: cargo prints one "test result" per test binary, and
# the last of them (an empty doc-test run) would otherwise read as "no tests ran".
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
