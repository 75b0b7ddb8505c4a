//! Retained messages and subscriptions: the retained store, Retain Handling, SUBSCRIBE and
//! SUBACK, overlapping subscriptions and their identifiers, No Local, wildcards and
//! `$` topics, UNSUBSCRIBE, shared subscriptions and the per-session subscription quota.
//!
//! Normative ids are from MQTT 3.1.1 ("v3") or MQTT 5.0 ("v5"), which number differently;
//! CONFORMANCE n refers to /work/shared/CONFORMANCE.md.

mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use harness::*;
use mqtt_broker_core::CloseReason;
use mqtt_codec::{
    Packet, ProtocolVersion, ProtocolVersion::*, Publish, QoS, ReasonCode, RetainHandling,
    Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
};

// ---- Helpers ----

fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions::qos(qos)
}

fn opts_rh(qos: QoS, retain_handling: RetainHandling) -> SubscriptionOptions {
    SubscriptionOptions {
        retain_handling,
        ..opts(qos)
    }
}

fn opts_rap(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        retain_as_published: true,
        ..opts(qos)
    }
}

fn opts_no_local(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        no_local: true,
        ..opts(qos)
    }
}

/// One UNSUBSCRIBE with every filter; returns the whole UNSUBACK.
fn unsubscribe_all(h: &mut Harness, c: ClientId, packet_id: u16, filters: &[&str]) -> UnsubAck {
    let unsubscribe = Unsubscribe {
        packet_id: pid(packet_id),
        properties: Default::default(),
        filters: filters.iter().map(|f| string(f)).collect(),
    };
    h.send(c, Packet::Unsubscribe(unsubscribe));
    match h.recv(c) {
        Some(Packet::UnsubAck(unsuback)) => unsuback,
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

fn sub_ids(p: &Publish) -> Vec<u32> {
    let mut ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|id| id.get())
        .collect();
    ids.sort_unstable();
    ids
}

/// The only PUBLISH client `c` received since the last call.
fn only_publish(h: &mut Harness, c: ClientId) -> Publish {
    let mut got = h.publishes(c);
    assert_eq!(got.len(), 1, "expected exactly one PUBLISH, got {got:?}");
    got.remove(0)
}

/// Encodes a SUBSCRIBE by hand: filters the codec refuses to encode (the empty one) too.
fn raw_subscribe(version: ProtocolVersion, packet_id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if version.is_v5() {
        body.push(0); // no properties
    }
    for (filter, options) in filters {
        body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
        body.extend_from_slice(filter.as_bytes());
        body.push(*options);
    }
    assert!(body.len() < 128);
    raw_packet(0x82, &body)
}

// ---- Retained messages: store, replace, delete ----

/// `publish` retains `payload` on `topic` at `qos`; a later subscriber (same `version`) to
/// `filter`, granted `granted`, gets it after its SUBACK, once, with RETAIN 1, at `qos`.
fn retained_message_reaches_a_later_subscriber(
    version: ProtocolVersion,
    (topic, payload, qos, packet_id): (&str, &[u8], QoS, u16),
    filter: &str,
    granted: ReasonCode,
) {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", version);
    publish_done(&mut h, publisher, topic, payload, qos, true, packet_id);
    assert_eq!(h.broker.stats().retained_messages, 1);

    let sub = h.connect("sub", version);
    // SUBACK comes first (the harness asserts it), then the retained message.
    assert_eq!(h.subscribe(sub, filter, qos), [granted]);
    let p = only_publish(&mut h, sub);
    assert_eq!(p.topic.as_str(), topic);
    assert_eq!(&p.payload[..], payload);
    assert!(p.retain, "sent because of a new subscription: RETAIN 1");
    assert_eq!(p.qos, qos);
    assert!(p.packet_id.is_some());
    assert!(!p.dup);
}

/// v3 [MQTT-3.3.1-5] the server stores a retained message and its QoS; v3 [MQTT-3.3.1-6] a new
/// subscription receives it; v3 [MQTT-3.3.1-8] with RETAIN 1.
#[test]
fn retained_message_sent_to_later_subscriber_with_retain_1_v3_mqtt_3_3_1_5_6_8() {
    retained_message_reaches_a_later_subscriber(
        V3_1_1,
        ("home/temp", b"21.5", QoS::AtLeastOnce, 1),
        "home/+",
        ReasonCode::GrantedQoS1,
    );
}

/// v5 [MQTT-3.3.1-5] stored; v5 [MQTT-3.3.1-9] Retain Handling 0 (the default) sends it, with
/// RETAIN 1 (v5 3.3.1.3).
#[test]
fn retained_message_sent_to_later_subscriber_v5_mqtt_3_3_1_5_and_3_3_1_9() {
    retained_message_reaches_a_later_subscriber(
        V5,
        ("home/hum", b"40%", QoS::ExactlyOnce, 7),
        "home/#",
        ReasonCode::GrantedQoS2,
    );
}

/// v3 [MQTT-3.3.1-7]: a QoS 0 retained message discards the previous one (here a QoS 1 one)
/// and becomes the retained message; v5 [MQTT-3.3.1-5] "replace any existing retained
/// message". CONFORMANCE 35.
#[test]
fn new_retained_message_replaces_old_also_at_qos_0_mqtt_3_3_1_7() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let publisher = h.connect("pub", version);
        publish_done(
            &mut h,
            publisher,
            "state",
            b"old",
            QoS::AtLeastOnce,
            true,
            1,
        );
        publish_done(&mut h, publisher, "state", b"new", QoS::AtMostOnce, true, 0);
        assert_eq!(h.broker.stats().retained_messages, 1, "{version:?}");

        let sub = h.connect("sub", version);
        h.subscribe(sub, "state", QoS::ExactlyOnce);
        let p = only_publish(&mut h, sub);
        assert_eq!(&p.payload[..], b"new", "{version:?}");
        assert_eq!(p.qos, QoS::AtMostOnce, "the new message's QoS is kept");
        assert!(p.retain);
    }
}

