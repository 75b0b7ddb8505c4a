//! The load generator behind `cargo run --release -p benches --bin loadgen`: MQTT load over
//! loopback against any broker, and a `compare` mode that runs the same scenarios against our
//! broker, Mosquitto and rumqttd side by side.
//!
//! - [`wire`]: raw MQTT 3.1.1 connections on our codec (batched writes, 64 KiB reads).
//! - [`scenario`]: the scenarios (fan-in, fan-out, QoS 1/2 windows, wildcard, idle
//!   connections, retained storm, latency at a fixed rate).
//! - [`procfs`]: the broker's CPU, memory and system calls from `/proc`.
//! - [`report`]: one run's figures, as text or JSON.
//! - [`compare`]: starting the brokers, alternating runs, medians and ratios.

pub mod compare;
pub mod procfs;
pub mod report;
pub mod scenario;
pub mod wire;

use std::net::SocketAddr;
use std::time::Duration;

/// The scenarios the generator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioKind {
    /// `--publishers` (4) publishers -> 1 subscriber, QoS 0.
    FanIn,
    /// 1 publisher -> `--subscribers` (16) subscribers of the same topic, QoS 0.
    FanOut,
    /// 1 publisher -> 1 subscriber, QoS 1, at most `--window` (100) unacknowledged.
    Qos1,
    /// 1 publisher -> 1 subscriber, QoS 2, at most `--window` (100) unfinished.
    Qos2,
    /// `--subscribers` (1,000) subscribers of `site/{i}/+/temp` and 12 of `site/#`; one
    /// publisher cycles over `--topics` (1,000) topics `site/{i}/room/temp`.
    Wildcard,
    /// `--connections` (10,000) idle connections: connect rate, broker memory per
    /// connection, then a PINGREQ on each.
    Idle,
    /// `--retained` (100,000) retained topics, then one `#` subscriber receives them all.
    Retained,
    /// 1 publisher -> 1 subscriber at `--rate` (10,000) messages/s, QoS 0: latency.
    Latency,
}

impl ScenarioKind {
    /// Every scenario, in the order `compare` runs them.
    pub const ALL: [Self; 8] = [
        Self::FanIn,
        Self::FanOut,
        Self::Qos1,
        Self::Qos2,
        Self::Wildcard,
        Self::Idle,
        Self::Retained,
        Self::Latency,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::FanIn => "fan-in",
            Self::FanOut => "fan-out",
            Self::Qos1 => "qos1",
            Self::Qos2 => "qos2",
            Self::Wildcard => "wildcard",
            Self::Idle => "idle",
            Self::Retained => "retained",
            Self::Latency => "latency",
        }
    }
}

/// The knobs of the scenarios; each scenario reads the ones it needs.
#[derive(Debug, Clone, clap::Args)]
pub struct Params {
    /// Seconds each throughput scenario publishes for (it also stops at --messages).
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Messages each publisher sends at most.
    #[arg(long, default_value_t = 5_000_000)]
    pub messages: u64,
    /// Payload bytes per message (at least 8: the send time travels in the payload).
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Publishers in fan-in.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// Subscribers in fan-out (16) and wildcard (1,000 plus 12 on `site/#`); the default
    /// depends on the scenario.
    #[arg(long)]
    pub subscribers: Option<usize>,
    /// Distinct topics the wildcard publisher cycles over.
    #[arg(long, default_value_t = 1000)]
    pub topics: usize,
    /// QoS 1/2 publisher window: messages not yet acknowledged (completed, for QoS 2).
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// How many deliveries the publishers may be ahead of the subscribers before they wait:
    /// bounds what a broker has to queue, so no broker drops QoS 0 for lack of room.
    #[arg(long, default_value_t = 20_000)]
    pub ahead: u64,
    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Connections opened at once in the idle scenario: below every broker's listen backlog
    /// (Mosquitto's is 100), so the rate measures the broker, not SYNs dropped and retried
    /// a second later.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Retained topics in the retained storm.
    #[arg(long, default_value_t = 100_000)]
    pub retained: usize,
    /// Messages per second in the latency scenario.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Seconds to wait for the last deliveries once publishing stopped.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
}

impl Default for Params {
    /// The command line's defaults.
    fn default() -> Self {
        let command = <Self as clap::Args>::augment_args(clap::Command::new("params"));
        let matches = command.get_matches_from(["params"]);
        <Self as clap::FromArgMatches>::from_arg_matches(&matches).expect("the defaults parse")
    }
}

impl Params {
    /// How long publishing lasts.
    pub fn publish_for(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.0))
    }

    /// How long to wait for the last deliveries.
    pub fn drain_for(&self) -> Duration {
        Duration::from_secs_f64(self.drain.max(0.0))
    }
}

/// The broker under load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it listens (loopback in every test and in `compare`).
    pub addr: SocketAddr,
    /// Its process, for CPU, memory and system calls from `/proc`.
    pub pid: Option<u32>,
    /// Its name in reports.
    pub label: String,
}
