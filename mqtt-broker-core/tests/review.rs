//! Regression tests from a review of the broker core: each test demonstrated a problem the
//! other suites missed, and passes since its fix. The comments describe the failure as it
//! was found. Normative ids are MQTT 5.0 unless marked "v3" (MQTT 3.1.1).

mod harness;

use std::time::Duration;

use harness::*;
use mqtt_broker_core::{CloseReason, MemoryStore, Record};
use mqtt_codec::{Packet, ProtocolVersion::*, QoS, ReasonCode};

// ---- Helpers ----

/// A broker restored from the records the store had *confirmed* (the adapter crashed
/// before the later ones reached the disk).
fn crash_and_restore(h: &Harness, confirmed: u64, down: Duration) -> Harness {
    let mut store = MemoryStore::new();
    for (seq, record) in &h.records {
        if *seq <= confirmed {
            store.apply(record.clone());
        }
    }
    h.restored(store, down)
}

fn last_seq(h: &Harness) -> u64 {
    h.records.last().map_or(0, |(seq, _)| *seq)
}

/// A durable broker (`max_queued_messages` 2, `max_inflight` 1) retaining `m0`..`m4` on
/// `r/0`..`r/4`, and the persistent 3.1.1 session `sub` that subscribed to `r/#` (one
/// retained delivery sent, four queued) and went offline.
fn retained_backlog_of_an_offline_session() -> Harness {
    let mut h = Harness::quiet_with(|c| {
        c.durable = true;
        c.max_queued_messages = 2;
        c.max_inflight = 1;
    });
    let publisher = h.connect("pub", V3_1_1);
    for i in 0..5u16 {
        h.publish(
            publisher,
            &format!("r/{i}"),
            format!("m{i}").as_bytes(),
            QoS::AtLeastOnce,
            true,
            i + 1,
        );
    }
    let (sub, _) = h.connect_persistent("sub", V3_1_1);
    h.subscribe(sub, "r/#", QoS::AtLeastOnce);
    assert_eq!(h.publishes(sub).len(), 1, "window of 1");
    assert_eq!(h.broker.session_info("sub").unwrap().queued, 4);
    h.drop_connection(sub);
    h
}

// ---- Will ----

/// [MQTT-3.1.2-8]: the will is published when the connection closes "unless the Will
/// Message has been deleted by the Server on receipt of a DISCONNECT packet with Reason
/// Code 0x00"; [MQTT-3.14.4-3] deletes it only for 0x00. A DISCONNECT with an error
/// reason (here 0x80 Unspecified error) must not discard it.
#[test]
fn disconnect_with_error_reason_still_publishes_will_mqtt_3_1_2_8() {
    let mut h = Harness::quiet();
    let w = h.connect("w", V5);
    h.subscribe(w, "will/#", QoS::AtMostOnce);
    let (c, _) = connect_v5(&mut h, "dying", |c| {
        c.will = Some(will("will/dying", b"gone", QoS::AtMostOnce, false));
    });
    h.send(c, disconnect(ReasonCode::UnspecifiedError));
    assert!(h.is_gone(c));
    assert_eq!(
        texts(&h.publishes(w)),
        ["gone"],
        "a DISCONNECT with reason 0x80 is not a normal disconnection: the will goes"
    );
}

// ---- Outbound flow after resume ----