/// v3 [MQTT-3.3.1-10]: an empty retained payload is delivered "as normal" to current
/// subscribers (RETAIN 0) and removes the retained message; v3 [MQTT-3.3.1-11]: it is not
/// itself stored. CONFORMANCE 36.
#[test]
fn empty_retained_payload_deletes_and_is_not_stored_v3_mqtt_3_3_1_10_and_11() {
    let mut h = Harness::quiet();
    let current = h.connect("current", V3_1_1);
    h.subscribe(current, "lamp", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);

    publish_done(&mut h, publisher, "lamp", b"on", QoS::AtLeastOnce, true, 1);
    let p = only_publish(&mut h, current);
    h.ack(current, &p);
    assert_eq!(h.broker.stats().retained_messages, 1);

    publish_done(&mut h, publisher, "lamp", b"", QoS::AtLeastOnce, true, 2);
    let p = only_publish(&mut h, current);
    h.ack(current, &p);
    assert!(p.payload.is_empty(), "the empty message is still delivered");
    assert!(
        !p.retain,
        "as normal: RETAIN 0 for an established subscription"
    );
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert_eq!(h.broker.stats().retained_messages, 0);

    // Deleting a topic that holds nothing stores nothing either.
    publish_done(&mut h, publisher, "other", b"", QoS::AtMostOnce, true, 0);
    assert_eq!(h.broker.stats().retained_messages, 0);

    let later = h.connect("later", V3_1_1);
    assert_eq!(
        h.subscribe(later, "#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    assert!(h.publishes(later).is_empty(), "no retained message remains");
}

/// v5 [MQTT-3.3.1-6]: an empty payload is processed normally and removes the retained
/// message; v5 [MQTT-3.3.1-7]: it is not stored. CONFORMANCE 36.
#[test]
fn empty_retained_payload_deletes_and_is_not_stored_v5_mqtt_3_3_1_6_and_7() {
    let mut h = Harness::quiet();
    let current = h.connect("current", V5);
    h.subscribe(current, "lamp/#", QoS::AtMostOnce);
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "lamp/1", b"on", QoS::AtMostOnce, true, 0);
    publish_done(
        &mut h,
        publisher,
        "lamp/2",
        b"off",
        QoS::AtMostOnce,
        true,
        0,
    );
    assert_eq!(texts(&h.publishes(current)), ["on", "off"]);
    assert_eq!(h.broker.stats().retained_messages, 2);

    publish_done(&mut h, publisher, "lamp/1", b"", QoS::AtMostOnce, true, 0);
    let p = only_publish(&mut h, current);
    assert_eq!(p.topic.as_str(), "lamp/1");
    assert!(p.payload.is_empty());
    assert!(!p.retain);
    assert_eq!(h.broker.stats().retained_messages, 1);

    let later = h.connect("later", V5);
    h.subscribe(later, "lamp/#", QoS::AtMostOnce);
    let p = only_publish(&mut h, later);
    assert_eq!(
        p.topic.as_str(),
        "lamp/2",
        "only the untouched message is left"
    );
    assert_eq!(&p.payload[..], b"off");
}

/// v3 [MQTT-3.3.1-12] / v5 [MQTT-3.3.1-8]: RETAIN 0 neither stores, replaces nor removes a
/// retained message, even with an empty payload. CONFORMANCE 37.
#[test]
fn retain_0_never_touches_the_store_v3_mqtt_3_3_1_12_v5_mqtt_3_3_1_8() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let publisher = h.connect("pub", version);
        publish_done(&mut h, publisher, "t", b"kept", QoS::AtLeastOnce, true, 1);
        publish_done(&mut h, publisher, "t", b"live", QoS::AtLeastOnce, false, 2);
        publish_done(&mut h, publisher, "t", b"", QoS::AtMostOnce, false, 0);
        publish_done(
            &mut h,
            publisher,
            "u",
            b"not kept",
            QoS::AtLeastOnce,
            false,
            3,
        );
        assert_eq!(h.broker.stats().retained_messages, 1, "{version:?}");

        let sub = h.connect("sub", version);
        h.subscribe(sub, "#", QoS::AtLeastOnce);
        let p = only_publish(&mut h, sub);
        assert_eq!(p.topic.as_str(), "t");
        assert_eq!(&p.payload[..], b"kept", "{version:?}");
    }
}

/// `stats().retained_messages` counts what the store holds.
#[test]
fn retained_message_count_in_stats() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    assert_eq!(h.broker.stats().retained_messages, 0);
    for (i, topic) in ["a", "b", "c/d"].into_iter().enumerate() {
        publish_done(&mut h, publisher, topic, b"x", QoS::AtMostOnce, true, 0);
        assert_eq!(h.broker.stats().retained_messages, i as u64 + 1);
    }
    publish_done(&mut h, publisher, "a", b"y", QoS::AtLeastOnce, true, 1);
    assert_eq!(h.broker.stats().retained_messages, 3, "replaced, not added");
    publish_done(&mut h, publisher, "b", b"", QoS::AtMostOnce, true, 0);
    assert_eq!(h.broker.stats().retained_messages, 2, "deleted");
}

// ---- Retained messages: flags and QoS on the way out ----

/// v3 [MQTT-3.3.1-9]: a message matching an established subscription goes out with RETAIN 0,
/// however it was published; v5 [MQTT-3.3.1-12] the same without Retain As Published.
#[test]
fn live_delivery_carries_retain_0_v3_mqtt_3_3_1_9_v5_mqtt_3_3_1_12() {
    let mut h = Harness::quiet();
    let sub3 = h.connect("sub3", V3_1_1);
    let sub5 = h.connect("sub5", V5);
    h.subscribe(sub3, "news", QoS::AtLeastOnce);
    h.subscribe(sub5, "news", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V3_1_1);
    publish_done(
        &mut h,
        publisher,
        "news",
        b"flash",
        QoS::AtLeastOnce,
        true,
        1,
    );
    for sub in [sub3, sub5] {
        let p = only_publish(&mut h, sub);
        assert_eq!(&p.payload[..], b"flash");
        assert!(!p.retain, "established subscription: RETAIN 0");
    }
    // The message was stored all the same.
    assert_eq!(h.broker.stats().retained_messages, 1);
}

/// v5 [MQTT-3.3.1-13]: with Retain As Published the RETAIN flag is forwarded as received;
/// v5 [MQTT-3.3.1-12]: without it, 0. CONFORMANCE 38.
#[test]
fn retain_as_published_forwards_the_flag_v5_mqtt_3_3_1_13() {
    let mut h = Harness::quiet();
    let rap = h.connect("rap", V5);
    let plain = h.connect("plain", V5);
    subscribe_all(&mut h, rap, &[("news", opts_rap(QoS::AtLeastOnce))], None);
    h.subscribe(plain, "news", QoS::AtLeastOnce);
    let publisher = h.connect("pub", V5);
    publish_done(
        &mut h,
        publisher,
        "news",
        b"retained",
        QoS::AtLeastOnce,
        true,
        1,
    );
    publish_done(
        &mut h,
        publisher,
        "news",
        b"plain",
        QoS::AtLeastOnce,
        false,
        2,
    );

    let got = h.publishes(rap);
    assert_eq!(texts(&got), ["retained", "plain"]);
    assert_eq!(
        got.iter().map(|p| p.retain).collect::<Vec<_>>(),
        [true, false]
    );
    let got = h.publishes(plain);
    assert_eq!(texts(&got), ["retained", "plain"]);
    assert_eq!(
        got.iter().map(|p| p.retain).collect::<Vec<_>>(),
        [false, false]
    );
}

/// v3 [MQTT-3.3.1-5] the message is stored "and its QoS"; v3 [MQTT-3.8.4-6] / v5 [MQTT-3.8.4-8]:
/// it goes out at min(its QoS, granted QoS), and keeps RETAIN 1.
#[test]
fn retained_delivered_at_min_of_retained_and_granted_qos_mqtt_3_8_4_6() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "r/0", b"q0", QoS::AtMostOnce, true, 0);
    publish_done(&mut h, publisher, "r/1", b"q1", QoS::AtLeastOnce, true, 1);
    publish_done(&mut h, publisher, "r/2", b"q2", QoS::ExactlyOnce, true, 2);

    let expectations = [
        (
            QoS::AtMostOnce,
            [QoS::AtMostOnce, QoS::AtMostOnce, QoS::AtMostOnce],
        ),
        (
            QoS::AtLeastOnce,
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtLeastOnce],
        ),
        (
            QoS::ExactlyOnce,
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce],
        ),
    ];
    for (i, (granted, expected)) in expectations.into_iter().enumerate() {
        for version in [V3_1_1, V5] {
            let sub = h.connect(&format!("sub{i}{version:?}"), version);
            h.subscribe(sub, "r/+", granted);
            let mut got = h.publishes(sub);
            got.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
            assert_eq!(texts(&got), ["q0", "q1", "q2"]);
            assert_eq!(
                got.iter().map(|p| p.qos).collect::<Vec<_>>(),
                expected,
                "granted {granted:?}, {version:?}"
            );
            assert!(got.iter().all(|p| p.retain));
            assert!(got
                .iter()
                .all(|p| p.packet_id.is_some() == (p.qos > QoS::AtMostOnce)));
        }
    }
}

