//! What a client asks for when it connects.

use core::time::Duration;

use bytes::Bytes;
use mqtt_codec::{MqttString, ProtocolVersion, UserProperty, Will};

/// Connect options for MQTT 3.1, 3.1.1 and 5.0. MQTT 5 fields are ignored for older
/// versions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The protocol version. Default 3.1.1 (as `mosquitto_pub`).
    pub version: ProtocolVersion,
    /// The client identifier; empty asks the server to assign one (MQTT 5 returns it in
    /// the CONNACK; 3.1.1 needs `clean_start`).
    pub client_id: MqttString,
    /// Clean Session (3.1.1) / Clean Start (5.0): false resumes the session. Default true.
    pub clean_start: bool,
    /// MQTT 5 Session Expiry Interval in seconds (0: the session ends with the connection).
    pub session_expiry_interval: u32,
    /// Keep alive in seconds; 0 turns it off. Default 60.
    pub keep_alive: u16,
    /// How long to wait for a PINGRESP (and for the CONNACK) before the connection is
    /// declared dead. Default 30 s.
    pub response_timeout: Duration,
    /// The will message.
    pub will: Option<Will>,
    /// The user name.
    pub username: Option<MqttString>,
    /// The password.
    pub password: Option<Bytes>,
    /// The most QoS 1/2 messages the server may have unacknowledged towards this client
    /// (MQTT 5 Receive Maximum; the client also enforces it). Default 65,535.
    pub receive_maximum: u16,
    /// The largest packet this client accepts (MQTT 5 Maximum Packet Size; enforced on
    /// decode for every version). Default 1 MiB.
    pub maximum_packet_size: u32,
    /// How many topic aliases the server may use towards this client (MQTT 5). Default 0.
    pub topic_alias_maximum: u16,
    /// Ask the server for Response Information (MQTT 5).
    pub request_response_information: bool,
    /// MQTT 5 user properties of the CONNECT.
    pub user_properties: Vec<UserProperty>,
    /// MQTT 5 enhanced authentication: the method (the exchange goes through
    /// [`Event::AuthChallenge`](crate::Event::AuthChallenge) and
    /// [`Client::authenticate`](crate::Client::authenticate)).
    pub authentication_method: Option<MqttString>,
    /// The first authentication data for that method.
    pub authentication_data: Option<Bytes>,
    /// How many publishes may wait for the window (the server's Receive Maximum) or for a
    /// connection; one more is refused with [`ClientError::QueueFull`](crate::ClientError).
    /// Default 1,000.
    pub max_queued_publishes: usize,
    /// The application acknowledges each incoming QoS 1/2 message with
    /// [`Client::ack`](crate::Client::ack); the PUBACK/PUBREC goes only then. Default false.
    pub manual_acks: bool,
    /// Replace repeated topics of outgoing publishes by topic aliases, within the server's
    /// Topic Alias Maximum (MQTT 5). Default false.
    pub outgoing_topic_aliases: bool,
}

impl ConnectOptions {
    /// Options for `client_id` with everything else at its default.
    pub fn new(client_id: MqttString) -> Self {
        Self {
            client_id,
            ..Self::default()
        }
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            version: ProtocolVersion::V3_1_1,
            client_id: MqttString::new(),
            clean_start: true,
            session_expiry_interval: 0,
            keep_alive: 60,
            response_timeout: Duration::from_secs(30),
            will: None,
            username: None,
            password: None,
            receive_maximum: u16::MAX,
            maximum_packet_size: 1024 * 1024,
            topic_alias_maximum: 0,
            request_response_information: false,
            user_properties: Vec::new(),
            authentication_method: None,
            authentication_data: None,
            max_queued_publishes: 1000,
            manual_acks: false,
            outgoing_topic_aliases: false,
        }
    }
}
