//! The connection life cycle: CONNECT and CONNACK, client identifiers, session takeover,
//! clean start and session expiry, authentication and authorisation, keep alive, wills, and
//! shutdown. Each test names the OASIS normative statement it checks; "v3" is MQTT 3.1.1,
//! "v5" is MQTT 5.0 (the two number many statements differently).

mod harness;

use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::*;
use mqtt_broker_core::{
    AuthError, Authenticator, Broker, ClientInfo, CloseReason, Config, Credentials,
};
use mqtt_codec::{
    ConnAck, Connect, Disconnect, Packet, ProtocolVersion, ProtocolVersion::*, Publish, QoS,
    ReasonCode, Subscribe, SubscriptionOptions, Will,
};
use mqtt_topic::{TopicFilter, TopicName};

// ---- Helpers ----

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A v5 CONNECT resuming (or creating) a session that lasts `expiry` seconds offline.
fn v5_persistent(id: &str, expiry: u32) -> Connect {
    let mut connect = connect_packet(V5, id);
    persistent(expiry)(&mut connect);
    connect
}

/// A QoS 1 will to `topic` (retain 0) with a Will Delay Interval of `delay` seconds.
fn delayed_will(topic: &str, payload: &[u8], delay: u32) -> Will {
    let mut last = will(topic, payload, QoS::AtLeastOnce, false);
    last.properties.will_delay_interval = Some(delay);
    last
}

fn with_will(mut connect: Connect, will: Will) -> Connect {
    connect.will = Some(will);
    connect
}

/// Connects `id` (keep alive 0) with a will to `will/{id}`.
fn with_will_to_its_topic(
    h: &mut Harness,
    version: ProtocolVersion,
    id: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
) -> ClientId {
    let last = will(&format!("will/{id}"), payload, qos, retain);
    accepted(h, with_will(connect_packet(version, id), last)).0
}

/// Connects and asserts a refusing CONNACK, with Session Present 0, and the close.
fn refused(h: &mut Harness, connect: Connect) -> (ClientId, ConnAck) {
    let (c, connack) = h.connect_with(connect);
    let connack = connack.expect("a CONNACK");
    assert!(
        connack.reason_code.is_error(),
        "expected a refusal, got {connack:?}"
    );
    // Session Present is 0 on a refusal: v3 [MQTT-3.2.2-4], v5 [MQTT-3.2.2-6].
    assert!(!connack.session_present);
    // The connection is closed after it: v3 [MQTT-3.2.2-5], v5 [MQTT-3.2.2-7].
    assert!(h.is_gone(c), "refused connection left open");
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ConnectRefused(connack.reason_code))
    );
    assert!(h.drain(c).is_empty(), "packets after a refusing CONNACK");
    (c, connack)
}

/// A hand-built CONNECT: protocol `name`, `level`, connect `flags`, keep alive 60, v5
/// properties when given, client id "raw".
fn raw_connect(name: &[u8], level: u8, flags: u8, v5_properties: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
    body.extend_from_slice(name);
    body.push(level);
    body.push(flags);
    body.extend_from_slice(&60u16.to_be_bytes());
    if let Some(properties) = v5_properties {
        body.push(u8::try_from(properties.len()).unwrap());
        body.extend_from_slice(properties);
    }
    body.extend_from_slice(&[0x00, 0x03, b'r', b'a', b'w']);
    raw_packet(0x10, &body)
}

fn only_disconnect(h: &mut Harness, c: ClientId) -> Disconnect {
    match h.drain(c).as_slice() {
        [Packet::Disconnect(d)] => {
            // The server never sends a Session Expiry Interval in DISCONNECT
            // v5 [MQTT-3.14.2-2].
            assert_eq!(d.properties.session_expiry_interval, None);
            d.clone()
        }
        other => panic!("expected one DISCONNECT, got {other:?}"),
    }
}

/// A subscriber (v5, QoS 2) to `filter`.
fn watcher(h: &mut Harness, id: &str, filter: &str) -> ClientId {
    let w = h.connect(id, V5);
    assert_eq!(
        h.subscribe(w, filter, QoS::ExactlyOnce),
        [ReasonCode::GrantedQoS2]
    );
    w
}

fn topics_and_payloads(publishes: &[Publish]) -> Vec<(String, Vec<u8>)> {
    publishes
        .iter()
        .map(|p| (p.topic.as_str().to_owned(), p.payload.to_vec()))
        .collect()
}

// ---- A small policy for the Authenticator tests ----

/// User "banned" may not connect; every other user needs password "secret"; nobody may
/// publish to or subscribe under `private/`.
struct Policy;

impl Authenticator for Policy {
    fn authenticate(&mut self, credentials: &Credentials<'_>) -> Result<(), AuthError> {
        match credentials.username {
            Some("banned") => Err(AuthError::NotAuthorized),
            Some(_) if credentials.password.map(|p| &p[..]) == Some(&b"secret"[..]) => Ok(()),
            _ => Err(AuthError::BadUserNameOrPassword),
        }
    }

    fn authorize_publish(&mut self, _: &ClientInfo<'_>, topic: &TopicName) -> bool {
        !topic.as_str().starts_with("private/")
    }

    fn authorize_subscribe(&mut self, _: &ClientInfo<'_>, filter: &TopicFilter) -> bool {
        !filter.as_str().starts_with("private/")
    }
}

fn guarded() -> Harness {
    let now = Instant::now();
    let broker = Broker::new(Harness::quiet_config(), now).with_authenticator(Box::new(Policy));
    Harness::with_broker(broker, now)
}

fn login(mut connect: Connect, user: &str, password: &[u8]) -> Connect {
    connect.username = Some(string(user));
    connect.password = Some(Bytes::copy_from_slice(password));
    connect
}

// ---- CONNECT: the first packet, and only once ----

#[test]
fn publish_before_connect_closes_without_any_packet_mqtt_3_1_0_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let c = h.open(version);
        // QoS 0 PUBLISH "a" / "hi".
        h.send_bytes(c, &[0x30, 0x05, 0x00, 0x01, b'a', b'h', b'i']);
        assert!(h.is_gone(c), "{version}: not closed");
        assert!(h.closed(c).is_some());
        assert!(
            h.clients[c].raw.is_empty(),
            "{version}: the server sent bytes"
        );
        assert_eq!(h.broker.connection_count(), 0);
        assert_eq!(h.broker.session_count(), 0);
    }
}

#[test]
fn second_connect_closes_v3_silently_v5_with_disconnect_0x82_mqtt_3_1_0_2() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let c = h.connect("twice", version);
        h.send(
            c,
            Packet::Connect(Box::new(connect_packet(version, "twice"))),
        );
        if version.is_v5() {
            // A Protocol Error, never a second CONNACK v5 [MQTT-3.2.0-2].
            assert_eq!(
                only_disconnect(&mut h, c).reason_code,
                ReasonCode::ProtocolError
            );
        } else {
            // 3.1.1 has no DISCONNECT from the server: nothing at all.
            assert!(h.drain(c).is_empty());
        }
        assert!(h.is_gone(c), "{version}");
        assert_eq!(
            h.closed(c),
            Some(CloseReason::ProtocolViolation(ReasonCode::ProtocolError))
        );
        assert!(h.broker.session_info("twice").is_none());
    }
}

#[test]
fn unsupported_protocol_level_gets_connack_0x01_then_close_v3_mqtt_3_1_2_2() {
    let mut h = Harness::quiet();
    let c = h.open(V3_1_1);
    // "MQTT" level 6: not a version this broker speaks.
    h.send_bytes(c, &raw_connect(b"MQTT", 6, 0x02, None));
    // The 3.1.1 CONNACK format (the client's version is unknown): return code 0x01.
    assert_eq!(h.clients[c].raw, [0x20, 0x02, 0x00, 0x01]);
    assert!(h.is_gone(c));
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ConnectRefused(
            ReasonCode::UnsupportedProtocolVersion
        ))
    );
}

