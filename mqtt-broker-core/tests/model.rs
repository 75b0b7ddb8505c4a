//! Model-based tests: random sequences of operations by a few clients (connect with either
//! version, clean or persistent; disconnect or lose the network; subscribe; unsubscribe;
//! publish; acknowledge; let time pass; hold the durable store) drive the broker through
//! the harness, while a simple model of what MQTT promises checks every packet and, after
//! every step, the broker's own view of each session.
//!
//! Invariants (spec ids are MQTT 5.0 unless marked "v3"):
//! - inflight never above the window: the client's Receive Maximum capped by
//!   `Config::max_inflight` (v5 [MQTT-3.3.4-9]; v3: `max_inflight`), counted both by the
//!   client and by `session_info`; `queued_counted` never above `max_queued_messages`;
//! - a QoS 2 message is delivered at most once per session (v5 [MQTT-4.3.3-10] on the
//!   receiving side of the broker, [MQTT-4.3.3-6] and v3 [MQTT-4.3.3-1] on its sending side):
//!   only re-sent, with DUP 1 and its packet id [MQTT-3.3.1-1], [MQTT-4.4.0-1], while the
//!   client has not sent PUBREC;
//! - a persistent session that stays subscribed at QoS 1/2 gets every QoS 1/2 message
//!   published to a matching topic (v3 [MQTT-3.1.2-5], [MQTT-4.4.0-1]), at
//!   min(published QoS, granted QoS) (v3 [MQTT-3.8.4-6], [MQTT-3.3.5-1]), and nothing it was
//!   not subscribed to;
//! - per receiving session, messages of one publisher on one topic keep their order
//!   ([MQTT-4.6.0-5]; v3 [MQTT-4.6.0-6]); acknowledgements come in the order of the
//!   PUBLISH/PUBREL they answer ([MQTT-4.6.0-2]..[MQTT-4.6.0-4]);
//! - packet ids of new PUBLISHes are not in use ([MQTT-2.2.1-4], v3 [MQTT-2.3.1-4]);
//! - Session Present matches the model (v3 [MQTT-3.2.2-1]..[MQTT-3.2.2-3], v5
//!   [MQTT-3.2.2-2], [MQTT-3.2.2-3]); sessions end exactly when their expiry says
//!   ([MQTT-4.1.0-2]); a taken-over v5 connection gets DISCONNECT 0x8E ([MQTT-3.1.4-3]);
//! - no panics, every byte the broker sends decodes, no connection is closed unasked.

mod harness;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use harness::*;
use mqtt_broker_core::{CloseReason, Config};
use mqtt_codec::{
    Packet, ProtocolVersion, ProtocolVersion::*, Publish, QoS, ReasonCode, Subscribe,
    SubscriptionOptions, Unsubscribe,
};
use proptest::prelude::*;

// ---- The world ----

const CLIENT_IDS: [&str; 4] = ["c0", "c1", "c2", "c3"];
const FILTERS: [&str; 3] = ["t/a", "t/+", "t/#"];
const TOPICS: [&str; 2] = ["t/a", "t/b"];
/// `Config::max_inflight`: the window of 3.1.1 clients and the cap on v5 Receive Maximum.
const MAX_INFLIGHT: u16 = 4;
/// Session Expiry Intervals a v5 client picks from.
const EXPIRIES: [u32; 3] = [0, 30, u32::MAX];
/// Packet ids of SUBSCRIBE/UNSUBSCRIBE: apart from those of PUBLISH (1..=0xEFFF).
const SUBSCRIBE_IDS: u16 = 0xF000;

#[derive(Debug, Clone)]
enum Op {
    /// CONNECT. When the client is connected: a second connection taking the session over
    /// if `takeover`, else nothing. `expiry` indexes [`EXPIRIES`] (v5 only; a 3.1.1 session
    /// is persistent exactly when Clean Session is 0).
    Connect {
        c: usize,
        takeover: bool,
        v5: bool,
        clean_start: bool,
        expiry: usize,
        receive_maximum: u16,
    },
    /// DISCONNECT, or the network drops the connection.
    Disconnect {
        c: usize,
        normal: bool,
    },
    Subscribe {
        c: usize,
        filter: usize,
        qos: u8,
    },
    Unsubscribe {
        c: usize,
        filter: usize,
    },
    /// A PUBLISH whose payload is the step number.
    Publish {
        c: usize,
        topic: usize,
        qos: u8,
    },
    /// The client sends its oldest answer owed: PUBACK, PUBREC or PUBCOMP for what it
    /// received, or PUBREL after the PUBREC of its own QoS 2 publish.
    Ack {
        c: usize,
    },
    Advance {
        secs: u64,
    },
    /// Hold (true) or release and confirm (false) the durable store.
    HoldStore(bool),
    /// The broker restarts: a new one is restored from the store (every connection is lost).
    Restart,
}

