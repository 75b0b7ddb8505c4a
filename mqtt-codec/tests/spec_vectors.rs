//! Table-driven spec vectors: raw bytes in, an expected [`Packet`] or [`DecodeError`] out.
//!
//! Every test is named after the rule it checks and cites the normative statement of the OASIS
//! specifications, MQTT 3.1.1 (`3.1.1 [MQTT-x.y.z-n]`) and MQTT 5.0 (`v5 [MQTT-x.y.z-n]`), or
//! the section when the rule has no normative id. Valid vectors are also re-encoded and must
//! give back exactly the input bytes; rejected vectors must carry the MQTT 5 reason code the
//! receiver answers them with.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Auth, ConnAck, Connect, DecodeError, Decoder, Disconnect, EncodeError, MqttString, Packet,
    PacketId, PacketType, PropertyId, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, SubscriptionId, SubscriptionOptions, UnsubAck, Unsubscribe,
    UserProperty, Will,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// 0x81 Malformed Packet.
const MALFORMED: u8 = 0x81;
/// 0x82 Protocol Error.
const PROTOCOL_ERROR: u8 = 0x82;
/// 0x84 Unsupported Protocol Version.
const UNSUPPORTED_VERSION: u8 = 0x84;
/// 0x90 Topic Name invalid.
const TOPIC_NAME_INVALID: u8 = 0x90;
/// 0x95 Packet too large.
const TOO_LARGE: u8 = 0x95;

/// A client-side decoder for a 3.1 connection.
const V31: Decoder = Decoder::new(ProtocolVersion::V3_1);
/// A client-side decoder for a 3.1.1 connection.
const V3: Decoder = Decoder::new(ProtocolVersion::V3_1_1);
/// A client-side decoder for a 5.0 connection.
const V5: Decoder = Decoder::new(ProtocolVersion::V5);
/// A server-side decoder: the first packet must be a CONNECT, which sets the version.
const SERVER: Decoder = Decoder::for_server();

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes `input` (one whole packet) and checks the packet, that all of it was consumed, that
/// re-encoding for the connection's version gives back `input` byte for byte, and that
/// `encoded_len` is the number of bytes written.
#[track_caller]
fn assert_valid(mut decoder: Decoder, input: &[u8], expected: Packet) {
    let mut buf = BytesMut::from(input);
    let decoded = decoder.decode(&mut buf);
    assert_eq!(
        decoded,
        Ok(Some(expected.clone())),
        "decoding {}",
        hex(input)
    );
    assert!(buf.is_empty(), "left over after decoding: {}", hex(&buf));
    let version = decoder.version().expect("version known after a packet");
    let mut out = BytesMut::new();
    expected
        .encode(version, &mut out)
        .unwrap_or_else(|err| panic!("re-encoding {expected:?} for {version}: {err}"));
    assert_eq!(hex(&out), hex(input), "re-encoding for {version}");
    assert_eq!(expected.encoded_len(version), out.len(), "encoded_len");
}

/// Decodes `input` (one whole, valid but non-canonical packet) without the re-encoding check.
#[track_caller]
fn assert_decodes(mut decoder: Decoder, input: &[u8], expected: Packet) {
    let mut buf = BytesMut::from(input);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(expected)),
        "decoding {}",
        hex(input)
    );
    assert!(buf.is_empty(), "left over after decoding: {}", hex(&buf));
}

/// Decodes `input` and returns the error it must fail with.
#[track_caller]
fn decode_err(mut decoder: Decoder, input: &[u8]) -> DecodeError {
    let mut buf = BytesMut::from(input);
    match decoder.decode(&mut buf) {
        Err(err) => err,
        Ok(other) => panic!("decoding {} gave {other:?}, expected an error", hex(input)),
    }
}

/// Checks that `input` is rejected with `expected`, answered with reason code `code`.
#[track_caller]
fn assert_rejected(decoder: Decoder, input: &[u8], expected: DecodeError, code: u8) {
    let err = decode_err(decoder, input);
    assert_eq!(err, expected, "decoding {}", hex(input));
    assert_eq!(
        err.reason_code().as_u8(),
        code,
        "reason code of {err:?} ({:?})",
        err.reason_code()
    );
}

/// Checks that encoding fails with `expected` and leaves the output buffer empty.
#[track_caller]
fn assert_encode_rejected(packet: Packet, version: ProtocolVersion, expected: EncodeError) {
    let mut out = BytesMut::new();
    assert_eq!(packet.encode(version, &mut out), Err(expected));
    assert!(out.is_empty(), "bytes written on error: {}", hex(&out));
}

/// `valid!(name, decoder, bytes, packet)`: a valid packet that decodes and re-encodes exactly.
macro_rules! valid {
    ($(#[$meta:meta])* $name:ident, $decoder:expr, $bytes:expr, $packet:expr $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            assert_valid($decoder, $bytes, $packet);
        }
    };
}

/// `decodes!(name, decoder, bytes, packet)`: valid but not the canonical encoding.
macro_rules! decodes {
    ($(#[$meta:meta])* $name:ident, $decoder:expr, $bytes:expr, $packet:expr $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            assert_decodes($decoder, $bytes, $packet);
        }
    };
}

/// `invalid!(name, decoder, bytes, error, reason code)`: a packet that breaks a rule.
macro_rules! invalid {
    ($(#[$meta:meta])* $name:ident, $decoder:expr, $bytes:expr, $err:expr, $code:expr $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            assert_rejected($decoder, $bytes, $err, $code);
        }
    };
}

/// `encode_err!(name, version, packet, error)`: a packet value the encoder must refuse.
macro_rules! encode_err {
    ($(#[$meta:meta])* $name:ident, $version:expr, $packet:expr, $err:expr $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            assert_encode_rejected($packet, $version, $err);
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Builders for expected packets
// ---------------------------------------------------------------------------------------------

fn s(text: &'static str) -> MqttString {
    MqttString::from_static(text)
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).expect("non-zero packet id")
}

fn bin(bytes: &'static [u8]) -> Bytes {
    Bytes::from_static(bytes)
}

fn user(name: &'static str, value: &'static str) -> UserProperty {
    UserProperty {
        name: s(name),
        value: s(value),
    }
}

fn publish(
    qos: QoS,
    topic: &'static str,
    packet_id: Option<u16>,
    payload: &'static [u8],
) -> Publish {
    let mut p = Publish::new(s(topic), bin(payload));
    p.qos = qos;
    p.packet_id = packet_id.map(id);
    p
}

fn ack(packet_id: u16, reason_code: ReasonCode) -> PublishAck {
    PublishAck {
        packet_id: id(packet_id),
        reason_code,
        properties: Default::default(),
    }
}

fn ack_with_props(packet_id: u16, reason_code: ReasonCode) -> PublishAck {
    let mut a = ack(packet_id, reason_code);
    a.properties.reason_string = Some(s("no"));
    a.properties.user_properties = vec![user("k", "v")];
    a
}

fn connect(version: ProtocolVersion, client_id: &'static str) -> Connect {
    Connect::new(version, s(client_id))
}

fn will(topic: &'static str, payload: &'static [u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: s(topic),
        payload: bin(payload),
        qos,
        retain,
        properties: Default::default(),
    }
}

fn opts(qos: QoS, no_local: bool, rap: bool, rh: RetainHandling) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local,
        retain_as_published: rap,
        retain_handling: rh,
    }
}

fn connack(session_present: bool, reason_code: ReasonCode) -> ConnAck {
    ConnAck {
        session_present,
        reason_code,
        ..ConnAck::default()
    }
}

