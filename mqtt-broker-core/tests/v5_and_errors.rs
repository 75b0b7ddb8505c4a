//! MQTT 5 features ($SYS included) and bad input: topic aliases, message expiry, maximum
//! packet size, property forwarding, the DISCONNECTs the server sends, the `$SYS` topics,
//! and what malformed or illegal input does to one connection and to everyone else.
//!
//! Ids are from MQTT 5.0 unless marked "v3" (MQTT 3.1.1).

mod harness;

use std::collections::HashMap;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use harness::*;
use mqtt_broker_core::CloseReason;
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet,
    ProtocolVersion::{V3_1_1, V5},
    Publish, QoS, ReasonCode,
};
use proptest::prelude::*;

// ---- Helpers --------------------------------------------------------------------------

/// A PUBLISH with a Topic Alias (and the given topic, possibly empty).
fn aliased(topic: &str, alias: u16, payload: &[u8]) -> Publish {
    let mut p = Publish::new(
        MqttString::try_from(topic).expect("topic"),
        Bytes::copy_from_slice(payload),
    );
    p.properties.topic_alias = NonZeroU16::new(alias);
    p
}

fn with_expiry(mut p: Publish, secs: u32) -> Publish {
    p.properties.message_expiry_interval = Some(secs);
    p
}

/// The client was closed by the server, and the last thing it received was a DISCONNECT
/// with `code`, without a Session Expiry Interval [MQTT-3.14.2-2].
fn expect_server_disconnect(h: &mut Harness, c: ClientId, code: ReasonCode) {
    assert!(h.is_gone(c), "the connection must be closed");
    assert!(
        h.clients[c].decode_error.is_none(),
        "the broker sent an undecodable packet: {:?}",
        h.clients[c].decode_error
    );
    let packets = h.drain(c);
    match packets.last() {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, code, "DISCONNECT reason code");
            // The Session Expiry Interval MUST NOT be sent on a DISCONNECT by the Server
            // [MQTT-3.14.2-2].
            assert_eq!(d.properties.session_expiry_interval, None);
        }
        other => panic!("expected DISCONNECT {code:?} last, got {other:?} (all: {packets:?})"),
    }
    let disconnects = packets
        .iter()
        .filter(|p| matches!(p, Packet::Disconnect(_)))
        .count();
    assert_eq!(disconnects, 1, "exactly one DISCONNECT");
}

/// A 3.1.1 client is closed without any packet: 3.1.1 has no server DISCONNECT.
fn expect_silent_close(h: &mut Harness, c: ClientId) {
    assert!(h.is_gone(c), "the connection must be closed");
    let packets = h.drain(c);
    assert!(
        packets.is_empty(),
        "3.1.1: nothing before the close, got {packets:?}"
    );
}

