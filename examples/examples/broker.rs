//! The MQTT broker: `cargo run --release --example broker`.
//!
//! With no arguments it serves MQTT 3.1, 3.1.1 and 5.0 on 127.0.0.1:1883 (Mosquitto 2's
//! local-only default); `--config examples/broker.toml` shows every setting. `--bind 0.0.0.0` opens it to the network. Ctrl-C or SIGTERM stops it
//! cleanly: v5 clients are told (DISCONNECT 0x8B) and wills are published.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use examples::broker::{listen, serve_all, ServerOptions};
use examples::config::FileConfig;

/// An MQTT broker (MQTT 3.1, 3.1.1 and 5.0).
///
/// Without arguments: 127.0.0.1:1883, default limits. A TOML file (`--config`; see
/// examples/broker.toml for every setting, commented) sets listeners, limits, `$SYS` and
/// logging; `--bind`/`--port` replace its listeners with one, `--log` its log level.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A TOML configuration file.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1, this machine only].
    #[arg(long)]
    bind: Option<IpAddr>,
    /// The TCP port [default: 1883].
    #[arg(short, long)]
    port: Option<u16>,
    /// Log level filter (`error`, `warn`, `info`, `debug`, `trace`, or a tracing filter)
    /// [default: info].
    #[arg(long)]
    log: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let file = match &args.config {
        Some(path) => match FileConfig::load(path) {
            Ok(file) => file,
            Err(err) => {
                eprintln!("broker: {}: {err}", path.display());
                return ExitCode::from(2);
            }
        },
        None => FileConfig::default(),
    };
    let level = args
        .log
        .clone()
        .or_else(|| file.log.level.clone())
        .unwrap_or_else(|| "info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .init();
    let addrs = if args.bind.is_some() || args.port.is_some() {
        vec![SocketAddr::new(
            args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            args.port.unwrap_or(1883),
        )]
    } else {
        file.listen_addrs()
    };
    let mut listeners = Vec::new();
    for addr in addrs {
        match listen(addr) {
            Ok(listener) => {
                let local = listener.local_addr().map_or(addr, |a| a);
                tracing::info!("serving MQTT on {local}");
                listeners.push(listener);
            }
            Err(err) => {
                tracing::error!("cannot listen on {addr}: {err}");
                return ExitCode::from(1);
            }
        }
    }
    let options = ServerOptions {
        max_connections: file.limits.max_connections,
    };
    match serve_all(listeners, file.broker_config(), options, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::from(1)
        }
    }
}

/// Ctrl-C or SIGTERM (a service manager stopping it) end it the same way.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