fn disconnect(reason_code: ReasonCode) -> Disconnect {
    Disconnect {
        reason_code,
        ..Disconnect::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared vectors
// ---------------------------------------------------------------------------------------------

/// 3.1.1 section 3.1.2 (the CONNECT variable header non normative example):
/// `00 04 'M' 'Q' 'T' 'T' 04 CE 00 0A` = protocol level 4, User Name, Password, Will QoS 1,
/// Will Flag, Clean Session, Keep Alive 10; payload client id "id", will "w/t" / "bye",
/// user "u", password "p".
const CONNECT_V311_SPEC: &[u8] =
    b"\x10\x1e\x00\x04MQTT\x04\xce\x00\x0a\x00\x02id\x00\x03w/t\x00\x03bye\x00\x01u\x00\x01p";

/// v5 section 3.1.2.12 (variable header non-normative example): the same flags at level 5 and
/// properties `05 11 00 00 00 0A` (Session Expiry Interval 10); empty will properties.
const CONNECT_V5_SPEC: &[u8] = b"\x10\x25\x00\x04MQTT\x05\xce\x00\x0a\x05\x11\x00\x00\x00\x0a\
\x00\x02id\x00\x00\x03w/t\x00\x03bye\x00\x01u\x00\x01p";

/// MQTT 3.1: protocol name "MQIsdp", level 3, Clean Session, Keep Alive 60, client id "id".
const CONNECT_V31: &[u8] = b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02id";

fn connect_v311_spec() -> Packet {
    let mut c = connect(ProtocolVersion::V3_1_1, "id");
    c.keep_alive = 10;
    c.will = Some(will("w/t", b"bye", QoS::AtLeastOnce, false));
    c.username = Some(s("u"));
    c.password = Some(bin(b"p"));
    Packet::Connect(Box::new(c))
}

fn connect_v5_spec() -> Packet {
    let mut c = connect(ProtocolVersion::V5, "id");
    c.keep_alive = 10;
    c.properties.session_expiry_interval = Some(10);
    c.will = Some(will("w/t", b"bye", QoS::AtLeastOnce, false));
    c.username = Some(s("u"));
    c.password = Some(bin(b"p"));
    Packet::Connect(Box::new(c))
}

// ---------------------------------------------------------------------------------------------
// CONNECT: valid
// ---------------------------------------------------------------------------------------------

// 3.1.1 section 3.1.2 variable header example; [MQTT-3.1.3-1] payload order.
valid!(
    mqtt_3_1_2_v311_connect_spec_example_flags_ce,
    SERVER,
    CONNECT_V311_SPEC,
    connect_v311_spec()
);

// MQTT 3.1: [MQTT-3.1.2-1] allows another protocol name for another specification; the crate
// supports "MQIsdp" level 3.
valid!(
    mqtt_3_1_2_1_connect_v31_mqisdp_level_3,
    SERVER,
    CONNECT_V31,
    Packet::Connect(Box::new(connect(ProtocolVersion::V3_1, "id")))
);

// v5 section 3.1.2.12 variable header example; v5 [MQTT-3.1.3-1] payload order.
valid!(
    mqtt_3_1_2_v5_connect_spec_example_with_session_expiry,
    SERVER,
    CONNECT_V5_SPEC,
    connect_v5_spec()
);

fn connect_v5_all_properties() -> Packet {
    let mut c = connect(ProtocolVersion::V5, "cid");
    c.properties.session_expiry_interval = Some(120);
    c.properties.receive_maximum = NonZeroU16::new(20);
    c.properties.maximum_packet_size = NonZeroU32::new(1024);
    c.properties.topic_alias_maximum = Some(10);
    c.properties.request_response_information = Some(true);
    c.properties.request_problem_information = Some(false);
    c.properties.authentication_method = Some(s("m"));
    c.properties.authentication_data = Some(bin(b"\x01\x02"));
    c.properties.user_properties = vec![user("k", "v")];
    let mut w = will("w/t", b"bye", QoS::ExactlyOnce, true);
    w.properties.will_delay_interval = Some(5);
    w.properties.payload_format_indicator = Some(true);
    w.properties.message_expiry_interval = Some(60);
    w.properties.content_type = Some(s("text"));
    w.properties.response_topic = Some(s("r/t"));
    w.properties.correlation_data = Some(bin(b"\xab\xcd"));
    w.properties.user_properties = vec![user("a", "b")];
    c.will = Some(w);
    c.username = Some(s("u"));
    Packet::Connect(Box::new(c))
}

// v5 sections 3.1.2.11 (every CONNECT property) and 3.1.3.2 (every will property); flags B6 =
// User Name, Will Retain, Will QoS 2, Will Flag, Clean Start.
valid!(
    mqtt_3_1_2_11_v5_connect_all_properties_and_will_properties,
    SERVER,
    b"\x10\x67\x00\x04MQTT\x05\xb6\x00\x3c\
\x24\x11\x00\x00\x00\x78\x21\x00\x14\x27\x00\x00\x04\x00\x22\x00\x0a\x19\x01\x17\x00\
\x15\x00\x01m\x16\x00\x02\x01\x02\x26\x00\x01k\x00\x01v\
\x00\x03cid\
\x25\x18\x00\x00\x00\x05\x01\x01\x02\x00\x00\x00\x3c\x03\x00\x04text\x08\x00\x03r/t\
\x09\x00\x02\xab\xcd\x26\x00\x01a\x00\x01b\
\x00\x03w/t\x00\x03bye\x00\x01u",
    connect_v5_all_properties()
);

fn connect_v5_password_only() -> Packet {
    let mut c = connect(ProtocolVersion::V5, "id");
    c.password = Some(bin(b"pw"));
    Packet::Connect(Box::new(c))
}

// v5 section 3.1.2.9 drops 3.1.1 [MQTT-3.1.2-22]: a password without a user name is allowed.
valid!(
    mqtt_3_1_2_22_v5_password_without_username_allowed,
    SERVER,
    b"\x10\x13\x00\x04MQTT\x05\x42\x00\x3c\x00\x00\x02id\x00\x02pw",
    connect_v5_password_only()
);

// ---------------------------------------------------------------------------------------------
// CONNECT: rules
// ---------------------------------------------------------------------------------------------

// 3.1.1 / v5 [MQTT-3.1.2-1]: the protocol name is "MQTT".
invalid!(
    mqtt_3_1_2_1_bad_protocol_name,
    SERVER,
    b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00",
    DecodeError::InvalidProtocolName,
    UNSUPPORTED_VERSION
);
invalid!(
    mqtt_3_1_2_1_protocol_name_is_case_sensitive,
    SERVER,
    b"\x10\x0c\x00\x04mqtt\x04\x02\x00\x3c\x00\x00",
    DecodeError::InvalidProtocolName,
    UNSUPPORTED_VERSION
);

// 3.1.1 / v5 [MQTT-3.1.2-2]: unsupported protocol level.
invalid!(
    mqtt_3_1_2_2_protocol_level_6_unsupported,
    SERVER,
    b"\x10\x0c\x00\x04MQTT\x06\x02\x00\x3c\x00\x00",
    DecodeError::UnsupportedProtocolLevel(6),
    UNSUPPORTED_VERSION
);
invalid!(
    mqtt_3_1_2_2_protocol_name_mqtt_with_level_3_unsupported,
    SERVER,
    b"\x10\x0c\x00\x04MQTT\x03\x02\x00\x3c\x00\x00",
    DecodeError::UnsupportedProtocolLevel(3),
    UNSUPPORTED_VERSION
);
invalid!(
    mqtt_3_1_2_2_protocol_name_mqisdp_with_level_4_unsupported,
    SERVER,
    b"\x10\x0e\x00\x06MQIsdp\x04\x02\x00\x3c\x00\x00",
    DecodeError::UnsupportedProtocolLevel(4),
    UNSUPPORTED_VERSION
);

// 3.1.1 / v5 [MQTT-3.1.2-3]: the reserved CONNECT flag (bit 0) must be 0.
invalid!(
    mqtt_3_1_2_3_v311_reserved_connect_flag,
    SERVER,
    b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00",
    DecodeError::ReservedConnectFlag,
    MALFORMED
);
invalid!(
    mqtt_3_1_2_3_v5_reserved_connect_flag,
    SERVER,
    b"\x10\x0d\x00\x04MQTT\x05\x03\x00\x3c\x00\x00\x00",
    DecodeError::ReservedConnectFlag,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-11], [MQTT-3.1.2-13]; v5 [MQTT-3.1.2-11]: Will QoS 0 without the Will Flag.
invalid!(
    mqtt_3_1_2_13_will_qos_without_will_flag,
    SERVER,
    b"\x10\x0c\x00\x04MQTT\x04\x0a\x00\x3c\x00\x00",
    DecodeError::InconsistentWillFlags,
    MALFORMED
);
invalid!(
    mqtt_3_1_2_11_v5_will_qos_2_without_will_flag,
    SERVER,
    b"\x10\x0d\x00\x04MQTT\x05\x12\x00\x3c\x00\x00\x00",
    DecodeError::InconsistentWillFlags,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-15]; v5 [MQTT-3.1.2-13]: Will Retain without the Will Flag.
invalid!(
    mqtt_3_1_2_15_will_retain_without_will_flag,
    SERVER,
    b"\x10\x0c\x00\x04MQTT\x04\x22\x00\x3c\x00\x00",
    DecodeError::InconsistentWillFlags,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-14]: Will QoS MUST NOT be 3.
invalid!(
    mqtt_3_1_2_14_v311_will_qos_3,
    SERVER,
    b"\x10\x13\x00\x04MQTT\x04\x1e\x00\x3c\x00\x02id\x00\x01w\x00\x00",
    DecodeError::InvalidQoS,
    MALFORMED
);
// v5 [MQTT-3.1.2-12]: "A value of 3 (0x03) is a Malformed Packet".
invalid!(
    mqtt_3_1_2_12_v5_will_qos_3_is_malformed,
    SERVER,
    b"\x10\x15\x00\x04MQTT\x05\x1e\x00\x3c\x00\x00\x02id\x00\x00\x01w\x00\x00",
    DecodeError::InvalidQoS,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-22]: if the User Name Flag is 0, the Password Flag must be 0.
invalid!(
    mqtt_3_1_2_22_v311_password_without_username,
    SERVER,
    b"\x10\x12\x00\x04MQTT\x04\x42\x00\x3c\x00\x02id\x00\x02pw",
    DecodeError::PasswordWithoutUsername,
    MALFORMED
);
invalid!(
    mqtt_3_1_2_22_v31_password_without_username,
    SERVER,
    b"\x10\x14\x00\x06MQIsdp\x03\x42\x00\x3c\x00\x02id\x00\x02pw",
    DecodeError::PasswordWithoutUsername,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-19]; v5 [MQTT-3.1.2-17]: User Name Flag 1, so a user name must follow.
invalid!(
    mqtt_3_1_2_19_username_flag_without_username,
    SERVER,
    b"\x10\x0e\x00\x04MQTT\x04\x82\x00\x3c\x00\x02id",
    DecodeError::Truncated,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-9]; v5 [MQTT-3.1.2-9]: Will Flag 1, so will topic and payload must follow.
invalid!(
    mqtt_3_1_2_9_will_flag_without_will_topic,
    SERVER,
    b"\x10\x0e\x00\x04MQTT\x04\x06\x00\x3c\x00\x02id",
    DecodeError::Truncated,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.2-18], [MQTT-3.1.2-20]; v5 [MQTT-3.1.2-16], [MQTT-3.1.2-18]: no user name or
// password without their flag, so nothing may follow the client id.
invalid!(
    mqtt_3_1_2_18_trailing_bytes_after_complete_connect,
    SERVER,
    b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\xff",
    DecodeError::TrailingBytes(1),
    MALFORMED
);

// 3.1.1 [MQTT-3.1.3-4] + [MQTT-1.5.3-1]; v5 [MQTT-3.1.3-4] + [MQTT-1.5.4-1]: client id UTF-8.
invalid!(
    mqtt_3_1_3_4_client_id_ill_formed_utf8,
    SERVER,
    b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03\xc3\x28a",
    DecodeError::InvalidUtf8,
    MALFORMED
);
invalid!(
    mqtt_3_1_3_4_client_id_utf16_surrogate,
    SERVER,
    b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03\xed\xa0\x80",
    DecodeError::InvalidUtf8,
    MALFORMED
);
invalid!(
    mqtt_3_1_3_4_v5_client_id_utf16_surrogate,
    SERVER,
    b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03\xed\xa0\x80",
    DecodeError::InvalidUtf8,
    MALFORMED
);
// 3.1.1 [MQTT-1.5.3-2]; v5 [MQTT-1.5.4-2]: no U+0000.
invalid!(
    mqtt_1_5_3_2_client_id_null_character,
    SERVER,
    b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03a\x00b",
    DecodeError::NullCharacter,
    MALFORMED
);

// 3.1.1 [MQTT-3.1.3-11]; v5 [MQTT-3.1.3-12]: the user name is a UTF-8 string.
invalid!(
    mqtt_3_1_3_11_username_utf16_surrogate,
    SERVER,
    b"\x10\x13\x00\x04MQTT\x04\x82\x00\x3c\x00\x02id\x00\x03\xed\xa0\x80",
    DecodeError::InvalidUtf8,
    MALFORMED
);

// 3.1.1 [MQTT-4.7.1-1]; v5 [MQTT-4.7.0-1] and [MQTT-3.3.2-2]: the will topic is a topic name,
// without wildcards.
invalid!(
    mqtt_4_7_1_1_will_topic_with_multi_level_wildcard,
    SERVER,
    b"\x10\x15\x00\x04MQTT\x04\x06\x00\x3c\x00\x02id\x00\x03a/#\x00\x00",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);
invalid!(
    mqtt_4_7_1_1_will_topic_with_single_level_wildcard,
    SERVER,
    b"\x10\x15\x00\x04MQTT\x04\x06\x00\x3c\x00\x02id\x00\x03a/+\x00\x00",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);
invalid!(
    mqtt_4_7_0_1_v5_will_topic_with_wildcard,
    SERVER,
    b"\x10\x17\x00\x04MQTT\x05\x06\x00\x3c\x00\x00\x02id\x00\x00\x03a/+\x00\x00",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);
// 3.1.1 / v5 [MQTT-4.7.3-1]: topic names are at least one character long.
invalid!(
    mqtt_4_7_3_1_empty_will_topic,
    SERVER,
    b"\x10\x12\x00\x04MQTT\x04\x06\x00\x3c\x00\x02id\x00\x00\x00\x00",
    DecodeError::EmptyTopicName,
    PROTOCOL_ERROR
);

// v5 section 3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is
// no Authentication Method".
invalid!(
    mqtt_3_1_2_11_10_v5_authentication_data_without_method_is_protocol_error,
    SERVER,
    b"\x10\x12\x00\x04MQTT\x05\x02\x00\x3c\x05\x16\x00\x02\x01\x02\x00\x00",
    DecodeError::MissingAuthenticationMethod,
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------------

// 3.1.1 section 3.2: accepted, no session.
valid!(
    mqtt_3_2_v311_connack_accepted,
    V3,
    b"\x20\x02\x00\x00",
    Packet::ConnAck(Box::default())
);
// 3.1.1 [MQTT-3.2.2-2]: Session Present 1 with return code 0.
valid!(
    mqtt_3_2_2_2_v311_connack_session_present,
    V3,
    b"\x20\x02\x01\x00",
    Packet::ConnAck(Box::new(connack(true, ReasonCode::Success)))
);

// 3.1.1 section 3.2.2.3, Table 3.1: return codes 1 to 5 map onto MQTT 5 reason codes.
#[test]
fn mqtt_3_2_2_3_v311_connack_return_codes_1_to_5() {
    for (byte, code) in [
        (1u8, ReasonCode::UnsupportedProtocolVersion),
        (2, ReasonCode::ClientIdentifierNotValid),
        (3, ReasonCode::ServerUnavailable),
        (4, ReasonCode::BadUserNameOrPassword),
        (5, ReasonCode::NotAuthorized),
    ] {
        assert_valid(
            V3,
            &[0x20, 0x02, 0x00, byte],
            Packet::ConnAck(Box::new(connack(false, code))),
        );
    }
}

// v5 section 3.2: Success, no properties (property length 0 is mandatory).
valid!(
    mqtt_3_2_v5_connack_success_minimal,
    V5,
    b"\x20\x03\x00\x00\x00",
    Packet::ConnAck(Box::default())
);

fn connack_v5_properties() -> Packet {
    let mut c = connack(true, ReasonCode::Success);
    c.properties.session_expiry_interval = Some(10);
    c.properties.receive_maximum = NonZeroU16::new(10);
    c.properties.maximum_qos = Some(QoS::AtLeastOnce);
    c.properties.retain_available = Some(false);
    c.properties.maximum_packet_size = NonZeroU32::new(4096);
    c.properties.assigned_client_identifier = Some(s("abc"));
    c.properties.topic_alias_maximum = Some(5);
    c.properties.wildcard_subscription_available = Some(false);
    c.properties.subscription_identifier_available = Some(true);
    c.properties.shared_subscription_available = Some(false);
    c.properties.server_keep_alive = Some(30);
    c.properties.user_properties = vec![user("k", "v")];
    Packet::ConnAck(Box::new(c))
}

// v5 section 3.2.2.3: CONNACK properties.
valid!(
    mqtt_3_2_2_3_v5_connack_with_properties,
    V5,
    b"\x20\x2d\x01\x00\x2a\x11\x00\x00\x00\x0a\x21\x00\x0a\x24\x01\x25\x00\x27\x00\x00\x10\x00\
\x12\x00\x03abc\x22\x00\x05\x28\x00\x29\x01\x2a\x00\x13\x00\x1e\x26\x00\x01k\x00\x01v",
    connack_v5_properties()
);
// v5 section 3.2.2.2: a refusal reason code.
valid!(
    mqtt_3_2_2_2_v5_connack_not_authorized,
    V5,
    b"\x20\x03\x00\x87\x00",
    Packet::ConnAck(Box::new(connack(false, ReasonCode::NotAuthorized)))
);

// v5 section 3.2.2.3.1: the property length is not optional in CONNACK.
invalid!(
    mqtt_3_2_2_3_1_v5_connack_without_property_length,
    V5,
    b"\x20\x02\x00\x00",
    DecodeError::TruncatedProperties,
    MALFORMED
);

// v5 [MQTT-3.2.2-1] (3.1.1 section 3.2.2.1): bits 7-1 of the acknowledge flags are reserved.
invalid!(
    mqtt_3_2_2_1_v311_connack_reserved_flags,
    V3,
    b"\x20\x02\x02\x00",
    DecodeError::ReservedConnAckFlags,
    MALFORMED
);
invalid!(
    mqtt_3_2_2_1_v5_connack_reserved_flags,
    V5,
    b"\x20\x03\x80\x00\x00",
    DecodeError::ReservedConnAckFlags,
    MALFORMED
);

// 3.1.1 [MQTT-3.2.2-4]: a non-zero return code requires Session Present 0.
invalid!(
    mqtt_3_2_2_4_v311_session_present_with_refusal,
    V3,
    b"\x20\x02\x01\x05",
    DecodeError::SessionPresentOnRefusal,
    PROTOCOL_ERROR
);
// v5 [MQTT-3.2.2-6]: a non-zero reason code requires Session Present 0.
invalid!(
    mqtt_3_2_2_6_v5_session_present_with_refusal,
    V5,
    b"\x20\x03\x01\x87\x00",
    DecodeError::SessionPresentOnRefusal,
    PROTOCOL_ERROR
);

// 3.1.1 section 3.2.2.3: return codes 6-255 are reserved.
invalid!(
    mqtt_3_2_2_3_v311_connack_return_code_6_reserved,
    V3,
    b"\x20\x02\x00\x06",
    DecodeError::UnknownReasonCode(6),
    MALFORMED
);
// v5 section 3.2.2.2: 0x04 is a defined reason code, but not a Connect Reason Code.
invalid!(
    mqtt_3_2_2_2_v5_connack_reason_code_not_allowed,
    V5,
    b"\x20\x03\x00\x04\x00",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::DisconnectWithWillMessage,
        packet: PacketType::ConnAck
    },
    PROTOCOL_ERROR
);
// 3.1.1 section 3.2: the CONNACK remaining length is 2.
invalid!(
    mqtt_3_2_1_v311_connack_trailing_bytes,
    V3,
    b"\x20\x03\x00\x00\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);

// ---------------------------------------------------------------------------------------------
// PUBLISH: valid
// ---------------------------------------------------------------------------------------------

// 3.1.1 section 3.3: QoS 0 has no packet identifier [MQTT-2.3.1-5].
valid!(
    mqtt_2_3_1_5_v311_publish_qos0,
    V3,
    b"\x30\x0a\x00\x03a/bhello",
    Packet::Publish(publish(QoS::AtMostOnce, "a/b", None, b"hello"))
);
// 3.1.1 section 3.3.2 variable header example: topic "a/b", packet identifier 10.
valid!(
    mqtt_3_3_2_v311_publish_qos1_spec_example,
    V3,
    b"\x32\x09\x00\x03a/b\x00\x0ahi",
    Packet::Publish(publish(QoS::AtLeastOnce, "a/b", Some(10), b"hi"))
);

fn publish_qos2_dup_retain() -> Packet {
    let mut p = publish(QoS::ExactlyOnce, "a/b", Some(0x1234), b"");
    p.dup = true;
    p.retain = true;
    Packet::Publish(p)
}

// 3.1.1 section 3.3.1: DUP, QoS 2 and RETAIN flags; empty payload.
valid!(
    mqtt_3_3_1_v311_publish_qos2_dup_retain_empty_payload,
    V3,
    b"\x3d\x07\x00\x03a/b\x12\x34",
    publish_qos2_dup_retain()
);

// 3.1.1 section 2.2.3: a two-byte remaining length (128 = 0x80 0x01).
#[test]
fn mqtt_2_2_3_remaining_length_two_bytes() {
    let input = [&b"\x30\x80\x01\x00\x01t"[..], &[b'x'; 125][..]].concat();
    let payload = Bytes::from(vec![b'x'; 125]);
    assert_valid(V3, &input, Packet::Publish(Publish::new(s("t"), payload)));
}

// 3.1.1 [MQTT-1.5.3-3]; v5 [MQTT-1.5.4-3]: a BOM (EF BB BF) is kept, not stripped.
valid!(
    mqtt_1_5_3_3_bom_in_topic_is_kept,
    V3,
    b"\x30\x06\x00\x04\xef\xbb\xbfA",
    Packet::Publish(publish(QoS::AtMostOnce, "\u{feff}A", None, b""))
);

// v5 section 3.3.2.3: QoS 0 with an empty property block.
valid!(
    mqtt_3_3_2_3_v5_publish_qos0,
    V5,
    b"\x30\x0b\x00\x03a/b\x00hello",
    Packet::Publish(publish(QoS::AtMostOnce, "a/b", None, b"hello"))
);
// v5 section 3.3.2 variable header example: topic "a/b", packet identifier 10, no properties.
valid!(
    mqtt_3_3_2_v5_publish_qos1_spec_example,
    V5,
    b"\x32\x08\x00\x03a/b\x00\x0a\x00",
    Packet::Publish(publish(QoS::AtLeastOnce, "a/b", Some(10), b""))
);

fn publish_v5_all_properties() -> Packet {
    let mut p = publish(QoS::ExactlyOnce, "a/b", Some(7), b"{}");
    p.properties.payload_format_indicator = Some(true);
    p.properties.message_expiry_interval = Some(60);
    p.properties.topic_alias = NonZeroU16::new(1);
    p.properties.response_topic = Some(s("r/t"));
    p.properties.correlation_data = Some(bin(b"\x01\x02"));
    p.properties.content_type = Some(s("json"));
    p.properties.user_properties = vec![user("k", "v"), user("k", "w")];
    p.properties.subscription_identifiers = vec![
        SubscriptionId::new(5).unwrap(),
        SubscriptionId::new(128).unwrap(),
    ];
    Packet::Publish(p)
}

// v5 section 3.3.2.3: payload format, expiry, topic alias, response topic, correlation data,
// content type, user properties in order [MQTT-3.3.2-18], two subscription identifiers
// [MQTT-3.3.4-4] (one a two-byte variable byte integer).
valid!(
    mqtt_3_3_2_18_v5_publish_qos2_all_properties,
    V5,
    b"\x34\x39\x00\x03a/b\x00\x07\x2f\x01\x01\x02\x00\x00\x00\x3c\x23\x00\x01\x08\x00\x03r/t\
\x09\x00\x02\x01\x02\x03\x00\x04json\x26\x00\x01k\x00\x01v\x26\x00\x01k\x00\x01w\
\x0b\x05\x0b\x80\x01{}",
    publish_v5_all_properties()
);

fn publish_alias_only() -> Packet {
    let mut p = publish(QoS::AtMostOnce, "", None, b"x");
    p.properties.topic_alias = NonZeroU16::new(1);
    Packet::Publish(p)
}

// v5 section 3.3.2.3.4: a zero-length topic name is allowed with a Topic Alias.
valid!(
    mqtt_3_3_2_3_4_v5_empty_topic_with_topic_alias,
    V5,
    b"\x30\x07\x00\x00\x03\x23\x00\x01x",
    publish_alias_only()
);

// ---------------------------------------------------------------------------------------------
// PUBLISH: rules
// ---------------------------------------------------------------------------------------------

// 3.1.1 / v5 [MQTT-3.3.1-4]: a PUBLISH must not have both QoS bits set.
invalid!(
    mqtt_3_3_1_4_publish_qos_3_is_malformed,
    V3,
    b"\x36\x07\x00\x03a/b\x00\x01",
    DecodeError::InvalidQoS,
    MALFORMED
);
invalid!(
    mqtt_3_3_1_4_v5_publish_qos_3_is_malformed,
    V5,
    b"\x36\x08\x00\x03a/b\x00\x01\x00",
    DecodeError::InvalidQoS,
    MALFORMED
);

// 3.1.1 / v5 [MQTT-3.3.1-2]: DUP must be 0 for QoS 0.
invalid!(
    mqtt_3_3_1_2_dup_on_qos0,
    V3,
    b"\x38\x05\x00\x03a/b",
    DecodeError::DupOnQos0,
    MALFORMED
);
invalid!(
    mqtt_3_3_1_2_v5_dup_on_qos0,
    V5,
    b"\x38\x06\x00\x03a/b\x00",
    DecodeError::DupOnQos0,
    MALFORMED
);

// 3.1.1 [MQTT-3.3.2-1] + [MQTT-1.5.3-1]; v5 [MQTT-3.3.2-1] + [MQTT-1.5.4-1]: topic UTF-8.
invalid!(
    mqtt_1_5_3_1_topic_ill_formed_utf8,
    V3,
    b"\x30\x04\x00\x02\xc3\x28",
    DecodeError::InvalidUtf8,
    MALFORMED
);
invalid!(
    mqtt_1_5_3_1_topic_utf16_surrogate,
    V3,
    b"\x30\x05\x00\x03\xed\xa0\x80",
    DecodeError::InvalidUtf8,
    MALFORMED
);
invalid!(
    mqtt_1_5_4_1_v5_topic_utf16_surrogate,
    V5,
    b"\x30\x06\x00\x03\xed\xa0\x80\x00",
    DecodeError::InvalidUtf8,
    MALFORMED
);
// 3.1.1 [MQTT-1.5.3-2], [MQTT-4.7.3-2]; v5 [MQTT-1.5.4-2], [MQTT-4.7.3-2]: no U+0000.
invalid!(
    mqtt_1_5_3_2_topic_null_character,
    V3,
    b"\x30\x05\x00\x03a\x00b",
    DecodeError::NullCharacter,
    MALFORMED
);

// 3.1.1 [MQTT-4.7.3-2]; v5 [MQTT-4.7.3-2]: topic names longer than one 8-byte word, with the
// forbidden byte past the first word, and a valid multi-byte UTF-8 topic of that length.
invalid!(
    mqtt_4_7_3_2_v5_long_topic_null_character_after_first_word,
    V5,
    b"\x30\x15\x00\x12aaaaaaaaa\x00aaaaaaaa\x00",
    DecodeError::NullCharacter,
    MALFORMED
);
invalid!(
    mqtt_3_3_2_2_v5_long_topic_wildcard_after_first_word,
    V5,
    b"\x30\x15\x00\x12aaaaaaaaaaaa+aaaaa\x00",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);
valid!(
    mqtt_3_3_2_1_v5_long_multibyte_utf8_topic,
    V5,
    b"\x30\x15\x00\x12home/\xce\xba\xce\xbf\xcf\x85\xce\xb6/temp\x00",
    Packet::Publish(publish(
        QoS::AtMostOnce,
        "home/\u{3ba}\u{3bf}\u{3c5}\u{3b6}/temp",
        None,
        b""
    ))
);

// 3.1.1 / v5 [MQTT-3.3.2-2]: no wildcards in a topic name.
invalid!(
    mqtt_3_3_2_2_topic_with_single_level_wildcard,
    V3,
    b"\x30\x05\x00\x03a/+",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);
invalid!(
    mqtt_3_3_2_2_topic_with_multi_level_wildcard,
    V3,
    b"\x30\x05\x00\x03a/#",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);
invalid!(
    mqtt_3_3_2_2_v5_topic_with_wildcard,
    V5,
    b"\x30\x06\x00\x03a/#\x00",
    DecodeError::WildcardInTopicName,
    TOPIC_NAME_INVALID
);

// 3.1.1 [MQTT-4.7.3-1]: topic names are at least one character long.
invalid!(
    mqtt_4_7_3_1_v311_empty_topic,
    V3,
    b"\x30\x03\x00\x00x",
    DecodeError::EmptyTopicName,
    PROTOCOL_ERROR
);
// v5 section 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is
// no Topic Alias."
invalid!(
    mqtt_3_3_2_1_v5_empty_topic_without_topic_alias,
    V5,
    b"\x30\x04\x00\x00\x00x",
    DecodeError::EmptyTopicName,
    PROTOCOL_ERROR
);
// v5 [MQTT-3.3.2-8]: Topic Alias 0 is not permitted; section 3.3.4 answers it 0x94.
invalid!(
    mqtt_3_3_2_8_v5_topic_alias_zero,
    V5,
    b"\x30\x07\x00\x00\x03\x23\x00\x00x",
    DecodeError::InvalidPropertyValue(PropertyId::TopicAlias),
    0x94
);
// v5 [MQTT-3.3.2-14]: the Response Topic has no wildcards.
invalid!(
    mqtt_3_3_2_14_v5_response_topic_with_wildcard,
    V5,
    b"\x30\x0c\x00\x03a/b\x06\x08\x00\x03r/#",
    DecodeError::InvalidPropertyValue(PropertyId::ResponseTopic),
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// Packet identifiers
// ---------------------------------------------------------------------------------------------

// 3.1.1 [MQTT-2.3.1-1]; v5 [MQTT-2.2.1-3]: a PUBLISH with QoS > 0, SUBSCRIBE and UNSUBSCRIBE
// carry a non-zero packet identifier; the acknowledgements echo it (3.1.1 [MQTT-2.3.1-6],
// [MQTT-2.3.1-7]; v5 [MQTT-2.2.1-5], [MQTT-2.2.1-6]), so 0 never appears.
invalid!(
    mqtt_2_3_1_1_publish_qos1_packet_id_zero,
    V3,
    b"\x32\x07\x00\x03a/b\x00\x00",
    DecodeError::ZeroPacketId,
    MALFORMED
);
invalid!(
    mqtt_2_3_1_1_subscribe_packet_id_zero,
    V3,
    b"\x82\x06\x00\x00\x00\x01a\x00",
    DecodeError::ZeroPacketId,
    MALFORMED
);
invalid!(
    mqtt_2_3_1_1_unsubscribe_packet_id_zero,
    V3,
    b"\xa2\x05\x00\x00\x00\x01a",
    DecodeError::ZeroPacketId,
    MALFORMED
);
invalid!(
    mqtt_2_3_1_6_puback_packet_id_zero,
    V3,
    b"\x40\x02\x00\x00",
    DecodeError::ZeroPacketId,
    MALFORMED
);
invalid!(
    mqtt_2_3_1_7_suback_packet_id_zero,
    V3,
    b"\x90\x03\x00\x00\x00",
    DecodeError::ZeroPacketId,
    MALFORMED
);
invalid!(
    mqtt_2_2_1_3_v5_publish_qos2_packet_id_zero,
    V5,
    b"\x34\x08\x00\x03a/b\x00\x00\x00",
    DecodeError::ZeroPacketId,
    MALFORMED
);

#[test]
fn mqtt_2_3_1_6_other_acks_packet_id_zero() {
    for input in [
        &b"\x50\x02\x00\x00"[..], // PUBREC
        b"\x62\x02\x00\x00",      // PUBREL
        b"\x70\x02\x00\x00",      // PUBCOMP
        b"\xb0\x02\x00\x00",      // UNSUBACK
    ] {
        assert_rejected(V3, input, DecodeError::ZeroPacketId, MALFORMED);
        assert_rejected(V5, input, DecodeError::ZeroPacketId, MALFORMED);
    }
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------------

// 3.1.1 sections 3.4 to 3.7: packet identifier only.
valid!(
    mqtt_3_4_v311_puback,
    V3,
    b"\x40\x02\x00\x01",
    Packet::PubAck(ack(1, ReasonCode::Success))
);
valid!(
    mqtt_3_5_v311_pubrec,
    V3,
    b"\x50\x02\x00\x01",
    Packet::PubRec(ack(1, ReasonCode::Success))
);
// 3.1.1 [MQTT-3.6.1-1]: PUBREL flags 0010.
valid!(
    mqtt_3_6_1_1_v311_pubrel,
    V3,
    b"\x62\x02\x00\x01",
    Packet::PubRel(ack(1, ReasonCode::Success))
);
valid!(
    mqtt_3_7_v311_pubcomp,
    V3,
    b"\x70\x02\x00\x01",
    Packet::PubComp(ack(1, ReasonCode::Success))
);

// v5 section 3.4.2.1: remaining length 2 means Success and no properties.
valid!(
    mqtt_3_4_2_1_v5_puback_remaining_length_2,
    V5,
    b"\x40\x02\x00\x01",
    Packet::PubAck(ack(1, ReasonCode::Success))
);
valid!(
    mqtt_3_6_2_1_v5_pubrel_remaining_length_2,
    V5,
    b"\x62\x02\x00\x01",
    Packet::PubRel(ack(1, ReasonCode::Success))
);
// v5 sections 3.4.2.2.1, 3.5.2.2.1, 3.6.2.2.1, 3.7.2.2.1: remaining length 3 means no
// properties.
valid!(
    mqtt_3_4_2_2_1_v5_puback_remaining_length_3,
    V5,
    b"\x40\x03\x00\x01\x10",
    Packet::PubAck(ack(1, ReasonCode::NoMatchingSubscribers))
);
valid!(
    mqtt_3_5_2_2_1_v5_pubrec_remaining_length_3,
    V5,
    b"\x50\x03\x00\x01\x80",
    Packet::PubRec(ack(1, ReasonCode::UnspecifiedError))
);
valid!(
    mqtt_3_6_2_2_1_v5_pubrel_remaining_length_3,
    V5,
    b"\x62\x03\x00\x01\x92",
    Packet::PubRel(ack(1, ReasonCode::PacketIdentifierNotFound))
);
valid!(
    mqtt_3_7_2_2_1_v5_pubcomp_remaining_length_3,
    V5,
    b"\x70\x03\x00\x01\x92",
    Packet::PubComp(ack(1, ReasonCode::PacketIdentifierNotFound))
);
// v5 section 3.4.2.2: Reason String and User Property.
valid!(
    mqtt_3_4_2_2_v5_puback_with_properties,
    V5,
    b"\x40\x10\x00\x01\x87\x0c\x1f\x00\x02no\x26\x00\x01k\x00\x01v",
    Packet::PubAck(ack_with_props(1, ReasonCode::NotAuthorized))
);
valid!(
    mqtt_3_7_2_2_v5_pubcomp_with_properties,
    V5,
    b"\x70\x10\x00\x01\x00\x0c\x1f\x00\x02no\x26\x00\x01k\x00\x01v",
    Packet::PubComp(ack_with_props(1, ReasonCode::Success))
);
// v5 section 3.4.2.1: the sender MAY send the Success code and an empty property length; the
// canonical encoding omits them, so these decode but re-encode shorter.
decodes!(
    mqtt_3_4_2_1_v5_puback_explicit_success_and_empty_properties,
    V5,
    b"\x40\x04\x00\x01\x00\x00",
    Packet::PubAck(ack(1, ReasonCode::Success))
);
decodes!(
    mqtt_3_4_2_1_v5_puback_explicit_success_code,
    V5,
    b"\x40\x03\x00\x01\x00",
    Packet::PubAck(ack(1, ReasonCode::Success))
);

// 3.1.1 section 3.4.1: the PUBACK remaining length is 2.
invalid!(
    mqtt_3_4_1_v311_puback_trailing_bytes,
    V3,
    b"\x40\x03\x00\x01\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);

// v5 [MQTT-3.4.2-1]: 0x05 is no reason code at all.
invalid!(
    mqtt_3_4_2_1_v5_puback_unknown_reason_code,
    V5,
    b"\x40\x03\x00\x01\x05",
    DecodeError::UnknownReasonCode(0x05),
    MALFORMED
);
// v5 [MQTT-3.4.2-1]: 0x92 (Packet Identifier not found) is not a PUBACK Reason Code.
invalid!(
    mqtt_3_4_2_1_v5_puback_reason_code_0x92_not_allowed,
    V5,
    b"\x40\x03\x00\x01\x92",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::PacketIdentifierNotFound,
        packet: PacketType::PubAck
    },
    PROTOCOL_ERROR
);
// v5 [MQTT-3.5.2-1]: nor a PUBREC Reason Code.
invalid!(
    mqtt_3_5_2_1_v5_pubrec_reason_code_0x92_not_allowed,
    V5,
    b"\x50\x03\x00\x01\x92",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::PacketIdentifierNotFound,
        packet: PacketType::PubRec
    },
    PROTOCOL_ERROR
);
// v5 [MQTT-3.6.2-1]: 0x10 (No matching subscribers) is not a PUBREL Reason Code.
invalid!(
    mqtt_3_6_2_1_v5_pubrel_reason_code_0x10_not_allowed,
    V5,
    b"\x62\x03\x00\x01\x10",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::NoMatchingSubscribers,
        packet: PacketType::PubRel
    },
    PROTOCOL_ERROR
);
// v5 [MQTT-3.7.2-1]: nor a PUBCOMP Reason Code.
invalid!(
    mqtt_3_7_2_1_v5_pubcomp_reason_code_0x10_not_allowed,
    V5,
    b"\x70\x03\x00\x01\x10",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::NoMatchingSubscribers,
        packet: PacketType::PubComp
    },
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE
// ---------------------------------------------------------------------------------------------

fn subscribe_v311_spec() -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: id(10),
        properties: Default::default(),
        filters: vec![
            (s("a/b"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
            (s("c/d"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
        ],
    })
}

// 3.1.1 section 3.8 example: packet id 10, "a/b" QoS 1, "c/d" QoS 2;
// [MQTT-3.8.1-1] flags 0010.
valid!(
    mqtt_3_8_1_1_v311_subscribe_spec_example,
    V3,
    b"\x82\x0e\x00\x0a\x00\x03a/b\x01\x00\x03c/d\x02",
    subscribe_v311_spec()
);

fn subscribe_v5_all_options() -> Packet {
    let mut sub = Subscribe {
        packet_id: id(10),
        properties: Default::default(),
        filters: vec![
            (
                s("a/b"),
                opts(QoS::ExactlyOnce, true, true, RetainHandling::DoNotSend),
            ),
            (
                s("c/d"),
                opts(
                    QoS::AtLeastOnce,
                    false,
                    false,
                    RetainHandling::SendAtSubscribeIfNew,
                ),
            ),
            (s("e"), SubscriptionOptions::default()),
        ],
    };
    sub.properties.subscription_identifier = SubscriptionId::new(1);
    sub.properties.user_properties = vec![user("k", "v")];
    Packet::Subscribe(sub)
}

// v5 sections 3.8.2.1 (Subscription Identifier, User Property) and 3.8.3.1 (Maximum QoS, No
// Local, Retain As Published, Retain Handling 0/1/2).
valid!(
    mqtt_3_8_3_1_v5_subscribe_all_subscription_options,
    V5,
    b"\x82\x1c\x00\x0a\x09\x0b\x01\x26\x00\x01k\x00\x01v\
\x00\x03a/b\x2e\x00\x03c/d\x11\x00\x01e\x00",
    subscribe_v5_all_options()
);

// 3.1.1 [MQTT-3.8.3-3]: at least one Topic Filter / QoS pair.
invalid!(
    mqtt_3_8_3_3_v311_subscribe_without_filters,
    V3,
    b"\x82\x02\x00\x01",
    DecodeError::EmptySubscribe,
    PROTOCOL_ERROR
);
// v5 [MQTT-3.8.3-2]: at least one Topic Filter and Subscription Options pair.
invalid!(
    mqtt_3_8_3_2_v5_subscribe_without_filters,
    V5,
    b"\x82\x03\x00\x01\x00",
    DecodeError::EmptySubscribe,
    PROTOCOL_ERROR
);
// 3.1.1 / v5 [MQTT-3.8.3-1]: topic filters are UTF-8 strings.
invalid!(
    mqtt_3_8_3_1_subscribe_filter_utf16_surrogate,
    V3,
    b"\x82\x08\x00\x01\x00\x03\xed\xa0\x80\x00",
    DecodeError::InvalidUtf8,
    MALFORMED
);
// 3.1.1 [MQTT-3-8.3-4]: reserved bits 7-2 of the requested QoS byte.
invalid!(
    mqtt_3_8_3_4_v311_subscribe_reserved_option_bits,
    V3,
    b"\x82\x06\x00\x01\x00\x01a\x04",
    DecodeError::ReservedSubscriptionOptionBits(0x04),
    MALFORMED
);
// 3.1.1 [MQTT-3-8.3-4]: "or QoS is not 0, 1 or 2".
invalid!(
    mqtt_3_8_3_4_v311_subscribe_qos_3,
    V3,
    b"\x82\x06\x00\x01\x00\x01a\x03",
    DecodeError::InvalidQoS,
    MALFORMED
);
// v5 [MQTT-3.8.3-5]: reserved bits 7-6 of the subscription options.
invalid!(
    mqtt_3_8_3_5_v5_subscribe_reserved_option_bits,
    V5,
    b"\x82\x07\x00\x01\x00\x00\x01a\xc0",
    DecodeError::ReservedSubscriptionOptionBits(0xc0),
    MALFORMED
);
invalid!(
    mqtt_3_8_3_5_v5_subscribe_reserved_option_bit_6,
    V5,
    b"\x82\x07\x00\x01\x00\x00\x01a\x40",
    DecodeError::ReservedSubscriptionOptionBits(0x40),
    MALFORMED
);
// v5 section 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
invalid!(
    mqtt_3_8_3_1_v5_subscribe_retain_handling_3,
    V5,
    b"\x82\x07\x00\x01\x00\x00\x01a\x30",
    DecodeError::InvalidRetainHandling,
    PROTOCOL_ERROR
);

// "It is a Protocol Error if the Maximum QoS field has the value 3" (v5 section
// 3.8.3.1), so the answer is 0x82, not 0x81 (which 3.1.1 [MQTT-3-8.3-4] calls for).
#[test]
fn mqtt_3_8_3_1_v5_subscribe_max_qos_3_is_protocol_error() {
    let err = decode_err(V5, b"\x82\x07\x00\x01\x00\x00\x01a\x03");
    assert_eq!(err, DecodeError::InvalidSubscriptionQoS);
    assert_eq!(err.reason_code().as_u8(), PROTOCOL_ERROR, "{err:?}");
}

// v5 section 3.8.2.1.2: "It is a Protocol Error to include the Subscription Identifier more
// than once".
invalid!(
    mqtt_3_8_2_1_2_v5_duplicate_subscription_identifier,
    V5,
    b"\x82\x0b\x00\x01\x04\x0b\x01\x0b\x02\x00\x01a\x00",
    DecodeError::DuplicateProperty(PropertyId::SubscriptionIdentifier),
    PROTOCOL_ERROR
);
// v5 section 3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has a value
// of 0".
invalid!(
    mqtt_3_8_2_1_2_v5_subscription_identifier_zero,
    V5,
    b"\x82\x09\x00\x01\x02\x0b\x00\x00\x01a\x00",
    DecodeError::InvalidPropertyValue(PropertyId::SubscriptionIdentifier),
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// SUBACK
// ---------------------------------------------------------------------------------------------

fn suback(codes: Vec<ReasonCode>) -> SubAck {
    SubAck {
        packet_id: id(10),
        properties: Default::default(),
        reason_codes: codes,
    }
}

// 3.1.1 section 3.9.3 payload example: 0x00 (QoS 0), 0x02 (QoS 2), 0x80 (Failure).
valid!(
    mqtt_3_9_3_v311_suback_spec_example,
    V3,
    b"\x90\x05\x00\x0a\x00\x02\x80",
    Packet::SubAck(suback(vec![
        ReasonCode::GRANTED_QOS_0,
        ReasonCode::GrantedQoS2,
        ReasonCode::UnspecifiedError,
    ]))
);

fn suback_v5() -> Packet {
    let mut ack = suback(vec![
        ReasonCode::GRANTED_QOS_0,
        ReasonCode::GrantedQoS1,
        ReasonCode::GrantedQoS2,
        ReasonCode::TopicFilterInvalid,
        ReasonCode::WildcardSubscriptionsNotSupported,
    ]);
    ack.properties.reason_string = Some(s("no"));
    Packet::SubAck(ack)
}

// v5 sections 3.9.2.1 and 3.9.3: Reason String and five reason codes.
valid!(
    mqtt_3_9_3_v5_suback_with_reason_string,
    V5,
    b"\x90\x0d\x00\x0a\x05\x1f\x00\x02no\x00\x01\x02\x8f\xa2",
    suback_v5()
);

// 3.1.1 [MQTT-3.9.3-2]: SUBACK return codes other than 0x00, 0x01, 0x02 and 0x80 are reserved.
invalid!(
    mqtt_3_9_3_2_v311_suback_reserved_return_code,
    V3,
    b"\x90\x03\x00\x01\x03",
    DecodeError::UnknownReasonCode(0x03),
    MALFORMED
);
// v5 [MQTT-3.9.3-2]: 0x10 is not a Subscribe Reason Code.
invalid!(
    mqtt_3_9_3_2_v5_suback_reason_code_not_allowed,
    V5,
    b"\x90\x04\x00\x01\x00\x10",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::NoMatchingSubscribers,
        packet: PacketType::SubAck
    },
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------------

fn unsubscribe_v311_spec() -> Packet {
    Packet::Unsubscribe(Unsubscribe {
        packet_id: id(10),
        properties: Default::default(),
        filters: vec![s("a/b"), s("c/d")],
    })
}

// 3.1.1 section 3.10 example: packet id 10, "a/b", "c/d"; [MQTT-3.10.1-1] flags 0010.
valid!(
    mqtt_3_10_1_1_v311_unsubscribe_spec_example,
    V3,
    b"\xa2\x0c\x00\x0a\x00\x03a/b\x00\x03c/d",
    unsubscribe_v311_spec()
);

fn unsubscribe_v5() -> Packet {
    let mut unsub = Unsubscribe {
        packet_id: id(10),
        properties: Default::default(),
        filters: vec![s("a/b")],
    };
    unsub.properties.user_properties = vec![user("k", "v")];
    Packet::Unsubscribe(unsub)
}

// v5 section 3.10.2.1: User Property.
valid!(
    mqtt_3_10_2_1_v5_unsubscribe_with_user_property,
    V5,
    b"\xa2\x0f\x00\x0a\x07\x26\x00\x01k\x00\x01v\x00\x03a/b",
    unsubscribe_v5()
);

// 3.1.1 / v5 [MQTT-3.10.3-2]: at least one Topic Filter.
invalid!(
    mqtt_3_10_3_2_v311_unsubscribe_without_filters,
    V3,
    b"\xa2\x02\x00\x01",
    DecodeError::EmptyUnsubscribe,
    PROTOCOL_ERROR
);
invalid!(
    mqtt_3_10_3_2_v5_unsubscribe_without_filters,
    V5,
    b"\xa2\x03\x00\x01\x00",
    DecodeError::EmptyUnsubscribe,
    PROTOCOL_ERROR
);

// 3.1.1 section 3.11: packet identifier only, no payload.
valid!(
    mqtt_3_11_v311_unsuback_has_no_payload,
    V3,
    b"\xb0\x02\x00\x0a",
    Packet::UnsubAck(UnsubAck {
        packet_id: id(10),
        properties: Default::default(),
        reason_codes: vec![],
    })
);
invalid!(
    mqtt_3_11_v311_unsuback_trailing_bytes,
    V3,
    b"\xb0\x03\x00\x0a\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);
// v5 section 3.11.3: one reason code per filter.
valid!(
    mqtt_3_11_3_v5_unsuback_with_reason_codes,
    V5,
    b"\xb0\x05\x00\x0a\x00\x00\x11",
    Packet::UnsubAck(UnsubAck {
        packet_id: id(10),
        properties: Default::default(),
        reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
    })
);
// v5 [MQTT-3.11.3-2]: 0x01 (Granted QoS 1) is not an Unsubscribe Reason Code.
invalid!(
    mqtt_3_11_3_2_v5_unsuback_reason_code_not_allowed,
    V5,
    b"\xb0\x04\x00\x01\x00\x01",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::GrantedQoS1,
        packet: PacketType::UnsubAck
    },
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------------

// 3.1.1 / v5 sections 3.12 and 3.13: fixed header only.
valid!(mqtt_3_12_v311_pingreq, V3, b"\xc0\x00", Packet::PingReq);
valid!(mqtt_3_12_v5_pingreq, V5, b"\xc0\x00", Packet::PingReq);
valid!(mqtt_3_13_v311_pingresp, V3, b"\xd0\x00", Packet::PingResp);
valid!(mqtt_3_13_v5_pingresp, V5, b"\xd0\x00", Packet::PingResp);
// 3.1.1 / v5 section 3.12: PINGREQ has no variable header and no payload.
invalid!(
    mqtt_3_12_pingreq_remaining_length_1,
    V3,
    b"\xc0\x01\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);
invalid!(
    mqtt_3_12_v5_pingreq_remaining_length_1,
    V5,
    b"\xc0\x01\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);
invalid!(
    mqtt_3_13_pingresp_remaining_length_1,
    V3,
    b"\xd0\x01\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);

// 3.1.1 section 3.14: no variable header, no payload.
valid!(
    mqtt_3_14_v311_disconnect,
    V3,
    b"\xe0\x00",
    Packet::Disconnect(Disconnect::default())
);
invalid!(
    mqtt_3_14_v311_disconnect_trailing_bytes,
    V3,
    b"\xe0\x01\x00",
    DecodeError::TrailingBytes(1),
    MALFORMED
);
// v5 section 3.14.2.1: remaining length 0 means Normal Disconnection.
valid!(
    mqtt_3_14_2_1_v5_disconnect_empty,
    V5,
    b"\xe0\x00",
    Packet::Disconnect(Disconnect::default())
);
// v5 section 3.14.2.2.1: remaining length 1, reason code only.
valid!(
    mqtt_3_14_2_2_1_v5_disconnect_reason_only,
    V5,
    b"\xe0\x01\x04",
    Packet::Disconnect(disconnect(ReasonCode::DisconnectWithWillMessage))
);

fn disconnect_v5_properties() -> Packet {
    let mut d = disconnect(ReasonCode::UseAnotherServer);
    d.properties.reason_string = Some(s("bye"));
    d.properties.server_reference = Some(s("srv"));
    d.properties.user_properties = vec![user("k", "v")];
    Packet::Disconnect(d)
}

// v5 section 3.14.2.2: Reason String, Server Reference, User Property.
valid!(
    mqtt_3_14_2_2_v5_disconnect_reason_and_properties,
    V5,
    b"\xe0\x15\x9c\x13\x1f\x00\x03bye\x1c\x00\x03srv\x26\x00\x01k\x00\x01v",
    disconnect_v5_properties()
);
// v5 [MQTT-3.14.2-1]: 0x01 (Granted QoS 1) is not a Disconnect Reason Code.
invalid!(
    mqtt_3_14_2_1_v5_disconnect_reason_code_not_allowed,
    V5,
    b"\xe0\x01\x01",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::GrantedQoS1,
        packet: PacketType::Disconnect
    },
    PROTOCOL_ERROR
);
invalid!(
    mqtt_3_14_2_1_v5_disconnect_unknown_reason_code,
    V5,
    b"\xe0\x01\xff",
    DecodeError::UnknownReasonCode(0xff),
    MALFORMED
);

// v5 section 3.15.2.1: remaining length 0 means Success and no properties.
valid!(
    mqtt_3_15_2_1_v5_auth_empty,
    V5,
    b"\xf0\x00",
    Packet::Auth(Auth::default())
);

fn auth_continue() -> Packet {
    let mut a = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        ..Auth::default()
    };
    a.properties.authentication_method = Some(s("SCRAM"));
    a.properties.authentication_data = Some(bin(b"\x01\x02\x03"));
    Packet::Auth(a)
}

// v5 section 3.15.2: Continue authentication with Authentication Method and Data.
valid!(
    mqtt_3_15_2_v5_auth_continue_with_method_and_data,
    V5,
    b"\xf0\x10\x18\x0e\x15\x00\x05SCRAM\x16\x00\x03\x01\x02\x03",
    auth_continue()
);
// v5 [MQTT-3.15.2-1]: the sender uses one of the Authenticate Reason Codes.
invalid!(
    mqtt_3_15_2_1_v5_auth_reason_code_not_allowed,
    V5,
    b"\xf0\x01\x87",
    DecodeError::ReasonCodeNotAllowed {
        code: ReasonCode::NotAuthorized,
        packet: PacketType::Auth
    },
    PROTOCOL_ERROR
);
// v5 section 3.15.2.2.2: "It is a Protocol Error to omit the Authentication Method" (only the
// Success / no properties form of 3.15.2.1 may leave it out).
invalid!(
    mqtt_3_15_2_2_2_v5_auth_continue_without_method_is_protocol_error,
    V5,
    b"\xf0\x02\x18\x00",
    DecodeError::MissingAuthenticationMethod,
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// Fixed header
// ---------------------------------------------------------------------------------------------

// 3.1.1 section 2.2.1, Table 2.1 / v5 section 2.1.2, Table 2-1: type 0 is reserved (forbidden).
invalid!(
    mqtt_2_1_2_packet_type_0_reserved,
    V3,
    b"\x00\x00",
    DecodeError::InvalidPacketType(0),
    MALFORMED
);
invalid!(
    mqtt_2_1_2_server_packet_type_0_reserved,
    SERVER,
    b"\x00\x00",
    DecodeError::InvalidPacketType(0),
    MALFORMED
);
// 3.1.1 section 2.2.1, Table 2.1: type 15 is reserved (forbidden); AUTH exists only in v5.
invalid!(
    mqtt_2_2_1_v311_auth_packet_type_15,
    V3,
    b"\xf0\x00",
    DecodeError::InvalidPacketType(15),
    MALFORMED
);
invalid!(
    mqtt_2_2_1_v31_auth_packet_type_15,
    V31,
    b"\xf0\x00",
    DecodeError::InvalidPacketType(15),
    MALFORMED
);

// 3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]; v5 [MQTT-2.1.3-1]; [MQTT-3.6.1-1]: PUBREL flags 0010.
invalid!(
    mqtt_3_6_1_1_pubrel_flags_0000,
    V3,
    b"\x60\x02\x00\x01",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::PubRel,
        flags: 0
    },
    MALFORMED
);
invalid!(
    mqtt_3_6_1_1_v5_pubrel_flags_0011,
    V5,
    b"\x63\x02\x00\x01",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::PubRel,
        flags: 0b0011
    },
    MALFORMED
);
// [MQTT-3.8.1-1]: SUBSCRIBE flags 0010.
invalid!(
    mqtt_3_8_1_1_subscribe_flags_0000,
    V3,
    b"\x80\x06\x00\x01\x00\x01a\x00",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::Subscribe,
        flags: 0
    },
    MALFORMED
);
// [MQTT-3.10.1-1]: UNSUBSCRIBE flags 0010.
invalid!(
    mqtt_3_10_1_1_unsubscribe_flags_0000,
    V3,
    b"\xa0\x05\x00\x01\x00\x01a",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::Unsubscribe,
        flags: 0
    },
    MALFORMED
);
// 3.1.1 [MQTT-2.2.2-1]; v5 [MQTT-2.1.3-1]: every other type but PUBLISH has flags 0000.
invalid!(
    mqtt_2_2_2_1_pingreq_flags_0001,
    V3,
    b"\xc1\x00",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::PingReq,
        flags: 1
    },
    MALFORMED
);
invalid!(
    mqtt_2_2_2_1_connect_flags_0001,
    SERVER,
    b"\x11\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::Connect,
        flags: 1
    },
    MALFORMED
);
invalid!(
    mqtt_2_2_2_1_puback_flags_0010,
    V3,
    b"\x42\x02\x00\x01",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::PubAck,
        flags: 0b0010
    },
    MALFORMED
);
// v5 [MQTT-3.14.1-1]: DISCONNECT reserved bits.
invalid!(
    mqtt_3_14_1_1_v5_disconnect_flags_1000,
    V5,
    b"\xe8\x00",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::Disconnect,
        flags: 0b1000
    },
    MALFORMED
);
// v5 [MQTT-3.15.1-1]: AUTH reserved bits.
invalid!(
    mqtt_3_15_1_1_v5_auth_flags_0001,
    V5,
    b"\xf1\x00",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::Auth,
        flags: 1
    },
    MALFORMED
);
// 3.1.1 [MQTT-2.2.2-2]: invalid flags are detected from the first byte alone.
invalid!(
    mqtt_2_2_2_2_invalid_flags_detected_from_first_byte,
    V3,
    b"\xc1",
    DecodeError::InvalidHeaderFlags {
        packet_type: PacketType::PingReq,
        flags: 1
    },
    MALFORMED
);

