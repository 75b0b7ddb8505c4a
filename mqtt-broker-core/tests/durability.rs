//! The durability hook: with `Config::durable` the broker emits `Record`s for the state that
//! must survive a restart, holds QoS 1/2 acknowledgements until the store confirms them
//! (`handle_stored`), and `Broker::restore` rebuilds a broker that resumes every session.
//!
//! Spec ids are MQTT 5.0 unless marked "v3" (MQTT 3.1.1).

mod harness;

use std::time::Duration;

use harness::*;
use mqtt_broker_core::{MemoryStore, OutgoingRecord, Record, SessionRecord, SubscriptionRecord};
use mqtt_codec::{
    ConnAck, Disconnect, Packet, ProtocolVersion::*, Publish, QoS, ReasonCode, SubscriptionId,
    SubscriptionOptions,
};

// ---- Helpers ----

fn payload(p: &Publish) -> &[u8] {
    &p.payload[..]
}

/// Every record emitted so far.
fn all_records(h: &Harness) -> Vec<Record> {
    h.records.iter().map(|(_, r)| r.clone()).collect()
}

fn session_records(h: &Harness, client: &str) -> Vec<Option<SessionRecord>> {
    h.records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Session { client_id, session } if client_id.as_str() == client => {
                Some(session.clone())
            }
            _ => None,
        })
        .collect()
}

fn outgoing_records(h: &Harness, client: &str) -> Vec<(u64, Option<OutgoingRecord>)> {
    h.records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Outgoing {
                client_id,
                seq,
                delivery,
            } if client_id.as_str() == client => Some((*seq, delivery.clone())),
            _ => None,
        })
        .collect()
}

fn incoming_records(h: &Harness, client: &str) -> Vec<(u16, bool)> {
    h.records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::IncomingQos2 {
                client_id,
                packet_id,
                pending,
            } if client_id.as_str() == client => Some((packet_id.get(), *pending)),
            _ => None,
        })
        .collect()
}

fn retained_records(h: &Harness) -> Vec<(String, Option<Publish>)> {
    h.records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Retained { topic, message } => {
                Some((topic.as_str().to_owned(), message.clone()))
            }
            _ => None,
        })
        .collect()
}

/// What a store holds, by kind: (sessions, retained, outgoing, incoming QoS 2).
fn store_counts(store: &MemoryStore) -> (usize, usize, usize, usize) {
    let mut counts = (0, 0, 0, 0);
    for record in store.records() {
        match record {
            Record::Session { .. } => counts.0 += 1,
            Record::Retained { .. } => counts.1 += 1,
            Record::Outgoing { .. } => counts.2 += 1,
            Record::IncomingQos2 { .. } => counts.3 += 1,
            _ => panic!("unknown record {record:?}"),
        }
    }
    counts
}

/// Answers every QoS 1/2 PUBLISH and PUBREL in `packets` the way a client does.
fn answer_all(h: &mut Harness, c: ClientId, packets: &[Packet]) {
    for packet in packets {
        match packet {
            Packet::Publish(p) if p.qos == QoS::AtLeastOnce => h.send(c, puback(id_of(p))),
            Packet::Publish(p) if p.qos == QoS::ExactlyOnce => h.send(c, pubrec(id_of(p))),
            Packet::PubRel(ack) => h.send(c, pubcomp(ack.packet_id.get())),
            _ => {}
        }
    }
}

/// Answers everything client `c` receives until it receives nothing more.
fn settle(h: &mut Harness, c: ClientId) -> Vec<Packet> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        let packets = h.drain(c);
        if packets.is_empty() {
            return seen;
        }
        answer_all(h, c, &packets);
        seen.extend(packets);
    }
    panic!("client {c} never settles");
}

// ---- Records: retained messages ----

// v3 [MQTT-3.3.1-5] (stored so future subscribers get it), v3 [MQTT-3.3.1-10] (an empty
// retained payload removes it), v3 [MQTT-3.3.1-12] (RETAIN 0 never touches the store).
#[test]
fn retained_set_and_delete_are_recorded_v3_mqtt_3_3_1_5_and_3_3_1_10() {
    let mut h = Harness::durable();
    let p = h.connect("pub", V3_1_1);
    h.publish(p, "r/1", b"on", QoS::AtLeastOnce, true, 1);
    let recorded = retained_records(&h);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, "r/1");
    let stored = recorded[0].1.as_ref().expect("an upsert");
    assert_eq!(payload(stored), b"on");
    assert_eq!(stored.qos, QoS::AtLeastOnce);
    assert!(stored.retain);
    assert_eq!(h.store.len(), 1);

    // RETAIN 0 leaves the store alone.
    h.publish(p, "r/1", b"live", QoS::AtLeastOnce, false, 2);
    assert_eq!(retained_records(&h).len(), 1);

    // The empty payload deletes, and is not itself stored.
    h.publish(p, "r/1", b"", QoS::AtMostOnce, true, 0);
    let recorded = retained_records(&h);
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1], ("r/1".to_owned(), None));
    assert!(h.store.is_empty());

    // Deleting a topic that has nothing retained changes nothing.
    h.publish(p, "r/none", b"", QoS::AtMostOnce, true, 0);
    assert_eq!(retained_records(&h).len(), 2);
    // The publisher's session is clean: nothing else was recorded.
    assert_eq!(all_records(&h).len(), 2);
}

// v5 [MQTT-3.3.1-5]: a retained message replaces the previous one, also at QoS 0; the
// record carries the v5 properties, with the Message Expiry Interval that remained.
#[test]
fn retained_replacement_is_one_key_with_its_properties_v5_mqtt_3_3_1_5() {
    let mut h = Harness::durable();
    let p = h.connect("pub", V5);
    h.publish(p, "r/2", b"first", QoS::AtLeastOnce, true, 1);
    let mut second = publish("r/2", b"second", QoS::AtMostOnce, true, 0);
    second.properties.message_expiry_interval = Some(100);
    second.properties.content_type = Some(string("text/plain"));
    h.send(p, Packet::Publish(second));

    let recorded = retained_records(&h);
    assert_eq!(recorded.len(), 2);
    let last = recorded[1].1.as_ref().expect("an upsert");
    assert_eq!(payload(last), b"second");
    assert_eq!(last.qos, QoS::AtMostOnce);
    assert_eq!(last.properties.message_expiry_interval, Some(100));
    assert_eq!(
        last.properties.content_type.as_ref().map(|s| s.as_str()),
        Some("text/plain")
    );
    // One key: the second replaced the first.
    assert_eq!(h.store.len(), 1);
    let stored: Vec<&Record> = h.store.records().collect();
    match stored[..] {
        [Record::Retained {
            message: Some(p), ..
        }] => assert_eq!(payload(p), b"second"),
        ref other => panic!("expected the retained record, got {other:?}"),
    }
}

// ---- Records: sessions and subscriptions ----

