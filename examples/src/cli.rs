//! What `pub` and `sub` share: Mosquitto's connection flags, turned into
//! [`ConnectOptions`], and the connect step with Mosquitto's messages and exit codes.

use std::num::NonZeroU32;

use bytes::Bytes;
use clap::Args;
use mqtt_client_core::{ConnectOptions, DisconnectReason, Event};
use mqtt_codec::{
    MqttString, Properties, ProtocolVersion, PublishProperties, QoS, UserProperty, Will,
};
use tokio::sync::mpsc;

use crate::client::{connect, ClientConfig, MqttClient};

/// Exit code for a timeout (`-W`), as Mosquitto's tools (MOSQ_ERR_TIMEOUT).
pub const EXIT_TIMEOUT: u8 = 27;

/// Connection flags, with Mosquitto's names and meanings.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The broker's host.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    pub host: String,
    /// The broker's port.
    #[arg(short = 'p', long = "port", default_value_t = 1883)]
    pub port: u16,
    /// `mqtt://[username[:password]@]host[:port]/topic`: user, password, host, port and topic
    /// in one.
    #[arg(short = 'L', long = "url")]
    pub url: Option<String>,
    /// The client id [default: the program's name and its process id].
    #[arg(short = 'i', long = "id")]
    pub id: Option<String>,
    /// A client id prefix: the process id is appended.
    #[arg(short = 'I', long = "id-prefix")]
    pub id_prefix: Option<String>,
    /// Keep alive in seconds.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keepalive: u16,
    /// The user name.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// The password.
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// The protocol version: mqttv31, mqttv311 or mqttv5 (also 31, 311, 5).
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv311")]
    pub protocol_version: String,
    /// Print debug messages.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Persistent session: clean session (3.1.1) / clean start (5) off.
    #[arg(short = 'c', long = "disable-clean-session")]
    pub persistent: bool,
    /// MQTT 5 session expiry interval in seconds.
    #[arg(short = 'x', long = "session-expiry-interval")]
    pub session_expiry: Option<u32>,
    /// The topic of the client's will.
    #[arg(long = "will-topic")]
    pub will_topic: Option<String>,
    /// The will's payload.
    #[arg(long = "will-payload")]
    pub will_payload: Option<String>,
    /// The will's QoS.
    #[arg(long = "will-qos", default_value_t = 0)]
    pub will_qos: u8,
    /// Retain the will.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// An MQTT 5 property: `-D command name value` (`-D publish user-property key value`).
    /// Commands: connect, publish, subscribe. Names: user-property, session-expiry-interval,
    /// receive-maximum, maximum-packet-size, message-expiry-interval, content-type,
    /// response-topic, correlation-data, payload-format-indicator.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = clap::ArgAction::Append)]
    pub properties: Vec<String>,
    /// Do not print error messages.
    #[arg(long = "quiet")]
    pub quiet: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// A command-line mistake.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn string(s: &str, what: &str) -> Result<MqttString, UsageError> {
    MqttString::try_from(s).map_err(|err| UsageError(format!("invalid {what}: {err}")))
}

/// Parses a QoS flag value.
pub fn parse_qos(value: u8) -> Result<QoS, UsageError> {
    QoS::from_u8(value).ok_or_else(|| UsageError(format!("invalid QoS {value}: 0, 1 or 2")))
}

impl ConnectionArgs {
    /// Applies `-L`: returns the topic it named, if any.
    pub fn apply_url(&mut self) -> Result<Option<String>, UsageError> {
        let Some(url) = self.url.clone() else {
            return Ok(None);
        };
        let rest = url
            .strip_prefix("mqtt://")
            .ok_or_else(|| UsageError("-L: only mqtt:// URLs".into()))?;
        let (authority, topic) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = match authority.rsplit_once('@') {
            Some((credentials, host_port)) => {
                let (user, password) = credentials
                    .split_once(':')
                    .map_or((credentials, None), |(u, p)| (u, Some(p)));
                self.username = Some(user.to_owned());
                self.password = password.map(str::to_owned);
                host_port
            }
            None => authority,
        };
        match host_port.rsplit_once(':') {
            Some((host, port)) => {
                self.host = host.to_owned();
                self.port = port
                    .parse()
                    .map_err(|_| UsageError(format!("-L: bad port {port}")))?;
            }
            None => self.host = host_port.to_owned(),
        }
        Ok((!topic.is_empty()).then(|| topic.to_owned()))
    }

