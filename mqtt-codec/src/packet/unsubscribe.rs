//! UNSUBSCRIBE (v5 section 3.10, 3.1.1 section 3.10).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{Properties, UnsubscribeProperties};
use crate::qos::PacketId;
use crate::strings::MqttString;
use crate::version::ProtocolVersion;
use crate::wire;

use super::Body;

/// An UNSUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: Properties<UnsubscribeProperties>,
    /// Topic filters, at least one [MQTT-3.10.3-2], compared exactly by the server.
    pub filters: Vec<MqttString>,
}

impl Unsubscribe {
    pub(super) fn read(body: &mut Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = wire::read_packet_id(body)?;
        let properties = Properties::<UnsubscribeProperties>::read_in(version, body)?;
        let mut filters = Vec::with_capacity(wire::count_prefixed(body, 0));
        while !body.is_empty() {
            let filter = MqttString::read(body)?;
            if filter.is_empty() {
                return Err(DecodeError::EmptyTopicFilter); // [MQTT-4.7.3-1]
            }
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(DecodeError::EmptyUnsubscribe); // [MQTT-3.10.3-2]
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}

impl Body for Unsubscribe {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        let filters: usize = self.filters.iter().map(MqttString::encoded_len).sum();
        2 + filters + self.properties.encoded_len_in(version)
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters);
        }
        if self.filters.iter().any(|filter| filter.is_empty()) {
            return Err(EncodeError::EmptyTopicFilter); // [MQTT-4.7.3-1]
        }
        self.properties.check_in(version)
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        self.properties.write_in(version, buf);
        for filter in &self.filters {
            filter.write(buf);
        }
    }
}