// 3.1.1 section 2.2.3; v5 section 1.5.5: at most four bytes of remaining length.
invalid!(
    mqtt_1_5_5_remaining_length_fifth_byte,
    V3,
    b"\x30\xff\xff\xff\xff\x01",
    DecodeError::VariableByteIntegerTooLong,
    MALFORMED
);
invalid!(
    mqtt_1_5_5_v5_remaining_length_fifth_byte,
    V5,
    b"\xc0\x80\x80\x80\x80\x00",
    DecodeError::VariableByteIntegerTooLong,
    MALFORMED
);
// v5 [MQTT-1.5.5-1]: "The encoded value MUST use the minimum number of bytes necessary".
invalid!(
    mqtt_1_5_5_1_v5_non_minimal_remaining_length,
    V5,
    b"\xc0\x80\x00",
    DecodeError::NonMinimalVariableByteInteger,
    MALFORMED
);
invalid!(
    mqtt_1_5_5_1_v5_puback_non_minimal_remaining_length,
    V5,
    b"\x40\x82\x00\x00\x01",
    DecodeError::NonMinimalVariableByteInteger,
    MALFORMED
);
invalid!(
    mqtt_1_5_5_1_v5_connect_non_minimal_remaining_length,
    SERVER,
    b"\x10\x8d\x00\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00",
    DecodeError::NonMinimalVariableByteInteger,
    MALFORMED
);
// v5 [MQTT-1.5.5-1] also covers the property length.
invalid!(
    mqtt_1_5_5_1_v5_non_minimal_property_length,
    V5,
    b"\x30\x07\x00\x03a/b\x80\x00",
    DecodeError::NonMinimalVariableByteInteger,
    MALFORMED
);
// 3.1.1 section 2.2.3 has no minimal-encoding rule: old clients are tolerated.
decodes!(
    mqtt_2_2_3_v311_non_minimal_remaining_length_accepted,
    V3,
    b"\xc0\x80\x00",
    Packet::PingReq
);
decodes!(
    mqtt_2_2_3_v311_puback_non_minimal_remaining_length_accepted,
    V3,
    b"\x40\x82\x00\x00\x01",
    Packet::PubAck(ack(1, ReasonCode::Success))
);
decodes!(
    mqtt_2_2_3_v311_connect_non_minimal_remaining_length_accepted,
    SERVER,
    b"\x10\x8c\x00\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
    Packet::Connect(Box::new(connect(ProtocolVersion::V3_1_1, "")))
);

