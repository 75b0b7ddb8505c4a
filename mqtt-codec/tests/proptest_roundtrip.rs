//! Property tests of the codec as a whole:
//!
//! - every valid packet of every type round-trips through `encode` / `Decoder::decode` for
//!   MQTT 3.1, 3.1.1 and 5.0, and `encoded_len` is exactly what `encode` writes;
//! - arbitrary and mutated input never panics, never loops, and whatever decodes re-encodes;
//! - byte-by-byte and chunked input decode exactly like the whole input at once;
//! - decoded topics, payloads, strings and binary fields are slices of the input (zero-copy);
//! - topic names and Response Topics are refused exactly when a byte-by-byte model says so.
//!
//! Encode-side gaps found on the way (encode wrote what the decoder refuses) are fixed and
//! pinned at the end as regular tests.
//!
//! Proptest's regression files are turned off: a failure worth keeping is pinned below as an
//! explicit `#[test]` instead, so this file is the only one the suite writes to.
#![allow(clippy::field_reassign_with_default)]

use std::num::{NonZeroU16, NonZeroU32};
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    DecodeError, Decoder, Disconnect, DisconnectProperties, EncodeError, MqttString, Packet,
    PacketType, PropertyId, ProtocolVersion, Publish, PublishAck, PublishProperties, QoS,
    ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperty, Will,
    WillProperties, MAX_VARIABLE_BYTE_INTEGER,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// Scalar strategies
// ---------------------------------------------------------------------------------------------

/// Characters of one, two, three and four UTF-8 bytes, and the topic level separator.
const STRING_REGEX: &str = "[a-z/ é€😀]{0,20}";
/// The same alphabet, at least one character: a topic name (no `+` or `#` by construction).
const TOPIC_NAME_REGEX: &str = "[a-z/ é€😀]{1,20}";
/// One topic filter level without wildcards (may be empty: `a//b` is a valid filter).
const FILTER_LEVEL_REGEX: &str = "[a-z é€😀]{0,6}";

const ALL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fn mqtt_string_from(s: String) -> MqttString {
    MqttString::try_from(s).expect("the regex alphabet is valid MQTT UTF-8")
}

/// Any MQTT string of up to 20 characters, possibly empty.
fn mqtt_string() -> impl Strategy<Value = MqttString> {
    STRING_REGEX.prop_map(mqtt_string_from)
}

/// A non-empty MQTT string.
fn non_empty_string() -> impl Strategy<Value = MqttString> {
    TOPIC_NAME_REGEX.prop_map(mqtt_string_from)
}

/// A topic name: non-empty and free of `+` and `#` [MQTT-3.3.2-2], [MQTT-4.7.3-1].
fn topic_name() -> impl Strategy<Value = MqttString> {
    TOPIC_NAME_REGEX.prop_map(mqtt_string_from)
}

/// A syntactically valid topic filter: levels that are text or `+`, optionally ending in `#`.
fn topic_filter() -> impl Strategy<Value = MqttString> {
    let level = prop_oneof![3 => FILTER_LEVEL_REGEX.prop_map(|s| s), 1 => Just("+".to_owned())];
    (vec(level, 1..5), any::<bool>()).prop_map(|(mut levels, multi)| {
        if multi {
            levels.push("#".to_owned());
        }
        let filter = levels.join("/");
        // A single empty level would be an empty filter [MQTT-4.7.3-1].
        let filter = if filter.is_empty() {
            "+".to_owned()
        } else {
            filter
        };
        mqtt_string_from(filter)
    })
}

/// Binary data of up to `max` bytes.
fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// Binary data of 1 to `max` bytes.
fn non_empty_binary(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 1..=max).prop_map(Bytes::from)
}

/// A PUBLISH payload: usually small, sometimes large enough for a three-byte remaining
/// length (16,384 bytes and more), filled from a cheap pattern rather than byte by byte.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        15 => binary(64),
        1 => (0usize..=20_000, any::<u8>()).prop_map(|(len, seed)| {
            (0..len).map(|i| seed.wrapping_add(i as u8)).collect::<Vec<u8>>().into()
        }),
    ]
}

fn packet_id() -> impl Strategy<Value = NonZeroU16> {
    any::<NonZeroU16>()
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn protocol_version() -> impl Strategy<Value = ProtocolVersion> {
    select(&ALL_VERSIONS[..])
}

fn user_property() -> impl Strategy<Value = UserProperty> {
    (mqtt_string(), mqtt_string()).prop_map(|(name, value)| UserProperty { name, value })
}

/// Zero to four user properties; names may repeat, order matters [MQTT-3.3.2-18].
fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    vec(user_property(), 0..5)
}

/// A subscription identifier, spread over the four variable byte integer lengths.
fn subscription_id() -> impl Strategy<Value = SubscriptionId> {
    prop_oneof![
        1u32..=127,
        128u32..=16_383,
        16_384u32..=2_097_151,
        2_097_152u32..=MAX_VARIABLE_BYTE_INTEGER,
    ]
    .prop_map(|v| SubscriptionId::new(v).expect("in 1..=268,435,455"))
}

/// Every reason code the specification allows in `packet` (v5 section 2.4).
fn reason_codes_allowed_in(packet: PacketType) -> Vec<ReasonCode> {
    (0..=255u8)
        .filter_map(ReasonCode::from_u8)
        .filter(|code| code.allowed_in(packet))
        .collect()
}

