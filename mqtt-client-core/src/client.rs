//! The client state machine: connection life cycle, keep alive, and the packet dispatch.

use std::collections::{HashMap, VecDeque};
use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Auth, AuthProperties, ConnAck, Connect, Decoder, Disconnect, DisconnectProperties, MqttString,
    Packet, PacketId, Properties, ProtocolVersion, ReasonCode,
};

use crate::error::ClientError;
use crate::event::{DisconnectReason, Event, ServerLimits};
use crate::options::ConnectOptions;
use crate::publish::Outbound;
use crate::receive::Inbound;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// No connection: call [`Client::connect`] once the socket is open.
    Disconnected,
    /// CONNECT sent, CONNACK awaited.
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
}

/// A sans-IO MQTT client.
///
/// The application owns the socket and the clock; the client owns the protocol. Its
/// methods come in four groups:
///
/// - **Getters**: [`state`](Self::state), [`limits`](Self::limits),
///   [`inflight`](Self::inflight), [`queued`](Self::queued), [`options`](Self::options).
/// - **Inputs**: [`handle_bytes`](Self::handle_bytes) with what the socket read,
///   [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)
///   passes, [`connection_lost`](Self::connection_lost) when the socket fails.
/// - **Commands**: [`connect`](Self::connect), [`publish`](Self::publish),
///   [`subscribe`](Self::subscribe), [`unsubscribe`](Self::unsubscribe),
///   [`ack`](Self::ack), [`ping`](Self::ping), [`authenticate`](Self::authenticate),
///   [`disconnect`](Self::disconnect).
/// - **Outputs**: [`poll_transmit`](Self::poll_transmit) (bytes to write),
///   [`poll_event`](Self::poll_event), [`poll_timeout`](Self::poll_timeout).
///
/// After each input or command, write what `poll_transmit` returns and handle every
/// `poll_event`. On [`Event::Disconnected`], write what is left and close the socket; the
/// session state stays, and the next `connect` (with `clean_start` false) resumes it.
#[derive(Debug)]
pub struct Client {
    /// The options for the next connect.
    pub(crate) options: ConnectOptions,
    /// The options the current (or last) connection was made with.
    pub(crate) active: ConnectOptions,
    /// The client identifier the server assigned (MQTT 5), used again to resume.
    pub(crate) assigned_client_id: Option<MqttString>,
    pub(crate) state: ConnectionState,
    pub(crate) version: ProtocolVersion,
    decoder: Decoder,
    pub(crate) out: BytesMut,
    pub(crate) events: VecDeque<Event>,
    /// Counts connections, so an ack handle knows which one it belongs to.
    pub(crate) connection: u64,
    pub(crate) limits: ServerLimits,
    keep_alive: Option<Duration>,
    pub(crate) last_sent: Option<Instant>,
    ping_sent: Option<Instant>,
    connect_sent: Option<Instant>,
    pub(crate) outbound: Outbound,
    pub(crate) inbound: Inbound,
    /// SUBSCRIBE and UNSUBSCRIBE packets awaiting their acknowledgement, in the order they
    /// were made (sent again after a reconnect, in that order).
    pub(crate) pending_requests: Vec<(PacketId, Packet)>,
    pub(crate) last_packet_id: u16,
    /// Outgoing topic aliases of this connection.
    pub(crate) aliases_out: HashMap<MqttString, u16>,
    /// Incoming topic aliases of this connection, index alias - 1.
    pub(crate) aliases_in: Vec<Option<MqttString>>,
}

fn default_limits(keep_alive: u16) -> ServerLimits {
    ServerLimits::from_connack(&Default::default(), keep_alive)
}