/// v3 [MQTT-3.1.2-7]: retained messages are not session state and are not deleted when the
/// session ends (CONFORMANCE 39): neither a 3.1.1 clean session nor an expired v5 session
/// takes its retained messages along.
#[test]
fn retained_messages_outlive_the_publisher_session_v3_mqtt_3_1_2_7() {
    let mut h = Harness::quiet();
    let clean = h.connect("clean-pub", V3_1_1);
    publish_done(&mut h, clean, "a", b"from clean", QoS::AtLeastOnce, true, 1);
    h.send(clean, disconnect(ReasonCode::Success));
    assert!(h.is_gone(clean));
    assert!(h.broker.session_info("clean-pub").is_none());

    let (expiring, _) = connect_v5(&mut h, "expiring-pub", session_expiry(5));
    publish_done(
        &mut h,
        expiring,
        "b",
        b"from expiring",
        QoS::ExactlyOnce,
        true,
        1,
    );
    h.drop_connection(expiring);
    assert!(h.broker.session_info("expiring-pub").is_some());
    h.advance(Duration::from_secs(6));
    assert!(h.broker.session_info("expiring-pub").is_none(), "expired");
    assert_eq!(h.broker.session_count(), 0);

    assert_eq!(h.broker.stats().retained_messages, 2);
    let sub = h.connect("sub", V3_1_1);
    h.subscribe(sub, "+", QoS::ExactlyOnce);
    let mut got = texts(&h.publishes(sub));
    got.sort();
    assert_eq!(got, ["from clean", "from expiring"]);
}

// ---- v5 Retain Handling and re-subscribing ----

/// v5 [MQTT-3.3.1-9]: Retain Handling 0 sends retained messages at every subscribe, also when
/// the subscription already exists.
#[test]
fn retain_handling_0_sends_at_every_subscribe_v5_mqtt_3_3_1_9() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "rh/a", b"A", QoS::AtLeastOnce, true, 1);
    let sub = h.connect("sub", V5);
    for _ in 0..2 {
        let o = opts_rh(QoS::AtLeastOnce, RetainHandling::SendAtSubscribe);
        assert_eq!(
            subscribe_all(&mut h, sub, &[("rh/#", o)], None),
            [ReasonCode::GrantedQoS1]
        );
        let p = only_publish(&mut h, sub);
        h.ack(sub, &p);
        assert_eq!(&p.payload[..], b"A");
        assert!(p.retain);
    }
}

/// v5 [MQTT-3.3.1-10]: Retain Handling 1 sends retained messages only if the subscription did
/// not exist: re-subscribing sends nothing; a new filter, or the same one after UNSUBSCRIBE,
/// gets them.
#[test]
fn retain_handling_1_sends_only_for_a_new_subscription_v5_mqtt_3_3_1_10() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "rh/a", b"A", QoS::AtMostOnce, true, 0);
    let sub = h.connect("sub", V5);
    let o = opts_rh(QoS::AtMostOnce, RetainHandling::SendAtSubscribeIfNew);

    subscribe_all(&mut h, sub, &[("rh/#", o)], None);
    assert_eq!(texts(&h.publishes(sub)), ["A"], "new subscription");

    assert_eq!(
        subscribe_all(&mut h, sub, &[("rh/#", o)], None),
        [ReasonCode::GRANTED_QOS_0]
    );
    assert!(h.publishes(sub).is_empty(), "subscription existed: nothing");

    // The subscription still works (one copy).
    publish_done(
        &mut h,
        publisher,
        "rh/a",
        b"live",
        QoS::AtMostOnce,
        false,
        0,
    );
    assert_eq!(texts(&h.publishes(sub)), ["live"]);

    subscribe_all(&mut h, sub, &[("rh/+", o)], None);
    assert_eq!(texts(&h.publishes(sub)), ["A"], "a different filter is new");

    unsubscribe_all(&mut h, sub, 9, &["rh/#"]);
    subscribe_all(&mut h, sub, &[("rh/#", o)], None);
    assert_eq!(
        texts(&h.publishes(sub)),
        ["A"],
        "new again after UNSUBSCRIBE"
    );
}

/// v5 [MQTT-3.3.1-11]: Retain Handling 2 never sends retained messages; live messages still
/// flow.
#[test]
fn retain_handling_2_never_sends_retained_v5_mqtt_3_3_1_11() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "rh/a", b"A", QoS::AtLeastOnce, true, 1);
    let sub = h.connect("sub", V5);
    let o = opts_rh(QoS::AtLeastOnce, RetainHandling::DoNotSend);
    for filter in ["rh/#", "rh/a", "rh/#"] {
        assert_eq!(
            subscribe_all(&mut h, sub, &[(filter, o)], None),
            [ReasonCode::GrantedQoS1]
        );
        assert!(h.publishes(sub).is_empty(), "{filter}");
    }
    publish_done(
        &mut h,
        publisher,
        "rh/a",
        b"live",
        QoS::AtLeastOnce,
        false,
        2,
    );
    let p = only_publish(&mut h, sub);
    assert_eq!(&p.payload[..], b"live");
}

/// A client subscribes to `filter` at `first` and gets the retained message on `dev/1`, then
/// subscribes to the same filter at `second` (granted `granted`): the subscription is
/// replaced (one subscription, later messages arrive once at the new QoS) and the retained
/// message is sent again, at the new QoS, with RETAIN 1.
fn resubscribe_replaces_and_resends_retained(
    version: ProtocolVersion,
    filter: &str,
    (first, second): (QoS, QoS),
    granted: ReasonCode,
) {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", version);
    publish_done(
        &mut h,
        publisher,
        "dev/1",
        b"keep",
        QoS::ExactlyOnce,
        true,
        1,
    );
    let sub = h.connect("sub", version);
    // Acknowledges `p`; a QoS 2 one is answered with PUBREL.
    let ack = |h: &mut Harness, p: &Publish| {
        h.ack(sub, p);
        if p.qos == QoS::ExactlyOnce {
            assert!(matches!(h.recv(sub), Some(Packet::PubRel(_))));
        }
    };

    h.subscribe(sub, filter, first);
    let p = only_publish(&mut h, sub);
    ack(&mut h, &p);
    assert_eq!((p.qos, p.retain), (first, true));

    assert_eq!(h.subscribe(sub, filter, second), [granted]);
    let p = only_publish(&mut h, sub);
    ack(&mut h, &p);
    assert_eq!(&p.payload[..], b"keep");
    assert_eq!((p.qos, p.retain), (second, true), "re-sent at the new QoS");
    assert_eq!(h.broker.session_info("sub").unwrap().subscriptions, 1);
    assert_eq!(h.broker.stats().subscriptions, 1);

    publish_done(
        &mut h,
        publisher,
        "dev/1",
        b"live",
        QoS::ExactlyOnce,
        false,
        2,
    );
    let p = only_publish(&mut h, sub);
    assert_eq!(&p.payload[..], b"live");
    assert_eq!(p.qos, second, "one copy, at the replacing QoS");
    assert!(!p.retain);
}

/// v5 [MQTT-3.8.4-3]: a SUBSCRIBE with an existing filter replaces the subscription (its QoS
/// now applies, and later messages arrive once); v5 [MQTT-3.8.4-4]: with Retain Handling 0
/// retained messages are re-sent. CONFORMANCE 39.
#[test]
fn resubscribe_replaces_subscription_and_resends_retained_v5_mqtt_3_8_4_3_and_3_8_4_4() {
    resubscribe_replaces_and_resends_retained(
        V5,
        "dev/#",
        (QoS::AtMostOnce, QoS::ExactlyOnce),
        ReasonCode::GrantedQoS2,
    );
}