fn qos(n: u8) -> QoS {
    QoS::from_u8(n).expect("QoS 0..=2")
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CLIENT_IDS.len();
    prop_oneof![
        4 => (
            c.clone(),
            prop::bool::weighted(0.15),
            any::<bool>(),
            prop::bool::weighted(0.4),
            0..EXPIRIES.len(),
            1..=5u16,
        )
            .prop_map(|(c, takeover, v5, clean_start, expiry, receive_maximum)| Op::Connect {
                c,
                takeover,
                v5,
                clean_start,
                expiry,
                receive_maximum,
            }),
        2 => (c.clone(), any::<bool>()).prop_map(|(c, normal)| Op::Disconnect { c, normal }),
        4 => (c.clone(), 0..FILTERS.len(), prop_oneof![1 => Just(0u8), 2 => Just(1), 2 => Just(2)])
            .prop_map(|(c, filter, qos)| Op::Subscribe { c, filter, qos }),
        1 => (c.clone(), 0..FILTERS.len()).prop_map(|(c, filter)| Op::Unsubscribe { c, filter }),
        10 => (c.clone(), 0..TOPICS.len(), 0..3u8)
            .prop_map(|(c, topic, qos)| Op::Publish { c, topic, qos }),
        8 => c.prop_map(|c| Op::Ack { c }),
        1 => (1..40u64).prop_map(|secs| Op::Advance { secs }),
        1 => any::<bool>().prop_map(Op::HoldStore),
    ]
}

fn op_or_restart() -> impl Strategy<Value = Op> {
    prop_oneof![20 => op(), 1 => Just(Op::Restart)]
}

fn matches(filter: &str, topic: &str) -> bool {
    match filter {
        "t/#" | "t/+" => topic.starts_with("t/"),
        _ => filter == topic,
    }
}

