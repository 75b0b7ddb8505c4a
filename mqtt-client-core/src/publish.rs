//! Outgoing messages: the publish queue, the window of the server's Receive Maximum,
//! packet ids, QoS 1 and QoS 2 flows, and re-sending on resume.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::BytesMut;
use mqtt_codec::{Packet, PacketId, Publish, PublishAck, QoS, ReasonCode};

use crate::client::{Client, ConnectionState};
use crate::error::ClientError;
use crate::event::{Event, PublishId};

/// What an outgoing QoS 1/2 message awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // Named after the packets awaited.
pub(crate) enum Awaiting {
    PubAck,
    PubRec,
    /// PUBREL sent: the PUBLISH is never sent again [MQTT-4.3.3-6].
    PubComp,
}

#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) id: PublishId,
    /// The message with its full topic; `packet_id` set while in flight.
    pub(crate) publish: Publish,
    pub(crate) awaiting: Awaiting,
    /// Sent (PUBLISH or, for `PubComp`, PUBREL) on the current connection: counts against
    /// the server's Receive Maximum [MQTT-3.3.4-7].
    pub(crate) sent: bool,
}

/// Outgoing session state [MQTT-4.1.0-1]: messages in flight in the order they were sent,
/// and messages waiting.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    pub(crate) inflight: VecDeque<Outgoing>,
    pub(crate) queue: VecDeque<(PublishId, Publish)>,
    next_id: u64,
}

impl Outbound {
    pub(crate) fn uses_packet_id(&self, id: u16) -> bool {
        self.inflight
            .iter()
            .any(|o| o.publish.packet_id.is_some_and(|p| p.get() == id))
    }

    fn sent(&self) -> usize {
        self.inflight.iter().filter(|o| o.sent).count()
    }

    /// The connection closed: nothing counts against a window until the next one.
    pub(crate) fn connection_closed(&mut self) {
        for outgoing in &mut self.inflight {
            outgoing.sent = false;
        }
    }

    /// The server started a new session. A QoS 2 message whose PUBREC came is the
    /// server's already and its PUBLISH is never sent again [MQTT-4.3.3-6]: it is complete.
    /// What else was in flight goes back to the front of the queue, in order, to be sent as
    /// new messages. Returns the completed ones and how many go again.
    pub(crate) fn restart_session(&mut self) -> (Vec<PublishId>, usize) {
        let mut completed = Vec::new();
        let mut republished = 0;
        for mut outgoing in self.inflight.drain(..).rev() {
            if outgoing.awaiting == Awaiting::PubComp {
                completed.push(outgoing.id);
                continue;
            }
            republished += 1;
            outgoing.publish.packet_id = None;
            outgoing.publish.dup = false;
            self.queue.push_front((outgoing.id, outgoing.publish));
        }
        completed.reverse();
        (completed, republished)
    }

    fn position(&self, packet_id: PacketId, awaiting: Awaiting) -> Option<usize> {
        self.inflight
            .iter()
            .position(|o| o.publish.packet_id == Some(packet_id) && o.awaiting == awaiting)
    }
}

impl Client {
    /// Publishes a message: QoS 0 goes at once (when connected); QoS 1/2 goes within the
    /// server's Receive Maximum and waits in a bounded queue otherwise (and while
    /// disconnected). The returned id comes back in [`Event::PublishCompleted`] for QoS 1/2.
    ///
    /// `publish.packet_id` and `publish.dup` are set by the client. Refused at once: a
    /// packet the codec cannot encode, and, once connected, a QoS or RETAIN the server does
    /// not support or a packet larger than its Maximum Packet Size.
    pub fn publish(
        &mut self,
        now: Instant,
        mut publish: Publish,
    ) -> Result<PublishId, ClientError> {
        if !publish.properties.subscription_identifiers.is_empty() {
            // Only servers send them [MQTT-3.3.4-6].
            return Err(ClientError::InvalidPublish("subscription identifier"));
        }
        // Topic aliases are the client's to choose, within the server's maximum
        // [MQTT-3.3.2-9] (see `ConnectOptions::outgoing_topic_aliases`).
        if publish.properties.topic_alias.is_some() {
            publish.properties.topic_alias = None;
        }
        publish.dup = false;
        publish.packet_id = (publish.qos > QoS::AtMostOnce).then_some(PacketId::MIN);
        // Validate and measure with the packet id it will have.
        let mut scratch = BytesMut::new();
        Packet::Publish(publish.clone()).encode(self.version, &mut scratch)?;
        if self.state == ConnectionState::Connected {
            self.check_limits(&publish, scratch.len())?;
        }
        publish.packet_id = None;
        self.outbound.next_id += 1;
        let id = PublishId(self.outbound.next_id);
        self.outbound.queue.push_back((id, publish));
        self.pump(now);
        // Only what has to wait counts against the queue bound.
        if self.outbound.queue.len() > self.options.max_queued_publishes {
            self.outbound.queue.pop_back();
            return Err(ClientError::QueueFull);
        }
        Ok(id)
    }