// ---------------------------------------------------------------------------------------------
// Properties (v5 section 2.2.2)
// ---------------------------------------------------------------------------------------------

// v5 section 3.3.2.3.4: "It is a Protocol Error to include the Topic Alias value more than
// once".
invalid!(
    mqtt_2_2_2_2_v5_duplicate_topic_alias,
    V5,
    b"\x30\x0c\x00\x03a/b\x06\x23\x00\x01\x23\x00\x02",
    DecodeError::DuplicateProperty(PropertyId::TopicAlias),
    PROTOCOL_ERROR
);
// v5 section 3.1.2.11.2: "It is a Protocol Error to include the Session Expiry Interval more
// than once".
invalid!(
    mqtt_3_1_2_11_2_v5_duplicate_session_expiry_interval,
    SERVER,
    b"\x10\x17\x00\x04MQTT\x05\x02\x00\x3c\x0a\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02\x00\x00",
    DecodeError::DuplicateProperty(PropertyId::SessionExpiryInterval),
    PROTOCOL_ERROR
);
// v5 section 2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its
// packet type ... is a Malformed Packet". Topic Alias in CONNECT:
invalid!(
    mqtt_2_2_2_2_v5_topic_alias_in_connect,
    SERVER,
    b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x03\x23\x00\x01\x00\x00",
    DecodeError::PropertyNotAllowed {
        property: PropertyId::TopicAlias,
        packet: PacketType::Connect
    },
    MALFORMED
);
// Session Expiry Interval in PUBLISH:
invalid!(
    mqtt_2_2_2_2_v5_session_expiry_in_publish,
    V5,
    b"\x30\x0b\x00\x03a/b\x05\x11\x00\x00\x00\x01",
    DecodeError::PropertyNotAllowed {
        property: PropertyId::SessionExpiryInterval,
        packet: PacketType::Publish
    },
    MALFORMED
);
// Topic Alias in PUBACK:
invalid!(
    mqtt_2_2_2_2_v5_topic_alias_in_puback,
    V5,
    b"\x40\x07\x00\x01\x00\x03\x23\x00\x01",
    DecodeError::PropertyNotAllowed {
        property: PropertyId::TopicAlias,
        packet: PacketType::PubAck
    },
    MALFORMED
);
// Session Expiry Interval in the will properties:
invalid!(
    mqtt_2_2_2_2_v5_session_expiry_in_will_properties,
    SERVER,
    b"\x10\x1a\x00\x04MQTT\x05\x06\x00\x3c\x00\x00\x02id\x05\x11\x00\x00\x00\x01\x00\x01w\x00\x00",
    DecodeError::PropertyNotAllowed {
        property: PropertyId::SessionExpiryInterval,
        packet: PacketType::Connect
    },
    MALFORMED
);
// An identifier that is not defined at all (0x04):
invalid!(
    mqtt_2_2_2_2_v5_unknown_property_identifier,
    V5,
    b"\x30\x08\x00\x03a/b\x02\x04\x00",
    DecodeError::UnknownProperty(0x04),
    MALFORMED
);
// v5 section 2.2.2.1: the property length runs past the end of the packet.
invalid!(
    mqtt_2_2_2_1_v5_property_length_past_end_of_packet,
    V5,
    b"\x30\x07\x00\x03a/b\x05\x01",
    DecodeError::TruncatedProperties,
    MALFORMED
);
invalid!(
    mqtt_2_2_2_1_v5_connect_property_length_past_end_of_packet,
    SERVER,
    b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x09\x00\x00",
    DecodeError::TruncatedProperties,
    MALFORMED
);
// v5 section 2.2.2.1: a four-byte value runs past the property block (length 2), even though
// the packet has more bytes after it.
invalid!(
    mqtt_2_2_2_1_v5_integer_value_past_property_block,
    V5,
    b"\x30\x0a\x00\x03a/b\x02\x02\x00\x00\x00",
    DecodeError::TruncatedProperties,
    MALFORMED
);
// ... and a string value runs past the property block.
invalid!(
    mqtt_2_2_2_1_v5_string_value_past_property_block,
    V5,
    b"\x30\x0b\x00\x03a/b\x03\x03\x00\x05ab",
    DecodeError::TruncatedProperties,
    MALFORMED
);

