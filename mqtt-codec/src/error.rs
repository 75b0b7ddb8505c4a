//! Typed decode and encode errors, each mapped to the MQTT 5 reason code it calls for.

use crate::fixed_header::PacketType;
use crate::reason::ReasonCode;

/// Why bytes received from a peer are not a valid MQTT packet.
///
/// Every variant is one rule of the specifications. Decode errors are fatal for the
/// connection and sticky: the [`crate::Decoder`] returns the same error from then on. The
/// receiver answers with [`DecodeError::reason_code`] where MQTT 5 allows it (a CONNACK to a
/// failed MQTT 5 CONNECT, a DISCONNECT after the CONNACK) and closes. A 3.1.1 server closes
/// without a CONNACK when a CONNECT is malformed [MQTT-3.1.4-1]; for a failed CONNECT,
/// [`crate::Decoder::version`] tells which version the client announced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A variable byte integer (remaining length, property length, identifier) has a fifth
    /// continuation byte [MQTT-1.5.5-1] (3.1.1: section 2.2.3).
    #[error("variable byte integer longer than 4 bytes")]
    VariableByteIntegerTooLong,
    /// An MQTT 5 variable byte integer does not use the minimal number of bytes [MQTT-1.5.5-1].
    #[error("variable byte integer not minimally encoded")]
    NonMinimalVariableByteInteger,
    /// The packet is larger than the configured maximum packet size; detected from the
    /// fixed header, before the body is buffered (v5 sections 3.1.2.11.4, 3.2.2.3.6; 0x95).
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Total size announced by the fixed header.
        size: u64,
        /// The configured maximum.
        max: u32,
    },
    /// Packet type 0 (reserved), or 15 (AUTH) outside MQTT 5 (3.1.1 table 2.1, v5 table 2-1).
    #[error("invalid packet type {0}")]
    InvalidPacketType(u8),
    /// Reserved fixed-header flags are not the values the specification fixes for the packet
    /// type (3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]; v5 [MQTT-2.1.3-1]; [MQTT-3.6.1-1],
    /// [MQTT-3.8.1-1], [MQTT-3.10.1-1]).
    #[error("invalid fixed header flags {flags:#06b} for {packet_type:?}")]
    InvalidHeaderFlags {
        /// The packet type.
        packet_type: PacketType,
        /// The low four bits of the first byte.
        flags: u8,
    },
    /// QoS bits set to 3 in a PUBLISH [MQTT-3.3.1-4], a will (3.1.1 [MQTT-3.1.2-14], v5
    /// [MQTT-3.1.2-12]) or a 3.1.1 subscription [MQTT-3-8.3-4].
    #[error("QoS 3 is not a valid quality of service")]
    InvalidQoS,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQos0,
    /// Packet identifier 0 where a non-zero one is required [MQTT-2.3.1-1] (v5 [MQTT-2.2.1-3]).
    #[error("packet identifier 0")]
    ZeroPacketId,
    /// The packet ends before a field it must contain.
    #[error("packet truncated: a field runs past the end of the packet")]
    Truncated,
    /// Bytes left after the last field of a packet (the remaining length is too long).
    #[error("{0} unexpected bytes after the end of the packet")]
    TrailingBytes(usize),
    /// A UTF-8 string field is ill-formed or encodes a surrogate [MQTT-1.5.4-1]
    /// (3.1.1 [MQTT-1.5.3-1]).
    #[error("string is not well-formed UTF-8")]
    InvalidUtf8,
    /// A UTF-8 string field contains U+0000 [MQTT-1.5.4-2] (3.1.1 [MQTT-1.5.3-2]).
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// A PUBLISH or will topic name contains `+` or `#` [MQTT-3.3.2-2].
    #[error("wildcard character in a topic name")]
    WildcardInTopicName,
    /// An empty PUBLISH topic name without a topic alias (3.1.1 [MQTT-4.7.3-1],
    /// v5 [MQTT-3.3.2-1] and section 3.3.2.3.4).
    #[error("empty topic name without a topic alias")]
    EmptyTopicName,
    /// A SUBSCRIBE without any topic filter (3.1.1 [MQTT-3.8.3-3], v5 [MQTT-3.8.3-2]).
    #[error("SUBSCRIBE without topic filters")]
    EmptySubscribe,
    /// An empty topic filter in a SUBSCRIBE or UNSUBSCRIBE: topic filters are at least one
    /// character long [MQTT-4.7.3-1] (other filter rules are `mqtt-topic`'s, answered per
    /// filter in the SUBACK).
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// An UNSUBSCRIBE without any topic filter [MQTT-3.10.3-2].
    #[error("UNSUBSCRIBE without topic filters")]
    EmptyUnsubscribe,
    /// Reserved bits of a subscription options byte are set [MQTT-3.8.3-5]
    /// (3.1.1 [MQTT-3-8.3-4]).
    #[error("reserved subscription option bits set: {0:#010b}")]
    ReservedSubscriptionOptionBits(u8),
    /// Maximum QoS 3 in MQTT 5 subscription options: a Protocol Error (v5 section 3.8.3.1;
    /// under 3.1.1 it is malformed [MQTT-3-8.3-4], [`DecodeError::InvalidQoS`]).
    #[error("subscription QoS 3")]
    InvalidSubscriptionQoS,
    /// Retain Handling 3 in MQTT 5 subscription options (v5 section 3.8.3.1).
    #[error("retain handling 3 is not valid")]
    InvalidRetainHandling,
    /// The CONNECT protocol name is not `MQTT` (or `MQIsdp` for level 3) [MQTT-3.1.2-1].
    #[error("invalid protocol name")]
    InvalidProtocolName,
    /// The CONNECT protocol level is not 3, 4 or 5 for its protocol name [MQTT-3.1.2-2].
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// The reserved bit 0 of the CONNECT flags is set [MQTT-3.1.2-3].
    #[error("reserved CONNECT flag set")]
    ReservedConnectFlag,
    /// Will QoS or Will Retain set without the Will Flag [MQTT-3.1.2-11], [MQTT-3.1.2-13],
    /// [MQTT-3.1.2-15].
    #[error("will QoS or will retain set without a will")]
    InconsistentWillFlags,
    /// Password flag set without the user name flag in MQTT 3.1 / 3.1.1 [MQTT-3.1.2-22].
    #[error("password without user name")]
    PasswordWithoutUsername,
    /// The CONNACK acknowledge flags have reserved bits set (v5 [MQTT-3.2.2-1]; 3.1.1
    /// section 3.2.2.1).
    #[error("reserved CONNACK flags set")]
    ReservedConnAckFlags,
    /// Session present set in a CONNACK that refuses the connection [MQTT-3.2.2-4]
    /// (v5 [MQTT-3.2.2-6]).
    #[error("session present set with a non-zero CONNACK code")]
    SessionPresentOnRefusal,
    /// Authentication Data without an Authentication Method (v5 sections 3.1.2.11.10,
    /// 3.2.2.3.18), or an AUTH continuing or starting re-authentication without one
    /// (v5 section 3.15.2.2.2).
    #[error("authentication method missing")]
    MissingAuthenticationMethod,
    /// A SUBACK, or an MQTT 5 UNSUBACK, without any reason code: it answers no request, since
    /// every SUBSCRIBE and UNSUBSCRIBE has a filter [MQTT-3.9.3-1], [MQTT-3.11.3-1].
    #[error("acknowledgement without reason codes")]
    MissingReasonCodes,
    /// A property identifier the specification does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property that may appear at most once appears again (v5 section 2.2.2.2).
    #[error("duplicate property {0:?}")]
    DuplicateProperty(crate::PropertyId),
    /// A property not allowed in this packet (v5 section 2.2.2.2).
    #[error("property {property:?} not allowed in {packet:?}")]
    PropertyNotAllowed {
        /// The property.
        property: crate::PropertyId,
        /// The packet (or `Connect` for the will properties).
        packet: PacketType,
    },
    /// The property length runs past the end of the packet, or a property value runs past
    /// the property length.
    #[error("properties truncated")]
    TruncatedProperties,
    /// A property value outside its allowed range: 0 for Receive Maximum, Maximum Packet Size,
    /// Topic Alias [MQTT-3.3.2-8] or Subscription Identifier; a byte flag other than 0 or 1;
    /// Maximum QoS above 1; an empty Response Topic [MQTT-4.7.3-1] or one with wildcards
    /// [MQTT-3.3.2-14].
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(crate::PropertyId),
    /// A reason code byte the specification does not define (or a 3.1.1 CONNACK return
    /// code above 5, a SUBACK return code other than 0, 1, 2, 0x80).
    #[error("unknown reason code {0:#04x}")]
    UnknownReasonCode(u8),
    /// A defined reason code that is not allowed in this packet (v5 section 2.4).
    #[error("reason code {code:?} not allowed in {packet:?}")]
    ReasonCodeNotAllowed {
        /// The reason code.
        code: ReasonCode,
        /// The packet type.
        packet: PacketType,
    },
    /// The decoder does not know the protocol version yet and the packet is not a CONNECT,
    /// which must come first [MQTT-3.1.0-1].
    #[error("first packet is not CONNECT")]
    ConnectExpected,
}