    /// The server's limits: Maximum QoS [MQTT-3.2.2-11], Retain Available [MQTT-3.2.2-14],
    /// Maximum Packet Size [MQTT-3.1.2-24].
    fn check_limits(&self, publish: &Publish, size: usize) -> Result<(), ClientError> {
        if publish.qos > self.limits.maximum_qos {
            return Err(ClientError::QoSNotSupported);
        }
        if publish.retain && !self.limits.retain_available {
            return Err(ClientError::RetainNotSupported);
        }
        if size > self.limits.maximum_packet_size as usize {
            return Err(ClientError::PacketTooLarge {
                size,
                max: self.limits.maximum_packet_size,
            });
        }
        Ok(())
    }

    /// Sends what the window allows: first the unacknowledged PUBLISHes of an earlier
    /// connection (DUP 1, original packet ids, original order [MQTT-4.4.0-1]), then queued
    /// messages. QoS 0 messages wait behind QoS 1/2 ones, keeping the order.
    pub(crate) fn pump(&mut self, now: Instant) {
        if self.state != ConnectionState::Connected {
            return;
        }
        let window = usize::from(self.limits.receive_maximum);
        let mut in_window = self.outbound.sent();
        let mut index = 0;
        while index < self.outbound.inflight.len() && in_window < window {
            let outgoing = &mut self.outbound.inflight[index];
            if outgoing.sent {
                index += 1;
                continue;
            }
            let mut publish = outgoing.publish.clone();
            publish.dup = true; // [MQTT-3.3.1-1]
                                // The server of this connection may allow less than the last one did.
            let size = Packet::Publish(publish.clone()).encoded_len(self.version);
            if let Err(err) = self.check_limits(&publish, size) {
                let reason = err.reason_code_for_publish();
                self.outbound.inflight[index].sent = true;
                self.complete_at(index, reason);
                continue;
            }
            self.outbound.inflight[index].sent = true;
            index += 1;
            in_window += 1;
            if let Err(err) = self.write(now, &Packet::Publish(publish)) {
                return self.protocol_error(now, err);
            }
        }
        if self.outbound.inflight.iter().any(|o| !o.sent) {
            return;
        }
        while let Some((_, front)) = self.outbound.queue.front() {
            if front.qos > QoS::AtMostOnce && in_window >= window {
                break;
            }
            let Some((id, mut publish)) = self.outbound.queue.pop_front() else {
                break;
            };
            // A message queued before the CONNACK meets the server's limits now, measured
            // with the packet id it will carry.
            let mut measured = publish.clone();
            if measured.qos > QoS::AtMostOnce {
                measured.packet_id = Some(PacketId::MIN);
            }
            let size = Packet::Publish(measured).encoded_len(self.version);
            if let Err(err) = self.check_limits(&publish, size) {
                if publish.qos > QoS::AtMostOnce {
                    self.events.push_back(Event::PublishCompleted {
                        id,
                        reason_code: err.reason_code_for_publish(),
                    });
                }
                continue;
            }
            if publish.qos > QoS::AtMostOnce {
                let Some(packet_id) = self.next_packet_id() else {
                    self.outbound.queue.push_front((id, publish));
                    break;
                };
                publish.packet_id = Some(packet_id);
                in_window += 1;
            }
            let wire = self.with_topic_alias(&publish, size);
            if let Err(err) = self.write(now, &Packet::Publish(wire)) {
                return self.protocol_error(now, err);
            }
            if publish.qos > QoS::AtMostOnce {
                let awaiting = if publish.qos == QoS::AtLeastOnce {
                    Awaiting::PubAck
                } else {
                    Awaiting::PubRec
                };
                self.outbound.inflight.push_back(Outgoing {
                    id,
                    publish,
                    awaiting,
                    sent: true,
                });
            }
        }
    }

    /// On a resumed session, the PUBRELs of messages that had their PUBREC go again in
    /// order [MQTT-4.4.0-1]; the PUBLISHes follow from [`Client::pump`].
    pub(crate) fn resume(&mut self, now: Instant) {
        let mut pubrels = Vec::new();
        for outgoing in &mut self.outbound.inflight {
            if outgoing.awaiting == Awaiting::PubComp {
                // Its PUBREL goes again; the PUBLISH never does [MQTT-4.3.3-6]. It counts
                // against the window until its PUBCOMP.
                outgoing.sent = true;
                if let Some(packet_id) = outgoing.publish.packet_id {
                    pubrels.push(packet_id);
                }
            }
        }
        for packet_id in pubrels {
            if let Err(err) = self.write(now, &Packet::PubRel(PublishAck::new(packet_id))) {
                return self.protocol_error(now, err);
            }
        }
    }

