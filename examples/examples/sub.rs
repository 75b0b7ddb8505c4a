//! `sub`: subscribe and print MQTT messages, with `mosquitto_sub`'s flags (and `--json`).
//!
//! `cargo run --release --example sub -- -t 'home/#' -v`; install with
//! `cargo install --path examples --example sub`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use clap::Parser;
use examples::cli::{connect_cli, parse_qos, ConnectionArgs, EXIT_TIMEOUT};
use mqtt_client_core::{Event, IncomingMessage};
use mqtt_codec::{MqttString, SubscriptionOptions};
use mqtt_topic::{TopicFilter, TopicName};

/// Subscribe to topics on an MQTT broker and print what arrives (mosquitto_sub's flags).
#[derive(Debug, Parser)]
#[command(
    name = "sub",
    about,
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// A topic filter to subscribe to (repeat for several).
    #[arg(short = 't', long = "topic")]
    topics: Vec<String>,
    /// A topic filter whose messages are not printed (repeat for several).
    #[arg(short = 'T', long = "filter-out")]
    filter_out: Vec<String>,
    /// QoS of the subscriptions.
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    qos: u8,
    /// Print the topic before the payload.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count")]
    count: Option<usize>,
    /// Exit after this many seconds without reaching the count (exit code 27).
    #[arg(short = 'W', long = "timeout")]
    timeout: Option<u64>,
    /// Do not print messages with the retain flag (stale retained messages).
    #[arg(short = 'R', long = "no-stale")]
    no_retained: bool,
    /// Do not print a newline after each payload.
    #[arg(short = 'N', long = "no-newline")]
    no_newline: bool,
    /// Print only retained messages; exit at the first live one.
    #[arg(long = "retained-only")]
    retained_only: bool,
    /// Exit once the subscriptions are acknowledged.
    #[arg(short = 'E', long = "exit-after-subscribe")]
    exit_after_subscribe: bool,
    /// Output format: %t topic, %p payload, %q QoS, %r retain, %l payload length,
    /// %P user properties, %R response topic, %C content type, %D correlation
    /// data, %E message expiry, %% a percent sign; \n and \t escapes.
    #[arg(short = 'F', long = "format")]
    format: Option<String>,
    /// One JSON object per message: topic, qos, retain, properties, and the payload as UTF-8
    /// (`payload`) or base64 (`payload_base64`).
    #[arg(long = "json")]
    json: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    match run(&mut args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

/// Whether `-T filter` hides a message on `topic` (the broker's own matching rules).
fn filter_matches(filter: &str, topic: &str) -> bool {
    match (TopicFilter::try_from(filter), TopicName::try_from(topic)) {
        (Ok(filter), Ok(topic)) => mqtt_topic::filter_matches(&filter, &topic),
        _ => false,
    }
}

fn render(format: &str, m: &IncomingMessage) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('%', Some(code)) => {
                chars.next();
                match code {
                    't' => out.push_str(&m.topic),
                    'p' => out.push_str(&String::from_utf8_lossy(&m.payload)),
                    'q' => out.push_str(&(m.qos as u8).to_string()),
                    'r' => out.push(if m.retain { '1' } else { '0' }),
                    'l' => out.push_str(&m.payload.len().to_string()),
                    'P' => {
                        let pairs: Vec<String> = m
                            .properties
                            .user_properties
                            .iter()
                            .map(|p| format!("{}:{}", p.name, p.value))
                            .collect();
                        out.push_str(&pairs.join(" "));
                    }
                    'R' => out.push_str(m.properties.response_topic.as_deref().unwrap_or("")),
                    'C' => out.push_str(m.properties.content_type.as_deref().unwrap_or("")),
                    'D' => out.push_str(&String::from_utf8_lossy(
                        m.properties.correlation_data.as_deref().unwrap_or(b""),
                    )),
                    'E' => out.push_str(
                        &m.properties
                            .message_expiry_interval
                            .map_or(String::new(), |e| e.to_string()),
                    ),
                    '%' => out.push('%'),
                    other => {
                        out.push('%');
                        out.push(other);
                    }
                }
            }
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            ('\\', Some('t')) => {
                chars.next();
                out.push('\t');
            }
            _ => out.push(c),
        }
    }
    out
}

