//! Incoming messages: topic aliases, QoS 1 and QoS 2 flows with exactly-once delivery of
//! QoS 2, and manual acknowledgement in the order the messages arrived.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use mqtt_codec::{Packet, PacketId, Publish, QoS, ReasonCode};

use crate::client::{Client, ConnectionState};
use crate::error::ClientError;
use crate::event::{AckHandle, Event, IncomingMessage};

/// Where a received QoS 2 message stands. Session state: it survives reconnects
/// [MQTT-4.1.0-1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qos2 {
    /// Given to the application (delivery `seq`), which has not acknowledged it yet
    /// (manual acks).
    Delivered { seq: u64, acked: bool },
    /// PUBREC sent: a repeated PUBLISH is not delivered again [MQTT-4.3.3-10]; PUBREL
    /// awaited.
    Received,
}

/// An acknowledgement owed on this connection, in the order the PUBLISH packets came
/// [MQTT-4.6.0-2], [MQTT-4.6.0-3].
#[derive(Debug, Clone, Copy)]
struct Owed {
    packet_id: PacketId,
    qos: QoS,
    /// The delivery it acknowledges (QoS 1), or 0 for a QoS 2 repeat.
    seq: u64,
    acked: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Inbound {
    qos2: BTreeMap<u16, Qos2>,
    owed: VecDeque<Owed>,
    /// QoS 1 PUBLISHes not yet answered with PUBACK on this connection.
    qos1_unacked: usize,
    /// Numbers deliveries, for ack handles.
    deliveries: u64,
}

impl Inbound {
    /// A new connection: acknowledgements owed on the old one are not sent (the server
    /// sends those messages again).
    pub(crate) fn new_connection(&mut self) {
        self.owed.clear();
        self.qos1_unacked = 0;
    }

    /// The server started a new session: received QoS 2 state goes. Returns whether there
    /// was any.
    pub(crate) fn restart_session(&mut self) -> bool {
        let had = !self.qos2.is_empty();
        self.qos2.clear();
        had
    }

    /// QoS 1/2 messages the server has not had PUBACK or PUBCOMP for: its Receive Maximum
    /// quota in use [MQTT-3.3.4-9].
    fn unacknowledged(&self) -> usize {
        self.qos1_unacked + self.qos2.len()
    }