// v5 section 3.1.3.2.3: "It is a Protocol Error to include the Payload Format Indicator more
// than once" (in the will properties).
invalid!(
    mqtt_3_1_3_2_3_v5_duplicate_will_payload_format_indicator,
    SERVER,
    b"\x10\x19\x00\x04MQTT\x05\x06\x00\x3c\x00\x00\x02id\x04\x01\x01\x01\x01\x00\x01w\x00\x00",
    DecodeError::DuplicateProperty(PropertyId::PayloadFormatIndicator),
    PROTOCOL_ERROR
);
// v5 section 3.9.2.1.2: "It is a Protocol Error to include the Reason String more than once".
invalid!(
    mqtt_3_9_2_1_2_v5_suback_duplicate_reason_string,
    V5,
    b"\x90\x0c\x00\x01\x08\x1f\x00\x01a\x1f\x00\x01b\x00",
    DecodeError::DuplicateProperty(PropertyId::ReasonString),
    PROTOCOL_ERROR
);
// v5 section 3.1.2.11.3: "It is a Protocol Error to include the Receive Maximum value more
// than once or for it to have the value 0".
invalid!(
    mqtt_3_1_2_11_3_v5_receive_maximum_zero,
    SERVER,
    b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x00\x00\x00",
    DecodeError::InvalidPropertyValue(PropertyId::ReceiveMaximum),
    PROTOCOL_ERROR
);
// v5 section 3.1.2.11.7: Request Problem Information "other than 0 or 1" is a Protocol Error.
invalid!(
    mqtt_3_1_2_11_7_v5_request_problem_information_2,
    SERVER,
    b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x02\x17\x02\x00\x00",
    DecodeError::InvalidPropertyValue(PropertyId::RequestProblemInformation),
    PROTOCOL_ERROR
);
// v5 section 3.2.2.3.4: Maximum QoS "other than 0 or 1" is a Protocol Error.
invalid!(
    mqtt_3_2_2_3_4_v5_connack_maximum_qos_2,
    V5,
    b"\x20\x05\x00\x00\x02\x24\x02",
    DecodeError::InvalidPropertyValue(PropertyId::MaximumQoS),
    PROTOCOL_ERROR
);
// v5 section 2.2.2.2: Request Problem Information is a CONNECT property only.
invalid!(
    mqtt_2_2_2_2_v5_request_problem_information_in_publish,
    V5,
    b"\x30\x06\x00\x01a\x02\x17\x01",
    DecodeError::PropertyNotAllowed {
        property: PropertyId::RequestProblemInformation,
        packet: PacketType::Publish
    },
    MALFORMED
);
// 3.1.1 / v5 [MQTT-4.7.3-2]: the will topic has no U+0000 either.
invalid!(
    mqtt_4_7_3_2_v5_will_topic_null_character,
    SERVER,
    b"\x10\x17\x00\x04MQTT\x05\x06\x00\x3c\x00\x00\x02id\x00\x00\x03a\x00b\x00\x00",
    DecodeError::NullCharacter,
    MALFORMED
);

