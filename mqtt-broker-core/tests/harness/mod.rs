//! A deterministic harness for the broker core: a virtual clock, many simulated clients
//! speaking raw packets, no network. Every run is reproducible.
//!
//! After each input the harness drains every broker output (the sans-IO rule): bytes go to
//! the client they are for and are decoded there, closes are carried out, records go to an
//! in-memory store (acknowledged at once unless `hold_store` is set).
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{Broker, CloseReason, Config, ConnectionHandle, Event, MemoryStore, Record};
use mqtt_codec::{
    ConnAck, Connect, Decoder, Disconnect, MqttString, Packet, ProtocolVersion, Publish,
    PublishAck, QoS, ReasonCode, Subscribe, SubscriptionId, SubscriptionOptions, Unsubscribe,
    UserProperty, Will,
};

/// A simulated client: what it sent is encoded with its version; what the broker sent is
/// decoded by a client-side decoder into `inbox`.
#[derive(Debug)]
pub struct Client {
    pub connection: ConnectionHandle,
    pub version: ProtocolVersion,
    decoder: Decoder,
    pending: BytesMut,
    /// Bytes sent to the broker that do not make a whole packet yet.
    input: BytesMut,
    pub inbox: VecDeque<Packet>,
    /// Bytes received, raw (for tests on exact encodings).
    pub raw: Vec<u8>,
    /// Set when the broker closed the connection.
    pub closed: Option<CloseReason>,
    /// Set when the connection is gone (closed by either side).
    pub gone: bool,
    /// A decode error on the client side: the broker sent something invalid.
    pub decode_error: Option<mqtt_codec::DecodeError>,
}

/// A client's index in [`Harness::clients`].
pub type ClientId = usize;

/// A broker, its clock, its store, and the clients talking to it.
pub struct Harness {
    pub broker: Broker,
    pub now: Instant,
    pub store: MemoryStore,
    /// Records emitted, in order, with their sequence numbers.
    pub records: Vec<(u64, Record)>,
    /// When set, records are stored but not acknowledged until `ack_store` is called.
    pub hold_store: bool,
    last_seq: u64,
    pub clients: Vec<Client>,
    by_handle: HashMap<ConnectionHandle, ClientId>,
}

