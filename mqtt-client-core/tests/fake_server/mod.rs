//! The fake server's tools for the raw-bytes tests (`raw.rs`): it writes packets with
//! `Packet::encode` or as literal bytes, feeds them with `Client::handle_bytes`, and decodes
//! (or compares byte for byte) what the client writes from `Client::poll_transmit`. Time is a
//! virtual clock: instants after a `t0`.
#![allow(unreachable_pub)]

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_client_core::{
    Client, ClientError, ConnectOptions, ConnectionState, DisconnectReason, Event, IncomingMessage,
    PublishId,
};
use mqtt_codec::{
    ConnAck, ConnAckProperties, Connect, DecodeError, Decoder, MqttString, Packet, PacketId,
    ProtocolVersion, Publish, PublishAck, QoS, ReasonCode, RetainHandling, SubscriptionOptions,
    UserProperty,
};

pub const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
pub const V5: ProtocolVersion = ProtocolVersion::V5;
pub const BOTH: [ProtocolVersion; 2] = [V3, V5];

// ---- Values ----

pub fn s(text: &'static str) -> MqttString {
    MqttString::from_static(text)
}

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

pub fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

/// Client id "c1", `version`, every other option at its default.
pub fn options(version: ProtocolVersion) -> ConnectOptions {
    let mut options = ConnectOptions::new(s("c1"));
    options.version = version;
    options
}

/// [`options`] changed by `tune`.
pub fn tuned(version: ProtocolVersion, tune: impl FnOnce(&mut ConnectOptions)) -> ConnectOptions {
    let mut options = options(version);
    tune(&mut options);
    options
}

/// Options of a session that outlives the connection: Clean Start 0 and (v5) a Session
/// Expiry Interval of 300 s.
pub fn persistent(version: ProtocolVersion) -> ConnectOptions {
    tuned(version, |o| {
        o.clean_start = false;
        o.session_expiry_interval = 300;
    })
}

/// Options with manual acknowledgement.
pub fn manual(version: ProtocolVersion) -> ConnectOptions {
    tuned(version, |o| o.manual_acks = true)
}

/// Options with manual acknowledgement for a session that outlives the connection.
pub fn persistent_manual(version: ProtocolVersion) -> ConnectOptions {
    let mut opts = persistent(version);
    opts.manual_acks = true;
    opts
}

/// Subscription options with every option bit set (No Local, Retain As Published, Retain
/// Handling 2) at `qos`.
pub fn every_option(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    }
}

pub fn user_property(name: &'static str, value: &'static str) -> UserProperty {
    UserProperty {
        name: s(name),
        value: s(value),
    }
}

/// A message for `Client::publish`.
pub fn msg(topic: &'static str, payload: &'static [u8], qos: QoS) -> Publish {
    let mut publish = Publish::new(s(topic), Bytes::from_static(payload));
    publish.qos = qos;
    publish
}