// ---------------------------------------------------------------------------------------------
// Maximum packet size, first packet
// ---------------------------------------------------------------------------------------------

// v5 sections 3.1.2.11.4 and 3.2.2.3.6: a packet larger than the Maximum Packet Size is
// answered with 0x95. Only the first 5 bytes of a PUBLISH announcing 200 bytes have arrived.
invalid!(
    mqtt_3_1_2_11_4_packet_too_large_from_fixed_header_alone,
    V5.with_max_packet_size(100),
    b"\x30\xc8\x01\x00\x03",
    DecodeError::PacketTooLarge {
        size: 203,
        max: 100
    },
    TOO_LARGE
);
// A four-byte remaining length (268,435,455): 5 bytes in, refused without buffering.
invalid!(
    mqtt_3_1_2_11_4_packet_too_large_four_byte_remaining_length,
    V3.with_max_packet_size(1024),
    b"\x30\xff\xff\xff\x7f",
    DecodeError::PacketTooLarge {
        size: 268_435_460,
        max: 1024
    },
    TOO_LARGE
);
// The limit counts the whole packet, fixed header included: 4 bytes against a limit of 3.
invalid!(
    mqtt_3_1_2_11_4_packet_too_large_counts_fixed_header,
    V3.with_max_packet_size(3),
    b"\x40\x02\x00\x01",
    DecodeError::PacketTooLarge { size: 4, max: 3 },
    TOO_LARGE
);
// A packet of exactly the maximum size is accepted.
valid!(
    mqtt_3_1_2_11_4_packet_of_exactly_maximum_size,
    V3.with_max_packet_size(4),
    b"\x40\x02\x00\x01",
    Packet::PubAck(ack(1, ReasonCode::Success))
);

