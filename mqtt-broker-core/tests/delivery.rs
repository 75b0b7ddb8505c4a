//! Message delivery and flow control: QoS 0/1/2 in both directions, packet identifiers,
//! exactly-once reception, ordering, session resume, Receive Maximum and the inflight
//! window, bounded queues, the write buffer and overlapping subscriptions.
//!
//! Normative ids are from MQTT 5.0 ("v5") or MQTT 3.1.1 ("v3"); where they differ both
//! are named. Each test says which one it checks.

mod harness;

use std::num::NonZeroU16;

use harness::*;
use mqtt_broker_core::CloseReason;
use mqtt_codec::{
    Connect, Packet, ProtocolVersion::*, Publish, PublishAck, QoS, ReasonCode, SubscriptionOptions,
};

// ---- Helpers ----

/// Message `m{i}` to `topic` at `qos`, with packet id `i + 1` (at QoS 1/2).
fn nth(topic: &str, i: u16, qos: QoS) -> Packet {
    Packet::Publish(publish(
        topic,
        format!("m{i}").as_bytes(),
        qos,
        false,
        i + 1,
    ))
}

/// `{prefix}{i}` for each `i` in `range` (the payloads [`nth`] sends, with prefix "m").
fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

/// Subscriber `sub` (v5, connected with `tweak`, which sets Receive Maximum 1; QoS 2 on `t`)
/// has QoS 2 message "a" in flight and "b" waiting behind it; returns the subscriber and the
/// packet id of "a".
fn qos2_a_in_flight_b_waiting(
    h: &mut Harness,
    tweak: impl FnOnce(&mut Connect),
) -> (ClientId, u16) {
    let (sub, publisher) = v5_sub_and_pub(h, tweak, "t", QoS::ExactlyOnce);
    h.publish(publisher, "t", b"a", QoS::ExactlyOnce, false, 1);
    h.publish(publisher, "t", b"b", QoS::ExactlyOnce, false, 2);
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["a"]);
    (sub, id_of(&first[0]))
}

// ---- Client -> broker: acknowledgements ----

/// v3 [MQTT-4.3.2-2] / v5 [MQTT-4.3.2-4]: a QoS 1 PUBLISH is answered with a PUBACK
/// carrying its packet id; v3 PUBACK is exactly 4 bytes.
#[test]
fn qos1_publish_gets_puback_with_its_packet_id_mqtt_4_3_2_4() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V5);
        h.subscribe(sub, "t", QoS::AtLeastOnce);
        let publisher = h.connect("pub", version);
        h.clients[publisher].raw.clear();
        h.publish(publisher, "t", b"hello", QoS::AtLeastOnce, false, 0x0107);
        let got = h.drain(publisher);
        assert_eq!(got, [puback(0x0107)], "{version:?}");
        if version == V3_1_1 {
            assert_eq!(h.clients[publisher].raw, [0x40, 0x02, 0x01, 0x07]);
        }
        let delivered = h.publishes(sub);
        assert_eq!(texts(&delivered), ["hello"]);
    }
}

/// v3 [MQTT-4.3.3-2] / v5 [MQTT-4.3.3-8], [MQTT-4.3.3-11]: QoS 2 from a client:
/// PUBREC, then PUBCOMP for the PUBREL, same packet id; the id is held until PUBREL.
#[test]
fn qos2_publish_pubrec_pubrel_pubcomp_mqtt_4_3_3_8_and_4_3_3_11() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V3_1_1);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", version);
        h.publish(publisher, "t", b"once", QoS::ExactlyOnce, false, 42);
        assert_eq!(h.drain(publisher), [pubrec(42)], "{version:?}");
        assert_eq!(h.broker.session_info("pub").unwrap().awaiting_pubrel, 1);
        h.send(publisher, pubrel(42));
        assert_eq!(h.drain(publisher), [pubcomp(42)], "{version:?}");
        assert_eq!(h.broker.session_info("pub").unwrap().awaiting_pubrel, 0);
        let delivered = h.publishes(sub);
        assert_eq!(texts(&delivered), ["once"]);
        assert_eq!(delivered[0].qos, QoS::ExactlyOnce);
    }
}

/// v5 [MQTT-4.3.3-10] / v3 [MQTT-4.3.3-2]: a repeated QoS 2 PUBLISH (DUP 1, same id)
/// before PUBREL gets PUBREC again and is not forwarded again.
#[test]
fn repeated_qos2_publish_before_pubrel_not_forwarded_again_mqtt_4_3_3_10() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V5);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", version);
        h.publish(publisher, "t", b"m", QoS::ExactlyOnce, false, 9);
        assert_eq!(h.drain(publisher), [pubrec(9)]);
        assert_eq!(h.publishes(sub).len(), 1);

        for _ in 0..2 {
            let mut again = publish("t", b"m", QoS::ExactlyOnce, false, 9);
            again.dup = true;
            h.send(publisher, Packet::Publish(again));
            assert_eq!(h.drain(publisher), [pubrec(9)], "{version:?}: PUBREC again");
            assert!(h.drain(sub).is_empty(), "{version:?}: forwarded twice");
        }
        // Even without DUP the id still names the same message until PUBREL.
        h.publish(publisher, "t", b"m", QoS::ExactlyOnce, false, 9);
        assert_eq!(h.drain(publisher), [pubrec(9)]);
        assert!(h.drain(sub).is_empty(), "{version:?}: forwarded twice");
        assert_eq!(h.broker.session_info("pub").unwrap().awaiting_pubrel, 1);
        assert!(!h.is_gone(publisher));
    }
}

/// v5 [MQTT-4.3.3-12] / v3 [MQTT-4.3.3-2]: after PUBCOMP, a PUBLISH with the same packet
/// id is a new application message.
#[test]
fn qos2_packet_id_is_new_again_after_pubrel_mqtt_4_3_3_12() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V3_1_1);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", version);
        for payload in ["first", "second"] {
            h.publish(
                publisher,
                "t",
                payload.as_bytes(),
                QoS::ExactlyOnce,
                false,
                3,
            );
            h.send(publisher, pubrel(3));
            assert_eq!(h.drain(publisher), [pubrec(3), pubcomp(3)]);
        }
        let delivered = h.publishes(sub);
        assert_eq!(texts(&delivered), ["first", "second"], "{version:?}");
    }
}

