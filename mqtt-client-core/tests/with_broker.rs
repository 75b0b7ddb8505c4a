//! mqtt-client-core clients against mqtt-broker-core, in memory and on a virtual clock (the
//! `net` harness): QoS 1 and QoS 2 flows with the connection cut at every step, keep alive,
//! dead connections, manual acknowledgement, lost sessions, and a proptest of random faults.
//!
//! The delivery promises checked everywhere:
//! - QoS 1 arrives at least once: the sender keeps the PUBLISH unacknowledged until PUBACK and
//!   sends it again on the resumed session (v5 [MQTT-4.3.2-3], [MQTT-4.4.0-1]).
//! - QoS 2 arrives exactly once: the receiver answers a repeated PUBLISH with PUBREC and
//!   does not deliver it again until PUBREL (v5 [MQTT-4.3.3-10], 3.1.1 [MQTT-4.3.3-2]); the
//!   sender never sends the PUBLISH again after its PUBREL (v5 [MQTT-4.3.3-6]).
//! - Every QoS 1/2 publish completes once (PUBACK or PUBCOMP), with a success reason: a v5
//!   PUBCOMP 0x92 (Packet Identifier not found) answering a PUBREL re-sent on a resumed
//!   session is "not an error during recovery" (v5 section 3.7.2.1).
//! - Re-sends: a PUBLISH goes again only with DUP set [MQTT-3.3.1-1] and never after its
//!   PUBREL [MQTT-4.3.3-6], checked on the wire both ways (`Net::check_resend_rules`).
//! - Order per publisher and topic: re-sends go in the original order [MQTT-4.6.0-1] and the
//!   server forwards in the order it received (v5 [MQTT-4.6.0-5], 3.1.1 [MQTT-4.6.0-6]), so
//!   the first copies of the messages arrive in publish order (a QoS 1 re-send may repeat
//!   earlier messages after later ones: 1, 2, 3, 2, 3, 4).

mod net;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use mqtt_broker_core::{CloseReason, Config};
use mqtt_client_core::{ConnectionState, DisconnectReason, Event, PublishId};
use mqtt_codec::{PacketType, ProtocolVersion, QoS};
use net::{message, persistent, quiet_config, ClientId, Dir, Net};
use proptest::prelude::*;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];
const QOSES: [QoS; 2] = [QoS::AtLeastOnce, QoS::ExactlyOnce];
/// Session Expiry Interval of v5 sessions (3.1.1 sessions last as the broker says).
const EXPIRY: u32 = 86_400;

// ---- What was sent, and the checks ----

/// A message a publisher sent.
#[derive(Debug, Clone)]
struct Sent {
    publisher: ClientId,
    topic: String,
    seq: u64,
    qos: QoS,
    id: PublishId,
    payload: Bytes,
}

/// Publishes `p{publisher}/{seq}` on `topic` and remembers it.
fn send(net: &mut Net, sent: &mut Vec<Sent>, publisher: ClientId, topic: &str, qos: QoS) {
    let seq = sent.iter().filter(|s| s.publisher == publisher).count() as u64;
    let text = format!("p{publisher}/{seq}");
    let id = net.publish(publisher, message(topic, &text, qos));
    sent.push(Sent {
        publisher,
        topic: topic.to_owned(),
        seq,
        qos,
        id,
        payload: Bytes::from(text),
    });
}

/// Checks the delivery promises for everything in `sent`, received by `subscriber`.
fn verify(net: &Net, subscriber: ClientId, sent: &[Sent]) -> Result<(), String> {
    let mut errors = Vec::new();
    // Each publish completed once, successfully.
    let mut completed: HashMap<(ClientId, PublishId), usize> = HashMap::new();
    let publishers: Vec<ClientId> = {
        let mut p: Vec<_> = sent.iter().map(|s| s.publisher).collect();
        p.sort_unstable();
        p.dedup();
        p
    };
    for &p in &publishers {
        for (id, reason) in net.completions(p) {
            *completed.entry((p, id)).or_insert(0) += 1;
            if reason.is_error() {
                errors.push(format!(
                    "{} publish {id:?} completed with {reason:?}",
                    net.peers[p].name
                ));
            }
        }
    }
    for s in sent {
        let n = completed.remove(&(s.publisher, s.id)).unwrap_or(0);
        if n != 1 {
            errors.push(format!(
                "{} ({:?}) completed {n} times, expected once",
                String::from_utf8_lossy(&s.payload),
                s.qos
            ));
        }
    }
    for ((p, id), n) in completed {
        errors.push(format!(
            "{} completed unknown publish {id:?} {n} times",
            net.peers[p].name
        ));
    }

    // QoS 1 at least once, QoS 2 exactly once, with the QoS it was sent with.
    let by_payload: HashMap<&Bytes, &Sent> = sent.iter().map(|s| (&s.payload, s)).collect();
    let counts = net.payload_counts(subscriber);
    for s in sent {
        let n = counts.get(&s.payload).copied().unwrap_or(0);
        let ok = match s.qos {
            QoS::AtLeastOnce => n >= 1,
            _ => n == 1,
        };
        if !ok {
            errors.push(format!(
                "{} ({:?}) received {n} times",
                String::from_utf8_lossy(&s.payload),
                s.qos
            ));
        }
    }
    for m in net.messages(subscriber) {
        match by_payload.get(&m.payload) {
            None => errors.push(format!("unexpected message {:?}", m.payload)),
            Some(s) if s.qos != m.qos || s.topic != m.topic.as_str() => errors.push(format!(
                "{:?} arrived on {} at {:?}, sent on {} at {:?}",
                m.payload, m.topic, m.qos, s.topic, s.qos
            )),
            Some(_) => {}
        }
    }

    // Per publisher and topic, the first copies arrive in publish order.
    let mut last: HashMap<(ClientId, &str), u64> = HashMap::new();
    let mut seen: HashMap<&Bytes, ()> = HashMap::new();
    for m in net.messages(subscriber) {
        let Some(s) = by_payload.get(&m.payload) else {
            continue;
        };
        if seen.insert(&s.payload, ()).is_some() {
            continue; // a repeated QoS 1 message
        }
        if let Some(&before) = last.get(&(s.publisher, s.topic.as_str())) {
            if before > s.seq {
                errors.push(format!(
                    "p{}/{} arrived after p{}/{before} on {}",
                    s.publisher, s.seq, s.publisher, s.topic
                ));
            }
        }
        last.insert((s.publisher, s.topic.as_str()), s.seq);
    }

    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  received: {:?}",
            errors.join("\n  "),
            net.payloads(subscriber)
        ))
    }
}

