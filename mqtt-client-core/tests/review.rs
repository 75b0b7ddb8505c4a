//! Regression tests from a review of the client core: each test demonstrated a problem the
//! other suites missed and passes since its fix; the comments describe the failure as it was
//! found. The client is driven with raw packets from the hand-written fake server of
//! `fake_server` (as in tests/raw.rs). Normative statements are cited as `[MQTT-x.y.z-n]`,
//! MQTT 5.0 numbering unless marked v3.

// Shared with tests/raw.rs, which uses every helper; these tests need only some.
#[allow(dead_code)]
mod fake_server;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use fake_server::*;
use mqtt_client_core::{Client, ClientError, ConnectionState, Event};
use mqtt_codec::{
    MqttString, Packet, ProtocolVersion, Publish, QoS, ReasonCode, SubAck, SubscriptionOptions,
};

/// API pitfall, client stuck: a SUBSCRIBE made while connecting is not validated (when
/// connected the same call is refused with `Invalid(EmptyTopicFilter)` [MQTT-4.7.3-1]). The
/// CONNACK then fails to encode it: the client closes the connection as a "protocol error"
/// of the server (v5: DISCONNECT 0x82), keeps the request pending, and fails the same way on
/// every later connection.
#[test]
fn request_while_connecting_is_validated_mqtt_4_7_3_1() {
    let t0 = Instant::now();
    let mut client = connecting(options(V5), t0);
    let result = client.subscribe(t0, vec![(s(""), SubscriptionOptions::default())]);
    for attempt in 0..2 {
        if attempt > 0 {
            client.connection_lost(t0);
            let _ = events(&mut client);
            connect_packet(&mut client, t0);
        }
        feed(&mut client, t0, Packet::ConnAck(Box::new(connack(false))));
        let events = events(&mut client);
        assert_eq!(
            client.state(),
            ConnectionState::Connected,
            "connection {attempt} torn down by the application's invalid SUBSCRIBE \
             (subscribe returned {result:?}); events {events:?}, wrote {:?}",
            sent(&mut client)
        );
    }
}

/// Panic on API input: `response_timeout = Duration::MAX` ("never time out") makes
/// `poll_timeout` and `handle_timeout` overflow `Instant + Duration`.
#[test]
fn huge_response_timeout_does_not_panic() {
    let t0 = Instant::now();
    let mut opts = options(V3);
    opts.response_timeout = Duration::MAX;
    let mut client = connecting(opts, t0);
    let _ = client.poll_timeout();
    client.handle_timeout(at(t0, 1));
}

/// [MQTT-3.2.2-15]: the client MUST NOT send a packet larger than the server's Maximum
/// Packet Size. `publish` checks the size without the Topic Alias property that
/// `outgoing_topic_aliases` adds to the first PUBLISH of a topic (3 bytes more).
#[test]
fn topic_alias_never_pushes_publish_over_maximum_packet_size_mqtt_3_2_2_15() {
    let t0 = Instant::now();
    let mut opts = options(V5);
    opts.outgoing_topic_aliases = true;
    let mut client = connected_v5(opts, t0, |p| {
        p.topic_alias_maximum = Some(1);
        p.maximum_packet_size = NonZeroU32::new(64);
    });
    // 64 bytes without an alias: accepted by `publish`.
    let result = client.publish(t0, msg("a", &[0; 58], QoS::AtMostOnce));
    for packet in sent(&mut client) {
        let size = packet.encoded_len(V5);
        assert!(
            size <= 64,
            "{size}-byte packet sent to a server with Maximum Packet Size 64 \
             (publish returned {result:?})"
        );
    }
}

