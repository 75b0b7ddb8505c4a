//! The broker's limits and policies. Every field has a default a home-automation user
//! would expect from Mosquitto, so `Config::default()` runs a useful broker.

use core::time::Duration;

use mqtt_codec::QoS;

/// Broker configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest packet accepted from a client, in bytes (whole packet). Larger ones close
    /// the connection (v5: DISCONNECT 0x95). Default 1 MiB; MQTT allows up to 256 MiB.
    pub max_packet_size: u32,
    /// The most QoS 1 and QoS 2 publishes a client may have unacknowledged towards the
    /// broker: the Receive Maximum sent in a v5 CONNACK (clients must keep to it, v5 [MQTT-3.3.4-7]). Default 65,535.
    pub receive_maximum: u16,
    /// The most QoS 1 and QoS 2 messages in flight towards one client: for 3.1.1 clients
    /// the window itself, for v5 clients a cap on the Receive Maximum they announce.
    /// Default 100.
    pub max_inflight: u16,
    /// The most messages queued for one session beyond its inflight window (offline, or
    /// over its window). Default 1,000 (Mosquitto's `max_queued_messages`).
    pub max_queued_messages: usize,
    /// The most payload bytes queued for one session; 0 means no byte limit. Default 0.
    pub max_queued_bytes: usize,
    /// Whether QoS 0 messages are queued for offline persistent sessions (Mosquitto's
    /// `queue_qos0_messages`). Default false.
    pub queue_qos0_offline: bool,
    /// How many encoded bytes may wait for one connection's writer before further
    /// messages wait in the session queue instead. Default 64 KiB.
    pub max_pending_write_bytes: usize,
    /// The highest QoS the broker supports (v5 Maximum QoS). Default 2.
    pub maximum_qos: QoS,
    /// Whether retained messages are supported (v5 Retain Available). Default true.
    pub retain_available: bool,
    /// The Topic Alias Maximum offered to v5 clients; 0 disables inbound aliases. Default 10.
    pub topic_alias_maximum: u16,
    /// The longest keep alive a client may use, in seconds; a v5 client asking for more
    /// (or for none) is told this one as Server Keep Alive [MQTT-3.2.2-21]. `None` accepts any.
    pub max_keep_alive: Option<u16>,
    /// The longest session expiry interval a v5 client may ask for, in seconds, and the
    /// expiry of 3.1.1 persistent sessions (which do not name one). `u32::MAX` never expires.
    pub max_session_expiry: u32,
    /// How long a new connection may take to send CONNECT before it is closed.
    pub connect_timeout: Duration,
    /// How often the `$SYS/broker/...` topics are published; `None` turns them off.
    pub sys_interval: Option<Duration>,
    /// The most topic levels in a topic name or filter; deeper ones are refused (0x90/0x8F)
    /// so one PUBLISH cannot make matching walk without bound. Default 128 (as EMQX).
    pub max_topic_levels: usize,
    /// The most subscriptions one session may hold; further ones are refused with 0x97
    /// (Quota exceeded). Default 10,000.
    pub max_subscriptions_per_session: usize,
    /// Whether records are emitted for a durable store, and QoS 1/2 acknowledgements wait for
    /// [`Broker::handle_stored`](crate::Broker::handle_stored). Default false.
    pub durable: bool,
    /// Mixed into assigned client identifiers so two broker runs do not hand out the same
    /// ones; the adapter passes something random. Default 0.
    pub instance_id: u64,
    /// The version string published on `$SYS/broker/version`.
    pub version_string: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_packet_size: 1024 * 1024,
            receive_maximum: u16::MAX,
            max_inflight: 100,
            max_queued_messages: 1000,
            max_queued_bytes: 0,
            queue_qos0_offline: false,
            max_pending_write_bytes: 64 * 1024,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            topic_alias_maximum: 10,
            max_keep_alive: None,
            max_session_expiry: u32::MAX,
            connect_timeout: Duration::from_secs(10),
            sys_interval: Some(Duration::from_secs(10)),
            max_topic_levels: 128,
            max_subscriptions_per_session: 10_000,
            durable: false,
            instance_id: 0,
            version_string: concat!("mqtt-toolkit ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}