/// v5 [MQTT-4.3.2-5] / v3 [MQTT-4.3.2-2]: after PUBACK, a QoS 1 PUBLISH with the same id
/// is a new message, whatever its DUP flag.
#[test]
fn qos1_packet_id_reused_after_puback_is_new_message_mqtt_4_3_2_5() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V5);
        h.subscribe(sub, "t", QoS::AtLeastOnce);
        let publisher = h.connect("pub", version);
        h.publish(publisher, "t", b"a", QoS::AtLeastOnce, false, 5);
        let mut second = publish("t", b"b", QoS::AtLeastOnce, false, 5);
        second.dup = true;
        h.send(publisher, Packet::Publish(second));
        assert_eq!(h.drain(publisher), [puback(5), puback(5)]);
        assert_eq!(texts(&h.publishes(sub)), ["a", "b"], "{version:?}");
    }
}

/// v5 [MQTT-4.3.3-11] with reason 0x92 (v5 3.7.2.1): PUBREL for an unknown packet id is
/// still answered with PUBCOMP (0x92 Packet Identifier not found in v5).
#[test]
fn pubrel_for_unknown_id_gets_pubcomp_0x92_mqtt_4_3_3_11() {
    unknown_id_is_answered(pubrel, Packet::PubComp, 77);
}

/// v5 [MQTT-4.3.3-4] with reason 0x92 (v5 3.6.2.1): a PUBREC for a packet id the broker
/// never sent is answered with PUBREL 0x92 (v3: a plain PUBREL), the connection stays.
#[test]
fn pubrec_for_unknown_id_gets_pubrel_0x92_mqtt_4_3_3_4() {
    unknown_id_is_answered(pubrec, Packet::PubRel, 300);
}

/// A v5 client, then a 3.1.1 one, sends `sent` for packet id `id`, which names no flow: the
/// broker answers `answer` with 0x92 Packet Identifier not found (3.1.1: a plain one), and
/// the connection stays.
fn unknown_id_is_answered(sent: fn(u16) -> Packet, answer: fn(PublishAck) -> Packet, id: u16) {
    for (version, reason) in [
        (V5, ReasonCode::PacketIdentifierNotFound),
        (V3_1_1, ReasonCode::Success),
    ] {
        let mut h = Harness::quiet();
        let c = h.connect("c", version);
        h.send(c, sent(id));
        assert_eq!(h.drain(c), [answer(ack_packet(id, reason))], "{version:?}");
        assert!(!h.is_gone(c), "{version:?}");
    }
}

/// v3 [MQTT-4.6.0-2], [MQTT-4.6.0-3] (followed by the server, v3 [MQTT-4.6.0-6]): PUBACKs
/// and PUBRECs go out in the order the PUBLISH packets arrived.
#[test]
fn acks_sent_in_order_of_receipt_mqtt_4_6_0_2_and_4_6_0_3() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", V5);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", version);
        let ids = [30u16, 10, 20, 5];
        let burst = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let qos = if i % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                Packet::Publish(publish("t", b"x", qos, false, id))
            })
            .collect();
        h.send_burst(publisher, burst);
        assert_eq!(
            h.drain(publisher),
            [puback(30), pubrec(10), puback(20), pubrec(5),],
            "{version:?}"
        );
    }
}

// ---- Broker -> client: QoS flows and packet ids ----

/// v5 [MQTT-4.3.2-1..3], [MQTT-2.2.1-4] / v3 [MQTT-4.3.2-1], [MQTT-2.3.1-4]: the broker
/// sends QoS 1 with a non-zero id and DUP 0, keeps it until PUBACK, then forgets it.
#[test]
fn broker_qos1_delivery_held_until_puback_mqtt_4_3_2_3() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", version);
        h.subscribe(sub, "t", QoS::AtLeastOnce);
        let publisher = h.connect("pub", V5);
        h.publish(publisher, "t", b"p", QoS::AtLeastOnce, false, 1);
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
        assert!(!got[0].dup, "first delivery has DUP 0 [MQTT-4.3.2-2]");
        assert!(!got[0].retain);
        let id = id_of(&got[0]);
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 1);
        // A PUBACK for some other id changes nothing.
        h.send(sub, puback(id.wrapping_add(1).max(1)));
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 1);
        h.send(sub, puback(id));
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 0);
        assert!(h.drain(sub).is_empty(), "{version:?}");
    }
}

/// v5 [MQTT-4.3.3-3..5] / v3 [MQTT-4.3.3-1]: the broker sends QoS 2, answers PUBREC with
/// a PUBREL with the same id, keeps the id until PUBCOMP, then forgets the message (a
/// persistent session resumed afterwards gets nothing again).
#[test]
fn broker_qos2_flow_pubrel_after_pubrec_forget_after_pubcomp_mqtt_4_3_3_4() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let (sub, _) = h.connect_persistent("sub", version);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V3_1_1);
        h.publish(publisher, "t", b"two", QoS::ExactlyOnce, false, 1);
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::ExactlyOnce);
        assert!(!got[0].dup);
        let id = id_of(&got[0]);

        h.send(sub, pubrec(id));
        assert_eq!(h.drain(sub), [pubrel(id)], "{version:?}");
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 1);
        h.send(sub, pubcomp(id));
        assert!(h.drain(sub).is_empty());
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 0);

        h.drop_connection(sub);
        let (sub, present) = h.connect_persistent("sub", version);
        assert!(present);
        assert!(
            h.drain(sub).is_empty(),
            "{version:?}: completed message re-sent"
        );
    }
}

/// v5 [MQTT-3.8.4-8] / v3 [MQTT-3.8.4-6]: delivered QoS = min(published QoS, granted QoS);
/// QoS 0 deliveries carry no packet id (v3 [MQTT-2.3.1-5]).
#[test]
fn delivered_qos_is_min_of_published_and_granted_mqtt_3_8_4_8() {
    let all = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let subs: Vec<ClientId> = all
            .iter()
            .map(|&granted| {
                let c = h.connect(&format!("sub{}", granted as u8), version);
                h.subscribe(c, "q/t", granted);
                c
            })
            .collect();
        let publisher = h.connect("pub", version);
        for (i, &published) in all.iter().enumerate() {
            h.publish(publisher, "q/t", b"m", published, false, 10 + i as u16);
            for (&c, &granted) in subs.iter().zip(all.iter()) {
                let got = h.publishes(c);
                assert_eq!(
                    got.len(),
                    1,
                    "{version:?} pub {published:?} sub {granted:?}"
                );
                let expected = published.min(granted);
                assert_eq!(
                    got[0].qos, expected,
                    "{version:?} pub {published:?} sub {granted:?}"
                );
                assert_eq!(got[0].packet_id.is_some(), expected > QoS::AtMostOnce);
                h.ack(c, &got[0]);
            }
        }
    }
}