/// Two healthy clients: a v5 subscriber on `health/#` (QoS 1) and a 3.1.1 publisher.
fn healthy_pair(h: &mut Harness) -> (ClientId, ClientId) {
    let sub = h.connect("healthy-sub", V5);
    assert_eq!(
        h.subscribe(sub, "health/#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    let publisher = h.connect("healthy-pub", V3_1_1);
    (sub, publisher)
}

/// The healthy pair still works: a QoS 1 message goes through and is acknowledged.
fn assert_healthy(h: &mut Harness, sub: ClientId, publisher: ClientId, payload: &[u8]) {
    assert!(
        !h.is_gone(sub) && !h.is_gone(publisher),
        "healthy clients stay"
    );
    h.drain(sub);
    h.drain(publisher);
    h.publish(
        publisher,
        "health/check",
        payload,
        QoS::AtLeastOnce,
        false,
        77,
    );
    let acks = h.drain(publisher);
    assert!(
        matches!(acks.as_slice(), [Packet::PubAck(a)] if a.packet_id.get() == 77),
        "PUBACK for the healthy publisher, got {acks:?}"
    );
    let got = h.publishes(sub);
    assert!(
        got.iter()
            .any(|p| &*p.topic == "health/check" && &p.payload[..] == payload),
        "the healthy subscriber receives the message, got {got:?}"
    );
    for p in &got {
        h.ack(sub, p);
    }
    assert!(h.clients[sub].decode_error.is_none());
    assert!(h.clients[publisher].decode_error.is_none());
}

// ---- Topic aliases (inbound) ------------------------------------------------------------

#[test]
fn topic_alias_set_then_used_delivers_full_topic_mqtt_3_3_2_12() {
    let mut h = Harness::quiet();
    let (sub5, _) = connect_v5(&mut h, "sub5", |_| {});
    h.subscribe(sub5, "home/#", QoS::AtMostOnce);
    let sub3 = h.connect("sub3", V3_1_1);
    h.subscribe(sub3, "home/#", QoS::AtMostOnce);
    let (publisher, connack) = connect_v5(&mut h, "pub", |_| {});
    // The broker offers its Topic Alias Maximum in CONNACK (v5 3.2.2.3.8).
    assert_eq!(connack.properties.topic_alias_maximum, Some(10));

    // Sets alias 1, uses it, re-maps it, uses it again (v5 3.3.2.3.4).
    h.send(
        publisher,
        Packet::Publish(aliased("home/kitchen/temp", 1, b"a")),
    );
    h.send(publisher, Packet::Publish(aliased("", 1, b"b")));
    h.send(
        publisher,
        Packet::Publish(aliased("home/hall/temp", 1, b"c")),
    );
    h.send(publisher, Packet::Publish(aliased("", 1, b"d")));
    // The highest alias the broker announced is accepted [MQTT-3.3.2-12].
    h.send(publisher, Packet::Publish(aliased("home/attic", 10, b"e")));
    h.send(publisher, Packet::Publish(aliased("", 10, b"f")));
    assert!(!h.is_gone(publisher));

    let expected = [
        ("home/kitchen/temp", &b"a"[..]),
        ("home/kitchen/temp", b"b"),
        ("home/hall/temp", b"c"),
        ("home/hall/temp", b"d"),
        ("home/attic", b"e"),
        ("home/attic", b"f"),
    ];
    for sub in [sub5, sub3] {
        let got = h.publishes(sub);
        let seen: Vec<(&str, &[u8])> = got.iter().map(|p| (&*p.topic, &p.payload[..])).collect();
        assert_eq!(seen, expected, "client {sub}");
        for p in &got {
            // Aliases are per connection and never forwarded; the subscriber announced no
            // Topic Alias Maximum, so it gets none [MQTT-3.1.2-27].
            assert_eq!(p.properties.topic_alias, None);
        }
    }
}

#[test]
fn topic_alias_zero_is_disconnected_with_0x94_mqtt_3_3_2_8() {
    let mut h = Harness::quiet();
    let (sub, publisher) = healthy_pair(&mut h);
    let (bad, _) = connect_v5(&mut h, "alias0", |_| {});
    // PUBLISH QoS 0, topic "a", properties: Topic Alias (0x23) = 0, payload "x".
    h.send_bytes(
        bad,
        &[0x30, 0x08, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x00, b'x'],
    );
    // A sender MUST NOT send Topic Alias 0 [MQTT-3.3.2-8]; v5 3.3.4: "A Topic Alias value
    // of 0 or greater than the Maximum Topic Alias is a Protocol Error, the receiver uses
    // DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)".
    expect_server_disconnect(&mut h, bad, ReasonCode::TopicAliasInvalid);
    assert_healthy(&mut h, sub, publisher, b"after alias 0");
}

#[test]
fn topic_alias_above_maximum_is_disconnected_with_0x94_mqtt_3_3_2_9() {
    let mut h = Harness::quiet();
    let (sub, publisher) = healthy_pair(&mut h);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let (bad, connack) = connect_v5(&mut h, "alias11", |_| {});
    let max = connack
        .properties
        .topic_alias_maximum
        .expect("alias maximum");
    assert_eq!(max, h.broker.config().topic_alias_maximum);
    // A Client MUST NOT send a Topic Alias greater than the maximum [MQTT-3.3.2-9]; the
    // server answers DISCONNECT 0x94 (v5 3.3.4).
    h.send(bad, Packet::Publish(aliased("t", max + 1, b"x")));
    expect_server_disconnect(&mut h, bad, ReasonCode::TopicAliasInvalid);
    assert_eq!(
        h.closed(bad),
        Some(CloseReason::ProtocolViolation(
            ReasonCode::TopicAliasInvalid
        ))
    );
    assert!(
        h.publishes(sub).is_empty(),
        "the refused message is not forwarded"
    );
    assert_healthy(&mut h, sub, publisher, b"after alias 11");
}

#[test]
fn topic_alias_with_maximum_zero_is_refused_mqtt_3_2_2_18() {
    let mut h = Harness::quiet_with(|c| c.topic_alias_maximum = 0);
    let (c, connack) = connect_v5(&mut h, "noalias", |_| {});
    // Absent Topic Alias Maximum means 0: the client must send no alias [MQTT-3.2.2-18].
    assert_eq!(connack.properties.topic_alias_maximum, None);
    h.send(c, Packet::Publish(aliased("t", 1, b"x")));
    expect_server_disconnect(&mut h, c, ReasonCode::TopicAliasInvalid);
}

#[test]
fn empty_topic_with_unknown_alias_is_protocol_error_v5_3_3_4() {
    let mut h = Harness::quiet();
    let (sub, publisher) = healthy_pair(&mut h);
    let (bad, _) = connect_v5(&mut h, "unknown-alias", |_| {});
    h.send(bad, Packet::Publish(aliased("t", 1, b"set")));
    // Alias 2 was never set: v5 3.3.4 "If the receiver does not already have a mapping for
    // this Topic Alias ... a zero length Topic Name ... is a Protocol Error ... 0x82".
    h.send(bad, Packet::Publish(aliased("", 2, b"x")));
    expect_server_disconnect(&mut h, bad, ReasonCode::ProtocolError);
    assert_healthy(&mut h, sub, publisher, b"after unknown alias");
}

#[test]
fn topic_aliases_do_not_survive_reconnect_mqtt_3_3_2_7() {
    let mut h = Harness::quiet();
    let watcher = h.connect("watcher", V5);
    h.subscribe(watcher, "long/topic/name", QoS::AtLeastOnce);
    let (first, _) = h.connect_persistent("aliaser", V5);
    h.send(
        first,
        Packet::Publish(aliased("long/topic/name", 3, b"one")),
    );
    h.send(first, Packet::Publish(aliased("", 3, b"two")));
    assert_eq!(h.publishes(watcher).len(), 2);
    h.send(first, Packet::Disconnect(Default::default()));
    assert!(h.is_gone(first));

    // Same session, new network connection: the mapping is gone [MQTT-3.3.2-7], so an
    // empty topic with alias 3 is an unknown alias (v5 3.3.4: Protocol Error).
    let (second, session_present) = h.connect_persistent("aliaser", V5);
    assert!(session_present);
    h.send(second, Packet::Publish(aliased("", 3, b"three")));
    expect_server_disconnect(&mut h, second, ReasonCode::ProtocolError);
    assert!(h.publishes(watcher).is_empty());

    // A takeover is a new network connection too.
    let (third, _) = h.connect_persistent("aliaser", V5);
    h.send(
        third,
        Packet::Publish(aliased("long/topic/name", 3, b"four")),
    );
    let (fourth, _) = h.connect_persistent("aliaser", V5);
    expect_server_disconnect(&mut h, third, ReasonCode::SessionTakenOver);
    h.send(fourth, Packet::Publish(aliased("", 3, b"five")));
    expect_server_disconnect(&mut h, fourth, ReasonCode::ProtocolError);
    let got = h.publishes(watcher);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"four");
}

// ---- Message expiry -----------------------------------------------------------------------

#[test]
fn queued_message_carries_decremented_expiry_mqtt_3_3_2_6() {
    let mut h = Harness::quiet();
    h.offline_subscriber("sub", V5, "exp/#", QoS::AtLeastOnce);
    let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
    let p = with_expiry(publish("exp/a", b"kept", QoS::AtLeastOnce, false, 1), 10);
    h.send(publisher, Packet::Publish(p));
    let p = publish("exp/b", b"forever", QoS::AtLeastOnce, false, 2);
    h.send(publisher, Packet::Publish(p));

    h.advance(Duration::from_secs(3));
    let (sub, present) = h.connect_persistent("sub", V5);
    assert!(present);
    let got = h.publishes(sub);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(&*got[0].topic, "exp/a");
    // The received value minus the time it waited in the server [MQTT-3.3.2-6].
    assert_eq!(got[0].properties.message_expiry_interval, Some(7));
    // A message without expiry does not get one.
    assert_eq!(&*got[1].topic, "exp/b");
    assert_eq!(got[1].properties.message_expiry_interval, None);
}

#[test]
fn live_message_keeps_its_expiry_interval_mqtt_3_3_2_6() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    h.subscribe(sub, "exp", QoS::AtMostOnce);
    let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
    let p = with_expiry(publish("exp", b"now", QoS::AtMostOnce, false, 0), 30);
    h.send(publisher, Packet::Publish(p));
    let got = h.publishes(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].properties.message_expiry_interval, Some(30));
}

#[test]
fn message_expired_while_queued_is_not_sent_mqtt_3_3_2_5() {
    for version in [V5, V3_1_1] {
        let mut h = Harness::quiet();
        h.offline_subscriber("sub", version, "exp/#", QoS::AtLeastOnce);
        let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
        let p = with_expiry(publish("exp/short", b"gone", QoS::AtLeastOnce, false, 1), 2);
        h.send(publisher, Packet::Publish(p));
        let p = with_expiry(publish("exp/long", b"kept", QoS::AtLeastOnce, false, 2), 60);
        h.send(publisher, Packet::Publish(p));
        assert_eq!(h.broker.session_info("sub").unwrap().queued, 2);

        h.advance(Duration::from_secs(3));
        let (sub, present) = h.connect_persistent("sub", version);
        assert!(present);
        let got = h.publishes(sub);
        // The expired copy is deleted, the other one still goes [MQTT-3.3.2-5].
        let topics: Vec<&str> = got.iter().map(|p| &*p.topic).collect();
        assert_eq!(topics, ["exp/long"], "{version:?}");
        if version.is_v5() {
            assert_eq!(got[0].properties.message_expiry_interval, Some(57));
        }
        assert!(h.broker.stats().messages_expired >= 1);
    }
}

#[test]
fn message_expired_behind_the_window_is_not_sent_mqtt_3_3_2_5() {
    let mut h = Harness::quiet();
    // Online, but Receive Maximum 1: the second message waits in the queue.
    let (sub, _) = connect_v5(&mut h, "sub", receive_maximum(1));
    h.subscribe(sub, "w", QoS::AtLeastOnce);
    let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
    h.send(
        publisher,
        Packet::Publish(publish("w", b"first", QoS::AtLeastOnce, false, 1)),
    );
    let p = with_expiry(publish("w", b"expires", QoS::AtLeastOnce, false, 2), 2);
    h.send(publisher, Packet::Publish(p));
    let p = with_expiry(publish("w", b"lasts", QoS::AtLeastOnce, false, 3), 20);
    h.send(publisher, Packet::Publish(p));
    let first = h.publishes(sub);
    assert_eq!(first.len(), 1);
    assert_eq!(h.broker.session_info("sub").unwrap().queued, 2);

    h.advance(Duration::from_secs(3));
    h.ack(sub, &first[0]);
    // Onward delivery of the second never started: it is deleted [MQTT-3.3.2-5]; the
    // third goes with 17 s left [MQTT-3.3.2-6].
    let got = h.publishes(sub);
    let payloads: Vec<&[u8]> = got.iter().map(|p| &p.payload[..]).collect();
    assert_eq!(payloads, [&b"lasts"[..]]);
    assert_eq!(got[0].properties.message_expiry_interval, Some(17));
}

