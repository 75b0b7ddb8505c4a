//! MQTT 5 properties (v5 section 2.2.2): one table of identifiers and value types, and one
//! property set per packet generated from it.
//!
//! Each packet's property set lists exactly the properties the specification allows in that
//! packet, so a disallowed property is unrepresentable when encoding and a typed error when
//! decoding. Single-valued properties are `Option`s and a second occurrence is a
//! [`DecodeError::DuplicateProperty`]; User Property (and Subscription Identifier in PUBLISH)
//! are `Vec`s that keep the wire order [MQTT-3.3.2-18].

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};
use core::ops::{Deref, DerefMut};

use bytes::{Buf, BufMut, Bytes};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::qos::QoS;
use crate::strings::MqttString;
use crate::varint::{self, MAX_VARIABLE_BYTE_INTEGER};
use crate::version::ProtocolVersion;
use crate::wire;

/// A property identifier (v5 section 2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum PropertyId {
    /// 0x01, byte: PUBLISH, will.
    PayloadFormatIndicator = 0x01,
    /// 0x02, four-byte integer: PUBLISH, will.
    MessageExpiryInterval = 0x02,
    /// 0x03, UTF-8 string: PUBLISH, will.
    ContentType = 0x03,
    /// 0x08, UTF-8 string: PUBLISH, will.
    ResponseTopic = 0x08,
    /// 0x09, binary data: PUBLISH, will.
    CorrelationData = 0x09,
    /// 0x0B, variable byte integer: PUBLISH, SUBSCRIBE.
    SubscriptionIdentifier = 0x0B,
    /// 0x11, four-byte integer: CONNECT, CONNACK, DISCONNECT.
    SessionExpiryInterval = 0x11,
    /// 0x12, UTF-8 string: CONNACK.
    AssignedClientIdentifier = 0x12,
    /// 0x13, two-byte integer: CONNACK.
    ServerKeepAlive = 0x13,
    /// 0x15, UTF-8 string: CONNECT, CONNACK, AUTH.
    AuthenticationMethod = 0x15,
    /// 0x16, binary data: CONNECT, CONNACK, AUTH.
    AuthenticationData = 0x16,
    /// 0x17, byte: CONNECT.
    RequestProblemInformation = 0x17,
    /// 0x18, four-byte integer: will.
    WillDelayInterval = 0x18,
    /// 0x19, byte: CONNECT.
    RequestResponseInformation = 0x19,
    /// 0x1A, UTF-8 string: CONNACK.
    ResponseInformation = 0x1A,
    /// 0x1C, UTF-8 string: CONNACK, DISCONNECT.
    ServerReference = 0x1C,
    /// 0x1F, UTF-8 string: CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK,
    /// DISCONNECT, AUTH.
    ReasonString = 0x1F,
    /// 0x21, two-byte integer: CONNECT, CONNACK.
    ReceiveMaximum = 0x21,
    /// 0x22, two-byte integer: CONNECT, CONNACK.
    TopicAliasMaximum = 0x22,
    /// 0x23, two-byte integer: PUBLISH.
    TopicAlias = 0x23,
    /// 0x24, byte: CONNACK.
    MaximumQoS = 0x24,
    /// 0x25, byte: CONNACK.
    RetainAvailable = 0x25,
    /// 0x26, UTF-8 string pair: every packet with properties.
    UserProperty = 0x26,
    /// 0x27, four-byte integer: CONNECT, CONNACK.
    MaximumPacketSize = 0x27,
    /// 0x28, byte: CONNACK.
    WildcardSubscriptionAvailable = 0x28,
    /// 0x29, byte: CONNACK.
    SubscriptionIdentifierAvailable = 0x29,
    /// 0x2A, byte: CONNACK.
    SharedSubscriptionAvailable = 0x2A,
}