// v3 [MQTT-3.1.2-4]/[MQTT-3.1.2-5]: a Clean Session 0 session outlives its connection, so it
// and its subscriptions are recorded; [MQTT-3.1.2-6]: Clean Session 1 discards it.
#[test]
fn persistent_v3_session_and_subscriptions_are_recorded_mqtt_3_1_2_4() {
    let mut h = Harness::durable();
    let (s, present) = h.connect_persistent("s3", V3_1_1);
    assert!(!present);
    assert_eq!(
        session_records(&h, "s3"),
        [Some(SessionRecord {
            expiry_interval: u32::MAX,
            subscriptions: vec![],
        })]
    );

    h.subscribe(s, "a/#", QoS::AtLeastOnce);
    h.subscribe(s, "b/+", QoS::ExactlyOnce);
    let last = session_records(&h, "s3")
        .pop()
        .flatten()
        .expect("a session");
    assert_eq!(
        last.subscriptions,
        [
            SubscriptionRecord {
                filter: string("a/#"),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
                id: None,
            },
            SubscriptionRecord {
                filter: string("b/+"),
                options: SubscriptionOptions::qos(QoS::ExactlyOnce),
                id: None,
            },
        ]
    );

    h.unsubscribe(s, "a/#");
    let last = session_records(&h, "s3")
        .pop()
        .flatten()
        .expect("a session");
    assert_eq!(last.subscriptions.len(), 1);
    assert_eq!(last.subscriptions[0].filter.as_str(), "b/+");
    assert_eq!(h.store.len(), 1);

    // Clean Session 1 discards the session: its record is deleted [MQTT-3.1.2-6].
    h.drop_connection(s);
    h.connect("s3", V3_1_1);
    assert_eq!(session_records(&h, "s3").last(), Some(&None));
    assert!(h.store.is_empty());
}