/// A reason code `packet` may carry in `version`: any allowed one in MQTT 5, Success before.
fn reason_code(version: ProtocolVersion, packet: PacketType) -> BoxedStrategy<ReasonCode> {
    if version.is_v5() {
        select(reason_codes_allowed_in(packet)).boxed()
    } else {
        Just(ReasonCode::Success).boxed()
    }
}

/// CONNACK codes: any allowed one in MQTT 5; the six with a 3.1.1 return code before.
fn connack_reason_code(version: ProtocolVersion) -> BoxedStrategy<ReasonCode> {
    if version.is_v5() {
        select(reason_codes_allowed_in(PacketType::ConnAck)).boxed()
    } else {
        select(vec![
            ReasonCode::Success,
            ReasonCode::UnsupportedProtocolVersion,
            ReasonCode::ClientIdentifierNotValid,
            ReasonCode::ServerUnavailable,
            ReasonCode::BadUserNameOrPassword,
            ReasonCode::NotAuthorized,
        ])
        .boxed()
    }
}

/// SUBACK codes: any allowed one in MQTT 5; the four 3.1.1 return codes before.
fn suback_reason_code(version: ProtocolVersion) -> BoxedStrategy<ReasonCode> {
    if version.is_v5() {
        select(reason_codes_allowed_in(PacketType::SubAck)).boxed()
    } else {
        select(vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ])
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Property set strategies (MQTT 5 only; empty before)
// ---------------------------------------------------------------------------------------------

/// `strategy` in MQTT 5, the empty property set before.
fn v5_only<T: Default + Clone + std::fmt::Debug + 'static>(
    version: ProtocolVersion,
    strategy: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    if version.is_v5() {
        strategy.boxed()
    } else {
        Just(T::default()).boxed()
    }
}

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        option::of(any::<u32>()),
        option::of(any::<NonZeroU16>()),
        option::of(any::<NonZeroU32>()),
        option::of(any::<u16>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(mqtt_string()),
        option::of(binary(32)),
        user_properties(),
    )
        .prop_map(
            |(sei, receive_max, max_packet, alias_max, rri, rpi, method, data, user)| {
                let mut p = ConnectProperties::default();
                p.session_expiry_interval = sei;
                p.receive_maximum = receive_max;
                p.maximum_packet_size = max_packet;
                p.topic_alias_maximum = alias_max;
                p.request_response_information = rri;
                p.request_problem_information = rpi;
                // Authentication Data only with a method (v5 3.1.2.11.10).
                p.authentication_data = data.filter(|_| method.is_some());
                p.authentication_method = method;
                p.user_properties = user;
                p
            },
        )
}

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        option::of(any::<u32>()),
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(mqtt_string()),
        option::of(topic_name()),
        option::of(binary(32)),
        user_properties(),
    )
        .prop_map(|(delay, pfi, expiry, content_type, response, corr, user)| {
            let mut p = WillProperties::default();
            p.will_delay_interval = delay;
            p.payload_format_indicator = pfi;
            p.message_expiry_interval = expiry;
            p.content_type = content_type;
            p.response_topic = response;
            p.correlation_data = corr;
            p.user_properties = user;
            p
        })
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    let limits = (
        option::of(any::<u32>()),
        option::of(any::<NonZeroU16>()),
        // Maximum QoS is 0 or 1 on the wire; 2 is expressed by leaving it out.
        option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        option::of(any::<bool>()),
        option::of(any::<NonZeroU32>()),
        option::of(mqtt_string()),
        option::of(any::<u16>()),
        option::of(mqtt_string()),
    );
    let features = (
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<u16>()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(binary(32)),
        user_properties(),
    );
    (limits, features).prop_map(
        |(
            (sei, receive_max, max_qos, retain, max_packet, assigned, alias_max, reason),
            (wildcard, sub_ids, shared, keep_alive, response, reference, method, data, user),
        )| {
            let mut p = ConnAckProperties::default();
            p.session_expiry_interval = sei;
            p.receive_maximum = receive_max;
            p.maximum_qos = max_qos;
            p.retain_available = retain;
            p.maximum_packet_size = max_packet;
            p.assigned_client_identifier = assigned;
            p.topic_alias_maximum = alias_max;
            p.reason_string = reason;
            p.wildcard_subscription_available = wildcard;
            p.subscription_identifier_available = sub_ids;
            p.shared_subscription_available = shared;
            p.server_keep_alive = keep_alive;
            p.response_information = response;
            p.server_reference = reference;
            // Authentication Data only with a method (v5 3.1.2.11.10, 3.2.2.3.18).
            p.authentication_data = data.filter(|_| method.is_some());
            p.authentication_method = method;
            p.user_properties = user;
            p
        },
    )
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(any::<NonZeroU16>()),
        option::of(topic_name()),
        option::of(binary(32)),
        option::of(mqtt_string()),
        user_properties(),
        vec(subscription_id(), 0..4),
    )
        .prop_map(
            |(pfi, expiry, alias, response, corr, content_type, user, sub_ids)| {
                let mut p = PublishProperties::default();
                p.payload_format_indicator = pfi;
                p.message_expiry_interval = expiry;
                p.topic_alias = alias;
                p.response_topic = response;
                p.correlation_data = corr;
                p.content_type = content_type;
                p.user_properties = user;
                p.subscription_identifiers = sub_ids;
                p
            },
        )
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (option::of(mqtt_string()), user_properties()).prop_map(|(reason, user)| {
        let mut p = AckProperties::default();
        p.reason_string = reason;
        p.user_properties = user;
        p
    })
}

