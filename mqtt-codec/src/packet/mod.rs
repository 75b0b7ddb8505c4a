//! The packet types and the dispatch from a fixed header to each packet's body codec.
//!
//! Each body module reads a body that is exactly the remaining length (the caller checks
//! that nothing is left over), computes its exact encoded length, checks what the wire
//! cannot carry, and writes itself.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

use alloc::boxed::Box;

use bytes::{BufMut, Bytes, BytesMut};

pub use ack::PublishAck;
pub use auth::Auth;
pub use connack::ConnAck;
pub(crate) use connect::announced_version;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::{FixedHeader, PacketType};
use crate::reason::ReasonCode;
use crate::varint::{self, MAX_VARIABLE_BYTE_INTEGER};
use crate::version::ProtocolVersion;
use crate::wire;

/// An MQTT control packet of any version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT: client request to connect (boxed: once per connection, and the largest
    /// packet struct, which would otherwise size every PUBLISH moved through the decoder).
    Connect(Box<Connect>),
    /// CONNACK: connect acknowledgement (boxed, like CONNECT).
    ConnAck(Box<ConnAck>),
    /// PUBLISH: an application message.
    Publish(Publish),
    /// PUBACK: QoS 1 acknowledgement.
    PubAck(PublishAck),
    /// PUBREC: QoS 2 publish received.
    PubRec(PublishAck),
    /// PUBREL: QoS 2 publish release.
    PubRel(PublishAck),
    /// PUBCOMP: QoS 2 publish complete.
    PubComp(PublishAck),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5 only).
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes one whole packet: `header` parsed from the front of the packet (for the same
    /// `version`) and `body` exactly its remaining length, sliced from the input so the
    /// packet's fields share it. [`crate::Decoder`] does the framing; this is for transports
    /// that frame packets themselves.
    ///
    /// `version` is the connection's version; a CONNECT is decoded by the version it
    /// announces itself, and any other packet while `version` is `None` is
    /// [`DecodeError::ConnectExpected`].
    pub fn decode(
        header: &FixedHeader,
        mut body: Bytes,
        version: Option<ProtocolVersion>,
    ) -> Result<Self, DecodeError> {
        let packet_type = header.packet_type();
        if body.len() != header.remaining_length() as usize {
            return Err(DecodeError::Truncated);
        }
        // A header parsed before the version was known lets AUTH through; it exists only in
        // MQTT 5.
        if packet_type == PacketType::Auth && version.is_some_and(|v| !v.is_v5()) {
            return Err(DecodeError::InvalidPacketType(PacketType::Auth as u8));
        }
        // A CONNECT announces its own version; anything else needs the connection's.
        let version = match (packet_type, version) {
            (PacketType::Connect, _) => announced_version(&body),
            (_, version @ Some(_)) => version,
            (_, None) => return Err(DecodeError::ConnectExpected),
        };
        // MQTT 5 requires minimal variable byte integers, the remaining length included
        // [MQTT-1.5.5-1]; 3.1.1 does not say so, and old clients are tolerated.
        if version.is_some_and(ProtocolVersion::is_v5) && !header.minimal_length {
            return Err(DecodeError::NonMinimalVariableByteInteger);
        }
        // Only a CONNECT with an invalid name or level has no version; it fails in `read`.
        let version = version.unwrap_or(ProtocolVersion::V5);
        let body = &mut body;
        let packet = match packet_type {
            // The hot path returns the packet straight from its body decoder: the payload
            // takes the rest of the body, so nothing can trail a PUBLISH.
            PacketType::Publish => {
                return Ok(Self::Publish(Publish::read(header.flags(), body, version)?))
            }
            PacketType::Connect => Self::Connect(Box::new(Connect::read(body)?)),
            PacketType::ConnAck => Self::ConnAck(Box::new(ConnAck::read(body, version)?)),
            PacketType::PubAck => Self::PubAck(PublishAck::read(body, version, packet_type)?),
            PacketType::PubRec => Self::PubRec(PublishAck::read(body, version, packet_type)?),
            PacketType::PubRel => Self::PubRel(PublishAck::read(body, version, packet_type)?),
            PacketType::PubComp => Self::PubComp(PublishAck::read(body, version, packet_type)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::read(body, version)?),
            PacketType::SubAck => Self::SubAck(SubAck::read(body, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::read(body, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::read(body, version)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::read(body, version)?),
            PacketType::Auth => Self::Auth(Auth::read(body)?),
        };
        wire::expect_end(body)?;
        Ok(packet)
    }

    /// The number of bytes after the fixed header when encoded for `version`
    /// (a CONNECT always uses its own `protocol_version`).
    pub fn remaining_len(&self, version: ProtocolVersion) -> usize {
        self.body().remaining_len(version)
    }

    /// The exact number of bytes [`Packet::encode`] writes for `version`.
    pub fn encoded_len(&self, version: ProtocolVersion) -> usize {
        let remaining = self.remaining_len(version);
        1 + varint::len(remaining) + remaining
    }

    /// Encodes the packet for `version` into `buf`, reserving exactly
    /// [`Packet::encoded_len`] bytes first. On error nothing is written.
    ///
    /// Fields that `version` cannot carry (properties and reason codes before MQTT 5, the
    /// MQTT 5 subscription options before MQTT 5) are left out, as the wire demands.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        // One dispatch, then everything inlined for the packet type.
        match self {
            Self::Connect(p) => encode_body(&**p, PacketType::Connect, version, buf),
            Self::ConnAck(p) => encode_body(&**p, PacketType::ConnAck, version, buf),
            Self::Publish(p) => encode_body(p, PacketType::Publish, version, buf),
            Self::PubAck(p) => encode_body(p, PacketType::PubAck, version, buf),
            Self::PubRec(p) => encode_body(p, PacketType::PubRec, version, buf),
            Self::PubRel(p) => encode_body(p, PacketType::PubRel, version, buf),
            Self::PubComp(p) => encode_body(p, PacketType::PubComp, version, buf),
            Self::Subscribe(p) => encode_body(p, PacketType::Subscribe, version, buf),
            Self::SubAck(p) => encode_body(p, PacketType::SubAck, version, buf),
            Self::Unsubscribe(p) => encode_body(p, PacketType::Unsubscribe, version, buf),
            Self::UnsubAck(p) => encode_body(p, PacketType::UnsubAck, version, buf),
            Self::PingReq => encode_body(&(), PacketType::PingReq, version, buf),
            Self::PingResp => encode_body(&(), PacketType::PingResp, version, buf),
            Self::Disconnect(p) => encode_body(p, PacketType::Disconnect, version, buf),
            Self::Auth(p) => encode_body(p, PacketType::Auth, version, buf),
        }
    }

    /// The packet's body, for the uses that need no speed.
    fn body(&self) -> &dyn Body {
        match self {
            Self::Connect(p) => &**p,
            Self::ConnAck(p) => &**p,
            Self::Publish(p) => p,
            Self::PubAck(p) | Self::PubRec(p) | Self::PubRel(p) | Self::PubComp(p) => p,
            Self::Subscribe(p) => p,
            Self::SubAck(p) => p,
            Self::Unsubscribe(p) => p,
            Self::UnsubAck(p) => p,
            Self::PingReq | Self::PingResp => &(),
            Self::Disconnect(p) => p,
            Self::Auth(p) => p,
        }
    }
}

/// How a packet body (everything after the fixed header) is checked, sized and written.
trait Body {
    /// The low four bits of the first byte.
    fn flags(&self, packet_type: PacketType) -> u8 {
        packet_type.fixed_flags().unwrap_or(0)
    }
    /// Everything that would make the encoding invalid, checked before writing.
    fn check(&self, version: ProtocolVersion, packet_type: PacketType) -> Result<(), EncodeError>;
    /// The number of bytes [`Body::write`] writes.
    fn remaining_len(&self, version: ProtocolVersion) -> usize;
    /// Writes the body; [`Body::check`] passed.
    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut);
}