#[test]
fn retained_message_expires_mqtt_3_3_2_5() {
    let mut h = Harness::quiet();
    let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
    let p = with_expiry(
        publish("ret/x", b"short-lived", QoS::AtMostOnce, true, 0),
        10,
    );
    h.send(publisher, Packet::Publish(p));
    assert_eq!(h.broker.stats().retained_messages, 1);

    // Before it expires: sent with what remains of its interval [MQTT-3.3.2-6].
    h.advance(Duration::from_secs(4));
    let early = h.connect("early", V5);
    h.subscribe(early, "ret/#", QoS::AtMostOnce);
    let got = h.publishes(early);
    assert_eq!(got.len(), 1);
    assert!(got[0].retain);
    assert_eq!(got[0].properties.message_expiry_interval, Some(6));

    // After it expired: not sent [MQTT-3.3.2-5], and no longer counted once found.
    h.advance(Duration::from_secs(7));
    let late5 = h.connect("late5", V5);
    h.subscribe(late5, "ret/#", QoS::AtMostOnce);
    assert!(h.publishes(late5).is_empty());
    let late3 = h.connect("late3", V3_1_1);
    h.subscribe(late3, "ret/x", QoS::AtMostOnce);
    assert!(h.publishes(late3).is_empty());
    assert_eq!(h.broker.stats().retained_messages, 0);
}

// ---- Maximum packet size ------------------------------------------------------------------

#[test]
fn connack_announces_maximum_packet_size_v5_3_2_2_3_6() {
    let mut h = Harness::quiet_with(|c| c.max_packet_size = 4096);
    let (_, connack) = connect_v5(&mut h, "c", |_| {});
    assert_eq!(
        connack.properties.maximum_packet_size,
        NonZeroU32::new(4096)
    );
}

#[test]
fn never_sends_client_more_than_its_maximum_packet_size_mqtt_3_1_2_24() {
    let mut h = Harness::quiet();
    let (small, _) = connect_v5(&mut h, "small", |c| {
        c.properties.maximum_packet_size = NonZeroU32::new(100);
    });
    h.subscribe(small, "t", QoS::AtMostOnce);
    let (big, _) = connect_v5(&mut h, "big", |_| {});
    h.subscribe(big, "t", QoS::AtMostOnce);
    let publisher = h.connect("pub", V3_1_1);

    // PUBLISH QoS 0 to "t" for v5: 2 (fixed header) + 3 (topic) + 1 (properties) + payload.
    h.publish(publisher, "t", &[b'a'; 94], QoS::AtMostOnce, false, 0); // exactly 100 bytes
    h.publish(publisher, "t", &[b'b'; 95], QoS::AtMostOnce, false, 0); // 101 bytes
    h.publish(publisher, "t", &[b'c'; 1000], QoS::AtMostOnce, false, 0);
    h.publish(publisher, "t", b"small", QoS::AtMostOnce, false, 0);

    let got_small = h.drain(small);
    for p in &got_small {
        assert!(p.encoded_len(V5) <= 100, "sent {} bytes", p.encoded_len(V5));
    }
    let payloads: Vec<usize> = got_small
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.payload.len(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // The too-large ones are discarded for this client only [MQTT-3.1.2-25].
    assert_eq!(payloads, [94, 5]);
    assert!(!h.is_gone(small));
    let big_payloads: Vec<usize> = h.publishes(big).iter().map(|p| p.payload.len()).collect();
    assert_eq!(big_payloads, [94, 95, 1000, 5]);
}

#[test]
fn too_large_qos1_message_is_completed_not_stuck_mqtt_3_1_2_25() {
    let mut h = Harness::quiet();
    // Receive Maximum 1: a discarded message that kept its slot would block the next one.
    let (small, _) = connect_v5(&mut h, "small", |c| {
        c.properties.maximum_packet_size = NonZeroU32::new(100);
        receive_maximum(1)(c);
    });
    h.subscribe(small, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    let dropped_before = h.broker.stats().publish_dropped;
    h.publish(publisher, "t", &[0u8; 500], QoS::AtLeastOnce, false, 1);
    h.publish(publisher, "t", b"fits", QoS::AtLeastOnce, false, 2);

    // "Discard it without sending it and then behave as if it had completed sending"
    // [MQTT-3.1.2-25].
    let got = h.publishes(small);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(&got[0].payload[..], b"fits");
    assert_eq!(h.broker.session_info("small").unwrap().inflight, 1);
    assert!(h.broker.stats().publish_dropped > dropped_before);
    h.ack(small, &got[0]);
    let info = h.broker.session_info("small").unwrap();
    assert_eq!((info.inflight, info.queued), (0, 0));
}

#[test]
fn resumed_session_respects_new_smaller_maximum_packet_size_mqtt_3_1_2_24() {
    let mut h = Harness::quiet();
    let (c, _) = h.connect_persistent("shrinks", V5);
    h.subscribe(c, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    h.publish(publisher, "t", &[7u8; 500], QoS::AtLeastOnce, false, 1);
    let got = h.publishes(c);
    assert_eq!(got.len(), 1, "received, not acknowledged");
    h.drop_connection(c);
    assert_eq!(h.broker.session_info("shrinks").unwrap().inflight, 1);

    // Back with a Maximum Packet Size of 100: the unacknowledged 500-byte PUBLISH may not
    // be re-sent [MQTT-3.1.2-24]; it is discarded as if sent [MQTT-3.1.2-25].
    let (c, connack) = connect_v5(&mut h, "shrinks", |c| {
        persistent(u32::MAX)(c);
        c.properties.maximum_packet_size = NonZeroU32::new(100);
    });
    assert!(connack.session_present);
    for p in h.drain(c) {
        assert!(
            p.encoded_len(V5) <= 100,
            "sent a {}-byte {:?}",
            p.encoded_len(V5),
            p.packet_type()
        );
    }
    h.publish(publisher, "t", b"small", QoS::AtLeastOnce, false, 2);
    let got = h.publishes(c);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"small");
}

#[test]
fn inbound_packet_over_maximum_is_disconnected_with_0x95_v5_3_2_2_3_6() {
    let mut h = Harness::quiet_with(|c| c.max_packet_size = 200);
    let (sub, publisher) = healthy_pair(&mut h);
    h.subscribe(sub, "big", QoS::AtMostOnce);
    let (c, _) = connect_v5(&mut h, "sender", |_| {});

    // Exactly the maximum is accepted: 3 (fixed header) + 5 ("big") + 1 + 191 = 200.
    h.publish(c, "big", &[1u8; 191], QoS::AtMostOnce, false, 0);
    assert!(!h.is_gone(c));
    assert_eq!(h.publishes(sub).len(), 1);

    // One byte more: the Client MUST NOT send it [MQTT-3.2.2-15]; the server answers
    // DISCONNECT 0x95 (Packet too large), v5 3.2.2.3.6.
    h.publish(c, "big", &[1u8; 192], QoS::AtMostOnce, false, 0);
    expect_server_disconnect(&mut h, c, ReasonCode::PacketTooLarge);
    assert!(h.publishes(sub).is_empty());
    assert_healthy(&mut h, sub, publisher, b"after too large");
}

#[test]
fn inbound_packet_over_maximum_refused_from_its_header_v5_3_2_2_3_6() {
    let mut h = Harness::quiet_with(|c| c.max_packet_size = 1024);
    let (c, _) = connect_v5(&mut h, "sender", |_| {});
    // Only a fixed header announcing 2 MiB: refused before any body arrives.
    h.send_bytes(c, &[0x30, 0x80, 0x80, 0x80, 0x01]);
    expect_server_disconnect(&mut h, c, ReasonCode::PacketTooLarge);
}

#[test]
fn inbound_packet_over_maximum_closes_3_1_1_silently_v3_4_8_0_1() {
    let mut h = Harness::quiet_with(|c| c.max_packet_size = 200);
    let (sub, publisher) = healthy_pair(&mut h);
    let c = h.connect("sender", V3_1_1);
    h.publish(c, "big", &[1u8; 500], QoS::AtMostOnce, false, 0);
    // 3.1.1 has no Maximum Packet Size and no server DISCONNECT: the connection is closed.
    expect_silent_close(&mut h, c);
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ProtocolViolation(ReasonCode::PacketTooLarge))
    );
    assert_healthy(&mut h, sub, publisher, b"after 3.1.1 too large");
}