/// v5 [MQTT-2.2.1-4] / v3 [MQTT-2.3.1-1], [MQTT-2.3.1-4]: packet ids of messages in
/// flight at the same time are non-zero and all different.
#[test]
fn inflight_packet_ids_are_nonzero_and_unique_mqtt_2_2_1_4() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", version);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V5);
        for i in 0..40u16 {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            h.publish(publisher, "t", b"x", qos, false, i + 1);
            if qos == QoS::ExactlyOnce {
                h.send(publisher, pubrel(i + 1));
            }
        }
        let got = h.publishes(sub);
        assert_eq!(got.len(), 40);
        let mut ids: Vec<u16> = got.iter().map(id_of).collect();
        assert!(ids.iter().all(|&id| id != 0));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 40, "{version:?}: a packet id was used twice");
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 40);
    }
}

/// v5 [MQTT-2.2.1-4] and the reuse rule of v5 4.3.2 / v3 [MQTT-2.3.1-3]: ids are reused
/// only after their final ack; running past 65535 wraps to 1 and skips an id still in
/// flight.
#[test]
fn packet_ids_wrap_after_65535_and_skip_inflight_mqtt_2_2_1_4() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);

    // The first message stays unacknowledged the whole time.
    h.publish(publisher, "t", b"held", QoS::AtLeastOnce, false, 1);
    let held = id_of(&h.publishes(sub)[0]);

    let mut seen_max = false;
    let mut wrapped = false;
    let mut previous = held;
    for _ in 0..65_540u32 {
        h.publish(publisher, "t", b"x", QoS::AtLeastOnce, false, 1);
        h.clients[publisher].inbox.clear();
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1);
        let id = id_of(&got[0]);
        assert_ne!(id, held, "id {held} reused while still in flight");
        if previous == u16::MAX {
            wrapped = true;
        }
        seen_max |= id == u16::MAX;
        previous = id;
        h.send(sub, puback(id));
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 1);
    }
    assert!(seen_max, "id 65535 never used");
    assert!(wrapped, "ids did not wrap around");
    assert!(!h.is_gone(sub));
}

/// v5 [MQTT-4.3.3-4], [MQTT-4.4.0-2], 4.9 (send quota): a PUBREC with a reason code of
/// 0x80 or more ends the QoS 2 flow: no PUBREL, the message is acknowledged (never
/// re-sent), and its window slot is free.
#[test]
fn pubrec_with_error_ends_flow_without_pubrel_v5_mqtt_4_4_0_2() {
    let mut h = Harness::quiet();
    let (sub, id) = qos2_a_in_flight_b_waiting(&mut h, persistent_receive_maximum(1));
    h.send(
        sub,
        Packet::PubRec(ack_packet(id, ReasonCode::UnspecifiedError)),
    );
    let after = h.drain(sub);
    assert!(
        !after.iter().any(|p| matches!(p, Packet::PubRel(_))),
        "PUBREL after an error PUBREC: {after:?}"
    );
    // The slot is free: the next message goes out.
    assert_eq!(texts(&publishes_in(&after)), ["b"]);
    assert_eq!(h.broker.session_info("sub").unwrap().inflight, 1);

    // On resume only "b" is unacknowledged.
    h.drop_connection(sub);
    let (sub, connack) = connect_v5(&mut h, "sub", persistent_receive_maximum(10));
    assert!(connack.session_present);
    let resent = h.publishes(sub);
    assert_eq!(texts(&resent), ["b"]);
    assert!(resent[0].dup);
}

/// v5 [MQTT-4.4.0-2]: a PUBACK with an error reason code still acknowledges the message;
/// it is not re-sent on resume.
#[test]
fn puback_with_error_acknowledges_message_v5_mqtt_4_4_0_2() {
    let mut h = Harness::quiet();
    let (sub, publisher) = v5_sub_and_pub(&mut h, persistent(u32::MAX), "t", QoS::AtLeastOnce);
    h.publish(publisher, "t", b"a", QoS::AtLeastOnce, false, 1);
    let id = id_of(&h.publishes(sub)[0]);
    h.send(
        sub,
        Packet::PubAck(ack_packet(id, ReasonCode::ImplementationSpecificError)),
    );
    assert_eq!(h.broker.session_info("sub").unwrap().inflight, 0);
    h.drop_connection(sub);
    let (sub, connack) = connect_v5(&mut h, "sub", persistent(u32::MAX));
    assert!(connack.session_present);
    assert!(h.drain(sub).is_empty());
}

/// v3 [MQTT-3.3.1-3] (v5 [MQTT-3.3.1-3]): the DUP flag of an incoming PUBLISH is not
/// propagated; a first delivery to the subscriber has DUP 0.
#[test]
fn incoming_dup_not_propagated_mqtt_3_3_1_3() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", version);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", version);
        let mut p = publish("t", b"d", QoS::AtLeastOnce, false, 8);
        p.dup = true;
        h.send(publisher, Packet::Publish(p));
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1);
        assert!(!got[0].dup, "{version:?}: DUP propagated");
    }
}

// ---- Ordering ----

/// v5 [MQTT-4.6.0-5], [MQTT-4.6.0-6] / v3 [MQTT-4.6.0-6]: messages from one publisher on
/// one topic arrive in order at each QoS, also when most wait behind a full window.
#[test]
fn per_topic_order_kept_at_each_qos_behind_full_window_mqtt_4_6_0_6() {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut h = Harness::quiet();
        let (sub, _) = connect_v5(&mut h, "sub", receive_maximum(2));
        h.subscribe(sub, "ordered", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V3_1_1);
        let burst = (0..30u16).map(|i| nth("ordered", i, qos)).collect();
        h.send_burst(publisher, burst);
        if qos == QoS::ExactlyOnce {
            for i in 0..30u16 {
                h.send(publisher, pubrel(i + 1));
            }
        }
        let got = receive_all_within(&mut h, sub, 2);
        assert_eq!(texts(&got), names("m", 0..30), "{qos:?}");
        assert!(got.iter().all(|p| p.qos == qos && !p.dup));
    }
}

/// 3.1.1 ordering with `config.max_inflight` as the window (v3 [MQTT-4.6.0-6]).
#[test]
fn order_kept_for_v3_subscriber_with_small_max_inflight_mqtt_4_6_0_6() {
    let mut h = Harness::quiet_with(|c| c.max_inflight = 3);
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "o", QoS::ExactlyOnce);
    let publisher = h.connect("pub", V3_1_1);
    for i in 0..25u16 {
        h.send(publisher, nth("o", i, QoS::ExactlyOnce));
        h.send(publisher, pubrel(i + 1));
    }
    let got = receive_all_within(&mut h, sub, 3);
    assert_eq!(texts(&got), names("m", 0..25));
}