fn granted_code(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

// ---- The model ----

/// A QoS 1/2 PUBLISH the client received and has not finished acknowledging.
#[derive(Debug)]
struct Incoming {
    payload: u32,
    pubrec_sent: bool,
}

/// A QoS 1/2 PUBLISH the client sent and the broker has not finished acknowledging.
#[derive(Debug)]
struct Outgoing {
    payload: u32,
    topic: usize,
    qos: QoS,
    pubrec_received: bool,
}

/// What the model expects of one session.
#[derive(Debug)]
struct Session {
    /// 0: ends with the connection.
    expiry: u32,
    offline_since: Option<Instant>,
    subscriptions: BTreeMap<usize, QoS>,
    /// Messages the session may receive, at the QoS it must receive them.
    eligible: HashMap<u32, QoS>,
    /// QoS 1/2 messages it must receive in the end.
    expected: BTreeSet<u32>,
    received: HashSet<u32>,
    /// By packet id: deliveries not yet fully acknowledged (kept across connections).
    incoming: HashMap<u16, Incoming>,
    /// By packet id: the client's own QoS 1/2 publishes in progress.
    outgoing: BTreeMap<u16, Outgoing>,
    last_packet_id: u16,
}

impl Session {
    fn new(expiry: u32) -> Self {
        Self {
            expiry,
            offline_since: None,
            subscriptions: BTreeMap::new(),
            eligible: HashMap::new(),
            expected: BTreeSet::new(),
            received: HashSet::new(),
            incoming: HashMap::new(),
            outgoing: BTreeMap::new(),
            last_packet_id: 0,
        }
    }

    fn next_packet_id(&mut self) -> u16 {
        loop {
            self.last_packet_id = self.last_packet_id % (SUBSCRIBE_IDS - 1) + 1;
            if !self.outgoing.contains_key(&self.last_packet_id) {
                return self.last_packet_id;
            }
        }
    }

    /// The highest QoS granted by the subscriptions matching `topic`.
    fn granted(&self, topic: &str) -> Option<QoS> {
        self.subscriptions
            .iter()
            .filter(|(f, _)| matches(FILTERS[**f], topic))
            .map(|(_, q)| *q)
            .max()
    }
}

/// One network connection of a client.
#[derive(Debug)]
struct Conn {
    handle: ClientId,
    window: usize,
    /// Answers owed to the broker, in the order their packets arrived.
    answers: VecDeque<Packet>,
    /// Packet ids of PUBLISHes received on this connection whose flow is not complete.
    in_window: HashSet<u16>,
    /// Acknowledgements the broker owes, in the order they are due.
    await_puback: VecDeque<u16>,
    await_pubrec: VecDeque<u16>,
    await_pubcomp: VecDeque<u16>,
    /// PUBRELs re-sent on resume: the broker may have completed them already and answer
    /// 0x92, "not an error during recovery" (v5 3.7.2.1).
    resent_pubrels: HashSet<u16>,
    await_suback: VecDeque<(u16, Vec<ReasonCode>)>,
    await_unsuback: VecDeque<(u16, Vec<ReasonCode>)>,
}

#[derive(Debug, Default)]
struct ClientModel {
    conn: Option<Conn>,
    session: Option<Session>,
    last_connect: Option<(ProtocolVersion, u32)>,
    /// QoS 2 payloads received without DUP, and those the client sent PUBREC for.
    qos2_seen: HashSet<u32>,
    qos2_released: HashSet<u32>,
    /// By (publisher, topic): the last payload received without DUP.
    last_in_order: HashMap<(usize, usize), u32>,
}

struct Model {
    h: Harness,
    /// Check that nothing is lost (only when the queues never overflow).
    check_delivery: bool,
    clients: Vec<ClientModel>,
    /// Payload -> (publisher, topic, QoS).
    published: HashMap<u32, (usize, usize, QoS)>,
    step: usize,
    /// Random cases: an operation other than CONNECT by client `c` is done by the `c`-th
    /// connected client (modulo their number), so few operations are wasted.
    pick_connected: bool,
}

fn config(durable: bool, max_queued_messages: usize) -> Config {
    let mut config = Harness::quiet_config();
    config.durable = durable;
    config.max_inflight = MAX_INFLIGHT;
    config.max_queued_messages = max_queued_messages;
    config
}

impl Model {
    fn new(config: Config, check_delivery: bool) -> Self {
        Self {
            h: Harness::new(config),
            check_delivery,
            clients: (0..CLIENT_IDS.len())
                .map(|_| ClientModel::default())
                .collect(),
            published: HashMap::new(),
            step: 0,
            pick_connected: false,
        }
    }

    /// The client an operation by `c` applies to.
    fn who(&self, c: usize) -> usize {
        if !self.pick_connected {
            return c;
        }
        let connected: Vec<usize> = (0..self.clients.len())
            .filter(|&i| self.clients[i].conn.is_some())
            .collect();
        if connected.is_empty() {
            c
        } else {
            connected[c % connected.len()]
        }
    }

    fn fail(&self, c: usize, what: String) -> ! {
        panic!("step {} client {}: {what}", self.step, CLIENT_IDS[c]);
    }

    fn handle(&self, c: usize) -> Option<ClientId> {
        self.clients[c].conn.as_ref().map(|conn| conn.handle)
    }

    fn apply(&mut self, op: &Op) {
        let mut op = op.clone();
        match &mut op {
            Op::Disconnect { c, .. }
            | Op::Subscribe { c, .. }
            | Op::Unsubscribe { c, .. }
            | Op::Publish { c, .. }
            | Op::Ack { c } => *c = self.who(*c),
            _ => {}
        }
        match op {
            Op::Connect {
                c,
                takeover,
                v5,
                clean_start,
                expiry,
                receive_maximum,
            } => {
                if self.clients[c].conn.is_some() && !takeover {
                    return;
                }
                let version = if v5 { V5 } else { V3_1_1 };
                let expiry = match (v5, clean_start) {
                    (true, _) => EXPIRIES[expiry],
                    (false, true) => 0,
                    (false, false) => u32::MAX,
                };
                self.connect(c, version, clean_start, expiry, receive_maximum);
            }
            Op::Disconnect { c, normal } => {
                let Some(handle) = self.handle(c) else {
                    return;
                };
                if normal {
                    self.h.send(handle, disconnect(ReasonCode::Success));
                    if self.h.closed(handle) != Some(CloseReason::ClientDisconnected) {
                        self.fail(c, "DISCONNECT did not close the connection".into());
                    }
                } else {
                    self.h.drop_connection(handle);
                }
                self.went_offline(c);
            }
            Op::Subscribe { c, filter, qos: q } => {
                let Some(handle) = self.handle(c) else {
                    return;
                };
                let granted = qos(q);
                let packet_id = SUBSCRIBE_IDS + self.step as u16;
                let subscribe = Subscribe {
                    packet_id: pid(packet_id),
                    properties: Default::default(),
                    filters: vec![(string(FILTERS[filter]), SubscriptionOptions::qos(granted))],
                };
                let client = &mut self.clients[c];
                let conn = client.conn.as_mut().expect("connected");
                conn.await_suback
                    .push_back((packet_id, vec![granted_code(granted)]));
                client
                    .session
                    .as_mut()
                    .expect("a connected client has a session")
                    .subscriptions
                    .insert(filter, granted);
                self.h.send(handle, Packet::Subscribe(subscribe));
            }
            Op::Unsubscribe { c, filter } => {
                let Some(handle) = self.handle(c) else {
                    return;
                };
                let packet_id = SUBSCRIBE_IDS + self.step as u16;
                let client = &mut self.clients[c];
                let session = client.session.as_mut().expect("a session");
                let existed = session.subscriptions.remove(&filter).is_some();
                // Messages the session no longer has to get (it may still get them).
                let published = &self.published;
                let received = &session.received;
                session.expected.retain(|p| {
                    received.contains(p) || !matches(FILTERS[filter], TOPICS[published[p].1])
                });
                let conn = client.conn.as_mut().expect("connected");
                let codes = if self.h.clients[handle].version.is_v5() {
                    vec![if existed {
                        ReasonCode::Success
                    } else {
                        ReasonCode::NoSubscriptionExisted
                    }]
                } else {
                    vec![]
                };
                conn.await_unsuback.push_back((packet_id, codes));
                let unsubscribe = Unsubscribe {
                    packet_id: pid(packet_id),
                    properties: Default::default(),
                    filters: vec![string(FILTERS[filter])],
                };
                self.h.send(handle, Packet::Unsubscribe(unsubscribe));
            }
            Op::Publish { c, topic, qos: q } => {
                let Some(handle) = self.handle(c) else {
                    return;
                };
                let q = qos(q);
                let payload = self.step as u32;
                self.published.insert(payload, (c, topic, q));
                for other in &mut self.clients {
                    let Some(session) = other.session.as_mut() else {
                        continue;
                    };
                    if let Some(granted) = session.granted(TOPICS[topic]) {
                        let delivered = q.min(granted);
                        session.eligible.insert(payload, delivered);
                        if delivered > QoS::AtMostOnce {
                            session.expected.insert(payload);
                        }
                    }
                }
                let client = &mut self.clients[c];
                let session = client.session.as_mut().expect("a session");
                let packet_id = if q > QoS::AtMostOnce {
                    let id = session.next_packet_id();
                    session.outgoing.insert(
                        id,
                        Outgoing {
                            payload,
                            topic,
                            qos: q,
                            pubrec_received: false,
                        },
                    );
                    let conn = client.conn.as_mut().expect("connected");
                    if q == QoS::AtLeastOnce {
                        conn.await_puback.push_back(id);
                    } else {
                        conn.await_pubrec.push_back(id);
                    }
                    id
                } else {
                    0
                };
                let message = publish(
                    TOPICS[topic],
                    payload.to_string().as_bytes(),
                    q,
                    false,
                    packet_id,
                );
                self.h.send(handle, Packet::Publish(message));
            }
            Op::Ack { c } => {
                let Some(handle) = self.handle(c) else {
                    return;
                };
                let client = &mut self.clients[c];
                let conn = client.conn.as_mut().expect("connected");
                let Some(answer) = conn.answers.pop_front() else {
                    return;
                };
                let session = client.session.as_mut().expect("a session");
                match &answer {
                    Packet::PubAck(a) | Packet::PubComp(a) => {
                        session.incoming.remove(&a.packet_id.get());
                        conn.in_window.remove(&a.packet_id.get());
                    }
                    Packet::PubRec(a) => {
                        let incoming = session
                            .incoming
                            .get_mut(&a.packet_id.get())
                            .expect("answered PUBLISH is known");
                        incoming.pubrec_sent = true;
                        client.qos2_released.insert(incoming.payload);
                    }
                    Packet::PubRel(a) => conn.await_pubcomp.push_back(a.packet_id.get()),
                    other => unreachable!("not an answer: {other:?}"),
                }
                self.h.send(handle, answer);
            }
            Op::Advance { secs } => {
                self.h.advance(Duration::from_secs(secs));
                let now = self.h.now;
                for client in &mut self.clients {
                    let ended = client.session.as_ref().is_some_and(|s| {
                        s.expiry != u32::MAX
                            && s.offline_since.is_some_and(|since| {
                                now >= since + Duration::from_secs(u64::from(s.expiry))
                            })
                    });
                    if ended {
                        client.session = None;
                    }
                }
            }
            Op::HoldStore(hold) => {
                self.h.hold_store = hold;
                if !hold {
                    self.h.ack_store();
                }
            }
            Op::Restart => self.restart(),
        }
    }

    /// A new broker from what the store holds, at the same time; its sessions' expiry
    /// counts from now ([`Broker::restore`]).
    fn restart(&mut self) {
        self.check();
        let now = self.h.now;
        self.h = self.h.restart(Duration::ZERO);
        for c in 0..self.clients.len() {
            if self.clients[c].conn.is_some() {
                self.went_offline(c);
            }
            if let Some(session) = self.clients[c].session.as_mut() {
                session.offline_since = Some(now);
            }
        }
    }

    /// The client's connection is gone: a session with expiry 0 ends [MQTT-3.1.2-23]; the
    /// client gives up its unacknowledged QoS 1 publishes (re-sending them would make new
    /// copies, legitimately) and keeps its QoS 2 ones to complete on resume.
    fn went_offline(&mut self, c: usize) {
        let now = self.h.now;
        let client = &mut self.clients[c];
        client.conn = None;
        let Some(session) = client.session.as_mut() else {
            return;
        };
        if session.expiry == 0 {
            client.session = None;
            return;
        }
        session.offline_since = Some(now);
        session.outgoing.retain(|_, o| o.qos == QoS::ExactlyOnce);
    }

    fn connect(
        &mut self,
        c: usize,
        version: ProtocolVersion,
        clean_start: bool,
        expiry: u32,
        receive_maximum: u16,
    ) {
        let old = self.handle(c);
        if old.is_some() {
            self.went_offline(c);
        }
        if clean_start {
            self.clients[c].session = None;
        }
        let present = self.clients[c].session.is_some();

        let mut connect = connect_packet(version, CLIENT_IDS[c]);
        connect.clean_start = clean_start;
        if version.is_v5() {
            connect.properties.session_expiry_interval = (expiry > 0).then_some(expiry);
            connect.properties.receive_maximum = NonZeroU16::new(receive_maximum);
        }
        let (handle, connack) = self.h.connect_with(connect);
        let connack = connack.unwrap_or_else(|| self.fail(c, "no CONNACK".into()));
        if connack.reason_code != ReasonCode::Success {
            self.fail(c, format!("CONNECT refused: {connack:?}"));
        }
        if connack.session_present != present {
            self.fail(
                c,
                format!(
                    "Session Present {}, expected {present}",
                    connack.session_present
                ),
            );
        }
        if let Some(old) = old {
            // Takeover [MQTT-3.1.4-3] (v3 [MQTT-3.1.4-2]).
            if self.h.closed(old) != Some(CloseReason::SessionTakenOver) {
                self.fail(c, format!("old connection: {:?}", self.h.closed(old)));
            }
            let told = self.h.drain(old);
            let expected = if self.h.clients[old].version.is_v5() {
                vec![disconnect(ReasonCode::SessionTakenOver)]
            } else {
                vec![]
            };
            if told != expected {
                self.fail(c, format!("taken-over connection got {told:?}"));
            }
        }

        let window = if version.is_v5() {
            usize::from(receive_maximum.min(MAX_INFLIGHT))
        } else {
            usize::from(MAX_INFLIGHT)
        };
        let mut conn = Conn {
            handle,
            window,
            answers: VecDeque::new(),
            in_window: HashSet::new(),
            await_puback: VecDeque::new(),
            await_pubrec: VecDeque::new(),
            await_pubcomp: VecDeque::new(),
            resent_pubrels: HashSet::new(),
            await_suback: VecDeque::new(),
            await_unsuback: VecDeque::new(),
        };
        let client = &mut self.clients[c];
        client.last_connect = Some((version, expiry));
        let mut resend = Vec::new();
        match client.session.as_mut() {
            Some(session) => {
                session.expiry = expiry;
                session.offline_since = None;
                // The client completes its QoS 2 publishes [MQTT-4.4.0-1]: PUBREL after a
                // PUBREC, else the PUBLISH again with DUP 1.
                for (&id, out) in &session.outgoing {
                    if out.pubrec_received {
                        conn.await_pubcomp.push_back(id);
                        conn.resent_pubrels.insert(id);
                        resend.push(pubrel(id));
                    } else {
                        conn.await_pubrec.push_back(id);
                        let mut again = publish(
                            TOPICS[out.topic],
                            out.payload.to_string().as_bytes(),
                            out.qos,
                            false,
                            id,
                        );
                        again.dup = true;
                        resend.push(Packet::Publish(again));
                    }
                }
            }
            None => client.session = Some(Session::new(expiry)),
        }
        client.conn = Some(conn);
        for packet in resend {
            self.h.send(handle, packet);
        }
    }

    /// Hands every packet the broker sent to its client, until nothing more comes.
    fn process(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for c in 0..self.clients.len() {
                let Some(handle) = self.handle(c) else {
                    continue;
                };
                let packets = self.h.drain(handle);
                any |= !packets.is_empty();
                for packet in packets {
                    self.receive(c, packet);
                }
            }
            if !any {
                return;
            }
        }
        panic!("step {}: traffic never settles", self.step);
    }

    fn receive(&mut self, c: usize, packet: Packet) {
        match packet {
            Packet::Publish(p) => self.delivered(c, &p),
            Packet::PubRel(a) => {
                let id = a.packet_id.get();
                let known = self.clients[c]
                    .session
                    .as_ref()
                    .and_then(|s| s.incoming.get(&id))
                    .is_some_and(|i| i.pubrec_sent);
                if !known || a.reason_code != ReasonCode::Success {
                    self.fail(c, format!("PUBREL for no PUBREC: {a:?}"));
                }
                let conn = self.clients[c].conn.as_mut().expect("connected");
                conn.answers.push_back(pubcomp(a.packet_id.get()));
            }
            Packet::PubAck(a) => {
                let id = a.packet_id.get();
                let conn = self.clients[c].conn.as_mut().expect("connected");
                if conn.await_puback.pop_front() != Some(id) || a.reason_code.is_error() {
                    self.fail(c, format!("PUBACK out of order or unexpected: {a:?}"));
                }
                let session = self.clients[c].session.as_mut().expect("a session");
                session.outgoing.remove(&id);
            }
            Packet::PubRec(a) => {
                let id = a.packet_id.get();
                let conn = self.clients[c].conn.as_mut().expect("connected");
                if conn.await_pubrec.pop_front() != Some(id) || a.reason_code.is_error() {
                    self.fail(c, format!("PUBREC out of order or unexpected: {a:?}"));
                }
                // The PUBREL is owed, and goes out with the client's next answers.
                conn.answers.push_back(pubrel(a.packet_id.get()));
                let session = self.clients[c].session.as_mut().expect("a session");
                if let Some(out) = session.outgoing.get_mut(&id) {
                    out.pubrec_received = true;
                }
            }
            Packet::PubComp(a) => {
                let id = a.packet_id.get();
                let conn = self.clients[c].conn.as_mut().expect("connected");
                let recovering = a.reason_code == ReasonCode::PacketIdentifierNotFound
                    && conn.resent_pubrels.contains(&id);
                if conn.await_pubcomp.pop_front() != Some(id)
                    || (a.reason_code.is_error() && !recovering)
                {
                    self.fail(c, format!("PUBCOMP out of order or unexpected: {a:?}"));
                }
                let session = self.clients[c].session.as_mut().expect("a session");
                session.outgoing.remove(&id);
            }
            Packet::SubAck(s) => {
                let conn = self.clients[c].conn.as_mut().expect("connected");
                let expected = conn.await_suback.pop_front();
                if expected != Some((s.packet_id.get(), s.reason_codes.clone())) {
                    self.fail(c, format!("SUBACK {s:?}, expected {expected:?}"));
                }
            }
            Packet::UnsubAck(u) => {
                let conn = self.clients[c].conn.as_mut().expect("connected");
                let expected = conn.await_unsuback.pop_front();
                if expected != Some((u.packet_id.get(), u.reason_codes.clone())) {
                    self.fail(c, format!("UNSUBACK {u:?}, expected {expected:?}"));
                }
            }
            other => self.fail(c, format!("unexpected packet {other:?}")),
        }
    }

    /// Checks one PUBLISH against the model and queues the client's answer.
    fn delivered(&mut self, c: usize, p: &Publish) {
        let step = self.step;
        let durable = self.h.broker.config().durable;
        let fail = |what: String| -> ! { panic!("step {step} client {}: {what}", CLIENT_IDS[c]) };
        let payload: u32 = std::str::from_utf8(&p.payload)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fail(format!("unknown payload {p:?}")));
        let Some(&(publisher, topic, _)) = self.published.get(&payload) else {
            fail(format!("never published: {p:?}"));
        };
        if p.topic.as_str() != TOPICS[topic] {
            fail(format!("wrong topic: {p:?}"));
        }
        if p.retain {
            fail(format!(
                "RETAIN 1 on a live message [MQTT-3.3.1-12] (v3 [MQTT-3.3.1-9]): {p:?}"
            ));
        }
        let client = &mut self.clients[c];
        let conn = client.conn.as_mut().expect("connected");
        let session = client.session.as_mut().expect("a session");
        match session.eligible.get(&payload) {
            None => fail(format!(
                "message {payload} not subscribed to by this session: {p:?}"
            )),
            Some(&q) if q != p.qos => fail(format!(
                "message {payload} delivered at {:?}, expected {q:?}",
                p.qos
            )),
            Some(_) => {}
        }
        if p.qos == QoS::ExactlyOnce && client.qos2_released.contains(&payload) {
            fail(format!(
                "QoS 2 message {payload} sent again after PUBREC [MQTT-4.3.3-6]: {p:?}"
            ));
        }
        // With a durable store, a PUBLISH written while its record was not yet stored may be
        // held back and lost with its connection: the broker re-sends it with DUP 1 (it
        // attempted the delivery [MQTT-3.3.1-1]) although the client never saw it.
        let first_sight = !session.received.contains(&payload)
            && p.packet_id
                .is_none_or(|id| !session.incoming.contains_key(&id.get()));
        if p.dup && !(durable && first_sight) {
            // A re-delivery of an unacknowledged PUBLISH, with its original packet id
            // [MQTT-4.4.0-1].
            let id = p.packet_id.map_or(0, |id| id.get());
            match session.incoming.get(&id) {
                Some(i) if i.payload == payload && !i.pubrec_sent => {}
                other => fail(format!(
                    "DUP PUBLISH that is no re-delivery (client has {other:?}): {p:?}"
                )),
            }
        } else {
            if session.received.contains(&payload) {
                fail(format!(
                    "message {payload} delivered again without DUP [MQTT-3.3.1-1]: {p:?}"
                ));
            }
            if p.qos == QoS::ExactlyOnce && !client.qos2_seen.insert(payload) {
                fail(format!(
                    "QoS 2 message {payload} delivered twice [MQTT-4.3.3-10]: {p:?}"
                ));
            }
            // Order per publisher and topic [MQTT-4.6.0-5] (v3 [MQTT-4.6.0-6]).
            if let Some(last) = client.last_in_order.insert((publisher, topic), payload) {
                if last >= payload {
                    fail(format!(
                        "message {payload} after {last} from the same publisher and topic \
                         [MQTT-4.6.0-5]"
                    ));
                }
            }
            if let Some(id) = p.packet_id {
                if session.incoming.contains_key(&id.get()) {
                    fail(format!("packet id {id} still in use [MQTT-2.2.1-4]: {p:?}"));
                }
                session.incoming.insert(
                    id.get(),
                    Incoming {
                        payload,
                        pubrec_sent: false,
                    },
                );
            }
        }
        session.received.insert(payload);
        if let Some(id) = p.packet_id {
            conn.in_window.insert(id.get());
            if conn.in_window.len() > conn.window {
                fail(format!(
                    "{} PUBLISHes unacknowledged, window {} [MQTT-3.3.4-9]",
                    conn.in_window.len(),
                    conn.window
                ));
            }
            conn.answers.push_back(match p.qos {
                QoS::AtLeastOnce => puback(id.get()),
                _ => pubrec(id.get()),
            });
        }
    }

    /// The broker's view agrees with the model.
    fn check(&self) {
        let config = self.h.broker.config();
        for (c, client) in self.clients.iter().enumerate() {
            let info = self.h.broker.session_info(CLIENT_IDS[c]);
            match (&client.session, &info) {
                (Some(_), None) => self.fail(c, "session lost".into()),
                (None, Some(info)) => self.fail(c, format!("session should have ended: {info:?}")),
                _ => {}
            }
            let Some(info) = info else {
                continue;
            };
            if info.connected != client.conn.is_some() {
                self.fail(c, format!("connected? {info:?}"));
            }
            if let Some(conn) = &client.conn {
                // Released QoS 2 flows of an earlier connection count in the broker's window
                // until their PUBCOMP, and it sends no PUBLISH while they fill it. They may be
                // more than a new, smaller Receive Maximum: its limit is on PUBLISH packets
                // [MQTT-3.3.4-9], which the wire check in `delivered` counts, and a PUBREL
                // is not one.
                let carried = client.session.as_ref().map_or(0, |session| {
                    session
                        .incoming
                        .iter()
                        .filter(|(id, i)| i.pubrec_sent && !conn.in_window.contains(*id))
                        .count()
                });
                if info.inflight > conn.window.max(carried) {
                    self.fail(
                        c,
                        format!("inflight {} above window {}", info.inflight, conn.window),
                    );
                }
            }
            if info.inflight > usize::from(config.max_inflight) {
                self.fail(c, format!("inflight above max_inflight: {info:?}"));
            }
            if info.queued_counted > config.max_queued_messages {
                self.fail(c, format!("queue above its limit: {info:?}"));
            }
        }
        for (handle, client) in self.h.clients.iter().enumerate() {
            if let Some(err) = &client.decode_error {
                panic!(
                    "step {}: connection {handle} got undecodable bytes: {err:?}",
                    self.step
                );
            }
        }
        for (c, client) in self.clients.iter().enumerate() {
            if let Some(conn) = &client.conn {
                if self.h.is_gone(conn.handle) {
                    self.fail(
                        c,
                        format!("connection closed: {:?}", self.h.closed(conn.handle)),
                    );
                }
            }
        }
    }

    /// Every persistent client comes back and acknowledges everything until all is quiet;
    /// then every message owed has arrived and nothing is left in flight anywhere.
    fn finish(&mut self) {
        self.step += 1;
        self.pick_connected = false;
        self.h.hold_store = false;
        self.h.ack_store();
        self.process();
        for c in 0..self.clients.len() {
            let client = &self.clients[c];
            if client.session.is_some() && client.conn.is_none() {
                let (version, expiry) = client.last_connect.expect("connected once");
                self.connect(c, version, false, expiry, 5);
            }
        }
        for _ in 0..10_000 {
            self.process();
            let mut answered = false;
            for c in 0..self.clients.len() {
                while self.clients[c]
                    .conn
                    .as_ref()
                    .is_some_and(|conn| !conn.answers.is_empty())
                {
                    self.apply(&Op::Ack { c });
                    answered = true;
                }
            }
            if !answered {
                break;
            }
        }
        self.process();
        self.check();
        for (c, client) in self.clients.iter().enumerate() {
            let Some(session) = &client.session else {
                continue;
            };
            if self.check_delivery {
                let missing: Vec<&u32> = session
                    .expected
                    .iter()
                    .filter(|p| !session.received.contains(p))
                    .collect();
                if !missing.is_empty() {
                    self.fail(
                        c,
                        format!("messages never delivered: {missing:?} (session {session:?})"),
                    );
                }
            }
            if !session.incoming.is_empty() || !session.outgoing.is_empty() {
                self.fail(c, format!("flows left incomplete: {session:?}"));
            }
            let info = self
                .h
                .broker
                .session_info(CLIENT_IDS[c])
                .expect("checked above");
            if info.unacknowledged != 0 || info.awaiting_pubrel != 0 {
                self.fail(c, format!("broker still waits: {info:?}"));
            }
            if self.check_delivery && info.queued != 0 {
                self.fail(c, format!("messages left queued: {info:?}"));
            }
        }
    }
}

