//! The broker: the state machine the adapter drives, and the connection table.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{
    Decoder, Disconnect, MqttString, Packet, ProtocolVersion, PublishAck, ReasonCode, Will,
};
use mqtt_topic::{RetainedIndex, SubscriptionTree};

use crate::auth::{AllowAll, Authenticator};
use crate::config::Config;
use crate::event::{CloseReason, ConnectionHandle, Event};
use crate::message::Message;
use crate::session::{Session, SessionId, Subscription};
use crate::sys::Stats;
use crate::timer::Timer;
use crate::transmit::WriteBuffer;

/// A sans-IO MQTT broker.
///
/// The adapter owns sockets and clocks; the broker owns every protocol rule. Its methods
/// come in four groups:
///
/// - **Getters** (`&self`): [`config`](Self::config), [`stats`](Self::stats),
///   [`session_count`](Self::session_count), [`connection_count`](Self::connection_count),
///   [`session_info`](Self::session_info), and [`wants_read`](Self::wants_read), which
///   tells the adapter to stop reading from a client that does not read its answers.
/// - **Inputs** (`handle_*`): [`handle_connection_opened`](Self::handle_connection_opened),
///   [`handle_read`](Self::handle_read) with the bytes a socket delivered,
///   [`handle_closed`](Self::handle_closed) when a socket is gone,
///   [`handle_timeout`](Self::handle_timeout) when the deadline from
///   [`poll_timeout`](Self::poll_timeout) passes (calling it early is harmless), and
///   [`handle_stored`](Self::handle_stored) when a durable store has written records.
/// - **Commands**: [`shutdown`](Self::shutdown).
/// - **Outputs** (`poll_*`, pulled one at a time): [`poll_event`](Self::poll_event) for
///   connections with bytes to write, connections to close and records to store;
///   [`poll_transmit`](Self::poll_transmit) for one connection's bytes, pulled when its
///   socket can take them; [`poll_timeout`](Self::poll_timeout) for the next deadline.
///
/// After each input, drain [`poll_event`](Self::poll_event) until it returns `None`, then
/// wait for the next input or the deadline. Every time-dependent call takes `now`; nothing
/// inside reads a clock.
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use mqtt_broker_core::{Broker, Config, Event};
/// use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion};
///
/// let now = Instant::now();
/// let mut broker = Broker::new(Config::default(), now);
/// let connection = broker.handle_connection_opened(now);
///
/// let mut input = BytesMut::new();
/// let connect = Connect::new(ProtocolVersion::V3_1_1, MqttString::from_static("sensor-1"));
/// Packet::Connect(Box::new(connect)).encode(ProtocolVersion::V3_1_1, &mut input).unwrap();
/// broker.handle_read(now, connection, &mut input);
///
/// // The CONNACK waits to be written.
/// assert!(matches!(broker.poll_event(), Some(Event::Transmit(c)) if c == connection));
/// let bytes = broker.poll_transmit(now, connection).unwrap();
/// assert_eq!(&bytes[..], &[0x20, 0x02, 0x00, 0x00]);
/// ```
pub struct Broker {
    pub(crate) config: Config,
    pub(crate) auth: Box<dyn Authenticator>,
    pub(crate) connections: Vec<Option<Connection>>,
    free_connections: Vec<usize>,
    pub(crate) sessions: Vec<Option<Session>>,
    free_sessions: Vec<SessionId>,
    pub(crate) session_ids: HashMap<MqttString, SessionId>,
    pub(crate) subscriptions: SubscriptionTree<SessionId, Subscription>,
    /// Each shared subscription group with members, by `$share/{name}/{filter}`.
    pub(crate) shared_groups: HashMap<String, SharedCursor>,
    /// Reused to build group keys while routing.
    pub(crate) share_key: String,
    pub(crate) retained: RetainedIndex<Arc<Message>>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) timers: BTreeSet<(Instant, Timer)>,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    next_serial: u64,
    /// The sequence number of the last record emitted, and the last one the store confirmed.
    pub(crate) last_record: u64,
    pub(crate) stored_record: u64,
    /// Connections whose write buffers hold bytes back for records not yet stored.
    pub(crate) held: Vec<ConnectionHandle>,
    pub(crate) assigned_ids: u64,
    pub(crate) next_sys: Option<Instant>,
    pub(crate) sys_published: HashMap<&'static str, String>,
    /// Reused by routing, so a PUBLISH allocates nothing for its list of matches.
    pub(crate) route_scratch: Vec<crate::publish::Target>,
}

