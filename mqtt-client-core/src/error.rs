//! Errors of client commands and of the connection.

use mqtt_codec::{DecodeError, EncodeError, ReasonCode};

/// Why a command was refused or a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The command needs a connection (subscribe, unsubscribe, ping, disconnect).
    #[error("not connected")]
    NotConnected,
    /// A connection is already open or opening.
    #[error("already connected")]
    AlreadyConnected,
    /// The publish queue is full ([`ConnectOptions::max_queued_publishes`](crate::ConnectOptions)).
    #[error("the publish queue is full")]
    QueueFull,
    /// The packet is larger than the server's Maximum Packet Size (v5 [MQTT-3.2.2-15]), or a
    /// received one larger than this client's.
    #[error("packet of {size} bytes is larger than the server accepts ({max})")]
    PacketTooLarge {
        /// The packet's size.
        size: usize,
        /// The server's maximum.
        max: u32,
    },
    /// The QoS is above the server's Maximum QoS [MQTT-3.2.2-11].
    #[error("the server does not support this QoS")]
    QoSNotSupported,
    /// RETAIN while the server has no retained messages [MQTT-3.2.2-14].
    #[error("the server does not support retained messages")]
    RetainNotSupported,
    /// A SUBSCRIBE or UNSUBSCRIBE without filters [MQTT-3.8.3-3].
    #[error("no topic filters")]
    NoFilters,
    /// The packet cannot be encoded (an invalid topic, property or value).
    #[error("invalid packet: {0}")]
    Invalid(#[from] EncodeError),
    /// No packet id is free (65,535 in use).
    #[error("no packet identifier is free")]
    NoPacketIdFree,
    /// An empty client id needs a clean session before MQTT 5 [MQTT-3.1.3-7].
    #[error("an empty client identifier needs clean_start")]
    EmptyClientIdNeedsCleanStart,
    /// AUTH without an authentication method in the CONNECT [MQTT-4.12.0-7].
    #[error("no authentication method was given at connect")]
    NoAuthenticationMethod,
    /// A PUBLISH the client may not send: a Subscription Identifier [MQTT-3.3.4-6] (the
    /// client manages topic aliases itself).
    #[error("invalid publish: {0}")]
    InvalidPublish(&'static str),
    /// The server used a topic alias of 0 or above this client's Topic Alias Maximum
    /// (v5 3.3.2.3.4).
    #[error("topic alias out of range")]
    TopicAliasInvalid,
    /// The server sent more unacknowledged QoS 1/2 messages than this client's Receive
    /// Maximum (v5 3.3.4).
    #[error("receive maximum exceeded")]
    ReceiveMaximumExceeded,
    /// An option the protocol does not allow (a Receive Maximum or Maximum Packet Size of
    /// 0 is a protocol error in MQTT 5).
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    /// A v5 DISCONNECT may not set a Session Expiry Interval when the CONNECT had none
    /// (v5 3.14.2.2.2).
    #[error("session expiry cannot be set at disconnect when the connection had none")]
    SessionExpiryAtDisconnect,
    /// The ack handle does not belong to a message awaiting acknowledgement.
    #[error("unknown or already acknowledged message")]
    UnknownAck,
    /// The server sent bytes that do not decode.
    #[error("malformed packet from the server: {0}")]
    Malformed(#[from] DecodeError),
    /// The server sent a packet the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

impl ClientError {
    /// The MQTT 5 reason code the client closes the connection with, for errors of the
    /// server's stream.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Malformed(err) => err.reason_code(),
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::TopicAliasInvalid => ReasonCode::TopicAliasInvalid,
            Self::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            _ => ReasonCode::ProtocolError,
        }
    }
}