impl PropertyId {
    /// The identifier for its value, or `None` for an undefined one.
    pub const fn from_u32(id: u32) -> Option<Self> {
        Some(match id {
            0x01 => Self::PayloadFormatIndicator,
            0x02 => Self::MessageExpiryInterval,
            0x03 => Self::ContentType,
            0x08 => Self::ResponseTopic,
            0x09 => Self::CorrelationData,
            0x0B => Self::SubscriptionIdentifier,
            0x11 => Self::SessionExpiryInterval,
            0x12 => Self::AssignedClientIdentifier,
            0x13 => Self::ServerKeepAlive,
            0x15 => Self::AuthenticationMethod,
            0x16 => Self::AuthenticationData,
            0x17 => Self::RequestProblemInformation,
            0x18 => Self::WillDelayInterval,
            0x19 => Self::RequestResponseInformation,
            0x1A => Self::ResponseInformation,
            0x1C => Self::ServerReference,
            0x1F => Self::ReasonString,
            0x21 => Self::ReceiveMaximum,
            0x22 => Self::TopicAliasMaximum,
            0x23 => Self::TopicAlias,
            0x24 => Self::MaximumQoS,
            0x25 => Self::RetainAvailable,
            0x26 => Self::UserProperty,
            0x27 => Self::MaximumPacketSize,
            0x28 => Self::WildcardSubscriptionAvailable,
            0x29 => Self::SubscriptionIdentifierAvailable,
            0x2A => Self::SharedSubscriptionAvailable,
            _ => return None,
        })
    }
}

/// A User Property: a name and value pair, repeatable, order kept [MQTT-3.3.2-18].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserProperty {
    /// The name.
    pub name: MqttString,
    /// The value.
    pub value: MqttString,
}

/// A Subscription Identifier: 1 to 268,435,455 (v5 section 3.8.2.1.2; 0 is a Protocol Error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The identifier, or `None` outside 1..=268,435,455.
    pub const fn new(value: u32) -> Option<Self> {
        if value > MAX_VARIABLE_BYTE_INTEGER {
            return None;
        }
        match NonZeroU32::new(value) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// How one property value type is read, sized and written. `id` lets a type enforce the
/// value range of the property it carries.
trait PropertyValue: Sized {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError>;
    fn encoded_len(&self) -> usize;
    fn write(&self, buf: &mut impl BufMut);
    /// Refuses, before encoding, what the receiver's `read` would refuse.
    fn check(&self, _id: PropertyId) -> Result<(), EncodeError> {
        Ok(())
    }
}

/// Byte properties that are flags: 0 or 1, anything else is a Protocol Error
/// (v5 sections 3.1.2.11.6, 3.1.2.11.7, 3.2.2.3.5, 3.2.2.3.11-13, 3.3.2.3.2).
impl PropertyValue for bool {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError> {
        match wire::read_u8(buf)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidPropertyValue(id)),
        }
    }
    fn encoded_len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(u8::from(*self));
    }
}

/// Maximum QoS: 0 or 1; 2 is not sent (absence means 2) (v5 section 3.2.2.3.4).
impl PropertyValue for QoS {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError> {
        match wire::read_u8(buf)? {
            0 => Ok(Self::AtMostOnce),
            1 => Ok(Self::AtLeastOnce),
            _ => Err(DecodeError::InvalidPropertyValue(id)),
        }
    }
    fn encoded_len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(*self as u8);
    }
    fn check(&self, id: PropertyId) -> Result<(), EncodeError> {
        if *self == Self::ExactlyOnce {
            return Err(EncodeError::InvalidPropertyValue(id));
        }
        Ok(())
    }
}

impl PropertyValue for u16 {
    fn read(buf: &mut Bytes, _: PropertyId) -> Result<Self, DecodeError> {
        wire::read_u16(buf)
    }
    fn encoded_len(&self) -> usize {
        2
    }
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u16(*self);
    }
}

/// Receive Maximum and Topic Alias: 0 is a Protocol Error (v5 3.1.2.11.3, [MQTT-3.3.2-8]).
impl PropertyValue for NonZeroU16 {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError> {
        Self::new(wire::read_u16(buf)?).ok_or(DecodeError::InvalidPropertyValue(id))
    }
    fn encoded_len(&self) -> usize {
        2
    }
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.get());
    }
}