/// [MQTT-3.2.2-15] on resume: the unacknowledged PUBLISH is re-sent without checking the
/// new CONNACK's Maximum Packet Size (a broker restarted with a smaller limit).
#[test]
fn resent_publish_respects_new_maximum_packet_size_mqtt_3_2_2_15() {
    let t0 = Instant::now();
    let mut client = connected(persistent(V5), t0);
    publish(&mut client, t0, "a", &[0; 200], QoS::AtLeastOnce);
    assert_eq!(sent(&mut client).len(), 1);
    let resumed = connack_v5(true, |p| p.maximum_packet_size = NonZeroU32::new(64));
    let (resent, _) = reconnect(&mut client, t0, resumed);
    for packet in &resent {
        assert!(
            packet.encoded_len(V5) <= 64,
            "{}-byte {:?} sent to a server with Maximum Packet Size 64",
            packet.encoded_len(V5),
            packet.packet_type()
        );
    }
}

/// [MQTT-3.2.2-15]: a SUBSCRIBE made while connecting is checked against the default limits
/// only; after the CONNACK it is written whatever the server's Maximum Packet Size.
#[test]
fn request_made_while_connecting_respects_maximum_packet_size_mqtt_3_2_2_15() {
    let t0 = Instant::now();
    let mut client = connecting(options(V5), t0);
    let filter = MqttString::try_from("f/".repeat(40)).unwrap();
    let result = client.subscribe(t0, vec![(filter, SubscriptionOptions::default())]);
    let connack = connack_v5(false, |p| p.maximum_packet_size = NonZeroU32::new(64));
    feed(&mut client, t0, Packet::ConnAck(Box::new(connack)));
    for packet in sent(&mut client) {
        assert!(
            packet.encoded_len(V5) <= 64,
            "{}-byte SUBSCRIBE sent to a server with Maximum Packet Size 64 \
             (subscribe returned {result:?})",
            packet.encoded_len(V5)
        );
    }
}

/// Loss with manual acks: a QoS 2 AckHandle is only (packet id, QoS). After the session is
/// lost the server starts again at the same packet ids; the application finishing the OLD
/// message acknowledges the NEW one: PUBREC goes before the new message was processed, and a
/// crash now loses it [MQTT-4.3.3-8] (PUBREC = ownership accepted).
#[test]
fn stale_qos2_ack_handle_never_acks_a_new_message_mqtt_4_3_3_8() {
    let t0 = Instant::now();
    let mut client = connected(persistent_manual(V5), t0);
    let old = delivered(&mut client, t0, qos2_in("a", b"old", 4), &[])
        .ack
        .unwrap();
    let (_, evs) = reconnect(&mut client, t0, connack(false));
    assert!(evs.iter().any(|e| matches!(e, Event::SessionLost { .. })));
    // The server's new session reuses packet id 4 for another message.
    let new = delivered(&mut client, t0, qos2_in("a", b"new", 4), &[])
        .ack
        .unwrap();
    let result = client.ack(t0, old);
    assert_eq!(
        sent(&mut client),
        [],
        "the old handle (ack returned {result:?}) acknowledged the new message"
    );
    client.ack(t0, new).unwrap();
    assert_eq!(sent(&mut client), [Packet::PubRec(ack(4))]);
}

/// Same with QoS 1 on one connection: once a message is acknowledged, its handle
/// acknowledges the next message the server sends with the same packet id (an application
/// that acks twice, or retries an ack).
#[test]
fn stale_qos1_ack_handle_never_acks_a_new_message_mqtt_4_3_2_4() {
    let t0 = Instant::now();
    let mut client = connected(persistent_manual(V3), t0);
    let first = server_publish("a", b"first", QoS::AtLeastOnce, Some(6), false);
    let first = delivered(&mut client, t0, first, &[]).ack.unwrap();
    client.ack(t0, first).unwrap();
    assert_eq!(sent(&mut client), [Packet::PubAck(ack(6))]);
    // Packet id 6 is free again; the server uses it for the next message.
    let second = server_publish("a", b"second", QoS::AtLeastOnce, Some(6), false);
    let _second = delivered(&mut client, t0, second, &[]).ack.unwrap();
    let result = client.ack(t0, first);
    assert_eq!(result, Err(ClientError::UnknownAck));
    assert_eq!(
        sent(&mut client),
        [],
        "the first message's handle acknowledged the second message"
    );
}

