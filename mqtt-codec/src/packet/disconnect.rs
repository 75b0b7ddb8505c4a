//! DISCONNECT (v5 section 3.14, 3.1.1 section 3.14).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{DisconnectProperties, Properties};
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;

use super::{check_reason_code, read_reason_code, reason_and_properties_len, Body};

/// A DISCONNECT packet. Under 3.1.1 it has no body; in MQTT 5 the reason code and the
/// properties are left out when they are Normal Disconnection and empty (v5 3.14.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// MQTT 5 reason code.
    pub reason_code: ReasonCode,
    /// MQTT 5 properties.
    pub properties: Properties<DisconnectProperties>,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(super) fn read(body: &mut Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut disconnect = Self::default();
        if version.is_v5() && !body.is_empty() {
            disconnect.reason_code = read_reason_code(body, PacketType::Disconnect)?;
            if !body.is_empty() {
                disconnect.properties = Properties::<DisconnectProperties>::read_in(version, body)?;
            }
        }
        Ok(disconnect)
    }
}

impl Body for Disconnect {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        reason_and_properties_len(
            version.is_v5(),
            self.reason_code,
            self.properties.is_empty(),
            self.properties.encoded_len_in(version),
        )
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if version.is_v5() {
            check_reason_code(self.reason_code, PacketType::Disconnect)?;
            self.properties.check_in(version)?;
        }
        Ok(())
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        let len = self.remaining_len(version);
        if len > 0 {
            buf.put_u8(self.reason_code.as_u8());
        }
        if len > 1 {
            self.properties.write_in(version, buf);
        }
    }
}