    /// The protocol version.
    pub fn protocol_version(&self) -> Result<ProtocolVersion, UsageError> {
        match self.protocol_version.as_str() {
            "mqttv31" | "31" => Ok(ProtocolVersion::V3_1),
            "mqttv311" | "311" => Ok(ProtocolVersion::V3_1_1),
            "mqttv5" | "5" => Ok(ProtocolVersion::V5),
            other => Err(UsageError(format!("unknown protocol version {other}"))),
        }
    }

    /// The `-D` flags, one list each: command, name, value(s) (a user property has two).
    fn property_groups(&self) -> Vec<&[String]> {
        let mut groups = Vec::new();
        let mut rest = &self.properties[..];
        while rest.len() >= 3 {
            let len = if rest[1] == "user-property" { 4 } else { 3 }.min(rest.len());
            groups.push(&rest[..len]);
            rest = &rest[len..];
        }
        if !rest.is_empty() {
            groups.push(rest);
        }
        groups
    }

    /// The `-D` properties of `command` as (name, values).
    fn properties_of<'a>(
        &'a self,
        command: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [String])> {
        self.property_groups()
            .into_iter()
            .filter(move |p| p.len() >= 3 && p[0] == command)
            .map(|p| (p[1].as_str(), &p[2..]))
    }

    /// Every `-D` names a command and property this program knows.
    pub fn check_properties(&self) -> Result<(), UsageError> {
        for p in self.property_groups() {
            if p.len() < 3 {
                return Err(UsageError(format!(
                    "incomplete property: -D {}",
                    p.join(" ")
                )));
            }
            let known = match (p[0].as_str(), p[1].as_str()) {
                (_, "user-property") => p.len() == 4,
                (
                    "connect",
                    "session-expiry-interval" | "receive-maximum" | "maximum-packet-size",
                )
                | (
                    "publish",
                    "message-expiry-interval"
                    | "content-type"
                    | "response-topic"
                    | "correlation-data"
                    | "payload-format-indicator",
                ) => p.len() == 3,
                _ => false,
            };
            if !known {
                return Err(UsageError(format!(
                    "unsupported property: -D {}",
                    p.join(" ")
                )));
            }
        }
        Ok(())
    }

    /// Publish properties from `-D publish ...`.
    pub fn publish_properties(&self) -> Result<Properties<PublishProperties>, UsageError> {
        let mut props = Properties::<PublishProperties>::default();
        for (name, values) in self.properties_of("publish") {
            let value = &values[0];
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|_| UsageError(format!("{name}: not a number: {value}")))
            };
            match name {
                "user-property" => props.user_properties.push(UserProperty {
                    name: string(&values[0], "user property")?,
                    value: string(&values[1], "user property")?,
                }),
                "message-expiry-interval" => props.message_expiry_interval = Some(number()?),
                "content-type" => props.content_type = Some(string(value, "content type")?),
                "response-topic" => props.response_topic = Some(string(value, "response topic")?),
                "correlation-data" => {
                    props.correlation_data = Some(Bytes::from(value.clone().into_bytes()));
                }
                "payload-format-indicator" => props.payload_format_indicator = Some(number()? != 0),
                _ => {}
            }
        }
        Ok(props)
    }

    /// The connect options, for a program called `program`.
    pub fn connect_options(&self, program: &str) -> Result<ConnectOptions, UsageError> {
        self.check_properties()?;
        let version = self.protocol_version()?;
        let id = match (&self.id, &self.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            (None, None) => format!("{program}_{}", std::process::id()),
        };
        let mut options = ConnectOptions::new(string(&id, "client id")?);
        options.version = version;
        options.keep_alive = self.keepalive;
        options.clean_start = !self.persistent;
        options.username = self
            .username
            .as_deref()
            .map(|u| string(u, "user name"))
            .transpose()?;
        options.password = self.password.clone().map(|p| Bytes::from(p.into_bytes()));
        if let Some(expiry) = self.session_expiry {
            options.session_expiry_interval = expiry;
        } else if self.persistent && version.is_v5() {
            // As mosquitto's tools: a persistent v5 session that never expires.
            options.session_expiry_interval = u32::MAX;
        }
        for (name, values) in self.properties_of("connect") {
            let value = &values[0];
            let number = value
                .parse::<u32>()
                .map_err(|_| UsageError(format!("{name}: not a number: {value}")));
            match name {
                "session-expiry-interval" => options.session_expiry_interval = number?,
                "receive-maximum" => {
                    options.receive_maximum = u16::try_from(number?)
                        .map_err(|_| UsageError("receive-maximum: at most 65535".into()))?;
                }
                "maximum-packet-size" => {
                    options.maximum_packet_size = NonZeroU32::new(number?)
                        .ok_or_else(|| UsageError("maximum-packet-size: not 0".into()))?
                        .get();
                }
                "user-property" => options.user_properties.push(UserProperty {
                    name: string(&values[0], "user property")?,
                    value: string(&values[1], "user property")?,
                }),
                _ => {}
            }
        }
        if let Some(topic) = &self.will_topic {
            let will = Will {
                topic: string(topic, "will topic")?,
                payload: Bytes::from(self.will_payload.clone().unwrap_or_default().into_bytes()),
                qos: parse_qos(self.will_qos)?,
                retain: self.will_retain,
                properties: Default::default(),
            };
            options.will = Some(will);
        }
        Ok(options)
    }

    /// Prints `message` on standard error unless `--quiet`.
    pub fn error(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// Prints a debug line when `-d`.
    pub fn debug(&self, message: &str) {
        if self.debug {
            eprintln!("{message}");
        }
    }
}