impl Harness {
    /// A harness around a new broker with `config`.
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        Self::with_broker(Broker::new(config, now), now)
    }

    /// A harness around `broker`, whose clock reads `now`.
    pub fn with_broker(broker: Broker, now: Instant) -> Self {
        Self {
            broker,
            now,
            store: MemoryStore::new(),
            records: Vec::new(),
            hold_store: false,
            last_seq: 0,
            clients: Vec::new(),
            by_handle: HashMap::new(),
        }
    }

    /// A config without `$SYS` (so tests see only their own traffic).
    pub fn quiet_config() -> Config {
        let mut config = Config::default();
        config.sys_interval = None;
        config
    }

    /// A harness with the quiet config.
    pub fn quiet() -> Self {
        Self::new(Self::quiet_config())
    }

    /// A harness with the quiet config as `edit` changes it.
    pub fn quiet_with(edit: impl FnOnce(&mut Config)) -> Self {
        let mut config = Self::quiet_config();
        edit(&mut config);
        Self::new(config)
    }

    /// A quiet harness with `durable` set: records are emitted and acks wait for the store.
    pub fn durable() -> Self {
        Self::quiet_with(|config| config.durable = true)
    }

    /// A harness whose broker publishes `$SYS` every `interval`.
    pub fn with_sys(interval: Duration) -> Self {
        Self::quiet_with(|config| config.sys_interval = Some(interval))
    }

    /// A new broker restored from `store`, `down` after this harness's clock, with this
    /// broker's config, in a new harness whose store starts as `store`.
    pub fn restored(&self, store: MemoryStore, down: Duration) -> Self {
        let now = self.now + down;
        let broker = Broker::restore(self.broker.config().clone(), now, store.records());
        let mut restarted = Self::with_broker(broker, now);
        restarted.store = store;
        restarted
    }

    /// A restart `down` later from everything the store holds (so later records apply on
    /// top of a copy of it).
    pub fn restart(&self, down: Duration) -> Self {
        self.restored(self.store.clone(), down)
    }

    /// Opens a network connection; nothing is sent yet.
    pub fn open(&mut self, version: ProtocolVersion) -> ClientId {
        let connection = self.broker.handle_connection_opened(self.now);
        let id = self.clients.len();
        self.clients.push(Client {
            connection,
            version,
            decoder: Decoder::new(version),
            pending: BytesMut::new(),
            input: BytesMut::new(),
            inbox: VecDeque::new(),
            raw: Vec::new(),
            closed: None,
            gone: false,
            decode_error: None,
        });
        self.by_handle.insert(connection, id);
        self.process();
        id
    }

    /// Sends raw bytes from client `c`, as one read; a partial packet waits for the rest.
    pub fn send_bytes(&mut self, c: ClientId, bytes: &[u8]) {
        let client = &mut self.clients[c];
        assert!(!client.gone, "client {c} is disconnected");
        client.input.extend_from_slice(bytes);
        self.broker
            .handle_read(self.now, client.connection, &mut client.input);
        self.process();
    }

    /// Encodes `packet` with the client's version and sends it.
    pub fn send(&mut self, c: ClientId, packet: Packet) {
        self.send_burst(c, vec![packet]);
    }

    /// Sends `packets`, encoded with the client's version, in one read, so the broker
    /// handles them all before any of its output is pulled.
    pub fn send_burst(&mut self, c: ClientId, packets: Vec<Packet>) {
        let version = self.clients[c].version;
        let wire: Vec<u8> = packets.iter().flat_map(|p| encode(version, p)).collect();
        self.send_bytes(c, &wire);
    }

    /// The network drops the connection (no DISCONNECT): the broker sees the socket close.
    pub fn drop_connection(&mut self, c: ClientId) {
        let connection = self.clients[c].connection;
        if self.clients[c].gone {
            return;
        }
        self.clients[c].gone = true;
        self.by_handle.remove(&connection);
        self.broker.handle_closed(self.now, connection);
        self.process();
    }

    /// Moves the virtual clock forward, firing every deadline on the way in order; asserts
    /// that `poll_timeout` moves past now after each `handle_timeout`. Returns how many
    /// deadlines it stopped at.
    pub fn advance(&mut self, by: Duration) -> usize {
        let end = self.now + by;
        let mut steps = 0;
        while let Some(at) = self.broker.poll_timeout() {
            if at > end {
                break;
            }
            steps += 1;
            assert!(steps < 1_000_000, "poll_timeout does not advance");
            self.now = self.now.max(at);
            self.broker.handle_timeout(self.now);
            self.process();
            if let Some(next) = self.broker.poll_timeout() {
                assert!(
                    next > self.now,
                    "poll_timeout must move past now after handle_timeout"
                );
            }
        }
        self.now = end;
        self.broker.handle_timeout(self.now);
        self.process();
        steps
    }

    /// Acknowledges every record emitted so far.
    pub fn ack_store(&mut self) {
        self.broker.handle_stored(self.last_seq);
        self.process();
    }

    /// Drains every broker output.
    pub fn process(&mut self) {
        let mut rounds = 0;
        while let Some(event) = self.broker.poll_event() {
            rounds += 1;
            assert!(rounds < 10_000_000, "broker keeps producing events");
            match event {
                Event::Transmit(connection) => self.pull(connection),
                Event::Close { connection, reason } => {
                    self.pull(connection);
                    if let Some(&c) = self.by_handle.get(&connection) {
                        self.clients[c].closed = Some(reason);
                        self.clients[c].gone = true;
                        self.by_handle.remove(&connection);
                    }
                    self.broker.handle_closed(self.now, connection);
                }
                Event::Persist { seq, record } => {
                    assert_eq!(
                        seq,
                        self.last_seq + 1,
                        "record sequence numbers are consecutive"
                    );
                    self.last_seq = seq;
                    self.records.push((seq, record.clone()));
                    self.store.apply(record);
                    if !self.hold_store {
                        self.broker.handle_stored(seq);
                    }
                }
                Event::Connected { .. } => {}
                other => panic!("unexpected event {other:?}"),
            }
        }
    }

    fn pull(&mut self, connection: ConnectionHandle) {
        while let Some(bytes) = self.broker.poll_transmit(self.now, connection) {
            let Some(&c) = self.by_handle.get(&connection) else {
                continue;
            };
            self.deliver_to(c, &bytes);
        }
    }

    fn deliver_to(&mut self, c: ClientId, bytes: &Bytes) {
        let client = &mut self.clients[c];
        client.raw.extend_from_slice(bytes);
        client.pending.extend_from_slice(bytes);
        loop {
            match client.decoder.decode(&mut client.pending) {
                Ok(Some(packet)) => client.inbox.push_back(packet),
                Ok(None) => break,
                Err(err) => {
                    client.decode_error = Some(err);
                    client.pending.clear();
                    break;
                }
            }
        }
    }

    /// The next packet client `c` received.
    pub fn recv(&mut self, c: ClientId) -> Option<Packet> {
        self.clients[c].inbox.pop_front()
    }

    /// Every packet client `c` received since the last call.
    pub fn drain(&mut self, c: ClientId) -> Vec<Packet> {
        self.clients[c].inbox.drain(..).collect()
    }

    /// The PUBLISH packets client `c` received since the last call (others are dropped).
    pub fn publishes(&mut self, c: ClientId) -> Vec<Publish> {
        publishes_in(&self.drain(c))
    }

    /// Why the broker closed client `c`'s connection, if it did.
    pub fn closed(&self, c: ClientId) -> Option<CloseReason> {
        self.clients[c].closed
    }

    /// Whether client `c`'s connection is gone (closed by either side).
    pub fn is_gone(&self, c: ClientId) -> bool {
        self.clients[c].gone
    }

    // ---- Conveniences built on the raw operations ----

    /// Opens a connection and sends CONNECT; returns the client and its CONNACK.
    pub fn connect_with(&mut self, connect: Connect) -> (ClientId, Option<ConnAck>) {
        let c = self.open(connect.protocol_version);
        self.send(c, Packet::Connect(Box::new(connect)));
        let connack = match self.recv(c) {
            Some(Packet::ConnAck(connack)) => Some(*connack),
            Some(other) => panic!("expected CONNACK, got {other:?}"),
            None => None,
        };
        (c, connack)
    }

    /// Connects `client_id` with clean start and keep alive 0; asserts success.
    pub fn connect(&mut self, client_id: &str, version: ProtocolVersion) -> ClientId {
        accepted(self, connect_packet(version, client_id)).0
    }

    /// Connects `client_id` with a persistent session (v5: expiry `u32::MAX`); asserts
    /// success and returns the client and Session Present.
    pub fn connect_persistent(
        &mut self,
        client_id: &str,
        version: ProtocolVersion,
    ) -> (ClientId, bool) {
        let mut connect = connect_packet(version, client_id);
        connect.clean_start = false;
        if version.is_v5() {
            connect.properties.session_expiry_interval = Some(u32::MAX);
        }
        let (c, connack) = accepted(self, connect);
        (c, connack.session_present)
    }

    /// A persistent session (as `connect_persistent` makes it) subscribed to `filter` at
    /// `qos`, whose connection then drops: it is offline.
    pub fn offline_subscriber(
        &mut self,
        client_id: &str,
        version: ProtocolVersion,
        filter: &str,
        qos: QoS,
    ) {
        let (c, _) = self.connect_persistent(client_id, version);
        self.subscribe(c, filter, qos);
        self.drop_connection(c);
    }

    /// Subscribes to one filter at `qos` and returns the SUBACK's reason codes.
    pub fn subscribe(
        &mut self,
        c: ClientId,
        filter: &str,
        qos: QoS,
    ) -> Vec<mqtt_codec::ReasonCode> {
        self.subscribe_with(c, filter, SubscriptionOptions::qos(qos))
    }

    /// Subscribes to one filter with `options` and returns the SUBACK's reason codes.
    pub fn subscribe_with(
        &mut self,
        c: ClientId,
        filter: &str,
        options: SubscriptionOptions,
    ) -> Vec<mqtt_codec::ReasonCode> {
        subscribe_all(self, c, &[(filter, options)], None)
    }

    /// Sends `subscribe`; asserts the SUBACK answers its packet id and returns its codes.
    pub fn subscribe_packet(
        &mut self,
        c: ClientId,
        subscribe: Subscribe,
    ) -> Vec<mqtt_codec::ReasonCode> {
        let packet_id = subscribe.packet_id;
        self.send(c, Packet::Subscribe(subscribe));
        match self.recv(c) {
            Some(Packet::SubAck(suback)) => {
                assert_eq!(suback.packet_id, packet_id);
                suback.reason_codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Unsubscribes from one filter and returns the UNSUBACK's reason codes.
    pub fn unsubscribe(&mut self, c: ClientId, filter: &str) -> Vec<mqtt_codec::ReasonCode> {
        let unsubscribe = Unsubscribe {
            packet_id: pid(0xCD),
            properties: Default::default(),
            filters: vec![string(filter)],
        };
        self.send(c, Packet::Unsubscribe(unsubscribe));
        match self.recv(c) {
            Some(Packet::UnsubAck(unsuback)) => unsuback.reason_codes,
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }

    /// Publishes `payload` to `topic`; QoS 1/2 use `packet_id`. Acks are left in the inbox.
    pub fn publish(
        &mut self,
        c: ClientId,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        packet_id: u16,
    ) {
        self.send(
            c,
            Packet::Publish(publish(topic, payload, qos, retain, packet_id)),
        );
    }

    /// Acknowledges a received PUBLISH the way its QoS asks (PUBACK, or PUBREC then the
    /// PUBCOMP after the broker's PUBREL).
    pub fn ack(&mut self, c: ClientId, publish: &Publish) {
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.send(c, puback(id.get())),
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(c, pubrec(id.get()));
                self.send(c, pubcomp(id.get()));
            }
            _ => {}
        }
    }
}

/// `s` as an MQTT string.
pub fn string(s: &str) -> MqttString {
    MqttString::try_from(s).expect("valid MQTT string")
}

/// `id` as a packet identifier (not 0).
pub fn pid(id: u16) -> mqtt_codec::PacketId {
    mqtt_codec::PacketId::new(id).expect("non-zero packet id")
}

/// A PUBLISH; `packet_id` is used at QoS 1/2 only.
pub fn publish(topic: &str, payload: &[u8], qos: QoS, retain: bool, packet_id: u16) -> Publish {
    let mut publish = Publish::new(string(topic), Bytes::copy_from_slice(payload));
    publish.qos = qos;
    publish.retain = retain;
    if qos > QoS::AtMostOnce {
        publish.packet_id = Some(pid(packet_id));
    }
    publish
}

// ---- Packets ----

/// `packet` encoded with `version`.
pub fn encode(version: ProtocolVersion, packet: &Packet) -> Vec<u8> {
    let mut wire = BytesMut::new();
    packet
        .encode(version, &mut wire)
        .expect("test packet encodes");
    wire.to_vec()
}

/// A packet framed by hand: `first_byte`, a one-byte remaining length, then `body` (for
/// packets the codec refuses to encode).
pub fn raw_packet(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut packet = vec![first_byte, u8::try_from(body.len()).expect("a short body")];
    packet.extend_from_slice(body);
    packet
}

/// A CONNECT for `client_id` with clean start and keep alive 0.
pub fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    let mut connect = Connect::new(version, string(client_id));
    connect.keep_alive = 0;
    connect
}