#[test]
fn invalid_protocol_name_closes_without_connack_mqtt_3_1_2_1() {
    for (name, level) in [(&b"MQTX"[..], 4), (&b"mqtt"[..], 5), (&b"MQ"[..], 4)] {
        let mut h = Harness::quiet();
        let c = h.open(V3_1_1);
        h.send_bytes(c, &raw_connect(name, level, 0x02, None));
        assert!(h.is_gone(c), "{name:?}/{level}: not closed");
        assert!(
            h.clients[c].raw.is_empty(),
            "{name:?}/{level}: CONNECT processed as MQTT: {:?}",
            h.clients[c].raw
        );
        assert_eq!(h.broker.session_count(), 0);
    }
}

#[test]
fn malformed_v5_connect_gets_connack_0x81_or_0x82_mqtt_3_1_4_1() {
    // Reserved flag set [MQTT-3.1.2-3]: Malformed Packet.
    let mut h = Harness::quiet();
    let c = h.open(V5);
    h.send_bytes(c, &raw_connect(b"MQTT", 5, 0x03, Some(&[])));
    assert_eq!(h.clients[c].raw, [0x20, 0x03, 0x00, 0x81, 0x00]);
    assert!(h.is_gone(c));

    // Session Expiry Interval twice: Protocol Error (v5 2.2.2.2).
    let mut h = Harness::quiet();
    let c = h.open(V5);
    let twice = [0x11, 0, 0, 0, 10, 0x11, 0, 0, 0, 10];
    h.send_bytes(c, &raw_connect(b"MQTT", 5, 0x02, Some(&twice)));
    match h.drain(c).as_slice() {
        [Packet::ConnAck(connack)] => {
            assert_eq!(connack.reason_code, ReasonCode::ProtocolError);
            assert!(!connack.session_present);
        }
        other => panic!("expected a CONNACK 0x82, got {other:?}"),
    }
    assert!(h.is_gone(c));
    assert_eq!(h.broker.session_count(), 0);
}

#[test]
fn malformed_v3_connect_closes_without_connack_mqtt_3_1_4_1() {
    // 3.1.1: "close the Network Connection without sending a CONNACK" [MQTT-3.1.4-1].
    for (flags, what) in [
        (0x03, "reserved flag [MQTT-3.1.2-3]"),
        (0x02 | 0x08, "will QoS without will [MQTT-3.1.2-13]"),
        (0x02 | 0x40, "password without user name [MQTT-3.1.2-22]"),
    ] {
        let mut h = Harness::quiet();
        let c = h.open(V3_1_1);
        h.send_bytes(c, &raw_connect(b"MQTT", 4, flags, None));
        assert!(h.is_gone(c), "{what}: not closed");
        assert!(h.clients[c].raw.is_empty(), "{what}: bytes sent");
        assert_eq!(h.broker.session_count(), 0, "{what}");
    }
}

#[test]
fn nothing_is_processed_after_a_refused_connect_v3_mqtt_3_1_4_5_v5_mqtt_3_1_4_6() {
    for version in [V3_1_1, V5] {
        let mut h = guarded();
        let c = h.open(version);
        // CONNECT with a wrong password, pipelined with a retained PUBLISH, a SUBSCRIBE
        // and a PINGREQ in the same read.
        h.send_burst(
            c,
            vec![
                Packet::Connect(Box::new(with_will(
                    login(connect_packet(version, "intruder"), "user", b"wrong"),
                    will("a/will", b"refused", QoS::AtMostOnce, true),
                ))),
                Packet::Publish(publish("a/b", b"sneaky", QoS::AtLeastOnce, true, 1)),
                Packet::Subscribe(Subscribe {
                    packet_id: pid(2),
                    properties: Default::default(),
                    filters: vec![(string("#"), SubscriptionOptions::qos(QoS::AtMostOnce))],
                }),
                Packet::PingReq,
            ],
        );
        match h.drain(c).as_slice() {
            [Packet::ConnAck(connack)] => {
                assert_eq!(connack.reason_code, ReasonCode::BadUserNameOrPassword);
            }
            other => panic!("{version}: expected only the refusing CONNACK, got {other:?}"),
        }
        assert!(h.is_gone(c));
        assert_eq!(h.broker.stats().retained_messages, 0, "{version}");
        assert_eq!(h.broker.stats().subscriptions, 0, "{version}");

        // Nothing was published, not even the will: a new subscriber finds no retained
        // message.
        let (w, _) = accepted(&mut h, login(connect_packet(V5, "w"), "user", b"secret"));
        assert_eq!(
            h.subscribe(w, "a/+", QoS::AtLeastOnce),
            [ReasonCode::GrantedQoS1]
        );
        assert!(h.publishes(w).is_empty(), "{version}");
        assert_eq!(h.broker.stats().wills_published, 0);
    }
}

#[test]
fn connack_is_the_first_packet_even_with_pipelined_packets_mqtt_3_2_0_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let c = h.open(version);
        h.send_burst(
            c,
            vec![
                Packet::Connect(Box::new(connect_packet(version, "eager"))),
                Packet::Subscribe(Subscribe {
                    packet_id: pid(9),
                    properties: Default::default(),
                    filters: vec![(string("x/#"), SubscriptionOptions::qos(QoS::AtLeastOnce))],
                }),
                Packet::PingReq,
            ],
        );
        assert_eq!(
            h.clients[c].raw[0], 0x20,
            "{version}: first byte not CONNACK"
        );
        match h.drain(c).as_slice() {
            [Packet::ConnAck(connack), Packet::SubAck(suback), Packet::PingResp] => {
                assert_eq!(connack.reason_code, ReasonCode::Success);
                assert_eq!(suback.packet_id, pid(9));
                assert_eq!(suback.reason_codes, [ReasonCode::GrantedQoS1]);
            }
            other => panic!("{version}: got {other:?}"),
        }
    }
}

#[test]
fn connack_precedes_messages_queued_for_a_resumed_session_mqtt_3_2_0_1() {
    let mut h = Harness::quiet();
    let (c, present) = h.connect_persistent("queued", V3_1_1);
    assert!(!present);
    h.subscribe(c, "q/#", QoS::AtLeastOnce);
    h.drop_connection(c);
    let p = h.connect("pub", V3_1_1);
    h.publish(p, "q/1", b"while away", QoS::AtLeastOnce, false, 1);

    let mut connect = connect_packet(V3_1_1, "queued");
    connect.clean_start = false;
    let c = h.open(V3_1_1);
    h.send(c, Packet::Connect(Box::new(connect)));
    let packets = h.drain(c);
    match packets.as_slice() {
        [Packet::ConnAck(connack), Packet::Publish(publish)] => {
            assert!(connack.session_present);
            assert_eq!(&publish.payload[..], b"while away");
            assert_eq!(publish.qos, QoS::AtLeastOnce);
        }
        other => panic!("expected CONNACK then PUBLISH, got {other:?}"),
    }
    assert_eq!(h.clients[c].raw[..4], [0x20, 0x02, 0x01, 0x00]);
}

// ---- Client identifiers ----

#[test]
fn client_ids_of_1_to_23_alphanumerics_are_accepted_mqtt_3_1_3_5() {
    let ids = [
        "a",
        "Z",
        "7",
        "abcdefghijklmnopqrstuvw",
        "ABCDEFGHIJKLMNOPQRSTUVW",
        "0123456789aBcDeFgHiJkLm",
    ];
    for version in [V3_1, V3_1_1, V5] {
        let mut h = Harness::quiet();
        for id in ids {
            assert!(id.len() <= 23);
            let (c, connack) = accepted(&mut h, connect_packet(version, id));
            assert!(!connack.session_present);
            assert!(
                h.broker.session_info(id).is_some_and(|s| s.connected),
                "{version}: no session for {id}"
            );
            assert!(!h.is_gone(c));
        }
        assert_eq!(h.broker.session_count(), ids.len());
    }
}