/// Connects and waits for the CONNACK. `Err` carries the exit code, after printing
/// Mosquitto's message for it.
pub async fn connect_cli(
    args: &ConnectionArgs,
    options: ConnectOptions,
) -> Result<(MqttClient, mpsc::Receiver<Event>), u8> {
    let config = ClientConfig {
        reconnect: false,
        ..ClientConfig::default()
    };
    let addr = format!("{}:{}", args.host, args.port);
    let (client, mut events) = connect(addr, options, config);
    loop {
        match events.recv().await {
            Some(Event::Connected {
                session_present, ..
            }) => {
                args.debug(&format!(
                    "Client received CONNACK (session present {session_present})"
                ));
                return Ok((client, events));
            }
            Some(Event::Disconnected(DisconnectReason::Refused(code))) => {
                args.error(&format!(
                    "Connection error: Connection Refused: {}",
                    refusal(code)
                ));
                return Err(code.connack_return_code_v3().max(1));
            }
            Some(Event::Disconnected(_)) | None => {
                args.error("Error: Connection refused");
                return Err(14);
            }
            Some(_) => {}
        }
    }
}

fn refusal(code: mqtt_codec::ReasonCode) -> &'static str {
    use mqtt_codec::ReasonCode as R;
    match code {
        R::UnsupportedProtocolVersion => "unacceptable protocol version",
        R::ClientIdentifierNotValid => "identifier rejected",
        R::BadUserNameOrPassword => "bad user name or password",
        R::NotAuthorized => "not authorised",
        _ => "broker unavailable",
    }
}
