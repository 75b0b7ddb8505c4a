//! Review findings: each test drives the client with raw packets from a hand-written fake
//! server (as tests/raw.rs does) and fails because of a client problem. Normative statements
//! are cited as `[MQTT-x.y.z-n]`, MQTT 5.0 numbering unless marked v3.

use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_client_core::{Client, ClientError, ConnectOptions, ConnectionState, Event};
use mqtt_codec::{
    ConnAck, ConnAckProperties, Connect, Decoder, MqttString, Packet, PacketId, ProtocolVersion,
    Publish, PublishAck, QoS, ReasonCode, SubAck, SubscriptionOptions,
};

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

// ---------------------------------------------------------------------------------------------
// The fake server's tools (from tests/raw.rs)
// ---------------------------------------------------------------------------------------------

fn s(text: &'static str) -> MqttString {
    MqttString::from_static(text)
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn options(version: ProtocolVersion) -> ConnectOptions {
    let mut options = ConnectOptions::new(s("c1"));
    options.version = version;
    options
}

/// Options of a session that outlives its connections.
fn persistent(version: ProtocolVersion) -> ConnectOptions {
    let mut opts = options(version);
    opts.clean_start = false;
    opts.session_expiry_interval = 300;
    opts
}

fn manual(version: ProtocolVersion) -> ConnectOptions {
    let mut opts = persistent(version);
    opts.manual_acks = true;
    opts
}

fn msg(topic: &'static str, payload: &'static [u8], qos: QoS) -> Publish {
    let mut publish = Publish::new(s(topic), Bytes::from_static(payload));
    publish.qos = qos;
    publish
}

fn server_publish(
    topic: &'static str,
    payload: &'static [u8],
    qos: QoS,
    id: Option<u16>,
    dup: bool,
) -> Packet {
    let mut publish = msg(topic, payload, qos);
    publish.packet_id = id.map(pid);
    publish.dup = dup;
    Packet::Publish(publish)
}

fn ack(n: u16) -> PublishAck {
    PublishAck::new(pid(n))
}

fn connack(session_present: bool) -> ConnAck {
    ConnAck::new(session_present, ReasonCode::Success)
}

fn connack_v5(session_present: bool, props: ConnAckProperties) -> ConnAck {
    let mut connack = connack(session_present);
    connack.properties = props.into();
    connack
}

fn feed(client: &mut Client, now: Instant, packet: Packet) {
    let version = client.options().version;
    let mut input = BytesMut::new();
    packet.encode(version, &mut input).unwrap();
    client.handle_bytes(now, &mut input);
}

fn feed_raw(client: &mut Client, now: Instant, bytes: &[u8]) {
    let mut input = BytesMut::from(bytes);
    client.handle_bytes(now, &mut input);
}

/// Everything the client wrote, decoded as a server of its version decodes it.
fn sent(client: &mut Client) -> Vec<Packet> {
    let version = client.options().version;
    let Some(bytes) = client.poll_transmit() else {
        return Vec::new();
    };
    let mut input = BytesMut::from(&bytes[..]);
    let mut decoder = Decoder::new(version);
    let mut packets = Vec::new();
    while let Some(packet) = decoder
        .decode(&mut input)
        .expect("the client wrote a bad packet")
    {
        packets.push(packet);
    }
    assert!(input.is_empty(), "the client wrote a partial packet");
    packets
}

fn events(client: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn connect_packet(client: &mut Client, now: Instant) -> Connect {
    client.connect(now).unwrap();
    let bytes = client.poll_transmit().expect("no CONNECT");
    let mut input = BytesMut::from(&bytes[..]);
    match Decoder::for_server().decode(&mut input).unwrap().unwrap() {
        Packet::Connect(connect) => *connect,
        other => panic!("expected CONNECT, got {other:?}"),
    }
}

fn connected_with(options: ConnectOptions, now: Instant, connack: ConnAck) -> Client {
    let mut client = Client::new(options);
    connect_packet(&mut client, now);
    feed(&mut client, now, Packet::ConnAck(Box::new(connack)));
    let events = events(&mut client);
    assert!(
        matches!(events.first(), Some(Event::Connected { .. })),
        "{events:?}"
    );
    client
}

fn connected(options: ConnectOptions, now: Instant) -> Client {
    connected_with(options, now, connack(false))
}

/// The network fails; a new connection gets `connack`. Returns what the client wrote after
/// the CONNACK and the events of the CONNACK.
fn reconnect(client: &mut Client, now: Instant, connack: ConnAck) -> (Vec<Packet>, Vec<Event>) {
    client.connection_lost(now);
    let _ = events(client);
    connect_packet(client, now);
    feed(client, now, Packet::ConnAck(Box::new(connack)));
    (sent(client), events(client))
}

fn publishes(packets: &[Packet]) -> Vec<&Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(publish) => Some(publish),
            _ => None,
        })
        .collect()
}

