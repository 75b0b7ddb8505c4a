//! A deterministic network in memory: [`mqtt_client_core::Client`]s talking to one
//! [`mqtt_broker_core::Broker`] through simulated sockets, on a virtual clock. No threads, no
//! sockets, no real time: every run is reproducible.
//!
//! - **Sockets.** Each connection a client opens is a pair of byte queues (client to
//!   broker, broker to client). Bytes move only in [`Net::step`], one whole
//!   packet at a time, so a test can cut the connection between any two packets. Closing
//!   follows TCP: the side that closes first writes its last bytes, the other side reads
//!   them and then sees the end of the stream. A network failure
//!   ([`Net::drop_connection`]) loses what is in flight both ways and tells both sides at
//!   once. A stalled socket ([`Net::stall`]) moves nothing and tells nobody, as a dead
//!   route does.
//! - **The sans-IO rule.** After every input to the broker or a client, every output is
//!   drained: the broker's `Transmit` bytes go into the socket, its `Close` is carried out
//!   (last bytes pulled, `handle_closed`, the client told when it has read them), a client's
//!   bytes go into its socket, and its events are recorded (and, for clients with
//!   `auto_ack`, messages acknowledged).
//! - **Time.** [`Net::advance`] moves the clock, firing the broker's and the clients'
//!   deadlines in order; bytes cross with no delay at each of those instants.
//! - **Broker restarts.** With a durable config, records go to a [`MemoryStore`] (stored
//!   and confirmed at once) and [`Net::restart_broker`] replaces the broker by one restored
//!   from it, possibly with another config; every connection fails.
//! - **Faults.** [`Net::cut_after`] / [`Net::cut_after_kind`] drop a client's connection
//!   right after the N-th packet (of a kind) has crossed in a direction and its receiver has
//!   handled it: the answer it wrote is lost with everything else in flight.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{
    Broker, CloseReason, Config, ConnectionHandle, Event as BrokerEvent, MemoryStore,
};
use mqtt_client_core::{
    AckHandle, Client, ConnectOptions, ConnectionState, DisconnectReason, Event, IncomingMessage,
    PublishId,
};
use mqtt_codec::{
    FixedHeader, MqttString, PacketType, ProtocolVersion, Publish, QoS, ReasonCode,
    SubscriptionOptions,
};

/// Index of a client in the network.
pub type ClientId = usize;
/// Index of a socket (one per connection a client opened).
pub type SocketId = usize;

/// Which way a packet crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the client to the broker.
    ToBroker,
    /// From the broker to the client.
    ToClient,
    /// Either way (for cut rules).
    Either,
}

impl Dir {
    fn matches(self, actual: Self) -> bool {
        self == Self::Either || self == actual
    }
}

/// One packet that crossed the wire (the trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    pub client: ClientId,
    pub socket: SocketId,
    pub dir: Dir,
    /// `None` for bytes that do not frame as a packet (then all of them went at once).
    pub kind: Option<PacketType>,
    /// The first byte (PUBLISH flags: DUP 0x08, QoS 0x06, RETAIN 0x01).
    pub first_byte: u8,
    /// The packet identifier of a QoS 1/2 PUBLISH, PUBACK, PUBREC, PUBREL or PUBCOMP.
    pub packet_id: Option<u16>,
    pub at: Instant,
}

impl Crossing {
    /// A PUBLISH with DUP set.
    pub fn dup(&self) -> bool {
        self.kind == Some(PacketType::Publish) && self.first_byte & 0x08 != 0
    }

    /// The QoS of a PUBLISH.
    pub fn qos(&self) -> u8 {
        (self.first_byte >> 1) & 0x03
    }
}

#[derive(Debug, Clone, Copy)]
struct CutRule {
    client: ClientId,
    dir: Dir,
    kind: Option<PacketType>,
    remaining: usize,
}

/// One simulated TCP connection.
#[derive(Debug)]
struct Socket {
    client: ClientId,
    /// The broker's handle while its end is open.
    broker: Option<ConnectionHandle>,
    /// Whether the client's end is open.
    client_open: bool,
    to_broker: BytesMut,
    to_client: BytesMut,
    /// The client closed its end: once `to_broker` is read, the broker sees the close.
    client_fin: bool,
    /// The broker closed its end: once `to_client` is read, the client sees the close.
    broker_fin: bool,
    /// Nothing moves and no close is seen (a dead route).
    stalled: bool,
}