#[test]
fn v3_empty_client_id_assigned_if_clean_mqtt_3_1_3_6_else_0x02_mqtt_3_1_3_8() {
    let mut h = Harness::quiet();
    let (a, connack) = accepted(&mut h, connect_packet(V3_1_1, ""));
    assert!(!connack.session_present);
    // 3.1.1 cannot tell the client its id, but the session is its own: a second
    // anonymous client gets another one.
    let (b, _) = accepted(&mut h, connect_packet(V3_1_1, ""));
    assert_eq!(h.broker.session_count(), 2);
    assert!(!h.is_gone(a) && !h.is_gone(b));
    h.send(a, Packet::PingReq);
    assert_eq!(h.drain(a), [Packet::PingResp]);

    // With a persistent session it is refused: return code 0x02 [MQTT-3.1.3-8].
    let mut h = Harness::quiet();
    let mut connect = connect_packet(V3_1_1, "");
    connect.clean_start = false;
    let (c, connack) = refused(&mut h, connect);
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert_eq!(h.clients[c].raw, [0x20, 0x02, 0x00, 0x02]);
    assert_eq!(h.broker.session_count(), 0);
}

#[test]
fn mqtt_3_1_client_id_over_23_characters_gets_0x02() {
    // MQTT 3.1 (section 3.1, Client Identifier): 1 to 23 characters, else return code 2.
    let mut h = Harness::quiet();
    let (c, connack) = refused(&mut h, connect_packet(V3_1, "abcdefghijklmnopqrstuvwx"));
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert_eq!(h.clients[c].raw, [0x20, 0x02, 0x00, 0x02]);
    // 3.1.1 lifted the limit: the server MAY allow longer ids [MQTT-3.1.3-5].
    accepted(&mut h, connect_packet(V3_1_1, "abcdefghijklmnopqrstuvwx"));
}

#[test]
fn v5_empty_client_id_gets_an_assigned_client_identifier_mqtt_3_2_2_16() {
    let mut h = Harness::quiet();
    let (a, first) = accepted(&mut h, connect_packet(V5, ""));
    let (_, second) = accepted(&mut h, v5_persistent("", 60));
    let first_id = first
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier [MQTT-3.2.2-16]");
    let second_id = second
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier [MQTT-3.2.2-16]");
    assert!(!first_id.is_empty());
    assert_ne!(first_id, second_id, "assigned ids must be unique");
    // The CONNECT is processed as if the client had sent that id [MQTT-3.1.3-7].
    assert!(h
        .broker
        .session_info(first_id.as_str())
        .is_some_and(|s| s.connected));
    assert_eq!(
        h.broker
            .session_info(second_id.as_str())
            .map(|s| s.expiry_interval),
        Some(60)
    );
    h.send(a, Packet::PingReq);
    assert_eq!(h.drain(a), [Packet::PingResp]);

    // The assigned id names a session like any other: it can be resumed.
    let (_, resumed) = accepted(&mut h, v5_persistent(second_id.as_str(), 60));
    assert!(resumed.session_present);
    assert_eq!(resumed.properties.assigned_client_identifier, None);
}

// ---- Session takeover ----

#[test]
fn same_client_id_takes_over_v3_mqtt_3_1_4_2_v5_with_disconnect_0x8e_mqtt_3_1_4_3() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let old = h.connect("dup", version);
        let new = h.connect("dup", version);
        assert!(h.is_gone(old), "{version}");
        assert_eq!(h.closed(old), Some(CloseReason::SessionTakenOver));
        if version.is_v5() {
            assert_eq!(
                only_disconnect(&mut h, old).reason_code,
                ReasonCode::SessionTakenOver
            );
        } else {
            assert!(
                h.drain(old).is_empty(),
                "3.1.1 has no DISCONNECT from the server"
            );
        }
        assert!(!h.is_gone(new));
        h.send(new, Packet::PingReq);
        assert_eq!(h.drain(new), [Packet::PingResp]);
        assert_eq!(h.broker.session_count(), 1);
        assert!(h.broker.session_info("dup").is_some_and(|s| s.connected));
    }
}

#[test]
fn refused_connect_does_not_take_over_the_session_mqtt_3_1_4_2() {
    // v3 3.1.4: the existing client is disconnected only "if validation is successful".
    for version in [V3_1_1, V5] {
        let mut h = guarded();
        let (owner, _) = accepted(
            &mut h,
            login(connect_packet(version, "dup"), "user", b"secret"),
        );
        h.subscribe(owner, "mine/#", QoS::AtLeastOnce);
        let (_, connack) = refused(
            &mut h,
            login(connect_packet(version, "dup"), "user", b"bad"),
        );
        assert_eq!(connack.reason_code, ReasonCode::BadUserNameOrPassword);
        assert!(
            !h.is_gone(owner),
            "{version}: a refused CONNECT took the session over"
        );
        assert!(h.drain(owner).is_empty());
        assert_eq!(
            h.broker.session_info("dup").map(|s| s.subscriptions),
            Some(1)
        );
    }
}

#[test]
fn takeover_resuming_a_persistent_session_keeps_its_subscriptions_mqtt_3_1_2_4() {
    let mut h = Harness::quiet();
    let (old, _) = h.connect_persistent("phone", V3_1_1);
    h.subscribe(old, "news/#", QoS::AtLeastOnce);
    let (new, present) = h.connect_persistent("phone", V3_1_1);
    assert!(present, "session present after takeover [MQTT-3.2.2-2]");
    assert_eq!(h.closed(old), Some(CloseReason::SessionTakenOver));
    let p = h.connect("pub", V3_1_1);
    h.publish(p, "news/today", b"headline", QoS::AtLeastOnce, false, 1);
    let got = h.publishes(new);
    assert_eq!(
        topics_and_payloads(&got),
        [("news/today".to_owned(), b"headline".to_vec())]
    );
    assert!(h.publishes(old).is_empty());
}

// ---- Clean session / clean start and Session Present ----

#[test]
fn v3_clean_session_and_session_present_mqtt_3_1_2_4_mqtt_3_1_2_6_mqtt_3_2_2_1_to_3() {
    let mut h = Harness::quiet();
    // Clean session: Session Present 0 [MQTT-3.2.2-1].
    let (c, connack) = accepted(&mut h, connect_packet(V3_1_1, "dev"));
    assert!(!connack.session_present);
    assert_eq!(h.clients[c].raw, [0x20, 0x02, 0x00, 0x00]);
    h.send(c, disconnect(ReasonCode::Success));
    // A clean session lasts as long as the connection [MQTT-3.1.2-6].
    assert!(h.broker.session_info("dev").is_none());

    // Persistent, no stored session: Session Present 0 [MQTT-3.2.2-3].
    let (c, present) = h.connect_persistent("dev", V3_1_1);
    assert!(!present);
    h.subscribe(c, "cmd/#", QoS::AtLeastOnce);
    h.send(c, disconnect(ReasonCode::Success));
    assert_eq!(
        h.broker
            .session_info("dev")
            .map(|s| (s.connected, s.subscriptions)),
        Some((false, 1))
    );

    // Persistent, stored session: resumed, Session Present 1 [MQTT-3.1.2-4], [MQTT-3.2.2-2].
    let (c, present) = h.connect_persistent("dev", V3_1_1);
    assert!(present);
    assert_eq!(h.clients[c].raw, [0x20, 0x02, 0x01, 0x00]);
    h.send(c, disconnect(ReasonCode::Success));

    // Clean session discards the stored one [MQTT-3.1.2-6]: Session Present 0, no
    // subscriptions left.
    clean_connect_discards_the_stored_session(&mut h, connect_packet(V3_1_1, "dev"));
}

