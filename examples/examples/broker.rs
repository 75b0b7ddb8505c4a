//! The MQTT broker: `cargo run --release --example broker`.
//!
//! With no arguments it serves MQTT 3.1, 3.1.1 and 5.0 on 127.0.0.1:1883 (Mosquitto 2's
//! local-only default). `--bind 0.0.0.0` opens it to the network. Ctrl-C or SIGTERM stops it
//! cleanly: v5 clients are told (DISCONNECT 0x8B) and wills are published.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::Parser;
use examples::broker::serve;
use mqtt_broker_core::Config;
use tokio::net::TcpListener;

/// An MQTT broker (MQTT 3.1, 3.1.1 and 5.0).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The address to listen on (127.0.0.1: this machine only).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// The TCP port.
    #[arg(short, long, default_value_t = 1883)]
    port: u16,
    /// Log level filter (`error`, `warn`, `info`, `debug`, `trace`, or a tracing filter).
    #[arg(long, default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .init();
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr).await?;
    tracing::info!("serving MQTT on {}", listener.local_addr()?);
    // Ctrl-C or SIGTERM (a service manager stopping it) end it the same way.
    let shutdown = async {
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
    };
    serve(listener, Config::default(), shutdown).await
}
