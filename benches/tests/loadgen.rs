//! Every loadgen scenario, scaled down to a fraction of a second, against our broker on a
//! free loopback port (in this process, so `--pid` readings are of this process): the
//! generator counts right and stops by itself. The load itself is `loadgen compare`'s job.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use benches::loadgen::report::Report;
use benches::loadgen::{scenario, Params, ScenarioKind, Target};
use mqtt_broker_core::Config;

/// Our broker on 127.0.0.1 port 0, served until the returned sender is dropped.
async fn broker() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut config = Config::default();
    config.sys_interval = None;
    tokio::spawn(examples::broker::serve(listener, config, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Scaled down; publishers at most 500 deliveries ahead, within the default queue limit
/// (1,000), so no QoS 0 message may be dropped.
fn small() -> Params {
    Params {
        ahead: 500,
        duration: 0.3,
        drain: 2.0,
        subscribers: None,
        connections: 300,
        connect_concurrency: 50,
        retained: 2_000,
        topics: 50,
        rate: 2_000,
        ..Params::default()
    }
}

async fn run(kind: ScenarioKind, params: Params) -> Report {
    let (addr, _stop) = broker().await;
    let target = Target {
        addr,
        pid: Some(std::process::id()),
        label: "ours".to_owned(),
    };
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        scenario::run(kind, &params, &target),
    )
    .await
    .expect("the scenario stops by itself")
    .expect("the scenario runs");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(report.scenario, kind.name());
    report
}

/// A flow delivers everything it published, at the expected fan-out, with latencies.
async fn check_flow(kind: ScenarioKind, params: Params, fan_out: u64) {
    let report = run(kind, params).await;
    assert!(report.published > 0, "{report}");
    assert_eq!(report.expected, report.published * fan_out, "{report}");
    assert_eq!(report.delivered, report.expected, "nothing lost: {report}");
    assert!(report.deliveries_per_second > 0.0, "{report}");
    assert!(report.latency.is_some(), "{report}");
    let usage = report.broker_usage.expect("readings of this process");
    assert!(usage.peak_rss_bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_delivers_every_publisher_s_messages() {
    check_flow(ScenarioKind::FanIn, small(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_counts_each_subscriber_s_copy() {
    check_flow(ScenarioKind::FanOut, small(), 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_completes_every_message_in_its_window() {
    let params = Params {
        window: 10,
        ..small()
    };
    check_flow(ScenarioKind::Qos1, params, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos2_completes_every_message_in_its_window() {
    check_flow(ScenarioKind::Qos2, small(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_reaches_one_site_and_every_hash_subscriber() {
    // 50 topics over 50 sites: each message reaches its site and the 12 `site/#`.
    let params = Params {
        subscribers: Some(50),
        ..small()
    };
    check_flow(ScenarioKind::Wildcard, params, 13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_holds_the_rate() {
    let report = run(ScenarioKind::Latency, small()).await;
    // 2,000 messages/s for 0.3 s.
    assert!(
        (400..=800).contains(&report.published),
        "paced to the rate: {report}"
    );
    assert_eq!(report.delivered, report.published);
    assert!(report.latency.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_all_held_and_answer_a_ping() {
    let report = run(ScenarioKind::Idle, small()).await;
    assert_eq!((report.connections, report.errors), (300, 0), "{report}");
    assert!(report.connects_per_second > 0.0);
    assert!(report.rss_per_connection.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_storm_hands_out_every_retained_message() {
    let report = run(ScenarioKind::Retained, small()).await;
    assert_eq!(
        (report.expected, report.delivered),
        (2_000, 2_000),
        "{report}"
    );
}

#[test]
fn the_defaults_are_the_issue_s_scenarios() {
    let params = Params::default();
    assert_eq!(
        (
            params.publishers,
            params.window,
            params.connections,
            params.retained,
            params.rate,
            params.payload
        ),
        (4, 100, 10_000, 100_000, 10_000, 64)
    );
}