/// Connecting "dev" with `connect` (Clean Start 1) discards its stored session, which was
/// subscribed to `cmd/#`: Session Present 0, no subscriptions left, nothing arrives there.
fn clean_connect_discards_the_stored_session(h: &mut Harness, connect: Connect) {
    let version = connect.protocol_version;
    let (c, connack) = accepted(h, connect);
    assert!(!connack.session_present);
    assert_eq!(
        h.broker.session_info("dev").map(|s| s.subscriptions),
        Some(0)
    );
    let p = h.connect("pub", version);
    h.publish(p, "cmd/x", b"lost", QoS::AtLeastOnce, false, 1);
    assert!(h.publishes(c).is_empty());
}

#[test]
fn v5_clean_start_and_session_present_mqtt_3_1_2_4_to_6_mqtt_3_2_2_2_3() {
    let mut h = Harness::quiet();
    // Clean Start 0 without a session: a new one, Session Present 0 [MQTT-3.1.2-6].
    let (c, connack) = accepted(&mut h, v5_persistent("dev", 300));
    assert!(!connack.session_present);
    h.subscribe(c, "cmd/#", QoS::AtLeastOnce);
    h.send(c, disconnect(ReasonCode::Success));

    // Clean Start 0 with a session: resumed, Session Present 1 [MQTT-3.1.2-5], [MQTT-3.2.2-3].
    let (c, connack) = accepted(&mut h, v5_persistent("dev", 300));
    assert!(connack.session_present);
    assert_eq!(
        h.broker.session_info("dev").map(|s| s.subscriptions),
        Some(1)
    );
    h.send(c, disconnect(ReasonCode::Success));

    // Clean Start 1: the session is discarded, Session Present 0 [MQTT-3.1.2-4], [MQTT-3.2.2-2].
    let mut connect = v5_persistent("dev", 300);
    connect.clean_start = true;
    clean_connect_discards_the_stored_session(&mut h, connect);
}

#[test]
fn refused_connect_has_session_present_0_even_with_a_stored_session_mqtt_3_2_2_4() {
    for (version, raw) in [
        (V3_1_1, &[0x20, 0x02, 0x00, 0x04][..]),
        (V5, &[0x20, 0x03, 0x00, 0x86, 0x00][..]),
    ] {
        let mut h = guarded();
        let mut connect = login(connect_packet(version, "dev"), "user", b"secret");
        connect.clean_start = false;
        if version.is_v5() {
            connect.properties.session_expiry_interval = Some(u32::MAX);
        }
        let (c, _) = accepted(&mut h, connect.clone());
        h.send(c, disconnect(ReasonCode::Success));
        assert!(h.broker.session_info("dev").is_some());

        connect.password = Some(Bytes::from_static(b"guess"));
        let (c, connack) = refused(&mut h, connect);
        assert_eq!(connack.reason_code, ReasonCode::BadUserNameOrPassword);
        // v3 [MQTT-3.2.2-4], v5 [MQTT-3.2.2-6]: the flag byte is 0.
        assert_eq!(h.clients[c].raw, raw, "{version}");
    }
}

// ---- v5 Session Expiry Interval ----

#[test]
fn v5_session_is_kept_for_its_expiry_interval_then_discarded_mqtt_3_1_2_23_mqtt_4_1_0_2() {
    let mut h = Harness::quiet();
    let (c, connack) = accepted(&mut h, v5_persistent("sleepy", 10));
    // The server uses the client's interval: no Session Expiry Interval in CONNACK.
    assert_eq!(connack.properties.session_expiry_interval, None);
    h.subscribe(c, "t/#", QoS::AtLeastOnce);
    h.drop_connection(c);

    let info = h
        .broker
        .session_info("sleepy")
        .expect("kept after close [MQTT-3.1.2-23]");
    assert!(!info.connected);
    assert_eq!((info.expiry_interval, info.subscriptions), (10, 1));
    let p = h.connect("pub", V5);
    h.publish(p, "t/1", b"kept", QoS::AtLeastOnce, false, 1);
    assert_eq!(h.broker.session_info("sleepy").map(|s| s.queued), Some(1));

    // Resumed just before it expires: the session and its message are there.
    h.advance(ms(9_900));
    let (c, connack) = accepted(&mut h, v5_persistent("sleepy", 10));
    assert!(connack.session_present);
    assert_eq!(
        topics_and_payloads(&h.publishes(c)),
        [("t/1".to_owned(), b"kept".to_vec())]
    );

    // The interval starts again at the next close; at its end the session is gone
    // [MQTT-4.1.0-2].
    h.drop_connection(c);
    h.advance(ms(9_900));
    assert!(h.broker.session_info("sleepy").is_some());
    h.advance(ms(100));
    assert!(h.broker.session_info("sleepy").is_none());
    let (_, connack) = accepted(&mut h, v5_persistent("sleepy", 10));
    assert!(!connack.session_present);
    assert_eq!(
        h.broker.session_info("sleepy").map(|s| s.subscriptions),
        Some(0)
    );
}

#[test]
fn v5_session_expiry_zero_or_absent_ends_the_session_at_disconnect_mqtt_3_1_2_23() {
    let mut h = Harness::quiet();
    for expiry in [None, Some(0)] {
        let mut connect = connect_packet(V5, "brief");
        connect.clean_start = false;
        connect.properties.session_expiry_interval = expiry;
        let (c, _) = accepted(&mut h, connect);
        h.subscribe(c, "t", QoS::AtLeastOnce);
        h.send(c, disconnect(ReasonCode::Success));
        assert!(h.broker.session_info("brief").is_none(), "{expiry:?}");
    }
    // A network drop ends it too.
    let (c, _) = accepted(&mut h, connect_packet(V5, "brief"));
    h.drop_connection(c);
    assert!(h.broker.session_info("brief").is_none());
    assert_eq!(h.broker.session_count(), 0);
}

#[test]
fn v5_disconnect_session_expiry_replaces_a_non_zero_one_but_not_zero() {
    // v5 3.14.2.2.2: "If the Session Expiry Interval in the CONNECT packet was zero, then
    // it is a Protocol Error to set a non-zero Session Expiry Interval in the DISCONNECT".
    let mut h = Harness::quiet();
    let c = h.connect("fickle", V5);
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.session_expiry_interval = Some(30);
    h.send(c, Packet::Disconnect(d));
    assert_eq!(
        only_disconnect(&mut h, c).reason_code,
        ReasonCode::ProtocolError
    );
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ProtocolViolation(ReasonCode::ProtocolError))
    );
    assert!(h.broker.session_info("fickle").is_none());

    // Otherwise the DISCONNECT's value replaces the CONNECT's: 0 ends the session at
    // once, 5 makes it last 5 s.
    let (c, _) = accepted(&mut h, v5_persistent("done", 3600));
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.session_expiry_interval = Some(0);
    h.send(c, Packet::Disconnect(d));
    assert_eq!(h.closed(c), Some(CloseReason::ClientDisconnected));
    assert!(h.broker.session_info("done").is_none());

    let (c, _) = accepted(&mut h, v5_persistent("later", 3600));
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.session_expiry_interval = Some(5);
    h.send(c, Packet::Disconnect(d));
    assert_eq!(
        h.broker.session_info("later").map(|s| s.expiry_interval),
        Some(5)
    );
    h.advance(ms(4_900));
    assert!(h.broker.session_info("later").is_some());
    h.advance(ms(100));
    assert!(h.broker.session_info("later").is_none());
}