/// A client of the network and what happened to it.
#[derive(Debug)]
pub struct Peer {
    pub client: Client,
    pub name: String,
    socket: Option<SocketId>,
    /// Every event the client produced, in order.
    pub events: Vec<Event>,
    /// Acknowledge every message as it is drained (for clients with `manual_acks`).
    pub auto_ack: bool,
    /// Why the broker closed this client's connections, in order.
    pub broker_closes: Vec<CloseReason>,
    /// Connections opened.
    pub connections: usize,
}

/// The network: one broker, its clients, their sockets, a virtual clock.
#[derive(Debug)]
pub struct Net {
    pub broker: Broker,
    pub now: Instant,
    pub start: Instant,
    pub peers: Vec<Peer>,
    sockets: Vec<Option<Socket>>,
    by_handle: HashMap<ConnectionHandle, SocketId>,
    cuts: Vec<CutRule>,
    /// How many cut rules fired.
    pub cuts_fired: usize,
    /// Every packet that crossed, in order.
    pub trace: Vec<Crossing>,
    /// The broker's `Connected` events: client id and Session Present.
    pub broker_connects: Vec<(String, bool)>,
    /// Records the broker asked to store (durable configs; each is stored and confirmed at
    /// once).
    pub records: u64,
    /// The durable store the records go to (what a restarted broker is restored from).
    pub store: MemoryStore,
    /// `run_until_idle` panics after this many steps.
    pub step_limit: usize,
}

/// Packet type of a first byte (the codec keeps its own mapping private).
pub fn packet_type(first_byte: u8) -> Option<PacketType> {
    Some(match first_byte >> 4 {
        1 => PacketType::Connect,
        2 => PacketType::ConnAck,
        3 => PacketType::Publish,
        4 => PacketType::PubAck,
        5 => PacketType::PubRec,
        6 => PacketType::PubRel,
        7 => PacketType::PubComp,
        8 => PacketType::Subscribe,
        9 => PacketType::SubAck,
        10 => PacketType::Unsubscribe,
        11 => PacketType::UnsubAck,
        12 => PacketType::PingReq,
        13 => PacketType::PingResp,
        14 => PacketType::Disconnect,
        15 => PacketType::Auth,
        _ => return None,
    })
}

/// Takes the next whole packet off `buf`; bytes that do not frame go all at once (the
/// receiver refuses them).
fn next_packet(buf: &mut BytesMut) -> Option<BytesMut> {
    if buf.is_empty() {
        return None;
    }
    match FixedHeader::parse(buf, Some(ProtocolVersion::V5)) {
        Ok(Some(header)) => {
            (buf.len() >= header.packet_len()).then(|| buf.split_to(header.packet_len()))
        }
        Ok(None) => None,
        Err(_) => Some(buf.split()),
    }
}

/// The packet identifier of a whole QoS 1/2 PUBLISH or a PUBACK/PUBREC/PUBREL/PUBCOMP.
fn packet_id_of(packet: &[u8]) -> Option<u16> {
    let header = FixedHeader::parse(packet, Some(ProtocolVersion::V5)).ok()??;
    let body = packet.get(header.header_len()..)?;
    let at = match header.packet_type() {
        PacketType::Publish if packet[0] & 0x06 != 0 => {
            2 + usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]))
        }
        PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => 0,
        _ => return None,
    };
    Some(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]))
}

/// Options for a persistent session: Clean Start 0 and, for v5, `expiry` seconds of
/// Session Expiry Interval; keep alive 60 s.
pub fn persistent(name: &str, version: ProtocolVersion, expiry: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(MqttString::try_from(name).expect("valid client id"));
    options.version = version;
    options.clean_start = false;
    options.session_expiry_interval = if version.is_v5() { expiry } else { 0 };
    options.keep_alive = 60;
    options
}

/// A broker config without `$SYS` (so tests see only their own traffic).
pub fn quiet_config() -> Config {
    let mut config = Config::default();
    config.sys_interval = None;
    config
}

