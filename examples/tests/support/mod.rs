//! What the interop tests share: our broker on a free loopback port, and the check that a
//! test peer is installed.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener as StdListener;
use std::process::{Command, Stdio};
use std::thread;

use examples::broker::serve;
use mqtt_broker_core::Config;
use tokio::sync::oneshot;

/// A broker of ours on a free loopback port, in a thread with its own runtime.
pub struct Server {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// On `port` (0: any free one).
    pub fn start_on(port: u16) -> Self {
        let listener = StdListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let mut config = Config::default();
                config.sys_interval = None;
                serve(listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> String {
        self.port.to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether the peer `name` is installed (`probe` succeeds). Without it the test says so and
/// passes, except under `CI`, where `scripts/test.sh` has installed every peer and a missing
/// one is a failure.
pub fn peer_available(name: &str, probe: &mut Command) -> bool {
    let found = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is missing: scripts/test.sh installs it"
        );
        eprintln!("skipped: {name} is not installed (scripts/test.sh installs it)");
    }
    found
}