#[test]
fn v5_max_session_expiry_caps_the_interval_and_connack_reports_it() {
    // v5 3.2.2.3.2: the server's Session Expiry Interval in CONNACK, when it uses another.
    let mut h = Harness::quiet_with(|c| c.max_session_expiry = 60);
    let (c, connack) = accepted(&mut h, v5_persistent("greedy", 3600));
    assert_eq!(connack.properties.session_expiry_interval, Some(60));
    assert_eq!(
        h.broker.session_info("greedy").map(|s| s.expiry_interval),
        Some(60)
    );
    h.drop_connection(c);
    h.advance(ms(59_900));
    assert!(h.broker.session_info("greedy").is_some());
    h.advance(ms(100));
    assert!(h.broker.session_info("greedy").is_none());

    // Within the maximum: the client's value, and no property in CONNACK.
    let (_, connack) = accepted(&mut h, v5_persistent("modest", 30));
    assert_eq!(connack.properties.session_expiry_interval, None);
    assert_eq!(
        h.broker.session_info("modest").map(|s| s.expiry_interval),
        Some(30)
    );
}

// ---- Authentication and authorisation ----

#[test]
fn bad_user_name_or_password_is_refused_0x86_v5_4_v3_mqtt_3_1_4_2() {
    for (version, code, raw) in [
        (
            V3_1_1,
            ReasonCode::BadUserNameOrPassword,
            &[0x20, 0x02, 0x00, 0x04][..],
        ),
        (
            V5,
            ReasonCode::BadUserNameOrPassword,
            &[0x20, 0x03, 0x00, 0x86, 0x00][..],
        ),
    ] {
        let mut h = guarded();
        let (c, connack) = refused(&mut h, login(connect_packet(version, "x"), "user", b"no"));
        assert_eq!(connack.reason_code, code);
        assert_eq!(h.clients[c].raw, raw, "{version}");
        // No credentials at all: refused the same way.
        let (_, connack) = refused(&mut h, connect_packet(version, "y"));
        assert_eq!(connack.reason_code, code);
        assert_eq!(h.broker.session_count(), 0);
        assert_eq!(h.broker.stats().connects_refused, 2);
    }
}

#[test]
fn not_authorized_is_refused_0x87_v5_5_v3_mqtt_3_1_4_2() {
    for (version, raw) in [
        (V3_1_1, &[0x20, 0x02, 0x00, 0x05][..]),
        (V5, &[0x20, 0x03, 0x00, 0x87, 0x00][..]),
    ] {
        let mut h = guarded();
        let (c, connack) = refused(
            &mut h,
            login(connect_packet(version, "x"), "banned", b"secret"),
        );
        assert_eq!(connack.reason_code, ReasonCode::NotAuthorized);
        assert_eq!(h.clients[c].raw, raw, "{version}");
        assert_eq!(h.broker.session_count(), 0);
    }
}

#[test]
fn denied_subscription_gets_0x87_v5_0x80_v3_mqtt_3_9_3_2() {
    for version in [V3_1_1, V5] {
        let mut h = guarded();
        let (c, _) = accepted(
            &mut h,
            login(connect_packet(version, "s"), "user", b"secret"),
        );
        let qos1 = SubscriptionOptions::qos(QoS::AtLeastOnce);
        let codes = subscribe_all(&mut h, c, &[("public/#", qos1), ("private/#", qos1)], None);
        // One code per filter, in order (v3 [MQTT-3.8.4-5], [MQTT-3.9.3-1]); the refusal
        // is 0x87 Not authorized in v5, 0x80 Failure in 3.1.1 [MQTT-3.9.3-2].
        if version.is_v5() {
            assert_eq!(codes, [ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized]);
        } else {
            assert_eq!(
                codes,
                [ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError]
            );
            assert!(h.clients[c]
                .raw
                .ends_with(&[0x90, 0x04, 0x12, 0x34, 0x01, 0x80]));
        }
        assert_eq!(h.broker.session_info("s").map(|s| s.subscriptions), Some(1));
    }
}

#[test]
fn denied_v5_publish_is_answered_0x87_and_not_delivered() {
    // v5 3.4.2.1 / 3.5.2.1: PUBACK and PUBREC Reason Code 0x87 Not authorized
    // [MQTT-3.4.2-1].
    let mut h = guarded();
    let (w, _) = accepted(&mut h, login(connect_packet(V5, "w"), "user", b"secret"));
    assert_eq!(
        h.subscribe(w, "#", QoS::ExactlyOnce),
        [ReasonCode::GrantedQoS2]
    );
    let (c, _) = accepted(&mut h, login(connect_packet(V5, "p"), "user", b"secret"));
    h.publish(c, "private/x", b"no", QoS::AtLeastOnce, false, 7);
    h.publish(c, "private/y", b"no", QoS::ExactlyOnce, false, 8);
    h.publish(c, "public/z", b"yes", QoS::AtLeastOnce, false, 9);
    match h.drain(c).as_slice() {
        [Packet::PubAck(a), Packet::PubRec(b), Packet::PubAck(d)] => {
            assert_eq!(
                (a.packet_id, a.reason_code),
                (pid(7), ReasonCode::NotAuthorized)
            );
            assert_eq!(
                (b.packet_id, b.reason_code),
                (pid(8), ReasonCode::NotAuthorized)
            );
            assert_eq!((d.packet_id, d.reason_code), (pid(9), ReasonCode::Success));
        }
        other => panic!("got {other:?}"),
    }
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("public/z".to_owned(), b"yes".to_vec())]
    );
}

#[test]
fn denied_v3_qos1_publish_is_acknowledged_and_dropped_mqtt_3_3_5_2() {
    let mut h = guarded();
    let (w, _) = accepted(
        &mut h,
        login(connect_packet(V3_1_1, "w"), "user", b"secret"),
    );
    assert_eq!(
        h.subscribe(w, "#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    let (c, _) = accepted(
        &mut h,
        login(connect_packet(V3_1_1, "p"), "user", b"secret"),
    );
    h.publish(c, "private/x", b"no", QoS::AtLeastOnce, false, 7);
    // A positive acknowledgement, per the normal QoS rules [MQTT-3.3.5-2].
    assert_eq!(h.drain(c), [puback(7)]);
    assert!(!h.is_gone(c));
    assert!(h.publishes(w).is_empty());
    assert_eq!(h.broker.stats().publish_dropped, 1);
}

// ---- Keep alive ----

#[test]
fn keep_alive_closes_after_one_and_a_half_times_v3_mqtt_3_1_2_24_v5_0x8d_mqtt_3_1_2_22() {
    for (version, keep_alive) in [(V3_1_1, 10), (V5, 4)] {
        let mut h = Harness::quiet();
        let mut connect = connect_packet(version, "idle");
        connect.keep_alive = keep_alive;
        let (c, _) = accepted(&mut h, connect);
        let limit = u64::from(keep_alive) * 1500;
        h.advance(ms(limit * 149 / 150)); // 1.49 x
        assert!(!h.is_gone(c), "{version}: closed before 1.5 x keep alive");
        assert!(h.drain(c).is_empty());
        h.advance(ms(limit / 150)); // 1.5 x
        assert!(h.is_gone(c), "{version}: open at 1.5 x keep alive");
        assert_eq!(h.closed(c), Some(CloseReason::KeepAliveTimeout));
        if version.is_v5() {
            assert_eq!(
                only_disconnect(&mut h, c).reason_code,
                ReasonCode::KeepAliveTimeout
            );
        } else {
            assert!(
                h.drain(c).is_empty(),
                "3.1.1 has no DISCONNECT from the server"
            );
        }
    }
}

#[test]
fn pingreq_gets_pingresp_and_resets_keep_alive_mqtt_3_12_4_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let mut connect = connect_packet(version, "alive");
        connect.keep_alive = 10;
        let (c, _) = accepted(&mut h, connect);
        for _ in 0..5 {
            h.advance(secs(10));
            h.send(c, Packet::PingReq);
            assert_eq!(h.drain(c), [Packet::PingResp], "{version}");
        }
        // 50 s in, the last packet at 50 s: open until 65 s.
        h.advance(ms(14_900));
        assert!(
            !h.is_gone(c),
            "{version}: PINGREQ did not reset the keep alive"
        );
        h.advance(ms(100));
        assert!(h.is_gone(c), "{version}");
        assert_eq!(h.closed(c), Some(CloseReason::KeepAliveTimeout));
    }
}