/// Broker doc [MQTT-4.6.0-6] (stricter than the spec, which orders per topic and QoS; v3
/// 4.6 non-normative comment): a QoS 0 message does not overtake QoS 1 messages queued
/// before it on the same topic.
#[test]
fn qos0_does_not_overtake_queued_qos1_mqtt_4_6_0_6() {
    let mut h = Harness::quiet();
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(1), "t", QoS::AtLeastOnce);
    h.publish(publisher, "t", b"a", QoS::AtLeastOnce, false, 1);
    h.publish(publisher, "t", b"b", QoS::AtLeastOnce, false, 2);
    h.publish(publisher, "t", b"c", QoS::AtMostOnce, false, 0);
    h.publish(publisher, "t", b"d", QoS::AtLeastOnce, false, 3);
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["a"], "c overtook b");
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!((info.inflight, info.queued), (1, 3));
    h.ack(sub, &first[0]);
    let rest = receive_all_within(&mut h, sub, 1);
    assert_eq!(texts(&rest), ["b", "c", "d"]);
    assert_eq!(rest[1].qos, QoS::AtMostOnce);
}

/// v5 [MQTT-4.6.0-4] (followed by the server, v3 [MQTT-4.6.0-6]): PUBRELs are sent in the
/// order the PUBRECs arrived.
#[test]
fn pubrels_sent_in_order_of_pubrecs_mqtt_4_6_0_4() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let publisher = h.connect("pub", V5);
    for i in 1..=3u16 {
        h.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, i);
    }
    let ids: Vec<u16> = h.publishes(sub).iter().map(id_of).collect();
    assert_eq!(ids.len(), 3);
    let order = [ids[2], ids[0], ids[1]];
    let burst = order.iter().map(|&id| pubrec(id)).collect();
    h.send_burst(sub, burst);
    assert_eq!(
        h.drain(sub),
        order.iter().map(|&id| pubrel(id)).collect::<Vec<_>>()
    );
}

// ---- Session resume ----

/// v3 [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1]: on resume, unacknowledged QoS 1
/// messages are re-sent with DUP 1, their original ids, in the original order, and
/// nothing else is sent.
#[test]
fn resume_resends_unacked_qos1_with_dup_same_ids_same_order_v3_mqtt_4_4_0_1() {
    let mut h = Harness::quiet();
    let (sub, present) = h.connect_persistent("sub", V3_1_1);
    assert!(!present);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    for i in 0..3u16 {
        h.send(publisher, nth("t", i, QoS::AtLeastOnce));
    }
    let original = h.publishes(sub);
    assert_eq!(texts(&original), names("m", 0..3));
    h.drop_connection(sub);

    let (sub, present) = h.connect_persistent("sub", V3_1_1);
    assert!(present, "session present [MQTT-3.2.2-2]");
    let resent: Vec<Publish> = h
        .drain(sub)
        .into_iter()
        .map(|p| match p {
            Packet::Publish(p) => p,
            other => panic!("only PUBLISH re-sent, got {other:?}"),
        })
        .collect();
    assert_eq!(texts(&resent), names("m", 0..3));
    for (again, first) in resent.iter().zip(&original) {
        assert!(again.dup, "DUP 1 on re-delivery [MQTT-3.3.1-1]");
        assert_eq!(again.packet_id, first.packet_id, "same packet id");
        assert_eq!(again.qos, QoS::AtLeastOnce);
    }
    for p in &resent {
        h.ack(sub, p);
    }
    assert_eq!(h.broker.session_info("sub").unwrap().inflight, 0);
}

/// v5 [MQTT-4.4.0-1], [MQTT-4.3.3-6]: on resume a QoS 2 message that had its PUBREC gets
/// its PUBREL again (not the PUBLISH); one without PUBREC gets PUBLISH with DUP 1.
#[test]
fn resume_resends_pubrel_for_pubrec_d_qos2_and_publish_for_others_mqtt_4_4_0_1() {
    for version in [V5, V3_1_1] {
        let mut h = Harness::quiet();
        let (sub, _) = h.connect_persistent("sub", version);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V5);
        h.publish(publisher, "t", b"released", QoS::ExactlyOnce, false, 1);
        h.publish(publisher, "t", b"pending", QoS::ExactlyOnce, false, 2);
        let original = h.publishes(sub);
        assert_eq!(texts(&original), ["released", "pending"]);
        let (a, b) = (id_of(&original[0]), id_of(&original[1]));
        h.send(sub, pubrec(a));
        assert_eq!(h.drain(sub), [pubrel(a)]);
        h.drop_connection(sub);

        let (sub, present) = h.connect_persistent("sub", version);
        assert!(present);
        let got = h.drain(sub);
        assert_eq!(got.len(), 2, "{version:?}: {got:?}");
        assert!(
            got.contains(&pubrel(a)),
            "{version:?}: PUBREL not re-sent: {got:?}"
        );
        let publishes = publishes_in(&got);
        assert_eq!(
            publishes.len(),
            1,
            "{version:?}: PUBLISH re-sent after PUBREL"
        );
        assert_eq!(id_of(&publishes[0]), b);
        assert!(publishes[0].dup);
        assert_eq!(&publishes[0].payload[..], b"pending");

        h.send(sub, pubcomp(a));
        h.send(sub, pubrec(b));
        assert_eq!(h.drain(sub), [pubrel(b)]);
        h.send(sub, pubcomp(b));
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 0);
    }
}

/// v5 / v3 [MQTT-4.4.0-1]: only unacknowledged QoS 1/2 messages are re-sent: not QoS 0
/// ones, not acknowledged ones, not completed QoS 2 ones.
#[test]
fn resume_resends_nothing_else_mqtt_4_4_0_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let (sub, _) = h.connect_persistent("sub", version);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V3_1_1);
        h.publish(publisher, "t", b"zero", QoS::AtMostOnce, false, 0);
        h.publish(publisher, "t", b"acked", QoS::AtLeastOnce, false, 1);
        h.publish(publisher, "t", b"unacked", QoS::AtLeastOnce, false, 2);
        h.publish(publisher, "t", b"done", QoS::ExactlyOnce, false, 3);
        let got = h.publishes(sub);
        assert_eq!(texts(&got), ["zero", "acked", "unacked", "done"]);
        h.ack(sub, &got[1]);
        h.ack(sub, &got[3]);
        let _ = h.drain(sub); // the PUBREL for "done"
        h.drop_connection(sub);

        let (sub, _) = h.connect_persistent("sub", version);
        let again = h.drain(sub);
        assert_eq!(again.len(), 1, "{version:?}: {again:?}");
        let Packet::Publish(p) = &again[0] else {
            panic!("expected PUBLISH, got {again:?}");
        };
        assert_eq!(&p.payload[..], b"unacked");
        assert!(p.dup);
        assert_eq!(p.packet_id, got[2].packet_id);
    }
}