/// CONNECT tweak: a Session Expiry Interval of `expiry` seconds (v5).
pub fn session_expiry(expiry: u32) -> impl FnOnce(&mut Connect) {
    move |connect| connect.properties.session_expiry_interval = Some(expiry)
}

/// CONNECT tweak: Clean Start 0 and [`session_expiry`] `expiry`.
pub fn persistent(expiry: u32) -> impl FnOnce(&mut Connect) {
    move |connect| {
        connect.clean_start = false;
        session_expiry(expiry)(connect);
    }
}

/// CONNECT tweak: a Receive Maximum of `n`, none for 0 (v5).
pub fn receive_maximum(n: u16) -> impl FnOnce(&mut Connect) {
    move |connect| connect.properties.receive_maximum = NonZeroU16::new(n)
}

/// CONNECT tweak: [`persistent`] with expiry `u32::MAX` and [`receive_maximum`] `n`.
pub fn persistent_receive_maximum(n: u16) -> impl FnOnce(&mut Connect) {
    move |connect| {
        persistent(u32::MAX)(connect);
        receive_maximum(n)(connect);
    }
}

/// A will message to `topic`, without properties.
pub fn will(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: string(topic),
        payload: Bytes::copy_from_slice(payload),
        qos,
        retain,
        properties: Default::default(),
    }
}