impl DecodeError {
    /// The MQTT 5 reason code to answer this error with (in CONNACK before a session exists,
    /// in DISCONNECT after). MQTT 3.1.1 peers simply get the connection closed.
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::InvalidProtocolName | Self::UnsupportedProtocolLevel(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            Self::WildcardInTopicName => ReasonCode::TopicNameInvalid,
            // A Topic Alias of 0 is answered 0x94 (v5 [MQTT-3.3.2-8], section 3.3.4).
            Self::InvalidPropertyValue(crate::PropertyId::TopicAlias) => {
                ReasonCode::TopicAliasInvalid
            }
            Self::EmptyTopicName
            | Self::EmptySubscribe
            | Self::EmptyUnsubscribe
            | Self::InvalidSubscriptionQoS
            | Self::InvalidRetainHandling
            | Self::MissingAuthenticationMethod
            | Self::MissingReasonCodes
            | Self::DuplicateProperty(_)
            | Self::InvalidPropertyValue(_)
            | Self::ReasonCodeNotAllowed { .. }
            | Self::SessionPresentOnRefusal
            | Self::ConnectExpected => ReasonCode::ProtocolError,
            Self::VariableByteIntegerTooLong
            | Self::NonMinimalVariableByteInteger
            | Self::InvalidPacketType(_)
            | Self::InvalidHeaderFlags { .. }
            | Self::InvalidQoS
            | Self::DupOnQos0
            | Self::ZeroPacketId
            | Self::Truncated
            | Self::TrailingBytes(_)
            | Self::InvalidUtf8
            | Self::NullCharacter
            | Self::ReservedSubscriptionOptionBits(_)
            | Self::EmptyTopicFilter
            | Self::ReservedConnectFlag
            | Self::InconsistentWillFlags
            | Self::PasswordWithoutUsername
            | Self::ReservedConnAckFlags
            | Self::UnknownProperty(_)
            | Self::PropertyNotAllowed { .. }
            | Self::TruncatedProperties
            | Self::UnknownReasonCode(_) => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet value cannot be written to the wire. Checked before any byte is written,
/// so a failed encode leaves the output buffer unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The remaining length exceeds 268,435,455, the largest a fixed header can carry.
    #[error("remaining length {0} exceeds the 268,435,455 bytes MQTT can frame")]
    PacketTooLarge(usize),
    /// A binary field (password, will payload, correlation or authentication data) is longer
    /// than the 65,535 bytes a two-byte length allows.
    #[error("binary field of {0} bytes exceeds 65,535 bytes")]
    BinaryTooLong(usize),
    /// A PUBLISH with QoS 0 carries a packet identifier, or one with QoS 1 or 2 has none
    /// [MQTT-2.3.1-5], [MQTT-2.3.1-1].
    #[error("packet identifier present on QoS 0 or missing on QoS 1/2")]
    PacketIdMismatch,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQos0,
    /// A SUBSCRIBE or UNSUBSCRIBE without filters (3.1.1 [MQTT-3.8.3-3], v5 [MQTT-3.8.3-2];
    /// [MQTT-3.10.3-2]).
    #[error("SUBSCRIBE or UNSUBSCRIBE without topic filters")]
    NoTopicFilters,
    /// A SUBACK, or an MQTT 5 UNSUBACK, without reason codes [MQTT-3.9.3-1], [MQTT-3.11.3-1].
    #[error("SUBACK or UNSUBACK without reason codes")]
    NoReasonCodes,
    /// Authentication Data without an Authentication Method, or an AUTH other than Success
    /// without one (v5 sections 3.1.2.11.10, 3.15.2.2.2).
    #[error("authentication method missing")]
    MissingAuthenticationMethod,
    /// A reason code the packet may not carry (v5 section 2.4).
    #[error("reason code {code:?} not allowed in {packet:?}")]
    ReasonCodeNotAllowed {
        /// The reason code.
        code: ReasonCode,
        /// The packet type.
        packet: PacketType,
    },
    /// The packet does not exist in this protocol version (AUTH before MQTT 5).
    #[error("{0:?} does not exist before MQTT 5")]
    NotInVersion(PacketType),
    /// A password without a user name, which MQTT 3.1 and 3.1.1 cannot carry [MQTT-3.1.2-22].
    #[error("password without user name before MQTT 5")]
    PasswordWithoutUsername,
    /// Session present set on a refusing CONNACK (3.1.1 [MQTT-3.2.2-4], v5 [MQTT-3.2.2-6]).
    #[error("session present set with a non-zero CONNACK code")]
    SessionPresentOnRefusal,
    /// An empty topic filter in a SUBSCRIBE or UNSUBSCRIBE [MQTT-4.7.3-1].
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// A PUBLISH or will topic name with a wildcard [MQTT-3.3.2-2], or empty (allowed only
    /// for an MQTT 5 PUBLISH with a Topic Alias [MQTT-4.7.3-1]).
    #[error("invalid topic name: empty or with a wildcard")]
    InvalidTopicName,
    /// A property value the receiver would refuse: Maximum QoS 2 (v5 3.2.2.3.4), a Response
    /// Topic that is empty [MQTT-4.7.3-1] or has wildcards [MQTT-3.3.2-14].
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(crate::PropertyId),
}
