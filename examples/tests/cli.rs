//! Our `pub` and `sub` programs against our broker and against a real Mosquitto broker
//! (Debian's package, installed by `scripts/test.sh`), over loopback. Every run is bounded
//! by `timeout` and `-W`.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{peer_available, Server};

/// The example binaries, built by `cargo test` beside this test's own binary.
fn program(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    deps.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("20")
        .arg(program(name))
        .args(args)
        .output()
        .expect("run the program")
}

fn spawn(name: &str, args: &[&str]) -> Child {
    Command::new("timeout")
        .arg("20")
        .arg(program(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the program")
}

/// Publishes every 200 ms until the subscriber (run with `-C 1`) exits; its output.
fn until_received(port: &str, sub: Child, pub_args: &[&str]) -> String {
    let mut sub = sub;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sub.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "sub got nothing");
        let mut args = vec!["-p", port];
        args.extend_from_slice(pub_args);
        let out = run("pub", &args);
        assert!(out.status.success(), "pub failed: {out:?}");
        thread::sleep(Duration::from_millis(200));
    }
    let out = sub.wait_with_output().unwrap();
    assert!(out.status.success(), "sub failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn exchange_at_every_qos(port: &str) {
    for qos in ["0", "1", "2"] {
        for version in ["mqttv311", "mqttv5"] {
            let topic = format!("cli/{qos}/{version}");
            let sub = spawn(
                "sub",
                &[
                    "-p", port, "-V", version, "-t", &topic, "-q", qos, "-C", "1", "-W", "10", "-v",
                ],
            );
            let printed = until_received(
                port,
                sub,
                &["-V", version, "-t", &topic, "-q", qos, "-m", "hello"],
            );
            assert_eq!(printed, format!("{topic} hello\n"), "QoS {qos} {version}");
        }
    }
}

#[test]
fn pub_and_sub_against_our_broker() {
    let server = Server::start();
    let port = server.port();
    exchange_at_every_qos(&port);

    // --json with v5 properties; retained message delivered to a late subscriber.
    let out = run(
        "pub",
        &[
            "-p",
            &port,
            "-V",
            "mqttv5",
            "-t",
            "cli/json",
            "-m",
            "21.5",
            "-q",
            "1",
            "-r",
            "-D",
            "publish",
            "user-property",
            "unit",
            "C",
            "-D",
            "publish",
            "response-topic",
            "cli/reply",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = run(
        "sub",
        &[
            "-p", &port, "-V", "mqttv5", "-t", "cli/json", "-C", "1", "-W", "10", "--json",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["topic"], "cli/json");
    assert_eq!(json["payload"], "21.5");
    assert_eq!(json["retain"], true);
    assert_eq!(
        json["properties"]["user_properties"],
        serde_json::json!([["unit", "C"]])
    );
    assert_eq!(json["properties"]["response_topic"], "cli/reply");

    // -F format and -N.
    let out = run(
        "sub",
        &[
            "-p",
            &port,
            "-t",
            "cli/json",
            "-C",
            "1",
            "-W",
            "10",
            "-F",
            "%t|%p|%q|%r|%l",
            "-N",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cli/json|21.5|0|1|4");

    // -W: timeout exit code 27, as mosquitto_sub.
    let out = run("sub", &["-p", &port, "-t", "cli/nothing", "-W", "1"]);
    assert_eq!(out.status.code(), Some(27), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Timed out"));

    // -n deletes the retained message: --retained-only then prints nothing and exits at the
    // first live message... here simply: a late subscriber gets nothing within a second.
    let out = run("pub", &["-p", &port, "-t", "cli/json", "-n", "-r"]);
    assert!(out.status.success(), "{out:?}");
    let out = run("sub", &["-p", &port, "-t", "cli/json", "-W", "1"]);
    assert!(out.stdout.is_empty(), "{out:?}");

    // -T hides what a filter matches (the broker's matching rules).
    let mut sub = spawn(
        "sub",
        &[
            "-p",
            &port,
            "-t",
            "cli/t/#",
            "-T",
            "cli/t/+/skip",
            "-C",
            "1",
            "-W",
            "10",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while sub.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "sub got nothing");
        for (topic, text) in [("cli/t/a/skip", "hidden"), ("cli/t/a/keep", "shown")] {
            assert!(run("pub", &["-p", &port, "-t", topic, "-m", text])
                .status
                .success());
        }
        thread::sleep(Duration::from_millis(200));
    }
    let out = sub.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "shown\n");

    // -l: one message per line of standard input.
    let sub = spawn(
        "sub",
        &["-p", &port, "-t", "cli/lines", "-C", "3", "-W", "10"],
    );
    thread::sleep(Duration::from_millis(500));
    let mut publisher = Command::new("timeout")
        .arg("20")
        .arg(program("pub"))
        .args(["-p", &port, "-t", "cli/lines", "-l", "-q", "1"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    publisher
        .stdin
        .take()
        .unwrap()
        .write_all(b"a\nb\nc\n")
        .unwrap();
    assert!(publisher.wait().unwrap().success());
    let out = sub.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\nc\n");
}

#[test]
fn connection_refused_is_reported_like_mosquitto() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = run("pub", &["-p", &port, "-t", "x", "-m", "y"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Connection refused"),
        "{out:?}"
    );
    let out = run("pub", &["-p", &port, "-t", "x"]);
    assert_eq!(out.status.code(), Some(1), "no message given");
}

#[test]
fn pub_and_sub_against_a_real_mosquitto_broker() {
    if !peer_available(
        "mosquitto",
        Command::new("sh").args(["-c", "command -v mosquitto"]),
    ) {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Started directly (not under `timeout`), so that killing it stops the broker itself.
    let _broker = KillOnDrop(
        Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        thread::sleep(Duration::from_millis(50));
    }
    exchange_at_every_qos(&port.to_string());
}

/// Stops a child process when the test ends, passed or failed.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Bad flags are refused before connecting, with exit code 1 and a message saying what is
/// wrong (against a port nobody listens on, so a connection attempt would say "Connection
/// refused" instead).
#[test]
fn bad_flags_are_refused_before_connecting() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    for (program, args, says) in [
        (
            "pub",
            vec!["-t", "x", "-m", "y", "-q", "3"],
            "invalid QoS 3",
        ),
        (
            "pub",
            vec!["-t", "x", "-m", "y", "-V", "mqttv9"],
            "unknown protocol version",
        ),
        ("pub", vec!["-t", "a/+", "-m", "y"], "invalid publish topic"),
        (
            "pub",
            vec!["-t", "x", "-m", "y", "-D", "publish", "bogus", "1"],
            "unsupported property",
        ),
        (
            "pub",
            vec!["-t", "x", "-m", "y", "-L", "http://h/t"],
            "only mqtt://",
        ),
        ("sub", vec!["-t", "a/#/b"], "invalid subscription topic"),
        ("sub", vec!["-t", "$share//a"], "invalid subscription topic"),
        ("sub", vec!["-t", "a", "-q", "7"], "invalid QoS 7"),
    ] {
        let mut all = vec!["-p", port.as_str()];
        all.extend(args.iter().copied());
        let out = run(program, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{program} {args:?}: {stderr}");
        assert!(stderr.contains(says), "{program} {args:?}: {stderr}");
    }
}