// v5 [MQTT-3.1.2-23]: a session with Session Expiry Interval > 0 is stored after the
// connection closes, even when it began with Clean Start 1; the record keeps the expiry, the
// subscription options, the Subscription Identifier [MQTT-3.3.4-3] and the `$share/` prefix.
#[test]
fn persistent_v5_session_records_expiry_options_and_identifiers_mqtt_3_1_2_23() {
    let mut h = Harness::durable();
    let (s, connack) = connect_v5(&mut h, "s5", session_expiry(300));
    assert!(!connack.session_present);
    assert_eq!(
        session_records(&h, "s5"),
        [Some(SessionRecord {
            expiry_interval: 300,
            subscriptions: vec![],
        })]
    );

    let mut options = SubscriptionOptions::qos(QoS::ExactlyOnce);
    options.no_local = true;
    options.retain_as_published = true;
    assert_eq!(
        subscribe_all(&mut h, s, &[("x/+", options)], Some(9)),
        [ReasonCode::GrantedQoS2]
    );
    assert_eq!(
        h.subscribe(s, "$share/g/y/#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    let last = session_records(&h, "s5")
        .pop()
        .flatten()
        .expect("a session");
    assert_eq!(last.expiry_interval, 300);
    assert_eq!(
        last.subscriptions,
        [
            SubscriptionRecord {
                filter: string("$share/g/y/#"),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
                id: None,
            },
            SubscriptionRecord {
                filter: string("x/+"),
                options,
                id: Some(sub_id(9)),
            },
        ]
    );
}

// v5 [MQTT-4.1.0-2]: the Server discards the session state when the connection is closed
// and the Session Expiry Interval has passed; its records (session and queued messages)
// are deleted with it.
#[test]
fn expired_session_deletes_its_records_mqtt_4_1_0_2() {
    let mut h = Harness::durable();
    let (s, _) = connect_v5(&mut h, "s5", persistent(10));
    h.subscribe(s, "q", QoS::AtLeastOnce);
    h.drop_connection(s);
    let p = h.connect("pub", V5);
    h.publish(p, "q", b"m1", QoS::AtLeastOnce, false, 1);
    h.publish(p, "q", b"m2", QoS::ExactlyOnce, false, 2);
    assert_eq!(store_counts(&h.store), (1, 0, 2, 0));

    h.advance(Duration::from_secs(9));
    assert!(h.broker.session_info("s5").is_some());
    assert_eq!(h.store.len(), 3);

    h.advance(Duration::from_secs(1));
    assert!(h.broker.session_info("s5").is_none());
    assert_eq!(session_records(&h, "s5").last(), Some(&None));
    let deleted: Vec<u64> = outgoing_records(&h, "s5")
        .into_iter()
        .filter(|(_, d)| d.is_none())
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(deleted.len(), 2);
    assert!(h.store.is_empty(), "left behind: {:?}", h.store);
}

// Clean sessions (v3 Clean Session 1 [MQTT-3.1.2-6], v5 Session Expiry Interval 0
// [MQTT-3.1.2-23 context]) end with their connection: nothing of theirs is recorded, not
// their subscriptions, not messages to them, not QoS 2 ids they sent.
#[test]
fn clean_sessions_produce_no_records_v3_and_v5() {
    let mut h = Harness::durable();
    let s3 = h.connect("c3", V3_1_1);
    let (s5, _) = connect_v5(&mut h, "c5", |_| {});
    let (r5, _) = connect_v5(&mut h, "r5", persistent(0));
    for c in [s3, s5, r5] {
        h.subscribe(c, "t/#", QoS::ExactlyOnce);
    }
    h.publish(s3, "t/1", b"one", QoS::AtLeastOnce, false, 1);
    h.publish(s5, "t/2", b"two", QoS::ExactlyOnce, false, 2);
    h.publish(r5, "t/3", b"three", QoS::ExactlyOnce, false, 3);
    // Every delivery stays unacknowledged, the QoS 2 publishes unreleased.
    for c in [s3, s5, r5] {
        assert_eq!(h.publishes(c).len(), 3);
    }
    assert_eq!(h.broker.session_info("c5").unwrap().awaiting_pubrel, 1);
    for c in [s3, s5, r5] {
        h.drop_connection(c);
    }
    assert!(
        h.records.is_empty(),
        "clean sessions recorded: {:?}",
        h.records
    );
    assert!(h.store.is_empty());
}

// Deliveries at QoS 0 are never stored: only QoS 1/2 messages are kept for a session
// (v3 [MQTT-3.1.2-5]), and a subscription granted QoS 0 downgrades them (v3 [MQTT-3.8.4-6]).
#[test]
fn qos0_deliveries_are_not_recorded_mqtt_3_1_2_5_v3() {
    let mut h = Harness::durable();
    let (s, _) = h.connect_persistent("s", V3_1_1);
    h.subscribe(s, "q", QoS::AtMostOnce);
    let p = h.connect("pub", V3_1_1);
    h.publish(p, "q", b"zero", QoS::AtMostOnce, false, 0);
    h.publish(p, "q", b"down", QoS::AtLeastOnce, false, 1);
    let got = h.publishes(s);
    assert_eq!(texts(&got), ["zero", "down"]);
    assert!(got.iter().all(|p| p.qos == QoS::AtMostOnce));
    assert!(outgoing_records(&h, "s").is_empty());
    assert_eq!(store_counts(&h.store), (1, 0, 0, 0));
}

// Without `durable`, the broker emits no records at all and never holds an acknowledgement.
#[test]
fn no_records_and_no_held_acks_without_durable() {
    let mut h = Harness::quiet();
    h.hold_store = true;
    let p = h.connect("pub", V3_1_1);
    h.publish(p, "r", b"kept", QoS::AtLeastOnce, true, 1);
    assert_eq!(h.drain(p), [puback(1)]);
    h.offline_subscriber("s", V5, "q/#", QoS::ExactlyOnce);
    h.publish(p, "q/1", b"queued", QoS::ExactlyOnce, false, 2);
    assert_eq!(h.drain(p), [pubrec(2)]);
    let (pp, _) = h.connect_persistent("pp", V3_1_1);
    h.publish(pp, "q/2", b"held?", QoS::ExactlyOnce, false, 3);
    assert_eq!(h.drain(pp), [pubrec(3)]);
    h.send(pp, pubrel(3));
    assert_eq!(h.drain(pp), [pubcomp(3)]);
    assert_eq!(h.broker.session_info("s").unwrap().queued, 2);
    assert!(h.records.is_empty());
    assert!(h.store.is_empty());
}

// ---- Records: messages to persistent sessions ----

// v3 [MQTT-3.1.2-5]: QoS 1 messages for a disconnected persistent session are stored; once
// sent the record names the packet id to re-send with [MQTT-4.4.0-1]; PUBACK ends it
// [MQTT-4.3.2-3].
#[test]
fn outgoing_qos1_recorded_queued_inflight_then_deleted_on_puback_mqtt_3_1_2_5_v3() {
    let mut h = Harness::durable();
    h.offline_subscriber("s", V3_1_1, "q", QoS::AtLeastOnce);
    let p = h.connect("pub", V3_1_1);
    h.publish(p, "q", b"m1", QoS::AtLeastOnce, false, 1);

    let records = outgoing_records(&h, "s");
    assert_eq!(records.len(), 1);
    let (seq, queued) = records[0].clone();
    let queued = queued.expect("an upsert");
    assert_eq!(payload(&queued.publish), b"m1");
    assert_eq!(queued.publish.qos, QoS::AtLeastOnce);
    assert_eq!(queued.publish.packet_id, None, "queued: no packet id yet");
    assert!(!queued.released);

    let (s, present) = h.connect_persistent("s", V3_1_1);
    assert!(present);
    let got = h.publishes(s);
    assert_eq!(texts(&got), ["m1"]);
    let records = outgoing_records(&h, "s");
    assert_eq!(records.len(), 2);
    let (same_seq, inflight) = records[1].clone();
    assert_eq!(same_seq, seq, "one key per message");
    let inflight = inflight.expect("an upsert");
    assert_eq!(inflight.publish.packet_id, got[0].packet_id);
    assert!(!inflight.released);

    h.send(s, puback(id_of(&got[0])));
    assert_eq!(outgoing_records(&h, "s").last(), Some(&(seq, None)));
    assert_eq!(store_counts(&h.store), (1, 0, 0, 0));
}

// [MQTT-4.3.3-4]..[MQTT-4.3.3-6]: after PUBREC the message is released (only PUBREL is ever
// re-sent); the record says so; PUBCOMP deletes it.
#[test]
fn outgoing_qos2_recorded_released_after_pubrec_deleted_on_pubcomp_mqtt_4_3_3_6() {
    let mut h = Harness::durable();
    let (s, _) = h.connect_persistent("s", V5);
    subscribe_all(
        &mut h,
        s,
        &[("q", SubscriptionOptions::qos(QoS::ExactlyOnce))],
        Some(5),
    );
    let p = h.connect("pub", V5);
    h.publish(p, "q", b"m2", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(s);
    assert_eq!(texts(&got), ["m2"]);
    let id = id_of(&got[0]);

    let records = outgoing_records(&h, "s");
    let (seq, sent) = records.last().cloned().expect("a record");
    let sent = sent.expect("an upsert");
    assert_eq!(sent.publish.packet_id, Some(pid(id)));
    assert_eq!(sent.publish.qos, QoS::ExactlyOnce);
    assert_eq!(
        sent.publish.properties.subscription_identifiers,
        [sub_id(5)]
    );
    assert!(!sent.released);

    h.send(s, pubrec(id));
    assert_eq!(h.drain(s), [pubrel(id)]);
    let (released_seq, released) = outgoing_records(&h, "s").pop().expect("a record");
    assert_eq!(released_seq, seq);
    assert!(released.expect("an upsert").released);

    h.send(s, pubcomp(id));
    assert_eq!(outgoing_records(&h, "s").last(), Some(&(seq, None)));
    assert_eq!(store_counts(&h.store), (1, 0, 0, 0));
}

// [MQTT-4.3.3-10] (v3 [MQTT-4.3.3-2]): the receiver keeps the packet id of a QoS 2 PUBLISH
// until PUBREL; for a persistent publisher that state is recorded, and PUBREL deletes it.
#[test]
fn incoming_qos2_recorded_until_pubrel_mqtt_4_3_3_10() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::durable();
        let (pp, _) = h.connect_persistent("pp", version);
        h.publish(pp, "in", b"x", QoS::ExactlyOnce, false, 7);
        let rec = h.drain(pp);
        assert_eq!(kinds(&rec), [("PUBREC", 7)], "{version:?}");
        assert!(matches!(&rec[0], Packet::PubRec(a) if !a.reason_code.is_error()));
        assert_eq!(incoming_records(&h, "pp"), [(7, true)]);
        assert_eq!(h.broker.session_info("pp").unwrap().awaiting_pubrel, 1);

        h.send(pp, pubrel(7));
        assert_eq!(h.drain(pp), [pubcomp(7)]);
        assert_eq!(incoming_records(&h, "pp"), [(7, true), (7, false)]);
        assert_eq!(store_counts(&h.store), (1, 0, 0, 0), "{version:?}");
    }
}

// v5 [MQTT-3.1.2-23], [MQTT-4.1.0-2]: a DISCONNECT that sets the Session Expiry Interval to 0
// ends the session when the connection closes; every record of it must go, including
// messages still in flight and QoS 2 ids awaiting PUBREL.
#[test]
fn disconnect_with_expiry_zero_deletes_all_records_of_the_session_mqtt_3_1_2_23() {
    let mut h = Harness::durable();
    let (s, _) = connect_v5(&mut h, "s5", persistent(600));
    h.subscribe(s, "q", QoS::AtLeastOnce);
    let p = h.connect("pub", V5);
    h.publish(p, "q", b"unacked", QoS::AtLeastOnce, false, 1);
    h.publish(s, "other", b"unreleased", QoS::ExactlyOnce, false, 9);
    assert_eq!(h.publishes(s).len(), 1);
    assert_eq!(store_counts(&h.store), (1, 0, 1, 1));

    let mut disconnect = Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(0);
    h.send(s, Packet::Disconnect(disconnect));
    assert!(h.is_gone(s));
    assert!(h.broker.session_info("s5").is_none());
    assert_eq!(session_records(&h, "s5").last(), Some(&None));
    assert!(
        h.store.is_empty(),
        "records of an ended session remain: {:?}",
        h.store
    );
}

// v5 [MQTT-3.1.2-4]: Clean Start 1 discards the old session and starts a new one, so none
// of the old session's messages or QoS 2 state may reach the new session, also after a
// restart (what a store that kept the ended session's records would do), and a QoS 2
// packet id the old session left unreleased is a new message in the new session
// [MQTT-4.3.3-10] applies per session.
#[test]
fn ended_session_leaves_nothing_for_the_next_session_after_restart_mqtt_3_1_2_4() {
    let mut h = Harness::durable();
    let (s, _) = connect_v5(&mut h, "s5", persistent(600));
    h.subscribe(s, "q", QoS::AtLeastOnce);
    let p = h.connect("pub", V5);
    h.publish(p, "q", b"old", QoS::AtLeastOnce, false, 1);
    h.publish(s, "other", b"unreleased", QoS::ExactlyOnce, false, 9);
    let mut disconnect = Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(0);
    h.send(s, Packet::Disconnect(disconnect));

    // A new persistent session under the same client id, then a restart.
    let (s, connack) = connect_v5(&mut h, "s5", session_expiry(600));
    assert!(!connack.session_present);
    h.drop_connection(s);
    let mut r = h.restart(Duration::from_secs(10));
    let watcher = r.connect("watch", V5);
    r.subscribe(watcher, "other", QoS::ExactlyOnce);

    let (s, connack) = connect_v5(&mut r, "s5", persistent(600));
    assert!(connack.session_present);
    assert_eq!(r.drain(s), [], "the ended session's messages came back");
    r.publish(s, "other", b"new", QoS::ExactlyOnce, false, 9);
    assert_eq!(kinds(&r.drain(s)), [("PUBREC", 9)]);
    assert_eq!(
        texts(&r.publishes(watcher)),
        ["new"],
        "a new message was taken for a duplicate of the ended session's"
    );
}

// v5 [MQTT-3.1.2-23]: resuming with Session Expiry Interval 0 makes the session end with
// this connection; its stored record must go, or a restart would bring it back.
#[test]
fn resume_with_expiry_zero_ends_the_stored_session_mqtt_3_1_2_23() {
    let mut h = Harness::durable();
    let (s, _) = connect_v5(&mut h, "s5", persistent(600));
    h.subscribe(s, "q", QoS::AtLeastOnce);
    h.drop_connection(s);
    assert_eq!(store_counts(&h.store), (1, 0, 0, 0));

    let (s, connack) = connect_v5(&mut h, "s5", persistent(0));
    assert!(connack.session_present);
    h.drop_connection(s);
    assert!(h.broker.session_info("s5").is_none());
    assert!(h.store.is_empty(), "left behind: {:?}", h.store);

    let mut r = h.restart(Duration::from_secs(10));
    assert!(r.broker.session_info("s5").is_none(), "session resurrected");
    let (_, connack) = connect_v5(&mut r, "s5", persistent(600));
    assert!(!connack.session_present);
}

// ---- Acknowledgements wait for the store ----

// [MQTT-4.3.2-4] (v3 [MQTT-4.3.2-2]): PUBACK means the receiver has accepted ownership of
// the message; with a durable store that is only true once the store confirms it.
#[test]
fn puback_waits_for_the_store_mqtt_4_3_2_4() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::durable();
        let (s, _) = h.connect_persistent("s", V5);
        h.subscribe(s, "q", QoS::AtLeastOnce);
        h.hold_store = true;
        let p = h.connect("pub", version);
        h.publish(p, "q", b"m", QoS::AtLeastOnce, false, 11);
        assert_eq!(
            h.drain(p),
            [],
            "{version:?}: PUBACK before the store confirmed"
        );
        assert!(!outgoing_records(&h, "s").is_empty());
        h.ack_store();
        assert_eq!(h.drain(p), [puback(11)], "{version:?}");
    }
}