/// [MQTT-4.4.0-1], [MQTT-4.3.3-5]: a client may send PUBREC for a QoS 2 message of the
/// previous connection before the broker re-sent it (its Receive Maximum is smaller now).
/// The broker answers PUBREL, but its "still to re-send" counter is not decremented, so
/// from then on nothing queued is ever sent on this connection.
#[test]
fn pubrec_for_a_publish_not_yet_resent_does_not_stall_delivery_mqtt_4_4_0_1() {
    let mut h = Harness::quiet();
    let (sub, publisher) =
        v5_sub_and_pub(&mut h, persistent_receive_maximum(2), "t", QoS::ExactlyOnce);
    h.publish(publisher, "t", b"a", QoS::ExactlyOnce, false, 1);
    h.publish(publisher, "t", b"b", QoS::ExactlyOnce, false, 2);
    let first = h.publishes(sub);
    assert_eq!(texts(&first), ["a", "b"]);
    let (id_a, id_b) = (id_of(&first[0]), id_of(&first[1]));
    h.drop_connection(sub);

    // Back with Receive Maximum 1: only "a" is re-sent at once.
    let (sub, connack) = connect_v5(&mut h, "sub", persistent_receive_maximum(1));
    assert!(connack.session_present);
    let resent = h.publishes(sub);
    assert_eq!(texts(&resent), ["a"]);
    // The client had processed "b" already and acknowledges it now.
    h.send(sub, pubrec(id_b));
    assert!(
        h.drain(sub)
            .iter()
            .any(|p| matches!(p, Packet::PubRel(r) if r.packet_id.get() == id_b)),
        "PUBREL for b"
    );
    h.send(sub, pubcomp(id_b));
    h.send(sub, pubrec(id_a));
    h.send(sub, pubcomp(id_a));
    h.drain(sub);
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!(info.unacknowledged, 0);

    // Nothing is in flight: a new message must go out.
    h.publish(publisher, "t", b"c", QoS::AtLeastOnce, false, 3);
    assert_eq!(
        texts(&h.publishes(sub)),
        ["c"],
        "delivery stalled: {:?}",
        h.broker.session_info("sub")
    );
}

/// Robustness (v5 4.9 resets the quota per connection, so the spec allows it, but nothing
/// bounds it): a client that answers PUBREC but never PUBCOMP, and reconnects, makes the
/// broker admit a new window of QoS 2 messages each time while keeping every earlier one
/// (with its whole payload) in the PUBREL-sent state. After 65,535 such entries no packet
/// id is left: `next_packet_id` scans 65,535 x 65,535 and later messages are dropped.
#[test]
fn pubrel_awaiting_entries_do_not_grow_past_the_window_across_reconnects_mqtt_4_3_3_5() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    let (sub, _) = connect_v5(&mut h, "sub", persistent_receive_maximum(2));
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let mut sub = sub;
    let mut next_id = 1u16;
    for _round in 0..5 {
        for _ in 0..2 {
            h.publish(
                publisher,
                "t",
                &[0u8; 1000],
                QoS::ExactlyOnce,
                false,
                next_id,
            );
            h.send(publisher, pubrel(next_id));
            next_id += 1;
        }
        // PUBREC for each new PUBLISH, never a PUBCOMP.
        for p in h.publishes(sub) {
            if !p.dup {
                h.send(sub, pubrec(id_of(&p)));
            }
        }
        h.drop_connection(sub);
        sub = connect_v5(&mut h, "sub", persistent_receive_maximum(2)).0;
    }
    let info = h.broker.session_info("sub").unwrap();
    assert!(
        info.unacknowledged <= 2,
        "{} QoS 2 messages held awaiting PUBCOMP with a Receive Maximum of 2",
        info.unacknowledged
    );
}

// ---- Queue limits ----

/// Config docs: the queue limits bound messages queued "beyond its inflight window". An
/// online subscriber with an empty window and empty queue must still get a message whose
/// payload is larger than `max_queued_bytes`; the broker drops it (every delivery passes
/// through the counted queue first, in `Outbound::enqueue`).
#[test]
fn max_queued_bytes_does_not_drop_messages_that_go_straight_out() {
    let mut h = Harness::quiet_with(|c| c.max_queued_bytes = 100);
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    h.publish(publisher, "t", &[7u8; 200], QoS::AtMostOnce, false, 0);
    h.publish(publisher, "t", &[7u8; 200], QoS::AtLeastOnce, false, 1);
    assert_eq!(
        h.publishes(sub).len(),
        2,
        "idle online subscriber lost messages larger than max_queued_bytes (dropped: {})",
        h.broker.stats().publish_dropped
    );
}

/// `Outbound::enqueue`: a QoS 1 message larger than the byte limit can never fit, yet
/// every queued QoS 0 message is evicted to make room for it before it is dropped too.
#[test]
fn message_that_can_never_fit_does_not_evict_queued_qos0_mqtt_4_5_0_1() {
    let mut h = Harness::quiet_with(|c| {
        c.max_queued_bytes = 100;
        c.queue_qos0_offline = true;
    });
    h.offline_subscriber("sub", V3_1_1, "t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    for i in 0..3 {
        h.publish(
            publisher,
            "t",
            format!("q{i}").as_bytes(),
            QoS::AtMostOnce,
            false,
            0,
        );
    }
    h.publish(publisher, "t", &[1u8; 500], QoS::AtLeastOnce, false, 1);
    let (sub, _) = h.connect_persistent("sub", V3_1_1);
    let got = h.publishes(sub);
    assert_eq!(
        texts(&got),
        ["q0", "q1", "q2"],
        "queued QoS 0 messages were evicted for a message that was dropped anyway"
    );
}