impl core::fmt::Debug for Broker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Broker")
            .field("connections", &self.connection_count())
            .field("sessions", &self.session_count())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A shared subscription group's round-robin position.
#[derive(Debug)]
pub(crate) struct SharedCursor {
    /// The member index to try first for the next message.
    pub(crate) next: usize,
    /// `$share/{name}/{filter}`, shared by the deliveries routed through the group.
    pub(crate) name: Arc<str>,
    /// Members, so the entry goes with the last one.
    pub(crate) members: usize,
}

/// A snapshot of one session, from [`Broker::session_info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Whether a connection is attached.
    pub connected: bool,
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub expiry_interval: u32,
    /// Subscriptions held.
    pub subscriptions: usize,
    /// QoS 1/2 flows counted against the client's Receive Maximum (or the configured
    /// maximum inflight), never more: PUBLISHes sent on the current connection and not yet
    /// acknowledged, and released QoS 2 messages awaiting PUBCOMP.
    pub inflight: usize,
    /// QoS 1/2 messages not yet acknowledged, including those of an earlier connection
    /// still to be re-sent.
    pub unacknowledged: usize,
    /// Messages waiting behind the window, all of them.
    pub queued: usize,
    /// Queued messages counted against the queue limits (those not sent for a new
    /// subscription's retained messages).
    pub queued_counted: usize,
    /// Received QoS 2 packet ids awaiting PUBREL.
    pub awaiting_pubrel: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionState {
    AwaitingConnect,
    Connected,
    /// The broker decided to close it: its last bytes may still be pulled; input is ignored.
    Closing,
}

#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) serial: u64,
    pub(crate) state: ConnectionState,
    pub(crate) decoder: Decoder,
    /// The version CONNECT announced (3.1.1 until then, for the refusals that need one).
    pub(crate) version: ProtocolVersion,
    pub(crate) session: Option<SessionId>,
    pub(crate) username: Option<MqttString>,
    /// Boxed: most connections have none, and every connection would carry its size.
    pub(crate) will: Option<Box<Will>>,
    /// Encoded packets waiting for the adapter's writer.
    pub(crate) out: WriteBuffer,
    pub(crate) opened_at: Instant,
    pub(crate) last_packet: Instant,
    /// 1.5 times the keep alive in force [MQTT-3.1.2-24]; `None` while it is off.
    pub(crate) keep_alive_limit: Option<Duration>,
    /// The deadline of the connection's entry in the timer heap, if it has one.
    pub(crate) timer_at: Option<Instant>,
    /// Inbound topic aliases, index alias - 1 [MQTT-3.3.2-12].
    pub(crate) topic_aliases: Vec<Option<MqttString>>,
    /// The most QoS 1/2 messages the client accepts in flight (its Receive Maximum, capped).
    pub(crate) send_quota: u16,
    /// The client's Maximum Packet Size [MQTT-3.1.2-24].
    pub(crate) max_packet_size: u32,
    /// QoS 1/2 publishes received and not yet completed (PUBACK or PUBCOMP sent).
    pub(crate) inbound_inflight: u32,
}

/// The connection in `handle`'s slot, borrowing only the connection table (so the caller
/// can hold other parts of the broker at the same time).
pub(crate) fn connection_slot(
    connections: &mut [Option<Connection>],
    handle: ConnectionHandle,
) -> Option<&mut Connection> {
    connections.get_mut(handle.0)?.as_mut()
}

impl Connection {
    pub(crate) fn is_v5(&self) -> bool {
        self.version.is_v5()
    }
}

impl Broker {
    /// A broker with `config`, started at `now`, admitting everyone ([`AllowAll`]).
    pub fn new(config: Config, now: Instant) -> Self {
        let next_sys = config.sys_interval.map(|_| now);
        let mut broker = Self {
            config,
            auth: Box::new(AllowAll),
            connections: Vec::new(),
            free_connections: Vec::new(),
            sessions: Vec::new(),
            free_sessions: Vec::new(),
            session_ids: HashMap::new(),
            subscriptions: SubscriptionTree::new(),
            shared_groups: HashMap::new(),
            share_key: String::new(),
            retained: RetainedIndex::new(),
            events: VecDeque::new(),
            timers: BTreeSet::new(),
            stats: Stats::default(),
            started: now,
            next_serial: 0,
            last_record: 0,
            stored_record: 0,
            held: Vec::new(),
            assigned_ids: 0,
            next_sys,
            sys_published: HashMap::new(),
            route_scratch: Vec::new(),
        };
        if let Some(at) = next_sys {
            broker.timers.insert((at, Timer::Sys));
        }
        broker
    }