/// Unbounded memory from server input: with manual acks, every repeated PUBLISH of a QoS 2
/// message already in the PUBREC state pushes one more owed PUBREC while an earlier message
/// is unacknowledged (no event, no bound: the Receive Maximum check skips known ids). The
/// `Delivered` branch coalesces repeats; the `Received` branch does not.
#[test]
fn repeated_qos2_publish_does_not_grow_owed_acks() {
    let t0 = Instant::now();
    let mut client = connected(persistent_manual(V3), t0);
    let q2 = qos2_in("a", b"q2", 2);
    let h2 = delivered(&mut client, t0, q2.clone(), &[]).ack.unwrap();
    client.ack(t0, h2).unwrap();
    assert_eq!(sent(&mut client), [Packet::PubRec(ack(2))]);
    let q1 = server_publish("a", b"q1", QoS::AtLeastOnce, Some(1), false);
    let h1 = delivered(&mut client, t0, q1, &[]).ack.unwrap();
    let one = encode(V3, &redelivered(&q2));
    let mut input = one.clone();
    for _ in 1..10_000 {
        input.extend_from_slice(&one);
    }
    client.handle_bytes(t0, &mut input);
    assert_eq!(events(&mut client), []);
    client.ack(t0, h1).unwrap();
    let packets = sent(&mut client);
    let pubrecs = packets
        .iter()
        .filter(|p| matches!(p, Packet::PubRec(_)))
        .count();
    assert!(
        pubrecs <= 1,
        "{pubrecs} PUBRECs were held for one message (one owed entry per repeat)"
    );
}

/// Duplicate: [MQTT-4.3.3-6] the sender MUST NOT re-send the PUBLISH once it has sent the
/// PUBREL; the PUBREC meant the server took ownership [MQTT-4.3.3-8]. When the session is
/// lost, a message in its PUBREL stage is still published again as a new message, so the
/// subscribers get it twice (the harness test
/// `session_lost_after_the_broker_took_the_messages` shows the second copy). It should
/// complete (the server has it) instead.
#[test]
fn session_lost_never_republishes_after_pubrel_mqtt_4_3_3_6() {
    let t0 = Instant::now();
    for version in [V3, V5] {
        let mut client = connected(persistent(version), t0);
        publish(&mut client, t0, "q", b"once", QoS::ExactlyOnce);
        assert_eq!(publishes(&sent(&mut client)).len(), 1);
        feed_raw(&mut client, t0, &pubrec(1));
        assert_eq!(sent(&mut client), [Packet::PubRel(ack(1))]);
        let (resent, evs) = reconnect(&mut client, t0, connack(false));
        assert_eq!(
            publishes(&resent),
            Vec::<&Publish>::new(),
            "{version:?}: PUBLISH sent again after its PUBREL; events {evs:?}"
        );
    }
}

/// State gone stale across reconnects: with an empty client id the v5 server assigns one
/// (3.2.2.3.7), but the next CONNECT sends the empty id again, so the session the client keeps
/// (clean start 0, expiry 300) can never be resumed: every reconnect is SessionLost and
/// re-publishes what was in flight.
#[test]
fn assigned_client_identifier_is_used_to_resume() {
    let t0 = Instant::now();
    let mut opts = persistent(V5);
    opts.client_id = MqttString::new();
    let mut client = connected_v5(opts, t0, |p| {
        p.assigned_client_identifier = Some(s("srv-7"));
    });
    client.connection_lost(t0);
    let connect = connect_packet(&mut client, t0);
    assert_eq!(
        connect.client_id, "srv-7",
        "the resuming CONNECT does not carry the assigned client identifier"
    );
}