/// v3 [MQTT-3.8.4-3]: the same filter replaces the subscription (QoS may change) and
/// retained messages matching it are re-sent.
#[test]
fn resubscribe_replaces_subscription_and_resends_retained_v3_mqtt_3_8_4_3() {
    resubscribe_replaces_and_resends_retained(
        V3_1_1,
        "dev/+",
        (QoS::ExactlyOnce, QoS::AtLeastOnce),
        ReasonCode::GrantedQoS1,
    );
}

// ---- The Mosquitto regression: many retained messages on `#` ----

/// CONFORMANCE 40: a `#` subscription gets every retained message, however many, within the
/// user's queue limits: retained messages sent for a new subscription are paced by the
/// inflight window, not cut off by `max_queued_messages` (v3 [MQTT-3.3.1-6] "the last retained
/// message ... on each matching topic name MUST be sent").
#[test]
fn hash_subscription_gets_all_100k_retained_messages_paced_by_the_window() {
    const COUNT: usize = 100_000;
    const WINDOW: u16 = 20;
    let started = Instant::now();
    let mut h = Harness::quiet_with(|c| {
        c.max_queued_messages = 10;
        c.max_inflight = WINDOW;
    });

    // QoS 1 retained messages, pipelined in batches (the broker acknowledges each at once).
    let publisher = h.connect("pub", V3_1_1);
    let mut acks = 0;
    for batch in 0..COUNT / 1000 {
        let burst = (batch * 1000..(batch + 1) * 1000)
            .map(|i| {
                let packet_id = (i % 65_535) as u16 + 1;
                Packet::Publish(publish(
                    &format!("r/{i}"),
                    b"v",
                    QoS::AtLeastOnce,
                    true,
                    packet_id,
                ))
            })
            .collect();
        h.send_burst(publisher, burst);
        acks += h
            .drain(publisher)
            .iter()
            .filter(|p| matches!(p, Packet::PubAck(_)))
            .count();
    }
    assert_eq!(acks, COUNT);
    assert_eq!(h.broker.stats().retained_messages, COUNT as u64);

    let sub = h.connect("sub", V3_1_1);
    assert_eq!(
        h.subscribe(sub, "#", QoS::AtLeastOnce),
        [ReasonCode::GrantedQoS1]
    );
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!(info.inflight, usize::from(WINDOW), "the window is full");
    assert_eq!(info.queued, COUNT - usize::from(WINDOW), "the rest waits");

    let mut topics = BTreeSet::new();
    let mut received = 0;
    while let Some(packet) = h.recv(sub) {
        let Packet::Publish(p) = packet else {
            panic!("unexpected {packet:?}");
        };
        assert!(p.retain);
        assert_eq!(p.qos, QoS::AtLeastOnce);
        received += 1;
        topics.insert(p.topic.as_str().to_owned());
        h.ack(sub, &p);
    }
    assert_eq!(received, COUNT, "each retained message exactly once");
    assert_eq!(topics.len(), COUNT, "every distinct topic arrived");
    assert_eq!(h.broker.stats().publish_dropped, 0);
    let info = h.broker.session_info("sub").unwrap();
    assert_eq!((info.inflight, info.queued), (0, 0));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

// ---- SUBSCRIBE and SUBACK ----

/// v3 [MQTT-3.8.4-4] a SUBSCRIBE with several filters is handled as several SUBSCRIBEs with one
/// SUBACK; v3 [MQTT-3.8.4-5] one return code per filter; v3 [MQTT-3.9.3-1] in order; v3
/// [MQTT-3.9.3-2] only 0x00, 0x01, 0x02, 0x80 (invalid filters, v3 [MQTT-4.7.1-2]/[MQTT-4.7.1-3],
/// fail with 0x80 while the valid ones are granted). CONFORMANCE 41.
#[test]
fn suback_one_code_per_filter_in_order_v3_mqtt_3_8_4_4_and_3_9_3_1() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V3_1_1);
    let codes = subscribe_all(
        &mut h,
        sub,
        &[
            ("a/b", opts(QoS::AtMostOnce)),
            ("a/#/b", opts(QoS::AtLeastOnce)),
            ("c/+", opts(QoS::ExactlyOnce)),
            ("a+", opts(QoS::AtLeastOnce)),
            ("d/#", opts(QoS::AtLeastOnce)),
        ],
        None,
    );
    assert_eq!(
        codes,
        [
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::UnspecifiedError,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
            ReasonCode::GrantedQoS1,
        ]
    );
    // On the wire: SUBACK, remaining length 7, packet id 0x1234, the five codes.
    let raw = &h.clients[sub].raw;
    assert_eq!(
        &raw[raw.len() - 9..],
        [0x90, 0x07, 0x12, 0x34, 0x00, 0x80, 0x02, 0x80, 0x01]
    );
    assert_eq!(h.broker.session_info("sub").unwrap().subscriptions, 3);

    let publisher = h.connect("pub", V3_1_1);
    for topic in ["a/b", "c/x", "d/y"] {
        publish_done(
            &mut h,
            publisher,
            topic,
            topic.as_bytes(),
            QoS::AtMostOnce,
            false,
            0,
        );
    }
    assert_eq!(texts(&h.publishes(sub)), ["a/b", "c/x", "d/y"]);
}

/// v5 [MQTT-3.8.4-5]/[MQTT-3.8.4-6] one Reason Code per filter, v5 [MQTT-3.9.3-1] in order:
/// filters breaking v5 [MQTT-4.7.1-1]/[MQTT-4.7.1-2] get 0x8F (Topic Filter invalid), the others
/// are granted and work.
#[test]
fn invalid_filters_get_0x8f_valid_ones_granted_v5_mqtt_3_9_3_1() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    let codes = subscribe_all(
        &mut h,
        sub,
        &[
            ("a/#/b", opts(QoS::AtLeastOnce)),
            ("x/#", opts(QoS::AtLeastOnce)),
            ("a+", opts(QoS::AtLeastOnce)),
            ("+/y", opts(QoS::ExactlyOnce)),
            ("sport/ten#nis", opts(QoS::AtMostOnce)),
            ("#/", opts(QoS::AtMostOnce)),
        ],
        None,
    );
    assert_eq!(
        codes,
        [
            ReasonCode::TopicFilterInvalid,
            ReasonCode::GrantedQoS1,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::GrantedQoS2,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
        ]
    );
    assert!(!h.is_gone(sub));
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "x/1", b"1", QoS::AtLeastOnce, false, 1);
    publish_done(&mut h, publisher, "q/y", b"2", QoS::AtLeastOnce, false, 2);
    assert_eq!(texts(&h.publishes(sub)), ["1", "2"]);
}