/// v5 [MQTT-4.5.0-1] (session state holds pending QoS 1/2 messages, v5 4.1): messages
/// published while a persistent session is offline are queued and delivered, in order,
/// on reconnect; QoS 0 ones are not queued by default.
#[test]
fn offline_session_gets_queued_qos1_qos2_not_qos0_mqtt_4_5_0_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        h.offline_subscriber("sub", version, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V5);
        h.publish(publisher, "t", b"q0", QoS::AtMostOnce, false, 0);
        h.publish(publisher, "t", b"q1", QoS::AtLeastOnce, false, 1);
        h.publish(publisher, "t", b"q2", QoS::ExactlyOnce, false, 2);
        h.publish(publisher, "t", b"q0b", QoS::AtMostOnce, false, 0);
        let info = h.broker.session_info("sub").unwrap();
        assert!(!info.connected);
        assert_eq!(info.queued, 2, "{version:?}");

        let (sub, present) = h.connect_persistent("sub", version);
        assert!(present);
        let got = h.publishes(sub);
        assert_eq!(texts(&got), ["q1", "q2"], "{version:?}");
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
        assert_eq!(got[1].qos, QoS::ExactlyOnce);
        assert!(got.iter().all(|p| !p.dup), "never sent before: DUP 0");
    }
}

/// `config.queue_qos0_offline` (v5 4.1: "OPTIONALLY QoS 0 messages pending"): QoS 0 is
/// queued for an offline session too, in order with the rest.
#[test]
fn offline_qos0_queued_when_configured_v5_4_1() {
    let mut h = Harness::quiet_with(|c| c.queue_qos0_offline = true);
    h.offline_subscriber("sub", V5, "t", QoS::ExactlyOnce);
    let publisher = h.connect("pub", V5);
    h.publish(publisher, "t", b"a", QoS::AtMostOnce, false, 0);
    h.publish(publisher, "t", b"b", QoS::AtLeastOnce, false, 1);
    h.publish(publisher, "t", b"c", QoS::AtMostOnce, false, 0);
    let (sub, _) = h.connect_persistent("sub", V5);
    let got = h.publishes(sub);
    assert_eq!(texts(&got), ["a", "b", "c"]);
    assert_eq!(
        got.iter().map(|p| p.qos).collect::<Vec<_>>(),
        [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce]
    );
}

/// v5 [MQTT-4.4.0-1] with [MQTT-3.3.4-9]: on resume the re-sent messages come first, with
/// DUP 1, and queued messages follow (DUP 0) only as the window frees.
#[test]
fn resume_resends_inflight_then_queued_within_window_v5_mqtt_4_4_0_1() {
    let mut h = Harness::quiet();
    let (sub, publisher) =
        v5_sub_and_pub(&mut h, persistent_receive_maximum(2), "t", QoS::AtLeastOnce);
    for i in 0..4u16 {
        h.send(publisher, nth("t", i, QoS::AtLeastOnce));
    }
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["m0", "m1"]);
    h.drop_connection(sub);
    h.publish(publisher, "t", b"m4", QoS::AtLeastOnce, false, 9);

    let (sub, connack) = connect_v5(&mut h, "sub", persistent_receive_maximum(2));
    assert!(connack.session_present);
    let resent = h.publishes(sub);
    assert_eq!(texts(&resent), ["m0", "m1"]);
    assert!(resent.iter().all(|p| p.dup));
    assert_eq!(
        resent.iter().map(|p| p.packet_id).collect::<Vec<_>>(),
        first.iter().map(|p| p.packet_id).collect::<Vec<_>>()
    );
    for p in &resent {
        h.ack(sub, p);
    }
    let rest = receive_all_within(&mut h, sub, 2);
    assert_eq!(texts(&rest), ["m2", "m3", "m4"]);
    assert!(rest.iter().all(|p| !p.dup));
}

/// v5 [MQTT-3.1.4-3], [MQTT-4.4.0-1] / v3 [MQTT-3.1.4-2]: a session taken over by a new
/// connection (Clean Start 0) resumes there: unacknowledged messages are re-sent with
/// DUP 1 on the new connection.
#[test]
fn takeover_resumes_inflight_on_new_connection_mqtt_4_4_0_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let (old, _) = h.connect_persistent("sub", version);
        h.subscribe(old, "t", QoS::AtLeastOnce);
        let publisher = h.connect("pub", V5);
        h.publish(publisher, "t", b"m", QoS::AtLeastOnce, false, 1);
        let first = h.publishes(old);
        assert_eq!(first.len(), 1);

        let (new, present) = h.connect_persistent("sub", version);
        assert!(present);
        assert_eq!(h.closed(old), Some(CloseReason::SessionTakenOver));
        if version == V5 {
            assert_eq!(h.drain(old), [disconnect(ReasonCode::SessionTakenOver)]);
        }
        let again = h.publishes(new);
        assert_eq!(again.len(), 1, "{version:?}");
        assert!(again[0].dup);
        assert_eq!(again[0].packet_id, first[0].packet_id);
        h.ack(new, &again[0]);
        assert_eq!(h.broker.session_info("sub").unwrap().inflight, 0);
    }
}

/// v5 [MQTT-3.1.2-4] / v3 [MQTT-3.1.2-6]: Clean Start 1 discards the session, so its
/// unacknowledged and queued messages are not sent to the new connection.
#[test]
fn clean_start_discards_inflight_and_queued_mqtt_3_1_2_4() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet_with(|c| c.max_inflight = 1);
        let (sub, _) = h.connect_persistent("sub", version);
        h.subscribe(sub, "t", QoS::AtLeastOnce);
        let publisher = h.connect("pub", V5);
        h.publish(publisher, "t", b"inflight", QoS::AtLeastOnce, false, 1);
        h.publish(publisher, "t", b"queued", QoS::AtLeastOnce, false, 2);
        assert_eq!(h.publishes(sub).len(), 1);
        h.drop_connection(sub);
        h.publish(publisher, "t", b"offline", QoS::AtLeastOnce, false, 3);

        let sub = h.connect("sub", version);
        assert!(h.drain(sub).is_empty(), "{version:?}");
        let info = h.broker.session_info("sub").unwrap();
        assert_eq!((info.inflight, info.queued, info.subscriptions), (0, 0, 0));
    }
}