// [MQTT-4.3.3-8] (v3 [MQTT-4.3.3-2]): PUBREC also means ownership was accepted.
#[test]
fn pubrec_waits_for_the_store_mqtt_4_3_3_8() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::durable();
        h.offline_subscriber("s", V3_1_1, "q", QoS::ExactlyOnce);
        h.hold_store = true;
        let p = h.connect("pub", version);
        h.publish(p, "q", b"m", QoS::ExactlyOnce, false, 12);
        assert_eq!(
            h.drain(p),
            [],
            "{version:?}: PUBREC before the store confirmed"
        );
        h.ack_store();
        assert_eq!(h.drain(p), [pubrec(12)], "{version:?}");
        // The clean publisher's PUBREL records nothing: PUBCOMP goes at once.
        h.send(p, pubrel(12));
        assert_eq!(h.drain(p), [pubcomp(12)], "{version:?}");
    }
}

// [MQTT-4.3.3-11]: PUBCOMP answers PUBREL; for a persistent publisher the PUBREL deletes a
// record, and the PUBCOMP waits until that deletion is stored (else a restart would answer
// a repeated PUBLISH as a duplicate of a finished flow).
#[test]
fn pubcomp_waits_for_the_store_after_pubrel_mqtt_4_3_3_11() {
    let mut h = Harness::durable();
    h.hold_store = true;
    let (pp, _) = h.connect_persistent("pp", V5);
    h.ack_store();
    h.publish(pp, "nobody", b"m", QoS::ExactlyOnce, false, 13);
    assert_eq!(h.drain(pp), []);
    h.ack_store();
    let rec = h.drain(pp);
    assert!(
        matches!(&rec[..], [Packet::PubRec(a)] if a.packet_id.get() == 13),
        "{rec:?}"
    );
    h.send(pp, pubrel(13));
    assert_eq!(h.drain(pp), [], "PUBCOMP before the deletion was stored");
    assert_eq!(incoming_records(&h, "pp").last(), Some(&(13, false)));
    h.ack_store();
    assert_eq!(h.drain(pp), [pubcomp(13)]);
}