fn json(m: &IncomingMessage) -> String {
    let mut object = serde_json::json!({
        "topic": m.topic.as_str(),
        "qos": m.qos as u8,
        "retain": m.retain,
    });
    match std::str::from_utf8(&m.payload) {
        Ok(text) => object["payload"] = text.into(),
        Err(_) => {
            object["payload_base64"] = base64::engine::general_purpose::STANDARD
                .encode(&m.payload)
                .into();
        }
    }
    let p = &m.properties;
    let mut properties = serde_json::Map::new();
    if !p.user_properties.is_empty() {
        let pairs: Vec<serde_json::Value> = p
            .user_properties
            .iter()
            .map(|u| serde_json::json!([u.name.as_str(), u.value.as_str()]))
            .collect();
        properties.insert("user_properties".into(), pairs.into());
    }
    if let Some(v) = &p.response_topic {
        properties.insert("response_topic".into(), v.as_str().into());
    }
    if let Some(v) = &p.content_type {
        properties.insert("content_type".into(), v.as_str().into());
    }
    if let Some(v) = &p.correlation_data {
        properties.insert(
            "correlation_data_base64".into(),
            base64::engine::general_purpose::STANDARD.encode(v).into(),
        );
    }
    if let Some(v) = p.message_expiry_interval {
        properties.insert("message_expiry_interval".into(), v.into());
    }
    if !p.subscription_identifiers.is_empty() {
        let ids: Vec<u32> = p.subscription_identifiers.iter().map(|i| i.get()).collect();
        properties.insert("subscription_identifiers".into(), ids.into());
    }
    if !properties.is_empty() {
        object["properties"] = properties.into();
    }
    object.to_string()
}

async fn run(args: &mut Args) -> Result<(), u8> {
    let usage = |args: &Args, message: String| {
        args.connection
            .error(&format!("Error: {message}\nUse 'sub --help' to see usage."));
        1
    };
    if let Some(topic) = args.connection.apply_url().map_err(|e| usage(args, e.0))? {
        args.topics.push(topic);
    }
    if args.topics.is_empty() {
        return Err(usage(args, "at least one topic is required (-t)".into()));
    }
    let qos = parse_qos(args.qos).map_err(|e| usage(args, e.0))?;
    let mut filters = Vec::new();
    for topic in &args.topics {
        // Checked before connecting (shared subscriptions included), as mosquitto_sub does.
        let filter = MqttString::try_from(topic.as_str())
            .map_err(|e| usage(args, format!("invalid subscription topic '{topic}': {e}")))?;
        let valid = match mqtt_topic::SharedSubscription::parse(&filter) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => TopicFilter::new(filter.clone()).map(drop),
            Err(e) => Err(e),
        };
        valid.map_err(|e| usage(args, format!("invalid subscription topic '{topic}': {e}")))?;
        filters.push((filter, SubscriptionOptions::qos(qos)));
    }
    let options = args
        .connection
        .connect_options("sub")
        .map_err(|e| usage(args, e.0))?;
    let (client, mut events) = connect_cli(&args.connection, options).await?;
    client.subscribe(filters).await.map_err(|e| {
        args.connection.error(&format!("Error: {e}"));
        1
    })?;
    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut printed = 0usize;
    let stdout = std::io::stdout();
    loop {
        let event = match deadline {
            Some(at) => match tokio::time::timeout_at(at, events.recv()).await {
                Ok(event) => event,
                Err(_) => {
                    args.connection.error("Timed out");
                    let _ = client.disconnect().await;
                    return Err(EXIT_TIMEOUT);
                }
            },
            None => events.recv().await,
        };
        match event {
            Some(Event::Subscribed { reason_codes, .. }) => {
                for code in &reason_codes {
                    if code.is_error() {
                        args.connection
                            .error(&format!("Subscription refused: {code:?}"));
                    }
                }
                if args.exit_after_subscribe {
                    let _ = client.disconnect().await;
                    return Ok(());
                }
            }
            Some(Event::Message(m)) => {
                if args.retained_only && !m.retain {
                    let _ = client.disconnect().await;
                    return Ok(());
                }
                let hidden = (args.no_retained && m.retain)
                    || args.filter_out.iter().any(|f| filter_matches(f, &m.topic));
                if !hidden {
                    let text = if args.json {
                        json(&m)
                    } else if let Some(format) = &args.format {
                        render(format, &m)
                    } else if args.verbose {
                        format!("{} {}", m.topic, String::from_utf8_lossy(&m.payload))
                    } else {
                        String::from_utf8_lossy(&m.payload).into_owned()
                    };
                    let mut out = stdout.lock();
                    let newline = if args.no_newline { "" } else { "\n" };
                    if write!(out, "{text}{newline}")
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return Err(1);
                    }
                    printed += 1;
                }
                if let Some(ack) = m.ack {
                    let _ = client.ack(ack).await;
                }
                if args.count.is_some_and(|count| printed >= count) {
                    let _ = client.disconnect().await;
                    return Ok(());
                }
            }
            Some(Event::Disconnected(reason)) => {
                args.connection
                    .error(&format!("Error: disconnected: {reason:?}"));
                return Err(1);
            }
            Some(_) => {}
            None => return Err(1),
        }
    }
}