// ---- Properties forwarded unaltered ---------------------------------------------------------

fn request_with_properties(qos: QoS) -> Publish {
    let mut p = publish("req/service", b"{\"ask\":1}", qos, false, 5);
    let props = &mut p.properties;
    props.payload_format_indicator = Some(true);
    props.content_type = Some(string("application/json"));
    props.response_topic = Some(string("resp/client-7"));
    props.correlation_data = Some(Bytes::from_static(b"\x00\x01corr\xff"));
    // Order kept and duplicates kept [MQTT-3.3.2-17], [MQTT-3.3.2-18].
    props.user_properties = vec![
        user_property("z", "1"),
        user_property("a", "2"),
        user_property("z", "3"),
        user_property("a", "2"),
    ];
    p
}

#[test]
fn publish_properties_forwarded_unaltered_mqtt_3_3_2_4_15_16_17_18_20() {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V5);
        h.subscribe(sub, "req/#", QoS::ExactlyOnce);
        let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
        let sent = request_with_properties(qos);
        h.send(publisher, Packet::Publish(sent.clone()));
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1);
        // Payload Format Indicator [MQTT-3.3.2-4], Response Topic [MQTT-3.3.2-15],
        // Correlation Data [MQTT-3.3.2-16], User Properties and their order
        // [MQTT-3.3.2-17], [MQTT-3.3.2-18], Content Type [MQTT-3.3.2-20].
        assert_eq!(got[0].properties, sent.properties, "{qos:?}");
        assert_eq!(got[0].payload, sent.payload);
        assert_eq!(got[0].qos, qos);
    }
}

#[test]
fn request_response_round_trip_keeps_correlation_data_v5_4_10() {
    let mut h = Harness::quiet();
    let (requester, _) = connect_v5(&mut h, "requester", |_| {});
    h.subscribe(requester, "resp/client-7", QoS::AtLeastOnce);
    let (responder, _) = connect_v5(&mut h, "responder", |_| {});
    h.subscribe(responder, "req/#", QoS::AtLeastOnce);

    h.send(
        requester,
        Packet::Publish(request_with_properties(QoS::AtLeastOnce)),
    );
    let request = h.publishes(responder).pop().expect("request delivered");
    h.ack(responder, &request);
    let response_topic = request
        .properties
        .response_topic
        .clone()
        .expect("response topic");
    let mut response = publish(&response_topic, b"answer", QoS::AtLeastOnce, false, 9);
    response
        .properties
        .correlation_data
        .clone_from(&request.properties.correlation_data);
    h.send(responder, Packet::Publish(response));

    let got: Vec<Publish> = h.publishes(requester);
    assert_eq!(got.len(), 1);
    assert_eq!(&*got[0].topic, "resp/client-7");
    // Correlation Data unaltered both ways [MQTT-3.3.2-16].
    assert_eq!(
        got[0].properties.correlation_data.as_deref(),
        Some(&b"\x00\x01corr\xff"[..])
    );
}

#[test]
fn v3_subscriber_gets_v5_message_without_properties_v3_section_3_3_2() {
    let mut h = Harness::quiet();
    let sub3 = h.connect("sub3", V3_1_1);
    h.subscribe(sub3, "req/#", QoS::AtLeastOnce);
    let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
    let mut sent = request_with_properties(QoS::AtLeastOnce);
    sent.properties.message_expiry_interval = Some(100);
    h.send(publisher, Packet::Publish(sent.clone()));
    // A 3.1.1 PUBLISH has no properties (v3 section 3.3.2): the message goes out in the
    // subscriber's version and decodes as 3.1.1; topic and payload are unchanged.
    assert!(h.clients[sub3].decode_error.is_none());
    let got = h.publishes(sub3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].topic, sent.topic);
    assert_eq!(got[0].payload, sent.payload);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert!(got[0].properties.is_empty());
    // Byte-exact: topic, packet id, payload and nothing else.
    let expected_len = 2 + (2 + sent.topic.len()) + 2 + sent.payload.len();
    assert_eq!(h.clients[sub3].raw.len(), 4 + 5 + expected_len); // CONNACK + SUBACK + PUBLISH
}

// ---- Server-initiated DISCONNECT ------------------------------------------------------------

#[test]
fn server_disconnect_protocol_error_0x82_second_connect_mqtt_3_1_0_2() {
    let mut h = Harness::quiet();
    let (c, _) = connect_v5(&mut h, "twice", |_| {});
    h.send(
        c,
        Packet::Connect(Box::new(Connect::new(V5, string("twice")))),
    );
    expect_server_disconnect(&mut h, c, ReasonCode::ProtocolError);
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ProtocolViolation(ReasonCode::ProtocolError))
    );
}

#[test]
fn server_disconnect_malformed_0x81_mqtt_3_3_1_4() {
    let mut h = Harness::quiet();
    let (c, _) = connect_v5(&mut h, "qos3", |_| {});
    // PUBLISH with both QoS bits set.
    h.send_bytes(c, &[0x36, 0x07, 0x00, 0x01, b'a', 0x00, 0x01, 0x00, b'x']);
    expect_server_disconnect(&mut h, c, ReasonCode::MalformedPacket);
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ProtocolViolation(ReasonCode::MalformedPacket))
    );
}

#[test]
fn server_disconnect_session_taken_over_0x8e_mqtt_3_1_4_3() {
    let mut h = Harness::quiet();
    let (old, _) = h.connect_persistent("same-id", V5);
    let (new, present) = h.connect_persistent("same-id", V5);
    assert!(present);
    expect_server_disconnect(&mut h, old, ReasonCode::SessionTakenOver);
    assert_eq!(h.closed(old), Some(CloseReason::SessionTakenOver));
    assert!(!h.is_gone(new));
}

#[test]
fn server_disconnect_keep_alive_timeout_0x8d_mqtt_3_1_2_22() {
    let mut h = Harness::quiet();
    let (c, _) = connect_v5(&mut h, "sleepy", |c| c.keep_alive = 2);
    h.advance(Duration::from_millis(2900));
    assert!(!h.is_gone(c), "still within 1.5 x keep alive");
    h.advance(Duration::from_millis(200));
    // Closed after 1.5 x keep alive [MQTT-3.1.2-22], told 0x8D (Keep Alive timeout).
    expect_server_disconnect(&mut h, c, ReasonCode::KeepAliveTimeout);
    assert_eq!(h.closed(c), Some(CloseReason::KeepAliveTimeout));
}

#[test]
fn server_disconnect_on_shutdown_0x8b_mqtt_3_14_2_2() {
    let mut h = Harness::quiet();
    let (c5, _) = h.connect_persistent("five", V5);
    let c3 = h.connect("three", V3_1_1);
    h.broker.shutdown(h.now);
    h.process();
    expect_server_disconnect(&mut h, c5, ReasonCode::ServerShuttingDown);
    assert_eq!(h.closed(c5), Some(CloseReason::ServerShuttingDown));
    expect_silent_close(&mut h, c3);
}