/// A user property `name` = `value`.
pub fn user_property(name: &str, value: &str) -> UserProperty {
    UserProperty {
        name: string(name),
        value: string(value),
    }
}

/// `value` as a Subscription Identifier.
pub fn sub_id(value: u32) -> SubscriptionId {
    SubscriptionId::new(value).expect("valid subscription identifier")
}

/// A PUBACK/PUBREC/PUBREL/PUBCOMP body for `id` with `reason`.
pub fn ack_packet(id: u16, reason: ReasonCode) -> PublishAck {
    let mut ack = PublishAck::new(pid(id));
    ack.reason_code = reason;
    ack
}

/// A successful PUBACK for `id`.
pub fn puback(id: u16) -> Packet {
    Packet::PubAck(PublishAck::new(pid(id)))
}

/// A successful PUBREC for `id`.
pub fn pubrec(id: u16) -> Packet {
    Packet::PubRec(PublishAck::new(pid(id)))
}

/// A successful PUBREL for `id`.
pub fn pubrel(id: u16) -> Packet {
    Packet::PubRel(PublishAck::new(pid(id)))
}

/// A successful PUBCOMP for `id`.
pub fn pubcomp(id: u16) -> Packet {
    Packet::PubComp(PublishAck::new(pid(id)))
}

/// A DISCONNECT with `reason`.
pub fn disconnect(reason: ReasonCode) -> Packet {
    Packet::Disconnect(Disconnect::new(reason))
}