    fn owes(&self, packet_id: PacketId, qos: QoS) -> bool {
        self.owed
            .iter()
            .any(|o| o.packet_id == packet_id && o.qos == qos)
    }
}

impl Client {
    pub(crate) fn handle_publish(&mut self, now: Instant, mut publish: Publish) {
        // A Topic Alias is resolved against this connection's aliases (v5 3.3.2.3.4).
        if let Some(alias) = publish.properties.topic_alias {
            let Some(slot) = self.aliases_in.get_mut(usize::from(alias.get()) - 1) else {
                return self.protocol_error(now, ClientError::TopicAliasInvalid);
            };
            if publish.topic.is_empty() {
                match slot {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        return self
                            .protocol_error(now, ClientError::Protocol("unknown topic alias"))
                    }
                }
            } else {
                *slot = Some(publish.topic.clone());
            }
            publish.properties.topic_alias = None;
        }
        let manual = self.active.manual_acks;
        let connection = self.connection;
        let Some(packet_id) = publish.packet_id else {
            return self.deliver(publish, None);
        };
        let qos = publish.qos;
        let id = packet_id.get();
        // A repeat of a message still awaiting our acknowledgement on this connection is
        // the same message: not delivered again, not owed twice (so a server cannot grow
        // this state by repeating itself).
        if self.inbound.owes(packet_id, qos) {
            return;
        }
        // More unacknowledged QoS 1/2 messages than our Receive Maximum: 0x93
        // (v5 section 3.3.4).
        let new_qos2 = qos == QoS::ExactlyOnce && !self.inbound.qos2.contains_key(&id);
        if self.version.is_v5()
            && (qos == QoS::AtLeastOnce || new_qos2)
            && self.inbound.unacknowledged() >= usize::from(self.active.receive_maximum)
        {
            return self.protocol_error(now, ClientError::ReceiveMaximumExceeded);
        }
        self.inbound.deliveries += 1;
        let seq = self.inbound.deliveries;
        let handle = AckHandle {
            delivery: seq,
            packet_id,
            qos,
            connection,
        };
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.inbound.qos1_unacked += 1;
                self.inbound.owed.push_back(Owed {
                    packet_id,
                    qos,
                    seq,
                    acked: !manual,
                });
                self.deliver(publish, manual.then_some(handle));
            }
            QoS::ExactlyOnce => match self.inbound.qos2.get(&id).copied() {
                None => {
                    self.inbound.qos2.insert(
                        id,
                        Qos2::Delivered {
                            seq,
                            acked: !manual,
                        },
                    );
                    self.inbound.owed.push_back(Owed {
                        packet_id,
                        qos,
                        seq,
                        acked: !manual,
                    });
                    self.deliver(publish, manual.then_some(handle));
                }
                // Already delivered: not again [MQTT-4.3.3-10]. Its PUBREC is owed on this
                // connection once the application has acknowledged it.
                Some(Qos2::Delivered { seq, acked }) => self.inbound.owed.push_back(Owed {
                    packet_id,
                    qos,
                    seq,
                    acked,
                }),
                // PUBREC sent before: again, in its place.
                Some(Qos2::Received) => self.inbound.owed.push_back(Owed {
                    packet_id,
                    qos,
                    seq: 0,
                    acked: true,
                }),
            },
        }
        self.flush_acks(now);
    }

    fn deliver(&mut self, publish: Publish, ack: Option<AckHandle>) {
        self.events.push_back(Event::Message(IncomingMessage {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            dup: publish.dup,
            properties: publish.properties,
            ack,
        }));
    }

    /// Manual acknowledgement: the application has processed the message of `handle`. Its
    /// PUBACK (QoS 1) or PUBREC (QoS 2) goes once every message received before it is
    /// acknowledged too, keeping the order [MQTT-4.6.0-2], [MQTT-4.6.0-3]. A QoS 1 message
    /// of an earlier connection is ignored: the server sends it again.
    pub fn ack(&mut self, now: Instant, handle: AckHandle) -> Result<(), ClientError> {
        let id = handle.packet_id.get();
        if handle.qos == QoS::ExactlyOnce {
            // The delivery itself, not a later message that reuses the packet id.
            match self.inbound.qos2.get_mut(&id) {
                Some(Qos2::Delivered { seq, acked }) if *seq == handle.delivery && !*acked => {
                    *acked = true;
                }
                _ => return Err(ClientError::UnknownAck),
            }
            if let Some(owed) = self
                .inbound
                .owed
                .iter_mut()
                .find(|o| o.qos == QoS::ExactlyOnce && o.packet_id == handle.packet_id)
            {
                owed.acked = true;
            }
        } else {
            if handle.connection != self.connection {
                return Ok(());
            }
            let owed = self
                .inbound
                .owed
                .iter_mut()
                .find(|o| o.seq == handle.delivery && o.qos == QoS::AtLeastOnce && !o.acked);
            match owed {
                Some(owed) => owed.acked = true,
                None => return Err(ClientError::UnknownAck),
            }
        }
        self.flush_acks(now);
        Ok(())
    }

    /// Sends the acknowledgements now due, in order.
    fn flush_acks(&mut self, now: Instant) {
        if self.state != ConnectionState::Connected {
            return;
        }
        while let Some(front) = self.inbound.owed.front().copied() {
            if !front.acked {
                break;
            }
            self.inbound.owed.pop_front();
            let packet = if front.qos == QoS::AtLeastOnce {
                self.inbound.qos1_unacked = self.inbound.qos1_unacked.saturating_sub(1);
                Packet::PubAck(self.ack_packet(front.packet_id, ReasonCode::Success))
            } else {
                // PUBREC; the message is now known as received until PUBREL
                // [MQTT-4.3.3-10].
                self.inbound
                    .qos2
                    .insert(front.packet_id.get(), Qos2::Received);
                Packet::PubRec(self.ack_packet(front.packet_id, ReasonCode::Success))
            };
            if let Err(err) = self.write(now, &packet) {
                return self.protocol_error(now, err);
            }
        }
    }

    /// PUBREL: the QoS 2 message may be forgotten; PUBCOMP (0x92 in v5 for an unknown
    /// packet id) [MQTT-4.3.3-11].
    pub(crate) fn handle_pubrel(&mut self, now: Instant, ack: &mqtt_codec::PublishAck) {
        let id = ack.packet_id.get();
        let reason = match self.inbound.qos2.get(&id) {
            Some(Qos2::Received) => {
                self.inbound.qos2.remove(&id);
                ReasonCode::Success
            }
            // PUBREL before our PUBREC: the server broke the flow.
            Some(Qos2::Delivered { .. }) => {
                return self.protocol_error(now, ClientError::Protocol("PUBREL before PUBREC"));
            }
            None => ReasonCode::PacketIdentifierNotFound,
        };
        let pubcomp = self.ack_packet(ack.packet_id, reason);
        if let Err(err) = self.write(now, &Packet::PubComp(pubcomp)) {
            self.protocol_error(now, err);
        }
    }
}