#[test]
fn client_publish_with_subscription_identifier_is_protocol_error_mqtt_3_3_4_6() {
    let mut h = Harness::quiet();
    let (sub, publisher) = healthy_pair(&mut h);
    let (bad, _) = connect_v5(&mut h, "subid", |_| {});
    let mut p = publish("health/subid", b"x", QoS::AtLeastOnce, false, 1);
    p.properties.subscription_identifiers = vec![sub_id(5)];
    h.send(bad, Packet::Publish(p));
    // "A PUBLISH packet sent from a Client to a Server MUST NOT contain a Subscription
    // Identifier" [MQTT-3.3.4-6]: a Protocol Error, DISCONNECT 0x82 [MQTT-4.13.1-1], and
    // nothing acknowledged or forwarded.
    expect_server_disconnect(&mut h, bad, ReasonCode::ProtocolError);
    let leaked = h.publishes(sub);
    assert!(leaked.is_empty(), "forwarded: {leaked:?}");
    assert_healthy(&mut h, sub, publisher, b"after subscription id");
}

#[test]
fn v3_client_gets_no_disconnect_v3_3_1_4_2_and_3_1_2_24() {
    let mut h = Harness::quiet();
    // Protocol violation: second CONNECT [MQTT-3.1.0-2].
    let a = h.connect("a", V3_1_1);
    h.send(
        a,
        Packet::Connect(Box::new(Connect::new(V3_1_1, string("a")))),
    );
    expect_silent_close(&mut h, a);
    // Takeover, v3 [MQTT-3.1.4-2].
    let (b, _) = h.connect_persistent("b", V3_1_1);
    let (_b2, _) = h.connect_persistent("b", V3_1_1);
    expect_silent_close(&mut h, b);
    assert_eq!(h.closed(b), Some(CloseReason::SessionTakenOver));
    // Keep alive, v3 [MQTT-3.1.2-24].
    let mut connect = connect_packet(V3_1_1, "c");
    connect.keep_alive = 2;
    let (c, _) = accepted(&mut h, connect);
    h.advance(Duration::from_millis(3100));
    expect_silent_close(&mut h, c);
    assert_eq!(h.closed(c), Some(CloseReason::KeepAliveTimeout));
}

// ---- $SYS ---------------------------------------------------------------------------------

const SYS_TOPICS: [&str; 12] = [
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/clients/disconnected",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/retained messages/count",
    "$SYS/broker/publish/messages/dropped",
];

fn sys_values(got: &[Publish]) -> HashMap<String, String> {
    got.iter()
        .map(|p| {
            let value = std::str::from_utf8(&p.payload).expect("UTF-8 $SYS value");
            (p.topic.to_string(), value.to_owned())
        })
        .collect()
}

fn number(values: &HashMap<String, String>, topic: &str) -> u64 {
    values
        .get(topic)
        .unwrap_or_else(|| panic!("{topic} missing"))
        .parse()
        .unwrap_or_else(|e| panic!("{topic} is not a number: {e}"))
}