// [MQTT-4.6.0-2], [MQTT-4.6.0-3]: acknowledgements go in the order the PUBLISH packets
// arrived, also when a later one needs no record of its own.
#[test]
fn held_acks_leave_in_publish_order_mqtt_4_6_0_2_and_4_6_0_3() {
    let mut h = Harness::durable();
    h.offline_subscriber("s", V3_1_1, "q", QoS::ExactlyOnce);
    let p = h.connect("pub", V3_1_1);
    h.hold_store = true;
    h.publish(p, "q", b"1", QoS::AtLeastOnce, false, 1);
    h.publish(p, "q", b"2", QoS::ExactlyOnce, false, 2);
    h.publish(p, "nobody", b"3", QoS::AtLeastOnce, false, 3);
    h.publish(p, "nobody", b"4", QoS::ExactlyOnce, false, 4);
    h.publish(p, "q", b"5", QoS::AtLeastOnce, false, 5);
    assert_eq!(h.drain(p), []);
    h.ack_store();
    assert_eq!(
        h.drain(p),
        [puback(1), pubrec(2), puback(3), pubrec(4), puback(5)]
    );
}

// [MQTT-4.6.0-2]: a store confirming part of the records releases exactly the
// acknowledgements whose records are stored, in order.
#[test]
fn partial_store_confirmation_releases_a_prefix_of_acks_mqtt_4_6_0_2() {
    let mut h = Harness::durable();
    h.offline_subscriber("s", V5, "q", QoS::AtLeastOnce);
    let p = h.connect("pub", V5);
    h.hold_store = true;
    h.publish(p, "q", b"a", QoS::AtLeastOnce, false, 1);
    let after_first = h.records.last().expect("a record").0;
    h.publish(p, "q", b"b", QoS::AtLeastOnce, false, 2);
    let after_second = h.records.last().expect("a record").0;
    assert!(after_second > after_first);

    h.broker.handle_stored(after_first);
    h.process();
    assert_eq!(h.drain(p), [puback(1)]);
    // An older confirmation changes nothing.
    h.broker.handle_stored(after_first - 1);
    h.process();
    assert_eq!(h.drain(p), []);
    h.broker.handle_stored(after_second);
    h.process();
    assert_eq!(h.drain(p), [puback(2)]);
}

// QoS 0 publishes need no acknowledgement and are forwarded at once, while a QoS 1
// acknowledgement waits for the store; a PINGRESP (always sent, [MQTT-3.12.4-1]) keeps its
// place behind it on the connection.
#[test]
fn qos0_forwards_do_not_wait_for_the_store_pingresp_keeps_its_place_mqtt_3_12_4_1() {
    let mut h = Harness::durable();
    let (s, _) = h.connect_persistent("s", V5);
    h.subscribe(s, "q", QoS::AtLeastOnce);
    let watcher = h.connect("watch", V3_1_1);
    h.subscribe(watcher, "q", QoS::AtMostOnce);
    let p = h.connect("pub", V5);
    h.hold_store = true;
    h.publish(p, "q", b"one", QoS::AtLeastOnce, false, 1);
    assert_eq!(h.drain(p), []);
    assert_eq!(texts(&h.publishes(watcher)), ["one"]);

    h.publish(p, "q", b"zero", QoS::AtMostOnce, false, 0);
    assert_eq!(texts(&h.publishes(watcher)), ["zero"]);
    // Packets on one connection keep their order: the PINGRESP follows the held PUBACK.
    h.send(p, Packet::PingReq);
    assert_eq!(h.drain(p), []);

    h.ack_store();
    assert_eq!(h.drain(p), [puback(1), Packet::PingResp]);

    // With nothing held, PINGREQ is answered at once [MQTT-3.12.4-1].
    h.send(p, Packet::PingReq);
    assert_eq!(h.drain(p), [Packet::PingResp]);
}

// Packet ids belong to a network connection: an acknowledgement held for a connection that
// closed is not sent to the next one; the client re-sends its PUBLISH (v3 [MQTT-4.4.0-1]) and
// gets exactly one PUBACK for it.
#[test]
fn held_ack_of_a_closed_connection_is_not_sent_to_the_next_mqtt_4_4_0_1() {
    let mut h = Harness::durable();
    h.offline_subscriber("s", V3_1_1, "q", QoS::AtLeastOnce);
    h.hold_store = true;
    let (p, _) = h.connect_persistent("pub", V3_1_1);
    h.publish(p, "q", b"m", QoS::AtLeastOnce, false, 21);
    assert_eq!(h.drain(p), []);
    h.drop_connection(p);
    h.ack_store();

    let (p, present) = h.connect_persistent("pub", V3_1_1);
    assert!(present);
    assert_eq!(h.drain(p), [], "PUBACK of the old connection leaked");
    let mut again = publish("q", b"m", QoS::AtLeastOnce, false, 21);
    again.dup = true;
    h.send(p, Packet::Publish(again));
    h.ack_store();
    assert_eq!(h.drain(p), [puback(21)]);
}

// ---- Restart ----

/// What the restart scenario leaves behind.
struct Scenario {
    h: Harness,
    /// The packet id of the unacknowledged QoS 1 message to `s5`.
    m1_id: u16,
    /// The packet id of the QoS 2 message to `s5` that got PUBREC (awaiting PUBCOMP).
    m2_id: u16,
}