/// v3 and v5 [MQTT-4.7.3-1]: topic filters are at least one character long.
#[test]
fn empty_filter_is_malformed_and_closes_mqtt_4_7_3_1() {
    // An empty filter breaks [MQTT-4.7.3-1] inside the packet itself: the codec refuses the
    // SUBSCRIBE as malformed (as Mosquitto does), so there is no SUBACK; a v5 client is
    // told 0x81 first, a 3.1.1 one is closed [MQTT-4.8.0-1].
    for version in [V5, V3_1_1] {
        let mut h = Harness::quiet();
        let other = h.connect("other", version);
        let sub = h.connect("sub", version);
        h.send_bytes(
            sub,
            &raw_subscribe(version, 9, &[("a/b", 0x01), ("", 0x01), ("c", 0x00)]),
        );
        let packets = h.drain(sub);
        if version == V5 {
            assert!(
                matches!(&packets[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::MalformedPacket),
                "{version:?}: {packets:?}"
            );
        } else {
            assert!(packets.is_empty(), "{version:?}: {packets:?}");
        }
        assert!(h.is_gone(sub), "{version:?}");
        assert!(!h.is_gone(other), "{version:?}: other sessions stay");
        assert_eq!(h.broker.session_info("sub").map(|i| i.subscriptions), None);
    }
}

/// `config.maximum_qos` lowers the granted QoS (v5 3.2.2.3.4 Maximum QoS, announced in
/// CONNACK), and deliveries follow the granted QoS: v3 [MQTT-3.8.4-6], v5 [MQTT-3.8.4-8].
#[test]
fn maximum_qos_config_lowers_granted_qos_mqtt_3_8_4_6() {
    let mut h = Harness::quiet_with(|c| c.maximum_qos = QoS::AtLeastOnce);
    let (sub5, connack) = connect_v5(&mut h, "sub5", |_| {});
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    let sub3 = h.connect("sub3", V3_1_1);
    for sub in [sub5, sub3] {
        let codes = subscribe_all(
            &mut h,
            sub,
            &[
                ("m/2", opts(QoS::ExactlyOnce)),
                ("m/1", opts(QoS::AtLeastOnce)),
                ("m/0", opts(QoS::AtMostOnce)),
            ],
            None,
        );
        assert_eq!(
            codes,
            [
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS1,
                ReasonCode::GRANTED_QOS_0
            ]
        );
    }
    let publisher = h.connect("pub", V3_1_1);
    publish_done(&mut h, publisher, "m/2", b"x", QoS::AtLeastOnce, false, 1);
    for sub in [sub5, sub3] {
        let p = only_publish(&mut h, sub);
        assert_eq!(p.qos, QoS::AtLeastOnce);
    }
}

// ---- Overlapping subscriptions and subscription identifiers ----

/// v5 [MQTT-3.3.4-2] one copy at the highest QoS of the matching subscriptions; v5
/// [MQTT-3.3.4-3]/[MQTT-3.3.4-4] that single copy carries the identifiers of every matching
/// subscription that has one (CONFORMANCE 35b).
#[test]
fn overlapping_subscriptions_one_copy_with_every_identifier_v5_mqtt_3_3_4_2_to_4() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    subscribe_all(&mut h, sub, &[("s/+", opts(QoS::AtMostOnce))], Some(1));
    subscribe_all(&mut h, sub, &[("s/#", opts(QoS::AtLeastOnce))], Some(2));
    subscribe_all(&mut h, sub, &[("s/x", opts(QoS::ExactlyOnce))], None);
    let publisher = h.connect("pub", V5);

    publish_done(&mut h, publisher, "s/x", b"x", QoS::ExactlyOnce, false, 1);
    let p = only_publish(&mut h, sub);
    h.ack(sub, &p);
    assert_eq!(p.qos, QoS::ExactlyOnce);
    assert_eq!(sub_ids(&p), [1, 2]);

    publish_done(&mut h, publisher, "s/y", b"y", QoS::ExactlyOnce, false, 2);
    let p = only_publish(&mut h, sub);
    h.ack(sub, &p);
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert_eq!(sub_ids(&p), [1, 2]);

    publish_done(&mut h, publisher, "s/y/z", b"z", QoS::ExactlyOnce, false, 3);
    let p = only_publish(&mut h, sub);
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert_eq!(sub_ids(&p), [2]);
}

/// v5 [MQTT-3.3.4-3]: the Subscription Identifier from SUBSCRIBE appears in the PUBLISH packets
/// the subscription causes, retained ones included; a replacing subscription without one
/// ([MQTT-3.8.4-3]) removes it.
#[test]
fn subscription_identifier_in_delivered_publish_v5_mqtt_3_3_4_3() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    publish_done(
        &mut h,
        publisher,
        "id/t",
        b"retained",
        QoS::AtMostOnce,
        true,
        0,
    );
    let sub = h.connect("sub", V5);
    let other = h.connect("other", V5);

    subscribe_all(
        &mut h,
        sub,
        &[("id/t", opts(QoS::AtLeastOnce))],
        Some(268_435_455),
    );
    let p = only_publish(&mut h, sub);
    assert!(p.retain);
    assert_eq!(sub_ids(&p), [268_435_455]);
    h.subscribe(other, "id/+", QoS::AtLeastOnce);
    assert!(sub_ids(&only_publish(&mut h, other)).is_empty());

    publish_done(
        &mut h,
        publisher,
        "id/t",
        b"live",
        QoS::AtLeastOnce,
        false,
        1,
    );
    let p = only_publish(&mut h, sub);
    h.ack(sub, &p);
    assert_eq!(sub_ids(&p), [268_435_455]);
    let p = only_publish(&mut h, other);
    h.ack(other, &p);
    assert!(sub_ids(&p).is_empty(), "no identifier, none sent");

    subscribe_all(&mut h, sub, &[("id/t", opts(QoS::AtLeastOnce))], None);
    h.publishes(sub);
    publish_done(
        &mut h,
        publisher,
        "id/t",
        b"after",
        QoS::AtLeastOnce,
        false,
        2,
    );
    let p = only_publish(&mut h, sub);
    assert!(
        sub_ids(&p).is_empty(),
        "the replacing subscription has none"
    );
}

// ---- No Local ----

/// v5 [MQTT-3.8.3-3]: with No Local, messages are not forwarded to the connection with the
/// publisher's client id; other subscribers, and the No Local subscriber for others'
/// messages, still get them.
#[test]
fn no_local_skips_own_messages_only_v5_mqtt_3_8_3_3() {
    let mut h = Harness::quiet();
    let x = h.connect("x", V5);
    let y = h.connect("y", V5);
    let z = h.connect("z", V5);
    subscribe_all(
        &mut h,
        x,
        &[("chat", opts_no_local(QoS::AtLeastOnce))],
        None,
    );
    subscribe_all(
        &mut h,
        y,
        &[("chat", opts_no_local(QoS::AtLeastOnce))],
        None,
    );
    h.subscribe(z, "chat", QoS::AtLeastOnce);

    publish_done(&mut h, x, "chat", b"from x", QoS::AtLeastOnce, false, 1);
    assert!(h.publishes(x).is_empty(), "not back to the publisher");
    assert_eq!(texts(&h.publishes(y)), ["from x"]);
    assert_eq!(texts(&h.publishes(z)), ["from x"]);

    publish_done(&mut h, y, "chat", b"from y", QoS::AtMostOnce, false, 0);
    assert_eq!(texts(&h.publishes(x)), ["from y"]);
    assert!(h.publishes(y).is_empty());
    assert_eq!(texts(&h.publishes(z)), ["from y"]);

    // Without No Local the publisher gets its own message.
    publish_done(&mut h, z, "chat", b"from z", QoS::AtMostOnce, false, 0);
    assert_eq!(texts(&h.publishes(z)), ["from z"]);
}

// ---- Wildcards and `$` topics ----