#[test]
fn any_packet_resets_keep_alive_mqtt_3_1_2_24() {
    let mut h = Harness::quiet();
    let mut connect = connect_packet(V3_1_1, "busy");
    connect.keep_alive = 2;
    let (c, _) = accepted(&mut h, connect);
    for i in 0..10 {
        h.advance(ms(2_900));
        h.publish(c, "busy/t", b"tick", QoS::AtMostOnce, false, 0);
        assert!(!h.is_gone(c), "closed after {i} publishes");
    }
    h.advance(ms(2_999));
    assert!(!h.is_gone(c));
    h.advance(ms(1));
    assert!(h.is_gone(c));
}

#[test]
fn keep_alive_zero_never_times_out() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let c = h.connect("forever", version); // keep alive 0
        h.advance(secs(7 * 24 * 3600));
        assert!(!h.is_gone(c), "{version}");
        assert!(h.drain(c).is_empty());
    }
}

#[test]
fn v5_server_keep_alive_replaces_a_longer_or_absent_client_keep_alive_mqtt_3_2_2_21() {
    // Client keep alive 600 s, and 0 (none): both are told 30 s, and held to it.
    for asked in [600, 0] {
        let mut h = Harness::quiet_with(|c| c.max_keep_alive = Some(30));
        let mut connect = connect_packet(V5, "lazy");
        connect.keep_alive = asked;
        let (c, connack) = accepted(&mut h, connect);
        assert_eq!(
            connack.properties.server_keep_alive,
            Some(30),
            "asked {asked}"
        );
        h.advance(ms(44_900));
        assert!(!h.is_gone(c), "asked {asked}");
        h.advance(ms(100));
        assert_eq!(
            only_disconnect(&mut h, c).reason_code,
            ReasonCode::KeepAliveTimeout
        );
        assert_eq!(h.closed(c), Some(CloseReason::KeepAliveTimeout));
    }
}

#[test]
fn without_server_keep_alive_the_client_value_is_used_mqtt_3_2_2_22() {
    let mut h = Harness::quiet_with(|c| c.max_keep_alive = Some(30));
    // v5, within the maximum: no Server Keep Alive, the client's 20 s is used.
    let mut connect = connect_packet(V5, "short");
    connect.keep_alive = 20;
    let (c, connack) = accepted(&mut h, connect);
    assert_eq!(connack.properties.server_keep_alive, None);
    // 3.1.1 cannot be told another value: its 60 s is used (v3 [MQTT-3.1.2-24]).
    let mut connect = connect_packet(V3_1_1, "old");
    connect.keep_alive = 60;
    let (old, _) = accepted(&mut h, connect);
    h.advance(ms(29_900));
    assert!(!h.is_gone(c));
    h.advance(ms(100));
    assert!(h.is_gone(c));
    h.advance(ms(59_900)); // 89.9 s
    assert!(
        !h.is_gone(old),
        "3.1.1 client closed before 1.5 x its own keep alive"
    );
    h.advance(ms(100));
    assert!(h.is_gone(old));
}

#[test]
fn connection_without_connect_is_closed_after_connect_timeout() {
    // v5 3.1.4 / v3 3.1.4: a server that gets no CONNECT in reasonable time SHOULD close.
    let mut h = Harness::quiet_with(|c| c.connect_timeout = secs(5));
    let silent = h.open(V3_1_1);
    let partial = h.open(V5);
    // Half a CONNECT: still not a CONNECT.
    let bytes = encode(V5, &Packet::Connect(Box::new(connect_packet(V5, "slow"))));
    h.send_bytes(partial, &bytes[..bytes.len() / 2]);
    h.advance(ms(4_900));
    assert!(!h.is_gone(silent) && !h.is_gone(partial));
    h.advance(ms(100));
    for c in [silent, partial] {
        assert_eq!(h.closed(c), Some(CloseReason::ConnectTimeout));
        assert!(h.clients[c].raw.is_empty());
    }
    assert_eq!(h.broker.connection_count(), 0);
}

// ---- Wills ----

#[test]
fn will_is_published_when_the_network_drops_mqtt_3_1_2_8() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let w = watcher(&mut h, "w", "will/#");
        let c = with_will_to_its_topic(&mut h, version, "dying", b"gone", QoS::AtLeastOnce, false);
        assert!(
            h.publishes(w).is_empty(),
            "{version}: will before the close"
        );
        h.drop_connection(c);
        let got = h.publishes(w);
        assert_eq!(
            topics_and_payloads(&got),
            [("will/dying".to_owned(), b"gone".to_vec())],
            "{version}"
        );
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
        assert!(!got[0].retain, "{version}: will retain 0 [MQTT-3.1.2-16]");
        assert_eq!(h.broker.stats().wills_published, 1);
    }
}

#[test]
fn will_is_published_on_keep_alive_timeout_mqtt_3_1_2_8() {
    let mut h = Harness::quiet();
    let w = watcher(&mut h, "w", "will/#");
    let mut connect = with_will(
        connect_packet(V3_1_1, "silent"),
        will("will/silent", b"timed out", QoS::AtMostOnce, false),
    );
    connect.keep_alive = 2;
    accepted(&mut h, connect);
    h.advance(ms(2_900));
    assert!(h.publishes(w).is_empty());
    h.advance(ms(100));
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("will/silent".to_owned(), b"timed out".to_vec())]
    );
}

#[test]
fn will_is_published_on_a_protocol_error_mqtt_3_1_2_8() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let w = watcher(&mut h, "w", "will/#");
        let c = with_will_to_its_topic(
            &mut h,
            version,
            "rude",
            b"broke the rules",
            QoS::AtMostOnce,
            false,
        );
        h.send(
            c,
            Packet::Connect(Box::new(connect_packet(version, "rude"))),
        );
        assert!(h.is_gone(c));
        assert_eq!(
            topics_and_payloads(&h.publishes(w)),
            [("will/rude".to_owned(), b"broke the rules".to_vec())],
            "{version}"
        );
    }
}

#[test]
fn will_is_discarded_on_normal_disconnect_mqtt_3_14_4_3() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let w = watcher(&mut h, "w", "will/#");
        let c = with_will_to_its_topic(&mut h, version, "polite", b"never", QoS::AtLeastOnce, true);
        h.send(c, disconnect(ReasonCode::Success));
        assert_eq!(h.closed(c), Some(CloseReason::ClientDisconnected));
        h.advance(secs(60));
        assert!(h.publishes(w).is_empty(), "{version}");
        assert_eq!(h.broker.stats().retained_messages, 0);
        assert_eq!(h.broker.stats().wills_published, 0);
    }
}

#[test]
fn v5_disconnect_with_will_message_0x04_publishes_the_will() {
    // v5 3.14.2.1: 0x04 "Disconnect with Will Message"; [MQTT-3.14.4-3] discards only on 0x00.
    let mut h = Harness::quiet();
    let w = watcher(&mut h, "w", "will/#");
    let c = with_will_to_its_topic(
        &mut h,
        V5,
        "leaving",
        b"on purpose",
        QoS::AtLeastOnce,
        false,
    );
    h.send(c, disconnect(ReasonCode::DisconnectWithWillMessage));
    assert!(h.is_gone(c));
    assert!(
        h.drain(c).is_empty(),
        "no DISCONNECT back to a client that sent one"
    );
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("will/leaving".to_owned(), b"on purpose".to_vec())]
    );
}

