//! `loadgen compare`: starts each broker on a free loopback port, runs each scenario against
//! each broker in turn (a fresh broker process per run, brokers alternating so a slow moment
//! of the machine does not favour one), repeats, and prints the medians with the ratios.

use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::report::Report;
use super::{scenario, Params, ScenarioKind, Target};

/// A broker `compare` can start.
#[derive(Debug, Clone)]
pub struct Contender {
    /// Its name in the tables.
    pub label: &'static str,
    /// Its executable.
    pub program: PathBuf,
    flavour: Flavour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Ours,
    Mosquitto,
    Rumqttd,
}

impl Contender {
    /// Our broker (`cargo build --release --example broker`).
    pub fn ours(program: PathBuf) -> Self {
        Self {
            label: "ours",
            program,
            flavour: Flavour::Ours,
        }
    }

    /// Another build of our broker (say, before a change), labelled `baseline`.
    pub fn baseline(program: PathBuf) -> Self {
        Self {
            label: "baseline",
            program,
            flavour: Flavour::Ours,
        }
    }

    /// Mosquitto (Debian's `mosquitto` package).
    pub fn mosquitto(program: PathBuf) -> Self {
        Self {
            label: "mosquitto",
            program,
            flavour: Flavour::Mosquitto,
        }
    }

    /// rumqttd (`cargo install rumqttd`).
    pub fn rumqttd(program: PathBuf) -> Self {
        Self {
            label: "rumqttd",
            program,
            flavour: Flavour::Rumqttd,
        }
    }

    /// The configuration file for a run on `port`: each broker's defaults, with Mosquitto's
    /// and our queue limits raised so neither drops QoS 0 under a burst, and both with 100
    /// messages in flight per client (rumqttd's default is 100 too).
    fn config(&self, port: u16) -> (String, &'static str) {
        match self.flavour {
            Flavour::Ours => (
                format!(
                    "[[listener]]\nbind = \"127.0.0.1\"\nport = {port}\n\n\
                     [limits]\nmax_queued_messages = 1000000\nmax_inflight = 100\n\n\
                     [log]\nlevel = \"warn\"\n"
                ),
                "toml",
            ),
            Flavour::Mosquitto => (
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\n\
                     max_queued_messages 1000000\nmax_inflight_messages 100\n\
                     set_tcp_nodelay true\nlog_type error\nlog_type warning\n"
                ),
                "conf",
            ),
            Flavour::Rumqttd => (
                format!(
                    "id = 0\n\n[router]\nid = 0\nmax_connections = 100000\n\
                     max_outgoing_packet_count = 200\nmax_segment_size = 104857600\n\
                     max_segment_count = 10\n\n[v4.1]\nname = \"v4-1\"\n\
                     listen = \"127.0.0.1:{port}\"\nnext_connection_delay_ms = 1\n\
                     [v4.1.connections]\nconnection_timeout_ms = 60000\n\
                     max_payload_size = 20480\nmax_inflight_count = 100\n\
                     dynamic_filters = true\n"
                ),
                "toml",
            ),
        }
    }

    fn command(&self, config: &Path) -> Command {
        let mut command = Command::new(&self.program);
        match self.flavour {
            Flavour::Ours => {
                command.arg("--config").arg(config);
            }
            Flavour::Mosquitto => {
                command.arg("-c").arg(config);
            }
            Flavour::Rumqttd => {
                command.arg("--config").arg(config).arg("--quiet");
            }
        }
        command
    }
}

