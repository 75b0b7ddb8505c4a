//! UNSUBACK (v5 section 3.11, 3.1.1 section 3.11).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{AckProperties, Properties};
use crate::qos::PacketId;
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;
use crate::wire;

use super::{check_reason_code, read_reason_code, Body};

/// An UNSUBACK packet. Under 3.1.1 it carries only the packet identifier; in MQTT 5 one
/// reason code per filter of the UNSUBSCRIBE, in order [MQTT-3.11.3-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: Properties<AckProperties>,
    /// MQTT 5: one code per topic filter (empty under 3.1.1).
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    /// An UNSUBACK with one reason code per filter of the UNSUBSCRIBE, in order, and no
    /// properties.
    pub fn new(packet_id: PacketId, reason_codes: Vec<ReasonCode>) -> Self {
        Self {
            packet_id,
            properties: Properties::default(),
            reason_codes,
        }
    }

    pub(super) fn read(body: &mut Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = wire::read_packet_id(body)?;
        let mut ack = Self {
            packet_id,
            properties: Properties::default(),
            reason_codes: Vec::new(),
        };
        if version.is_v5() {
            ack.properties =
                Properties::<AckProperties>::read_ack_in(version, body, PacketType::UnsubAck)?;
            ack.reason_codes.reserve(body.len());
            while !body.is_empty() {
                ack.reason_codes
                    .push(read_reason_code(body, PacketType::UnsubAck)?);
            }
            if ack.reason_codes.is_empty() {
                return Err(DecodeError::MissingReasonCodes); // [MQTT-3.11.3-1]
            }
        }
        Ok(ack)
    }
}

impl Body for UnsubAck {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        if version.is_v5() {
            2 + self.properties.encoded_len_in(version) + self.reason_codes.len()
        } else {
            2
        }
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if version.is_v5() {
            if self.reason_codes.is_empty() {
                return Err(EncodeError::NoReasonCodes);
            }
            for code in &self.reason_codes {
                check_reason_code(*code, PacketType::UnsubAck)?;
            }
            self.properties.check_in(version)?;
        }
        Ok(())
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write_in(version, buf);
            for code in &self.reason_codes {
                buf.put_u8(code.as_u8());
            }
        }
    }
}
