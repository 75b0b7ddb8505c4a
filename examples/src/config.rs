//! The broker's TOML configuration file (`broker --config broker.toml`); `broker.toml` in
//! this package is a commented example. Every field is optional: a missing one keeps the
//! default, and an unknown one is an error (a typo must not pass silently).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where to listen; none: 127.0.0.1:1883.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<Listener>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// `$SYS` topics.
    #[serde(default)]
    pub sys: Sys,
    /// Logging.
    #[serde(default)]
    pub log: Log,
}

/// One TCP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// The address (default 127.0.0.1: this machine only).
    #[serde(default = "localhost")]
    pub bind: IpAddr,
    /// The port (default 1883).
    #[serde(default = "mqtt_port")]
    pub port: u16,
}

fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn mqtt_port() -> u16 {
    1883
}

impl Listener {
    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// Limits; see [`mqtt_broker_core::Config`] for what each means and its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Connections accepted at once; more are closed at once. Default: no limit.
    pub max_connections: Option<usize>,
    /// Largest packet accepted, in bytes.
    pub max_packet_size: Option<u32>,
    /// Receive Maximum offered to v5 clients.
    pub receive_maximum: Option<u16>,
    /// QoS 1/2 messages in flight towards one client.
    pub max_inflight: Option<u16>,
    /// Messages queued per session.
    pub max_queued_messages: Option<usize>,
    /// Payload bytes queued per session (0: no byte limit).
    pub max_queued_bytes: Option<usize>,
    /// Queue QoS 0 messages for offline persistent sessions.
    pub queue_qos0_offline: Option<bool>,
    /// Longest keep alive allowed, in seconds (v5 clients are told Server Keep Alive).
    pub max_keep_alive: Option<u16>,
    /// Longest session expiry, in seconds (also 3.1.1 persistent sessions).
    pub max_session_expiry: Option<u32>,
    /// Topic Alias Maximum offered to v5 clients.
    pub topic_alias_maximum: Option<u16>,
    /// Seconds a new connection has to send CONNECT.
    pub connect_timeout: Option<u64>,
    /// Most levels in a topic name or filter.
    pub max_topic_levels: Option<usize>,
    /// Most subscriptions per session.
    pub max_subscriptions_per_session: Option<usize>,
}

/// `$SYS/broker/...` publication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sys {
    /// Seconds between publications; 0 turns `$SYS` off. Default 10.
    pub interval: Option<u64>,
}

/// Logging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter. Default `info`.
    pub level: Option<String>,
}

/// Why a configuration file was refused.
#[derive(Debug)]
pub enum ConfigError {
    /// It could not be read.
    Read(std::io::Error),
    /// It is not valid TOML for this schema (the message says where).
    Parse(toml::de::Error),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(err) => write!(f, "cannot read the configuration: {err}"),
            Self::Parse(err) => write!(f, "invalid configuration: {err}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl FileConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(ConfigError::Read)?;
        Self::parse(&text)
    }

    /// Parses a configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(ConfigError::Parse)
    }

    /// The broker core's configuration: its defaults, with what the file sets.
    pub fn broker_config(&self) -> mqtt_broker_core::Config {
        let mut config = mqtt_broker_core::Config::default();
        let l = &self.limits;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = l.$field { config.$field = v; } )* };
        }
        set!(
            max_packet_size,
            receive_maximum,
            max_inflight,
            max_queued_messages,
            max_queued_bytes,
            queue_qos0_offline,
            max_session_expiry,
            topic_alias_maximum,
            max_topic_levels,
            max_subscriptions_per_session
        );
        if let Some(max) = l.max_keep_alive {
            config.max_keep_alive = Some(max);
        }
        if let Some(secs) = l.connect_timeout {
            config.connect_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = self.sys.interval {
            config.sys_interval = (secs > 0).then(|| Duration::from_secs(secs));
        }
        config
    }

    /// The listeners, or the default one.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        if self.listeners.is_empty() {
            vec![SocketAddr::new(localhost(), mqtt_port())]
        } else {
            self.listeners.iter().map(Listener::addr).collect()
        }
    }
}