#[test]
fn will_retain_is_stored_as_retained_v3_mqtt_3_1_2_17_v5_mqtt_3_1_2_15() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let kept = with_will(
            connect_packet(version, "kept"),
            will("status/kept", b"offline", QoS::AtLeastOnce, true),
        );
        let passing = with_will(
            connect_packet(version, "passing"),
            will("status/passing", b"offline", QoS::AtLeastOnce, false),
        );
        let (a, _) = accepted(&mut h, kept);
        let (b, _) = accepted(&mut h, passing);
        h.drop_connection(a);
        h.drop_connection(b);
        // Only the will with retain 1 is retained (v3 [MQTT-3.1.2-16], v5 [MQTT-3.1.2-14]).
        let late = h.connect("late", version);
        assert_eq!(
            h.subscribe(late, "status/+", QoS::AtLeastOnce),
            [ReasonCode::GrantedQoS1]
        );
        let got = h.publishes(late);
        assert_eq!(
            topics_and_payloads(&got),
            [("status/kept".to_owned(), b"offline".to_vec())],
            "{version}"
        );
        assert!(
            got[0].retain,
            "{version}: sent for a new subscription with RETAIN 1"
        );
    }
}

#[test]
fn will_qos_and_v5_properties_reach_subscribers_mqtt_3_1_3_10() {
    let mut h = Harness::quiet();
    let high = watcher(&mut h, "high", "will/#");
    let low = h.connect("low", V5);
    h.subscribe(low, "will/#", QoS::AtMostOnce);
    let old = h.connect("old", V3_1_1);
    h.subscribe(old, "will/#", QoS::ExactlyOnce);

    let mut last = will("will/rich", b"{\"online\":false}", QoS::AtLeastOnce, false);
    last.properties.content_type = Some(string("application/json"));
    last.properties.payload_format_indicator = Some(true);
    last.properties.response_topic = Some(string("reply/rich"));
    last.properties.correlation_data = Some(Bytes::from_static(b"corr-1"));
    last.properties.user_properties = vec![
        user_property("b", "2"),
        user_property("a", "1"),
        user_property("b", "3"),
    ];
    let (c, _) = accepted(&mut h, with_will(connect_packet(V5, "rich"), last));
    h.drop_connection(c);

    let got = h.publishes(high);
    assert_eq!(got.len(), 1);
    let p = &got[0];
    assert_eq!(p.qos, QoS::AtLeastOnce, "min(will QoS 1, granted 2)");
    assert!(p.packet_id.is_some());
    assert_eq!(&p.payload[..], b"{\"online\":false}");
    assert_eq!(
        p.properties.content_type.as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(p.properties.payload_format_indicator, Some(true));
    assert_eq!(
        p.properties.response_topic.as_ref().map(|s| s.as_str()),
        Some("reply/rich")
    );
    assert_eq!(
        p.properties.correlation_data.as_deref(),
        Some(&b"corr-1"[..])
    );
    // The order of user properties is kept v5 [MQTT-3.1.3-10].
    assert_eq!(
        p.properties.user_properties,
        [
            user_property("b", "2"),
            user_property("a", "1"),
            user_property("b", "3")
        ]
    );

    let got = h.publishes(low);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].qos, got[0].packet_id), (QoS::AtMostOnce, None));
    let got = h.publishes(old);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert_eq!(&got[0].payload[..], b"{\"online\":false}");
}

#[test]
fn v5_will_delay_interval_delays_the_will_mqtt_3_1_2_8() {
    let mut h = Harness::quiet();
    let w = watcher(&mut h, "w", "will/#");
    let last = delayed_will("will/late", b"gone for good", 5);
    let (c, _) = accepted(&mut h, with_will(v5_persistent("late", 100), last));
    h.drop_connection(c);
    h.advance(ms(4_900));
    assert!(h.publishes(w).is_empty(), "will sent before its delay");
    h.advance(ms(100));
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("will/late".to_owned(), b"gone for good".to_vec())]
    );
    // Published once; the session itself lives on.
    h.advance(secs(50));
    assert!(h.publishes(w).is_empty());
    assert!(h.broker.session_info("late").is_some());
}

#[test]
fn v5_reconnecting_before_the_will_delay_cancels_the_will_mqtt_3_1_3_9() {
    let mut h = Harness::quiet();
    let w = watcher(&mut h, "w", "will/#");
    let last = delayed_will("will/flaky", b"gone", 5);
    let (c, _) = accepted(&mut h, with_will(v5_persistent("flaky", 100), last));
    h.drop_connection(c);
    h.advance(secs(3));
    let (c, connack) = accepted(&mut h, v5_persistent("flaky", 100));
    assert!(connack.session_present);
    h.advance(secs(30));
    assert!(h.publishes(w).is_empty(), "will sent despite the reconnect");

    // The same when the new connection takes the session over from a live one.
    h.send(c, disconnect(ReasonCode::Success));
    let last = delayed_will("will/flaky", b"gone", 5);
    let (old, _) = accepted(&mut h, with_will(v5_persistent("flaky", 100), last));
    let (_, connack) = accepted(&mut h, v5_persistent("flaky", 100));
    assert!(connack.session_present);
    assert_eq!(
        only_disconnect(&mut h, old).reason_code,
        ReasonCode::SessionTakenOver
    );
    h.advance(secs(30));
    assert!(h.publishes(w).is_empty(), "will sent despite the takeover");
}

#[test]
fn v5_reconnecting_with_clean_start_before_the_will_delay_publishes_the_will_mqtt_3_1_2_8() {
    // Clean Start 1 ends the old session, and the will goes when the session ends.
    let mut h = Harness::quiet();
    let w = watcher(&mut h, "w", "will/#");
    let last = delayed_will("will/fresh", b"old session over", 60);
    let (c, _) = accepted(&mut h, with_will(v5_persistent("fresh", 100), last));
    h.drop_connection(c);
    h.advance(secs(3));
    assert!(h.publishes(w).is_empty());
    let mut connect = v5_persistent("fresh", 100);
    connect.clean_start = true;
    let (_, connack) = accepted(&mut h, connect);
    assert!(!connack.session_present);
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("will/fresh".to_owned(), b"old session over".to_vec())]
    );
    h.advance(secs(120));
    assert!(h.publishes(w).is_empty(), "will sent twice");
}

#[test]
fn v5_session_ending_before_the_will_delay_publishes_the_will_mqtt_3_1_2_8() {
    let mut h = Harness::quiet();
    let w = watcher(&mut h, "w", "will/#");
    // Session Expiry 2 s, Will Delay 10 s: the will goes at 2 s, with the session.
    let last = delayed_will("will/short", b"session over", 10);
    let (c, _) = accepted(&mut h, with_will(v5_persistent("short", 2), last.clone()));
    h.drop_connection(c);
    h.advance(ms(1_900));
    assert!(h.publishes(w).is_empty());
    h.advance(ms(100));
    assert_eq!(h.publishes(w).len(), 1);
    assert!(h.broker.session_info("short").is_none());
    h.advance(secs(20));
    assert!(h.publishes(w).is_empty(), "will sent twice");

    // Session Expiry 0: the session ends at the close, and the will goes at once.
    let mut connect = with_will(connect_packet(V5, "none"), last);
    connect.will.as_mut().unwrap().topic = string("will/none");
    let (c, _) = accepted(&mut h, connect);
    h.drop_connection(c);
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("will/none".to_owned(), b"session over".to_vec())]
    );
}

