//! `loadgen`: MQTT load over loopback against any broker, or `compare` to run every scenario
//! against our broker, Mosquitto and rumqttd side by side. See `--help`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use benches::loadgen::compare::{self, Contender};
use benches::loadgen::{scenario, Params, ScenarioKind, Target};
use clap::builder::PossibleValue;
use clap::{Parser, ValueEnum};

/// What to run: a scenario, or `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run(ScenarioKind),
    Compare,
}

impl ValueEnum for Mode {
    fn value_variants<'a>() -> &'a [Self] {
        const MODES: [Mode; ScenarioKind::ALL.len() + 1] = {
            let mut modes = [Mode::Compare; ScenarioKind::ALL.len() + 1];
            let mut i = 0;
            while i < ScenarioKind::ALL.len() {
                modes[i] = Mode::Run(ScenarioKind::ALL[i]);
                i += 1;
            }
            modes
        };
        &MODES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            Self::Run(kind) => kind.to_possible_value(),
            Self::Compare => Some(PossibleValue::new("compare").help(
                "Start our broker, Mosquitto and rumqttd (when installed) on free loopback \
                 ports and run every scenario (or --only) against each, alternating, --runs \
                 times: medians and ratios",
            )),
        }
    }
}

/// MQTT 3.1.1 load generator: raw connections on mqtt-codec over loopback, publishers
/// batching their writes, so the broker under test is the bottleneck.
///
/// Reports deliveries/s, latency (the send time travels in the payload), and with --pid the
/// broker's CPU time, peak memory and read/write system calls from /proc. Every run is
/// bounded: publishing lasts --duration seconds or --messages per publisher, the last
/// deliveries get --drain seconds.
///
/// Examples:
///   loadgen fan-in --port 1883 --pid "$(pidof broker)"
///   loadgen latency --rate 10000 --json
///   loadgen compare --runs 3          (after `cargo build --release --example broker`)
#[derive(Debug, Parser)]
#[command(name = "loadgen", verbatim_doc_comment)]
struct Cli {
    /// The scenario, or `compare`.
    #[arg(value_enum)]
    mode: Mode,
    /// The broker's address (a scenario run; `compare` starts its own brokers on loopback).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// The broker's port.
    #[arg(short, long, default_value_t = 1883)]
    port: u16,
    /// The broker's process id, for its CPU, memory and system calls.
    #[arg(long)]
    pid: Option<u32>,
    /// Print the report(s) as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Worker threads of the generator (1: it takes one core, the broker the others).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// compare: runs of each scenario against each broker.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// compare: only these scenarios (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<ScenarioKind>,
    /// compare: our broker's executable [default: target/release/examples/broker].
    #[arg(long)]
    ours: Option<PathBuf>,
    /// compare: another build of our broker to compare with (say, from before a change),
    /// as the peer "baseline".
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// compare: Mosquitto's executable [default: `mosquitto` on PATH or /usr/sbin].
    #[arg(long)]
    mosquitto: Option<PathBuf>,
    /// compare: rumqttd's executable [default: `rumqttd` on PATH or ~/.cargo/bin; skipped
    /// when absent].
    #[arg(long)]
    rumqttd: Option<PathBuf>,
    /// compare: leave these brokers out (comma-separated: mosquitto, rumqttd).
    #[arg(long, value_delimiter = ',')]
    without: Vec<String>,
    #[command(flatten)]
    params: Params,
}

/// `name` on PATH or in one of `extra` directories.
fn find_program(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn contenders(cli: &Cli) -> Result<Vec<Contender>, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ours = cli
        .ours
        .clone()
        .unwrap_or_else(|| workspace.join("target/release/examples/broker"));
    if !ours.is_file() {
        return Err(format!(
            "our broker is not built at {}: run `cargo build --release --example broker` or pass --ours",
            ours.display()
        ));
    }
    let mut contenders = vec![Contender::ours(ours)];
    if let Some(baseline) = &cli.baseline {
        contenders.push(Contender::baseline(baseline.clone()));
    }
    let without = |name: &str| cli.without.iter().any(|w| w == name);
    if !without("mosquitto") {
        let mosquitto = cli
            .mosquitto
            .clone()
            .or_else(|| find_program("mosquitto", &[PathBuf::from("/usr/sbin")]))
            .ok_or(
                "mosquitto not found: install Debian's `mosquitto` or pass --without mosquitto",
            )?;
        contenders.push(Contender::mosquitto(mosquitto));
    }
    if !without("rumqttd") {
        let home_bin = std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".cargo/bin"))
            .into_iter()
            .collect::<Vec<_>>();
        match cli
            .rumqttd
            .clone()
            .or_else(|| find_program("rumqttd", &home_bin))
        {
            Some(rumqttd) => contenders.push(Contender::rumqttd(rumqttd)),
            None => eprintln!("rumqttd not found (`cargo install rumqttd`): left out"),
        }
    }
    Ok(contenders)
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.mode {
        Mode::Run(kind) => {
            let target = Target {
                addr: SocketAddr::new(cli.host, cli.port),
                pid: cli.pid,
                label: format!("{}:{}", cli.host, cli.port),
            };
            let report = scenario::run(kind, &cli.params, &target)
                .await
                .map_err(|err| format!("{}: {err}", kind.name()))?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("serializable")
                );
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Mode::Compare => {
            let contenders = contenders(&cli)?;
            let scenarios = if cli.only.is_empty() {
                ScenarioKind::ALL.to_vec()
            } else {
                cli.only.clone()
            };
            // Idle connections need descriptors in the brokers too, which inherit ours.
            benches::loadgen::procfs::raise_open_files(cli.params.connections as u64 + 1024);
            let reports = compare::run(&contenders, &scenarios, cli.runs.max(1), &cli.params).await;
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reports).expect("serializable")
                );
            } else {
                print!("{}", compare::table(&contenders, &scenarios, &reports));
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadgen: {err}");
            ExitCode::FAILURE
        }
    }
}