    /// Replaces the authentication and authorisation policy.
    pub fn with_authenticator(mut self, auth: Box<dyn Authenticator>) -> Self {
        self.auth = auth;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters published on `$SYS`.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats;
        stats.retained_messages = self.retained.len() as u64;
        stats.subscriptions = self.subscriptions.len() as u64;
        stats.sessions = self.session_ids.len() as u64;
        stats
    }

    /// Sessions held, connected or not.
    pub fn session_count(&self) -> usize {
        self.session_ids.len()
    }

    /// Open connections, including those not yet through CONNECT and those closing.
    pub fn connection_count(&self) -> usize {
        self.connections.len() - self.free_connections.len()
    }

    /// What the broker holds for `client_id`'s session, if it has one.
    pub fn session_info(&self, client_id: &str) -> Option<SessionInfo> {
        let session = self.session(*self.session_ids.get(client_id)?)?;
        Some(SessionInfo {
            connected: session.connection.is_some(),
            expiry_interval: session.expiry_interval,
            subscriptions: session.subscriptions.len(),
            inflight: session.outbound.in_window(),
            unacknowledged: session.outbound.inflight.len(),
            queued: session.outbound.queue.len(),
            queued_counted: session.outbound.counted(),
            awaiting_pubrel: session.incoming_qos2.len(),
        })
    }

    pub(crate) fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    /// A new network connection. It has [`Config::connect_timeout`] to send CONNECT.
    pub fn handle_connection_opened(&mut self, now: Instant) -> ConnectionHandle {
        let serial = self.serial();
        let connection = Connection {
            serial,
            state: ConnectionState::AwaitingConnect,
            decoder: Decoder::for_server().with_max_packet_size(self.config.max_packet_size),
            version: ProtocolVersion::V3_1_1,
            session: None,
            username: None,
            will: None,
            out: WriteBuffer::default(),
            opened_at: now,
            last_packet: now,
            keep_alive_limit: None,
            timer_at: None,
            topic_aliases: Vec::new(),
            send_quota: self.config.max_inflight.max(1),
            max_packet_size: u32::MAX,
            inbound_inflight: 0,
        };
        let index = match self.free_connections.pop() {
            Some(index) => {
                self.connections[index] = Some(connection);
                index
            }
            None => {
                self.connections.push(Some(connection));
                self.connections.len() - 1
            }
        };
        let handle = ConnectionHandle(index);
        self.arm_connection_timer(handle, now + self.config.connect_timeout);
        handle
    }

    pub(crate) fn connection(&self, handle: ConnectionHandle) -> Option<&Connection> {
        self.connections.get(handle.0)?.as_ref()
    }

    pub(crate) fn connection_mut(&mut self, handle: ConnectionHandle) -> Option<&mut Connection> {
        connection_slot(&mut self.connections, handle)
    }