fn subscribe_properties() -> impl Strategy<Value = SubscribeProperties> {
    (option::of(subscription_id()), user_properties()).prop_map(|(id, user)| {
        let mut p = SubscribeProperties::default();
        p.subscription_identifier = id;
        p.user_properties = user;
        p
    })
}

fn unsubscribe_properties() -> impl Strategy<Value = UnsubscribeProperties> {
    user_properties().prop_map(|user| {
        let mut p = UnsubscribeProperties::default();
        p.user_properties = user;
        p
    })
}

fn disconnect_properties() -> impl Strategy<Value = DisconnectProperties> {
    (
        option::of(any::<u32>()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(sei, reason, reference, user)| {
            let mut p = DisconnectProperties::default();
            p.session_expiry_interval = sei;
            p.reason_string = reason;
            p.server_reference = reference;
            p.user_properties = user;
            p
        })
}

fn auth_properties() -> impl Strategy<Value = AuthProperties> {
    (
        option::of(mqtt_string()),
        option::of(binary(32)),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(method, data, reason, user)| {
            let mut p = AuthProperties::default();
            // Authentication Data only with a method (v5 3.1.2.11.10, 3.2.2.3.18).
            p.authentication_data = data.filter(|_| method.is_some());
            p.authentication_method = method;
            p.reason_string = reason;
            p.user_properties = user;
            p
        })
}

// ---------------------------------------------------------------------------------------------
// Packet strategies
// ---------------------------------------------------------------------------------------------

fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    (
        topic_name(),
        binary(64),
        qos(),
        any::<bool>(),
        v5_only(version, will_properties()),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties: properties.into(),
        })
}