/// A packet's type and packet id, whatever its reason code: acknowledgements and PUBLISH
/// (id 0 at QoS 0); any other packet as ("other", 0).
pub fn kind(packet: &Packet) -> (&'static str, u16) {
    match packet {
        Packet::PubAck(a) => ("PUBACK", a.packet_id.get()),
        Packet::PubRec(a) => ("PUBREC", a.packet_id.get()),
        Packet::PubRel(a) => ("PUBREL", a.packet_id.get()),
        Packet::PubComp(a) => ("PUBCOMP", a.packet_id.get()),
        Packet::Publish(p) => ("PUBLISH", p.packet_id.map_or(0, |id| id.get())),
        _ => ("other", 0),
    }
}

/// [`kind`] of every packet.
pub fn kinds(packets: &[Packet]) -> Vec<(&'static str, u16)> {
    packets.iter().map(kind).collect()
}

/// The PUBLISH packets among `packets`, in order.
pub fn publishes_in(packets: &[Packet]) -> Vec<Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// The packet id of a QoS 1/2 PUBLISH.
pub fn id_of(publish: &Publish) -> u16 {
    publish
        .packet_id
        .expect("QoS 1/2 PUBLISH has a packet id")
        .get()
}

/// The payload of a PUBLISH as UTF-8 text.
pub fn text(publish: &Publish) -> String {
    String::from_utf8(publish.payload.to_vec()).expect("UTF-8 payload")
}

/// [`text`] of every PUBLISH.
pub fn texts(publishes: &[Publish]) -> Vec<String> {
    publishes.iter().map(text).collect()
}