/// Runs one case.
fn run(config: Config, check_delivery: bool, pick_connected: bool, ops: &[Op]) {
    let mut model = Model::new(config, check_delivery);
    model.pick_connected = pick_connected;
    for (step, op) in ops.iter().enumerate() {
        model.step = step;
        model.apply(op);
        model.process();
        model.check();
    }
    model.finish();
}

// ---- Random cases ----

/// `n` random cases, with no failure file.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(200))]

    /// Queues large enough never to overflow: every invariant, including that nothing owed
    /// is lost.
    #[test]
    fn broker_keeps_its_promises_under_random_operations(
        durable in any::<bool>(),
        ops in prop::collection::vec(op(), 1..=60),
    ) {
        run(config(durable, 10_000), true, true, &ops);
    }
}

proptest! {
    #![proptest_config(cases(60))]

    /// Queues of 2 messages overflow all the time: the bound holds and what does arrive
    /// still arrives once, in order, within the window.
    #[test]
    fn small_queues_stay_bounded_and_safe(
        durable in any::<bool>(),
        ops in prop::collection::vec(op(), 1..=60),
    ) {
        run(config(durable, 2), false, true, &ops);
    }
}

proptest! {
    #![proptest_config(cases(100))]

    /// With a durable store the broker may restart at any point: every promise above still
    /// holds across restarts (sessions, their expiry counted from the restart, messages owed,
    /// QoS 2 state in both directions) [MQTT-4.4.0-1], [MQTT-4.3.3-10], [MQTT-4.1.0-2].
    #[test]
    fn restarts_from_the_store_keep_every_promise(
        ops in prop::collection::vec(op_or_restart(), 1..=60),
    ) {
        run(config(true, 10_000), true, true, &ops);
    }
}