/// Ordering: pending SUBSCRIBE/UNSUBSCRIBE are re-sent in packet id order (a BTreeMap), not
/// in the order they were made. After the ids wrap, SUBSCRIBE `a` (id 65535) then UNSUBSCRIBE
/// `a` (id 1) are re-sent as UNSUBSCRIBE then SUBSCRIBE: the server ends up subscribed.
#[test]
fn pending_requests_are_resent_in_the_order_made() {
    let t0 = Instant::now();
    let mut client = connected(persistent(V3), t0);
    // Move the packet id counter to 65534.
    for n in 1..=65534u16 {
        subscribe(&mut client, t0, "x");
        let _ = client.poll_transmit();
        let suback = SubAck {
            packet_id: pid(n),
            properties: Default::default(),
            reason_codes: vec![ReasonCode::Success],
        };
        feed(&mut client, t0, Packet::SubAck(suback));
        let _ = client.poll_event();
    }
    let sub = subscribe(&mut client, t0, "a");
    let unsub = client.unsubscribe(t0, vec![s("a")]).unwrap();
    assert_eq!((sub.get(), unsub.get()), (65535, 1));
    let _ = client.poll_transmit();
    let (resent, _) = reconnect(&mut client, t0, connack(true));
    let order: Vec<&str> = resent
        .iter()
        .map(|p| match p {
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            _ => "other",
        })
        .collect();
    assert_eq!(order, ["SUBSCRIBE", "UNSUBSCRIBE"]);
}

/// API pitfall: `options_mut` is documented as "options for the next connect", but the
/// client enforces the live `receive_maximum` on the current connection: lowering it for the
/// next connection makes the client disconnect a server that stays within the 10 it was
/// told (DISCONNECT 0x93 [MQTT-3.3.4-9] wrongly).
#[test]
fn options_for_next_connect_do_not_change_current_receive_maximum_mqtt_3_3_4_9() {
    let t0 = Instant::now();
    let mut opts = persistent_manual(V5);
    opts.receive_maximum = 10;
    let (mut client, connect) = connected_sending(opts, t0, connack(false));
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(10));
    client.options_mut().receive_maximum = 1;
    for id in [1, 2] {
        feed(
            &mut client,
            t0,
            server_publish("a", b"x", QoS::AtLeastOnce, Some(id), false),
        );
    }
    let evs = events(&mut client);
    assert_eq!(
        client.state(),
        ConnectionState::Connected,
        "2 unacknowledged messages of the 10 allowed: {evs:?}"
    );
}

/// [MQTT-4.3.3-6]: a PUBREC for a QoS 2 message not yet re-sent on this connection (window
/// smaller than what is in flight) moves it to the PUBREL stage with `sent = false`; when
/// the window opens `pump` re-sends its PUBLISH after the PUBREL. A server that already
/// completed the id on PUBREL takes it as a new message: delivered twice.
#[test]
fn pubrec_before_resend_never_leads_to_publish_after_pubrel_mqtt_4_3_3_6() {
    let t0 = Instant::now();
    let mut client = connected(persistent(V5), t0);
    publish(&mut client, t0, "a", b"A", QoS::ExactlyOnce);
    publish(&mut client, t0, "b", b"B", QoS::ExactlyOnce);
    assert_eq!(publishes(&sent(&mut client)).len(), 2);
    let resumed = connack_v5(true, |p| p.receive_maximum = NonZeroU16::new(1));
    let (resent, _) = reconnect(&mut client, t0, resumed);
    assert_eq!(publishes(&resent).len(), 1, "only A fits the window");
    feed_raw(&mut client, t0, &pubrec(2));
    assert_eq!(sent(&mut client), [Packet::PubRel(ack(2))]);
    feed_raw(&mut client, t0, &pubrec(1));
    feed_raw(&mut client, t0, &pubcomp(1));
    let after = sent(&mut client);
    assert!(
        publishes(&after)
            .iter()
            .all(|p| p.packet_id != Some(pid(2))),
        "PUBLISH 2 sent after PUBREL 2: {after:?}"
    );
}