#[test]
fn sys_topics_have_plausible_values_mqtt_4_7_2_1() {
    let mut h = Harness::with_sys(Duration::from_secs(10));
    let (watcher, _) = connect_v5(&mut h, "watcher", |_| {});
    assert_eq!(
        h.subscribe(watcher, "$SYS/#", QoS::AtMostOnce),
        [ReasonCode::GRANTED_QOS_0]
    );
    let everything = h.connect("everything", V3_1_1);
    h.subscribe(everything, "#", QoS::AtMostOnce);
    let (offline, _) = h.connect_persistent("offline", V5);
    h.drop_connection(offline);
    h.publish(everything, "r/1", b"kept", QoS::AtMostOnce, true, 0);
    // One refused message, counted as dropped.
    h.publish(watcher, "$SYS/fake", b"x", QoS::AtLeastOnce, false, 1);
    h.drain(watcher);
    h.drain(everything);

    let before = h.broker.stats();
    h.advance(Duration::ZERO);
    let got = h.publishes(watcher);
    let values = sys_values(&got);
    for topic in SYS_TOPICS {
        assert!(
            values.contains_key(topic),
            "{topic} missing from {values:?}"
        );
    }
    assert_eq!(
        values["$SYS/broker/version"],
        h.broker.config().version_string
    );
    assert_eq!(values["$SYS/broker/uptime"], "0 seconds");
    assert_eq!(number(&values, "$SYS/broker/clients/connected"), 2);
    assert_eq!(number(&values, "$SYS/broker/clients/total"), 3);
    assert_eq!(number(&values, "$SYS/broker/clients/disconnected"), 1);
    assert_eq!(number(&values, "$SYS/broker/subscriptions/count"), 2);
    assert_eq!(number(&values, "$SYS/broker/retained messages/count"), 1);
    assert_eq!(number(&values, "$SYS/broker/publish/messages/dropped"), 1);
    let received = number(&values, "$SYS/broker/messages/received");
    assert_eq!(received, before.messages_received);
    assert!(
        received >= 7,
        "at least the packets the tests sent: {received}"
    );
    assert_eq!(
        number(&values, "$SYS/broker/messages/sent"),
        before.messages_sent
    );
    let bytes_received = number(&values, "$SYS/broker/bytes/received");
    assert_eq!(bytes_received, before.bytes_received);
    assert!(bytes_received > 50);
    let bytes_sent = number(&values, "$SYS/broker/bytes/sent");
    assert_eq!(bytes_sent, before.bytes_sent);
    assert!(bytes_sent > 20);
    // `#` does not match topics beginning with `$` [MQTT-4.7.2-1].
    let leaked: Vec<String> = h
        .publishes(everything)
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

#[test]
fn sys_topics_republished_at_the_interval_mqtt_4_7_2_1() {
    let mut h = Harness::with_sys(Duration::from_secs(10));
    let watcher = h.connect("watcher", V3_1_1);
    h.subscribe(watcher, "$SYS/broker/#", QoS::AtMostOnce);
    h.advance(Duration::ZERO);
    let first = sys_values(&h.publishes(watcher));
    assert_eq!(first["$SYS/broker/uptime"], "0 seconds");
    assert_eq!(first["$SYS/broker/clients/connected"], "1");

    h.advance(Duration::from_secs(9));
    assert!(
        h.publishes(watcher).is_empty(),
        "nothing before the interval"
    );
    let _other = h.connect("other", V5);
    h.advance(Duration::from_secs(1));
    let second = sys_values(&h.publishes(watcher));
    assert_eq!(second["$SYS/broker/uptime"], "10 seconds");
    assert_eq!(second["$SYS/broker/clients/connected"], "2");

    h.advance(Duration::from_secs(10));
    let third = sys_values(&h.publishes(watcher));
    assert_eq!(third["$SYS/broker/uptime"], "20 seconds");
}

#[test]
fn sys_topics_are_retained_for_late_subscribers_v3_mqtt_3_3_1_8() {
    let mut h = Harness::with_sys(Duration::from_secs(10));
    h.advance(Duration::ZERO);
    h.advance(Duration::from_secs(10));
    // No further tick: the late subscriber gets them from the retained store, at once.
    let late = h.connect("late", V3_1_1);
    h.subscribe(late, "$SYS/#", QoS::AtLeastOnce);
    let got = h.publishes(late);
    let values = sys_values(&got);
    for topic in SYS_TOPICS {
        assert!(
            values.contains_key(topic),
            "{topic} missing from {values:?}"
        );
    }
    assert_eq!(values["$SYS/broker/uptime"], "10 seconds");
    assert_eq!(values["$SYS/broker/clients/connected"], "0");
    // Retained messages sent for a new subscription carry RETAIN 1 (v3 [MQTT-3.3.1-8]).
    assert!(got.iter().all(|p| p.retain), "{got:?}");
    // Each topic once: the latest value only.
    assert_eq!(got.len(), values.len());
}

#[test]
fn clients_cannot_publish_to_dollar_topics_v5_section_4_7_2() {
    let mut h = Harness::quiet();
    let watcher = h.connect("watcher", V5);
    for filter in ["$SYS/#", "$foo", "$foo/#"] {
        assert_eq!(
            h.subscribe(watcher, filter, QoS::ExactlyOnce),
            [ReasonCode::GrantedQoS2]
        );
    }
    let (p5, _) = connect_v5(&mut h, "p5", |_| {});
    h.publish(p5, "$SYS/x", b"fake", QoS::AtLeastOnce, false, 1);
    h.publish(p5, "$foo", b"fake", QoS::AtLeastOnce, true, 2);
    h.publish(p5, "$foo/bar", b"fake", QoS::ExactlyOnce, false, 3);
    h.publish(p5, "$SYS/y", b"fake", QoS::AtMostOnce, true, 0);
    let acks = h.drain(p5);
    // Topics starting with `$` are the server's (v5 4.7.2): v5 QoS 1/2 refusals say 0x87.
    match acks.as_slice() {
        [Packet::PubAck(a1), Packet::PubAck(a2), Packet::PubRec(r3)] => {
            assert_eq!(
                (a1.packet_id.get(), a1.reason_code),
                (1, ReasonCode::NotAuthorized)
            );
            assert_eq!(
                (a2.packet_id.get(), a2.reason_code),
                (2, ReasonCode::NotAuthorized)
            );
            assert_eq!(
                (r3.packet_id.get(), r3.reason_code),
                (3, ReasonCode::NotAuthorized)
            );
        }
        other => panic!("expected PUBACK 0x87 x2, PUBREC 0x87, got {other:?}"),
    }
    assert!(!h.is_gone(p5));

    let p3 = h.connect("p3", V3_1_1);
    h.publish(p3, "$SYS/x", b"fake", QoS::AtLeastOnce, false, 4);
    assert!(matches!(h.drain(p3).as_slice(), [Packet::PubAck(a)] if a.packet_id.get() == 4));
    assert!(!h.is_gone(p3));

    assert!(h.publishes(watcher).is_empty(), "nothing delivered");
    assert_eq!(h.broker.stats().retained_messages, 0, "nothing retained");
    let late = h.connect("late", V5);
    h.subscribe(late, "$foo", QoS::AtMostOnce);
    assert!(h.publishes(late).is_empty());
}

// ---- Bad input ----------------------------------------------------------------------------

/// One malformed or illegal input, sent after a successful CONNECT.
struct BadInput {
    name: &'static str,
    /// What the specification says (ids) about it.
    spec: &'static str,
    v3: Option<Vec<u8>>,
    v5: Option<Vec<u8>>,
    /// The v5 DISCONNECT reason code.
    code: ReasonCode,
    /// Whether the codec itself refuses it (then `DecodeError::reason_code` must be `code`).
    decode_error: bool,
}

fn bad_inputs() -> Vec<BadInput> {
    let both = |bytes: &[u8]| (Some(bytes.to_vec()), Some(bytes.to_vec()));
    let row =
        |name, spec, (v3, v5): (Option<Vec<u8>>, Option<Vec<u8>>), code, decode_error| BadInput {
            name,
            spec,
            v3,
            v5,
            code,
            decode_error,
        };
    use ReasonCode::{MalformedPacket as M, ProtocolError as P};
    vec![
        row(
            "PINGREQ with reserved flags 0001",
            "v3 [MQTT-2.2.2-1]/[MQTT-2.2.2-2], v5 [MQTT-2.1.3-1]",
            both(&[0xC1, 0x00]),
            M,
            true,
        ),
        row(
            "UNSUBSCRIBE with flags 0000",
            "[MQTT-3.10.1-1]",
            (
                Some(vec![0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b'a']),
                Some(vec![0xA0, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, b'a']),
            ),
            M,
            true,
        ),
        row(
            "PUBREL with flags 0000",
            "[MQTT-3.6.1-1]",
            both(&[0x60, 0x02, 0x00, 0x01]),
            M,
            true,
        ),
        row(
            "PUBLISH with QoS 3",
            "[MQTT-3.3.1-4]",
            (
                Some(vec![0x36, 0x06, 0x00, 0x01, b'a', 0x00, 0x01, b'x']),
                Some(vec![0x36, 0x07, 0x00, 0x01, b'a', 0x00, 0x01, 0x00, b'x']),
            ),
            M,
            true,
        ),
        row(
            "QoS 0 PUBLISH with DUP",
            "[MQTT-3.3.1-2]",
            (
                Some(vec![0x38, 0x04, 0x00, 0x01, b'a', b'x']),
                Some(vec![0x38, 0x05, 0x00, 0x01, b'a', 0x00, b'x']),
            ),
            M,
            true,
        ),
        row(
            "remaining length with a 5th byte",
            "v3 2.2.3, v5 1.5.5 (at most 4 bytes)",
            both(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            M,
            true,
        ),
        row(
            "PUBLISH topic with ill-formed UTF-8",
            "v3 [MQTT-1.5.3-1], v5 [MQTT-1.5.4-1]",
            (
                Some(vec![0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, b'x']),
                Some(vec![0x30, 0x06, 0x00, 0x02, 0xC3, 0x28, 0x00, b'x']),
            ),
            M,
            true,
        ),
        row(
            "PUBLISH topic with a UTF-16 surrogate",
            "v3 [MQTT-1.5.3-1], v5 [MQTT-1.5.4-1]",
            (
                Some(vec![0x30, 0x06, 0x00, 0x03, 0xED, 0xA0, 0x80, b'x']),
                Some(vec![0x30, 0x07, 0x00, 0x03, 0xED, 0xA0, 0x80, 0x00, b'x']),
            ),
            M,
            true,
        ),
        row(
            "PUBLISH topic with U+0000",
            "v3 [MQTT-1.5.3-2], v5 [MQTT-1.5.4-2]",
            (
                Some(vec![0x30, 0x04, 0x00, 0x01, 0x00, b'x']),
                Some(vec![0x30, 0x05, 0x00, 0x01, 0x00, 0x00, b'x']),
            ),
            M,
            true,
        ),
        row(
            "PUBLISH topic with a wildcard",
            "[MQTT-3.3.2-2]",
            (
                Some(vec![0x30, 0x04, 0x00, 0x01, b'#', b'x']),
                Some(vec![0x30, 0x05, 0x00, 0x01, b'#', 0x00, b'x']),
            ),
            ReasonCode::TopicNameInvalid,
            true,
        ),
        row(
            "PUBLISH with an empty topic and no Topic Alias",
            "v3 [MQTT-4.7.3-1], v5 3.3.2.3.4",
            (
                Some(vec![0x30, 0x03, 0x00, 0x00, b'x']),
                Some(vec![0x30, 0x04, 0x00, 0x00, 0x00, b'x']),
            ),
            P,
            true,
        ),
        row(
            "Response Topic with a wildcard",
            "v5 [MQTT-3.3.2-14]",
            (
                None,
                Some(vec![
                    0x30, 0x09, 0x00, 0x01, b'a', 0x04, 0x08, 0x00, 0x01, b'+', b'x',
                ]),
            ),
            P,
            true,
        ),
        row(
            "Message Expiry Interval twice",
            "v5 2.2.2.2 (a single property repeated is a Protocol Error)",
            (
                None,
                Some(vec![
                    0x30, 0x0F, 0x00, 0x01, b'a', 0x0A, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2, b'x',
                ]),
            ),
            P,
            true,
        ),
        row(
            "unknown property identifier 0x07",
            "v5 2.2.2.2",
            (
                None,
                Some(vec![0x30, 0x07, 0x00, 0x01, b'a', 0x02, 0x07, 0x00, b'x']),
            ),
            M,
            true,
        ),
        row(
            "Session Expiry Interval in a PUBLISH",
            "v5 2.2.2.2 (a property not allowed in the packet)",
            (
                None,
                Some(vec![
                    0x30, 0x0A, 0x00, 0x01, b'a', 0x05, 0x11, 0, 0, 0, 5, b'x',
                ]),
            ),
            M,
            true,
        ),
        row(
            "remaining length not minimally encoded",
            "v5 [MQTT-1.5.5-1]",
            (None, Some(vec![0xC0, 0x80, 0x00])),
            M,
            true,
        ),
        row(
            "SUBSCRIBE without filters",
            "v3 [MQTT-3.8.3-3], v5 [MQTT-3.8.3-2]",
            (
                Some(vec![0x82, 0x02, 0x00, 0x01]),
                Some(vec![0x82, 0x03, 0x00, 0x01, 0x00]),
            ),
            P,
            true,
        ),
        row(
            "PUBACK with packet identifier 0",
            "v3 [MQTT-2.3.1-1], v5 [MQTT-2.2.1-3]",
            both(&[0x40, 0x02, 0x00, 0x00]),
            M,
            true,
        ),
        row(
            "packet type 0",
            "v3 table 2.1 reserved, v5 table 2-1 reserved",
            both(&[0x00, 0x00]),
            M,
            true,
        ),
        row(
            "packet type 15 in 3.1.1",
            "v3 table 2.1 reserved; v3 [MQTT-4.8.0-1]",
            (Some(vec![0xF0, 0x00]), None),
            M,
            true,
        ),
        row(
            "AUTH without an Authentication Method in CONNECT",
            "v5 [MQTT-4.12.0-7]",
            (None, Some(vec![0xF0, 0x00])),
            P,
            false,
        ),
        row(
            "a second CONNECT",
            "[MQTT-3.1.0-2]",
            (
                Some(encode(
                    V3_1_1,
                    &Packet::Connect(Box::new(Connect::new(V3_1_1, string("again")))),
                )),
                Some(encode(
                    V5,
                    &Packet::Connect(Box::new(Connect::new(V5, string("again")))),
                )),
            ),
            P,
            false,
        ),
        row(
            "CONNACK sent by a client",
            "v3 [MQTT-4.8.0-1], v5 [MQTT-4.13.1-1] (server-to-client packet)",
            (
                Some(vec![0x20, 0x02, 0x00, 0x00]),
                Some(vec![0x20, 0x03, 0x00, 0x00, 0x00]),
            ),
            P,
            false,
        ),
        row(
            "SUBACK sent by a client",
            "v3 [MQTT-4.8.0-1], v5 [MQTT-4.13.1-1] (server-to-client packet)",
            (
                Some(vec![0x90, 0x03, 0x00, 0x01, 0x00]),
                Some(vec![0x90, 0x04, 0x00, 0x01, 0x00, 0x00]),
            ),
            P,
            false,
        ),
        row(
            "UNSUBACK sent by a client",
            "v3 [MQTT-4.8.0-1], v5 [MQTT-4.13.1-1] (server-to-client packet)",
            (
                Some(vec![0xB0, 0x02, 0x00, 0x01]),
                Some(vec![0xB0, 0x04, 0x00, 0x01, 0x00, 0x00]),
            ),
            P,
            false,
        ),
        row(
            "PINGRESP sent by a client",
            "v3 [MQTT-4.8.0-1], v5 [MQTT-4.13.1-1] (server-to-client packet)",
            both(&[0xD0, 0x00]),
            P,
            false,
        ),
    ]
}

/// Each bad input closes only the offending connection: v5 with DISCONNECT 0x81/0x82 first
/// [MQTT-4.13.1-1], 3.1.1 without any packet [MQTT-4.8.0-1] (v3); no panic, and another
/// client's publish/subscribe keeps flowing (v3 [MQTT-4.8.0-2] context).
#[test]
fn bad_input_closes_only_that_connection_mqtt_4_13_1_1_v3_4_8_0_1() {
    for input in bad_inputs() {
        for (version, bytes) in [(V3_1_1, &input.v3), (V5, &input.v5)] {
            let Some(bytes) = bytes else { continue };
            let what = format!("{} ({}), {version:?}", input.name, input.spec);

            // The table agrees with the codec.
            let mut decoder = Decoder::new(version);
            let decoded = decoder.decode(&mut BytesMut::from(&bytes[..]));
            if input.decode_error {
                let err = decoded.expect_err(&what);
                assert_eq!(err.reason_code(), input.code, "{what}: {err:?}");
            } else {
                assert!(matches!(decoded, Ok(Some(_))), "{what}: {decoded:?}");
            }

            let mut h = Harness::quiet();
            let (sub, publisher) = healthy_pair(&mut h);
            let bad = h.connect("bad", version);
            h.subscribe(bad, "health/#", QoS::AtMostOnce);
            h.send_bytes(bad, bytes);
            assert!(h.is_gone(bad), "{what}: connection must close");
            assert_eq!(
                h.closed(bad),
                Some(CloseReason::ProtocolViolation(input.code)),
                "{what}"
            );
            if version.is_v5() {
                expect_server_disconnect(&mut h, bad, input.code);
            } else {
                expect_silent_close(&mut h, bad);
            }
            assert_eq!(h.broker.connection_count(), 2, "{what}");
            assert_healthy(&mut h, sub, publisher, what.as_bytes());
        }
    }
}

#[test]
fn bytes_arriving_one_at_a_time_still_work_v5_6_0_0_2_context() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let watcher = h.connect("watcher", V5);
        h.subscribe(watcher, "slow/#", QoS::AtLeastOnce);
        let c = h.open(version);
        // The adapter's receive buffer: a partial packet stays in it for the next read.
        let mut buffer = BytesMut::new();
        let mut trickle = |h: &mut Harness, packet: Packet| {
            let wire = encode(version, &packet);
            let connection = h.clients[c].connection;
            for (i, byte) in wire.iter().enumerate() {
                buffer.extend_from_slice(&[*byte]);
                h.broker.handle_read(h.now, connection, &mut buffer);
                h.process();
                assert!(!h.is_gone(c), "{version:?}: closed at byte {i}");
                if i + 1 < wire.len() {
                    assert!(
                        h.clients[c].inbox.is_empty(),
                        "nothing before the whole packet"
                    );
                }
            }
            assert!(buffer.is_empty(), "the whole packet was taken");
        };
        trickle(
            &mut h,
            Packet::Connect(Box::new(connect_packet(version, "slow"))),
        );
        assert!(
            matches!(h.recv(c), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success)
        );
        let subscribe = mqtt_codec::Subscribe {
            packet_id: pid(3),
            properties: Default::default(),
            filters: vec![(
                string("back/#"),
                mqtt_codec::SubscriptionOptions::qos(QoS::AtLeastOnce),
            )],
        };
        trickle(&mut h, Packet::Subscribe(subscribe));
        assert!(matches!(h.recv(c), Some(Packet::SubAck(s)) if s.packet_id.get() == 3));
        trickle(
            &mut h,
            Packet::Publish(publish("slow/1", b"drip", QoS::AtLeastOnce, false, 4)),
        );
        assert!(matches!(h.recv(c), Some(Packet::PubAck(a)) if a.packet_id.get() == 4));
        let got = h.publishes(watcher);
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].payload[..], b"drip");
        h.publish(watcher, "back/1", b"reply", QoS::AtMostOnce, false, 0);
        let got = h.publishes(c);
        assert_eq!(got.len(), 1, "{version:?}");
        assert_eq!(&got[0].payload[..], b"reply");
    }
}