// 3.1.1 / v5 [MQTT-3.1.0-1]: the first packet from the client must be CONNECT.
invalid!(
    mqtt_3_1_0_1_first_packet_pingreq,
    SERVER,
    b"\xc0\x00",
    DecodeError::ConnectExpected,
    PROTOCOL_ERROR
);
invalid!(
    mqtt_3_1_0_1_first_packet_publish,
    SERVER,
    b"\x30\x05\x00\x03a/b",
    DecodeError::ConnectExpected,
    PROTOCOL_ERROR
);
// v5 section 4.12: AUTH only after a CONNECT.
invalid!(
    mqtt_3_1_0_1_first_packet_auth,
    SERVER,
    b"\xf0\x00",
    DecodeError::ConnectExpected,
    PROTOCOL_ERROR
);

// The same on a server, for the CONNECT that must come first.
invalid!(
    mqtt_3_1_2_11_4_server_connect_too_large_from_fixed_header_alone,
    SERVER.with_max_packet_size(1024),
    b"\x10\xff\xff\xff\x7f",
    DecodeError::PacketTooLarge {
        size: 268_435_460,
        max: 1024
    },
    TOO_LARGE
);
// [MQTT-3.1.0-1]: before a CONNECT, any other packet is refused from its fixed header
// alone: a peer cannot make the server buffer a 256 MiB body first.
invalid!(
    mqtt_3_1_0_1_server_refuses_non_connect_from_fixed_header_alone,
    SERVER,
    b"\x30\xff\xff\xff\x7f",
    DecodeError::ConnectExpected,
    PROTOCOL_ERROR
);

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

// Every strict prefix of a packet decodes to Ok(None) and consumes nothing.
#[test]
fn streaming_partial_input_returns_none_and_consumes_nothing() {
    for (decoder, input) in [
        (SERVER, CONNECT_V311_SPEC),
        (SERVER, CONNECT_V5_SPEC),
        (V3, b"\x40\x02\x00\x01"),
    ] {
        for len in 0..input.len() {
            let mut decoder = decoder.clone();
            let version = decoder.version();
            let mut buf = BytesMut::from(&input[..len]);
            assert_eq!(decoder.decode(&mut buf), Ok(None), "prefix of {len} bytes");
            assert_eq!(&buf[..], &input[..len], "prefix of {len} bytes consumed");
            assert_eq!(decoder.version(), version);
        }
    }
}

// The same buffer fed one byte at a time completes exactly at the last byte.
#[test]
fn streaming_byte_by_byte_into_one_buffer() {
    let mut decoder = Decoder::for_server();
    let mut buf = BytesMut::new();
    for (i, byte) in CONNECT_V5_SPEC.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        let decoded = decoder.decode(&mut buf).expect("valid prefix");
        if i + 1 < CONNECT_V5_SPEC.len() {
            assert_eq!(decoded, None, "after {} bytes", i + 1);
            assert_eq!(buf.len(), i + 1);
        } else {
            assert_eq!(decoded, Some(connect_v5_spec()));
            assert!(buf.is_empty());
        }
    }
}

// Two packets in one buffer decode one after the other; a third, partial one stays buffered.
#[test]
fn streaming_two_packets_in_one_buffer() {
    let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
    let mut buf = BytesMut::from(&b"\x40\x02\x00\x01\xc0\x00\x32\x09\x00\x03a/b"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::PubAck(ack(1, ReasonCode::Success))))
    );
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Packet::PingReq)));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(&buf[..], b"\x32\x09\x00\x03a/b");
    buf.extend_from_slice(b"\x00\x0ahi");
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::Publish(publish(
            QoS::AtLeastOnce,
            "a/b",
            Some(10),
            b"hi"
        ))))
    );
    assert!(buf.is_empty());
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

// [MQTT-3.1.0-1]: the server decoder learns the version from the CONNECT and decodes the
// next packets by it (a v5 PUBACK with a reason code).
#[test]
fn streaming_server_learns_v5_from_connect() {
    let mut decoder = Decoder::for_server();
    assert_eq!(decoder.version(), None);
    let mut buf = BytesMut::from(CONNECT_V5_SPEC);
    buf.extend_from_slice(b"\x40\x03\x00\x01\x10\xf0\x00");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(connect_v5_spec())));
    assert_eq!(decoder.version(), Some(ProtocolVersion::V5));
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::PubAck(ack(
            1,
            ReasonCode::NoMatchingSubscribers
        ))))
    );
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::Auth(Auth::default())))
    );
    assert!(buf.is_empty());
}

// The same bytes after a 3.1.1 CONNECT: the PUBACK has a trailing byte and AUTH does not exist.
#[test]
fn streaming_server_learns_v311_from_connect() {
    let mut decoder = Decoder::for_server();
    let mut buf = BytesMut::from(CONNECT_V311_SPEC);
    buf.extend_from_slice(b"\x40\x03\x00\x01\x10");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(connect_v311_spec())));
    assert_eq!(decoder.version(), Some(ProtocolVersion::V3_1_1));
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::TrailingBytes(1)));

    let mut decoder = Decoder::for_server();
    let mut buf = BytesMut::from(CONNECT_V311_SPEC);
    buf.extend_from_slice(b"\xf0\x00");
    assert!(decoder.decode(&mut buf).is_ok());
    assert_eq!(
        decoder.decode(&mut buf),
        Err(DecodeError::InvalidPacketType(15))
    );
}