// ---- Conversations ----

/// Connects with `connect`, asserts a Success CONNACK, and returns the client and CONNACK.
pub fn accepted(h: &mut Harness, connect: Connect) -> (ClientId, ConnAck) {
    let (c, connack) = h.connect_with(connect);
    let connack = connack.expect("a CONNACK");
    assert_eq!(connack.reason_code, ReasonCode::Success, "{connack:?}");
    (c, connack)
}

/// Connects a v5 client (clean start, keep alive 0) after `tweak` changes its CONNECT;
/// asserts a Success CONNACK and returns the client and CONNACK.
pub fn connect_v5(
    h: &mut Harness,
    client_id: &str,
    tweak: impl FnOnce(&mut Connect),
) -> (ClientId, ConnAck) {
    let mut connect = connect_packet(ProtocolVersion::V5, client_id);
    tweak(&mut connect);
    accepted(h, connect)
}

/// Connects the v5 subscriber "sub" (its CONNECT changed by `tweak`), subscribes it to
/// `filter` at `qos`, then connects the v5 publisher "pub"; returns (sub, pub).
pub fn v5_sub_and_pub(
    h: &mut Harness,
    tweak: impl FnOnce(&mut Connect),
    filter: &str,
    qos: QoS,
) -> (ClientId, ClientId) {
    let (sub, _) = connect_v5(h, "sub", tweak);
    h.subscribe(sub, filter, qos);
    (sub, h.connect("pub", ProtocolVersion::V5))
}

/// One SUBSCRIBE (packet id 0x1234) with every filter and an optional v5 Subscription
/// Identifier; returns the SUBACK's codes (the packet id is checked).
pub fn subscribe_all(
    h: &mut Harness,
    c: ClientId,
    filters: &[(&str, SubscriptionOptions)],
    id: Option<u32>,
) -> Vec<ReasonCode> {
    let mut subscribe = Subscribe {
        packet_id: pid(0x1234),
        properties: Default::default(),
        filters: filters.iter().map(|(f, o)| (string(f), *o)).collect(),
    };
    subscribe.properties.subscription_identifier = id.map(sub_id);
    h.subscribe_packet(c, subscribe)
}

/// Publishes and completes the publisher's side of the flow, asserting each answer
/// (PUBACK, or PUBREC, then PUBCOMP for the PUBREL).
pub fn publish_done(
    h: &mut Harness,
    c: ClientId,
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    packet_id: u16,
) {
    h.publish(c, topic, payload, qos, retain, packet_id);
    match qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => {
            assert!(matches!(h.recv(c), Some(Packet::PubAck(a)) if a.packet_id.get() == packet_id));
        }
        QoS::ExactlyOnce => {
            assert!(matches!(h.recv(c), Some(Packet::PubRec(a)) if a.packet_id.get() == packet_id));
            h.send(c, pubrel(packet_id));
            assert!(
                matches!(h.recv(c), Some(Packet::PubComp(a)) if a.packet_id.get() == packet_id)
            );
        }
    }
}

/// Receives every PUBLISH client `c` is sent, acknowledging each as its QoS asks, until
/// nothing more arrives; asserts that no more than `window` QoS 1/2 ones are ever
/// unacknowledged at once. Other packets are dropped.
pub fn receive_all_within(h: &mut Harness, c: ClientId, window: usize) -> Vec<Publish> {
    let mut received = Vec::new();
    loop {
        let batch = h.publishes(c);
        if batch.is_empty() {
            return received;
        }
        let unacked = batch.iter().filter(|p| p.qos > QoS::AtMostOnce).count();
        assert!(
            unacked <= window,
            "{unacked} QoS 1/2 PUBLISH in flight at once, window {window}"
        );
        for publish in &batch {
            h.ack(c, publish);
        }
        received.extend(batch);
    }
}

/// [`receive_all_within`] without a window to check.
pub fn receive_all(h: &mut Harness, c: ClientId) -> Vec<Publish> {
    receive_all_within(h, c, usize::MAX)
}