    pub(crate) fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(id as usize)?.as_ref()
    }

    pub(crate) fn session_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(id as usize)?.as_mut()
    }

    pub(crate) fn insert_session(&mut self, session: Session) -> SessionId {
        let client_id = session.client_id.clone();
        let id = match self.free_sessions.pop() {
            Some(id) => {
                self.sessions[id as usize] = Some(session);
                id
            }
            None => {
                self.sessions.push(Some(session));
                (self.sessions.len() - 1) as SessionId
            }
        };
        self.session_ids.insert(client_id, id);
        id
    }

    pub(crate) fn remove_session_slot(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.get_mut(id as usize)?.take()?;
        if let Some(at) = session.timer_armed {
            self.timers
                .remove(&(at, Timer::Session(id, session.serial)));
        }
        self.session_ids.remove(&session.client_id);
        self.free_sessions.push(id);
        Some(session)
    }

    /// Bytes read from `connection`'s socket. Every whole packet is taken off the front of
    /// `input` and handled; a partial packet stays for the next read. After a fatal error
    /// (the connection is closing), input is discarded.
    pub fn handle_read(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        input: &mut BytesMut,
    ) {
        loop {
            let Some(conn) = self.connection_mut(connection) else {
                input.clear();
                return;
            };
            if conn.state == ConnectionState::Closing {
                input.clear();
                return;
            }
            let before = input.len();
            match conn.decoder.decode(input) {
                Ok(Some(packet)) => {
                    conn.last_packet = now;
                    self.stats.bytes_received += (before - input.len()) as u64;
                    self.stats.messages_received += 1;
                    self.handle_packet(now, connection, packet);
                }
                Ok(None) => return,
                Err(err) => {
                    input.clear();
                    self.decode_failed(now, connection, &err);
                    return;
                }
            }
        }
    }

    fn handle_packet(&mut self, now: Instant, connection: ConnectionHandle, packet: Packet) {
        let Some(conn) = self.connection(connection) else {
            return;
        };
        if conn.state == ConnectionState::AwaitingConnect {
            match packet {
                Packet::Connect(connect) => self.handle_connect(now, connection, *connect),
                // The decoder refuses anything else first [MQTT-3.1.0-1].
                _ => self.protocol_violation(now, connection, ReasonCode::ProtocolError),
            }
            return;
        }
        let Some(session) = conn.session else {
            return;
        };
        match packet {
            Packet::Publish(publish) => self.handle_publish(now, connection, session, publish),
            Packet::PubAck(ack) => self.handle_puback(now, session, &ack),
            Packet::PubRec(ack) => self.handle_pubrec(now, connection, session, &ack),
            Packet::PubRel(ack) => self.handle_pubrel(connection, session, &ack),
            Packet::PubComp(ack) => self.handle_pubcomp(now, session, &ack),
            Packet::Subscribe(subscribe) => {
                self.handle_subscribe(now, connection, session, subscribe);
            }
            Packet::Unsubscribe(unsubscribe) => {
                self.handle_unsubscribe(now, connection, session, unsubscribe);
            }
            // PINGREQ always gets a PINGRESP [MQTT-3.12.4-1].
            Packet::PingReq => self.send(connection, &Packet::PingResp),
            Packet::Disconnect(disconnect) => {
                self.handle_disconnect(now, connection, session, &disconnect);
            }
            // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
            Packet::Connect(_) => {
                self.protocol_violation(now, connection, ReasonCode::ProtocolError);
            }
            // Enhanced authentication is not offered, so AUTH never belongs
            // [MQTT-4.12.0-7]; packets only a server sends are protocol errors.
            Packet::Auth(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                self.protocol_violation(now, connection, ReasonCode::ProtocolError);
            }
        }
    }

    /// The decoder refused the stream.
    fn decode_failed(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        err: &mqtt_codec::DecodeError,
    ) {
        let Some(conn) = self.connection_mut(connection) else {
            return;
        };
        let reason = err.reason_code();
        if conn.state == ConnectionState::AwaitingConnect {
            use mqtt_codec::DecodeError as E;
            match (err, conn.decoder.version()) {
                // Unsupported protocol level: CONNACK 0x01 in the 3.1.1 format, then close
                // [MQTT-3.1.2-2].
                (E::UnsupportedProtocolLevel(_), _) => {
                    self.refuse_connect(connection, ReasonCode::UnsupportedProtocolVersion);
                }
                // A malformed v5 CONNECT is answered with a CONNACK and its reason
                // [MQTT-4.13.1-1]; a 3.1.1 one just closes [MQTT-3.1.4-1].
                (_, Some(version)) if version.is_v5() => {
                    conn.version = version;
                    self.refuse_connect(connection, reason);
                }
                _ => self.close(now, connection, CloseReason::ConnectRefused(reason), None),
            }
            return;
        }
        let explanation = err.to_string();
        self.close_explained(
            now,
            connection,
            CloseReason::ProtocolViolation(reason),
            Some(reason),
            Some(&explanation),
        );
    }

    /// Closes `connection` for a protocol violation: a v5 client is told why first
    /// [MQTT-4.13.1-1]; its will is published [MQTT-3.1.2-8].
    pub(crate) fn protocol_violation(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        reason: ReasonCode,
    ) {
        self.close(
            now,
            connection,
            CloseReason::ProtocolViolation(reason),
            Some(reason),
        );
    }

    /// The socket of `connection` is closed: after an [`Event::Close`], or because the
    /// network failed or the client went away (then its will is published
    /// [MQTT-3.1.2-8]). The handle is free for reuse afterwards.
    pub fn handle_closed(&mut self, now: Instant, connection: ConnectionHandle) {
        let Some(conn) = self.connection(connection) else {
            return;
        };
        if conn.state != ConnectionState::Closing {
            self.go_offline(now, connection, true);
        }
        if let Some(conn) = self
            .connections
            .get_mut(connection.0)
            .and_then(Option::take)
        {
            if let Some(at) = conn.timer_at {
                self.timers
                    .remove(&(at, Timer::Connection(connection, conn.serial)));
            }
            self.free_connections.push(connection.0);
        }
    }

    /// Decides to close `connection`: sends a v5 DISCONNECT with `disconnect_reason` when
    /// given (a 3.1.1 client is just closed), publishes the will unless the client
    /// disconnected normally, and raises [`Event::Close`].
    pub(crate) fn close(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        reason: CloseReason,
        disconnect_reason: Option<ReasonCode>,
    ) {
        self.close_explained(now, connection, reason, disconnect_reason, None);
    }

    /// [`Broker::close`], with a v5 Reason String in the DISCONNECT saying what went wrong
    /// (left out when it would make the packet larger than the client accepts
    /// [MQTT-3.14.2-3]).
    fn close_explained(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        reason: CloseReason,
        disconnect_reason: Option<ReasonCode>,
        explanation: Option<&str>,
    ) {
        let stored = self.stored_record;
        let Some(conn) = self.connection_mut(connection) else {
            return;
        };
        if conn.state == ConnectionState::Closing {
            return;
        }
        conn.out.discard_held(stored);
        if let Some(code) = disconnect_reason {
            // Only after CONNACK: before it the refusal is a CONNACK [MQTT-3.2.0-1].
            if conn.is_v5()
                && conn.state == ConnectionState::Connected
                && code.allowed_in(mqtt_codec::PacketType::Disconnect)
            {
                let mut disconnect = Disconnect::new(code);
                if let Some(text) = explanation.and_then(|t| MqttString::try_from(t).ok()) {
                    disconnect.properties.reason_string = Some(text);
                    let packet = Packet::Disconnect(disconnect.clone());
                    if packet.encoded_len(conn.version) > conn.max_packet_size as usize {
                        disconnect.properties.reason_string = None;
                    }
                }
                self.send(connection, &Packet::Disconnect(disconnect));
            }
        }
        let abnormal = reason != CloseReason::ClientDisconnected;
        self.go_offline(now, connection, abnormal);
        if let Some(conn) = self.connection_mut(connection) {
            conn.state = ConnectionState::Closing;
        }
        self.events.push_back(Event::Close { connection, reason });
    }

    /// Detaches the connection from its session: publishes or schedules the will when
    /// `publish_will`, and ends a session whose expiry is 0 [MQTT-3.1.2-23].
    fn go_offline(&mut self, now: Instant, connection: ConnectionHandle, publish_will: bool) {
        let Some(conn) = self.connection_mut(connection) else {
            return;
        };
        let was_connected = conn.state == ConnectionState::Connected;
        conn.state = ConnectionState::Closing;
        let will = conn.will.take().map(|will| *will);
        let username = conn.username.clone();
        let Some(session_id) = conn.session.take() else {
            return;
        };
        if was_connected {
            self.stats.clients_connected = self.stats.clients_connected.saturating_sub(1);
        }
        let Some(session) = self.session_mut(session_id) else {
            return;
        };
        if session.connection != Some(connection) {
            return;
        }
        session.connection = None;
        let expiry = session.expiry_interval;
        if let (true, Some(will)) = (publish_will, will) {
            self.schedule_will(now, session_id, will, username);
        }
        if expiry == 0 {
            self.end_session(now, session_id);
        } else {
            self.start_session_expiry(now, session_id);
        }
    }

    /// Closes every connection, sending v5 clients DISCONNECT 0x8B (Server shutting down).
    /// Wills are published, as for any close the client did not ask for.
    pub fn shutdown(&mut self, now: Instant) {
        for index in 0..self.connections.len() {
            if self.connections[index].is_some() {
                self.close(
                    now,
                    ConnectionHandle(index),
                    CloseReason::ServerShuttingDown,
                    Some(ReasonCode::ServerShuttingDown),
                );
            }
        }
    }

    /// A PUBACK/PUBREC/PUBREL/PUBCOMP with a v5 reason code (Success under 3.1.1).
    pub(crate) fn ack_with(
        packet_id: mqtt_codec::PacketId,
        reason: ReasonCode,
        v5: bool,
    ) -> PublishAck {
        let mut ack = PublishAck::new(packet_id);
        if v5 {
            ack.reason_code = reason;
        }
        ack
    }
}
