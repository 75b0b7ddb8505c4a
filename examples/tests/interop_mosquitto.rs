//! Mosquitto's own clients (`mosquitto_pub`, `mosquitto_sub`, Debian's package, installed by
//! `scripts/test.sh`) against our broker over loopback: QoS 0/1/2, retained, will,
//! persistent session resume, v5 properties. Every command is bounded (`timeout`, `-W`).
//!
//! Without the clients installed these tests say so and pass, except under `CI`, where the
//! script has installed them and a missing client is a failure.

mod support;

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{peer_available, Server};

fn have_clients() -> bool {
    peer_available(
        "mosquitto_sub",
        Command::new("sh").args(["-c", "command -v mosquitto_sub"]),
    )
}

/// Runs a Mosquitto client to completion, at most 15 s.
fn run(tool: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("15")
        .arg(tool)
        .args(args)
        .output()
        .expect("run a mosquitto client")
}

/// Starts a Mosquitto client in the background (bounded by `timeout` too).
fn spawn(tool: &str, args: &[&str]) -> Child {
    Command::new("timeout")
        .arg("15")
        .arg(tool)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a mosquitto client")
}

/// Publishes with `pub_args` every 200 ms until `sub` (started with `-C 1`) has its
/// message and exits, so the test does not depend on when the subscription is in place.
/// Returns what the subscriber printed.
fn publish_until_received(server: &Server, mut sub: Child, pub_args: &[&str]) -> String {
    let port = server.port();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if sub.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the subscriber got nothing");
        let mut args = vec!["-p", &port];
        args.extend_from_slice(pub_args);
        let out = run("mosquitto_pub", &args);
        assert!(out.status.success(), "mosquitto_pub failed: {out:?}");
        thread::sleep(Duration::from_millis(200));
    }
    let out = sub.wait_with_output().unwrap();
    assert!(out.status.success(), "mosquitto_sub failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn mosquitto_clients_exchange_messages_at_qos_0_1_2() {
    if !have_clients() {
        return;
    }
    let server = Server::start();
    let port = server.port();
    for qos in ["0", "1", "2"] {
        for version in ["mqttv311", "mqttv5"] {
            let topic = format!("interop/qos{qos}/{version}");
            let sub = spawn(
                "mosquitto_sub",
                &[
                    "-p", &port, "-V", version, "-t", &topic, "-q", qos, "-C", "1", "-W", "10",
                    "-F", "%q %p",
                ],
            );
            let payload = format!("hello at {qos}");
            let printed = publish_until_received(
                &server,
                sub,
                &["-V", version, "-t", &topic, "-q", qos, "-m", &payload],
            );
            // Delivered at min(published, granted) = qos [MQTT-3.8.4-6].
            assert_eq!(
                printed,
                format!("{qos} {payload}\n"),
                "QoS {qos}, {version}"
            );
        }
    }
}

#[test]
fn mosquitto_retained_message_reaches_a_later_subscriber() {
    if !have_clients() {
        return;
    }
    let server = Server::start();
    let port = server.port();
    let out = run(
        "mosquitto_pub",
        &[
            "-p",
            &port,
            "-t",
            "interop/state",
            "-m",
            "online",
            "-r",
            "-q",
            "1",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    // Retained, sent with RETAIN 1 to a new subscription [MQTT-3.3.1-8].
    let out = run(
        "mosquitto_sub",
        &[
            "-p",
            &port,
            "-t",
            "interop/#",
            "-C",
            "1",
            "-W",
            "10",
            "-F",
            "%t %p %r",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "interop/state online 1\n"
    );
    // An empty retained message deletes it [MQTT-3.3.1-10]: a new subscriber gets nothing
    // within a second.
    let out = run(
        "mosquitto_pub",
        &["-p", &port, "-t", "interop/state", "-n", "-r"],
    );
    assert!(out.status.success(), "{out:?}");
    let out = run(
        "mosquitto_sub",
        &["-p", &port, "-t", "interop/#", "-C", "1", "-W", "1"],
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn mosquitto_will_is_published_when_a_client_dies() {
    if !have_clients() {
        return;
    }
    let server = Server::start();
    let port = server.port();
    let watcher = spawn(
        "mosquitto_sub",
        &[
            "-p",
            &port,
            "-t",
            "interop/status/#",
            "-C",
            "1",
            "-W",
            "10",
            "-F",
            "%t %p",
        ],
    );
    // Started directly (not under `timeout`), so that killing it kills the client itself.
    let mut victim = Command::new("mosquitto_sub")
        .args([
            "-p",
            &port,
            "-t",
            "interop/none",
            "--will-topic",
            "interop/status/victim",
        ])
        .args(["--will-payload", "offline"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto_sub");
    // Both connected and subscribed, then the victim dies without DISCONNECT: its will goes
    // [MQTT-3.1.2-8].
    thread::sleep(Duration::from_millis(700));
    victim.kill().unwrap();
    let _ = victim.wait();
    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "interop/status/victim offline\n"
    );
}

#[test]
fn mosquitto_persistent_session_gets_what_was_queued_while_offline() {
    if !have_clients() {
        return;
    }
    let server = Server::start();
    let port = server.port();
    for version in ["mqttv311", "mqttv5"] {
        let id = format!("interop-session-{version}");
        let topic = format!("interop/queued/{version}");
        let mut session = vec![
            "-p", &port, "-V", version, "-c", "-i", &id, "-q", "1", "-t", &topic,
        ];
        if version == "mqttv5" {
            session.extend_from_slice(&["-x", "600"]);
        }
        // Subscribe with a persistent session, then leave (-E: exit once subscribed).
        let mut first = session.clone();
        first.push("-E");
        let out = run("mosquitto_sub", &first);
        assert!(out.status.success(), "{out:?}");
        let out = run(
            "mosquitto_pub",
            &[
                "-p",
                &port,
                "-V",
                version,
                "-t",
                &topic,
                "-m",
                "while away",
                "-q",
                "1",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        // Back with the same client id and clean session 0: the queued message arrives
        // [MQTT-3.1.2-4], [MQTT-4.4.0-1].
        let mut back = session.clone();
        back.extend_from_slice(&["-C", "1", "-W", "10"]);
        let out = run("mosquitto_sub", &back);
        assert!(out.status.success(), "{version}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "while away\n",
            "{version}"
        );
    }
}

#[test]
fn mosquitto_v5_properties_pass_through() {
    if !have_clients() {
        return;
    }
    let server = Server::start();
    let port = server.port();
    let sub = spawn(
        "mosquitto_sub",
        &[
            "-p",
            &port,
            "-V",
            "mqttv5",
            "-t",
            "interop/req",
            "-C",
            "1",
            "-W",
            "10",
            "-F",
            "%p|%P|%R|%C",
        ],
    );
    // User property, response topic and content type forwarded unaltered [MQTT-3.3.2-4].
    let printed = publish_until_received(
        &server,
        sub,
        &[
            "-V",
            "mqttv5",
            "-t",
            "interop/req",
            "-m",
            "ping",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "trace",
            "42",
            "-D",
            "publish",
            "response-topic",
            "interop/reply",
            "-D",
            "publish",
            "content-type",
            "text/plain",
        ],
    );
    assert_eq!(printed, "ping|trace:42|interop/reply|text/plain\n");
}