/// v3 4.7.1: `#` matches the parent level and any below, `+` exactly one level (possibly
/// empty) (v3 [MQTT-4.7.1-2]/[MQTT-4.7.1-3]; CONFORMANCE 12).
#[test]
fn wildcards_match_levels_mqtt_4_7_1_2_and_4_7_1_3() {
    const TOPICS: [&str; 6] = [
        "sport",
        "sport/",
        "sport/tennis/p1",
        "/finance",
        "foo//baz",
        "foo/bar/baz",
    ];
    let mut h = Harness::quiet();
    let table: [(&str, &[&str]); 6] = [
        ("sport/#", &["sport", "sport/", "sport/tennis/p1"]),
        ("sport/+", &["sport/"]),
        ("+/+", &["sport/", "/finance"]),
        ("foo/+/baz", &["foo//baz", "foo/bar/baz"]),
        ("+", &["sport"]),
        // Every topic, in the order published.
        ("#", &TOPICS),
    ];
    let subs: Vec<ClientId> = table
        .iter()
        .enumerate()
        .map(|(i, (filter, _))| {
            let c = h.connect(&format!("s{i}"), V5);
            h.subscribe(c, filter, QoS::AtMostOnce);
            c
        })
        .collect();
    let publisher = h.connect("pub", V3_1_1);
    for topic in TOPICS {
        publish_done(&mut h, publisher, topic, b"x", QoS::AtMostOnce, false, 0);
    }
    for ((filter, expected), c) in table.iter().zip(subs) {
        let got: Vec<String> = h
            .publishes(c)
            .iter()
            .map(|p| p.topic.as_str().to_owned())
            .collect();
        assert_eq!(&got, expected, "filter {filter}");
    }
}

/// v3/v5 [MQTT-4.7.2-1]: filters starting with `#` or `+` do not match topics starting with
/// `$`; `$SYS/#` does (CONFORMANCE 13 and "a `$`-topic matcher that never matches `$SYS/#`").
#[test]
fn dollar_topics_not_matched_by_leading_wildcards_sys_hash_matches_mqtt_4_7_2_1() {
    let mut h = Harness::with_sys(Duration::from_secs(1));
    let all = h.connect("all", V5);
    h.subscribe(all, "#", QoS::AtMostOnce);
    let plus = h.connect("plus", V3_1_1);
    h.subscribe(plus, "+/broker/#", QoS::AtMostOnce);
    h.subscribe(plus, "+/#", QoS::AtMostOnce);
    let sys = h.connect("sys", V3_1_1);
    h.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    let uptime = h.connect("uptime", V5);
    h.subscribe(uptime, "$SYS/broker/+", QoS::AtMostOnce);

    h.advance(Duration::from_secs(1));

    let got = h.publishes(sys);
    assert!(!got.is_empty(), "$SYS/# receives the $SYS topics");
    assert!(got.iter().all(|p| p.topic.as_str().starts_with("$SYS/")));
    assert!(got.iter().any(|p| p.topic.as_str() == "$SYS/broker/uptime"));
    assert!(got.iter().all(|p| !p.retain), "live deliveries: RETAIN 0");
    let got = h.publishes(uptime);
    assert!(got.iter().any(|p| p.topic.as_str() == "$SYS/broker/uptime"));
    assert!(h.publishes(all).is_empty(), "# must not match $SYS/...");
    assert!(
        h.publishes(plus).is_empty(),
        "+/... must not match $SYS/..."
    );

    // A client's `$x` topic does not reach `#` either.
    let publisher = h.connect("pub", V5);
    h.publish(publisher, "$x/y", b"dollar", QoS::AtLeastOnce, false, 1);
    assert!(matches!(h.recv(publisher), Some(Packet::PubAck(_))));
    // Control: `#` and `+/#` do get ordinary topics.
    publish_done(
        &mut h,
        publisher,
        "x/y",
        b"plain",
        QoS::AtMostOnce,
        false,
        0,
    );
    assert_eq!(texts(&h.publishes(all)), ["plain"]);
    assert_eq!(texts(&h.publishes(plus)), ["plain"]);
}

/// v3/v5 [MQTT-4.7.2-1] for retained `$SYS` messages: a new `#` subscription gets none of them,
/// a new `$SYS/#` subscription gets them with RETAIN 1 (v3 [MQTT-3.3.1-8]).
#[test]
fn retained_sys_topics_go_to_sys_hash_not_hash_mqtt_4_7_2_1() {
    let mut h = Harness::with_sys(Duration::from_secs(1));
    h.advance(Duration::from_secs(1));
    assert!(
        h.broker.stats().retained_messages > 0,
        "$SYS topics are retained"
    );

    let all = h.connect("all", V3_1_1);
    h.subscribe(all, "#", QoS::AtLeastOnce);
    h.subscribe(all, "+/broker/uptime", QoS::AtLeastOnce);
    assert!(h.publishes(all).is_empty());

    let sys = h.connect("sys", V5);
    h.subscribe(sys, "$SYS/#", QoS::AtLeastOnce);
    let got = h.publishes(sys);
    assert!(got
        .iter()
        .any(|p| p.topic.as_str() == "$SYS/broker/version"));
    assert!(got
        .iter()
        .all(|p| p.retain && p.topic.as_str().starts_with("$SYS/")));
}

// ---- UNSUBSCRIBE and UNSUBACK ----

/// v5 [MQTT-3.10.4-4]/[MQTT-3.10.4-5] UNSUBACK with the UNSUBSCRIBE's packet id, also when
/// nothing was removed (0x11 No subscription existed); v5 [MQTT-3.10.4-6] one UNSUBACK for
/// several filters; v5 [MQTT-3.11.3-1] codes in order; v5 [MQTT-3.10.4-2] no new messages after.
#[test]
fn unsuback_codes_in_order_and_delivery_stops_v5_mqtt_3_10_4_5() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    h.subscribe(sub, "u/a", QoS::AtLeastOnce);
    h.subscribe(sub, "u/b", QoS::AtLeastOnce);
    let unsuback = unsubscribe_all(&mut h, sub, 0x4321, &["u/a", "u/zzz", "u/b"]);
    assert_eq!(unsuback.packet_id.get(), 0x4321);
    assert_eq!(
        unsuback.reason_codes,
        [
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::Success
        ]
    );
    assert!(h.recv(sub).is_none(), "exactly one UNSUBACK");
    assert_eq!(h.broker.stats().subscriptions, 0);

    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "u/a", b"1", QoS::AtLeastOnce, false, 1);
    publish_done(&mut h, publisher, "u/b", b"2", QoS::AtMostOnce, false, 0);
    assert!(h.publishes(sub).is_empty());

    // Nothing subscribed at all: still an UNSUBACK.
    let unsuback = unsubscribe_all(&mut h, sub, 5, &["u/a"]);
    assert_eq!(unsuback.reason_codes, [ReasonCode::NoSubscriptionExisted]);
}

/// v3/v5 [MQTT-3.10.4-1]: UNSUBSCRIBE compares filters character by character: `e/x`, `e/#`
/// and `E/+` do not remove `e/+`, which keeps delivering; v3 [MQTT-3.10.4-4]/[MQTT-3.10.4-5]:
/// an UNSUBACK with the same packet id (and no codes in 3.1.1) is sent even then.
#[test]
fn unsubscribe_compares_filters_exactly_mqtt_3_10_4_1() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet();
        let sub = h.connect("sub", version);
        h.subscribe(sub, "e/+", QoS::AtMostOnce);
        let publisher = h.connect("pub", version);

        let unsuback = unsubscribe_all(&mut h, sub, 0x0102, &["e/x", "e/#", "E/+"]);
        assert_eq!(unsuback.packet_id.get(), 0x0102);
        if version.is_v5() {
            assert_eq!(
                unsuback.reason_codes,
                [ReasonCode::NoSubscriptionExisted; 3]
            );
        } else {
            assert!(unsuback.reason_codes.is_empty());
            let raw = &h.clients[sub].raw;
            assert_eq!(&raw[raw.len() - 4..], [0xB0, 0x02, 0x01, 0x02]);
        }
        publish_done(
            &mut h,
            publisher,
            "e/x",
            b"still",
            QoS::AtMostOnce,
            false,
            0,
        );
        assert_eq!(texts(&h.publishes(sub)), ["still"], "{version:?}");

        let unsuback = unsubscribe_all(&mut h, sub, 0x0103, &["e/+"]);
        if version.is_v5() {
            assert_eq!(unsuback.reason_codes, [ReasonCode::Success]);
        }
        publish_done(&mut h, publisher, "e/x", b"gone", QoS::AtMostOnce, false, 0);
        assert!(h.publishes(sub).is_empty(), "{version:?}");
    }
}