/// A PUBLISH of `payload` on `topic` at `qos`.
pub fn message(topic: &str, payload: &str, qos: QoS) -> Publish {
    let mut publish = Publish::new(
        MqttString::try_from(topic).expect("valid topic"),
        Bytes::copy_from_slice(payload.as_bytes()),
    );
    publish.qos = qos;
    publish
}

impl Net {
    /// A network around a broker with `config`.
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        Self {
            broker: Broker::new(config, now),
            now,
            start: now,
            peers: Vec::new(),
            sockets: Vec::new(),
            by_handle: HashMap::new(),
            cuts: Vec::new(),
            cuts_fired: 0,
            trace: Vec::new(),
            broker_connects: Vec::new(),
            records: 0,
            store: MemoryStore::new(),
            step_limit: 100_000,
        }
    }

    /// A network around a broker with [`quiet_config`].
    pub fn quiet() -> Self {
        Self::new(quiet_config())
    }

    /// Time passed since the network was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    // ---- Clients ----

    /// Adds a client with `options`, not connected.
    pub fn add_client(&mut self, options: ConnectOptions) -> ClientId {
        let name = options.client_id.to_string();
        self.peers.push(Peer {
            client: Client::new(options),
            name,
            socket: None,
            events: Vec::new(),
            auto_ack: false,
            broker_closes: Vec::new(),
            connections: 0,
        });
        self.peers.len() - 1
    }

    /// The client `c`.
    pub fn client(&self, c: ClientId) -> &Client {
        &self.peers[c].client
    }

    /// The client `c`, to change its options (for example).
    pub fn client_mut(&mut self, c: ClientId) -> &mut Client {
        &mut self.peers[c].client
    }

    /// Whether client `c` says it is connected.
    pub fn is_connected(&self, c: ClientId) -> bool {
        self.peers[c].client.state() == ConnectionState::Connected
    }

    /// The application of client `c` restarts: its connections fail and a new `Client` with
    /// the same options (and none of the old in-memory state) takes its place. Recorded
    /// events stay.
    pub fn restart_client(&mut self, c: ClientId) {
        self.drop_connection(c);
        let options = self.peers[c].client.options().clone();
        self.peers[c].client = Client::new(options);
    }

    /// Opens a new connection for client `c` (the broker accepts it) and calls
    /// `Client::connect`; nothing crosses until the next step.
    pub fn reconnect(&mut self, c: ClientId) {
        assert!(
            self.peers[c].socket.is_none(),
            "client {} already has a connection",
            self.peers[c].name
        );
        let handle = self.broker.handle_connection_opened(self.now);
        self.drain_broker();
        let s = self.sockets.len();
        self.sockets.push(Some(Socket {
            client: c,
            broker: Some(handle),
            client_open: true,
            to_broker: BytesMut::new(),
            to_client: BytesMut::new(),
            client_fin: false,
            broker_fin: false,
            stalled: false,
        }));
        self.by_handle.insert(handle, s);
        let peer = &mut self.peers[c];
        peer.socket = Some(s);
        peer.connections += 1;
        peer.client
            .connect(self.now)
            .expect("client is disconnected");
        self.drain_client(c);
    }

    /// Connects client `c`, runs until idle and returns Session Present; panics unless it
    /// connected.
    pub fn connect(&mut self, c: ClientId) -> bool {
        let before = self.peers[c].events.len();
        self.reconnect(c);
        self.run_until_idle();
        self.peers[c].events[before..]
            .iter()
            .find_map(|e| match e {
                Event::Connected {
                    session_present, ..
                } => Some(*session_present),
                _ => None,
            })
            .unwrap_or_else(|| {
                panic!(
                    "{} did not connect: {:?}",
                    self.peers[c].name,
                    &self.peers[c].events[before..]
                )
            })
    }

    /// Subscribes client `c` to `filter` at `qos`, runs until idle and asserts the SUBACK
    /// granted it.
    pub fn subscribe(&mut self, c: ClientId, filter: &str, qos: QoS) {
        let filter = MqttString::try_from(filter).expect("valid filter");
        let packet_id = self.peers[c]
            .client
            .subscribe(self.now, vec![(filter, SubscriptionOptions::qos(qos))])
            .expect("subscribe");
        self.drain_client(c);
        self.run_until_idle();
        let granted = self.peers[c].events.iter().rev().find_map(|e| match e {
            Event::Subscribed {
                packet_id: id,
                reason_codes,
            } if *id == packet_id => Some(reason_codes.clone()),
            _ => None,
        });
        assert_eq!(
            granted,
            Some(vec![
                ReasonCode::from_u8(qos as u8).expect("granted QoS code")
            ]),
            "SUBACK for {}",
            self.peers[c].name
        );
    }

    /// Client `c` publishes (the bytes cross at the next step).
    pub fn publish(&mut self, c: ClientId, publish: Publish) -> PublishId {
        let id = self.peers[c]
            .client
            .publish(self.now, publish)
            .expect("publish accepted");
        self.drain_client(c);
        id
    }

    /// Client `c`'s application acknowledges a message (manual acks).
    pub fn ack(
        &mut self,
        c: ClientId,
        handle: AckHandle,
    ) -> Result<(), mqtt_client_core::ClientError> {
        let result = self.peers[c].client.ack(self.now, handle);
        self.drain_client(c);
        result
    }

    // ---- Faults ----

    /// The network fails under client `c`: every connection of it goes, with the bytes in
    /// flight both ways; the broker gets `handle_closed`, the client `connection_lost`.
    pub fn drop_connection(&mut self, c: ClientId) {
        for s in 0..self.sockets.len() {
            if self.sockets[s]
                .as_ref()
                .is_some_and(|sock| sock.client == c)
            {
                self.drop_socket(s);
            }
        }
    }

    /// Client `c`'s current connection goes silent: nothing crosses either way, no close is
    /// seen. Each side finds out by its own timers.
    pub fn stall(&mut self, c: ClientId) {
        if let Some(s) = self.peers[c].socket {
            if let Some(sock) = self.sockets[s].as_mut() {
                sock.stalled = true;
            }
        }
    }

    /// Whether any connection of client `c` is stalled.
    pub fn is_stalled(&self, c: ClientId) -> bool {
        self.sockets
            .iter()
            .flatten()
            .any(|sock| sock.client == c && sock.stalled)
    }

    /// Drops client `c`'s connection right after the `n`-th packet (counted from now) has
    /// crossed in `dir` and its receiver has handled it.
    pub fn cut_after(&mut self, c: ClientId, dir: Dir, n: usize) {
        self.cut_rule(c, dir, None, n);
    }

    /// As [`cut_after`](Self::cut_after), counting only packets of `kind`.
    pub fn cut_after_kind(&mut self, c: ClientId, dir: Dir, kind: PacketType, n: usize) {
        self.cut_rule(c, dir, Some(kind), n);
    }

    fn cut_rule(&mut self, c: ClientId, dir: Dir, kind: Option<PacketType>, n: usize) {
        assert!(
            n > 0,
            "cut after at least one packet (drop_connection cuts now)"
        );
        self.cuts.push(CutRule {
            client: c,
            dir,
            kind,
            remaining: n,
        });
    }

    /// Cut rules not fired yet.
    pub fn pending_cuts(&self) -> usize {
        self.cuts.len()
    }

    /// Forgets the cut rules not fired yet.
    pub fn clear_cuts(&mut self) {
        self.cuts.clear();
    }

    /// The broker process restarts with `config` (which must be durable, as the old one):
    /// every connection fails (clients get `connection_lost`), and a new broker is restored
    /// from the store.
    pub fn restart_broker(&mut self, config: Config) {
        assert!(
            self.broker.config().durable && config.durable,
            "a broker restart needs a durable store"
        );
        for s in 0..self.sockets.len() {
            if let Some(sock) = self.sockets[s].take() {
                if sock.client_open {
                    self.client_sees_close(sock.client, s);
                }
            }
        }
        self.by_handle.clear();
        self.broker = Broker::restore(config, self.now, self.store.records());
        self.drain_broker();
    }

    // ---- Moving bytes and time ----

    /// Moves every pending packet both ways on every socket (draining all outputs after each),
    /// carries out closes. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        for s in 0..self.sockets.len() {
            moved |= self.move_to_broker(s);
            moved |= self.move_to_client(s);
            moved |= self.settle_socket(s);
        }
        moved
    }

    /// Steps until nothing moves; returns the number of steps. Panics after `step_limit`.
    pub fn run_until_idle(&mut self) -> usize {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(
                steps < self.step_limit,
                "the network never goes idle ({steps} steps)"
            );
        }
        steps
    }

    /// Moves the clock by `by`, firing the broker's and the clients' deadlines in order, with
    /// the network run until idle at each.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        let mut fired = 0;
        while let Some(at) = self.next_deadline().filter(|&at| at <= end) {
            fired += 1;
            assert!(fired < 1_000_000, "deadlines do not move forward");
            self.now = self.now.max(at);
            self.fire_timers();
        }
        self.now = end;
        self.fire_timers();
    }

    /// The earliest deadline of the broker and the clients.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.peers
            .iter()
            .filter_map(|p| p.client.poll_timeout())
            .chain(self.broker.poll_timeout())
            .min()
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        if self.broker.poll_timeout().is_some_and(|at| at <= now) {
            self.broker.handle_timeout(now);
            self.drain_broker();
        }
        for c in 0..self.peers.len() {
            if self.peers[c]
                .client
                .poll_timeout()
                .is_some_and(|at| at <= now)
            {
                self.peers[c].client.handle_timeout(now);
                self.drain_client(c);
            }
        }
        self.run_until_idle();
        // The sans-IO contract: after handle_timeout(now), the next deadline is later.
        if let Some(at) = self.broker.poll_timeout() {
            assert!(at > now, "broker poll_timeout does not move past now");
        }
        for peer in &self.peers {
            if let Some(at) = peer.client.poll_timeout() {
                assert!(
                    at > now,
                    "{}: poll_timeout does not move past now",
                    peer.name
                );
            }
        }
    }

    fn move_to_broker(&mut self, s: SocketId) -> bool {
        let mut moved = false;
        while let Some(sock) = self.sockets[s].as_mut() {
            let Some(handle) = sock.broker else {
                sock.to_broker.clear();
                break;
            };
            if sock.stalled || !self.broker.wants_read(handle) {
                break;
            }
            let Some(mut packet) = next_packet(&mut sock.to_broker) else {
                break;
            };
            let client = sock.client;
            let (first, packet_id) = (packet[0], packet_id_of(&packet));
            self.broker.handle_read(self.now, handle, &mut packet);
            self.drain_broker();
            moved = true;
            self.crossed(client, s, Dir::ToBroker, first, packet_id);
        }
        moved
    }

    fn move_to_client(&mut self, s: SocketId) -> bool {
        let mut moved = false;
        while let Some(sock) = self.sockets[s].as_mut() {
            if !sock.client_open {
                sock.to_client.clear();
                break;
            }
            if sock.stalled {
                break;
            }
            let Some(mut packet) = next_packet(&mut sock.to_client) else {
                break;
            };
            let client = sock.client;
            let (first, packet_id) = (packet[0], packet_id_of(&packet));
            self.peers[client]
                .client
                .handle_bytes(self.now, &mut packet);
            self.drain_client(client);
            moved = true;
            self.crossed(client, s, Dir::ToClient, first, packet_id);
        }
        moved
    }

    /// Carries the closes across once the last bytes before them are read; forgets sockets
    /// closed at both ends.
    fn settle_socket(&mut self, s: SocketId) -> bool {
        let Some(sock) = self.sockets[s].as_mut() else {
            return false;
        };
        let mut moved = false;
        if !sock.stalled {
            if sock.client_fin && sock.to_broker.is_empty() {
                if let Some(handle) = sock.broker.take() {
                    self.by_handle.remove(&handle);
                    self.broker.handle_closed(self.now, handle);
                    moved = true;
                }
            }
            if sock.broker_fin && sock.to_client.is_empty() && sock.client_open {
                sock.client_open = false;
                let c = sock.client;
                self.client_sees_close(c, s);
                moved = true;
            }
        }
        if let Some(sock) = self.sockets[s].as_ref() {
            if !sock.client_open && sock.broker.is_none() {
                self.sockets[s] = None;
            }
        }
        self.drain_broker();
        moved
    }

    /// The client's end of socket `s` is gone under it.
    fn client_sees_close(&mut self, c: ClientId, s: SocketId) {
        if self.peers[c].socket == Some(s) {
            self.peers[c].socket = None;
            if self.peers[c].client.state() != ConnectionState::Disconnected {
                self.peers[c].client.connection_lost(self.now);
            }
            self.drain_client(c);
        }
    }

    fn drop_socket(&mut self, s: SocketId) {
        let Some(sock) = self.sockets[s].take() else {
            return;
        };
        if let Some(handle) = sock.broker {
            self.by_handle.remove(&handle);
            self.broker.handle_closed(self.now, handle);
            self.drain_broker();
        }
        if sock.client_open {
            self.client_sees_close(sock.client, s);
        }
    }

    /// A packet crossed: trace it and apply the cut rules.
    fn crossed(
        &mut self,
        client: ClientId,
        s: SocketId,
        dir: Dir,
        first_byte: u8,
        packet_id: Option<u16>,
    ) {
        let kind = packet_type(first_byte);
        self.trace.push(Crossing {
            client,
            socket: s,
            dir,
            kind,
            first_byte,
            packet_id,
            at: self.now,
        });
        let mut fire = false;
        for rule in &mut self.cuts {
            if rule.client == client
                && rule.dir.matches(dir)
                && rule.kind.is_none_or(|k| Some(k) == kind)
            {
                rule.remaining -= 1;
                fire |= rule.remaining == 0;
            }
        }
        if fire {
            self.cuts.retain(|rule| rule.remaining > 0);
            self.cuts_fired += 1;
            self.drop_socket(s);
        }
    }

    // ---- Draining outputs ----

    fn drain_broker(&mut self) {
        let mut events = 0;
        while let Some(event) = self.broker.poll_event() {
            events += 1;
            assert!(events < 10_000_000, "the broker keeps producing events");
            match event {
                BrokerEvent::Transmit(handle) => self.pull(handle),
                BrokerEvent::Close { connection, reason } => {
                    // Write its last bytes, close the socket, tell the broker.
                    self.pull(connection);
                    self.broker.handle_closed(self.now, connection);
                    if let Some(s) = self.by_handle.remove(&connection) {
                        if let Some(sock) = self.sockets[s].as_mut() {
                            sock.broker = None;
                            sock.broker_fin = true;
                            sock.to_broker.clear();
                            self.peers[sock.client].broker_closes.push(reason);
                        }
                    }
                }
                BrokerEvent::Connected {
                    client_id,
                    session_present,
                    ..
                } => self
                    .broker_connects
                    .push((client_id.to_string(), session_present)),
                BrokerEvent::Persist { seq, record } => {
                    self.records += 1;
                    self.store.apply(record);
                    self.broker.handle_stored(seq);
                }
                other => panic!("unexpected broker event {other:?}"),
            }
        }
    }

    fn pull(&mut self, handle: ConnectionHandle) {
        let mut pulls = 0;
        while let Some(bytes) = self.broker.poll_transmit(self.now, handle) {
            pulls += 1;
            assert!(pulls < 1_000_000, "poll_transmit never runs dry");
            let Some(&s) = self.by_handle.get(&handle) else {
                continue;
            };
            if let Some(sock) = self.sockets[s].as_mut() {
                sock.to_client.extend_from_slice(&bytes);
            }
        }
    }

    fn drain_client(&mut self, c: ClientId) {
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 1_000_000, "client keeps producing output");
            let mut progressed = self.pull_client(c);
            let mut acks = Vec::new();
            while let Some(event) = self.peers[c].client.poll_event() {
                progressed = true;
                match &event {
                    Event::Message(IncomingMessage { ack: Some(h), .. })
                        if self.peers[c].auto_ack =>
                    {
                        acks.push(*h);
                    }
                    Event::Disconnected(_) => {
                        // Write what is left, then close our end.
                        self.pull_client(c);
                        if let Some(s) = self.peers[c].socket.take() {
                            if let Some(sock) = self.sockets[s].as_mut() {
                                sock.client_open = false;
                                sock.client_fin = true;
                                sock.to_client.clear();
                            }
                        }
                    }
                    _ => {}
                }
                self.peers[c].events.push(event);
            }
            for handle in acks {
                // A QoS 1 handle of an earlier connection is ignored by the client.
                let _ = self.peers[c].client.ack(self.now, handle);
            }
            if !progressed {
                break;
            }
        }
    }

    /// Moves client `c`'s output into its socket; returns whether there was any.
    fn pull_client(&mut self, c: ClientId) -> bool {
        let mut any = false;
        while let Some(bytes) = self.peers[c].client.poll_transmit() {
            any = true;
            let Some(s) = self.peers[c].socket else {
                continue;
            };
            if let Some(sock) = self.sockets[s].as_mut() {
                if sock.client_open {
                    sock.to_broker.extend_from_slice(&bytes);
                }
            }
        }
        any
    }

    // ---- What happened ----

    /// Forgets the recorded events and trace (after a setup phase).
    pub fn clear_history(&mut self) {
        for peer in &mut self.peers {
            peer.events.clear();
            peer.broker_closes.clear();
        }
        self.trace.clear();
    }

    /// The messages client `c` received, in order.
    pub fn messages(&self, c: ClientId) -> Vec<&IncomingMessage> {
        self.peers[c]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// How many times client `c` received each payload.
    pub fn payload_counts(&self, c: ClientId) -> HashMap<Bytes, usize> {
        let mut counts = HashMap::new();
        for m in self.messages(c) {
            *counts.entry(m.payload.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The received payloads of client `c`, as text, in order.
    pub fn payloads(&self, c: ClientId) -> Vec<String> {
        self.messages(c)
            .iter()
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .collect()
    }

    /// Client `c`'s PublishCompleted events, in order.
    pub fn completions(&self, c: ClientId) -> Vec<(PublishId, ReasonCode)> {
        self.peers[c]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::PublishCompleted { id, reason_code } => Some((*id, *reason_code)),
                _ => None,
            })
            .collect()
    }

    /// Why client `c`'s connections ended, in order.
    pub fn disconnects(&self, c: ClientId) -> Vec<DisconnectReason> {
        self.peers[c]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Disconnected(reason) => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// Packets of `kind` that crossed on client `c`'s connections in `dir`.
    pub fn count(&self, c: ClientId, dir: Dir, kind: PacketType) -> usize {
        self.trace
            .iter()
            .filter(|x| x.client == c && dir.matches(x.dir) && x.kind == Some(kind))
            .count()
    }

    /// Checks the re-sending rules on everything that crossed on client `c`'s connections,
    /// both ways (the client's publishes and the broker's): a PUBLISH whose packet id is
    /// still unacknowledged goes again only with DUP set [MQTT-3.3.1-1], and never once its
    /// PUBREL went [MQTT-4.3.3-6] (until the PUBCOMP frees the id). Sessions must not have
    /// been lost in between (a new session reuses packet ids without DUP).
    pub fn check_resend_rules(&self, c: ClientId) -> Result<(), String> {
        let mut errors = Vec::new();
        for (sender, acks, who) in [
            (Dir::ToBroker, Dir::ToClient, "client"),
            (Dir::ToClient, Dir::ToBroker, "broker"),
        ] {
            // Packet id -> PUBREL sent.
            let mut open: HashMap<u16, bool> = HashMap::new();
            for (i, x) in self.trace.iter().enumerate().filter(|(_, x)| x.client == c) {
                let Some(id) = x.packet_id else {
                    continue;
                };
                match (x.kind, x.dir) {
                    (Some(PacketType::Publish), d) if d == sender => {
                        if let Some(&released) = open.get(&id) {
                            if released {
                                errors.push(format!(
                                    "{who} sent PUBLISH {id} again after its PUBREL (crossing {i})"
                                ));
                            } else if !x.dup() {
                                errors.push(format!(
                                    "{who} sent PUBLISH {id} again without DUP (crossing {i})"
                                ));
                            }
                        }
                        open.insert(id, false);
                    }
                    (Some(PacketType::PubRel), d) if d == sender => {
                        open.insert(id, true);
                    }
                    (Some(PacketType::PubAck | PacketType::PubComp), d) if d == acks => {
                        open.remove(&id);
                    }
                    _ => {}
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {}", self.peers[c].name, errors.join("; ")))
        }
    }

    /// Sockets still known (open at one end at least).
    pub fn open_sockets(&self) -> usize {
        self.sockets.iter().flatten().count()
    }
}