#[test]
fn v5_will_message_expiry_counts_from_publication_mqtt_3_3_2_6() {
    // A will is an application message: its Message Expiry Interval applies once it is
    // published (CONFORMANCE 23 and 33; v5 3.1.3.2.4).
    let mut h = Harness::quiet();
    let mut last = will("status/expiring", b"offline", QoS::AtLeastOnce, true);
    last.properties.will_delay_interval = Some(10);
    last.properties.message_expiry_interval = Some(30);
    let (c, _) = accepted(&mut h, with_will(v5_persistent("expiring", 100), last));
    h.drop_connection(c);
    h.advance(secs(10)); // published now, retained
    h.advance(secs(20));
    let early = h.connect("early", V5);
    h.subscribe(early, "status/#", QoS::AtLeastOnce);
    let got = h.publishes(early);
    assert_eq!(got.len(), 1, "retained will expired too soon");
    // The interval left: 30 s minus the 20 s it waited [MQTT-3.3.2-6].
    assert_eq!(got[0].properties.message_expiry_interval, Some(10));
    h.advance(secs(10));
    let late = h.connect("late", V5);
    h.subscribe(late, "status/#", QoS::AtLeastOnce);
    assert!(h.publishes(late).is_empty(), "expired will still retained");
}

/// Under the config `edit` makes, a v5 client without a will is accepted and its CONNACK
/// announces the limit (`announced`); client `id` with `last` as its will is refused with
/// `code`, and no session is made for it.
fn will_beyond_the_servers_limits_is_refused(
    edit: impl FnOnce(&mut Config),
    announced: impl FnOnce(&ConnAck),
    id: &str,
    last: Will,
    code: ReasonCode,
) {
    let mut h = Harness::quiet_with(edit);
    let (_, connack) = accepted(&mut h, connect_packet(V5, "fine"));
    announced(&connack);
    let (_, connack) = refused(&mut h, with_will(connect_packet(V5, id), last));
    assert_eq!(connack.reason_code, code);
    assert!(h.broker.session_info(id).is_none());
}

#[test]
fn v5_will_qos_above_maximum_qos_is_refused_0x9b_mqtt_3_2_2_12() {
    // Maximum QoS 1: a will at QoS 2 is refused, 0x9B QoS not supported [MQTT-3.2.2-12].
    will_beyond_the_servers_limits_is_refused(
        |config| config.maximum_qos = QoS::AtLeastOnce,
        // [MQTT-3.2.2-9]
        |connack| assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce)),
        "greedy",
        will("will/greedy", b"x", QoS::ExactlyOnce, false),
        ReasonCode::QoSNotSupported,
    );
}

#[test]
fn v5_will_retain_without_retain_available_is_refused_0x9a_mqtt_3_2_2_13() {
    // No retained messages: a will with retain 1 is refused, 0x9A Retain not supported
    // [MQTT-3.2.2-13].
    will_beyond_the_servers_limits_is_refused(
        |config| config.retain_available = false,
        |connack| assert_eq!(connack.properties.retain_available, Some(false)),
        "keeper",
        will("will/keeper", b"x", QoS::AtMostOnce, true),
        ReasonCode::RetainNotSupported,
    );
}

#[test]
fn will_to_a_topic_the_authenticator_denies_is_not_published() {
    // A will is published like any message of its client: authorisation applies
    // (CONFORMANCE 23, "Wills obey ACLs").
    let mut h = guarded();
    let (w, _) = accepted(&mut h, login(connect_packet(V5, "w"), "user", b"secret"));
    assert_eq!(
        h.subscribe(w, "#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    for (id, topic) in [("sneaky", "private/status"), ("open", "public/status")] {
        let connect = with_will(
            login(connect_packet(V3_1_1, id), "user", b"secret"),
            will(topic, b"offline", QoS::AtLeastOnce, true),
        );
        let (c, _) = accepted(&mut h, connect);
        h.drop_connection(c);
    }
    assert_eq!(
        topics_and_payloads(&h.publishes(w)),
        [("public/status".to_owned(), b"offline".to_vec())]
    );
    assert_eq!(h.broker.stats().retained_messages, 1);
}

#[test]
fn takeover_publishes_the_old_connections_will_mqtt_3_1_4_3() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let w = watcher(&mut h, "w", "will/#");
        let old = with_will_to_its_topic(
            &mut h,
            version,
            "twin",
            b"replaced",
            QoS::AtLeastOnce,
            false,
        );
        let new = h.connect("twin", version);
        assert_eq!(h.closed(old), Some(CloseReason::SessionTakenOver));
        assert_eq!(
            topics_and_payloads(&h.publishes(w)),
            [("will/twin".to_owned(), b"replaced".to_vec())],
            "{version}"
        );
        // The new connection has no will of its own.
        h.drop_connection(new);
        assert!(h.publishes(w).is_empty(), "{version}");
    }
}

// ---- Shutdown and timers ----

#[test]
fn shutdown_sends_v5_disconnect_0x8b_and_publishes_wills() {
    let mut h = Harness::quiet();
    // A persistent watcher keeps the will even though it is closed too.
    let (w, _) = accepted(&mut h, v5_persistent("w", u32::MAX));
    assert_eq!(
        h.subscribe(w, "will/#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    let (v5, _) = accepted(
        &mut h,
        with_will(
            connect_packet(V5, "five"),
            will("will/five", b"server went away", QoS::AtLeastOnce, true),
        ),
    );
    let v3 = h.connect("three", V3_1_1);
    let pending = h.open(V5);

    h.broker.shutdown(h.now);
    h.process();

    for c in [w, v5] {
        assert_eq!(
            only_disconnect(&mut h, c).reason_code,
            ReasonCode::ServerShuttingDown
        );
        assert_eq!(h.closed(c), Some(CloseReason::ServerShuttingDown));
    }
    assert!(h.drain(v3).is_empty());
    assert_eq!(h.closed(v3), Some(CloseReason::ServerShuttingDown));
    // Not through CONNECT: nothing may be sent before a CONNACK v5 [MQTT-3.14.0-1].
    assert!(h.clients[pending].raw.is_empty());
    assert!(h.is_gone(pending));
    assert_eq!(h.broker.connection_count(), 0);

    // The will went out: retained, and queued for the offline persistent watcher.
    assert_eq!(h.broker.stats().wills_published, 1);
    assert_eq!(h.broker.stats().retained_messages, 1);
    let info = h.broker.session_info("w").expect("persistent session kept");
    assert_eq!(info.queued + info.inflight, 1);
}

#[test]
fn poll_timeout_moves_past_now_after_handle_timeout() {
    let mut h = Harness::with_sys(secs(1));
    // Many deadlines at the same instants: keep alives, a will delay, a session expiry.
    for i in 0..5 {
        let mut connect = connect_packet(V5, &format!("k{i}"));
        connect.keep_alive = 2;
        accepted(&mut h, connect);
    }
    let mut last = will("will/x", b"x", QoS::AtMostOnce, false);
    last.properties.will_delay_interval = Some(3);
    let (c, _) = accepted(&mut h, with_will(v5_persistent("x", 3), last));
    h.drop_connection(c);

    // Calling it before any deadline is harmless.
    h.broker.handle_timeout(h.now);
    h.process();
    assert_eq!(h.broker.connection_count(), 5);

    // `advance` steps from deadline to deadline, asserting after each `handle_timeout`
    // that `poll_timeout` moved past now.
    let steps = h.advance(secs(10));
    assert!(steps < 1_000, "timers do not advance");
    assert_eq!(h.broker.connection_count(), 0);
    assert!(h.broker.session_info("x").is_none());
    assert_eq!(h.broker.stats().wills_published, 1);
}