// ---- Shared subscriptions ----

/// v5 4.8.2: each message of a shared subscription goes to exactly one member, round robin
/// here; with v5 [MQTT-4.8.2-3] the granted QoS respected.
#[test]
fn shared_subscription_each_message_to_exactly_one_member_round_robin_v5_4_8_2() {
    let mut h = Harness::quiet();
    let members: Vec<ClientId> = (0..3)
        .map(|i| {
            let c = h.connect(&format!("m{i}"), V5);
            assert_eq!(
                h.subscribe(c, "$share/g/jobs", QoS::AtLeastOnce),
                [ReasonCode::GrantedQoS1]
            );
            c
        })
        .collect();
    let publisher = h.connect("pub", V5);
    for i in 0..9u16 {
        let payload = i.to_string();
        publish_done(
            &mut h,
            publisher,
            "jobs",
            payload.as_bytes(),
            QoS::ExactlyOnce,
            false,
            i + 1,
        );
    }
    let mut seen = BTreeMap::new();
    for (m, &c) in members.iter().enumerate() {
        let got = receive_all(&mut h, c);
        assert_eq!(got.len(), 3, "member {m} gets its third");
        assert!(got.iter().all(|p| p.qos == QoS::AtLeastOnce && !p.retain));
        let indices: Vec<usize> = got.iter().map(|p| text(p).parse().unwrap()).collect();
        assert!(
            indices.iter().all(|i| i % 3 == indices[0] % 3),
            "round robin: member {m} got {indices:?}"
        );
        for i in indices {
            assert!(seen.insert(i, m).is_none(), "message {i} delivered twice");
        }
    }
    assert_eq!(seen.len(), 9);
}

/// v5 4.8.2: round robin among the connected members: a member whose persistent session is
/// offline gets nothing queued while another member is connected.
#[test]
fn shared_subscription_skips_disconnected_members_v5_4_8_2() {
    let mut h = Harness::quiet();
    let (away, _) = h.connect_persistent("away", V5);
    h.subscribe(away, "$share/g/jobs", QoS::AtLeastOnce);
    h.drop_connection(away);
    let b = h.connect("b", V5);
    h.subscribe(b, "$share/g/jobs", QoS::AtLeastOnce);
    let c = h.connect("c", V5);
    h.subscribe(c, "$share/g/jobs", QoS::AtLeastOnce);

    let publisher = h.connect("pub", V5);
    for i in 0..6u16 {
        publish_done(
            &mut h,
            publisher,
            "jobs",
            b"j",
            QoS::AtLeastOnce,
            false,
            i + 1,
        );
    }
    assert_eq!(receive_all(&mut h, b).len(), 3);
    assert_eq!(receive_all(&mut h, c).len(), 3);
    let info = h.broker.session_info("away").unwrap();
    assert_eq!((info.queued, info.inflight), (0, 0));
    let (away, present) = h.connect_persistent("away", V5);
    assert!(present);
    assert!(h.publishes(away).is_empty());
}

/// v5 4.8.2: every shared group on a filter gets its own copy, and so does each plain
/// subscription.
#[test]
fn shared_groups_and_plain_subscriber_each_get_a_copy_v5_4_8_2() {
    let mut h = Harness::quiet();
    let a1 = h.connect("a1", V5);
    let a2 = h.connect("a2", V5);
    let b1 = h.connect("b1", V5);
    let plain = h.connect("plain", V3_1_1);
    h.subscribe(a1, "$share/ga/t/+", QoS::AtMostOnce);
    h.subscribe(a2, "$share/ga/t/+", QoS::AtMostOnce);
    h.subscribe(b1, "$share/gb/t/+", QoS::AtMostOnce);
    h.subscribe(plain, "t/+", QoS::AtMostOnce);
    let publisher = h.connect("pub", V5);
    for i in 0..4 {
        let payload = i.to_string();
        publish_done(
            &mut h,
            publisher,
            "t/x",
            payload.as_bytes(),
            QoS::AtMostOnce,
            false,
            0,
        );
    }
    let mut group_a: Vec<String> = texts(&h.publishes(a1));
    let a2_got = texts(&h.publishes(a2));
    assert_eq!((group_a.len(), a2_got.len()), (2, 2), "round robin in ga");
    group_a.extend(a2_got);
    group_a.sort();
    assert_eq!(group_a, ["0", "1", "2", "3"], "ga: each message once");
    assert_eq!(texts(&h.publishes(b1)), ["0", "1", "2", "3"]);
    assert_eq!(texts(&h.publishes(plain)), ["0", "1", "2", "3"]);
}

/// v5 3.3.1.3: retained messages are sent for a new *non-shared* subscription only; a shared
/// subscription gets none, whatever its Retain Handling.
#[test]
fn shared_subscription_gets_no_retained_messages_v5_3_3_1_3() {
    let mut h = Harness::quiet();
    let publisher = h.connect("pub", V5);
    publish_done(&mut h, publisher, "r/s", b"kept", QoS::AtLeastOnce, true, 1);
    let member5 = h.connect("member5", V5);
    let o = opts_rh(QoS::AtLeastOnce, RetainHandling::SendAtSubscribe);
    assert_eq!(
        subscribe_all(&mut h, member5, &[("$share/g/r/#", o)], None),
        [ReasonCode::GrantedQoS1]
    );
    assert!(h.publishes(member5).is_empty());
    let member3 = h.connect("member3", V3_1_1);
    h.subscribe(member3, "$share/h/r/s", QoS::AtLeastOnce);
    assert!(h.publishes(member3).is_empty());
    // Control: a plain subscription does get it.
    let plain = h.connect("plain", V5);
    h.subscribe(plain, "r/#", QoS::AtLeastOnce);
    assert_eq!(texts(&h.publishes(plain)), ["kept"]);
}

/// v5 [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82,
/// then close (v5 [MQTT-4.13.1-1]); no SUBACK and no subscription. CONFORMANCE 15.
#[test]
fn shared_subscription_with_no_local_is_protocol_error_v5_mqtt_3_8_3_4() {
    let mut h = Harness::quiet();
    let c = h.connect("c", V5);
    h.send(
        c,
        Packet::Subscribe(Subscribe {
            packet_id: pid(3),
            properties: Default::default(),
            filters: vec![
                (string("plain/t"), opts(QoS::AtMostOnce)),
                (string("$share/g/t"), opts_no_local(QoS::AtMostOnce)),
            ],
        }),
    );
    match h.recv(c) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(h.recv(c).is_none(), "nothing after DISCONNECT");
    assert_eq!(
        h.closed(c),
        Some(CloseReason::ProtocolViolation(ReasonCode::ProtocolError))
    );
    assert_eq!(h.broker.stats().subscriptions, 0);
}

/// v5 [MQTT-4.8.2-1] a ShareName of at least one character; v5 [MQTT-4.8.2-2] without `/`, `+`,
/// `#`, followed by `/` and a topic filter: otherwise 0x8F. CONFORMANCE 15.
#[test]
fn invalid_share_names_get_0x8f_v5_mqtt_4_8_2_1_and_4_8_2_2() {
    let mut h = Harness::quiet();
    let c = h.connect("c", V5);
    let filters = [
        "$share//a",
        "$share/g",
        "$share/g/",
        "$share/g+/a",
        "$share/g#/a",
        "$share/g/a",
    ];
    let with_opts: Vec<(&str, SubscriptionOptions)> = filters
        .iter()
        .map(|f| (*f, opts(QoS::AtLeastOnce)))
        .collect();
    let codes = subscribe_all(&mut h, c, &with_opts, None);
    assert_eq!(
        codes,
        [
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::GrantedQoS1,
        ]
    );
    assert_eq!(h.broker.session_info("c").unwrap().subscriptions, 1);
}