// ---- Fixed cases (found interesting by hand) ----

fn connect(c: usize, v5: bool, clean_start: bool, expiry: usize, receive_maximum: u16) -> Op {
    Op::Connect {
        c,
        takeover: false,
        v5,
        clean_start,
        expiry,
        receive_maximum,
    }
}

// v5 [MQTT-3.3.4-9], [MQTT-4.4.0-1]: a session resumed with a smaller Receive Maximum gets its
// unacknowledged messages again, but never more at a time than the new window.
#[test]
fn resume_with_smaller_receive_maximum_stays_within_window_mqtt_3_3_4_9() {
    let mut ops = vec![
        connect(0, true, false, 2, 4),
        Op::Subscribe {
            c: 0,
            filter: 0,
            qos: 1,
        },
        connect(1, false, true, 0, 1),
    ];
    ops.extend((0..4).map(|_| Op::Publish {
        c: 1,
        topic: 0,
        qos: 1,
    }));
    ops.push(Op::Disconnect {
        c: 0,
        normal: false,
    });
    ops.push(connect(0, true, false, 2, 1));
    ops.push(Op::Ack { c: 0 });
    run(config(false, 10_000), true, false, &ops);
}

// v5 [MQTT-3.3.4-9], [MQTT-4.4.0-1]: released QoS 2 messages of a 3.1.1 connection (two,
// within its window) are resumed by a v5 connection with Receive Maximum 1: both PUBRELs go
// again, and no PUBLISH is sent until their PUBCOMPs free the window. (Found by the random
// test: the model's count of the broker's window did not allow for the carried PUBRELs.)
#[test]
fn released_qos2_resumed_with_a_smaller_receive_maximum_mqtt_3_3_4_9() {
    let publish = |qos| Op::Publish {
        c: 0,
        topic: 0,
        qos,
    };
    let ack = Op::Ack { c: 0 };
    let mut ops = vec![
        connect(0, false, false, 0, 1),
        publish(2),
        Op::Subscribe {
            c: 0,
            filter: 1,
            qos: 2,
        },
        publish(1),
        publish(1),
        ack.clone(),
        publish(1),
        publish(2),
    ];
    ops.extend([ack.clone(), ack.clone(), ack.clone(), publish(2)]);
    ops.extend([ack.clone(), ack.clone(), ack.clone()]);
    ops.push(Op::Disconnect {
        c: 0,
        normal: false,
    });
    ops.push(connect(0, true, false, 0, 1));
    ops.extend((0..6).map(|_| ack.clone()));
    run(config(false, 10_000), true, true, &ops);
}

