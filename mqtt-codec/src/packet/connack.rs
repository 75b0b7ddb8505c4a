//! CONNACK (v5 section 3.2, 3.1.1 section 3.2).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{ConnAckProperties, Properties};
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;
use crate::wire;

use super::{check_reason_code, read_reason_code, Body};

/// A CONNACK packet.
///
/// Under 3.1 / 3.1.1 the return code is carried as the equivalent [`ReasonCode`]
/// (see [`ReasonCode::connack_return_code_v3`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// The connect reason code (3.1.1: the return code).
    pub reason_code: ReasonCode,
    /// MQTT 5 properties.
    pub properties: Properties<ConnAckProperties>,
}

impl ConnAck {
    /// A CONNACK with no properties.
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        Self {
            session_present,
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(super) fn read(body: &mut Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = wire::read_u8(body)?;
        // MQTT 3.1 has no session present flag: the byte is reserved and not used.
        let session_present = match version {
            ProtocolVersion::V3_1 => false,
            _ if flags & !1 != 0 => return Err(DecodeError::ReservedConnAckFlags), // v5 [MQTT-3.2.2-1]
            _ => flags == 1,
        };
        let (reason_code, properties) = if version.is_v5() {
            let code = read_reason_code(body, PacketType::ConnAck)?;
            let properties = Properties::<ConnAckProperties>::read_in(version, body)?;
            if properties.has_data_without_method() {
                return Err(DecodeError::MissingAuthenticationMethod); // v5 3.2.2.3.18
            }
            (code, properties)
        } else {
            let byte = wire::read_u8(body)?;
            let code = ReasonCode::from_connack_return_code_v3(byte)
                .ok_or(DecodeError::UnknownReasonCode(byte))?;
            (code, Properties::default())
        };
        if session_present && reason_code.is_error() {
            // [MQTT-3.2.2-4] (v5 [MQTT-3.2.2-6])
            return Err(DecodeError::SessionPresentOnRefusal);
        }
        Ok(Self {
            session_present,
            reason_code,
            properties,
        })
    }
}

impl Body for ConnAck {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        2 + self.properties.encoded_len_in(version)
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        check_reason_code(self.reason_code, PacketType::ConnAck)?;
        if self.session_present && self.reason_code.is_error() {
            return Err(EncodeError::SessionPresentOnRefusal);
        }
        self.properties.check_in(version)?;
        if self.properties.has_data_without_method() {
            return Err(EncodeError::MissingAuthenticationMethod); // v5 3.2.2.3.18
        }
        Ok(())
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u8(u8::from(
            self.session_present && version != ProtocolVersion::V3_1,
        ));
        if version.is_v5() {
            buf.put_u8(self.reason_code.as_u8());
            self.properties.write_in(version, buf);
        } else {
            buf.put_u8(self.reason_code.connack_return_code_v3());
        }
    }
}