/// API pitfall: `receive_maximum = 0` or `maximum_packet_size = 0` are accepted by `connect`
/// and left out of the CONNECT (the server assumes 65,535 and no limit, v5 3.1.2.11.4 and
/// 3.1.2.11.5, where 0 is a Protocol Error), but the client enforces the 0: the first
/// QoS 1 message is DISCONNECT 0x93, and with a maximum packet size of 0 even the CONNACK is
/// "too large", on every connection. `connect` should refuse them (or treat them as absent).
#[test]
fn zero_limits_in_options_are_refused_or_ignored() {
    let t0 = Instant::now();
    for zero_receive_maximum in [false, true] {
        let mut opts = options(V5);
        if zero_receive_maximum {
            opts.receive_maximum = 0;
        } else {
            opts.maximum_packet_size = 0;
        }
        let mut client = Client::new(opts);
        if client.connect(t0).is_err() {
            continue; // refused up front: fine
        }
        let _ = client.poll_transmit();
        feed(&mut client, t0, Packet::ConnAck(Box::new(connack(false))));
        feed(
            &mut client,
            t0,
            server_publish("a", b"x", QoS::AtLeastOnce, Some(1), false),
        );
        let evs = events(&mut client);
        assert_eq!(
            client.state(),
            ConnectionState::Connected,
            "receive_maximum 0: {zero_receive_maximum}; {evs:?}"
        );
    }
}

/// Duplicate, MQTT 3.1: its CONNACK has no Session Present flag (the codec decodes false),
/// and a 3.1 server with Clean Session 0 keeps the session. The client takes every 3.1
/// reconnect as a lost session: it drops the received QoS 2 state, so the server's re-sent
/// PUBLISH (DUP) is delivered a second time (v3 [MQTT-4.3.3-2]: not delivered again before
/// PUBREL), and it republishes its own in-flight messages as new ones instead of re-sending
/// them (v3 [MQTT-4.4.0-1]).
#[test]
fn mqtt31_resume_keeps_qos2_state_v3_mqtt_4_3_3_2() {
    let t0 = Instant::now();
    let mut opts = options(ProtocolVersion::V3_1);
    opts.clean_start = false;
    let mut client = connected(opts, t0);
    let first = qos2_in("q", b"x", 5);
    feed(&mut client, t0, first.clone());
    assert_eq!(sent(&mut client), [Packet::PubRec(ack(5))]);
    let _ = events(&mut client);
    let (_, evs) = reconnect(&mut client, t0, connack(false));
    feed(&mut client, t0, redelivered(&first));
    let again = events(&mut client);
    assert!(
        messages(&again).is_empty(),
        "delivered twice; reconnect events {evs:?}"
    );
}

/// Gap (passes): a client that only receives QoS 0 messages still sends PINGREQ after the
/// keep alive: inbound traffic does not reset the client's timer (v3 [MQTT-3.1.2-23], v5
/// [MQTT-3.1.2-20]), and the deadline never stays in the past.
#[test]
fn receiving_only_still_sends_pingreq_v3_mqtt_3_1_2_23() {
    let t0 = Instant::now();
    let mut opts = options(V3);
    opts.keep_alive = 10;
    let mut client = connected(opts, t0);
    for second in 1..10 {
        let now = at(t0, second);
        feed(
            &mut client,
            now,
            server_publish("a", b"x", QoS::AtMostOnce, None, false),
        );
        client.handle_timeout(now);
        assert_eq!(client.poll_transmit(), None);
    }
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline, at(t0, 10));
    client.handle_timeout(deadline);
    assert_eq!(sent(&mut client), [Packet::PingReq]);
    assert!(client.poll_timeout().unwrap() > deadline);
}