/// Conformance 40 ("within queue limits that the user controls") and robustness: retained
/// messages sent for a new subscription are never counted against any limit, and each
/// SUBSCRIBE (Retain Handling 0 re-sends them [MQTT-3.8.4-3]) appends another copy of every
/// matching retained message to the queue. A client that does not acknowledge and keeps
/// re-subscribing grows the broker's memory without bound (here 20 retained messages x 50
/// SUBSCRIBEs = 1,000 queued with max_queued_messages = 10).
#[test]
fn resubscribing_does_not_grow_the_queue_without_bound_mqtt_3_8_4_3() {
    let mut h = Harness::quiet_with(|c| {
        c.max_queued_messages = 10;
        c.max_inflight = 1;
    });
    let publisher = h.connect("pub", V3_1_1);
    for i in 0..20u16 {
        h.publish(
            publisher,
            &format!("r/{i}"),
            b"x",
            QoS::AtLeastOnce,
            true,
            i + 1,
        );
    }
    let sub = h.connect("sub", V3_1_1);
    for _ in 0..50 {
        h.subscribe(sub, "r/#", QoS::AtLeastOnce);
        h.drain(sub);
    }
    let queued = h.broker.session_info("sub").unwrap().queued;
    assert!(
        queued <= 20,
        "{queued} deliveries queued for 20 retained messages (max_queued_messages 10)"
    );
}

// ---- Durability ----

/// Durability of subscriptions: the SUBACK tells the client its persistent session holds
/// the subscription, but it is sent before the session record carrying it is even emitted
/// (`handle_subscribe`: `send(SubAck)` then `record_session`). If the broker stops before
/// the store writes it, the client resumes with Session Present 1 and silently misses
/// every message on that filter. (Same for UNSUBACK.)
#[test]
fn suback_of_a_persistent_session_waits_for_its_record_mqtt_3_2_2_2() {
    let mut h = Harness::durable();
    let (sub, _) = connect_v5(&mut h, "sub", persistent(u32::MAX));
    h.hold_store = true;
    h.send(
        sub,
        Packet::Subscribe(mqtt_codec::Subscribe {
            packet_id: pid(9),
            properties: Default::default(),
            filters: vec![(
                string("t"),
                mqtt_codec::SubscriptionOptions::qos(QoS::AtLeastOnce),
            )],
        }),
    );
    let early = h.drain(sub);
    assert!(
        early.is_empty(),
        "SUBACK sent before the session record with the subscription was stored: {early:?}"
    );
    h.ack_store();
    assert!(matches!(h.drain(sub).as_slice(), [Packet::SubAck(_)]));
}