/// A PUBLISH as the server sends it.
pub fn server_publish(
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

/// A QoS 2 PUBLISH as the server sends it (DUP 0).
pub fn qos2_in(topic: &'static str, payload: &'static [u8], id: u16) -> Packet {
    server_publish(topic, payload, QoS::ExactlyOnce, Some(id), false)
}

/// The same PUBLISH sent again, with DUP set.
pub fn redelivered(packet: &Packet) -> Packet {
    let mut publish = publish_of(packet).clone();
    publish.dup = true;
    Packet::Publish(publish)
}

pub fn aliased_publish(topic: &'static str, alias: u16, payload: &'static [u8]) -> Packet {
    let mut publish = msg(topic, payload, QoS::AtMostOnce);
    publish.properties.topic_alias = NonZeroU16::new(alias);
    Packet::Publish(publish)
}

pub fn ack(n: u16) -> PublishAck {
    PublishAck::new(pid(n))
}

pub fn connack(session_present: bool) -> ConnAck {
    ConnAck::new(session_present, ReasonCode::Success)
}

/// A v5 CONNACK (Success, `session_present`) with the properties `server` sets.
pub fn connack_v5(session_present: bool, server: impl FnOnce(&mut ConnAckProperties)) -> ConnAck {
    let mut props = ConnAckProperties::default();
    server(&mut props);
    let mut connack = connack(session_present);
    connack.properties = props.into();
    connack
}

// ---- Literal bytes ----

/// CONNACK, Session Present 0, accepted (3.1.1 bytes; v5 reads no properties as none).
pub const CONNACK_V3: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
pub const PINGREQ: [u8; 2] = [0xC0, 0x00];
pub const PINGRESP: [u8; 2] = [0xD0, 0x00];

/// `first_byte`, remaining length 2, packet id `id`: a PUBACK, PUBREC, PUBREL or PUBCOMP
/// with Success and no properties (the same bytes in 3.1.1 and 5.0).
fn id_only(first_byte: u8, id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [first_byte, 0x02, hi, lo]
}

pub fn puback(id: u16) -> [u8; 4] {
    id_only(0x40, id)
}

pub fn pubrec(id: u16) -> [u8; 4] {
    id_only(0x50, id)
}

/// PUBREL: flags 0010 [MQTT-3.6.1-1].
pub fn pubrel(id: u16) -> [u8; 4] {
    id_only(0x62, id)
}

pub fn pubcomp(id: u16) -> [u8; 4] {
    id_only(0x70, id)
}

/// The bytes of a v5 DISCONNECT with `code` and no properties.
pub fn v5_disconnect(code: u8) -> Vec<u8> {
    vec![0xE0, 0x01, code]
}

/// What a client of `version` writes when it closes the connection for an error: v5
/// DISCONNECT with `code`, 3.1.1 nothing.
pub fn closing_bytes(version: ProtocolVersion, code: u8) -> Vec<u8> {
    if version.is_v5() {
        v5_disconnect(code)
    } else {
        Vec::new()
    }
}

// ---- The wire ----

pub fn encode(version: ProtocolVersion, packet: &Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    packet.encode(version, &mut buf).unwrap();
    buf
}

/// Packets written by a client of `version`, decoded as a server of that version does.
pub fn decode(version: ProtocolVersion, bytes: &[u8]) -> Vec<Packet> {
    let mut input = BytesMut::from(bytes);
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

/// The server sends `packet`.
pub fn feed(client: &mut Client, now: Instant, packet: Packet) {
    let version = client.options().version;
    let mut input = encode(version, &packet);
    client.handle_bytes(now, &mut input);
}

/// The server sends these bytes.
pub fn feed_raw(client: &mut Client, now: Instant, bytes: &[u8]) {
    let mut input = BytesMut::from(bytes);
    client.handle_bytes(now, &mut input);
}

/// The server sends `packet`; what the client wrote in answer, byte for byte.
pub fn answer(client: &mut Client, now: Instant, packet: Packet) -> Vec<u8> {
    feed(client, now, packet);
    raw(client)
}

/// The server sends these bytes; what the client wrote in answer, byte for byte.
pub fn answer_raw(client: &mut Client, now: Instant, bytes: &[u8]) -> Vec<u8> {
    feed_raw(client, now, bytes);
    raw(client)
}

/// Everything the client wrote, byte for byte (empty: `poll_transmit` gave `None`).
pub fn raw(client: &mut Client) -> Vec<u8> {
    client
        .poll_transmit()
        .map(|bytes| {
            assert!(!bytes.is_empty(), "poll_transmit gave Some(empty)");
            bytes.to_vec()
        })
        .unwrap_or_default()
}

/// Everything the client wrote, decoded as a server of its version decodes it.
pub fn sent(client: &mut Client) -> Vec<Packet> {
    let version = client.options().version;
    client
        .poll_transmit()
        .map(|bytes| decode(version, &bytes))
        .unwrap_or_default()
}

pub fn events(client: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

// ---- Client states ----

/// `connect` and the CONNECT it writes, decoded by a server decoder that knows no version yet.
pub fn connect_packet(client: &mut Client, now: Instant) -> Connect {
    client.connect(now).unwrap();
    let bytes = client.poll_transmit().expect("no CONNECT");
    let mut input = BytesMut::from(&bytes[..]);
    let packet = Decoder::for_server().decode(&mut input).unwrap().unwrap();
    assert!(input.is_empty(), "more than the CONNECT was written");
    match packet {
        Packet::Connect(connect) => *connect,
        other => panic!("expected CONNECT, got {other:?}"),
    }
}

/// A client with `options` that sent its CONNECT and waits for the CONNACK.
pub fn connecting(options: ConnectOptions, now: Instant) -> Client {
    let mut client = Client::new(options);
    connect_packet(&mut client, now);
    client
}

/// A client connected with `options` and the server's `connack`, and the CONNECT it sent;
/// the Connected event consumed.
pub fn connected_sending(
    options: ConnectOptions,
    now: Instant,
    connack: ConnAck,
) -> (Client, Connect) {
    let mut client = Client::new(options);
    let connect = connect_packet(&mut client, now);
    feed(&mut client, now, Packet::ConnAck(Box::new(connack)));
    let events = events(&mut client);
    assert!(
        matches!(events.first(), Some(Event::Connected { .. })),
        "{events:?}"
    );
    assert_eq!(client.state(), ConnectionState::Connected);
    (client, connect)
}

/// A client connected with `options` and the server's `connack`; the CONNECT and the
/// Connected event consumed.
pub fn connected_with(options: ConnectOptions, now: Instant, connack: ConnAck) -> Client {
    connected_sending(options, now, connack).0
}

pub fn connected(options: ConnectOptions, now: Instant) -> Client {
    connected_with(options, now, connack(false))
}

/// Runs `test` for MQTT 3.1.1 and for 5.0, each time with a new client connected with
/// `options(version)` at a new `t0`.
pub fn each_version(
    options: impl Fn(ProtocolVersion) -> ConnectOptions,
    test: impl Fn(Client, Instant),
) {
    for version in BOTH {
        eprintln!("MQTT {version:?}");
        let t0 = Instant::now();
        test(connected(options(version), t0), t0);
    }
}

/// A v5 client connected to a server that sent the CONNACK properties `server` sets.
pub fn connected_v5(
    options: ConnectOptions,
    now: Instant,
    server: impl FnOnce(&mut ConnAckProperties),
) -> Client {
    connected_with(options, now, connack_v5(false, server))
}

/// A v5 client connected to a server with Receive Maximum `window`.
pub fn connected_window(window: u16, now: Instant) -> Client {
    connected_v5(options(V5), now, |p| {
        p.receive_maximum = NonZeroU16::new(window);
    })
}

/// The network failed; a new connection resumes with `connack`. Returns what the client wrote
/// after the CONNACK and the events of the CONNACK.
pub fn reconnect(client: &mut Client, now: Instant, connack: ConnAck) -> (Vec<Packet>, Vec<Event>) {
    client.connection_lost(now);
    let lost = events(client);
    assert!(lost.contains(&Event::Disconnected(DisconnectReason::ConnectionLost)));
    resume(client, now, connack)
}

/// A new connection of a disconnected client with the same options; returns what the client
/// wrote after the CONNACK and the events of the CONNACK.
pub fn resume(client: &mut Client, now: Instant, connack: ConnAck) -> (Vec<Packet>, Vec<Event>) {
    let connect = connect_packet(client, now);
    assert_eq!(connect.clean_start, client.options().clean_start);
    feed(client, now, Packet::ConnAck(Box::new(connack)));
    (sent(client), events(client))
}

// ---- The client's side ----

/// A client connected with `options` that has sent a QoS 1 PUBLISH (packet id 1) and has
/// no PUBACK for it.
pub fn with_unacked_qos1(options: ConnectOptions, now: Instant) -> Client {
    let mut client = connected(options, now);
    publish(&mut client, now, "a", b"x", QoS::AtLeastOnce);
    let packets = sent(&mut client);
    assert_eq!(publish_of(&packets[0]).packet_id, Some(pid(1)));
    client
}

/// The application publishes `payload` on `topic` at `qos`; the publish must be accepted.
pub fn publish(
    client: &mut Client,
    now: Instant,
    topic: &'static str,
    payload: &'static [u8],
    qos: QoS,
) -> PublishId {
    client.publish(now, msg(topic, payload, qos)).unwrap()
}

/// The application subscribes to `filter` with default options; returns the packet id.
pub fn subscribe(client: &mut Client, now: Instant, filter: &'static str) -> PacketId {
    client
        .subscribe(now, vec![(s(filter), SubscriptionOptions::default())])
        .unwrap()
}

// ---- Reading what happened ----

pub fn publish_of(packet: &Packet) -> &Publish {
    match packet {
        Packet::Publish(publish) => publish,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

pub fn publishes(packets: &[Packet]) -> Vec<&Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(publish) => Some(publish),
            _ => None,
        })
        .collect()
}

pub fn completed(id: PublishId, reason_code: ReasonCode) -> Event {
    Event::PublishCompleted { id, reason_code }
}

/// The client's events are exactly the completions of `ids`, in order, each with Success.
pub fn assert_completed_ok(client: &mut Client, ids: &[PublishId]) {
    let expected: Vec<_> = ids
        .iter()
        .map(|&id| completed(id, ReasonCode::Success))
        .collect();
    assert_eq!(events(client), expected);
}

pub fn messages(events: &[Event]) -> Vec<&IncomingMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(message) => Some(message),
            _ => None,
        })
        .collect()
}

