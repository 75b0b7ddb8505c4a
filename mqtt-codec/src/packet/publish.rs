//! PUBLISH (v5 section 3.3, 3.1.1 section 3.3).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{Properties, PublishProperties};
use crate::qos::{PacketId, QoS};
use crate::strings::MqttString;
use crate::version::ProtocolVersion;
use crate::wire;

use super::Body;

const FLAG_RETAIN: u8 = 0b0001;
const FLAG_QOS_SHIFT: u8 = 1;
const FLAG_DUP: u8 = 0b1000;

/// A PUBLISH packet. Topic, payload and binary properties share the decoded input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a re-delivery (never set on QoS 0 [MQTT-3.3.1-2]).
    pub dup: bool,
    /// The QoS level.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// The topic name; empty only in MQTT 5 with a Topic Alias.
    pub topic: MqttString,
    /// The packet identifier: present exactly when QoS is 1 or 2 [MQTT-2.3.1-5].
    pub packet_id: Option<PacketId>,
    /// MQTT 5 properties.
    pub properties: Properties<PublishProperties>,
    /// The application message.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message without properties.
    pub fn new(topic: MqttString, payload: Bytes) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            packet_id: None,
            properties: Properties::default(),
            payload,
        }
    }

    pub(super) fn read(
        flags: u8,
        body: &mut Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8((flags >> FLAG_QOS_SHIFT) & 0b11).ok_or(DecodeError::InvalidQoS)?; // [MQTT-3.3.1-4]
        let dup = flags & FLAG_DUP != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQos0); // [MQTT-3.3.1-2]
        }
        let topic = MqttString::read_topic_name(body)?; // [MQTT-3.3.2-2]
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(wire::read_packet_id(body)?)
        };
        let properties = Properties::<PublishProperties>::read_in(version, body)?;
        // An empty topic is allowed only with a Topic Alias (v5 3.3.2.3.4);
        // 3.1.1 topic names are at least one character [MQTT-4.7.3-1].
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicName);
        }
        let payload = core::mem::take(body);
        Ok(Self {
            dup,
            qos,
            retain: flags & FLAG_RETAIN != 0,
            topic,
            packet_id,
            properties,
            payload,
        })
    }
}

impl Body for Publish {
    fn flags(&self, _: PacketType) -> u8 {
        let mut flags = (self.qos as u8) << FLAG_QOS_SHIFT;
        if self.dup {
            flags |= FLAG_DUP;
        }
        if self.retain {
            flags |= FLAG_RETAIN;
        }
        flags
    }

    fn remaining_len(&self, version: ProtocolVersion) -> usize {
        let packet_id_len = if self.packet_id.is_some() { 2 } else { 0 };
        self.topic.encoded_len()
            + packet_id_len
            + self.properties.encoded_len_in(version)
            + self.payload.len()
    }

    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if self.packet_id.is_some() != (self.qos != QoS::AtMostOnce) {
            return Err(EncodeError::PacketIdMismatch);
        }
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(EncodeError::DupOnQos0);
        }
        // No wildcards [MQTT-3.3.2-2]; empty only with a Topic Alias [MQTT-4.7.3-1].
        let empty_allowed = version.is_v5() && self.properties.topic_alias.is_some();
        if self.topic.has_wildcard() || (self.topic.is_empty() && !empty_allowed) {
            return Err(EncodeError::InvalidTopicName);
        }
        self.properties.check_in(version)
    }

    fn write(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        self.topic.write(buf);
        if let Some(packet_id) = self.packet_id {
            buf.put_u16(packet_id.get());
        }
        self.properties.write_in(version, buf);
        buf.put_slice(&self.payload);
    }
}