#[test]
fn streaming_server_learns_v31_from_connect() {
    let mut decoder = Decoder::for_server();
    let mut buf = BytesMut::from(CONNECT_V31);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::Connect(_)))
    ));
    assert_eq!(decoder.version(), Some(ProtocolVersion::V3_1));
}

// A rejected CONNECT teaches the decoder nothing.
#[test]
fn streaming_server_rejected_connect_sets_no_version() {
    let mut decoder = Decoder::for_server();
    let mut buf = BytesMut::from(&b"\x10\x0c\x00\x04MQTT\x06\x02\x00\x3c\x00\x00"[..]);
    assert!(decoder.decode(&mut buf).is_err());
    assert_eq!(decoder.version(), None);
}

// [MQTT-3.1.4-1]: a CONNECT with a valid name and level that fails later still tells the
// server which version to answer in (a v5 CONNACK with the reason code; for 3.1.1 a bare
// close).
#[test]
fn mqtt_3_1_4_1_failed_connect_reports_the_announced_version() {
    for (input, version) in [
        (
            &b"\x10\x0d\x00\x04MQTT\x05\x03\x00\x3c\x00\x00\x00"[..],
            ProtocolVersion::V5,
        ),
        (
            &b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00"[..],
            ProtocolVersion::V3_1_1,
        ),
    ] {
        let mut decoder = Decoder::for_server();
        let mut buf = BytesMut::from(input);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(DecodeError::ReservedConnectFlag)
        );
        assert_eq!(decoder.version(), Some(version));
    }
}

// Errors are sticky: the stream position is lost, so later input is never decoded.
#[test]
fn decode_errors_are_sticky() {
    let mut decoder = V3;
    let mut buf = BytesMut::from(&b"\x62\x02\x00\x00\xc0\x00"[..]);
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::ZeroPacketId));
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::ZeroPacketId));
    buf.extend_from_slice(b"\xc0\x00");
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::ZeroPacketId));
}

// [MQTT-4.7.3-1]: topic filters are at least one character long.
invalid!(
    mqtt_4_7_3_1_empty_subscribe_filter,
    V3,
    b"\x82\x05\x00\x01\x00\x00\x00",
    DecodeError::EmptyTopicFilter,
    MALFORMED
);
invalid!(
    mqtt_4_7_3_1_empty_unsubscribe_filter,
    V3,
    b"\xa2\x04\x00\x01\x00\x00",
    DecodeError::EmptyTopicFilter,
    MALFORMED
);
// [MQTT-4.7.3-1]: the Response Topic is a topic name, so not empty.
invalid!(
    mqtt_4_7_3_1_empty_response_topic,
    V5,
    b"\x30\x07\x00\x01a\x03\x08\x00\x00",
    DecodeError::InvalidPropertyValue(PropertyId::ResponseTopic),
    PROTOCOL_ERROR
);
// v5 3.15.2.2.2: an AUTH with properties names its method; only the bare Success form may not.
invalid!(
    mqtt_3_15_2_2_2_auth_success_with_reason_string_needs_method,
    V5,
    b"\xf0\x05\x00\x03\x1f\x00\x00",
    DecodeError::MissingAuthenticationMethod,
    PROTOCOL_ERROR
);
// v5 table 2-6 (section 2.4) lists 0x8C Bad authentication method for DISCONNECT.
valid!(
    v5_2_4_disconnect_bad_authentication_method,
    V5,
    b"\xe0\x01\x8c",
    Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::BadAuthenticationMethod,
        properties: Default::default(),
    })
);

// ---------------------------------------------------------------------------------------------
// Encode errors: checked before anything is written
// ---------------------------------------------------------------------------------------------

// 3.1.1 [MQTT-2.3.1-1]; v5 [MQTT-2.2.1-3]: QoS 1 needs a packet identifier.
encode_err!(
    mqtt_2_3_1_1_encode_qos1_without_packet_id,
    ProtocolVersion::V3_1_1,
    Packet::Publish(publish(QoS::AtLeastOnce, "a/b", None, b"x")),
    EncodeError::PacketIdMismatch
);
// 3.1.1 [MQTT-2.3.1-5]; v5 [MQTT-2.2.1-2]: QoS 0 must not have one.
encode_err!(
    mqtt_2_3_1_5_encode_qos0_with_packet_id,
    ProtocolVersion::V5,
    Packet::Publish(publish(QoS::AtMostOnce, "a/b", Some(1), b"x")),
    EncodeError::PacketIdMismatch
);

fn publish_dup_qos0() -> Packet {
    let mut p = publish(QoS::AtMostOnce, "a/b", None, b"x");
    p.dup = true;
    Packet::Publish(p)
}

// 3.1.1 / v5 [MQTT-3.3.1-2].
encode_err!(
    mqtt_3_3_1_2_encode_dup_on_qos0,
    ProtocolVersion::V3_1_1,
    publish_dup_qos0(),
    EncodeError::DupOnQos0
);
// 3.1.1 [MQTT-3.8.3-3]; v5 [MQTT-3.8.3-2].
encode_err!(
    mqtt_3_8_3_3_encode_subscribe_without_filters,
    ProtocolVersion::V3_1_1,
    Packet::Subscribe(Subscribe {
        packet_id: id(1),
        properties: Default::default(),
        filters: vec![],
    }),
    EncodeError::NoTopicFilters
);
// 3.1.1 / v5 [MQTT-3.10.3-2].
encode_err!(
    mqtt_3_10_3_2_encode_unsubscribe_without_filters,
    ProtocolVersion::V5,
    Packet::Unsubscribe(Unsubscribe {
        packet_id: id(1),
        properties: Default::default(),
        filters: vec![],
    }),
    EncodeError::NoTopicFilters
);
// v5 [MQTT-3.4.2-1]: 0x92 is not a PUBACK Reason Code.
encode_err!(
    mqtt_3_4_2_1_encode_puback_reason_code_not_allowed,
    ProtocolVersion::V5,
    Packet::PubAck(ack(1, ReasonCode::PacketIdentifierNotFound)),
    EncodeError::ReasonCodeNotAllowed {
        code: ReasonCode::PacketIdentifierNotFound,
        packet: PacketType::PubAck
    }
);
// 3.1.1 section 2.2.1, Table 2.1: type 15 is reserved before MQTT 5.
encode_err!(
    mqtt_2_2_1_encode_auth_in_v311,
    ProtocolVersion::V3_1_1,
    Packet::Auth(Auth::default()),
    EncodeError::NotInVersion(PacketType::Auth)
);

fn connect_password_only(version: ProtocolVersion) -> Packet {
    let mut c = connect(version, "id");
    c.password = Some(bin(b"pw"));
    Packet::Connect(Box::new(c))
}

// 3.1.1 [MQTT-3.1.2-22].
encode_err!(
    mqtt_3_1_2_22_encode_v311_password_without_username,
    ProtocolVersion::V3_1_1,
    connect_password_only(ProtocolVersion::V3_1_1),
    EncodeError::PasswordWithoutUsername
);

fn connect_long_password() -> Packet {
    let mut c = connect(ProtocolVersion::V3_1_1, "id");
    c.username = Some(s("u"));
    c.password = Some(Bytes::from(vec![0u8; 70_000]));
    Packet::Connect(Box::new(c))
}

// 3.1.1 section 1.5.3 / v5 section 1.5.6: binary data has a two-byte length.
encode_err!(
    mqtt_1_5_6_encode_password_of_70000_bytes,
    ProtocolVersion::V3_1_1,
    connect_long_password(),
    EncodeError::BinaryTooLong(70_000)
);

fn publish_long_correlation_data() -> Packet {
    let mut p = publish(QoS::AtMostOnce, "a/b", None, b"");
    p.properties.correlation_data = Some(Bytes::from(vec![0u8; 70_000]));
    Packet::Publish(p)
}

encode_err!(
    mqtt_1_5_6_encode_v5_correlation_data_of_70000_bytes,
    ProtocolVersion::V5,
    publish_long_correlation_data(),
    EncodeError::BinaryTooLong(70_000)
);
// 3.1.1 [MQTT-3.2.2-4]; v5 [MQTT-3.2.2-6].
encode_err!(
    mqtt_3_2_2_6_encode_session_present_with_refusal,
    ProtocolVersion::V5,
    Packet::ConnAck(Box::new(connack(true, ReasonCode::NotAuthorized))),
    EncodeError::SessionPresentOnRefusal
);

// A failed encode leaves bytes already in the buffer untouched too.
#[test]
fn encode_error_leaves_existing_buffer_contents_unchanged() {
    let mut out = BytesMut::from(&b"\xc0\x00"[..]);
    let err = publish_dup_qos0().encode(ProtocolVersion::V5, &mut out);
    assert_eq!(err, Err(EncodeError::DupOnQos0));
    assert_eq!(&out[..], b"\xc0\x00");
}

// ---------------------------------------------------------------------------------------------
// Acknowledgements that answer nothing, MQTT 3.1 CONNACK, protocol name before level
// ---------------------------------------------------------------------------------------------

// [MQTT-3.9.3-1]: a SUBACK carries one code per filter of a SUBSCRIBE, which has at least one.
invalid!(
    mqtt_3_9_3_1_v311_suback_without_return_codes,
    V3,
    b"\x90\x02\x00\x01",
    DecodeError::MissingReasonCodes,
    PROTOCOL_ERROR
);
invalid!(
    mqtt_3_9_3_1_v5_suback_without_reason_codes,
    V5,
    b"\x90\x03\x00\x01\x00",
    DecodeError::MissingReasonCodes,
    PROTOCOL_ERROR
);
// [MQTT-3.11.3-1]: likewise for a v5 UNSUBACK (3.1.1's has no payload at all).
invalid!(
    mqtt_3_11_3_1_v5_unsuback_without_reason_codes,
    V5,
    b"\xb0\x03\x00\x01\x00",
    DecodeError::MissingReasonCodes,
    PROTOCOL_ERROR
);
encode_err!(
    mqtt_3_9_3_1_encode_suback_without_reason_codes,
    ProtocolVersion::V3_1_1,
    Packet::SubAck(SubAck {
        packet_id: id(1),
        properties: Default::default(),
        reason_codes: Vec::new(),
    }),
    EncodeError::NoReasonCodes
);

// MQTT 3.1 section 3.2: the first CONNACK byte is reserved and not used; there is no Session
// Present flag to read or to write.
decodes!(
    mqtt_3_1_connack_reserved_byte_is_not_session_present,
    V31,
    b"\x20\x02\x01\x00",
    Packet::ConnAck(Box::default())
);

// [MQTT-3.1.2-1]: a wrong protocol name is reported as such even when the CONNECT ends there.
invalid!(
    mqtt_3_1_2_1_bad_protocol_name_before_level,
    SERVER,
    b"\x10\x06\x00\x04MQTX",
    DecodeError::InvalidProtocolName,
    UNSUPPORTED_VERSION
);

// v5 3.15.2.2.2: an AUTH that continues authentication names its method.
encode_err!(
    mqtt_3_15_2_2_2_encode_auth_continue_without_method,
    ProtocolVersion::V5,
    Packet::Auth(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Default::default(),
    }),
    EncodeError::MissingAuthenticationMethod
);

// [MQTT-4.7.3-1]: the encoder refuses the empty filter the decoder refuses.
encode_err!(
    mqtt_4_7_3_1_encode_empty_subscribe_filter,
    ProtocolVersion::V3_1_1,
    Packet::Subscribe(Subscribe {
        packet_id: id(1),
        properties: Default::default(),
        filters: vec![(s(""), SubscriptionOptions::default())],
    }),
    EncodeError::EmptyTopicFilter
);