impl Client {
    /// A client with `options`, not connected.
    pub fn new(options: ConnectOptions) -> Self {
        let version = options.version;
        let keep_alive = options.keep_alive;
        Self {
            decoder: Decoder::new(version).with_max_packet_size(options.maximum_packet_size),
            active: options.clone(),
            assigned_client_id: None,
            options,
            state: ConnectionState::Disconnected,
            version,
            out: BytesMut::new(),
            events: VecDeque::new(),
            connection: 0,
            limits: default_limits(keep_alive),
            keep_alive: None,
            last_sent: None,
            ping_sent: None,
            connect_sent: None,
            outbound: Outbound::default(),
            inbound: Inbound::default(),
            pending_requests: Vec::new(),
            last_packet_id: 0,
            aliases_out: HashMap::new(),
            aliases_in: Vec::new(),
        }
    }

    /// The connect options.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    /// Changes the options for the next [`connect`](Self::connect) (for example
    /// `clean_start = false` to resume the session after a first clean connect). The
    /// connection in progress keeps the options it was made with.
    pub fn options_mut(&mut self) -> &mut ConnectOptions {
        &mut self.options
    }

    /// Where the connection stands.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// What the server allows (defaults until a CONNACK says otherwise).
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// QoS 1/2 publishes sent and not yet complete.
    pub fn inflight(&self) -> usize {
        self.outbound.inflight.len()
    }

    /// Publishes waiting for the window or for a connection.
    pub fn queued(&self) -> usize {
        self.outbound.queue.len()
    }