/// Retained messages; a persistent v3.1.1 session `s3` (`q/#` QoS 1) and a persistent v5
/// session `s5` (`q/+` QoS 2 with identifier 7, `$share/g/sh/+` QoS 1 with identifier 8);
/// `s5` has a QoS 1 message in flight and a QoS 2 message awaiting PUBCOMP; both went away
/// and have messages queued; the persistent publisher `pp` sent a QoS 2 PUBLISH (id 42) and
/// went away before PUBREL.
fn scenario() -> Scenario {
    let mut h = Harness::durable();
    let p = h.connect("pub", V5);
    h.publish(p, "r/a", b"ra", QoS::AtLeastOnce, true, 1);
    h.publish(p, "r/b", b"rb", QoS::AtMostOnce, true, 0);
    h.publish(p, "r/c", b"rc", QoS::AtMostOnce, true, 0);
    h.publish(p, "r/c", b"", QoS::AtMostOnce, true, 0);

    let (s3, present) = h.connect_persistent("s3", V3_1_1);
    assert!(!present);
    h.subscribe(s3, "q/#", QoS::AtLeastOnce);
    let (s5, present) = h.connect_persistent("s5", V5);
    assert!(!present);
    subscribe_all(
        &mut h,
        s5,
        &[("q/+", SubscriptionOptions::qos(QoS::ExactlyOnce))],
        Some(7),
    );
    subscribe_all(
        &mut h,
        s5,
        &[("$share/g/sh/+", SubscriptionOptions::qos(QoS::AtLeastOnce))],
        Some(8),
    );
    // The subscribers may have retained messages from `q/#`: none exist.
    assert_eq!(h.drain(s3), []);
    assert_eq!(h.drain(s5), []);

    h.publish(p, "q/1", b"m1", QoS::AtLeastOnce, false, 2);
    h.publish(p, "q/2", b"m2", QoS::ExactlyOnce, false, 3);
    h.send(p, pubrel(3));
    h.drain(p);

    let to_s3 = h.drain(s3);
    assert_eq!(to_s3.len(), 2);
    answer_all(&mut h, s3, &to_s3);
    assert_eq!(h.drain(s3), []);

    let to_s5 = h.publishes(s5);
    assert_eq!(texts(&to_s5), ["m1", "m2"]);
    let m1_id = id_of(&to_s5[0]);
    let m2_id = id_of(&to_s5[1]);
    h.send(s5, pubrec(m2_id));
    assert_eq!(h.drain(s5), [pubrel(m2_id)]);

    h.drop_connection(s3);
    h.drop_connection(s5);

    h.publish(p, "q/3", b"m3", QoS::AtLeastOnce, false, 4);
    h.publish(p, "q/4", b"m4", QoS::ExactlyOnce, false, 5);
    h.publish(p, "q/5", b"m5", QoS::AtLeastOnce, false, 6);
    h.publish(p, "sh/x", b"shared", QoS::AtLeastOnce, false, 7);
    // QoS 0 is not queued for offline sessions (the default).
    h.publish(p, "q/6", b"m6", QoS::AtMostOnce, false, 0);

    let (pp, present) = h.connect_persistent("pp", V5);
    assert!(!present);
    h.publish(pp, "in/x", b"once", QoS::ExactlyOnce, false, 42);
    assert!(matches!(&h.drain(pp)[..], [Packet::PubRec(a)] if a.packet_id.get() == 42));
    h.drop_connection(pp);

    let s5_info = h.broker.session_info("s5").unwrap();
    assert_eq!((s5_info.unacknowledged, s5_info.queued), (2, 4));
    assert_eq!(h.broker.session_info("s3").unwrap().queued, 3);
    assert_eq!(h.broker.session_info("pp").unwrap().awaiting_pubrel, 1);
    Scenario { h, m1_id, m2_id }
}

/// Reconnects `s5` (v5, Clean Start 0) and returns its CONNACK and what followed it.
fn resume_s5(h: &mut Harness) -> (ClientId, ConnAck, Vec<Packet>) {
    let (c, connack) = connect_v5(h, "s5", persistent(u32::MAX));
    let packets = h.drain(c);
    (c, connack, packets)
}

// [MQTT-4.1.0-1 context] The restored broker holds the sessions, offline, with what they had:
// in-flight and queued messages and QoS 2 ids awaiting PUBREL.
#[test]
fn restore_rebuilds_session_state() {
    let Scenario { h, .. } = scenario();
    let r = h.restart(Duration::from_secs(30));
    assert_eq!(r.broker.session_count(), 3);
    let s5 = r.broker.session_info("s5").expect("s5 restored");
    assert!(!s5.connected);
    assert_eq!(s5.expiry_interval, u32::MAX);
    assert_eq!(s5.subscriptions, 2);
    // Two unacknowledged, four queued; the released QoS 2 message (awaiting PUBCOMP) already
    // counts against the window, the QoS 1 one waits to be re-sent.
    assert_eq!((s5.unacknowledged, s5.inflight, s5.queued), (2, 1, 4));
    let s3 = r.broker.session_info("s3").expect("s3 restored");
    assert_eq!((s3.subscriptions, s3.unacknowledged, s3.queued), (1, 0, 3));
    let pp = r.broker.session_info("pp").expect("pp restored");
    assert_eq!(pp.awaiting_pubrel, 1);
    assert!(
        r.broker.session_info("pub").is_none(),
        "clean session restored"
    );
}

// v3 [MQTT-3.2.2-2], v5 [MQTT-3.2.2-3]: resuming a stored session sets Session Present 1,
// also after a restart; an unknown client id gets 0.
#[test]
fn restart_resumes_sessions_with_session_present_mqtt_3_2_2_3() {
    let Scenario { h, .. } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let (_, present) = r.connect_persistent("s3", V3_1_1);
    assert!(present, "v3 session lost");
    let (_, connack, _) = resume_s5(&mut r);
    assert!(connack.session_present, "v5 session lost");
    assert_eq!(connack.reason_code, ReasonCode::Success);
    let (_, present) = r.connect_persistent("pp", V5);
    assert!(present);
    let (_, present) = r.connect_persistent("stranger", V3_1_1);
    assert!(!present);
}

// v3 [MQTT-3.3.1-5] (v5 [MQTT-3.3.1-5]): retained messages survive the restart and go to new
// subscribers with RETAIN 1 [MQTT-3.3.1-8 v3]; the deleted one does not come back.
#[test]
fn restart_keeps_retained_messages_mqtt_3_3_1_5() {
    let Scenario { h, .. } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let c = r.connect("late", V5);
    r.subscribe(c, "r/#", QoS::AtLeastOnce);
    let mut got = r.publishes(c);
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    let summary: Vec<(&str, &[u8], QoS, bool)> = got
        .iter()
        .map(|p| (p.topic.as_str(), payload(p), p.qos, p.retain))
        .collect();
    assert_eq!(
        summary,
        [
            ("r/a", &b"ra"[..], QoS::AtLeastOnce, true),
            ("r/b", &b"rb"[..], QoS::AtMostOnce, true),
        ]
    );
}

// [MQTT-4.4.0-1], [MQTT-3.3.1-1]: on resume the unacknowledged QoS 1 PUBLISH is re-sent with
// DUP 1 and its original packet id, and the PUBREL of the released QoS 2 message; the QoS 2
// PUBLISH itself is never sent again [MQTT-4.3.3-6]. The re-sent PUBLISH comes before the
// queued messages, which follow in order [MQTT-4.6.0-1], [MQTT-4.6.0-5] with their
// subscription identifiers [MQTT-3.3.4-3].
#[test]
fn restart_resends_inflight_and_pubrel_then_queue_mqtt_4_4_0_1() {
    let Scenario { h, m1_id, m2_id } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let (s5, connack, packets) = resume_s5(&mut r);
    assert!(connack.session_present);

    let pubrels: Vec<&Packet> = packets
        .iter()
        .filter(|p| matches!(p, Packet::PubRel(_)))
        .collect();
    assert_eq!(pubrels, [&pubrel(m2_id)], "the PUBREL is re-sent once");
    let publishes = publishes_in(&packets);
    assert_eq!(publishes.len() + 1, packets.len(), "{packets:?}");
    assert!(
        !publishes.iter().any(|p| payload(p) == b"m2"),
        "QoS 2 PUBLISH re-sent after PUBREL [MQTT-4.3.3-6]"
    );

    let summary: Vec<(&[u8], QoS, bool, Vec<SubscriptionId>)> = publishes
        .iter()
        .map(|p| {
            (
                payload(p),
                p.qos,
                p.dup,
                p.properties.subscription_identifiers.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (&b"m1"[..], QoS::AtLeastOnce, true, vec![sub_id(7)]),
            (&b"m3"[..], QoS::AtLeastOnce, false, vec![sub_id(7)]),
            (&b"m4"[..], QoS::ExactlyOnce, false, vec![sub_id(7)]),
            (&b"m5"[..], QoS::AtLeastOnce, false, vec![sub_id(7)]),
            (&b"shared"[..], QoS::AtLeastOnce, false, vec![sub_id(8)]),
        ]
    );
    assert_eq!(
        publishes[0].packet_id,
        Some(pid(m1_id)),
        "original packet id"
    );
    assert_eq!(publishes[0].topic.as_str(), "q/1");
    // New packet ids for new messages: none collides with the ones still in flight.
    let mut ids: Vec<u16> = publishes.iter().map(id_of).collect();
    ids.push(m2_id);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "packet ids reused while in flight");

    // The flows complete normally: only m4's PUBREL is left to come.
    answer_all(&mut r, s5, &packets);
    assert_eq!(settle(&mut r, s5), [pubrel(id_of(&publishes[2]))]);
    let info = r.broker.session_info("s5").unwrap();
    assert_eq!((info.unacknowledged, info.queued), (0, 0));
}