#[test]
fn bytes_after_a_fatal_error_are_ignored_mqtt_4_13_1_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let watcher = h.connect("watcher", V5);
        h.subscribe(watcher, "t", QoS::AtMostOnce);
        let bad = h.connect("bad", version);
        let connection = h.clients[bad].connection;
        let valid = encode(
            version,
            &Packet::Publish(publish("t", b"must not pass", QoS::AtMostOnce, false, 0)),
        );

        // A malformed PINGREQ followed, in the same read, by a valid PUBLISH.
        let mut input = BytesMut::from(&[0xC1, 0x00][..]);
        input.extend_from_slice(&valid);
        h.broker.handle_read(h.now, connection, &mut input);
        assert!(input.is_empty(), "the rest of the read is discarded");
        // More bytes before the adapter closed the socket: ignored as well.
        let mut later = BytesMut::from(&valid[..]);
        h.broker.handle_read(h.now, connection, &mut later);
        assert!(later.is_empty());
        let mut ping = BytesMut::from(&[0xC0, 0x00][..]);
        h.broker.handle_read(h.now, connection, &mut ping);
        h.process();

        if version.is_v5() {
            expect_server_disconnect(&mut h, bad, ReasonCode::MalformedPacket);
        } else {
            // No PINGRESP either.
            expect_silent_close(&mut h, bad);
        }
        assert!(h.publishes(watcher).is_empty(), "{version:?}");
    }
}

