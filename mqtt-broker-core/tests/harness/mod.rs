//! A deterministic harness for the broker core: a virtual clock, many simulated clients
//! speaking raw packets, no network. Every run is reproducible.
//!
//! After each input the harness drains every broker output (the sans-IO rule): bytes go to
//! the client they are for and are decoded there, closes are carried out, records go to an
//! in-memory store (acknowledged at once unless `hold_store` is set).
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{Broker, CloseReason, Config, ConnectionHandle, Event, MemoryStore, Record};
use mqtt_codec::{
    ConnAck, Connect, Decoder, MqttString, Packet, ProtocolVersion, Publish, PublishAck, QoS,
    Subscribe, SubscriptionOptions, Unsubscribe,
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

pub type ClientId = usize;

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
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        Self::with_broker(Broker::new(config, now), now)
    }

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

    pub fn quiet() -> Self {
        Self::new(Self::quiet_config())
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
        let mut wire = BytesMut::new();
        packet
            .encode(self.clients[c].version, &mut wire)
            .expect("test packet encodes");
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

    /// Moves the virtual clock forward, firing every deadline on the way in order.
    pub fn advance(&mut self, by: Duration) {
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
        self.drain(c)
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    pub fn closed(&self, c: ClientId) -> Option<CloseReason> {
        self.clients[c].closed
    }

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
        let mut connect = Connect::new(version, string(client_id));
        connect.keep_alive = 0;
        let (c, connack) = self.connect_with(connect);
        let connack = connack.expect("CONNACK");
        assert!(!connack.reason_code.is_error(), "refused: {connack:?}");
        c
    }

    /// Connects `client_id` with a persistent session (v5: expiry `u32::MAX`).
    pub fn connect_persistent(
        &mut self,
        client_id: &str,
        version: ProtocolVersion,
    ) -> (ClientId, bool) {
        let mut connect = Connect::new(version, string(client_id));
        connect.keep_alive = 0;
        connect.clean_start = false;
        if version.is_v5() {
            connect.properties.session_expiry_interval = Some(u32::MAX);
        }
        let (c, connack) = self.connect_with(connect);
        let connack = connack.expect("CONNACK");
        assert!(!connack.reason_code.is_error(), "refused: {connack:?}");
        (c, connack.session_present)
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

    pub fn subscribe_with(
        &mut self,
        c: ClientId,
        filter: &str,
        options: SubscriptionOptions,
    ) -> Vec<mqtt_codec::ReasonCode> {
        let packet_id = pid(0xAB);
        let subscribe = Subscribe {
            packet_id,
            properties: Default::default(),
            filters: vec![(string(filter), options)],
        };
        self.subscribe_packet(c, subscribe)
    }

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
            (QoS::AtLeastOnce, Some(id)) => self.send(c, Packet::PubAck(PublishAck::new(id))),
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(c, Packet::PubRec(PublishAck::new(id)));
                self.send(c, Packet::PubComp(PublishAck::new(id)));
            }
            _ => {}
        }
    }
}

pub fn string(s: &str) -> MqttString {
    MqttString::try_from(s).expect("valid MQTT string")
}

pub fn pid(id: u16) -> mqtt_codec::PacketId {
    mqtt_codec::PacketId::new(id).expect("non-zero packet id")
}

pub fn publish(topic: &str, payload: &[u8], qos: QoS, retain: bool, packet_id: u16) -> Publish {
    let mut publish = Publish::new(string(topic), Bytes::copy_from_slice(payload));
    publish.qos = qos;
    publish.retain = retain;
    if qos > QoS::AtMostOnce {
        publish.packet_id = Some(pid(packet_id));
    }
    publish
}