/// User name and password: a password needs a user name before MQTT 5 [MQTT-3.1.2-22].
fn credentials(version: ProtocolVersion) -> BoxedStrategy<(Option<MqttString>, Option<Bytes>)> {
    let username = option::of(mqtt_string());
    let password = option::of(binary(32));
    if version.is_v5() {
        (username, password).boxed()
    } else {
        (username, password)
            .prop_map(|(username, password)| {
                let password = if username.is_some() { password } else { None };
                (username, password)
            })
            .boxed()
    }
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Connect> {
    (
        any::<bool>(),
        any::<u16>(),
        v5_only(version, connect_properties()),
        mqtt_string(),
        option::of(will(version)),
        credentials(version),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, (username, password))| {
                Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive,
                    properties: properties.into(),
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = ConnAck> {
    (
        any::<bool>(),
        connack_reason_code(version),
        v5_only(version, connack_properties()),
    )
        .prop_map(move |(session_present, reason_code, properties)| ConnAck {
            // Session Present only on a successful connection [MQTT-3.2.2-4], [MQTT-3.2.2-6].
            // MQTT 3.1 has no Session Present flag.
            session_present: session_present
                && reason_code == ReasonCode::Success
                && version != ProtocolVersion::V3_1,
            reason_code,
            properties: properties.into(),
        })
}

/// Topic and properties: in MQTT 5 the topic may be empty when a Topic Alias is set.
fn publish_topic_and_properties(
    version: ProtocolVersion,
) -> BoxedStrategy<(MqttString, PublishProperties)> {
    if version.is_v5() {
        (
            prop_oneof![4 => topic_name(), 1 => Just(MqttString::new())],
            publish_properties(),
            any::<NonZeroU16>(),
        )
            .prop_map(|(topic, mut properties, alias)| {
                if topic.is_empty() && properties.topic_alias.is_none() {
                    properties.topic_alias = Some(alias);
                }
                (topic, properties)
            })
            .boxed()
    } else {
        topic_name()
            .prop_map(|topic| (topic, PublishProperties::default()))
            .boxed()
    }
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Publish> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        packet_id(),
        publish_topic_and_properties(version),
        payload(),
    )
        .prop_map(
            |(qos, dup, retain, packet_id, (topic, properties), payload)| {
                let qos0 = qos == QoS::AtMostOnce;
                Publish {
                    // DUP never on QoS 0 [MQTT-3.3.1-2]; a packet id exactly on QoS 1 and 2.
                    dup: dup && !qos0,
                    qos,
                    retain,
                    topic,
                    packet_id: (!qos0).then_some(packet_id),
                    properties: properties.into(),
                    payload,
                }
            },
        )
}

fn publish_ack(version: ProtocolVersion, packet: PacketType) -> impl Strategy<Value = PublishAck> {
    (
        packet_id(),
        reason_code(version, packet),
        v5_only(version, ack_properties()),
    )
        .prop_map(|(packet_id, reason_code, properties)| PublishAck {
            packet_id,
            reason_code,
            properties: properties.into(),
        })
}

fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if version.is_v5() {
        (
            qos(),
            any::<bool>(),
            any::<bool>(),
            select(vec![
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendAtSubscribeIfNew,
                RetainHandling::DoNotSend,
            ]),
        )
            .prop_map(
                |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            )
            .boxed()
    } else {
        qos().prop_map(SubscriptionOptions::qos).boxed()
    }
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    (
        packet_id(),
        v5_only(version, subscribe_properties()),
        vec((topic_filter(), subscription_options(version)), 1..=5),
    )
        .prop_map(|(packet_id, properties, filters)| Subscribe {
            packet_id,
            properties: properties.into(),
            filters,
        })
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    (
        packet_id(),
        v5_only(version, ack_properties()),
        vec(suback_reason_code(version), 1..=5),
    )
        .prop_map(|(packet_id, properties, reason_codes)| SubAck {
            packet_id,
            properties: properties.into(),
            reason_codes,
        })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    (
        packet_id(),
        v5_only(version, unsubscribe_properties()),
        vec(topic_filter(), 1..=5),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties: properties.into(),
            filters,
        })
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = UnsubAck> {
    let reason_codes = if version.is_v5() {
        vec(select(reason_codes_allowed_in(PacketType::UnsubAck)), 1..=5).boxed()
    } else {
        // 3.1.1 UNSUBACK has no payload.
        Just(Vec::new()).boxed()
    };
    (
        packet_id(),
        v5_only(version, ack_properties()),
        reason_codes,
    )
        .prop_map(|(packet_id, properties, reason_codes)| UnsubAck {
            packet_id,
            properties: properties.into(),
            reason_codes,
        })
}

fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Disconnect> {
    (
        reason_code(version, PacketType::Disconnect),
        v5_only(version, disconnect_properties()),
    )
        .prop_map(|(reason_code, properties)| Disconnect {
            reason_code,
            properties: properties.into(),
        })
}

/// AUTH exists only in MQTT 5.
fn auth() -> impl Strategy<Value = Auth> {
    (
        select(reason_codes_allowed_in(PacketType::Auth)),
        auth_properties(),
    )
        .prop_map(|(reason_code, mut properties)| {
            // Anything but the bare Success form names its method (v5 3.15.2.2.2).
            if reason_code != ReasonCode::Success || !properties.is_empty() {
                properties
                    .authentication_method
                    .get_or_insert(MqttString::from_static("SCRAM-SHA-1"));
            }
            Auth {
                reason_code,
                properties: properties.into(),
            }
        })
}

/// Any valid packet of any type `version` has, each type equally likely.
fn any_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut types = vec![
        connect(version)
            .prop_map(|c| Packet::Connect(c.into()))
            .boxed(),
        connack(version)
            .prop_map(|c| Packet::ConnAck(c.into()))
            .boxed(),
        publish(version).prop_map(Packet::Publish).boxed(),
        publish_ack(version, PacketType::PubAck)
            .prop_map(Packet::PubAck)
            .boxed(),
        publish_ack(version, PacketType::PubRec)
            .prop_map(Packet::PubRec)
            .boxed(),
        publish_ack(version, PacketType::PubRel)
            .prop_map(Packet::PubRel)
            .boxed(),
        publish_ack(version, PacketType::PubComp)
            .prop_map(Packet::PubComp)
            .boxed(),
        subscribe(version).prop_map(Packet::Subscribe).boxed(),
        suback(version).prop_map(Packet::SubAck).boxed(),
        unsubscribe(version).prop_map(Packet::Unsubscribe).boxed(),
        unsuback(version).prop_map(Packet::UnsubAck).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(version).prop_map(Packet::Disconnect).boxed(),
    ];
    if version.is_v5() {
        types.push(auth().prop_map(Packet::Auth).boxed());
    }
    Union::new(types).boxed()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn encode(version: ProtocolVersion, packet: &Packet) -> Result<BytesMut, TestCaseError> {
    let mut buf = BytesMut::new();
    packet
        .encode(version, &mut buf)
        .map_err(|err| TestCaseError::fail(format!("encode {packet:?} for {version}: {err}")))?;
    Ok(buf)
}

/// The decoder that reads `packet` when it is the first packet of a connection: a server's
/// for a CONNECT, a client's for the rest.
fn decoder_for(version: ProtocolVersion, packet: &Packet) -> Decoder {
    match packet {
        Packet::Connect(_) => Decoder::for_server(),
        _ => Decoder::new(version),
    }
}

/// Encodes `packet` for `version`, checks the length, decodes it back and compares.
fn check_round_trip(version: ProtocolVersion, packet: &Packet) -> Result<(), TestCaseError> {
    let mut buf = encode(version, packet)?;
    prop_assert_eq!(buf.len(), packet.encoded_len(version), "encoded_len");
    let wire = buf.clone();
    let mut decoder = decoder_for(version, packet);
    let decoded = decoder.decode(&mut buf);
    prop_assert_eq!(
        decoded,
        Ok(Some(packet.clone())),
        "{} wire {:02x?}",
        version,
        &wire[..]
    );
    prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
    if let Packet::Connect(connect) = packet {
        prop_assert_eq!(decoder.version(), Some(connect.protocol_version));
    }
    Ok(())
}

/// A packet that decoded from arbitrary bytes must encode again, to exactly `encoded_len`
/// bytes, and decode back to itself (the bytes may differ: non-minimal lengths in 3.1.1,
/// an explicit Success reason code, an empty property block).
fn check_reencodes(version: ProtocolVersion, packet: &Packet) -> Result<(), TestCaseError> {
    let version = match packet {
        Packet::Connect(connect) => connect.protocol_version,
        _ => version,
    };
    check_round_trip(version, packet)
}

/// Feeds `input` to `decoder` at once, decoding until `Ok(None)` or an error. Never panics
/// (the property), never loops: each packet consumes bytes, `Ok(None)` consumes none.
fn decode_arbitrary(mut decoder: Decoder, input: &[u8]) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(input);
    loop {
        let before = buf.len();
        let version = decoder.version();
        match decoder.decode(&mut buf) {
            Ok(None) => {
                prop_assert_eq!(buf.len(), before, "Ok(None) consumed input");
                return Ok(());
            }
            Err(_) => return Ok(()),
            Ok(Some(packet)) => {
                prop_assert!(buf.len() < before, "Ok(Some) consumed nothing");
                let version = match (version, &packet) {
                    (Some(version), _) => version,
                    (None, Packet::Connect(connect)) => connect.protocol_version,
                    (None, other) => {
                        return Err(TestCaseError::fail(format!(
                            "server decoder accepted {other:?} before CONNECT"
                        )))
                    }
                };
                check_reencodes(version, &packet)?;
            }
        }
    }
}

