//! The client libraries behind Home Assistant (paho-mqtt, Python) and zigbee2mqtt (MQTT.js,
//! Node) against our broker over loopback. Each library runs a script in `tests/interop/`
//! that prints one line per check and `ALL OK` at the end; `scripts/test.sh` installs the
//! libraries. Each script is bounded by `timeout`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{peer_available, Server};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Runs `program script port` and asserts every check passed.
fn run_checks(program: &str, script: &str) {
    let server = Server::start();
    let out = Command::new("timeout")
        .arg("90")
        .arg(program)
        .arg(interop_dir().join(script))
        .arg(server.port())
        .current_dir(interop_dir())
        .output()
        .expect("run the interop script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().last() == Some("ALL OK"),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{stdout}");
}

/// paho-mqtt, 3.1.1 and 5.0: QoS 0/1/2, retained and its deletion, will on an abrupt close,
/// persistent session resume, shared subscriptions, v5 user properties, response topic and
/// correlation data.
#[test]
fn paho_mqtt_home_assistant_library() {
    if !peer_available(
        "paho-mqtt",
        Command::new("python3").args(["-c", "import paho.mqtt.client"]),
    ) {
        return;
    }
    run_checks("python3", "paho_check.py");
}

/// MQTT.js, 3.1.1 and 5.0, in zigbee2mqtt's pattern: retained `bridge/state` with a retained
/// will of "offline", `#` subscriptions, QoS 1 device messages, an observer that sees the
/// state flip when the bridge dies.
#[test]
fn mqtt_js_zigbee2mqtt_library() {
    let module = interop_dir().join("node_modules/mqtt/package.json");
    if !peer_available("MQTT.js", Command::new("test").arg("-f").arg(&module)) {
        return;
    }
    run_checks("node", "mqttjs_check.mjs");
}