/// Nothing is left in flight anywhere: the clients' windows and queues are empty and the
/// broker holds nothing for the sessions.
fn verify_quiescent(net: &Net, clients: &[ClientId]) -> Result<(), String> {
    let mut errors = Vec::new();
    for &c in clients {
        let peer = &net.peers[c];
        if peer.client.inflight() > 0 || peer.client.queued() > 0 {
            errors.push(format!(
                "{}: {} in flight, {} queued",
                peer.name,
                peer.client.inflight(),
                peer.client.queued()
            ));
        }
        match net.broker.session_info(&peer.name) {
            Some(info)
                if info.unacknowledged == 0 && info.queued == 0 && info.awaiting_pubrel == 0 => {}
            other => errors.push(format!("{}: broker session {other:?}", peer.name)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n  "))
    }
}

// ---- A publisher and a subscriber ----

struct Pair {
    net: Net,
    publisher: ClientId,
    subscriber: ClientId,
    /// What the publisher sent.
    sent: Vec<Sent>,
}

/// A subscriber on `t/#` at QoS 2 and a publisher, both with persistent sessions
/// (Clean Start 0; v5 with a Session Expiry Interval), connected, history cleared.
fn pair(version: ProtocolVersion) -> Pair {
    pair_with(quiet_config(), version, |_| {})
}

fn pair_with(
    config: Config,
    version: ProtocolVersion,
    tune: impl Fn(&mut mqtt_client_core::ConnectOptions),
) -> Pair {
    let mut net = Net::new(config);
    let mut sub_options = persistent("sub", version, EXPIRY);
    tune(&mut sub_options);
    let mut pub_options = persistent("pub", version, EXPIRY);
    tune(&mut pub_options);
    let subscriber = net.add_client(sub_options);
    let publisher = net.add_client(pub_options);
    assert!(!net.connect(subscriber));
    assert!(!net.connect(publisher));
    net.subscribe(subscriber, "t/#", QoS::ExactlyOnce);
    net.clear_history();
    Pair {
        net,
        publisher,
        subscriber,
        sent: Vec::new(),
    }
}

/// A pair with manual acknowledgement.
fn manual_pair(version: ProtocolVersion) -> Pair {
    pair_with(quiet_config(), version, |o| o.manual_acks = true)
}

/// A pair whose sessions expire 10 s after a disconnect (the broker's maximum, which also
/// sets 3.1.1 persistent sessions; v5 clients ask for 10 s).
fn expiring_pair(version: ProtocolVersion) -> Pair {
    let mut config = quiet_config();
    config.max_session_expiry = 10;
    pair_with(config, version, |o| {
        if o.version.is_v5() {
            o.session_expiry_interval = 10;
        }
    })
}

/// A pair on a broker with a durable store (it can restart) and `config` otherwise.
fn durable_pair(mut config: Config, version: ProtocolVersion) -> (Pair, Config) {
    config.durable = true;
    (pair_with(config.clone(), version, |_| {}), config)
}

impl Pair {
    /// The publisher publishes its next message on `t/a` at `qos` (it crosses at the next
    /// step).
    fn send(&mut self, qos: QoS) {
        send(&mut self.net, &mut self.sent, self.publisher, "t/a", qos);
    }

    fn clients(&self) -> [ClientId; 2] {
        [self.publisher, self.subscriber]
    }

    fn target(&self, victim: Victim) -> ClientId {
        match victim {
            Victim::Publisher => self.publisher,
            Victim::Subscriber => self.subscriber,
        }
    }

    fn reconnect_all(&mut self) {
        let clients = self.clients();
        reconnect_all(&mut self.net, &clients);
    }

    /// The delivery promises for what was sent ([`verify`]) and nothing left in flight
    /// ([`verify_quiescent`]).
    fn verify(&self) -> Result<(), String> {
        verify(&self.net, self.subscriber, &self.sent)
            .and_then(|()| verify_quiescent(&self.net, &self.clients()))
    }

    /// [`Pair::verify`] and the re-sending rules on both clients' connections.
    fn verify_with_resend_rules(&self) -> Result<(), String> {
        self.verify()
            .and_then(|()| self.net.check_resend_rules(self.publisher))
            .and_then(|()| self.net.check_resend_rules(self.subscriber))
    }

    /// Sends two messages at `qoses` with the publisher's connection cut right after the
    /// second `kind` crossed in `dir`, and runs until idle: the cut happened, and both
    /// messages reached the subscriber before it.
    fn send_two_cut_after_second(&mut self, qoses: [QoS; 2], dir: Dir, kind: PacketType) {
        self.net.cut_after_kind(self.publisher, dir, kind, 2);
        for qos in qoses {
            self.send(qos);
        }
        self.net.run_until_idle();
        assert_eq!(self.net.cuts_fired, 1);
        assert_eq!(self.net.payloads(self.subscriber), ["p1/0", "p1/1"]);
    }
}

/// Connects every client that is disconnected and runs until idle, until all are connected.
fn reconnect_all(net: &mut Net, clients: &[ClientId]) {
    for _ in 0..10 {
        for &c in clients {
            if net.client(c).state() == ConnectionState::Disconnected {
                net.reconnect(c);
            }
        }
        net.run_until_idle();
        if clients.iter().all(|&c| net.is_connected(c)) {
            return;
        }
    }
    panic!("clients do not reconnect");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    Publisher,
    Subscriber,
}

/// Publishes three messages on one topic with the victim's connection cut after its `k`-th
/// packet (k = 0: dropped before anything crosses), reconnects after 5 s, and checks the
/// promises. Returns whether the cut happened (false once k is past the whole flow).
fn cut_run(
    version: ProtocolVersion,
    qos: QoS,
    victim: Victim,
    k: usize,
) -> (bool, Result<(), String>) {
    let mut p = pair(version);
    let target = p.target(victim);
    if k > 0 {
        p.net.cut_after(target, Dir::Either, k);
    }
    for _ in 0..3 {
        p.send(qos);
    }
    if k == 0 {
        p.net.drop_connection(target);
    }
    p.net.run_until_idle();
    let cut = k == 0 || p.net.cuts_fired == 1;
    p.net.advance(Duration::from_secs(5));
    p.reconnect_all();
    (cut, p.verify_with_resend_rules())
}

/// Cuts the victim's connection after every packet of the flows of three messages, in turn.
fn cut_at_every_step(victim: Victim) {
    let mut failures = Vec::new();
    for version in VERSIONS {
        for qos in QOSES {
            let mut k = 0;
            loop {
                let (cut, result) = cut_run(version, qos, victim, k);
                if let Err(err) = result {
                    failures.push(format!(
                        "{version:?} {qos:?} {victim:?} cut after packet {k}:\n  {err}"
                    ));
                }
                if !cut {
                    break;
                }
                k += 1;
                assert!(k < 100, "the flow never ends");
            }
            // Three messages: at least 2 packets each way per message were cut after.
            assert!(k >= 6, "{version:?} {qos:?}: only {k} cut points");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// [MQTT-4.4.0-1], [MQTT-4.3.3-10] (3.1.1 [MQTT-4.3.3-2]), [MQTT-4.6.0-1]: the publisher's
/// connection cut after each packet of three QoS 1 / QoS 2 flows.
#[test]
fn publisher_cut_at_every_step_of_qos1_and_qos2_flows() {
    cut_at_every_step(Victim::Publisher);
}

/// [MQTT-4.4.0-1], [MQTT-4.3.3-10] (3.1.1 [MQTT-4.3.3-2]), v5 [MQTT-4.6.0-5] (3.1.1
/// [MQTT-4.6.0-6]): the subscriber's connection cut after each packet of three QoS 1 / QoS 2
/// flows.
#[test]
fn subscriber_cut_at_every_step_of_qos1_and_qos2_flows() {
    cut_at_every_step(Victim::Subscriber);
}

/// The 12 named steps of one message's flows: for QoS 1 and QoS 2, and for the publisher and
/// the subscriber, each packet of the flow in order, in the direction it crosses on the
/// victim's connection (the message's sender sends PUBLISH and PUBREL, its receiver PUBACK,
/// PUBREC and PUBCOMP).
fn named_steps() -> Vec<(QoS, Victim, Dir, PacketType)> {
    use PacketType::{PubAck, PubComp, PubRec, PubRel, Publish};
    let flows: [(QoS, &[PacketType]); 2] = [
        (QoS::AtLeastOnce, &[Publish, PubAck]),
        (QoS::ExactlyOnce, &[Publish, PubRec, PubRel, PubComp]),
    ];
    let mut steps = Vec::new();
    for (qos, kinds) in flows {
        for victim in [Victim::Publisher, Victim::Subscriber] {
            for (i, &kind) in kinds.iter().enumerate() {
                let from_sender = i % 2 == 0;
                let dir = if from_sender == (victim == Victim::Publisher) {
                    Dir::ToBroker
                } else {
                    Dir::ToClient
                };
                steps.push((qos, victim, dir, kind));
            }
        }
    }
    assert_eq!(steps.len(), 12);
    steps
}

/// One message; the connection cut after each named step of its flow, and what must cross
/// after the reconnect.
#[test]
fn named_steps_of_one_flow() {
    use PacketType::{PubComp, PubRel, Publish};
    let mut failures = Vec::new();
    for version in VERSIONS {
        for (qos, victim, dir, kind) in named_steps() {
            let mut p = pair(version);
            let target = p.target(victim);
            p.net.cut_after_kind(target, dir, kind, 1);
            p.send(qos);
            p.net.run_until_idle();
            assert_eq!(
                p.net.cuts_fired, 1,
                "{version:?} {kind:?} {dir:?} never crossed"
            );
            let cut_at = p.net.trace.len();
            p.net.advance(Duration::from_secs(1));
            p.reconnect_all();
            let label = format!("{version:?} {qos:?}: {victim:?} cut after {kind:?} {dir:?}");
            if let Err(err) = p.verify().and_then(|()| p.net.check_resend_rules(target)) {
                failures.push(format!("{label}:\n  {err}"));
            }
            // What crossed after the reconnect.
            let after: Vec<_> = p.net.trace[cut_at..]
                .iter()
                .filter(|x| x.client == target)
                .map(|x| (x.dir, x.kind, x.first_byte))
                .collect();
            // Packets of `kind` that crossed from the message's sender on the victim's
            // connection: to the broker for the publisher, to the client for the subscriber.
            let again = |kind| {
                after
                    .iter()
                    .filter(move |(d, k, _)| {
                        *k == Some(kind) && (*d == Dir::ToBroker) == (victim == Victim::Publisher)
                    })
                    .collect::<Vec<_>>()
            };
            let publishes_again = again(Publish);
            // No acknowledgement reached the sender: the PUBLISH goes again, DUP set
            // [MQTT-4.4.0-1], [MQTT-3.3.1-1].
            let expect_publish_again = kind == Publish;
            if expect_publish_again {
                if publishes_again.len() != 1 || publishes_again[0].2 & 0x08 == 0 {
                    failures.push(format!(
                        "{label}: expected one PUBLISH again with DUP, got {after:?}"
                    ));
                }
            } else if !publishes_again.is_empty() {
                // After PUBREC the PUBLISH is never sent again [MQTT-4.3.3-6]; after PUBACK
                // the message is done.
                failures.push(format!("{label}: PUBLISH sent again: {after:?}"));
            }
            // Unless the QoS 2 flow was complete, its PUBREL crosses once after the reconnect:
            // as part of the re-sent flow, or re-sent itself on the resumed session when the
            // PUBREC had reached the sender [MQTT-4.4.0-1].
            let pubrels_again = again(PubRel).len();
            let expect_pubrel_again = usize::from(qos == QoS::ExactlyOnce && kind != PubComp);
            if pubrels_again != expect_pubrel_again {
                failures.push(format!(
                    "{label}: expected {expect_pubrel_again} PUBREL again, got {after:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- Keep alive ----

/// PINGREQ when idle [MQTT-3.1.2-20] (3.1.1 [MQTT-3.1.2-23]), PINGRESP for each
/// [MQTT-3.12.4-1]: an idle connection stays open over hours, and the broker never closes it
/// for keep alive (v5 [MQTT-3.1.2-22], 3.1.1 [MQTT-3.1.2-24]).
#[test]
fn keep_alive_keeps_an_idle_connection_open_for_hours() {
    for version in VERSIONS {
        let mut p = pair(version);
        p.net.advance(Duration::from_secs(5 * 3600));
        for c in p.clients() {
            let net = &p.net;
            assert!(
                net.is_connected(c),
                "{version:?}: {} disconnected",
                net.peers[c].name
            );
            assert!(net.disconnects(c).is_empty(), "{:?}", net.disconnects(c));
            assert!(net.peers[c].broker_closes.is_empty());
            let pings = net.count(c, Dir::ToBroker, PacketType::PingReq);
            let pongs = net.count(c, Dir::ToClient, PacketType::PingResp);
            // One every 60 s of silence.
            assert_eq!(pings, 300, "{version:?}: PINGREQs");
            assert_eq!(pongs, pings, "{version:?}: PINGRESPs");
        }
        assert_eq!(p.net.open_sockets(), 2);
        // And the connection still carries messages.
        p.send(QoS::ExactlyOnce);
        p.net.run_until_idle();
        verify(&p.net, p.subscriber, &p.sent).unwrap();
        assert_eq!(p.net.disconnects(p.publisher), vec![]);
    }
}

/// A v5 client asking for a longer keep alive than the server allows uses the Server Keep
/// Alive from the CONNACK [MQTT-3.2.2-21]: it pings often enough that the broker, which
/// enforces its own value, never closes it.
#[test]
fn server_keep_alive_is_obeyed() {
    let mut config = quiet_config();
    config.max_keep_alive = Some(30);
    let mut p = pair_with(config, ProtocolVersion::V5, |o| o.keep_alive = 600);
    assert_eq!(p.net.client(p.subscriber).limits().keep_alive, 30);
    p.net.advance(Duration::from_secs(3600));
    for c in p.clients() {
        assert!(p.net.is_connected(c));
        assert!(p.net.peers[c].broker_closes.is_empty());
        assert_eq!(p.net.count(c, Dir::ToBroker, PacketType::PingReq), 120);
    }
}

/// A second connection with the same client id takes the session over [MQTT-3.1.4-3]: the
/// broker closes the first (v5: DISCONNECT 0x8E first), the harness carries the close to
/// that client, and the new one resumes the session with what was in flight.
#[test]
fn takeover_by_a_second_instance_closes_the_first() {
    for version in VERSIONS {
        let mut p = manual_pair(version);
        p.send(QoS::ExactlyOnce);
        p.net.run_until_idle();
        let (net, subscriber) = (&mut p.net, p.subscriber);
        assert_eq!(net.messages(subscriber).len(), 1);
        // Another instance of the subscriber's application, same client id.
        let options = net.client(subscriber).options().clone();
        let second = net.add_client(options);
        assert!(net.connect(second), "{version:?}: session present");
        assert_eq!(
            net.peers[subscriber].broker_closes,
            vec![CloseReason::SessionTakenOver]
        );
        let expected = if version.is_v5() {
            DisconnectReason::ByServer(mqtt_codec::ReasonCode::SessionTakenOver, None)
        } else {
            DisconnectReason::ConnectionLost
        };
        assert_eq!(net.disconnects(subscriber), vec![expected], "{version:?}");
        assert_eq!(
            net.open_sockets(),
            2,
            "{version:?}: the first socket is closed"
        );
        // The unacknowledged QoS 2 message goes to the new instance, which acks it.
        net.run_until_idle();
        let handle = net.messages(second)[0].ack.expect("handle");
        net.ack(second, handle).unwrap();
        net.run_until_idle();
        // The checks of the pair, with the new instance as the subscriber.
        p.subscriber = second;
        p.verify().unwrap();
    }
}

/// A connection that silently dies (nothing crosses, no close) is found dead by both sides:
/// the client when its PINGREQ gets no PINGRESP within the response timeout, the broker
/// after 1.5 times the keep alive (v5 [MQTT-3.1.2-22], 3.1.1 [MQTT-3.1.2-24]). Messages
/// published meanwhile wait in the session and arrive after the reconnect.
#[test]
fn silently_dead_connection_is_detected_by_both_sides() {
    for version in VERSIONS {
        let mut p = pair(version);
        let (publisher, subscriber) = (p.publisher, p.subscriber);
        p.net.stall(subscriber);
        p.send(QoS::AtLeastOnce);
        p.send(QoS::ExactlyOnce);
        let net = &mut p.net;
        net.run_until_idle();
        assert!(net.messages(subscriber).is_empty());
        // Keep alive 60: PINGREQ at 60 s (lost), response timeout 30 s; broker limit 90 s.
        net.advance(Duration::from_secs(89));
        assert!(
            net.is_connected(subscriber),
            "{version:?}: client gave up early"
        );
        assert!(
            net.peers[subscriber].broker_closes.is_empty(),
            "{version:?}: broker gave up early"
        );
        net.advance(Duration::from_secs(1));
        assert_eq!(
            net.disconnects(subscriber),
            vec![DisconnectReason::Timeout],
            "{version:?}"
        );
        assert_eq!(
            net.peers[subscriber].broker_closes,
            vec![CloseReason::KeepAliveTimeout],
            "{version:?}"
        );
        assert!(!net.broker.session_info("sub").unwrap().connected);
        assert!(
            net.is_connected(publisher),
            "{version:?}: publisher unaffected"
        );
        assert_eq!(
            net.open_sockets(),
            1,
            "{version:?}: the dead socket is gone"
        );
        assert!(net.connect(subscriber), "{version:?}: session resumed");
        net.run_until_idle();
        p.verify().unwrap();
    }
}

/// The client gives up on a dead connection before the broker does and reconnects: the
/// broker takes the session over from the half-open connection [MQTT-3.1.4-3] and re-sends
/// what it had sent into the dead one [MQTT-4.4.0-1].
#[test]
fn reconnect_takes_over_a_half_open_connection() {
    for version in VERSIONS {
        let mut p = pair_with(quiet_config(), version, |o| {
            o.response_timeout = Duration::from_secs(5);
        });
        let subscriber = p.subscriber;
        p.net.stall(subscriber);
        for qos in [QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            p.send(qos);
        }
        let net = &mut p.net;
        net.advance(Duration::from_secs(66));
        assert_eq!(net.disconnects(subscriber), vec![DisconnectReason::Timeout]);
        assert!(
            net.broker.session_info("sub").unwrap().connected,
            "broker has not noticed"
        );
        assert!(net.connect(subscriber), "{version:?}: session present");
        assert_eq!(
            net.peers[subscriber].broker_closes,
            vec![CloseReason::SessionTakenOver],
            "{version:?}"
        );
        net.run_until_idle();
        p.verify().unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert_eq!(p.net.open_sockets(), 2);
    }
}

// ---- Manual acknowledgement ----

/// For each version and QoS 1 and 2: a manual-ack pair in which the publisher sent one
/// message at that QoS and the subscriber's application has it, not acknowledged. `test` gets
/// the pair, the QoS, a label for messages, and the kind of the acknowledgement (PUBACK or
/// PUBREC) the subscriber has not sent yet.
fn each_unacked_manual_delivery(test: impl Fn(Pair, QoS, &str, PacketType)) {
    for version in VERSIONS {
        for qos in QOSES {
            let mut p = manual_pair(version);
            p.send(qos);
            p.net.run_until_idle();
            let ack_kind = if qos == QoS::AtLeastOnce {
                PacketType::PubAck
            } else {
                PacketType::PubRec
            };
            let label = format!("{version:?} {qos:?}");
            assert_eq!(p.net.messages(p.subscriber).len(), 1, "{label}");
            assert_eq!(
                p.net.count(p.subscriber, Dir::ToBroker, ack_kind),
                0,
                "{label}: acked before the application"
            );
            test(p, qos, &label, ack_kind);
        }
    }
}

/// A subscriber with manual acks whose connection fails before the application acked: the
/// QoS 1 message comes again (DUP) [MQTT-4.4.0-1]; the QoS 2 message is not delivered again
/// ([MQTT-4.3.3-10]) and its PUBREC goes when the application acks the first delivery.
#[test]
fn manual_ack_connection_lost_before_ack() {
    each_unacked_manual_delivery(|mut p, qos, label, ack_kind| {
        let (net, subscriber) = (&mut p.net, p.subscriber);
        let first = net.messages(subscriber)[0].ack.expect("manual ack handle");

        net.drop_connection(subscriber);
        assert!(net.connect(subscriber), "{label}");
        net.run_until_idle();
        let messages = net.messages(subscriber).len();
        if qos == QoS::AtLeastOnce {
            assert_eq!(messages, 2, "{label}: the QoS 1 message again");
            let again = net.messages(subscriber)[1];
            assert!(again.dup, "{label}: DUP on the re-delivery");
            let second = again.ack.expect("handle");
            // The old connection's handle is spent: nothing goes.
            net.ack(subscriber, first).unwrap();
            net.run_until_idle();
            assert_eq!(net.count(subscriber, Dir::ToBroker, ack_kind), 0, "{label}");
            net.ack(subscriber, second).unwrap();
        } else {
            assert_eq!(messages, 1, "{label}: the QoS 2 message not again");
            net.ack(subscriber, first).unwrap();
        }
        net.run_until_idle();
        assert_eq!(net.count(subscriber, Dir::ToBroker, ack_kind), 1, "{label}");
        // Nothing more on later connections.
        net.drop_connection(subscriber);
        assert!(net.connect(subscriber));
        net.run_until_idle();
        assert_eq!(net.messages(subscriber).len(), messages, "{label}");
        p.verify().unwrap_or_else(|e| panic!("{label}: {e}"));
    });
}

/// The subscriber's application crashes before acking (a new `Client`, none of the old
/// state): the broker never got PUBACK/PUBREC, so the message comes to the new instance,
/// once, and completes when that one acks [MQTT-4.4.0-1].
#[test]
fn manual_ack_application_crash_before_ack() {
    each_unacked_manual_delivery(|mut p, _, label, _| {
        let (net, subscriber) = (&mut p.net, p.subscriber);
        net.restart_client(subscriber);
        assert!(
            net.connect(subscriber),
            "{label}: the broker kept the session"
        );
        net.run_until_idle();
        let messages = net.messages(subscriber);
        assert_eq!(messages.len(), 2, "{label}: delivered to the new instance");
        let handle = messages[1].ack.expect("handle");
        net.ack(subscriber, handle).unwrap();
        net.run_until_idle();
        verify_quiescent(net, &[p.publisher, subscriber])
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(net.completions(p.publisher).len(), 1);
    });
}

// ---- Lost sessions ----

/// The publisher's session expires at the broker while it is away: Session Present 0
/// [MQTT-3.2.2-3], `Event::SessionLost`, and its unacknowledged messages are published
/// again as new ones. Lost before they reached the broker: each arrives once.
#[test]
fn session_lost_republishes_unacknowledged_messages() {
    for version in VERSIONS {
        // Keep the subscriber's session: it stays connected (keep alive) all along.
        let mut p = expiring_pair(version);
        p.send(QoS::AtLeastOnce);
        p.send(QoS::ExactlyOnce);
        p.net.drop_connection(p.publisher); // the PUBLISHes never reached the broker
        assert_session_lost(&mut p, version);
        p.verify().unwrap_or_else(|e| panic!("{version:?}: {e}"));
    }
}

/// The publisher, away for 30 s, finds its session gone: Session Present 0 and
/// `SessionLost` with its two messages republished.
fn assert_session_lost(p: &mut Pair, version: ProtocolVersion) {
    let (net, publisher) = (&mut p.net, p.publisher);
    net.advance(Duration::from_secs(30));
    assert!(
        net.broker.session_info("pub").is_none(),
        "{version:?}: session expired"
    );
    assert!(!net.connect(publisher), "{version:?}: Session Present 0");
    net.run_until_idle();
    assert!(
        net.peers[publisher]
            .events
            .contains(&Event::SessionLost { republished: 2 }),
        "{version:?}: {:?}",
        net.peers[publisher].events
    );
}

/// As above, but the PUBLISHes reached the broker (and the subscriber) before the
/// connection failed: republished as new messages after the session is lost, the QoS 1 one
/// arrives at least once and the QoS 2 one a second time: the exactly-once state was in the
/// session that expired, as `Event::SessionLost` documents.
#[test]
fn session_lost_after_the_broker_took_the_messages() {
    for version in VERSIONS {
        let mut p = expiring_pair(version);
        p.send_two_cut_after_second(
            [QoS::AtLeastOnce, QoS::ExactlyOnce],
            Dir::ToBroker,
            PacketType::Publish,
        );
        assert_session_lost(&mut p, version);
        assert_eq!(
            p.net.payloads(p.subscriber),
            ["p1/0", "p1/1", "p1/0", "p1/1"],
            "{version:?}"
        );
        let ids: Vec<PublishId> = p.net.completions(p.publisher).iter().map(|c| c.0).collect();
        assert_eq!(
            ids,
            [p.sent[0].id, p.sent[1].id],
            "{version:?}: each completed once"
        );
        verify_quiescent(&p.net, &p.clients()).unwrap();
    }
}

// ---- Broker restarts ----

/// The broker restarts from its durable store: sessions, subscriptions and the QoS 2 state of
/// both directions survive; both clients resume and every promise holds [MQTT-4.4.0-1],
/// [MQTT-4.3.3-10].
#[test]
fn broker_restart_mid_flow_keeps_every_promise() {
    for version in VERSIONS {
        for qos in QOSES {
            for k in 1..=6 {
                let (mut p, config) = durable_pair(quiet_config(), version);
                for _ in 0..3 {
                    p.send(qos);
                }
                // Restart after the k-th step of the network.
                for _ in 0..k {
                    p.net.step();
                }
                p.net.restart_broker(config);
                p.net.advance(Duration::from_secs(1));
                p.reconnect_all();
                let label = format!("{version:?} {qos:?} restart after step {k}");
                p.verify_with_resend_rules()
                    .unwrap_or_else(|e| panic!("{label}: {e}"));
            }
        }
    }
}

/// A v5 client with two QoS 2 messages past PUBREC (PUBRELs lost) resumes on a broker
/// restarted with Receive Maximum 1: it may re-send both PUBRELs (the quota limits
/// PUBLISHes only, [MQTT-4.9.0-3]), but it must never send a PUBLISH again once it has sent
/// its PUBREL [MQTT-4.3.3-6]: the broker, which has released that packet id, would take it
/// as a new message and deliver it a second time ([MQTT-4.3.3-10] broken end to end).
#[test]
fn smaller_receive_maximum_after_restart_never_resends_a_released_publish() {
    let mut config = quiet_config();
    config.receive_maximum = 2;
    let (mut p, mut config) = durable_pair(config, ProtocolVersion::V5);
    p.send_two_cut_after_second(
        [QoS::ExactlyOnce, QoS::ExactlyOnce],
        Dir::ToClient,
        PacketType::PubRec,
    );
    let publisher = p.publisher;
    let publishes = p.net.count(publisher, Dir::ToBroker, PacketType::Publish);
    config.receive_maximum = 1;
    p.net.restart_broker(config);
    p.reconnect_all();
    assert_eq!(
        p.net.count(publisher, Dir::ToBroker, PacketType::Publish),
        publishes,
        "PUBLISH sent again after its PUBREL: {:?}",
        p.net
            .trace
            .iter()
            .filter(|x| x.client == publisher)
            .map(|x| (x.dir, x.kind))
            .collect::<Vec<_>>()
    );
    p.verify().unwrap();
}

// ---- Random faults ----

#[derive(Debug, Clone)]
enum Op {
    /// A publisher (index among publishers) publishes on topic `t/{topic}`.
    Publish {
        publisher: usize,
        topic: usize,
        exactly_once: bool,
    },
    /// Cut a client's (0: the subscriber, then the publishers) connection after `after`
    /// packets in a direction (0 to broker, 1 to client, 2 either).
    Cut { who: usize, dir: u8, after: usize },
    /// The network fails under a client now.
    Drop { who: usize },
    /// A client's connection goes silent (found out by keep alive, or dropped later).
    Stall { who: usize },
    /// A disconnected client connects again.
    Reconnect { who: usize },
    /// The subscriber's application acks its `n` oldest unacknowledged messages (deferred
    /// manual acks).
    Ack { n: usize },
    /// The broker restarts from its store (durable worlds), with another Receive Maximum
    /// (index into 1, 2, 65,535).
    RestartBroker { receive_maximum: usize },
    /// Time passes.
    Advance { secs: u64 },
    /// One network step.
    Step,
    /// The network runs until idle.
    Run,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..2usize, 0..2usize, any::<bool>()).prop_map(|(publisher, topic, exactly_once)| {
            Op::Publish { publisher, topic, exactly_once }
        }),
        3 => (0..3usize, 0..3u8, 1..10usize).prop_map(|(who, dir, after)| Op::Cut { who, dir, after }),
        1 => (0..3usize).prop_map(|who| Op::Drop { who }),
        1 => (0..3usize).prop_map(|who| Op::Stall { who }),
        3 => (0..3usize).prop_map(|who| Op::Reconnect { who }),
        2 => (1..4usize).prop_map(|n| Op::Ack { n }),
        1 => (0..3usize).prop_map(|receive_maximum| Op::RestartBroker { receive_maximum }),
        2 => (0..150u64).prop_map(|secs| Op::Advance { secs }),
        2 => Just(Op::Step),
        2 => Just(Op::Run),
    ]
}

/// How the subscriber acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acks {
    /// The client acks by itself.
    Auto,
    /// Manual acks, given as each message is drained.
    ManualAtOnce,
    /// Manual acks, given by `Op::Ack` (and at the end).
    ManualDeferred,
}

#[derive(Debug, Clone)]
struct World {
    /// MQTT 5 (else 3.1.1) for the subscriber and each publisher.
    v5: [bool; 3],
    publishers: usize,
    /// The broker's window towards 3.1.1 clients and cap on v5 Receive Maximum.
    max_inflight: u16,
    durable: bool,
    /// The subscriber's Receive Maximum (v5).
    receive_maximum: u16,
    /// The broker's Receive Maximum (v5 publishers keep to it).
    broker_receive_maximum: u16,
    /// v5 publishers replace topics by aliases.
    topic_aliases: bool,
    acks: Acks,
    ops: Vec<Op>,
}

prop_compose! {
    fn world()(
        v5 in any::<[bool; 3]>(),
        publishers in 1..=2usize,
        max_inflight in prop::sample::select(vec![1u16, 2, 100]),
        durable in any::<bool>(),
        receive_maximum in prop::sample::select(vec![1u16, 3, u16::MAX]),
        broker_receive_maximum in prop::sample::select(vec![1u16, 2, u16::MAX]),
        topic_aliases in any::<bool>(),
        acks in prop::sample::select(vec![Acks::Auto, Acks::ManualAtOnce, Acks::ManualDeferred]),
        ops in prop::collection::vec(op(), 1..60),
    ) -> World {
        World {
            v5, publishers, max_inflight, durable, receive_maximum,
            broker_receive_maximum, topic_aliases, acks, ops,
        }
    }
}

fn version(v5: bool) -> ProtocolVersion {
    if v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    }
}

/// The subscriber's application with deferred acks: the handles of the messages it has not
/// acknowledged yet, oldest first.
#[derive(Debug, Default)]
struct Application {
    /// Whether this application acks by hand (else it holds no handles).
    deferred: bool,
    seen: usize,
    unacked: std::collections::VecDeque<mqtt_client_core::AckHandle>,
}

impl Application {
    /// Takes the handles of messages received since the last call.
    fn read(&mut self, net: &Net, subscriber: ClientId) {
        let messages = net.messages(subscriber);
        if self.deferred {
            for m in &messages[self.seen..] {
                self.unacked.extend(m.ack);
            }
        }
        self.seen = messages.len();
    }

    /// Acks the `n` oldest.
    fn ack(&mut self, net: &mut Net, subscriber: ClientId, n: usize) -> Result<(), String> {
        self.read(net, subscriber);
        for _ in 0..n {
            let Some(handle) = self.unacked.pop_front() else {
                break;
            };
            net.ack(subscriber, handle)
                .map_err(|e| format!("ack {handle:?}: {e}"))?;
        }
        Ok(())
    }
}

fn run_world(w: &World) -> Result<(), String> {
    let mut config = quiet_config();
    config.max_inflight = w.max_inflight;
    config.durable = w.durable;
    config.receive_maximum = w.broker_receive_maximum;
    let mut net = Net::new(config.clone());
    let mut sub_options = persistent("sub", version(w.v5[0]), EXPIRY);
    sub_options.receive_maximum = w.receive_maximum;
    sub_options.manual_acks = w.acks != Acks::Auto;
    let subscriber = net.add_client(sub_options);
    net.peers[subscriber].auto_ack = w.acks == Acks::ManualAtOnce;
    let publishers: Vec<ClientId> = (0..w.publishers)
        .map(|i| {
            let mut options = persistent(&format!("pub{i}"), version(w.v5[i + 1]), EXPIRY);
            options.outgoing_topic_aliases = w.topic_aliases;
            net.add_client(options)
        })
        .collect();
    let mut clients = vec![subscriber];
    clients.extend(&publishers);
    for &c in &clients {
        net.connect(c);
    }
    net.subscribe(subscriber, "t/#", QoS::ExactlyOnce);
    net.clear_history();
    let mut app = Application {
        deferred: w.acks == Acks::ManualDeferred,
        ..Application::default()
    };

    let mut sent = Vec::new();
    for op in &w.ops {
        match *op {
            Op::Publish {
                publisher,
                topic,
                exactly_once,
            } => {
                let Some(&p) = publishers.get(publisher) else {
                    continue;
                };
                let qos = if exactly_once {
                    QoS::ExactlyOnce
                } else {
                    QoS::AtLeastOnce
                };
                send(&mut net, &mut sent, p, &format!("t/{topic}"), qos);
            }
            Op::Cut { who, dir, after } => {
                let dir = [Dir::ToBroker, Dir::ToClient, Dir::Either][usize::from(dir)];
                net.cut_after(clients[who % clients.len()], dir, after);
            }
            Op::Drop { who } => net.drop_connection(clients[who % clients.len()]),
            Op::Stall { who } => net.stall(clients[who % clients.len()]),
            Op::Reconnect { who } => {
                let c = clients[who % clients.len()];
                if net.client(c).state() == ConnectionState::Disconnected {
                    net.reconnect(c);
                }
            }
            Op::Ack { n } => app.ack(&mut net, subscriber, n)?,
            Op::RestartBroker { receive_maximum } => {
                if w.durable {
                    config.receive_maximum = [1, 2, u16::MAX][receive_maximum];
                    net.restart_broker(config.clone());
                }
            }
            Op::Advance { secs } => net.advance(Duration::from_secs(secs)),
            Op::Step => {
                net.step();
            }
            Op::Run => {
                net.run_until_idle();
            }
        }
    }

    // Everybody back, every message acknowledged.
    net.clear_cuts();
    for &c in &clients {
        if net.is_stalled(c) {
            net.drop_connection(c);
        }
    }
    for _ in 0..100 {
        reconnect_all(&mut net, &clients);
        app.ack(&mut net, subscriber, usize::MAX)?;
        net.run_until_idle();
        app.read(&net, subscriber);
        if app.unacked.is_empty() && clients.iter().all(|&c| net.is_connected(c)) {
            break;
        }
    }
    verify(&net, subscriber, &sent)?;
    verify_quiescent(&net, &clients)?;
    for &c in &clients {
        net.check_resend_rules(c)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random publishes (QoS 1 and 2, two topics, one or two publishers, 3.1.1 and 5.0),
    /// connections cut after random numbers of packets either way, dropped or stalled, random
    /// reconnect delays and time advances, broker restarts from its store (with another
    /// Receive Maximum), automatic, immediate or deferred manual acks; at
    /// the end everybody reconnects and acks: every QoS 1 message arrived at least once,
    /// every QoS 2 message exactly once ([MQTT-4.3.3-10], 3.1.1 [MQTT-4.3.3-2]), in order per
    /// publisher and topic ([MQTT-4.6.0-1], v5 [MQTT-4.6.0-5]), each publish completed once,
    /// nothing left in flight.
    #[test]
    fn random_faults_keep_every_delivery_promise(w in world()) {
        let result = run_world(&w);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}
