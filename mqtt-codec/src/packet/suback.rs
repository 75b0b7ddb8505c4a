//! SUBACK (v5 section 3.9, 3.1.1 section 3.9).

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

/// A SUBACK packet: one reason code per filter of the SUBSCRIBE, in order [MQTT-3.9.3-1].
///
/// 3.1.1 return codes 0, 1, 2 and 0x80 are the reason codes with the same values; when
/// encoding for 3.1.1 every failure code becomes 0x80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: Properties<AckProperties>,
    /// One code per topic filter.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    /// A SUBACK with one reason code per filter of the SUBSCRIBE, in order, and no properties.
    pub fn new(packet_id: PacketId, reason_codes: Vec<ReasonCode>) -> Self {
        Self {
            packet_id,
            properties: Properties::default(),
            reason_codes,
        }
    }

    pub(super) fn read(body: &mut Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = wire::read_packet_id(body)?;
        let properties =
            Properties::<AckProperties>::read_ack_in(version, body, PacketType::SubAck)?;
        let mut reason_codes = Vec::with_capacity(body.len());
        while !body.is_empty() {
            let code = if version.is_v5() {
                read_reason_code(body, PacketType::SubAck)?
            } else {
                // 3.1.1 section 3.9.3: 0x00, 0x01, 0x02, 0x80 only.
                match wire::read_u8(body)? {
                    0x00 => ReasonCode::Success,
                    0x01 => ReasonCode::GrantedQoS1,
                    0x02 => ReasonCode::GrantedQoS2,
                    0x80 => ReasonCode::UnspecifiedError,
                    other => return Err(DecodeError::UnknownReasonCode(other)),
                }
            };
            reason_codes.push(code);
        }
        if reason_codes.is_empty() {
            return Err(DecodeError::MissingReasonCodes); // [MQTT-3.9.3-1]
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

impl Body for SubAck {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        2 + self.reason_codes.len() + self.properties.encoded_len_in(version)
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::NoReasonCodes);
        }
        for code in &self.reason_codes {
            check_reason_code(*code, PacketType::SubAck)?;
        }
        self.properties.check_in(version)
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        self.properties.write_in(version, buf);
        for code in &self.reason_codes {
            let byte = if !version.is_v5() && code.is_error() {
                ReasonCode::UnspecifiedError.as_u8()
            } else {
                code.as_u8()
            };
            buf.put_u8(byte);
        }
    }
}