/// A port the OS had free a moment ago on 127.0.0.1.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A broker process started for one run; killed when dropped.
#[derive(Debug)]
struct Running {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Running {
    fn start(contender: &Contender) -> io::Result<Self> {
        let port = free_port()?;
        let dir = TempDir::new()?;
        let (config, extension) = contender.config(port);
        let config_path = dir.0.join(format!("broker.{extension}"));
        std::fs::write(&config_path, config)?;
        let child = contender
            .command(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("cannot start {}: {err}", contender.program.display()),
                )
            })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut running = Self {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = running.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited at start: {status}",
                    contender.label
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "{} does not listen on {addr}",
                    contender.label
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(running)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("loadgen-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs every scenario of `scenarios` against every contender, `runs` times, alternating;
/// returns every report. A run that fails is reported on stderr and left out.
pub async fn run(
    contenders: &[Contender],
    scenarios: &[ScenarioKind],
    runs: usize,
    params: &Params,
) -> Vec<Report> {
    let mut reports = Vec::new();
    for &kind in scenarios {
        for round in 0..runs {
            for contender in contenders {
                match run_one(contender, kind, params).await {
                    Ok(report) => {
                        eprintln!("[{}/{runs}] {report}", round + 1);
                        reports.push(report);
                    }
                    Err(err) => eprintln!(
                        "[{}/{runs}] {} against {}: failed: {err}",
                        round + 1,
                        kind.name(),
                        contender.label
                    ),
                }
            }
        }
    }
    reports
}

async fn run_one(contender: &Contender, kind: ScenarioKind, params: &Params) -> io::Result<Report> {
    let running = Running::start(contender)?;
    let target = Target {
        addr: running.addr,
        pid: Some(running.child.id()),
        label: contender.label.to_owned(),
    };
    // Each run has a time limit well above what any scenario needs.
    let limit = Duration::from_secs_f64(params.duration + params.drain) + Duration::from_secs(120);
    let report = tokio::time::timeout(limit, scenario::run(kind, params, &target))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the run took too long"))??;
    drop(running);
    Ok(report)
}

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// One row of the table: a figure of a scenario.
struct Metric {
    name: &'static str,
    better: Better,
    value: fn(&Report) -> Option<f64>,
}

fn metrics(kind: ScenarioKind) -> Vec<Metric> {
    let throughput = Metric {
        name: "deliveries/s",
        better: Better::Higher,
        value: |r| Some(r.deliveries_per_second),
    };
    let cpu = Metric {
        name: "broker CPU µs/delivery",
        better: Better::Lower,
        value: Report::cpu_us_per_unit,
    };
    let peak = Metric {
        name: "broker peak RSS MB",
        better: Better::Lower,
        value: |r| r.broker_usage.map(|u| u.peak_rss_bytes as f64 / 1e6),
    };
    let lost = Metric {
        name: "deliveries missing",
        better: Better::Lower,
        value: |r| Some(r.expected.saturating_sub(r.delivered) as f64),
    };
    let p50 = Metric {
        name: "latency p50 µs",
        better: Better::Lower,
        value: |r| r.latency.map(|l| l.p50_us as f64),
    };
    let p99 = Metric {
        name: "latency p99 µs",
        better: Better::Lower,
        value: |r| r.latency.map(|l| l.p99_us as f64),
    };
    match kind {
        ScenarioKind::Idle => vec![
            Metric {
                name: "broker bytes/connection",
                better: Better::Lower,
                value: |r| r.rss_per_connection,
            },
            Metric {
                name: "connects/s",
                better: Better::Higher,
                value: |r| Some(r.connects_per_second),
            },
            Metric {
                name: "connections held",
                better: Better::Higher,
                value: |r| Some(r.connections as f64),
            },
            Metric {
                name: "errors",
                better: Better::Lower,
                value: |r| Some(r.errors as f64),
            },
        ],
        ScenarioKind::Latency => vec![p50, p99, cpu, lost],
        ScenarioKind::Retained => vec![throughput, peak, lost],
        // Under load the latency is the publishers' lead over the subscribers (--ahead)
        // divided by the rate, so only the latency scenario reports it.
        _ => vec![throughput, cpu, peak, lost],
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn format_value(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.abs() >= 100_000.0 => format!("{:.2} M", v / 1e6),
        Some(v) if v.abs() >= 1000.0 => format!("{:.0}", v),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// The medians of every figure as a Markdown table, with how many times better ours is
/// than each peer (above 1: ours is better, whichever way the figure goes).
pub fn table(contenders: &[Contender], scenarios: &[ScenarioKind], reports: &[Report]) -> String {
    let ours = contenders.first().map_or("ours", |c| c.label);
    let peers: Vec<&str> = contenders.iter().skip(1).map(|c| c.label).collect();
    let mut out = String::new();
    let _ = write!(out, "| scenario | figure |");
    for contender in contenders {
        let _ = write!(out, " {} |", contender.label);
    }
    for peer in &peers {
        let _ = write!(out, " {ours} vs {peer} |");
    }
    out.push('\n');
    out.push_str("|---|---|");
    for _ in 0..contenders.len() + peers.len() {
        out.push_str("---:|");
    }
    out.push('\n');
    for &kind in scenarios {
        for metric in metrics(kind) {
            let medians: Vec<Option<f64>> = contenders
                .iter()
                .map(|contender| {
                    median(
                        reports
                            .iter()
                            .filter(|r| r.scenario == kind.name() && r.broker == contender.label)
                            .filter_map(|r| (metric.value)(r))
                            .collect(),
                    )
                })
                .collect();
            let _ = write!(out, "| {} | {} |", kind.name(), metric.name);
            for value in &medians {
                let _ = write!(out, " {} |", format_value(*value));
            }
            for peer in medians.iter().skip(1) {
                let ratio = match (medians[0], *peer, metric.better) {
                    (Some(ours), Some(peer), Better::Higher) if peer > 0.0 => Some(ours / peer),
                    (Some(ours), Some(peer), Better::Lower) if ours > 0.0 => Some(peer / ours),
                    _ => None,
                };
                match ratio {
                    Some(ratio) => {
                        let _ = write!(out, " {ratio:.2}x |");
                    }
                    None => out.push_str(" - |"),
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn ratios_say_how_many_times_better_ours_is() {
        let contenders = [
            Contender::ours(PathBuf::from("ours")),
            Contender::mosquitto(PathBuf::from("mosquitto")),
        ];
        let report = |broker: &str, rate: f64, p99: u64| Report {
            scenario: "latency".to_owned(),
            broker: broker.to_owned(),
            deliveries_per_second: rate,
            latency: Some(super::super::report::LatencySummary {
                p50_us: 100,
                p99_us: p99,
                max_us: p99,
            }),
            ..Report::default()
        };
        let table = table(
            &contenders,
            &[ScenarioKind::Latency],
            &[report("ours", 10.0, 500), report("mosquitto", 10.0, 1000)],
        );
        let p99 = table
            .lines()
            .find(|line| line.contains("p99"))
            .expect("a p99 row");
        assert!(p99.ends_with("| 2.00x |"), "{p99}");
    }
}