// [MQTT-4.3.3-10], [MQTT-4.4.0-1]: a QoS 2 publisher whose PUBREC was held by the store and
// lost with its connection publishes again with DUP 1 after resuming; the subscriber gets
// the message once.
#[test]
fn qos2_publish_repeated_after_a_held_pubrec_is_delivered_once_mqtt_4_3_3_10() {
    let ops = vec![
        connect(0, true, false, 2, 5),
        Op::Subscribe {
            c: 0,
            filter: 2,
            qos: 2,
        },
        connect(1, false, false, 0, 1),
        Op::HoldStore(true),
        Op::Publish {
            c: 1,
            topic: 1,
            qos: 2,
        },
        Op::Disconnect {
            c: 1,
            normal: false,
        },
        Op::HoldStore(false),
        connect(1, false, false, 0, 1),
        Op::Ack { c: 0 },
        Op::Ack { c: 0 },
    ];
    run(config(true, 10_000), true, false, &ops);
}

// v3 [MQTT-4.3.3-1], [MQTT-4.4.0-1]: a 3.1.1 subscriber that sent PUBREC and lost its
// connection gets only the PUBREL again, and the message is never delivered twice, even
// when it comes back as a v5 client.
#[test]
fn released_qos2_is_not_redelivered_across_versions_mqtt_4_3_3_1_v3() {
    let ops = vec![
        connect(0, false, false, 0, 1),
        Op::Subscribe {
            c: 0,
            filter: 1,
            qos: 2,
        },
        connect(1, true, true, 0, 1),
        Op::Publish {
            c: 1,
            topic: 0,
            qos: 2,
        },
        Op::Ack { c: 0 },
        Op::Disconnect { c: 0, normal: true },
        connect(0, true, false, 2, 2),
        Op::Ack { c: 0 },
    ];
    run(config(true, 10_000), true, false, &ops);
}
