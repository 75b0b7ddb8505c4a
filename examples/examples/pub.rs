//! `pub`: publish MQTT messages, with `mosquitto_pub`'s flags.
//!
//! `cargo run --release --example pub -- -t home/hall/light -m on -q 1`; install with
//! `cargo install --path examples --example pub`.

use std::io::{BufRead, Read};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use examples::cli::{connect_cli, parse_qos, ConnectionArgs};
use mqtt_client_core::Event;
use mqtt_codec::{Publish, QoS};

/// Publish messages to an MQTT broker (mosquitto_pub's flags).
#[derive(Debug, Parser)]
#[command(
    name = "pub",
    about,
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The topic to publish to.
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
    /// The message payload.
    #[arg(short = 'm', long = "message", group = "source")]
    message: Option<String>,
    /// Send a file's contents as the message.
    #[arg(short = 'f', long = "file", group = "source")]
    file: Option<std::path::PathBuf>,
    /// Read messages from standard input, one per line.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    lines: bool,
    /// Read standard input whole as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    stdin: bool,
    /// Send a null (empty) message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    null: bool,
    /// QoS 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    retain: bool,
    /// Publish the message this many times (with -m, -f, -s, -n).
    #[arg(long = "repeat", default_value_t = 1)]
    repeat: u32,
    /// Seconds between repeats (may be fractional).
    #[arg(long = "repeat-delay", default_value_t = 0.0)]
    repeat_delay: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    match run(&mut args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

async fn run(args: &mut Args) -> Result<(), u8> {
    let usage = |args: &Args, message: String| {
        args.connection
            .error(&format!("Error: {message}\nUse 'pub --help' to see usage."));
        1
    };
    let url_topic = args.connection.apply_url().map_err(|e| usage(args, e.0))?;
    let Some(topic) = args.topic.clone().or(url_topic) else {
        return Err(usage(args, "a topic is required (-t)".into()));
    };
    // A topic name, checked before connecting: no wildcards [MQTT-3.3.2-2].
    let topic = mqtt_topic::TopicName::try_from(topic.as_str())
        .map_err(|e| usage(args, format!("invalid publish topic '{topic}': {e}")))?
        .into_inner();
    let qos = parse_qos(args.qos).map_err(|e| usage(args, e.0))?;
    let properties = args
        .connection
        .publish_properties()
        .map_err(|e| usage(args, e.0))?;
    let options = args
        .connection
        .connect_options("pub")
        .map_err(|e| usage(args, e.0))?;
    let payloads: Vec<Bytes> = if args.lines {
        Vec::new() // read line by line below, after connecting
    } else {
        let one = if let Some(message) = &args.message {
            Bytes::from(message.clone().into_bytes())
        } else if let Some(path) = &args.file {
            Bytes::from(
                std::fs::read(path)
                    .map_err(|e| usage(args, format!("cannot read {}: {e}", path.display())))?,
            )
        } else if args.stdin {
            let mut all = Vec::new();
            std::io::stdin()
                .read_to_end(&mut all)
                .map_err(|e| usage(args, e.to_string()))?;
            Bytes::from(all)
        } else if args.null {
            Bytes::new()
        } else {
            return Err(usage(
                args,
                "a message is required (-m, -f, -l, -n or -s)".into(),
            ));
        };
        vec![one; args.repeat.max(1) as usize]
    };
    let (client, mut events) = connect_cli(&args.connection, options).await?;
    let mut sent = Vec::new();
    let make = |payload: Bytes| {
        let mut publish = Publish::new(topic.clone(), payload);
        publish.qos = qos;
        publish.retain = args.retain;
        publish.properties = properties.clone();
        publish
    };
    if args.lines {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|_| 1)?;
            sent.push(
                client
                    .publish(make(Bytes::from(line.into_bytes())))
                    .await
                    .map_err(|e| {
                        args.connection.error(&format!("Error: {e}"));
                        1
                    })?,
            );
        }
    } else {
        let count = payloads.len();
        for (i, payload) in payloads.into_iter().enumerate() {
            sent.push(client.publish(make(payload)).await.map_err(|e| {
                args.connection.error(&format!("Error: {e}"));
                1
            })?);
            if i + 1 < count && args.repeat_delay > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(args.repeat_delay)).await;
            }
        }
    }
    // QoS 1/2: wait for each acknowledgement before disconnecting.
    let mut waiting = if qos == QoS::AtMostOnce {
        0
    } else {
        sent.len()
    };
    while waiting > 0 {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Some(Event::PublishCompleted { reason_code, .. })) => {
                waiting -= 1;
                if reason_code.is_error() {
                    args.connection
                        .error(&format!("Warning: publish failed: {reason_code:?}"));
                }
            }
            Ok(Some(Event::Disconnected(reason))) => {
                args.connection
                    .error(&format!("Error: disconnected: {reason:?}"));
                return Err(1);
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(1),
            Err(_) => {
                args.connection.error("Timed out");
                return Err(examples::cli::EXIT_TIMEOUT);
            }
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}
