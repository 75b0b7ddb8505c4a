//! A zero-copy, streaming, strictly validating codec for MQTT 3.1, 3.1.1 and 5.0.
//!
//! - **Zero-copy**: decoding splits the packet off the input [`bytes::BytesMut`] and hands out
//!   [`bytes::Bytes`] slices of it for topics, payloads, client ids, credentials and string or
//!   binary properties. Strings are [`MqttString`]s: UTF-8 checked once, never copied.
//! - **Streaming**: [`Decoder::decode`] returns `Ok(None)` until a whole packet is buffered and
//!   rejects a packet larger than the configured maximum as soon as its fixed header is read.
//! - **Strict**: every malformed-packet rule of the specifications is a [`DecodeError`] variant
//!   with the MQTT 5 [`ReasonCode`] a server or client answers it with.
//! - **Exact encoding**: [`Packet::encoded_len`] is computed first, then [`Packet::encode`]
//!   writes exactly that many bytes into a [`bytes::BytesMut`] with one reservation. Encoding
//!   refuses ([`EncodeError`]) what a conforming receiver would refuse.
//!
//! A decoded slice keeps the whole receive buffer it came from alive. That is what makes
//! fan-out free, but something kept for long (a small retained payload, a session's client
//! id) is better copied with `Bytes::copy_from_slice` so it does not pin a large buffer.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mqtt_codec::{Decoder, MqttString, Packet, ProtocolVersion, Publish, QoS};
//!
//! let topic = MqttString::from_static("home/kitchen/temp");
//! let publish = Publish::new(topic, Bytes::from_static(b"21.5"));
//! let mut wire = BytesMut::new();
//! Packet::Publish(publish.clone()).encode(ProtocolVersion::V3_1_1, &mut wire).unwrap();
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
//! let mut input = BytesMut::new();
//! // Byte-by-byte input: `Ok(None)` until the packet is complete.
//! for (i, byte) in wire.iter().enumerate() {
//!     input.extend_from_slice(&[*byte]);
//!     let decoded = decoder.decode(&mut input).unwrap();
//!     if i + 1 < wire.len() {
//!         assert!(decoded.is_none());
//!     } else {
//!         assert_eq!(decoded, Some(Packet::Publish(publish.clone())));
//!     }
//! }
//! assert_eq!(publish.qos, QoS::AtMostOnce);
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod decoder;
mod error;
mod fixed_header;
mod packet;
mod properties;
mod qos;
mod reason;
mod strings;
mod varint;
mod version;
mod wire;

pub use decoder::{Decoder, DEFAULT_MAX_PACKET_SIZE};
pub use error::{DecodeError, EncodeError};
pub use fixed_header::{FixedHeader, PacketType};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, Publish, PublishAck, RetainHandling, SubAck,
    Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    Properties, PropertyId, PublishProperties, SubscribeProperties, SubscriptionId,
    UnsubscribeProperties, UserProperty, WillProperties,
};
pub use qos::{PacketId, QoS};
pub use reason::ReasonCode;
pub use strings::{InvalidString, MqttString};
pub use varint::MAX_VARIABLE_BYTE_INTEGER;
pub use version::ProtocolVersion;