/// v5 [MQTT-3.3.4-9] with [MQTT-4.4.0-1]: the Receive Maximum of the new connection
/// bounds the re-sent PUBLISH packets too (send quota is per connection, v5 4.9): with
/// two unacknowledged messages and Receive Maximum 1, one is re-sent, the other after
/// its PUBACK.
#[test]
fn resume_resend_respects_new_receive_maximum_v5_mqtt_3_3_4_9() {
    let mut h = Harness::quiet();
    let (sub, publisher) =
        v5_sub_and_pub(&mut h, persistent_receive_maximum(5), "t", QoS::AtLeastOnce);
    h.publish(publisher, "t", b"a", QoS::AtLeastOnce, false, 1);
    h.publish(publisher, "t", b"b", QoS::AtLeastOnce, false, 2);
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["a", "b"]);
    h.drop_connection(sub);

    let (sub, _) = connect_v5(&mut h, "sub", persistent_receive_maximum(1));
    let resent = h.publishes(sub);
    assert_eq!(
        texts(&resent),
        ["a"],
        "more PUBLISH in flight than Receive Maximum 1"
    );
    assert!(resent[0].dup);
    h.ack(sub, &resent[0]);
    let next = h.publishes(sub);
    assert_eq!(texts(&next), ["b"]);
    assert_eq!(next[0].packet_id, first[1].packet_id);
}

// ---- Flow control: Receive Maximum and the inflight window ----

/// v5 [MQTT-3.3.4-9], [MQTT-4.9.0-2]: with the client's Receive Maximum 2 and 5 messages
/// published, only 2 PUBLISH arrive until the client acknowledges.
#[test]
fn client_receive_maximum_bounds_inflight_v5_mqtt_3_3_4_9() {
    let mut h = Harness::quiet();
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(2), "t", QoS::AtLeastOnce);
    for i in 0..5u16 {
        h.send(publisher, nth("t", i, QoS::AtLeastOnce));
        let info = h.broker.session_info("sub").unwrap();
        assert!(
            info.inflight <= 2,
            "inflight {} above window",
            info.inflight
        );
    }
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["m0", "m1"]);
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!((info.inflight, info.queued), (2, 3));

    h.ack(sub, &first[0]);
    let next = h.publishes(sub);
    assert_eq!(texts(&next), ["m2"], "one PUBACK frees one slot");
    h.ack(sub, &first[1]);
    h.ack(sub, &next[0]);
    let rest = h.publishes(sub);
    assert_eq!(texts(&rest), ["m3", "m4"]);
    assert_eq!(h.broker.session_info("sub").unwrap().queued, 0);
}

/// v5 4.9 send quota ([MQTT-4.9.0-2]): for QoS 2 the slot comes back with PUBCOMP, not
/// with a successful PUBREC.
#[test]
fn qos2_window_slot_freed_by_pubcomp_not_pubrec_v5_mqtt_4_9_0_2() {
    let mut h = Harness::quiet();
    let (sub, id) = qos2_a_in_flight_b_waiting(&mut h, receive_maximum(1));
    h.send(sub, pubrec(id));
    assert_eq!(h.drain(sub), [pubrel(id)], "no new PUBLISH before PUBCOMP");
    h.send(sub, pubcomp(id));
    assert_eq!(texts(&h.publishes(sub)), ["b"]);
}

/// v5 [MQTT-3.3.4-9]: `config.max_inflight` caps a v5 client's larger Receive Maximum.
#[test]
fn max_inflight_caps_client_receive_maximum_v5_mqtt_3_3_4_9() {
    let mut h = Harness::quiet_with(|c| c.max_inflight = 3);
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(50), "t", QoS::AtLeastOnce);
    for i in 0..6u16 {
        h.publish(publisher, "t", b"x", QoS::AtLeastOnce, false, i + 1);
    }
    assert_eq!(h.publishes(sub).len(), 3);
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!((info.inflight, info.queued), (3, 3));
}

/// v3 (no Receive Maximum; v3 4.6 non-normative "in-flight window"): `config.max_inflight`
/// bounds what a 3.1.1 client has unacknowledged.
#[test]
fn max_inflight_bounds_v3_client_mqtt_4_6_0_6() {
    let mut h = Harness::quiet_with(|c| c.max_inflight = 2);
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let publisher = h.connect("pub", V3_1_1);
    for i in 0..5u16 {
        h.send(publisher, nth("t", i, QoS::AtLeastOnce));
    }
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["m0", "m1"]);
    assert_eq!(h.broker.session_info("sub").unwrap().inflight, 2);
    h.ack(sub, &first[1]);
    assert_eq!(texts(&h.publishes(sub)), ["m2"]);
}

/// v5 [MQTT-3.3.4-10], [MQTT-4.9.0-3]: with the window full, the broker still answers
/// every other packet at once (PINGRESP, SUBACK, UNSUBACK, PUBACK).
#[test]
fn full_window_does_not_delay_other_packets_v5_mqtt_3_3_4_10() {
    let mut h = Harness::quiet();
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(1), "t", QoS::AtLeastOnce);
    for i in 0..3u16 {
        h.publish(publisher, "t", b"x", QoS::AtLeastOnce, false, i + 1);
    }
    assert_eq!(h.publishes(sub).len(), 1);
    h.send(sub, Packet::PingReq);
    assert_eq!(h.drain(sub), [Packet::PingResp]);
    assert_eq!(
        h.subscribe(sub, "other", QoS::AtMostOnce),
        [ReasonCode::Success]
    );
    assert_eq!(h.unsubscribe(sub, "other"), [ReasonCode::Success]);
    h.publish(sub, "elsewhere", b"y", QoS::AtLeastOnce, false, 4);
    assert_eq!(
        h.drain(sub),
        [Packet::PubAck(ack_packet(
            4,
            ReasonCode::NoMatchingSubscribers
        ))]
    );
}

/// v5 3.2.2.3.3 Receive Maximum in CONNACK (the server's limit the client must follow,
/// [MQTT-3.3.4-7]): `config.receive_maximum` is announced; the default 65,535 is left out.
#[test]
fn connack_carries_broker_receive_maximum_v5_mqtt_3_3_4_7() {
    let mut h = Harness::quiet_with(|c| c.receive_maximum = 3);
    let (_, connack) = connect_v5(&mut h, "a", |_| {});
    assert_eq!(connack.properties.receive_maximum, NonZeroU16::new(3));

    let mut h = Harness::quiet();
    let (_, connack) = connect_v5(&mut h, "b", |_| {});
    assert_eq!(connack.properties.receive_maximum, None);
}