    /// Starts a connection on a socket that has just opened: queues the CONNECT. Session
    /// state from an earlier connection is kept for it to resume.
    pub fn connect(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.state != ConnectionState::Disconnected {
            return Err(ClientError::AlreadyConnected);
        }
        let options = &self.options;
        let version = options.version;
        let v5 = version.is_v5();
        // An empty client id needs a clean session before MQTT 5 [MQTT-3.1.3-7].
        if !v5 && options.client_id.is_empty() && !options.clean_start {
            return Err(ClientError::EmptyClientIdNeedsCleanStart);
        }
        // 0 is a protocol error for both in MQTT 5 (3.1.2.11.3, 3.1.2.11.4); the client
        // enforces them for every version.
        if options.receive_maximum == 0 {
            return Err(ClientError::InvalidOption("receive_maximum 0"));
        }
        if options.maximum_packet_size == 0 {
            return Err(ClientError::InvalidOption("maximum_packet_size 0"));
        }
        // An identifier the server assigned earlier resumes the session it belongs to.
        let client_id = match (&self.assigned_client_id, options.client_id.is_empty()) {
            (Some(assigned), true) => assigned.clone(),
            _ => options.client_id.clone(),
        };
        let mut connect = Connect::new(version, client_id);
        connect.clean_start = options.clean_start;
        connect.keep_alive = options.keep_alive;
        connect.will = options.will.clone();
        connect.username = options.username.clone();
        connect.password = options.password.clone();
        if v5 {
            let p = &mut connect.properties;
            if options.session_expiry_interval > 0 {
                p.session_expiry_interval = Some(options.session_expiry_interval);
            }
            if options.receive_maximum < u16::MAX {
                p.receive_maximum = NonZeroU16::new(options.receive_maximum);
            }
            p.maximum_packet_size = NonZeroU32::new(options.maximum_packet_size);
            if options.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(options.topic_alias_maximum);
            }
            if options.request_response_information {
                p.request_response_information = Some(true);
            }
            p.user_properties.clone_from(&options.user_properties);
            p.authentication_method
                .clone_from(&options.authentication_method);
            p.authentication_data
                .clone_from(&options.authentication_data);
        }
        // Encoded first: an invalid CONNECT (a 3.1.1 password without user name
        // [MQTT-3.1.2-22]) changes nothing.
        let mut wire = BytesMut::new();
        Packet::Connect(Box::new(connect)).encode(version, &mut wire)?;
        self.active = options.clone();
        self.version = version;
        self.decoder = Decoder::new(version).with_max_packet_size(options.maximum_packet_size);
        self.out.clear();
        self.connection += 1;
        self.limits = default_limits(options.keep_alive);
        self.keep_alive = None;
        self.ping_sent = None;
        self.connect_sent = Some(now);
        self.aliases_out.clear();
        self.aliases_in = vec![None; usize::from(if v5 { options.topic_alias_maximum } else { 0 })];
        self.inbound.new_connection();
        self.state = ConnectionState::Connecting;
        self.out.extend_from_slice(&wire);
        self.last_sent = Some(now);
        Ok(())
    }

    /// Encodes `packet` for the server.
    pub(crate) fn write(&mut self, now: Instant, packet: &Packet) -> Result<(), ClientError> {
        packet.encode(self.version, &mut self.out)?;
        self.last_sent = Some(now);
        Ok(())
    }

    /// Bytes the socket read. Whole packets are taken off the front of `input` and handled;
    /// a partial packet stays for the next read.
    pub fn handle_bytes(&mut self, now: Instant, input: &mut BytesMut) {
        while self.state != ConnectionState::Disconnected {
            match self.decoder.decode(input) {
                Ok(Some(packet)) => self.handle_packet(now, packet),
                Ok(None) => return,
                Err(err) => {
                    input.clear();
                    return self.protocol_error(now, ClientError::Malformed(err));
                }
            }
        }
        input.clear();
    }

    fn handle_packet(&mut self, now: Instant, packet: Packet) {
        if self.state == ConnectionState::Connecting {
            // The first packet from the server is CONNACK [MQTT-3.2.0-1] (or AUTH during
            // enhanced authentication).
            return match packet {
                Packet::ConnAck(connack) => self.handle_connack(now, *connack),
                Packet::Auth(auth) if self.active.authentication_method.is_some() => {
                    self.handle_auth(auth)
                }
                _ => self.protocol_error(now, ClientError::Protocol("expected CONNACK")),
            };
        }
        match packet {
            Packet::Publish(publish) => self.handle_publish(now, publish),
            Packet::PubAck(ack) => self.handle_puback(now, &ack),
            Packet::PubRec(ack) => self.handle_pubrec(now, &ack),
            Packet::PubRel(ack) => self.handle_pubrel(now, &ack),
            Packet::PubComp(ack) => self.handle_pubcomp(now, &ack),
            Packet::SubAck(suback) => {
                self.handle_suback(now, suback.packet_id, suback.reason_codes, true);
            }
            Packet::UnsubAck(unsuback) => {
                self.handle_suback(now, unsuback.packet_id, unsuback.reason_codes, false);
            }
            Packet::PingResp => {
                self.ping_sent = None;
                self.events.push_back(Event::Pong);
            }
            // Only MQTT 5 servers send DISCONNECT.
            Packet::Disconnect(disconnect) if self.version.is_v5() => {
                let reason = DisconnectReason::ByServer(
                    disconnect.reason_code,
                    disconnect.properties.reason_string.clone(),
                );
                self.closed(reason);
            }
            Packet::Auth(auth) if self.active.authentication_method.is_some() => {
                self.handle_auth(auth);
            }
            // A second CONNACK, AUTH without a method, or a packet only clients send.
            _ => self.protocol_error(now, ClientError::Protocol("unexpected packet")),
        }
    }

    fn handle_connack(&mut self, now: Instant, connack: ConnAck) {
        if connack.reason_code.is_error() {
            return self.closed(DisconnectReason::Refused(connack.reason_code));
        }
        // Session Present with Clean Start is a protocol error [MQTT-3.2.2-4] (v5 3.2.2-2).
        if connack.session_present && self.active.clean_start {
            return self
                .protocol_error(now, ClientError::Protocol("session present on clean start"));
        }
        self.limits = ServerLimits::from_connack(&connack.properties, self.active.keep_alive);
        if let Some(assigned) = &connack.properties.assigned_client_identifier {
            self.assigned_client_id = Some(assigned.clone());
        }
        // MQTT 3.1 has no Session Present flag: a persistent session is resumed.
        let session_present = connack.session_present
            || (self.version == ProtocolVersion::V3_1 && !self.active.clean_start);
        // The server's keep alive replaces ours [MQTT-3.2.2-21].
        self.keep_alive = (self.limits.keep_alive > 0)
            .then(|| Duration::from_secs(u64::from(self.limits.keep_alive)));
        self.state = ConnectionState::Connected;
        self.connect_sent = None;
        self.events.push_back(Event::Connected {
            session_present,
            assigned_client_id: connack.properties.assigned_client_identifier.clone(),
            limits: self.limits.clone(),
        });
        if session_present {
            self.resume(now);
        } else {
            let (completed, republished) = self.outbound.restart_session();
            let lost_qos2 = self.inbound.restart_session();
            if republished > 0 || lost_qos2 || !completed.is_empty() {
                self.events.push_back(Event::SessionLost { republished });
            }
            // Released QoS 2 messages were the server's already: delivered.
            for id in completed {
                self.events.push_back(Event::PublishCompleted {
                    id,
                    reason_code: ReasonCode::Success,
                });
            }
        }
        // Requests made while connecting, and those not acknowledged on the last
        // connection, go now, in the order they were made; one the server's Maximum
        // Packet Size no longer admits is dropped and reported.
        let max = self.limits.maximum_packet_size;
        let version = self.version;
        let mut too_large = Vec::new();
        self.pending_requests.retain(|(packet_id, request)| {
            let size = request.encoded_len(version);
            let fits = size <= max as usize;
            if !fits {
                too_large.push((*packet_id, ClientError::PacketTooLarge { size, max }));
            }
            fits
        });
        for (packet_id, error) in too_large {
            self.events
                .push_back(Event::RequestFailed { packet_id, error });
        }
        let requests: Vec<Packet> = self
            .pending_requests
            .iter()
            .map(|(_, p)| p.clone())
            .collect();
        for request in &requests {
            if let Err(err) = self.write(now, request) {
                return self.protocol_error(now, err);
            }
        }
        self.pump(now);
    }

    fn handle_auth(&mut self, auth: Auth) {
        self.events.push_back(Event::AuthChallenge {
            reason_code: auth.reason_code,
            properties: auth.properties,
        });
    }

    /// MQTT 5 enhanced authentication: answers an [`Event::AuthChallenge`] (reason Continue
    /// authentication) or starts re-authentication (Re-authenticate).
    pub fn authenticate(
        &mut self,
        now: Instant,
        reason_code: ReasonCode,
        properties: Properties<AuthProperties>,
    ) -> Result<(), ClientError> {
        if self.state == ConnectionState::Disconnected {
            return Err(ClientError::NotConnected);
        }
        if !self.version.is_v5() || self.active.authentication_method.is_none() {
            return Err(ClientError::NoAuthenticationMethod); // [MQTT-4.12.0-7]
        }
        let auth = Auth {
            reason_code,
            properties,
        };
        self.write(now, &Packet::Auth(auth))
    }

    /// Sends PINGREQ now (keep alive sends it by itself when the connection is idle).
    pub fn ping(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.state != ConnectionState::Connected {
            return Err(ClientError::NotConnected);
        }
        self.ping_sent.get_or_insert(now);
        self.write(now, &Packet::PingReq)
    }

    /// Ends the connection with DISCONNECT (MQTT 5: with `reason_code` and `properties`;
    /// 0x04 asks the server to publish the will). The session state is kept.
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason_code: ReasonCode,
        properties: Properties<DisconnectProperties>,
    ) -> Result<(), ClientError> {
        if self.state == ConnectionState::Disconnected {
            return Err(ClientError::NotConnected);
        }
        if self.version.is_v5()
            && self.active.session_expiry_interval == 0
            && properties.session_expiry_interval.is_some_and(|e| e > 0)
        {
            return Err(ClientError::SessionExpiryAtDisconnect);
        }
        let disconnect = Disconnect {
            reason_code,
            properties,
        };
        self.write(now, &Packet::Disconnect(disconnect))?;
        self.closed(DisconnectReason::Requested);
        Ok(())
    }

    /// The network connection failed or the server closed it. The session state stays for
    /// the next [`connect`](Self::connect).
    pub fn connection_lost(&mut self, _now: Instant) {
        if self.state != ConnectionState::Disconnected {
            self.out.clear();
            self.closed(DisconnectReason::ConnectionLost);
        }
    }

    /// The connection is over (the caller has written what it had to).
    pub(crate) fn closed(&mut self, reason: DisconnectReason) {
        self.state = ConnectionState::Disconnected;
        self.keep_alive = None;
        self.ping_sent = None;
        self.connect_sent = None;
        self.outbound.connection_closed();
        self.events.push_back(Event::Disconnected(reason));
    }

    /// The server broke the protocol: an MQTT 5 server is told why [MQTT-4.13.1-1], and the
    /// connection ends.
    pub(crate) fn protocol_error(&mut self, now: Instant, err: ClientError) {
        if self.state == ConnectionState::Disconnected {
            return;
        }
        if self.version.is_v5() && self.state == ConnectionState::Connected {
            let code = err.reason_code();
            if code.allowed_in(mqtt_codec::PacketType::Disconnect) {
                let _ = self.write(now, &Packet::Disconnect(Disconnect::new(code)));
            }
        }
        self.closed(DisconnectReason::ProtocolError(err));
    }

    /// The bytes to write to the socket, all in one buffer; `None` when there are none.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next: the CONNACK or
    /// PINGRESP deadline, or the moment the connection has been idle for the keep alive.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        // A deadline too far to represent is no deadline (`Duration::MAX`: never).
        let timeout = self.active.response_timeout;
        match self.state {
            ConnectionState::Disconnected => None,
            ConnectionState::Connecting => self.connect_sent?.checked_add(timeout),
            ConnectionState::Connected => match (self.ping_sent, self.keep_alive) {
                (Some(at), _) => at.checked_add(timeout),
                (None, Some(keep_alive)) => self.last_sent?.checked_add(keep_alive),
                (None, None) => None,
            },
        }
    }

    /// Time has passed: sends PINGREQ when nothing was sent for the keep alive
    /// [MQTT-3.1.2-23], and declares the connection dead when a CONNACK or PINGRESP is
    /// overdue. Harmless when called early.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.active.response_timeout;
        let due = |at: Instant, after: Duration| at.checked_add(after).is_some_and(|d| now >= d);
        match self.state {
            ConnectionState::Disconnected => {}
            ConnectionState::Connecting => {
                if self.connect_sent.is_some_and(|at| due(at, timeout)) {
                    self.closed(DisconnectReason::Timeout);
                }
            }
            ConnectionState::Connected => {
                if let Some(at) = self.ping_sent {
                    if due(at, timeout) {
                        // No PINGRESP in time: the connection is dead (3.1.1 3.1.2.10).
                        self.closed(DisconnectReason::Timeout);
                    }
                    return;
                }
                let Some(keep_alive) = self.keep_alive else {
                    return;
                };
                if self.last_sent.is_some_and(|at| due(at, keep_alive)) {
                    self.ping_sent = Some(now);
                    let _ = self.write(now, &Packet::PingReq);
                }
            }
        }
    }

    /// A packet id free among this client's publishes in flight and pending requests
    /// [MQTT-2.2.1-3].
    pub(crate) fn next_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            self.last_packet_id = self.last_packet_id.checked_add(1).unwrap_or(1);
            let candidate = self.last_packet_id;
            if !self
                .pending_requests
                .iter()
                .any(|(id, _)| id.get() == candidate)
                && !self.outbound.uses_packet_id(candidate)
            {
                return PacketId::new(candidate);
            }
        }
        None
    }

    /// A PUBACK/PUBREC/PUBREL/PUBCOMP with a reason code for MQTT 5 (Success before).
    pub(crate) fn ack_packet(
        &self,
        packet_id: PacketId,
        reason: ReasonCode,
    ) -> mqtt_codec::PublishAck {
        let mut ack = mqtt_codec::PublishAck::new(packet_id);
        if self.version.is_v5() {
            ack.reason_code = reason;
        }
        ack
    }
}