    /// Replaces the topic by an alias when allowed and configured (v5 3.3.2.3.4).
    /// An alias never makes the packet larger than the server accepts [MQTT-3.2.2-15]:
    /// a new alias that would (topic and alias together) is not assigned. `size` is the
    /// packet's size without an alias.
    fn with_topic_alias(&mut self, publish: &Publish, size: usize) -> Publish {
        let mut wire = publish.clone();
        let maximum = self.limits.topic_alias_maximum;
        if !self.active.outgoing_topic_aliases || maximum == 0 || !self.version.is_v5() {
            return wire;
        }
        if let Some(&alias) = self.aliases_out.get(&publish.topic) {
            wire.topic = mqtt_codec::MqttString::new();
            wire.properties.topic_alias = std::num::NonZeroU16::new(alias);
        } else if self.aliases_out.len() < usize::from(maximum) {
            // The Topic Alias property takes 3 bytes (and may lengthen the property length).
            if size + 4 > self.limits.maximum_packet_size as usize {
                return wire;
            }
            let alias = self.aliases_out.len() as u16 + 1;
            self.aliases_out.insert(publish.topic.clone(), alias);
            wire.properties.topic_alias = std::num::NonZeroU16::new(alias);
        }
        wire
    }

    fn complete(&mut self, now: Instant, index: usize, reason_code: ReasonCode) {
        self.complete_at(index, reason_code);
        // The packet id is free and the window has room [MQTT-4.3.2-5].
        self.pump(now);
    }

    fn complete_at(&mut self, index: usize, reason_code: ReasonCode) {
        if let Some(done) = self.outbound.inflight.remove(index) {
            self.events.push_back(Event::PublishCompleted {
                id: done.id,
                reason_code,
            });
        }
    }

    pub(crate) fn handle_puback(&mut self, now: Instant, ack: &PublishAck) {
        // An unknown id is ignored: it may answer a PUBLISH of an earlier session.
        if let Some(index) = self.outbound.position(ack.packet_id, Awaiting::PubAck) {
            self.complete(now, index, ack.reason_code);
        }
    }

    pub(crate) fn handle_pubrec(&mut self, now: Instant, ack: &PublishAck) {
        let Some(index) = self.outbound.position(ack.packet_id, Awaiting::PubRec) else {
            // A repeated PUBREC gets its PUBREL again; an unknown one PUBREL 0x92
            // (v5 3.6.2.1) [MQTT-4.3.3-4].
            let known = self
                .outbound
                .position(ack.packet_id, Awaiting::PubComp)
                .is_some();
            let reason = if known {
                ReasonCode::Success
            } else {
                ReasonCode::PacketIdentifierNotFound
            };
            let pubrel = self.ack_packet(ack.packet_id, reason);
            if let Err(err) = self.write(now, &Packet::PubRel(pubrel)) {
                self.protocol_error(now, err);
            }
            return;
        };
        // A PUBREC with an error ends the flow (v5 4.3.3).
        if ack.reason_code.is_error() {
            return self.complete(now, index, ack.reason_code);
        }
        // Now only the PUBREL goes, never the PUBLISH again [MQTT-4.3.3-6], even if the
        // PUBREC came before the PUBLISH was re-sent on this connection.
        let outgoing = &mut self.outbound.inflight[index];
        outgoing.awaiting = Awaiting::PubComp;
        outgoing.sent = true;
        // PUBREL, and the PUBLISH is never sent again [MQTT-4.3.3-6].
        if let Err(err) = self.write(now, &Packet::PubRel(PublishAck::new(ack.packet_id))) {
            self.protocol_error(now, err);
        }
    }

    pub(crate) fn handle_pubcomp(&mut self, now: Instant, ack: &PublishAck) {
        if let Some(index) = self.outbound.position(ack.packet_id, Awaiting::PubComp) {
            // 0x92 answers a PUBREL re-sent after the server had already completed the
            // message (its PUBCOMP was lost): "not an error during recovery" (v5 3.7.2.1).
            // The message was delivered.
            let reason = match ack.reason_code {
                ReasonCode::PacketIdentifierNotFound => ReasonCode::Success,
                other => other,
            };
            self.complete(now, index, reason);
        }
    }
}

impl ClientError {
    /// The reason code reported for a queued publish the server's limits refused.
    fn reason_code_for_publish(&self) -> ReasonCode {
        match self {
            Self::QoSNotSupported => ReasonCode::QoSNotSupported,
            Self::RetainNotSupported => ReasonCode::RetainNotSupported,
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            _ => ReasonCode::ImplementationSpecificError,
        }
    }
}
