//! PUBACK, PUBREC, PUBREL and PUBCOMP: a packet identifier, and in MQTT 5 a reason code and
//! properties that may be left out when they are Success and empty
//! (v5 sections 3.4 to 3.7, 3.1.1 sections 3.4 to 3.7).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{AckProperties, Properties};
use crate::qos::PacketId;
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;
use crate::wire;

use super::{check_reason_code, read_reason_code, reason_and_properties_len, Body};

/// The body shared by PUBACK, PUBREC, PUBREL and PUBCOMP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// The packet identifier of the PUBLISH (or PUBREL) this answers.
    pub packet_id: PacketId,
    /// MQTT 5 reason code (Success under 3.1.1).
    pub reason_code: ReasonCode,
    /// MQTT 5 properties.
    pub properties: Properties<AckProperties>,
}

impl PublishAck {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: Properties::default(),
        }
    }

    pub(super) fn read(
        body: &mut Bytes,
        version: ProtocolVersion,
        packet: PacketType,
    ) -> Result<Self, DecodeError> {
        let packet_id = wire::read_packet_id(body)?;
        let mut ack = Self::new(packet_id);
        // Remaining length 2: Success and no properties; 3: no properties (v5 3.4.2.1).
        if version.is_v5() && !body.is_empty() {
            ack.reason_code = read_reason_code(body, packet)?;
            if !body.is_empty() {
                ack.properties = Properties::<AckProperties>::read_ack_in(version, body, packet)?;
            }
        }
        Ok(ack)
    }
}

impl Body for PublishAck {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        2 + reason_and_properties_len(
            version.is_v5(),
            self.reason_code,
            self.properties.is_empty(),
            self.properties.encoded_len_in(version),
        )
    }

    fn check(&self, version: ProtocolVersion, packet: PacketType) -> Result<(), EncodeError> {
        if version.is_v5() {
            check_reason_code(self.reason_code, packet)?;
            self.properties.check_in(version)?;
        }
        Ok(())
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        let len = self.remaining_len(version);
        if len > 2 {
            buf.put_u8(self.reason_code.as_u8());
        }
        if len > 3 {
            self.properties.write_in(version, buf);
        }
    }
}