/// Connects two members of `$share/w/q` and a publisher with a window of 1, and publishes
/// four messages: each member has one in flight and one queued. Returns (a, b).
fn two_members_with_queued(
    h: &mut Harness,
    version: ProtocolVersion,
    qos: QoS,
) -> (ClientId, ClientId) {
    let a = h.connect("a", version);
    let b = h.connect("b", version);
    h.subscribe(a, "$share/w/q", qos);
    h.subscribe(b, "$share/w/q", qos);
    let publisher = h.connect("pub", V5);
    for i in 0..4u16 {
        let payload = format!("m{i}");
        publish_done(h, publisher, "q", payload.as_bytes(), qos, false, i + 1);
    }
    for name in ["a", "b"] {
        let info = h.broker.session_info(name).unwrap();
        assert_eq!((info.inflight, info.queued), (1, 1), "{name}");
    }
    (a, b)
}

/// v5 4.8.2 / [MQTT-3.10.4-2]: a member that unsubscribes gets no new messages, and those
/// queued for it but not yet sent go to another member instead of being lost.
#[test]
fn shared_member_unsubscribing_hands_queued_messages_to_another_member() {
    let mut h = Harness::quiet_with(|c| c.max_inflight = 1);
    let (a, b) = two_members_with_queued(&mut h, V5, QoS::AtLeastOnce);
    let a_first = only_publish(&mut h, a);

    let unsuback = unsubscribe_all(&mut h, a, 2, &["$share/w/q"]);
    assert_eq!(unsuback.reason_codes, [ReasonCode::Success]);
    let info = h.broker.session_info("a").unwrap();
    assert_eq!(
        (info.inflight, info.queued),
        (1, 0),
        "queued one moved away"
    );
    h.ack(a, &a_first);
    assert!(h.publishes(a).is_empty());

    let b_got = receive_all(&mut h, b);
    assert_eq!(b_got.len(), 3, "b's two plus a's queued one");
    let mut all: Vec<String> = texts(&b_got);
    all.push(text(&a_first));
    all.sort();
    assert_eq!(all, ["m0", "m1", "m2", "m3"], "each message exactly once");
    assert_eq!(h.broker.stats().publish_dropped, 0);
}

/// When a member's clean session ends, its queued (never sent) shared messages go to another
/// member; the QoS 2 message it had in flight is not sent to anyone else (v5 [MQTT-4.8.2-5]).
#[test]
fn shared_member_session_end_hands_queued_messages_to_another_member_mqtt_4_8_2_5() {
    for version in [V3_1_1, V5] {
        let mut h = Harness::quiet_with(|c| c.max_inflight = 1);
        let (a, b) = two_members_with_queued(&mut h, version, QoS::ExactlyOnce);
        let a_first = only_publish(&mut h, a);
        assert_eq!(a_first.qos, QoS::ExactlyOnce);

        h.drop_connection(a); // clean session: the session ends with the connection
        assert!(h.broker.session_info("a").is_none());

        let b_got = receive_all(&mut h, b);
        let mut b_texts = texts(&b_got);
        b_texts.sort();
        let mut expected: Vec<String> = ["m0", "m1", "m2", "m3"]
            .iter()
            .map(|s| (*s).to_owned())
            .filter(|s| *s != text(&a_first))
            .collect();
        expected.sort();
        assert_eq!(b_texts, expected, "{version:?}");
        assert_eq!(h.broker.stats().publish_dropped, 0);
    }
}

/// v5 [MQTT-4.8.2-6]: a member answering PUBACK or PUBREC with a Reason Code of 0x80 or above
/// has the message discarded: it is not sent to another member. CONFORMANCE 42.
#[test]
fn shared_message_refused_by_a_member_is_not_sent_to_another_v5_mqtt_4_8_2_6() {
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut h = Harness::quiet();
        let a = h.connect("a", V5);
        let b = h.connect("b", V5);
        h.subscribe(a, "$share/g/work", qos);
        h.subscribe(b, "$share/g/work", qos);
        let publisher = h.connect("pub", V5);
        publish_done(&mut h, publisher, "work", b"refused", qos, false, 1);

        let (chosen, other) = if h.clients[a].inbox.is_empty() {
            (b, a)
        } else {
            (a, b)
        };
        let p = only_publish(&mut h, chosen);
        assert_eq!(&p.payload[..], b"refused");
        let ack = ack_packet(id_of(&p), ReasonCode::UnspecifiedError);
        let packet = if qos == QoS::AtLeastOnce {
            Packet::PubAck(ack)
        } else {
            Packet::PubRec(ack)
        };
        h.send(chosen, packet);
        assert!(
            h.drain(chosen).is_empty(),
            "{qos:?}: no PUBREL after an error"
        );
        assert!(h.publishes(other).is_empty(), "{qos:?}: not re-sent to b");
        assert_eq!(h.broker.session_info("a").unwrap().inflight, 0);
        assert_eq!(h.broker.session_info("b").unwrap().inflight, 0);

        // The group goes on: the next message reaches the other member.
        publish_done(&mut h, publisher, "work", b"next", qos, false, 2);
        assert_eq!(texts(&h.publishes(other)), ["next"], "{qos:?}");
        assert!(h.publishes(chosen).is_empty());
    }
}

// ---- Subscription quota ----

/// `config.max_subscriptions_per_session`: a subscription beyond it is refused with 0x97
/// (Quota exceeded, v5 3.9.3) (0x80 in 3.1.1); replacing an existing one is allowed, and an
/// UNSUBSCRIBE makes room.
#[test]
fn max_subscriptions_per_session_exceeded_gets_0x97() {
    let mut h = Harness::quiet_with(|c| c.max_subscriptions_per_session = 2);
    let c = h.connect("c", V5);
    let codes = subscribe_all(
        &mut h,
        c,
        &[
            ("q/1", opts(QoS::AtMostOnce)),
            ("q/2", opts(QoS::AtMostOnce)),
            ("q/3", opts(QoS::AtMostOnce)),
        ],
        None,
    );
    assert_eq!(
        codes,
        [
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::QuotaExceeded
        ]
    );
    let publisher = h.connect("pub", V5);
    publish_done(
        &mut h,
        publisher,
        "q/3",
        b"refused",
        QoS::AtMostOnce,
        false,
        0,
    );
    assert!(
        h.publishes(c).is_empty(),
        "the refused subscription does not exist"
    );

    assert_eq!(
        h.subscribe(c, "q/1", QoS::ExactlyOnce),
        [ReasonCode::GrantedQoS2],
        "replacing is not adding"
    );
    unsubscribe_all(&mut h, c, 4, &["q/2"]);
    assert_eq!(
        h.subscribe(c, "q/3", QoS::AtMostOnce),
        [ReasonCode::GRANTED_QOS_0]
    );
    assert_eq!(h.broker.session_info("c").unwrap().subscriptions, 2);

    let c3 = h.connect("c3", V3_1_1);
    h.subscribe(c3, "q/1", QoS::AtMostOnce);
    h.subscribe(c3, "q/2", QoS::AtMostOnce);
    assert_eq!(
        h.subscribe(c3, "q/3", QoS::AtMostOnce),
        [ReasonCode::UnspecifiedError]
    );
}