/// The three client decoders and a server decoder.
fn all_decoders() -> [Decoder; 4] {
    [
        Decoder::new(ProtocolVersion::V3_1),
        Decoder::new(ProtocolVersion::V3_1_1),
        Decoder::new(ProtocolVersion::V5),
        Decoder::for_server(),
    ]
}

/// One edit of an encoded packet.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Replace one byte.
    Set(Index, u8),
    /// Insert a byte.
    Insert(Index, u8),
    /// Delete a byte.
    Delete(Index),
    /// Cut the input short.
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 1..=u8::MAX).prop_map(|(i, mask)| Mutation::Flip(i, mask)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply_mutations(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for mutation in mutations {
        let len = bytes.len();
        match mutation {
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            _ if len == 0 => {}
            Mutation::Flip(i, mask) => bytes[i.index(len)] ^= mask,
            Mutation::Set(i, b) => bytes[i.index(len)] = *b,
            Mutation::Delete(i) => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        }
    }
}

/// A valid packet of `version`, encoded, then edited one to four times: gets past the fixed
/// header and deep into the body parsers far more often than random bytes.
fn mutated_packet(version: ProtocolVersion) -> impl Strategy<Value = Vec<u8>> {
    (any_packet(version), vec(mutation(), 1..5)).prop_map(move |(packet, mutations)| {
        let mut bytes = BytesMut::new();
        packet
            .encode(version, &mut bytes)
            .expect("valid packets encode");
        let mut bytes = bytes.to_vec();
        apply_mutations(&mut bytes, &mutations);
        bytes
    })
}

/// Appends the minimal variable byte integer encoding of `value`.
fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A well-formed fixed header (any packet type, the flags the specification fixes, any
/// PUBLISH flags) framing a random body of up to 64 bytes.
fn framed_random_body() -> impl Strategy<Value = Vec<u8>> {
    (1u8..=15, 0u8..16, vec(any::<u8>(), 0..64)).prop_map(|(packet_type, publish_flags, body)| {
        let flags = match packet_type {
            3 => publish_flags,
            6 | 8 | 10 => 0b0010,
            _ => 0,
        };
        let mut bytes = vec![packet_type << 4 | flags];
        put_varint(&mut bytes, body.len());
        bytes.extend_from_slice(&body);
        bytes
    })
}

/// Input for the decoders: random bytes, a random body in a valid frame, or a mutated valid
/// packet of `version`; with a valid CONNECT of that version to put a server decoder in
/// `version` first.
fn arbitrary_input() -> impl Strategy<Value = (Vec<u8>, Connect)> {
    protocol_version().prop_flat_map(|version| {
        let input = prop_oneof![
            1 => vec(any::<u8>(), 0..512),
            1 => framed_random_body(),
            2 => mutated_packet(version),
        ];
        (input, connect(version))
    })
}

/// Decodes every packet `buf` holds, until `Ok(None)`.
fn decode_available(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<Vec<Packet>, TestCaseError> {
    let mut packets = Vec::new();
    loop {
        match decoder.decode(buf) {
            Ok(Some(packet)) => packets.push(packet),
            Ok(None) => return Ok(packets),
            Err(err) => return Err(TestCaseError::fail(format!("decode: {err}"))),
        }
    }
}

/// Feeds `wire` in chunks of the given sizes (cycled) and collects the decoded packets.
fn decode_in_chunks(
    mut decoder: Decoder,
    wire: &[u8],
    chunk_sizes: &[usize],
) -> Result<Vec<Packet>, TestCaseError> {
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut rest = wire;
    for &size in chunk_sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        buf.extend_from_slice(chunk);
        packets.extend(decode_available(&mut decoder, &mut buf)?);
    }
    prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
    Ok(packets)
}

/// A version, an optional leading CONNECT (decoded by a server decoder when present, by a
/// client decoder otherwise) and one to five valid packets.
fn packet_sequence() -> impl Strategy<Value = (ProtocolVersion, Option<Connect>, Vec<Packet>)> {
    protocol_version().prop_flat_map(|version| {
        (
            Just(version),
            option::of(connect(version)),
            vec(any_packet(version), 1..=5),
        )
    })
}

/// Asserts that `field` lies inside the address range of the input buffer.
fn assert_within(input: &Range<usize>, field: &[u8], what: &str) -> Result<(), TestCaseError> {
    let start = field.as_ptr() as usize;
    prop_assert!(
        input.contains(&start) && start + field.len() <= input.end,
        "{} at {:#x}..{:#x} is not a slice of the input {:#x}..{:#x}",
        what,
        start,
        start + field.len(),
        input.start,
        input.end
    );
    Ok(())
}

/// [`assert_within`] for an optional or possibly empty field: an empty slice has no bytes to
/// share, and `Bytes` may hand out a dangling pointer for it.
fn assert_within_if_any(
    input: &Range<usize>,
    field: Option<&[u8]>,
    what: &str,
) -> Result<(), TestCaseError> {
    match field {
        Some(field) if !field.is_empty() => assert_within(input, field, what),
        _ => Ok(()),
    }
}

fn assert_user_properties_within(
    input: &Range<usize>,
    user_properties: &[UserProperty],
) -> Result<(), TestCaseError> {
    for user in user_properties {
        assert_within_if_any(input, Some(user.name.as_bytes()), "user property name")?;
        assert_within_if_any(input, Some(user.value.as_bytes()), "user property value")?;
    }
    Ok(())
}

fn address_range(buf: &BytesMut) -> Range<usize> {
    let start = buf.as_ptr() as usize;
    start..start + buf.len()
}

/// A v5 PUBLISH whose topic, payload, correlation data and user property are all non-empty.
fn publish_for_zero_copy() -> impl Strategy<Value = Publish> {
    (
        publish(ProtocolVersion::V5),
        topic_name(),
        non_empty_binary(64),
        non_empty_binary(32),
        (non_empty_string(), non_empty_string()),
    )
        .prop_map(
            |(mut publish, topic, payload, correlation, (name, value))| {
                publish.topic = topic;
                publish.payload = payload;
                publish.properties.correlation_data = Some(correlation);
                publish
                    .properties
                    .user_properties
                    .push(UserProperty { name, value });
                publish
            },
        )
}

/// A CONNECT of any version with a non-empty client id, user name, password and will payload.
fn connect_for_zero_copy() -> impl Strategy<Value = Connect> {
    protocol_version()
        .prop_flat_map(|version| {
            (
                connect(version),
                will(version),
                non_empty_string(),
                non_empty_string(),
                non_empty_binary(32),
                non_empty_binary(64),
            )
        })
        .prop_map(
            |(mut connect, mut will, client_id, username, password, will_payload)| {
                will.payload = will_payload;
                connect.client_id = client_id;
                connect.username = Some(username);
                connect.password = Some(password);
                connect.will = Some(will);
                connect
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(512)
    })]

    #[test]
    fn arbitrary_valid_packets_round_trip_v3_1(packet in any_packet(ProtocolVersion::V3_1)) {
        check_round_trip(ProtocolVersion::V3_1, &packet)?;
    }

    #[test]
    fn arbitrary_valid_packets_round_trip_v3_1_1(packet in any_packet(ProtocolVersion::V3_1_1)) {
        check_round_trip(ProtocolVersion::V3_1_1, &packet)?;
    }

    #[test]
    fn arbitrary_valid_packets_round_trip_v5(packet in any_packet(ProtocolVersion::V5)) {
        check_round_trip(ProtocolVersion::V5, &packet)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(3000)
    })]

    #[test]
    fn arbitrary_bytes_never_panic((input, connect) in arbitrary_input()) {
        for decoder in all_decoders() {
            decode_arbitrary(decoder, &input)?;
        }
        // Behind a valid CONNECT, a server decoder reads the input in the CONNECT's version.
        let mut stream = encode(connect.protocol_version, &Packet::Connect(connect.into()))?.to_vec();
        stream.extend_from_slice(&input);
        decode_arbitrary(Decoder::for_server(), &stream)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    })]

    #[test]
    fn byte_by_byte_equals_one_shot(
        (version, connect, packets) in packet_sequence(),
        chunk_sizes in vec(1usize..=64, 1..8),
    ) {
        let mut expected = Vec::new();
        let make_decoder = || if connect.is_some() {
            Decoder::for_server()
        } else {
            Decoder::new(version)
        };
        let mut wire = BytesMut::new();
        for packet in connect.clone().map(|c| Packet::Connect(c.into())).into_iter().chain(packets) {
            packet.encode(version, &mut wire).map_err(|err| TestCaseError::fail(err.to_string()))?;
            expected.push(packet);
        }

        let mut one_shot_buf = wire.clone();
        let mut one_shot_decoder = make_decoder();
        let one_shot = decode_available(&mut one_shot_decoder, &mut one_shot_buf)?;
        prop_assert!(one_shot_buf.is_empty());
        prop_assert_eq!(&one_shot, &expected);

        let byte_by_byte = decode_in_chunks(make_decoder(), &wire, &[1])?;
        prop_assert_eq!(&byte_by_byte, &one_shot);

        let chunked = decode_in_chunks(make_decoder(), &wire, &chunk_sizes)?;
        prop_assert_eq!(&chunked, &one_shot);
    }

    #[test]
    fn decoded_fields_are_slices_of_the_input(
        publish in publish_for_zero_copy(),
        connect in connect_for_zero_copy(),
    ) {
        let version = ProtocolVersion::V5;
        let mut buf = encode(version, &Packet::Publish(publish.clone()))?;
        let input = address_range(&buf);
        let decoded = Decoder::new(version).decode(&mut buf);
        let Ok(Some(Packet::Publish(decoded))) = decoded else {
            return Err(TestCaseError::fail(format!("decoded {decoded:?}")));
        };
        prop_assert_eq!(&decoded, &publish);
        assert_within(&input, decoded.topic.as_bytes(), "topic")?;
        assert_within(&input, &decoded.payload, "payload")?;
        let props = &decoded.properties;
        let correlation = props.correlation_data.as_ref().expect("set");
        assert_within(&input, correlation, "correlation data")?;
        let user = props.user_properties.last().expect("set");
        assert_within(&input, user.name.as_bytes(), "user property name")?;
        assert_within(&input, user.value.as_bytes(), "user property value")?;
        assert_user_properties_within(&input, &props.user_properties)?;
        let response_topic = props.response_topic.as_ref().map(|s| &s.as_bytes()[..]);
        assert_within_if_any(&input, response_topic, "response topic")?;
        let content_type = props.content_type.as_ref().map(|s| &s.as_bytes()[..]);
        assert_within_if_any(&input, content_type, "content type")?;

        let version = connect.protocol_version;
        let mut buf = encode(version, &Packet::Connect(connect.clone().into()))?;
        let input = address_range(&buf);
        let decoded = Decoder::for_server().decode(&mut buf);
        let Ok(Some(Packet::Connect(decoded))) = decoded else {
            return Err(TestCaseError::fail(format!("decoded {decoded:?}")));
        };
        let decoded: &Connect = &decoded;
        prop_assert_eq!(decoded, &connect);
        assert_within(&input, decoded.client_id.as_bytes(), "client id")?;
        assert_within(&input, decoded.username.as_ref().expect("set").as_bytes(), "user name")?;
        assert_within(&input, decoded.password.as_ref().expect("set"), "password")?;
        let will = decoded.will.as_ref().expect("set");
        assert_within(&input, will.topic.as_bytes(), "will topic")?;
        assert_within(&input, &will.payload, "will payload")?;
        // The optional MQTT 5 strings and binary data are slices too.
        let props = &decoded.properties;
        let method = props.authentication_method.as_ref().map(|s| &s.as_bytes()[..]);
        assert_within_if_any(&input, method, "authentication method")?;
        let data = props.authentication_data.as_deref();
        assert_within_if_any(&input, data, "authentication data")?;
        assert_user_properties_within(&input, &props.user_properties)?;
        let will_props = &will.properties;
        let correlation = will_props.correlation_data.as_deref();
        assert_within_if_any(&input, correlation, "will correlation data")?;
        let response_topic = will_props.response_topic.as_ref().map(|s| &s.as_bytes()[..]);
        assert_within_if_any(&input, response_topic, "will response topic")?;
        assert_user_properties_within(&input, &will_props.user_properties)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Topic name checks against a byte-by-byte model
// ---------------------------------------------------------------------------------------------

/// Topic name bytes: valid UTF-8 of one- to four-byte characters (`min_chars..=40` of them),
/// in half the cases with one to three bytes inserted anywhere that are NUL, a wildcard or
/// break UTF-8 (a lone continuation byte, a lead byte, 0xFF). Lengths up to 160 bytes run the
/// word-at-a-time scan over every offset of its 8-byte chunks and of the remainder.
fn topic_name_bytes(min_chars: usize) -> impl Strategy<Value = Vec<u8>> {
    let bad_byte = select(&[0u8, b'+', b'#', 0x80, 0xC3, 0xFF][..]);
    (
        proptest::string::string_regex(&format!("[a-z/ é€😀]{{{min_chars},40}}"))
            .expect("valid regex"),
        prop_oneof![Just(Vec::new()), vec((any::<Index>(), bad_byte), 1..4)],
    )
        .prop_map(|(text, insertions)| {
            let mut bytes = text.into_bytes();
            for (at, byte) in insertions {
                bytes.insert(at.index(bytes.len() + 1), byte);
            }
            bytes
        })
}

/// The outcomes a topic name may decode to: `Ok` exactly when it is UTF-8 without NUL, `+`
/// or `#`; otherwise an error naming one of the rules it breaks (the specification does not
/// rank them).
fn topic_name_verdicts(bytes: &[u8], wildcard: DecodeError) -> Result<(), Vec<DecodeError>> {
    let mut errors = Vec::new();
    if bytes.contains(&0) {
        errors.push(DecodeError::NullCharacter);
    }
    if bytes.iter().any(|b| matches!(b, b'+' | b'#')) {
        errors.push(wildcard);
    }
    if std::str::from_utf8(bytes).is_err() {
        errors.push(DecodeError::InvalidUtf8);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks a decode result against the verdicts of [`topic_name_verdicts`]; `decoded_topic`
/// extracts the topic name from the decoded packet.
fn check_topic_verdict(
    bytes: &[u8],
    result: Result<Option<Packet>, DecodeError>,
    wildcard: DecodeError,
    decoded_topic: impl Fn(&Packet) -> Option<Vec<u8>>,
) -> Result<(), TestCaseError> {
    match (topic_name_verdicts(bytes, wildcard), result) {
        (Ok(()), Ok(Some(packet))) => {
            let topic = decoded_topic(&packet);
            prop_assert_eq!(topic.as_deref(), Some(bytes));
        }
        (Err(allowed), Err(err)) => {
            prop_assert!(allowed.contains(&err), "{:?} not among {:?}", err, allowed);
        }
        (expected, got) => {
            return Err(TestCaseError::fail(format!(
                "topic {bytes:02x?}: expected {expected:?}, decoded {got:?}"
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(1000)
    })]

    /// PUBLISH topic names (3.1.1) and Response Topics (5.0) are refused exactly when they
    /// contain NUL [MQTT-1.5.4-2], a wildcard [MQTT-3.3.2-2], [MQTT-3.3.2-14] or ill-formed
    /// UTF-8 [MQTT-1.5.4-1]; an empty PUBLISH topic is refused [MQTT-4.7.3-1].
    #[test]
    fn topic_names_are_checked_exactly(
        topic in topic_name_bytes(0),
        response_topic in topic_name_bytes(1),
    ) {
        // 3.1.1 PUBLISH, QoS 0: topic, then a one-byte payload.
        let mut body = (topic.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(&topic);
        body.push(b'p');
        let mut wire = vec![0x30];
        put_varint(&mut wire, body.len());
        wire.extend_from_slice(&body);
        let result = Decoder::new(ProtocolVersion::V3_1_1).decode(&mut BytesMut::from(&wire[..]));
        if topic.is_empty() {
            prop_assert_eq!(result, Err(DecodeError::EmptyTopicName));
        } else {
            check_topic_verdict(&topic, result, DecodeError::WildcardInTopicName, |p| match p {
                Packet::Publish(p) => Some(p.topic.as_bytes().to_vec()),
                _ => None,
            })?;
        }

        // 5.0 PUBLISH to "a" whose only property is the Response Topic.
        let mut props = vec![PropertyId::ResponseTopic as u8];
        props.extend_from_slice(&(response_topic.len() as u16).to_be_bytes());
        props.extend_from_slice(&response_topic);
        let mut body = vec![0, 1, b'a'];
        put_varint(&mut body, props.len());
        body.extend_from_slice(&props);
        let mut wire = vec![0x30];
        put_varint(&mut wire, body.len());
        wire.extend_from_slice(&body);
        let result = Decoder::new(ProtocolVersion::V5).decode(&mut BytesMut::from(&wire[..]));
        let wildcard = DecodeError::InvalidPropertyValue(PropertyId::ResponseTopic);
        check_topic_verdict(&response_topic, result, wildcard, |p| match p {
            Packet::Publish(p) => p.properties.response_topic.as_ref().map(|t| t.as_bytes().to_vec()),
            _ => None,
        })?;
    }
}

// Encoding refuses, before writing anything, every packet the decoder would refuse: a
// conforming peer (this crate's `Decoder` included) closes the connection on such packets.
// Each case below was found by the round-trip properties above and is pinned here.

/// Encodes `packet` and expects exactly `expected`, with nothing written.
fn assert_encode_refuses(version: ProtocolVersion, packet: Packet, expected: EncodeError) {
    let mut buf = BytesMut::new();
    assert_eq!(
        packet.encode(version, &mut buf),
        Err(expected),
        "{packet:?}"
    );
    assert!(buf.is_empty(), "nothing is written on error");
}

fn will_with_topic(topic: &'static str) -> Will {
    Will {
        topic: MqttString::from_static(topic),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    }
}

#[test]
fn mqtt_3_3_2_2_encode_refuses_wildcard_in_publish_topic() {
    for topic in ["a/#", "+", "a/+/b"] {
        let publish = Publish::new(MqttString::from_static(topic), Bytes::new());
        assert_encode_refuses(
            ProtocolVersion::V3_1_1,
            Packet::Publish(publish),
            EncodeError::InvalidTopicName,
        );
    }
}

#[test]
fn mqtt_4_7_3_1_encode_refuses_empty_publish_topic_without_alias() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let publish = Publish::new(MqttString::new(), Bytes::new());
        assert_encode_refuses(
            version,
            Packet::Publish(publish),
            EncodeError::InvalidTopicName,
        );
    }
    // v5 3.3.2.3.4: with a Topic Alias the empty topic is valid and round-trips.
    let mut publish = Publish::new(MqttString::new(), Bytes::new());
    publish.properties.topic_alias = NonZeroU16::new(1);
    let mut buf = BytesMut::new();
    Packet::Publish(publish.clone())
        .encode(ProtocolVersion::V5, &mut buf)
        .unwrap();
    assert_eq!(
        Decoder::new(ProtocolVersion::V5).decode(&mut buf),
        Ok(Some(Packet::Publish(publish)))
    );
}

#[test]
fn mqtt_3_3_2_2_encode_refuses_empty_or_wildcard_will_topic() {
    for topic in ["", "+", "a/#"] {
        let mut connect = Connect::new(ProtocolVersion::V3_1_1, MqttString::new());
        connect.will = Some(will_with_topic(topic));
        assert_encode_refuses(
            ProtocolVersion::V3_1_1,
            Packet::Connect(connect.into()),
            EncodeError::InvalidTopicName,
        );
    }
}

#[test]
fn mqtt_3_3_2_14_encode_refuses_wildcard_in_response_topic() {
    let mut publish = Publish::new(MqttString::from_static("a"), Bytes::new());
    publish.properties.response_topic = Some(MqttString::from_static("a/+"));
    assert_encode_refuses(
        ProtocolVersion::V5,
        Packet::Publish(publish),
        EncodeError::InvalidPropertyValue(PropertyId::ResponseTopic),
    );
}

/// v5 3.2.2.3.4: Maximum QoS is 0 or 1; sending 2 is a Protocol Error.
#[test]
fn encode_refuses_maximum_qos_2() {
    let mut connack = ConnAck::default();
    connack.properties.maximum_qos = Some(QoS::ExactlyOnce);
    assert_encode_refuses(
        ProtocolVersion::V5,
        Packet::ConnAck(connack.into()),
        EncodeError::InvalidPropertyValue(PropertyId::MaximumQoS),
    );
}
