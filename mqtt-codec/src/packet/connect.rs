//! CONNECT (v5 section 3.1, 3.1.1 section 3.1).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{ConnectProperties, Properties, WillProperties};
use crate::qos::QoS;
use crate::strings::MqttString;
use crate::version::ProtocolVersion;
use crate::wire;

use super::Body;

const FLAG_RESERVED: u8 = 0b0000_0001;
const FLAG_CLEAN_START: u8 = 0b0000_0010;
const FLAG_WILL: u8 = 0b0000_0100;
const FLAG_WILL_QOS_SHIFT: u8 = 3;
const FLAG_WILL_QOS: u8 = 0b0001_1000;
const FLAG_WILL_RETAIN: u8 = 0b0010_0000;
const FLAG_PASSWORD: u8 = 0b0100_0000;
const FLAG_USERNAME: u8 = 0b1000_0000;

/// A CONNECT packet. It carries its own protocol version, which decides how it is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version the client speaks.
    pub protocol_version: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5.0).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// MQTT 5 properties.
    pub properties: Properties<ConnectProperties>,
    /// The client identifier, possibly empty.
    pub client_id: MqttString,
    /// The will message.
    pub will: Option<Will>,
    /// The user name.
    pub username: Option<MqttString>,
    /// The password (binary data).
    pub password: Option<Bytes>,
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Will topic (a topic name: no wildcards [MQTT-3.3.2-2]).
    pub topic: MqttString,
    /// Will payload (binary data).
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will retain.
    pub retain: bool,
    /// MQTT 5 will properties.
    pub properties: Properties<WillProperties>,
}

/// The version a CONNECT body announces by its protocol name and level, if they are valid;
/// read even when the rest of the CONNECT is not, so a server knows how to answer
/// [MQTT-3.1.4-1].
pub(crate) fn announced_version(body: &[u8]) -> Option<ProtocolVersion> {
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let name = body.get(2..2 + name_len)?;
    ProtocolVersion::from_name_and_level(name, *body.get(2 + name_len)?)
}

impl Connect {
    /// A CONNECT for `version` with a client id, clean start, keep alive 60 s and nothing else.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Self {
        Self {
            protocol_version,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }

    pub(super) fn read(body: &mut Bytes) -> Result<Self, DecodeError> {
        let name = wire::read_binary(body)?;
        if name[..] != b"MQTT"[..] && name[..] != b"MQIsdp"[..] {
            return Err(DecodeError::InvalidProtocolName); // [MQTT-3.1.2-1]
        }
        let level = wire::read_u8(body)?;
        let protocol_version = ProtocolVersion::from_name_and_level(&name, level)
            .ok_or(DecodeError::UnsupportedProtocolLevel(level))?;
        let flags = wire::read_u8(body)?;
        if flags & FLAG_RESERVED != 0 {
            return Err(DecodeError::ReservedConnectFlag); // [MQTT-3.1.2-3]
        }
        let has_will = flags & FLAG_WILL != 0;
        let will_qos_bits = (flags & FLAG_WILL_QOS) >> FLAG_WILL_QOS_SHIFT;
        let will_retain = flags & FLAG_WILL_RETAIN != 0;
        if !has_will && (will_qos_bits != 0 || will_retain) {
            // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
            return Err(DecodeError::InconsistentWillFlags);
        }
        let will_qos = QoS::from_u8(will_qos_bits).ok_or(DecodeError::InvalidQoS)?; // 3.1.1 [MQTT-3.1.2-14], v5 [MQTT-3.1.2-12]
        let has_username = flags & FLAG_USERNAME != 0;
        let has_password = flags & FLAG_PASSWORD != 0;
        if has_password && !has_username && !protocol_version.is_v5() {
            return Err(DecodeError::PasswordWithoutUsername); // [MQTT-3.1.2-22]
        }
        let keep_alive = wire::read_u16(body)?;
        let properties = Properties::<ConnectProperties>::read_in(protocol_version, body)?;
        if properties.has_data_without_method() {
            return Err(DecodeError::MissingAuthenticationMethod); // v5 3.1.2.11.10
        }
        let client_id = MqttString::read(body)?;
        let will = if has_will {
            let properties = Properties::<WillProperties>::read_in(protocol_version, body)?;
            let topic = MqttString::read_topic_name(body)?; // [MQTT-3.3.2-2]
            if topic.is_empty() {
                return Err(DecodeError::EmptyTopicName); // [MQTT-4.7.3-1]
            }
            Some(Will {
                topic,
                payload: wire::read_binary(body)?,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = has_username.then(|| MqttString::read(body)).transpose()?;
        let password = has_password.then(|| wire::read_binary(body)).transpose()?;
        Ok(Self {
            protocol_version,
            clean_start: flags & FLAG_CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= FLAG_CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= FLAG_WILL | (will.qos as u8) << FLAG_WILL_QOS_SHIFT;
            if will.retain {
                flags |= FLAG_WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= FLAG_USERNAME;
        }
        if self.password.is_some() {
            flags |= FLAG_PASSWORD;
        }
        flags
    }
}

impl Body for Connect {
    fn remaining_len(&self, _: ProtocolVersion) -> usize {
        let version = self.protocol_version;
        let mut len = 2 + version.protocol_name().len() + 1 + 1 + 2;
        len += self.properties.encoded_len_in(version) + self.client_id.encoded_len();
        if let Some(will) = &self.will {
            len += will.properties.encoded_len_in(version);
            len += will.topic.encoded_len() + wire::binary_len(&will.payload);
        }
        len += self.username.as_ref().map_or(0, MqttString::encoded_len);
        len += self.password.as_ref().map_or(0, wire::binary_len);
        len
    }

    fn check(&self, _: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        let version = self.protocol_version;
        if self.password.is_some() && self.username.is_none() && !version.is_v5() {
            return Err(EncodeError::PasswordWithoutUsername); // [MQTT-3.1.2-22]
        }
        if let Some(password) = &self.password {
            wire::check_binary(password)?;
        }
        if let Some(will) = &self.will {
            if will.topic.is_empty() || will.topic.has_wildcard() {
                return Err(EncodeError::InvalidTopicName); // [MQTT-3.3.2-2], [MQTT-4.7.3-1]
            }
            wire::check_binary(&will.payload)?;
            will.properties.check_in(version)?;
        }
        self.properties.check_in(version)?;
        if self.properties.has_data_without_method() {
            return Err(EncodeError::MissingAuthenticationMethod); // v5 3.1.2.11.10
        }
        Ok(())
    }

    fn write(&self, _: ProtocolVersion, buf: &mut BytesMut) {
        let version = self.protocol_version;
        wire::write_binary(buf, version.protocol_name().as_bytes());
        buf.put_u8(version.level());
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        self.properties.write_in(version, buf);
        self.client_id.write(buf);
        if let Some(will) = &self.will {
            will.properties.write_in(version, buf);
            will.topic.write(buf);
            wire::write_binary(buf, &will.payload);
        }
        if let Some(username) = &self.username {
            username.write(buf);
        }
        if let Some(password) = &self.password {
            wire::write_binary(buf, password);
        }
    }
}