// v3 [MQTT-3.1.2-5], [MQTT-4.4.0-1]: the v3.1.1 session gets its queued messages, in order,
// at the granted QoS 1.
#[test]
fn restart_delivers_queued_messages_in_order_v3_mqtt_3_1_2_5() {
    let Scenario { h, .. } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let (s3, present) = r.connect_persistent("s3", V3_1_1);
    assert!(present);
    let got = r.publishes(s3);
    let summary: Vec<(&str, &[u8], QoS, bool)> = got
        .iter()
        .map(|p| (p.topic.as_str(), payload(p), p.qos, p.dup))
        .collect();
    assert_eq!(
        summary,
        [
            ("q/3", &b"m3"[..], QoS::AtLeastOnce, false),
            ("q/4", &b"m4"[..], QoS::AtLeastOnce, false),
            ("q/5", &b"m5"[..], QoS::AtLeastOnce, false),
        ]
    );
}

// v3 [MQTT-3.1.2-4], [MQTT-3.3.4-3], v5 4.8.2: the restored subscriptions route new
// messages: plain ones with their identifier, the shared one to its only member.
#[test]
fn restart_keeps_subscriptions_routing_mqtt_3_3_4_3() {
    let Scenario { h, .. } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let (s3, _) = r.connect_persistent("s3", V3_1_1);
    let (s5, _, packets) = resume_s5(&mut r);
    answer_all(&mut r, s5, &packets);
    settle(&mut r, s5);
    settle(&mut r, s3);

    let p = r.connect("pub2", V5);
    r.publish(p, "q/7", b"new", QoS::ExactlyOnce, false, 1);
    r.publish(p, "sh/y", b"new-shared", QoS::AtLeastOnce, false, 2);
    let to_s5 = r.publishes(s5);
    let summary: Vec<(&[u8], QoS, Vec<SubscriptionId>)> = to_s5
        .iter()
        .map(|p| {
            (
                payload(p),
                p.qos,
                p.properties.subscription_identifiers.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (&b"new"[..], QoS::ExactlyOnce, vec![sub_id(7)]),
            (&b"new-shared"[..], QoS::AtLeastOnce, vec![sub_id(8)]),
        ]
    );
    let to_s3 = r.publishes(s3);
    assert_eq!(texts(&to_s3), ["new"]);
    assert_eq!(to_s3[0].qos, QoS::AtLeastOnce);
}

// [MQTT-4.3.3-10]: until PUBREL, a repeated QoS 2 PUBLISH with the same packet id gets
// PUBREC again and is not forwarded again, also after a restart; PUBREL then completes it
// (PUBCOMP Success, not 0x92 [MQTT-4.3.3-11]); afterwards the id is new again
// [MQTT-4.3.3-12].
#[test]
fn restart_repeated_qos2_publish_is_not_forwarded_again_mqtt_4_3_3_10() {
    let Scenario { h, .. } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let watcher = r.connect("watch", V5);
    r.subscribe(watcher, "in/#", QoS::ExactlyOnce);

    let (pp, present) = r.connect_persistent("pp", V5);
    assert!(present);
    assert_eq!(r.drain(pp), [], "nothing to re-send to the publisher");
    let mut again = publish("in/x", b"once", QoS::ExactlyOnce, false, 42);
    again.dup = true;
    r.send(pp, Packet::Publish(again));
    let acks = r.drain(pp);
    assert!(
        matches!(&acks[..], [Packet::PubRec(a)] if a.packet_id.get() == 42 && !a.reason_code.is_error()),
        "{acks:?}"
    );
    assert_eq!(r.publishes(watcher), [], "QoS 2 message forwarded twice");

    r.send(pp, pubrel(42));
    assert_eq!(r.drain(pp), [pubcomp(42)]);
    assert_eq!(r.broker.session_info("pp").unwrap().awaiting_pubrel, 0);

    r.publish(pp, "in/x", b"fresh", QoS::ExactlyOnce, false, 42);
    assert!(matches!(&r.drain(pp)[..], [Packet::PubRec(_)]));
    assert_eq!(texts(&r.publishes(watcher)), ["fresh"]);
}

// [MQTT-4.3.3-10] also for a v3.1.1 publisher (v3 [MQTT-4.3.3-2]), checked on a minimal
// store: only the publisher's session and its pending id.
#[test]
fn restart_repeated_qos2_publish_is_not_forwarded_again_v3_mqtt_4_3_3_2() {
    let mut h = Harness::durable();
    let (pp, _) = h.connect_persistent("pp3", V3_1_1);
    h.publish(pp, "in/y", b"once", QoS::ExactlyOnce, false, 5);
    assert_eq!(h.drain(pp), [pubrec(5)]);
    h.drop_connection(pp);
    assert_eq!(store_counts(&h.store), (1, 0, 0, 1));

    let mut r = h.restart(Duration::from_secs(5));
    let watcher = r.connect("watch", V3_1_1);
    r.subscribe(watcher, "in/#", QoS::ExactlyOnce);
    let (pp, present) = r.connect_persistent("pp3", V3_1_1);
    assert!(present);
    let mut again = publish("in/y", b"once", QoS::ExactlyOnce, false, 5);
    again.dup = true;
    r.send(pp, Packet::Publish(again));
    assert_eq!(r.drain(pp), [pubrec(5)]);
    assert_eq!(r.publishes(watcher), []);
    r.send(pp, pubrel(5));
    assert_eq!(r.drain(pp), [pubcomp(5)]);
    assert_eq!(store_counts(&r.store), (1, 0, 0, 0));
}

// v5 [MQTT-3.1.2-23], [MQTT-4.1.0-2]: a restored session's expiry counts from the restore:
// a session whose interval ran out while the broker was down is still there, and ends one
// whole interval after the restart.
#[test]
fn restored_session_expiry_counts_from_restore_time_mqtt_3_1_2_23() {
    let mut h = Harness::durable();
    let (s, _) = connect_v5(&mut h, "e5", persistent(60));
    h.subscribe(s, "q", QoS::AtLeastOnce);
    h.drop_connection(s);
    let p = h.connect("pub", V5);
    h.publish(p, "q", b"kept", QoS::AtLeastOnce, false, 1);
    h.advance(Duration::from_secs(50));
    assert!(h.broker.session_info("e5").is_some());

    // Down for an hour: the 60 s have long passed in wall time.
    let mut r = h.restart(Duration::from_secs(3600));
    assert!(r.broker.session_info("e5").is_some());
    r.advance(Duration::from_secs(59));
    let (c, connack) = connect_v5(&mut r, "e5", persistent(60));
    assert!(connack.session_present, "expired before its interval");
    assert_eq!(texts(&r.publishes(c)), ["kept"]);

    // The same store, restored again: this time nobody comes back.
    let mut r = h.restart(Duration::from_secs(3600));
    r.advance(Duration::from_secs(59));
    assert!(r.broker.session_info("e5").is_some());
    r.advance(Duration::from_secs(1));
    assert!(r.broker.session_info("e5").is_none());
    assert_eq!(session_records(&r, "e5").last(), Some(&None));
    assert!(r.store.is_empty(), "left behind: {:?}", r.store);
    let (_, connack) = connect_v5(&mut r, "e5", persistent(60));
    assert!(!connack.session_present);
}

/// Every client of the restored broker reconnects and completes every flow; returns what
/// each received and the records emitted.
fn replay(h: &Harness) -> (Vec<Vec<Packet>>, Vec<Record>, MemoryStore) {
    let mut r = h.restart(Duration::from_secs(30));
    let (s3, _) = r.connect_persistent("s3", V3_1_1);
    let (s5, _, first) = resume_s5(&mut r);
    let (pp, _) = r.connect_persistent("pp", V5);
    let mut again = publish("in/x", b"once", QoS::ExactlyOnce, false, 42);
    again.dup = true;
    r.send(pp, Packet::Publish(again));
    r.send(pp, pubrel(42));
    answer_all(&mut r, s5, &first);
    let mut seen = vec![first];
    for c in [s5, s3, pp] {
        seen.push(settle(&mut r, c));
    }
    (seen, all_records(&r), r.store.clone())
}

// Restoring is a pure function of the records: the same store restored twice behaves the
// same, packet for packet and record for record.
#[test]
fn restoring_the_same_store_twice_behaves_the_same() {
    let Scenario { h, .. } = scenario();
    let (seen_a, records_a, store_a) = replay(&h);
    let (seen_b, records_b, store_b) = replay(&h);
    assert!(seen_a.iter().map(Vec::len).sum::<usize>() > 5);
    assert_eq!(seen_a, seen_b);
    assert_eq!(records_a, records_b);
    assert_eq!(
        store_a.records().collect::<Vec<_>>(),
        store_b.records().collect::<Vec<_>>()
    );
}

// [MQTT-4.4.0-1], [MQTT-4.6.0-1]: a restart of a restarted broker re-sends what the first
// one left in flight (DUP 1, same ids, same order) and still only the PUBREL of the
// released message.
#[test]
fn second_restart_resends_what_the_first_left_in_flight_mqtt_4_4_0_1() {
    let Scenario { h, m1_id, m2_id } = scenario();
    let mut r = h.restart(Duration::from_secs(30));
    let (s5, _, packets) = resume_s5(&mut r);
    // Acknowledge only the re-sent QoS 1 message; everything else stays in flight.
    r.send(s5, puback(m1_id));
    let sent: Vec<(u16, Vec<u8>)> = packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) if payload(p) != b"m1" => Some((id_of(p), p.payload.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 4);
    r.drop_connection(s5);

    let mut again = r.restart(Duration::from_secs(30));
    let (_, connack, packets) = resume_s5(&mut again);
    assert!(connack.session_present);
    assert_eq!(
        kinds(&packets)
            .into_iter()
            .filter(|(kind, _)| *kind == "PUBREL")
            .collect::<Vec<_>>(),
        [("PUBREL", m2_id)]
    );
    let resent: Vec<(u16, Vec<u8>)> = packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => {
                assert!(p.dup, "re-sent without DUP: {p:?}");
                Some((id_of(p), p.payload.to_vec()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(resent, sent);
}

// ---- Bound ----

// The store only holds what is still owed: after every flow completes (queued messages
// acknowledged, QoS 2 flows released), only the sessions and the retained messages remain.
#[test]
fn store_holds_only_sessions_and_retained_after_all_flows_complete() {
    let Scenario { h, .. } = scenario();
    // s5: m1, m2 in flight and m3, m4, m5, shared queued; s3: m3, m4, m5 queued.
    assert_eq!(store_counts(&h.store), (3, 2, 6 + 3, 1));
    let (_, _, store) = replay(&h);
    assert_eq!(store_counts(&store), (3, 2, 0, 0), "{store:?}");
    let mut clients: Vec<&str> = store
        .records()
        .filter_map(|r| match r {
            Record::Session {
                client_id,
                session: Some(_),
            } => Some(client_id.as_str()),
            _ => None,
        })
        .collect();
    clients.sort_unstable();
    assert_eq!(clients, ["pp", "s3", "s5"]);
}

// The same bound without a restart, with many messages through persistent sessions at both
// QoS levels and both versions, including a reconnect in the middle.
#[test]
fn store_does_not_grow_with_completed_messages() {
    let mut h = Harness::durable();
    let (s3, _) = h.connect_persistent("s3", V3_1_1);
    h.subscribe(s3, "load/#", QoS::ExactlyOnce);
    let (s5, _) = h.connect_persistent("s5", V5);
    h.subscribe(s5, "load/+", QoS::AtLeastOnce);
    let (p, _) = h.connect_persistent("pp", V5);
    for i in 0..50u16 {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        h.publish(p, "load/x", &i.to_be_bytes(), qos, false, i + 1);
        if qos == QoS::ExactlyOnce {
            h.send(p, pubrel(i + 1));
        }
        if i == 25 {
            h.drop_connection(s3);
        }
    }
    h.drain(p);
    settle(&mut h, s5);
    let (s3, present) = h.connect_persistent("s3", V3_1_1);
    assert!(present);
    let all = settle(&mut h, s3);
    assert!(
        all.iter()
            .filter(|p| matches!(p, Packet::Publish(_)))
            .count()
            >= 50
    );
    assert!(h.records.len() > 100);
    assert_eq!(store_counts(&h.store), (3, 0, 0, 0), "{:?}", h.store);
}
