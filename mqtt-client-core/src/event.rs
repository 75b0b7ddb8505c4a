//! What the client tells its application.

use bytes::Bytes;
use mqtt_codec::{
    AuthProperties, ConnAckProperties, MqttString, PacketId, Properties, PublishProperties, QoS,
    ReasonCode,
};

use crate::error::ClientError;

/// Identifies a publish from [`Client::publish`](crate::Client::publish) to its
/// [`Event::PublishCompleted`]. Unique for the life of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishId(pub(crate) u64);

/// Identifies a received QoS 1/2 message for [`Client::ack`](crate::Client::ack) in manual
/// acknowledgement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckHandle {
    /// Unique per delivery: an old handle never acknowledges a later message that reuses
    /// the packet id.
    pub(crate) delivery: u64,
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    /// The connection it came on: a QoS 1 message is acknowledged on that connection only
    /// (after a reconnect the server sends it again).
    pub(crate) connection: u64,
}

/// What the server allows, from its CONNACK (MQTT 5; defaults for older versions).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// How many QoS 1/2 publishes may be unacknowledged towards the server.
    pub receive_maximum: u16,
    /// The highest QoS the server accepts.
    pub maximum_qos: QoS,
    /// Whether the server keeps retained messages.
    pub retain_available: bool,
    /// The largest packet the server accepts (`u32::MAX` when it says nothing).
    pub maximum_packet_size: u32,
    /// How many topic aliases the client may use.
    pub topic_alias_maximum: u16,
    /// The keep alive in force, in seconds (the server's, if it set one).
    pub keep_alive: u16,
    /// Whether wildcard subscriptions are available.
    pub wildcard_subscription_available: bool,
    /// Whether subscription identifiers are available.
    pub subscription_identifiers_available: bool,
    /// Whether shared subscriptions are available.
    pub shared_subscription_available: bool,
}

impl ServerLimits {
    pub(crate) fn from_connack(properties: &ConnAckProperties, keep_alive: u16) -> Self {
        Self {
            receive_maximum: properties.receive_maximum.map_or(u16::MAX, |n| n.get()),
            maximum_qos: properties.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: properties.retain_available.unwrap_or(true),
            maximum_packet_size: properties.maximum_packet_size.map_or(u32::MAX, |n| n.get()),
            topic_alias_maximum: properties.topic_alias_maximum.unwrap_or(0),
            keep_alive: properties.server_keep_alive.unwrap_or(keep_alive),
            wildcard_subscription_available: properties
                .wildcard_subscription_available
                .unwrap_or(true),
            subscription_identifiers_available: properties
                .subscription_identifier_available
                .unwrap_or(true),
            shared_subscription_available: properties.shared_subscription_available.unwrap_or(true),
        }
    }
}

/// A message from the server. Topic and payload share the receive buffer (no copy).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingMessage {
    /// The topic name (a topic alias already resolved).
    pub topic: MqttString,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was delivered with.
    pub qos: QoS,
    /// RETAIN: sent because of a new subscription (or Retain As Published).
    pub retain: bool,
    /// DUP: the server may have sent it before (a QoS 1 message may come twice).
    pub dup: bool,
    /// MQTT 5 properties (subscription identifiers, user properties, response topic...).
    pub properties: Properties<PublishProperties>,
    /// With manual acknowledgement, the handle to pass to
    /// [`Client::ack`](crate::Client::ack) once the message is processed.
    pub ack: Option<AckHandle>,
}

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The application asked ([`Client::disconnect`](crate::Client::disconnect)).
    Requested,
    /// The server refused the CONNECT with this reason (3.1.1 return codes mapped).
    Refused(ReasonCode),
    /// The server sent DISCONNECT (MQTT 5) with this reason and optional reason string.
    ByServer(ReasonCode, Option<MqttString>),
    /// No CONNACK or PINGRESP within the response timeout.
    Timeout,
    /// The network connection was lost ([`Client::connection_lost`](crate::Client::connection_lost)).
    ConnectionLost,
    /// The server broke the protocol; the client closed the connection (MQTT 5: after a
    /// DISCONNECT with the reason).
    ProtocolError(ClientError),
}

/// An output of the client, pulled with [`Client::poll_event`](crate::Client::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The CONNACK accepted the connection.
    Connected {
        /// Whether the server resumed the session.
        session_present: bool,
        /// The identifier the server assigned (MQTT 5, when the client sent none).
        assigned_client_id: Option<MqttString>,
        /// What the server allows.
        limits: ServerLimits,
    },
    /// The client had session state but the server started a new session: what it had in
    /// flight is sent again as new messages (a QoS 1 or 2 message the server had received
    /// but not acknowledged may arrive twice), except QoS 2 messages whose PUBREC had come,
    /// which complete as delivered; received QoS 2 state is dropped.
    SessionLost {
        /// Publishes sent again.
        republished: usize,
    },
    /// A message arrived.
    Message(IncomingMessage),
    /// A QoS 1/2 publish is complete (PUBACK, PUBCOMP, or a PUBREC with an error), or a
    /// queued one could not be sent under the server's limits.
    PublishCompleted {
        /// The handle [`Client::publish`](crate::Client::publish) returned.
        id: PublishId,
        /// The result: Success (or No Matching Subscribers) or the error reason.
        reason_code: ReasonCode,
    },
    /// SUBACK: one reason code (granted QoS or error) per filter, in order.
    Subscribed {
        /// The packet id [`Client::subscribe`](crate::Client::subscribe) returned.
        packet_id: PacketId,
        /// The codes.
        reason_codes: Vec<ReasonCode>,
    },
    /// UNSUBACK (MQTT 5 codes; Success for each filter under 3.1.1).
    Unsubscribed {
        /// The packet id [`Client::unsubscribe`](crate::Client::unsubscribe) returned.
        packet_id: PacketId,
        /// The codes.
        reason_codes: Vec<ReasonCode>,
    },
    /// A SUBSCRIBE or UNSUBSCRIBE made while connecting could not be sent under the
    /// server's limits (its Maximum Packet Size); it is dropped.
    RequestFailed {
        /// The packet id the request returned.
        packet_id: PacketId,
        /// Why.
        error: ClientError,
    },
    /// PINGRESP arrived.
    Pong,
    /// MQTT 5 enhanced authentication: the server continues the exchange; answer with
    /// [`Client::authenticate`](crate::Client::authenticate).
    AuthChallenge {
        /// The AUTH reason code (Continue authentication or Re-authenticate).
        reason_code: ReasonCode,
        /// Method and data.
        properties: Properties<AuthProperties>,
    },
    /// The connection is over: close the socket. Session state is kept for the next
    /// [`Client::connect`](crate::Client::connect).
    Disconnected(DisconnectReason),
}