// ---- Fuzzing: random bytes never hurt another client ---------------------------------------

/// A chunk of input: raw random bytes, or a framed packet (a real first byte, a correct
/// remaining length) with a random body, which reaches the body decoders.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    let first_bytes = prop::sample::select(vec![
        0x10u8, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x3A, 0x3D, 0x40, 0x50, 0x62, 0x70, 0x82,
        0x90, 0xA2, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..64),
        (first_bytes, prop::collection::vec(any::<u8>(), 0..48))
            .prop_map(|(first, body)| raw_packet(first, &body)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random input after a valid CONNECT never panics the broker, every packet it sends
    /// decodes, and a healthy client still gets its messages afterwards
    /// (v3 [MQTT-4.8.0-1], v5 [MQTT-4.13.1-1]).
    #[test]
    fn random_bytes_never_break_the_broker_mqtt_4_13_1_1(
        v5 in any::<bool>(),
        chunks in prop::collection::vec(chunk(), 1..8),
        step in 1usize..24,
    ) {
        let version = if v5 { V5 } else { V3_1_1 };
        let mut h = Harness::quiet();
        let (sub, publisher) = healthy_pair(&mut h);
        let fuzzed = h.connect("fuzzed", version);
        let input: Vec<u8> = chunks.concat();
        for piece in input.chunks(step) {
            if h.is_gone(fuzzed) {
                break;
            }
            h.send_bytes(fuzzed, piece);
        }
        h.advance(Duration::from_secs(1));
        prop_assert!(h.clients[fuzzed].decode_error.is_none(),
            "the broker sent something undecodable: {:?}", h.clients[fuzzed].decode_error);
        if h.is_gone(fuzzed) && !version.is_v5() {
            // A 3.1.1 client is never sent a DISCONNECT.
            prop_assert!(!h.drain(fuzzed).iter().any(|p| matches!(p, Packet::Disconnect(_))));
        }
        assert_healthy(&mut h, sub, publisher, b"still alive");
    }
}

// ---- Reason strings ----

/// A malformed packet is answered with DISCONNECT 0x81 carrying a Reason String that says
/// what was wrong (v5 3.14.2.2.3); a client whose Maximum Packet Size leaves no room for it
/// gets the DISCONNECT without it [MQTT-3.14.2-3].
#[test]
fn malformed_packet_disconnect_carries_a_reason_string_within_the_clients_limit_mqtt_3_14_2_3() {
    for (max_packet_size, expect_text) in [(None, true), (NonZeroU32::new(3), false)] {
        let mut h = Harness::quiet();
        let (c, _) = connect_v5(&mut h, "bad", |connect| {
            connect.properties.maximum_packet_size = max_packet_size;
        });
        // PUBLISH with QoS bits 11 [MQTT-3.3.1-4].
        h.send_bytes(c, b"\x36\x05\x00\x01a\x00\x01");
        let packets = h.drain(c);
        let [Packet::Disconnect(disconnect)] = &packets[..] else {
            panic!("expected one DISCONNECT, got {packets:?}");
        };
        assert_eq!(disconnect.reason_code, ReasonCode::MalformedPacket);
        let text = disconnect.properties.reason_string.as_ref();
        assert_eq!(text.is_some(), expect_text, "{max_packet_size:?}: {text:?}");
        if let Some(text) = text {
            assert!(text.contains("QoS"), "the text names the problem: {text}");
        }
        assert!(h.is_gone(c));
    }
}

// ---- Edges found in review ----

/// A Message Expiry Interval of 0 is taken as no expiry (as Mosquitto does) and forwarded as
/// published: the message reaches an online subscriber and one that is offline
/// (v5 3.3.2.3.3 leaves 0 undefined).
#[test]
fn message_expiry_interval_zero_is_no_expiry_v5_3_3_2_3_3() {
    let mut h = Harness::quiet();
    let (online, _) = connect_v5(&mut h, "online", |_| {});
    h.subscribe(online, "e/zero", QoS::AtLeastOnce);
    let (offline, _) = connect_v5(&mut h, "offline", persistent(600));
    h.subscribe(offline, "e/zero", QoS::AtLeastOnce);
    h.drop_connection(offline);
    let (publisher, _) = connect_v5(&mut h, "pub", |_| {});
    let mut message = publish("e/zero", b"now", QoS::AtLeastOnce, false, 1);
    message.properties.message_expiry_interval = Some(0);
    h.send(publisher, Packet::Publish(message));
    let got = h.publishes(online);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].properties.message_expiry_interval, Some(0));
    h.advance(Duration::from_secs(5));
    let (back, connack) = connect_v5(&mut h, "offline", persistent(600));
    assert!(connack.session_present);
    assert_eq!(h.publishes(back).len(), 1, "queued, not expired");
}

/// A client that publishes QoS 1 without reading its PUBACKs is not read from once its
/// answers pile up (`Broker::wants_read`), so its write buffer stays bounded; reading the
/// answers lets it go on.
#[test]
fn client_not_reading_its_acks_is_paused_not_buffered_without_bound() {
    let mut h = Harness::quiet_with(|c| c.max_pending_write_bytes = 64);
    let connection = h.broker.handle_connection_opened(h.now);
    let connect = Packet::Connect(Box::new(connect_packet(V3_1_1, "greedy")));
    let mut input = BytesMut::from(&encode(V3_1_1, &connect)[..]);
    h.broker.handle_read(h.now, connection, &mut input);
    let mut reads = 0;
    // The adapter reads only while the broker wants it, and never pulls the answers.
    for id in 1..=1000u16 {
        if !h.broker.wants_read(connection) {
            break;
        }
        let p = Packet::Publish(publish("nobody", b"x", QoS::AtLeastOnce, false, id));
        input.extend_from_slice(&encode(V3_1_1, &p));
        h.broker.handle_read(h.now, connection, &mut input);
        reads += 1;
    }
    assert!(reads < 1000, "the broker never asked to pause");
    assert!(!h.broker.wants_read(connection));
    while h.broker.poll_event().is_some() {}
    let answers = h
        .broker
        .poll_transmit(h.now, connection)
        .expect("CONNACK and PUBACKs");
    assert!(
        answers.len() <= 4 * 64 + 4,
        "write buffer bounded: {}",
        answers.len()
    );
    assert!(
        h.broker.wants_read(connection),
        "reading the answers resumes it"
    );
}