/// v5 [MQTT-3.3.4-7] (with 3.3.4: "the Server uses a DISCONNECT packet with Reason Code
/// 0x93"): a v5 client with more unacknowledged QoS 2 publishes than the broker's Receive
/// Maximum is disconnected with 0x93; the message over the limit is not forwarded and
/// other clients are unaffected (conformance 35a).
#[test]
fn client_exceeding_broker_receive_maximum_gets_disconnect_0x93_v5_mqtt_3_3_4_7() {
    let mut h = Harness::quiet_with(|c| c.receive_maximum = 2);
    let sub = h.connect("sub", V5);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let publisher = h.connect("pub", V5);
    let other = h.connect("other", V5);
    for id in 1..=2u16 {
        h.publish(publisher, "t", b"ok", QoS::ExactlyOnce, false, id);
        assert_eq!(h.drain(publisher), [pubrec(id)]);
    }
    h.publish(publisher, "t", b"over", QoS::ExactlyOnce, false, 3);
    let got = h.drain(publisher);
    assert_eq!(got, [disconnect(ReasonCode::ReceiveMaximumExceeded)]);
    assert_eq!(
        h.closed(publisher),
        Some(CloseReason::ProtocolViolation(
            ReasonCode::ReceiveMaximumExceeded
        ))
    );
    assert_eq!(texts(&h.publishes(sub)), ["ok", "ok"]);

    // The rest of the broker carries on.
    assert!(!h.is_gone(sub) && !h.is_gone(other));
    h.publish(other, "t", b"still", QoS::ExactlyOnce, false, 1);
    assert_eq!(h.drain(other), [pubrec(1)]);
    assert_eq!(texts(&h.publishes(sub)), ["still"]);
}

/// v5 [MQTT-3.3.4-7]: the same for QoS 1 while PUBACKs wait for a durable store; and the
/// quota comes back with PUBCOMP: a client staying within it is never disconnected.
#[test]
fn receive_maximum_counts_unacked_qos1_and_returns_with_acks_v5_mqtt_3_3_4_7() {
    let mut h = Harness::quiet_with(|c| {
        c.receive_maximum = 2;
        c.durable = true;
    });
    let (sub, _) = h.connect_persistent("sub", V5);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V5);

    // Within the quota, completing each flow returns it: ten QoS 2 messages, two at a time.
    for pair in 0..5u16 {
        let (a, b) = (pair * 2 + 1, pair * 2 + 2);
        h.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, a);
        h.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, b);
        h.send(publisher, pubrel(a));
        h.send(publisher, pubrel(b));
    }
    assert!(!h.is_gone(publisher));
    let _ = h.drain(publisher);

    // QoS 1 PUBACKs held by the store count against the quota.
    h.hold_store = true;
    h.publish(publisher, "t", b"1", QoS::AtLeastOnce, false, 21);
    h.publish(publisher, "t", b"2", QoS::AtLeastOnce, false, 22);
    assert!(
        h.drain(publisher).is_empty(),
        "PUBACK before the store confirmed"
    );
    h.publish(publisher, "t", b"3", QoS::AtLeastOnce, false, 23);
    assert_eq!(
        h.closed(publisher),
        Some(CloseReason::ProtocolViolation(
            ReasonCode::ReceiveMaximumExceeded
        ))
    );
    assert!(!h.is_gone(sub));
}

/// v5 [MQTT-4.3.3-10] with [MQTT-3.3.4-7]: a repeated QoS 2 PUBLISH awaiting PUBREL is
/// the same message and does not use another unit of the Receive Maximum.
#[test]
fn repeated_qos2_publish_does_not_count_against_receive_maximum_v5_mqtt_4_3_3_10() {
    let mut h = Harness::quiet_with(|c| c.receive_maximum = 1);
    let publisher = h.connect("pub", V5);
    h.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, 1);
    let mut again = publish("t", b"x", QoS::ExactlyOnce, false, 1);
    again.dup = true;
    h.send(publisher, Packet::Publish(again));
    assert!(!h.is_gone(publisher), "{:?}", h.closed(publisher));
    h.send(publisher, pubrel(1));
    h.publish(publisher, "t", b"y", QoS::ExactlyOnce, false, 2);
    assert!(!h.is_gone(publisher), "{:?}", h.closed(publisher));
    let got: Vec<(&str, u16)> = h.drain(publisher).iter().map(kind).collect();
    assert_eq!(
        got,
        [("PUBREC", 1), ("PUBREC", 1), ("PUBCOMP", 1), ("PUBREC", 2)]
    );
}

/// v3 has no Receive Maximum: a 3.1.1 client with many QoS 2 flows open is not
/// disconnected for it (v3 [MQTT-4.3.3-2] holds each id until PUBREL).
#[test]
fn v3_client_not_limited_by_receive_maximum_mqtt_4_3_3_2() {
    let mut h = Harness::quiet_with(|c| c.receive_maximum = 2);
    let publisher = h.connect("pub", V3_1_1);
    for id in 1..=10u16 {
        h.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, id);
    }
    assert!(!h.is_gone(publisher));
    assert_eq!(h.drain(publisher).len(), 10);
    assert_eq!(h.broker.session_info("pub").unwrap().awaiting_pubrel, 10);
}

// ---- Bounded queues ----

/// `config.max_queued_messages` (v5 4.1 non-normative: stored state has limits; the
/// window itself is v5 [MQTT-3.3.4-9]): with the queue full of QoS 1 messages, new ones
/// are dropped and counted; the window and the queue never exceed their bounds.
#[test]
fn full_queue_drops_new_messages_and_counts_them_mqtt_3_3_4_9() {
    let mut h = Harness::quiet_with(|c| c.max_queued_messages = 2);
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(1), "t", QoS::AtLeastOnce);
    for i in 0..5u16 {
        h.send(publisher, nth("t", i, QoS::AtLeastOnce));
        let info = h.broker.session_info("sub").unwrap();
        assert!(info.inflight <= 1);
        assert!(info.queued_counted <= 2);
    }
    assert_eq!(h.broker.stats().publish_dropped, 2);
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!((info.inflight, info.queued_counted), (1, 2));
    let got = receive_all_within(&mut h, sub, 1);
    assert_eq!(texts(&got), ["m0", "m1", "m2"]);
}

/// Queue limits (v5 4.1: QoS 0 messages pending are only OPTIONALLY session state, QoS
/// 1/2 ones are [MQTT-4.5.0-1]): when full, queued QoS 0 messages are dropped first to
/// make room for a QoS 1 message; a new QoS 0 message finding no room is dropped.
#[test]
fn full_queue_drops_queued_qos0_first_mqtt_4_5_0_1() {
    let mut h = Harness::quiet_with(|c| c.max_queued_messages = 3);
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(1), "t", QoS::AtLeastOnce);
    let sends: [(&[u8], QoS); 6] = [
        (b"a", QoS::AtLeastOnce), // in flight
        (b"x", QoS::AtLeastOnce), // queued
        (b"b", QoS::AtMostOnce),  // queued behind x
        (b"c", QoS::AtMostOnce),  // queued: the queue is full
        (b"e", QoS::AtLeastOnce), // drops b, the oldest QoS 0
        (b"f", QoS::AtMostOnce),  // no room: dropped
    ];
    for (i, (payload, qos)) in sends.into_iter().enumerate() {
        h.publish(publisher, "t", payload, qos, false, i as u16 + 1);
    }
    assert_eq!(h.broker.stats().publish_dropped, 2);
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!((info.inflight, info.queued_counted), (1, 3));
    let got = receive_all_within(&mut h, sub, 1);
    assert_eq!(texts(&got), ["a", "x", "c", "e"]);
}

