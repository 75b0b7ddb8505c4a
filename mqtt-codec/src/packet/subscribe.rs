//! SUBSCRIBE and its subscription options (v5 section 3.8, 3.1.1 section 3.8).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{Properties, SubscribeProperties};
use crate::qos::{PacketId, QoS};
use crate::strings::MqttString;
use crate::version::ProtocolVersion;
use crate::wire;

use super::Body;

/// When retained messages are sent for a new subscription (v5 section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    SendAtSubscribeIfNew = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

/// The options byte of one subscription (v5 section 3.8.3.1; 3.1.1 only has the QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with.
    pub qos: QoS,
    /// No Local: do not deliver the subscriber's own messages (MQTT 5).
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages (MQTT 5).
    pub retain_as_published: bool,
    /// Retain Handling (MQTT 5).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with only a QoS set.
    pub fn qos(qos: QoS) -> Self {
        Self {
            qos,
            ..Self::default()
        }
    }

    fn from_byte(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let reserved = if version.is_v5() {
            0b1100_0000
        } else {
            0b1111_1100
        };
        if byte & reserved != 0 {
            // [MQTT-3.8.3-5] (3.1.1 [MQTT-3-8.3-4])
            return Err(DecodeError::ReservedSubscriptionOptionBits(byte));
        }
        let qos = QoS::from_u8(byte & 0b11).ok_or(if version.is_v5() {
            DecodeError::InvalidSubscriptionQoS // v5 3.8.3.1
        } else {
            DecodeError::InvalidQoS // [MQTT-3-8.3-4]
        })?;
        let retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(Self {
            qos,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }

    fn to_byte(self, version: ProtocolVersion) -> u8 {
        let mut byte = self.qos as u8;
        if version.is_v5() {
            if self.no_local {
                byte |= 0b0100;
            }
            if self.retain_as_published {
                byte |= 0b1000;
            }
            byte |= (self.retain_handling as u8) << 4;
        }
        byte
    }
}

/// A SUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: Properties<SubscribeProperties>,
    /// Topic filters with their options, at least one (3.1.1 [MQTT-3.8.3-3], v5 [MQTT-3.8.3-2]). Filter syntax is
    /// checked by `mqtt-topic`, so a server can answer one bad filter with 0x8F in SUBACK.
    pub filters: Vec<(MqttString, SubscriptionOptions)>,
}

impl Subscribe {
    pub(super) fn read(body: &mut Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = wire::read_packet_id(body)?;
        let properties = Properties::<SubscribeProperties>::read_in(version, body)?;
        let mut filters = Vec::with_capacity(wire::count_prefixed(body, 1));
        while !body.is_empty() {
            let filter = MqttString::read(body)?;
            if filter.is_empty() {
                return Err(DecodeError::EmptyTopicFilter); // [MQTT-4.7.3-1]
            }
            let options = SubscriptionOptions::from_byte(wire::read_u8(body)?, version)?;
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(DecodeError::EmptySubscribe); // 3.1.1 [MQTT-3.8.3-3], v5 [MQTT-3.8.3-2]
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}

impl Body for Subscribe {
    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        let filters: usize = self.filters.iter().map(|(f, _)| f.encoded_len() + 1).sum();
        2 + filters + self.properties.encoded_len_in(version)
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters);
        }
        if self.filters.iter().any(|(filter, _)| filter.is_empty()) {
            return Err(EncodeError::EmptyTopicFilter); // [MQTT-4.7.3-1]
        }
        self.properties.check_in(version)
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        self.properties.write_in(version, buf);
        for (filter, options) in &self.filters {
            filter.write(buf);
            buf.put_u8(options.to_byte(version));
        }
    }
}