pub fn assert_protocol_error(events: &[Event]) {
    assert!(
        matches!(
            events.last(),
            Some(Event::Disconnected(DisconnectReason::ProtocolError(
                ClientError::Protocol(_)
            )))
        ),
        "{events:?}"
    );
}

pub fn assert_malformed(events: &[Event], expected: DecodeError) {
    assert_eq!(
        events.last(),
        Some(&Event::Disconnected(DisconnectReason::ProtocolError(
            ClientError::Malformed(expected)
        )))
    );
}

/// The client closed the connection for an error with `code` (v5 DISCONNECT; 3.1.1 writes
/// nothing) and delivered no message; returns its events.
pub fn closed_with(client: &mut Client, code: u8) -> Vec<Event> {
    let version = client.options().version;
    let events = events(client);
    assert!(messages(&events).is_empty(), "{events:?}");
    assert_eq!(client.state(), ConnectionState::Disconnected);
    assert_eq!(raw(client), closing_bytes(version, code), "{events:?}");
    events
}

/// The client is disconnected and idle: nothing to write, no timer.
pub fn assert_idle_disconnected(client: &mut Client) {
    assert_eq!(client.state(), ConnectionState::Disconnected);
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(client.poll_timeout(), None);
}

// ---- Shared checks ----

/// The server sends `packet`: the client answers exactly `answer_bytes` (nothing: `[]`) and
/// delivers it as one message, which is returned.
pub fn delivered(
    client: &mut Client,
    now: Instant,
    packet: Packet,
    answer_bytes: &[u8],
) -> IncomingMessage {
    assert_eq!(answer(client, now, packet), answer_bytes);
    let events = events(client);
    let msgs = messages(&events);
    assert_eq!(msgs.len(), 1, "{events:?}");
    msgs[0].clone()
}