/// [MQTT-4.3.3-6]: the sender "MUST NOT re-send the PUBLISH once it has sent the
/// corresponding PUBREL". The broker sends PUBREL at once while the record marking the
/// message released is not yet stored; after a crash the restored broker re-sends the
/// PUBLISH (DUP) instead of the PUBREL, which the client (that already completed the flow)
/// takes as a new message: exactly-once broken. PUBREL must wait for its record like
/// PUBACK/PUBREC do.
#[test]
fn pubrel_waits_for_the_released_record_mqtt_4_3_3_6() {
    let mut h = Harness::durable();
    let (sub, publisher) = v5_sub_and_pub(&mut h, persistent(u32::MAX), "t", QoS::ExactlyOnce);
    h.publish(publisher, "t", b"once", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(sub);
    assert_eq!(texts(&got), ["once"]);
    let id = id_of(&got[0]);
    let confirmed = last_seq(&h);

    h.hold_store = true;
    h.send(sub, pubrec(id));
    let sent_pubrel = h
        .drain(sub)
        .iter()
        .any(|p| matches!(p, Packet::PubRel(r) if r.packet_id.get() == id));
    // The client got PUBREL: it answers PUBCOMP and forgets the packet id.
    if sent_pubrel {
        h.send(sub, pubcomp(id));
    }
    // The broker stops before storing any record after `confirmed`.
    let mut r = crash_and_restore(&h, confirmed, Duration::from_secs(1));
    let (sub, connack) = connect_v5(&mut r, "sub", persistent(u32::MAX));
    assert!(connack.session_present);
    let after = r.drain(sub);
    let republished = after.iter().any(|p| matches!(p, Packet::Publish(_)));
    assert!(
        !(sent_pubrel && republished),
        "PUBREL was sent before its record, and the PUBLISH came again after restart: {after:?}"
    );
}

/// Restore applies the queue limits to deliveries that were queued for a new
/// subscription's retained messages (exempt from the limits when they were queued, but the
/// record does not say so). The excess is dropped at restart: messages the client was
/// entitled to are lost [MQTT-4.4.0-1 context].
#[test]
fn restart_keeps_retained_deliveries_queued_for_a_subscription_mqtt_3_3_1_9() {
    let h = retained_backlog_of_an_offline_session();
    let mut r = h.restart(Duration::from_secs(1));
    let (sub, present) = r.connect_persistent("sub", V3_1_1);
    assert!(present);
    let received = receive_all(&mut r, sub);
    let mut got = texts(&received);
    got.sort();
    assert_eq!(
        got,
        ["m0", "m1", "m2", "m3", "m4"],
        "retained deliveries lost at restart"
    );
}

/// [MQTT-3.1.2-4]: Clean Start discards the session. But the records of deliveries that
/// `Broker::restore` dropped are never deleted ("left to expire with the session", yet
/// nothing deletes them when it ends); a later session of the same client id is
/// restored with them after the next restart, receiving stale messages of a discarded
/// session.
#[test]
fn records_dropped_at_restore_do_not_resurface_in_a_new_session_mqtt_3_1_2_4() {
    let h = retained_backlog_of_an_offline_session();

    // First restart: then the client starts afresh (Clean Session 1, then persistent again).
    let mut r = h.restart(Duration::from_secs(1));
    let c = r.connect("sub", V3_1_1);
    r.drop_connection(c);
    let (c, present) = r.connect_persistent("sub", V3_1_1);
    assert!(!present);
    r.drop_connection(c);
    let leftover: Vec<&Record> = r
        .store
        .records()
        .filter(
            |rec| matches!(rec, Record::Outgoing { client_id, .. } if client_id.as_str() == "sub"),
        )
        .collect();

    // Second restart: the new, empty session must stay empty.
    let mut r2 = r.restart(Duration::from_secs(1));
    let (c, present) = r2.connect_persistent("sub", V3_1_1);
    assert!(present);
    let got = r2.publishes(c);
    assert!(
        got.is_empty() && leftover.is_empty(),
        "stale records {leftover:?} delivered to a new session: {:?}",
        texts(&got)
    );
}

// ---- Shared subscriptions ----

/// v5 4.8.2: "If the Client's Session terminates before the Client reconnects, the Server
/// SHOULD send the Application Message to another Client that is subscribed to the same
/// Shared Subscription." `end_session` re-routes only *queued* shared deliveries; one in
/// flight to the member whose session ends is lost.
#[test]
fn inflight_shared_message_goes_to_another_member_when_session_ends_v5_4_8_2() {
    let mut h = Harness::quiet();
    let a = h.connect("a", V5);
    h.subscribe(a, "$share/g/t", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V5);
    h.publish(publisher, "t", b"job", QoS::AtLeastOnce, false, 1);
    assert_eq!(texts(&h.publishes(a)), ["job"], "a gets it, does not ack");
    let b = h.connect("b", V5);
    h.subscribe(b, "$share/g/t", QoS::AtLeastOnce);
    // a's session (expiry 0) ends with its connection before it acknowledged.
    h.drop_connection(a);
    assert_eq!(
        texts(&h.publishes(b)),
        ["job"],
        "unacknowledged shared message lost when the member's session ended"
    );
}

/// [MQTT-4.4.0-1]: unacknowledged PUBLISH packets are re-sent "using their original Packet
/// Identifiers". The broker writes a QoS 2 PUBLISH (with its packet id) to the connection
/// before the record carrying that packet id is stored (`pump` encodes, raises
/// `Transmit`, and only then emits the record). After a crash the message is restored as
/// merely queued and sent with a new packet id and DUP 0: the client, still holding the
/// original id in its QoS 2 state, takes it as a second message.
#[test]
fn publish_is_resent_with_its_original_packet_id_after_a_crash_mqtt_4_4_0_1() {
    let mut h = Harness::durable();
    let (sub, publisher) = v5_sub_and_pub(&mut h, persistent(u32::MAX), "t", QoS::ExactlyOnce);
    // Two completed messages first, so the next packet id is 3.
    for i in 1..=2u16 {
        h.publish(publisher, "t", b"early", QoS::AtLeastOnce, false, i);
        for p in h.publishes(sub) {
            h.ack(sub, &p);
        }
    }
    h.hold_store = true;
    let before = last_seq(&h);
    h.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, 10);
    let got = h.publishes(sub);
    // The client receives it (if the broker let it go) and answers PUBREC (which the
    // crash loses).
    let original = got.first().map(id_of);
    if let Some(id) = original {
        h.send(sub, pubrec(id));
    }
    // The store had written the queued-message record, not yet the one with the packet id.
    let confirmed = h
        .records
        .iter()
        .find(|(seq, r)| {
            *seq > before
                && matches!(r, Record::Outgoing { delivery: Some(d), .. } if d.publish.packet_id.is_none())
        })
        .map_or(before, |(seq, _)| *seq);
    let mut r = crash_and_restore(&h, confirmed, Duration::from_secs(1));
    let (sub, connack) = connect_v5(&mut r, "sub", persistent(u32::MAX));
    assert!(connack.session_present);
    let again = r.publishes(sub);
    if let Some(original) = original {
        assert_eq!(texts(&again), ["x"]);
        assert_eq!(
            (id_of(&again[0]), again[0].dup),
            (original, true),
            "re-sent with a different packet id: the client sees a new QoS 2 message"
        );
    }
}