impl PropertyValue for u32 {
    fn read(buf: &mut Bytes, _: PropertyId) -> Result<Self, DecodeError> {
        if buf.len() < 4 {
            return Err(DecodeError::Truncated);
        }
        Ok(buf.get_u32())
    }
    fn encoded_len(&self) -> usize {
        4
    }
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u32(*self);
    }
}

/// Maximum Packet Size: 0 is a Protocol Error (v5 sections 3.1.2.11.4, 3.2.2.3.6).
impl PropertyValue for NonZeroU32 {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError> {
        Self::new(u32::read(buf, id)?).ok_or(DecodeError::InvalidPropertyValue(id))
    }
    fn encoded_len(&self) -> usize {
        4
    }
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u32(self.get());
    }
}

impl PropertyValue for SubscriptionId {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError> {
        let value = varint::read(buf, DecodeError::Truncated)?;
        Self::new(value).ok_or(DecodeError::InvalidPropertyValue(id))
    }
    fn encoded_len(&self) -> usize {
        varint::len(self.get() as usize)
    }
    fn write(&self, buf: &mut impl BufMut) {
        varint::write(buf, self.get() as usize);
    }
}

impl PropertyValue for MqttString {
    fn read(buf: &mut Bytes, id: PropertyId) -> Result<Self, DecodeError> {
        if id != PropertyId::ResponseTopic {
            return Self::read(buf);
        }
        // The Response Topic is a topic name: not empty [MQTT-4.7.3-1], no wildcards
        // [MQTT-3.3.2-14].
        match Self::read_topic_name(buf) {
            Ok(topic) if topic.is_empty() => Err(DecodeError::InvalidPropertyValue(id)),
            Err(DecodeError::WildcardInTopicName) => Err(DecodeError::InvalidPropertyValue(id)),
            other => other,
        }
    }
    fn encoded_len(&self) -> usize {
        Self::encoded_len(self)
    }
    fn write(&self, buf: &mut impl BufMut) {
        Self::write(self, buf);
    }
    fn check(&self, id: PropertyId) -> Result<(), EncodeError> {
        if id == PropertyId::ResponseTopic && (self.is_empty() || self.has_wildcard()) {
            return Err(EncodeError::InvalidPropertyValue(id)); // [MQTT-4.7.3-1], [MQTT-3.3.2-14]
        }
        Ok(())
    }
}

/// Binary data (Correlation Data, Authentication Data): sliced from the input.
impl PropertyValue for Bytes {
    fn read(buf: &mut Bytes, _: PropertyId) -> Result<Self, DecodeError> {
        wire::read_binary(buf)
    }
    fn encoded_len(&self) -> usize {
        wire::binary_len(self)
    }
    fn write(&self, buf: &mut impl BufMut) {
        wire::write_binary(buf, self);
    }
    fn check(&self, _id: PropertyId) -> Result<(), EncodeError> {
        wire::check_binary(self)
    }
}

impl PropertyValue for UserProperty {
    fn read(buf: &mut Bytes, _: PropertyId) -> Result<Self, DecodeError> {
        Ok(Self {
            name: MqttString::read(buf)?,
            value: MqttString::read(buf)?,
        })
    }
    fn encoded_len(&self) -> usize {
        self.name.encoded_len() + self.value.encoded_len()
    }
    fn write(&self, buf: &mut impl BufMut) {
        self.name.write(buf);
        self.value.write(buf);
    }
}

/// Reads the property length and splits the property block off `buf`.
fn split_block(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = varint::read(buf, DecodeError::TruncatedProperties)? as usize;
    if len > buf.len() {
        return Err(DecodeError::TruncatedProperties);
    }
    Ok(buf.split_to(len))
}

/// Reads one property value; a value running past the property block is
/// [`DecodeError::TruncatedProperties`].
fn read_value<T: PropertyValue>(block: &mut Bytes, id: PropertyId) -> Result<T, DecodeError> {
    T::read(block, id).map_err(|err| match err {
        DecodeError::Truncated => DecodeError::TruncatedProperties,
        other => other,
    })
}