/// The server sends `packet` again with DUP set: the client answers exactly `answer_bytes`
/// (nothing: `[]`) and delivers nothing [MQTT-4.3.3-10].
pub fn assert_not_delivered_again(
    client: &mut Client,
    now: Instant,
    packet: &Packet,
    answer_bytes: &[u8],
) {
    assert_eq!(answer(client, now, redelivered(packet)), answer_bytes);
    assert_eq!(events(client), [], "delivered twice");
}

/// A client of `version` waiting for its CONNACK gets these CONNACK bytes, which refuse the
/// connection with `reason`: that is the only event, and the client is disconnected and idle.
pub fn assert_connack_refuses(version: ProtocolVersion, connack: &[u8], reason: ReasonCode) {
    let t0 = Instant::now();
    let mut client = connecting(options(version), t0);
    feed_raw(&mut client, t0, connack);
    assert_eq!(
        events(&mut client),
        [Event::Disconnected(DisconnectReason::Refused(reason))],
        "CONNACK {connack:02x?}"
    );
    assert_idle_disconnected(&mut client);
}

/// A client of `version` waiting for its CONNACK gets these bytes first: a protocol error,
/// the only event (no Connected, nothing processed), the client disconnected, and at most a
/// DISCONNECT (v5) written.
pub fn assert_first_packet_is_protocol_error(version: ProtocolVersion, first: &[u8]) {
    let t0 = Instant::now();
    let mut client = connecting(options(version), t0);
    feed_raw(&mut client, t0, first);
    let events = events(&mut client);
    assert_eq!(events.len(), 1, "{first:02x?}: {events:?}");
    assert_protocol_error(&events);
    assert_eq!(client.state(), ConnectionState::Disconnected);
    for packet in sent(&mut client) {
        assert!(matches!(packet, Packet::Disconnect(_)), "{packet:?}");
    }
}

/// No timer, and nothing written long after `t0`.
pub fn assert_never_pings(mut client: Client, t0: Instant) {
    assert_eq!(client.poll_timeout(), None);
    client.handle_timeout(at(t0, 100_000));
    assert_eq!(client.poll_transmit(), None);
}

/// A connected v5 client is asked to publish `m`; whatever it sends (if it accepts at all),
/// no PUBLISH it writes has the property `carries` finds.
pub fn assert_never_sent(m: Publish, carries: impl Fn(&Publish) -> bool, what: &str) {
    let t0 = Instant::now();
    let mut client = connected(options(V5), t0);
    let result = client.publish(t0, m);
    for packet in sent(&mut client) {
        assert!(
            !carries(publish_of(&packet)),
            "{what} sent (publish returned {result:?})"
        );
    }
}
