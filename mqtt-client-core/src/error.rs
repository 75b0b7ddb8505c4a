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
    /// The packet is larger than the server's Maximum Packet Size [MQTT-3.1.2-24].
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
            _ => ReasonCode::ProtocolError,
        }
    }
}