/// [MQTT-3.3.4-9] / v5 3.3.4 (server enforcement with 0x93): only PUBACK or PUBCOMP of
/// a counted flow returns receive quota. `complete_inbound` decrements the count for every
/// PUBCOMP sent, including 0x92 answers to PUBRELs for unknown packet ids, so a client
/// can exceed the Receive Maximum it was given by sprinkling bogus PUBRELs.
#[test]
fn pubrel_for_unknown_id_does_not_return_receive_quota_mqtt_3_3_4_9() {
    let mut h = Harness::quiet_with(|c| c.receive_maximum = 2);
    let (c, _) = connect_v5(&mut h, "greedy", |_| {});
    h.publish(c, "t", b"1", QoS::ExactlyOnce, false, 1);
    h.publish(c, "t", b"2", QoS::ExactlyOnce, false, 2);
    // Two flows await PUBREL: the quota is used up.
    h.send(c, pubrel(500));
    h.send(c, pubrel(501));
    h.publish(c, "t", b"3", QoS::ExactlyOnce, false, 3);
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ProtocolViolation(
            ReasonCode::ReceiveMaximumExceeded
        )),
        "3 QoS 2 flows open with Receive Maximum 2 and no DISCONNECT 0x93"
    );
}

// ---- Timers ----

/// `poll_timeout` promises "the earliest deadline at which handle_timeout has work"; the
/// timer heap is never purged of entries whose owner is gone. Every v5 client that
/// reconnects with Clean Start 1 after an offline period leaves its discarded session's
/// expiry entry in the heap until that expiry (up to ~136 years with the default
/// `max_session_expiry`): memory grows with every reconnect and the adapter is woken for
/// nothing.
#[test]
fn discarded_sessions_leave_no_timers_behind() {
    let mut h = Harness::quiet();
    for _ in 0..500 {
        let (c, _) = connect_v5(&mut h, "flappy", session_expiry(86_400));
        h.drop_connection(c);
        h.advance(Duration::from_millis(1));
    }
    // Gone for good: the last session ends with its connection.
    let c = h.connect("flappy", V5);
    h.drop_connection(c);
    h.advance(Duration::from_secs(11));
    assert_eq!(h.broker.session_count(), 0);
    assert_eq!(h.broker.connection_count(), 0);
    let mut wakeups = 0;
    while let Some(at) = h.broker.poll_timeout() {
        h.broker.handle_timeout(at);
        wakeups += 1;
        if wakeups > 10_000 {
            break;
        }
    }
    assert!(
        wakeups <= 1,
        "{wakeups} timer entries left for sessions that no longer exist"
    );
}
