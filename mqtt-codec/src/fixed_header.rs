//! The fixed header: packet type, flags and remaining length (v5 section 2.1, 3.1.1 section 2.2).

use crate::error::DecodeError;
use crate::varint::{self, VarInt};
use crate::version::ProtocolVersion;

/// The MQTT control packet type (the high four bits of the first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// 1: Client request to connect.
    Connect = 1,
    /// 2: Connect acknowledgment.
    ConnAck = 2,
    /// 3: Publish message.
    Publish = 3,
    /// 4: Publish acknowledgment (QoS 1).
    PubAck = 4,
    /// 5: Publish received (QoS 2 delivery part 1).
    PubRec = 5,
    /// 6: Publish release (QoS 2 delivery part 2).
    PubRel = 6,
    /// 7: Publish complete (QoS 2 delivery part 3).
    PubComp = 7,
    /// 8: Subscribe request.
    Subscribe = 8,
    /// 9: Subscribe acknowledgment.
    SubAck = 9,
    /// 10: Unsubscribe request.
    Unsubscribe = 10,
    /// 11: Unsubscribe acknowledgment.
    UnsubAck = 11,
    /// 12: PING request.
    PingReq = 12,
    /// 13: PING response.
    PingResp = 13,
    /// 14: Disconnect notification.
    Disconnect = 14,
    /// 15: Authentication exchange (MQTT 5 only).
    Auth = 15,
}

impl PacketType {
    /// The packet type for the high nibble of the first byte. 0 is reserved and 15 (AUTH)
    /// exists only in MQTT 5; `version` is `None` while the decoder has not seen a CONNECT.
    fn from_nibble(nibble: u8, version: Option<ProtocolVersion>) -> Result<Self, DecodeError> {
        Ok(match nibble {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 if version.is_none_or(ProtocolVersion::is_v5) => Self::Auth,
            _ => return Err(DecodeError::InvalidPacketType(nibble)),
        })
    }

    /// The flags the specification fixes for this type: 0b0010 for PUBREL, SUBSCRIBE and
    /// UNSUBSCRIBE, 0 for the rest; `None` for PUBLISH, whose flags carry DUP, QoS and RETAIN
    /// (3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]; v5 [MQTT-2.1.3-1]).
    pub const fn fixed_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// A fixed header, valid by construction: only [`FixedHeader::parse`] makes one, so a header
/// handed to [`crate::Packet::decode`] has a checked type and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    packet_type: PacketType,
    flags: u8,
    remaining_length: u32,
    header_len: usize,
    /// Whether the remaining length used its minimal encoding (required in MQTT 5 [MQTT-1.5.5-1]).
    pub(crate) minimal_length: bool,
}

impl FixedHeader {
    /// Parses a fixed header from the front of `bytes`; `Ok(None)` when more bytes are needed.
    ///
    /// Checks the packet type and the fixed flags; the PUBLISH flags are checked with the body.
    pub fn parse(
        bytes: &[u8],
        version: Option<ProtocolVersion>,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(&first) = bytes.first() else {
            return Ok(None);
        };
        let packet_type = PacketType::from_nibble(first >> 4, version)?;
        let flags = first & 0x0F;
        if let Some(expected) = packet_type.fixed_flags() {
            if flags != expected {
                return Err(DecodeError::InvalidHeaderFlags { packet_type, flags });
            }
        }
        match varint::peek(&bytes[1..])? {
            VarInt::Complete {
                value,
                len,
                minimal,
            } => Ok(Some(Self {
                packet_type,
                flags,
                remaining_length: value,
                header_len: 1 + len,
                minimal_length: minimal,
            })),
            VarInt::Incomplete => Ok(None),
        }
    }

    /// The packet type.
    pub const fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The low four bits of the first byte (checked for every type but PUBLISH).
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    /// The number of bytes after the fixed header.
    pub const fn remaining_length(&self) -> u32 {
        self.remaining_length
    }

    /// The number of bytes of the fixed header itself (2 to 5).
    pub const fn header_len(&self) -> usize {
        self.header_len
    }

    /// The whole packet's size: fixed header plus remaining length.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}