fn write_one<T: PropertyValue>(buf: &mut impl BufMut, id: PropertyId, value: &T) {
    buf.put_u8(id as u8);
    value.write(buf);
}

/// A packet's MQTT 5 properties, kept out of line: while empty (always under 3.1.1, and for
/// most MQTT 5 traffic) they take one pointer and no allocation, so packets stay small to
/// move and cheap to drop on the PUBLISH hot path.
///
/// It dereferences to the property set (an empty one while nothing is set); the first
/// mutable access allocates it.
///
/// ```
/// use core::num::NonZeroU16;
/// use mqtt_codec::{MqttString, Publish};
/// use bytes::Bytes;
///
/// let mut publish = Publish::new(MqttString::from_static("a/b"), Bytes::new());
/// assert!(publish.properties.is_empty());
/// assert_eq!(publish.properties.topic_alias, None);
/// publish.properties.topic_alias = NonZeroU16::new(7);
/// assert_eq!(publish.properties.topic_alias, NonZeroU16::new(7));
/// ```
#[derive(Clone)]
pub struct Properties<T>(Option<Box<T>>);

impl<T> Default for Properties<T> {
    fn default() -> Self {
        Self(None)
    }
}

macro_rules! property_set {
    (
        $(#[$meta:meta])*
        $name:ident in $packet:ident {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty = $id:ident, )*
        }
        repeated {
            $( $(#[$rmeta:meta])* $rfield:ident: $rty:ty = $rid:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            $( $(#[$rmeta])* pub $rfield: Vec<$rty>, )*
        }

        impl $name {
            /// The empty set that an unallocated [`Properties`] dereferences to.
            const EMPTY: &'static Self = &Self {
                $( $field: None, )*
                $( $rfield: Vec::new(), )*
            };

            /// Whether no property is set (encodes as a single zero length byte).
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* $( && self.$rfield.is_empty() )*
            }

            /// Reads the properties of a non-empty property block.
            fn read_block(mut block: Bytes) -> Result<Self, DecodeError> {
                let mut props = Self::default();
                while !block.is_empty() {
                    let raw = varint::read(&mut block, DecodeError::TruncatedProperties)?;
                    let id = PropertyId::from_u32(raw).ok_or(DecodeError::UnknownProperty(raw))?;
                    match id {
                        $( PropertyId::$id => {
                            if props.$field.is_some() {
                                return Err(DecodeError::DuplicateProperty(id));
                            }
                            props.$field = Some(read_value(&mut block, id)?);
                        } )*
                        $( PropertyId::$rid => props.$rfield.push(read_value(&mut block, id)?), )*
                        #[allow(unreachable_patterns)]
                        _ => {
                            return Err(DecodeError::PropertyNotAllowed {
                                property: id,
                                packet: PacketType::$packet,
                            })
                        }
                    }
                }
                Ok(props)
            }

            /// Length of the properties without the property length prefix.
            fn content_len(&self) -> usize {
                0 $( + self.$field.as_ref().map_or(0, |v| 1 + v.encoded_len()) )*
                  $( + self.$rfield.iter().map(|v| 1 + v.encoded_len()).sum::<usize>() )*
            }

            fn check(&self) -> Result<(), EncodeError> {
                $( if let Some(v) = &self.$field { v.check(PropertyId::$id)?; } )*
                $( for v in &self.$rfield { v.check(PropertyId::$rid)?; } )*
                let len = self.content_len();
                if len > MAX_VARIABLE_BYTE_INTEGER as usize {
                    return Err(EncodeError::PacketTooLarge(len));
                }
                Ok(())
            }

            fn write_content(&self, buf: &mut impl BufMut) {
                $( if let Some(v) = &self.$field { write_one(buf, PropertyId::$id, v); } )*
                $( for v in &self.$rfield { write_one(buf, PropertyId::$rid, v); } )*
            }
        }

        impl Properties<$name> {
            /// Reads the property length and the properties it covers; an empty block
            /// allocates nothing.
            pub(crate) fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
                let block = split_block(buf)?;
                if block.is_empty() {
                    return Ok(Self(None));
                }
                Ok(Self(Some(Box::new($name::read_block(block)?))))
            }

            /// Bytes on the wire, the property length prefix included.
            pub(crate) fn encoded_len(&self) -> usize {
                let len = self.0.as_ref().map_or(0, |p| p.content_len());
                varint::len(len) + len
            }

            /// Checks binary value lengths and the total length before anything is written.
            pub(crate) fn check(&self) -> Result<(), EncodeError> {
                self.0.as_ref().map_or(Ok(()), |p| p.check())
            }

            /// Writes the property length and the properties; [`Self::check`] passed.
            pub(crate) fn write(&self, buf: &mut impl BufMut) {
                match &self.0 {
                    None => buf.put_u8(0),
                    Some(props) => {
                        varint::write(buf, props.content_len());
                        props.write_content(buf);
                    }
                }
            }

            /// [`Self::read`] in MQTT 5; before it a packet has no properties.
            pub(crate) fn read_in(version: ProtocolVersion, buf: &mut Bytes) -> Result<Self, DecodeError> {
                if version.is_v5() { Self::read(buf) } else { Ok(Self(None)) }
            }

            /// [`Self::encoded_len`] in MQTT 5, 0 before it.
            pub(crate) fn encoded_len_in(&self, version: ProtocolVersion) -> usize {
                if version.is_v5() { self.encoded_len() } else { 0 }
            }

            /// [`Self::check`] in MQTT 5; nothing is written before it.
            pub(crate) fn check_in(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
                if version.is_v5() { self.check() } else { Ok(()) }
            }

            /// [`Self::write`] in MQTT 5, nothing before it.
            pub(crate) fn write_in(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
                if version.is_v5() {
                    self.write(buf);
                }
            }
        }

        impl Deref for Properties<$name> {
            type Target = $name;
            fn deref(&self) -> &$name {
                self.0.as_deref().unwrap_or($name::EMPTY)
            }
        }

        impl DerefMut for Properties<$name> {
            fn deref_mut(&mut self) -> &mut $name {
                self.0.get_or_insert_with(Box::default)
            }
        }

        impl From<$name> for Properties<$name> {
            fn from(props: $name) -> Self {
                Self(Some(Box::new(props)))
            }
        }

        impl PartialEq for Properties<$name> {
            /// Compares the property values: an unallocated set equals an empty one.
            fn eq(&self, other: &Self) -> bool {
                **self == **other
            }
        }

        impl Eq for Properties<$name> {}

        impl fmt::Debug for Properties<$name> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }
    };
}