fn handles(events: &[Event]) -> Vec<mqtt_client_core::AckHandle> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => m.ack,
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

/// API pitfall, client stuck: a SUBSCRIBE made while connecting is not validated (when
/// connected the same call is refused with `Invalid(EmptyTopicFilter)` [MQTT-4.7.3-1]). The
/// CONNACK then fails to encode it: the client closes the connection as a "protocol error"
/// of the server (v5: DISCONNECT 0x82), keeps the request pending, and fails the same way on
/// every later connection.
#[test]
fn request_while_connecting_is_validated_mqtt_4_7_3_1() {
    let t0 = Instant::now();
    let mut client = Client::new(options(V5));
    connect_packet(&mut client, t0);
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
    let mut client = Client::new(opts);
    client.connect(t0).unwrap();
    let _ = client.poll_transmit();
    let _ = client.poll_timeout();
    client.handle_timeout(t0 + Duration::from_secs(1));
}

/// [MQTT-3.2.2-15]: the client MUST NOT send a packet larger than the server's Maximum
/// Packet Size. `publish` checks the size without the Topic Alias property that
/// `outgoing_topic_aliases` adds to the first PUBLISH of a topic (3 bytes more).
#[test]
fn topic_alias_never_pushes_publish_over_maximum_packet_size_mqtt_3_2_2_15() {
    let t0 = Instant::now();
    let mut opts = options(V5);
    opts.outgoing_topic_aliases = true;
    let mut props = ConnAckProperties::default();
    props.topic_alias_maximum = Some(1);
    props.maximum_packet_size = NonZeroU32::new(64);
    let mut client = connected_with(opts, t0, connack_v5(false, props));
    // 64 bytes without an alias: accepted by `publish`.
    let fits = Publish::new(s("a"), Bytes::from(vec![0u8; 58]));
    let result = client.publish(t0, fits);
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
    let big = {
        let mut p = Publish::new(s("a"), Bytes::from(vec![0u8; 200]));
        p.qos = QoS::AtLeastOnce;
        p
    };
    client.publish(t0, big).unwrap();
    assert_eq!(sent(&mut client).len(), 1);
    let mut props = ConnAckProperties::default();
    props.maximum_packet_size = NonZeroU32::new(64);
    let (resent, _) = reconnect(&mut client, t0, connack_v5(true, props));
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
    let mut client = Client::new(options(V5));
    connect_packet(&mut client, t0);
    let filter = MqttString::try_from("f/".repeat(40)).unwrap();
    let result = client.subscribe(t0, vec![(filter, SubscriptionOptions::default())]);
    let mut props = ConnAckProperties::default();
    props.maximum_packet_size = NonZeroU32::new(64);
    feed(
        &mut client,
        t0,
        Packet::ConnAck(Box::new(connack_v5(false, props))),
    );
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
    let mut client = connected(manual(V5), t0);
    feed(
        &mut client,
        t0,
        server_publish("a", b"old", QoS::ExactlyOnce, Some(4), false),
    );
    let old = handles(&events(&mut client))[0];
    let (_, evs) = reconnect(&mut client, t0, connack(false));
    assert!(evs.iter().any(|e| matches!(e, Event::SessionLost { .. })));
    // The server's new session reuses packet id 4 for another message.
    feed(
        &mut client,
        t0,
        server_publish("a", b"new", QoS::ExactlyOnce, Some(4), false),
    );
    let new = handles(&events(&mut client))[0];
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
    let mut client = connected(manual(V3), t0);
    feed(
        &mut client,
        t0,
        server_publish("a", b"first", QoS::AtLeastOnce, Some(6), false),
    );
    let first = handles(&events(&mut client))[0];
    client.ack(t0, first).unwrap();
    assert_eq!(sent(&mut client), [Packet::PubAck(ack(6))]);
    // Packet id 6 is free again; the server uses it for the next message.
    feed(
        &mut client,
        t0,
        server_publish("a", b"second", QoS::AtLeastOnce, Some(6), false),
    );
    let _second = handles(&events(&mut client))[0];
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
    let mut client = connected(manual(V3), t0);
    feed(
        &mut client,
        t0,
        server_publish("a", b"q2", QoS::ExactlyOnce, Some(2), false),
    );
    let h2 = handles(&events(&mut client))[0];
    client.ack(t0, h2).unwrap();
    assert_eq!(sent(&mut client), [Packet::PubRec(ack(2))]);
    feed(
        &mut client,
        t0,
        server_publish("a", b"q1", QoS::AtLeastOnce, Some(1), false),
    );
    let h1 = handles(&events(&mut client))[0];
    let repeated = server_publish("a", b"q2", QoS::ExactlyOnce, Some(2), true);
    let mut input = BytesMut::new();
    repeated.encode(V3, &mut input).unwrap();
    let one = input.clone();
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
        client
            .publish(t0, msg("q", b"once", QoS::ExactlyOnce))
            .unwrap();
        assert_eq!(publishes(&sent(&mut client)).len(), 1);
        feed_raw(&mut client, t0, &[0x50, 0x02, 0x00, 0x01]);
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
    let mut props = ConnAckProperties::default();
    props.assigned_client_identifier = Some(s("srv-7"));
    let mut client = connected_with(opts, t0, connack_v5(false, props));
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
    let mut input = BytesMut::new();
    // Move the packet id counter to 65534.
    for n in 1..=65534u16 {
        client
            .subscribe(t0, vec![(s("x"), SubscriptionOptions::default())])
            .unwrap();
        let _ = client.poll_transmit();
        Packet::SubAck(SubAck {
            packet_id: pid(n),
            properties: Default::default(),
            reason_codes: vec![ReasonCode::Success],
        })
        .encode(V3, &mut input)
        .unwrap();
        client.handle_bytes(t0, &mut input);
        let _ = client.poll_event();
    }
    let sub = client
        .subscribe(t0, vec![(s("a"), SubscriptionOptions::default())])
        .unwrap();
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
    let mut opts = manual(V5);
    opts.receive_maximum = 10;
    let mut client = Client::new(opts);
    let connect = connect_packet(&mut client, t0);
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(10));
    feed(&mut client, t0, Packet::ConnAck(Box::new(connack(false))));
    let _ = events(&mut client);
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
    client
        .publish(t0, msg("a", b"A", QoS::ExactlyOnce))
        .unwrap();
    client
        .publish(t0, msg("b", b"B", QoS::ExactlyOnce))
        .unwrap();
    assert_eq!(publishes(&sent(&mut client)).len(), 2);
    let mut props = ConnAckProperties::default();
    props.receive_maximum = NonZeroU16::new(1);
    let (resent, _) = reconnect(&mut client, t0, connack_v5(true, props));
    assert_eq!(publishes(&resent).len(), 1, "only A fits the window");
    feed_raw(&mut client, t0, &[0x50, 0x02, 0x00, 0x02]);
    assert_eq!(sent(&mut client), [Packet::PubRel(ack(2))]);
    feed_raw(&mut client, t0, &[0x50, 0x02, 0x00, 0x01]);
    feed_raw(&mut client, t0, &[0x70, 0x02, 0x00, 0x01]);
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
    feed(
        &mut client,
        t0,
        server_publish("q", b"x", QoS::ExactlyOnce, Some(5), false),
    );
    assert_eq!(sent(&mut client), [Packet::PubRec(ack(5))]);
    let _ = events(&mut client);
    let (_, evs) = reconnect(&mut client, t0, connack(false));
    feed(
        &mut client,
        t0,
        server_publish("q", b"x", QoS::ExactlyOnce, Some(5), true),
    );
    let again = events(&mut client);
    assert!(
        !again.iter().any(|e| matches!(e, Event::Message(_))),
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
        let now = t0 + Duration::from_secs(second);
        feed(
            &mut client,
            now,
            server_publish("a", b"x", QoS::AtMostOnce, None, false),
        );
        client.handle_timeout(now);
        assert_eq!(client.poll_transmit(), None);
    }
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(10));
    client.handle_timeout(deadline);
    assert_eq!(sent(&mut client), [Packet::PingReq]);
    assert!(client.poll_timeout().unwrap() > deadline);
}