/// Checks, sizes and writes one packet: the fixed header, then the body, with one
/// reservation of exactly the packet's size.
fn encode_body(
    body: &impl Body,
    packet_type: PacketType,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    body.check(version, packet_type)?;
    let remaining = body.remaining_len(version);
    if remaining > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge(remaining));
    }
    buf.reserve(1 + varint::len(remaining) + remaining);
    buf.put_u8((packet_type as u8) << 4 | body.flags(packet_type));
    varint::write(buf, remaining);
    body.write(version, buf);
    Ok(())
}

/// PINGREQ and PINGRESP: no body.
impl Body for () {
    fn check(&self, _: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        Ok(())
    }
    fn remaining_len(&self, _: ProtocolVersion) -> usize {
        0
    }
    fn write(&self, _: ProtocolVersion, _: &mut BytesMut) {}
}

/// Reads an MQTT 5 reason code and checks that `packet` may carry it (v5 section 2.4).
pub(crate) fn read_reason_code(
    body: &mut Bytes,
    packet: PacketType,
) -> Result<ReasonCode, DecodeError> {
    let byte = wire::read_u8(body)?;
    let code = ReasonCode::from_u8(byte).ok_or(DecodeError::UnknownReasonCode(byte))?;
    if !code.allowed_in(packet) {
        return Err(DecodeError::ReasonCodeNotAllowed { code, packet });
    }
    Ok(code)
}

/// Checks that `packet` may carry `code` before encoding it.
pub(crate) fn check_reason_code(code: ReasonCode, packet: PacketType) -> Result<(), EncodeError> {
    if code.allowed_in(packet) {
        Ok(())
    } else {
        Err(EncodeError::ReasonCodeNotAllowed { code, packet })
    }
}

/// Length of a body that is an optional reason code and optional properties (DISCONNECT,
/// AUTH, and the MQTT 5 acks after their packet identifier): nothing when Success and no properties, the code alone when no properties.
pub(crate) fn reason_and_properties_len(
    v5: bool,
    reason_code: ReasonCode,
    properties_empty: bool,
    properties_len: usize,
) -> usize {
    if !v5 {
        0
    } else if !properties_empty {
        1 + properties_len
    } else if reason_code != ReasonCode::Success {
        1
    } else {
        0
    }
}