property_set! {
    /// CONNECT properties (v5 section 3.1.2.11).
    ConnectProperties in Connect {
        /// Session Expiry Interval in seconds (absent: 0).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum (absent: 65,535).
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum Packet Size the client accepts.
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Topic Alias Maximum the client accepts (absent: 0).
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Request Response Information.
        request_response_information: bool = RequestResponseInformation,
        /// Request Problem Information.
        request_problem_information: bool = RequestProblemInformation,
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// Will properties in the CONNECT payload (v5 section 3.1.3.2).
    WillProperties in Connect {
        /// Will Delay Interval in seconds.
        will_delay_interval: u32 = WillDelayInterval,
        /// Payload Format Indicator: the payload is UTF-8.
        payload_format_indicator: bool = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Content Type.
        content_type: MqttString = ContentType,
        /// Response Topic (no wildcards [MQTT-3.3.2-14]).
        response_topic: MqttString = ResponseTopic,
        /// Correlation Data.
        correlation_data: Bytes = CorrelationData,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// CONNACK properties (v5 section 3.2.2.3).
    ConnAckProperties in ConnAck {
        /// Session Expiry Interval the server uses.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum of the server (absent: 65,535).
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum QoS the server supports, 0 or 1 (absent: 2).
        maximum_qos: QoS = MaximumQoS,
        /// Retain Available (absent: true).
        retain_available: bool = RetainAvailable,
        /// Maximum Packet Size the server accepts.
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Assigned Client Identifier.
        assigned_client_identifier: MqttString = AssignedClientIdentifier,
        /// Topic Alias Maximum of the server (absent: 0).
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Reason String.
        reason_string: MqttString = ReasonString,
        /// Wildcard Subscription Available (absent: true).
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// Subscription Identifiers Available (absent: true).
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// Shared Subscription Available (absent: true).
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// Server Keep Alive in seconds.
        server_keep_alive: u16 = ServerKeepAlive,
        /// Response Information.
        response_information: MqttString = ResponseInformation,
        /// Server Reference.
        server_reference: MqttString = ServerReference,
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// PUBLISH properties (v5 section 3.3.2.3).
    PublishProperties in Publish {
        /// Payload Format Indicator: the payload is UTF-8.
        payload_format_indicator: bool = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Topic Alias (0 is a Protocol Error [MQTT-3.3.2-8]).
        topic_alias: NonZeroU16 = TopicAlias,
        /// Response Topic (no wildcards [MQTT-3.3.2-14]).
        response_topic: MqttString = ResponseTopic,
        /// Correlation Data.
        correlation_data: Bytes = CorrelationData,
        /// Content Type.
        content_type: MqttString = ContentType,
    }
    repeated {
        /// User Properties, order kept [MQTT-3.3.2-18].
        user_properties: UserProperty = UserProperty,
        /// Subscription Identifiers of the matching subscriptions (server to client only).
        subscription_identifiers: SubscriptionId = SubscriptionIdentifier,
    }
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK
    /// (v5 sections 3.4.2.2, 3.5.2.2, 3.6.2.2, 3.7.2.2, 3.9.2.1, 3.11.2.1).
    AckProperties in PubAck {
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// SUBSCRIBE properties (v5 section 3.8.2.1).
    SubscribeProperties in Subscribe {
        /// Subscription Identifier.
        subscription_identifier: SubscriptionId = SubscriptionIdentifier,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// UNSUBSCRIBE properties (v5 section 3.10.2.1).
    UnsubscribeProperties in Unsubscribe {
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// DISCONNECT properties (v5 section 3.14.2.2).
    DisconnectProperties in Disconnect {
        /// Session Expiry Interval (client to server only [MQTT-3.14.2-2]).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Reason String.
        reason_string: MqttString = ReasonString,
        /// Server Reference.
        server_reference: MqttString = ServerReference,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

property_set! {
    /// AUTH properties (v5 section 3.15.2.2).
    AuthProperties in Auth {
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    repeated {
        /// User Properties.
        user_properties: UserProperty = UserProperty,
    }
}

macro_rules! authentication_rules {
    ($($name:ident),*) => {$(
        impl $name {
            /// Authentication Data is only meaningful with an Authentication Method
            /// (v5 sections 3.1.2.11.10, 3.2.2.3.18).
            pub(crate) fn has_data_without_method(&self) -> bool {
                self.authentication_data.is_some() && self.authentication_method.is_none()
            }
        }
    )*};
}

authentication_rules!(ConnectProperties, ConnAckProperties);

impl Properties<AckProperties> {
    /// [`Self::read_in`], naming the actual packet in a [`DecodeError::PropertyNotAllowed`].
    pub(crate) fn read_ack_in(
        version: ProtocolVersion,
        buf: &mut Bytes,
        packet: PacketType,
    ) -> Result<Self, DecodeError> {
        Self::read_in(version, buf).map_err(|err| match err {
            DecodeError::PropertyNotAllowed { property, .. } => {
                DecodeError::PropertyNotAllowed { property, packet }
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_publish(block: &'static [u8]) -> Result<Properties<PublishProperties>, DecodeError> {
        Properties::<PublishProperties>::read(&mut Bytes::from_static(block))
    }

    #[test]
    fn empty_property_length() {
        let props = read_publish(b"\x00").unwrap();
        assert!(props.0.is_none(), "an empty block allocates nothing");
        assert_eq!(props, Properties::default());
    }

    #[test]
    fn duplicate_single_property_is_protocol_error() {
        // Two Message Expiry Intervals.
        let err = read_publish(b"\x0A\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02").unwrap_err();
        assert_eq!(
            err,
            DecodeError::DuplicateProperty(PropertyId::MessageExpiryInterval)
        );
        assert_eq!(err.reason_code(), crate::ReasonCode::ProtocolError);
    }

    #[test]
    fn repeated_properties_keep_order_mqtt_3_3_2_18() {
        let props = read_publish(b"\x0E\x26\x00\x01a\x00\x01b\x26\x00\x01a\x00\x01c").unwrap();
        let values: Vec<_> = props
            .user_properties
            .iter()
            .map(|p| p.value.as_str())
            .collect();
        assert_eq!(values, ["b", "c"]);
    }

    #[test]
    fn property_not_allowed_is_malformed() {
        // Session Expiry Interval in PUBLISH.
        let err = read_publish(b"\x05\x11\x00\x00\x00\x01").unwrap_err();
        assert_eq!(
            err,
            DecodeError::PropertyNotAllowed {
                property: PropertyId::SessionExpiryInterval,
                packet: PacketType::Publish
            }
        );
        assert_eq!(err.reason_code(), crate::ReasonCode::MalformedPacket);
    }

    #[test]
    fn unknown_property_is_malformed() {
        assert_eq!(
            read_publish(b"\x02\x04\x00"),
            Err(DecodeError::UnknownProperty(0x04))
        );
    }

    #[test]
    fn truncated_property_length_and_value() {
        // Property length 5 but only 2 bytes follow.
        assert_eq!(
            read_publish(b"\x05\x02\x00"),
            Err(DecodeError::TruncatedProperties)
        );
        // Four-byte integer cut after two bytes inside a block of 3.
        assert_eq!(
            read_publish(b"\x03\x02\x00\x00"),
            Err(DecodeError::TruncatedProperties)
        );
        // Missing property length.
        assert_eq!(read_publish(b""), Err(DecodeError::TruncatedProperties));
    }

    #[test]
    fn mqtt_3_3_2_8_topic_alias_zero_is_protocol_error() {
        assert_eq!(
            read_publish(b"\x03\x23\x00\x00"),
            Err(DecodeError::InvalidPropertyValue(PropertyId::TopicAlias))
        );
    }

    #[test]
    fn flag_byte_other_than_0_or_1_is_protocol_error() {
        assert_eq!(
            read_publish(b"\x02\x01\x02"),
            Err(DecodeError::InvalidPropertyValue(
                PropertyId::PayloadFormatIndicator
            ))
        );
    }

    #[test]
    fn mqtt_3_3_2_14_response_topic_without_wildcards() {
        assert_eq!(
            read_publish(b"\x06\x08\x00\x03a/#"),
            Err(DecodeError::InvalidPropertyValue(PropertyId::ResponseTopic))
        );
    }

    #[test]
    fn subscription_identifier_zero_is_protocol_error() {
        assert_eq!(
            read_publish(b"\x02\x0B\x00"),
            Err(DecodeError::InvalidPropertyValue(
                PropertyId::SubscriptionIdentifier
            ))
        );
    }

    #[test]
    fn maximum_qos_two_is_protocol_error() {
        let err = Properties::<ConnAckProperties>::read(&mut Bytes::from_static(b"\x02\x24\x02"))
            .unwrap_err();
        assert_eq!(
            err,
            DecodeError::InvalidPropertyValue(PropertyId::MaximumQoS)
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let props = PublishProperties {
            message_expiry_interval: Some(60),
            topic_alias: NonZeroU16::new(3),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            subscription_identifiers: alloc::vec![
                SubscriptionId::new(1).unwrap(),
                SubscriptionId::new(300).unwrap()
            ],
            user_properties: alloc::vec![UserProperty {
                name: MqttString::from_static("k"),
                value: MqttString::from_static("v"),
            }],
            ..PublishProperties::default()
        };
        let props = Properties::from(props);
        props.check().unwrap();
        let mut out = bytes::BytesMut::new();
        props.write(&mut out);
        assert_eq!(out.len(), props.encoded_len());
        assert_eq!(
            Properties::<PublishProperties>::read(&mut out.freeze()).unwrap(),
            props
        );
    }
}