/// `config.max_queued_bytes` (v5 4.1 non-normative: storage limits): the payload bytes
/// queued for a session are bounded too; the window (v3: `max_inflight`) is not counted.
#[test]
fn queue_bounded_by_bytes_v5_4_1() {
    let mut h = Harness::quiet_with(|c| c.max_queued_bytes = 25);
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    // Fill the window of 100 first, so the rest queues.
    for i in 0..100u16 {
        h.publish(publisher, "t", b"w", QoS::AtLeastOnce, false, i + 1);
    }
    assert_eq!(h.publishes(sub).len(), 100);
    for i in 0..4u16 {
        h.publish(
            publisher,
            "t",
            format!("ten-bytes{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
            200 + i,
        );
    }
    assert_eq!(h.broker.stats().publish_dropped, 2);
    assert_eq!(h.broker.session_info("sub").unwrap().queued_counted, 2);
}

/// Offline persistent sessions obey the same bound (v5 [MQTT-4.5.0-1] within the storage
/// limits of v5 4.1; conformance: memory growing without bound for offline consumers);
/// the first messages are kept, later ones dropped.
#[test]
fn offline_queue_respects_bound_mqtt_4_5_0_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet_with(|c| c.max_queued_messages = 3);
        h.offline_subscriber("sub", version, "t", QoS::ExactlyOnce);
        let publisher = h.connect("pub", V5);
        for i in 0..5u16 {
            h.send(publisher, nth("t", i, QoS::AtLeastOnce));
            assert!(h.broker.session_info("sub").unwrap().queued_counted <= 3);
        }
        assert_eq!(h.broker.stats().publish_dropped, 2, "{version:?}");
        let (sub, _) = h.connect_persistent("sub", version);
        let got = receive_all_within(&mut h, sub, 100);
        assert_eq!(texts(&got), ["m0", "m1", "m2"], "{version:?}");
    }
}

// ---- Write buffer ----

/// `config.max_pending_write_bytes`: with a tiny write buffer, a burst of 500 QoS 0
/// messages handled in one read waits in the session queue and is sent as bytes are
/// taken; every message arrives, in order (v3 [MQTT-4.6.0-6]).
#[test]
fn small_write_buffer_refills_as_bytes_are_taken_mqtt_4_6_0_6() {
    let mut h = Harness::quiet_with(|c| c.max_pending_write_bytes = 64);
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "burst", QoS::AtMostOnce);
    let publisher = h.connect("pub", V3_1_1);
    let burst = (0..500).map(|i| nth("burst", i, QoS::AtMostOnce)).collect();
    h.send_burst(publisher, burst);
    let got = h.publishes(sub);
    assert_eq!(texts(&got), names("m", 0..500));
    assert_eq!(h.broker.stats().publish_dropped, 0);
    assert_eq!(h.broker.session_info("sub").unwrap().queued, 0);
}

/// The same with QoS 1 messages to a v5 client with a Receive Maximum (v5 [MQTT-3.3.4-9],
/// [MQTT-4.6.0-6]).
#[test]
fn small_write_buffer_with_qos1_window_keeps_order_v5_mqtt_4_6_0_6() {
    let mut h = Harness::quiet_with(|c| c.max_pending_write_bytes = 32);
    let (sub, publisher) = v5_sub_and_pub(&mut h, receive_maximum(10), "b", QoS::AtLeastOnce);
    let burst = (0..200u16).map(|i| nth("b", i, QoS::AtLeastOnce)).collect();
    h.send_burst(publisher, burst);
    let got = receive_all_within(&mut h, sub, 10);
    assert_eq!(texts(&got), names("m", 0..200));
}

// ---- Overlapping subscriptions ----

/// v3 [MQTT-3.3.5-1]: a message matching several subscriptions of one session is
/// delivered respecting the maximum QoS of all matching subscriptions (capped by the
/// published QoS); this broker sends one copy (CONFORMANCE 25).
#[test]
fn overlapping_subscriptions_one_copy_at_highest_qos_v3_mqtt_3_3_5_1() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "a/+", QoS::AtMostOnce);
    h.subscribe(sub, "a/#", QoS::ExactlyOnce);
    h.subscribe(sub, "a/b", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    let cases = [
        ("a/b", QoS::ExactlyOnce, QoS::ExactlyOnce),
        ("a/b", QoS::AtLeastOnce, QoS::AtLeastOnce),
        ("a/b", QoS::AtMostOnce, QoS::AtMostOnce),
        // a/+ (0) and a/# (2) overlap.
        ("a/c", QoS::ExactlyOnce, QoS::ExactlyOnce),
        ("a/c/d", QoS::AtLeastOnce, QoS::AtLeastOnce),
    ];
    for (i, (topic, published, expected)) in cases.into_iter().enumerate() {
        let payload = format!("{topic} at {published:?}");
        publish_done(
            &mut h,
            publisher,
            topic,
            payload.as_bytes(),
            published,
            false,
            i as u16 + 1,
        );
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1, "{payload}: one copy");
        assert_eq!((text(&got[0]), got[0].qos), (payload, expected));
        h.ack(sub, &got[0]);
    }
}

/// v5 [MQTT-3.3.4-2], [MQTT-3.3.4-4]: one copy at the highest QoS of the matching
/// subscriptions, carrying every matching Subscription Identifier.
#[test]
fn overlapping_subscriptions_one_copy_with_all_identifiers_v5_mqtt_3_3_4_2() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    for (id, filter, qos) in [
        (1, "s/+", QoS::AtLeastOnce),
        (2, "s/#", QoS::AtMostOnce),
        (3, "s/x", QoS::AtMostOnce),
    ] {
        subscribe_all(
            &mut h,
            sub,
            &[(filter, SubscriptionOptions::qos(qos))],
            Some(id),
        );
    }
    let publisher = h.connect("pub", V5);
    h.publish(publisher, "s/x", b"m", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(sub);
    assert_eq!(got.len(), 1, "one copy");
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    let mut ids = got[0].properties.subscription_identifiers.clone();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3].map(sub_id).to_vec());

    h.publish(publisher, "s/y/z", b"n", QoS::ExactlyOnce, false, 2);
    let got = h.publishes(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtMostOnce, "only s/# matches");
    assert_eq!(got[0].properties.subscription_identifiers, [sub_id(2)]);
}
