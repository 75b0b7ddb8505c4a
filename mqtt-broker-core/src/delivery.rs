//! Messages towards clients: the inflight window, packet ids, the session queue, and the
//! acknowledgements clients send back (v5 section 4.3, 3.1.1 section 4.3).

use std::time::Instant;

use mqtt_codec::{Packet, PacketId, Publish, PublishAck, QoS, ReasonCode};

use crate::broker::{connection_slot, Broker, ConnectionState};
use crate::event::ConnectionHandle;
use crate::message::Delivery;
use crate::session::{Awaiting, QueueLimits, SessionId};
use crate::store::{OutgoingRecord, Record};

impl Broker {
    pub(crate) fn queue_limits(&self) -> QueueLimits {
        QueueLimits {
            max_messages: self.config.max_queued_messages,
            max_bytes: self.config.max_queued_bytes,
        }
    }

    /// Moves queued deliveries of session `id` to its connection while its window
    /// (the client's Receive Maximum [MQTT-3.3.4-9]) and write buffer have room. Order is
    /// kept: a QoS 0 message does not overtake a QoS 1 message waiting for the window
    /// [MQTT-4.6.0-6].
    pub(crate) fn pump(&mut self, now: Instant, id: SessionId) {
        let max_pending = self.config.max_pending_write_bytes;
        let Some(session) = self.sessions.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        let Some(handle) = session.connection else {
            return;
        };
        let Some(conn) = connection_slot(&mut self.connections, handle) else {
            return;
        };
        if conn.state != ConnectionState::Connected {
            return;
        }
        let v5 = conn.is_v5();
        let start = conn.out.len();
        // `max_pending_write_bytes` 0 still lets one packet through at a time.
        let max_pending = max_pending.max(1);
        let mut records = Vec::new();
        let mut dropped = 0;
        let mut sent = 0;
        // The last record the bytes written here depend on.
        let mut after_record = 0;
        // Unacknowledged PUBLISHes of an earlier connection go first, with DUP 1, their
        // original packet ids and order [MQTT-4.4.0-1], within the window [MQTT-3.3.4-9].
        while conn.out.len() < max_pending
            && session.outbound.in_window() < usize::from(conn.send_quota)
        {
            let Some(inflight) = session.outbound.next_resend() else {
                break;
            };
            let mut publish = outgoing(now, &inflight.delivery, Some(inflight.packet_id), v5);
            publish.dup = true; // [MQTT-3.3.1-1]
            let packet_id = inflight.packet_id;
            after_record = after_record.max(inflight.delivery.message.after_record);
            let publish = Packet::Publish(publish);
            if publish.encoded_len(conn.version) <= conn.max_packet_size as usize
                && publish.encode(conn.version, &mut conn.out.bytes).is_ok()
            {
                sent += 1;
            } else {
                // Too large for this connection's client: dropped as if delivered
                // [MQTT-3.1.2-25].
                let index = session.outbound.inflight_position(packet_id);
                if let Some(done) = index.and_then(|i| session.outbound.remove_inflight(i)) {
                    dropped += 1;
                    records.extend(done.delivery.stored_seq.map(|seq| (seq, None)));
                }
            }
        }
        while conn.out.len() < max_pending && session.outbound.unsent() == 0 {
            let Some(front) = session.outbound.queue.front() else {
                break;
            };
            if front.qos > QoS::AtMostOnce
                && session.outbound.in_window() >= usize::from(conn.send_quota)
            {
                break;
            }
            let Some(delivery) = session.outbound.pop_front() else {
                break;
            };
            // Expired messages are not sent [MQTT-3.3.2-5].
            if delivery.message.is_expired(now) {
                self.stats.messages_expired += 1;
                records.extend(delivery.stored_seq.map(|seq| (seq, None)));
                continue;
            }
            let packet_id = if delivery.qos > QoS::AtMostOnce {
                session.outbound.next_packet_id()
            } else {
                None
            };
            let publish = Packet::Publish(outgoing(now, &delivery, packet_id, v5));
            // Never more than the client's Maximum Packet Size: drop it as if sent
            // [MQTT-3.1.2-24], [MQTT-3.1.2-25].
            if publish.encoded_len(conn.version) > conn.max_packet_size as usize
                || publish.encode(conn.version, &mut conn.out.bytes).is_err()
            {
                dropped += 1;
                records.extend(delivery.stored_seq.map(|seq| (seq, None)));
                continue;
            }
            sent += 1;
            after_record = after_record.max(delivery.message.after_record);
            if let Some(packet_id) = packet_id {
                let state = if delivery.qos == QoS::AtLeastOnce {
                    Awaiting::PubAck
                } else {
                    Awaiting::PubRec
                };
                if let Some(seq) = delivery.stored_seq {
                    // Recorded with every v5 property, whatever this connection speaks: a
                    // later connection of the session may be v5.
                    records.push((
                        seq,
                        Some(OutgoingRecord {
                            publish: outgoing(now, &delivery, Some(packet_id), true),
                            released: false,
                        }),
                    ));
                }
                session
                    .outbound
                    .push_inflight(packet_id, delivery, state, true);
            }
        }
        self.stats.messages_sent += sent;
        self.stats.publish_sent += sent;
        self.stats.publish_dropped += dropped;
        if !records.is_empty() {
            let client_id = session.client_id.clone();
            for (seq, delivery) in records {
                self.persist(Record::Outgoing {
                    client_id: client_id.clone(),
                    seq,
                    delivery,
                });
            }
            // A PUBLISH in flight keeps its packet id across a restart [MQTT-4.4.0-1].
            after_record = after_record.max(self.last_record);
        }
        self.written(handle, start, after_record);
    }

    /// On session resume the PUBRELs of messages that had their PUBREC go again, in
    /// order [MQTT-4.4.0-1]; unacknowledged PUBLISHes follow from [`Broker::pump`] as the
    /// new connection's window allows.
    pub(crate) fn resend_inflight(&mut self, id: SessionId, handle: ConnectionHandle) {
        let Some(session) = self.session_mut(id) else {
            return;
        };
        session.outbound.reset_window();
        let pubrels: Vec<Packet> = session
            .outbound
            .inflight
            .iter()
            .filter(|inflight| inflight.state == Awaiting::PubComp)
            .map(|inflight| Packet::PubRel(PublishAck::new(inflight.packet_id)))
            .collect();
        for packet in &pubrels {
            self.send_ack(handle, packet);
        }
    }

    fn finish_inflight(&mut self, now: Instant, id: SessionId, index: usize) {
        let Some(session) = self.session_mut(id) else {
            return;
        };
        let Some(done) = session.outbound.remove_inflight(index) else {
            return;
        };
        if let Some(seq) = done.delivery.stored_seq {
            let client_id = session.client_id.clone();
            self.persist(Record::Outgoing {
                client_id,
                seq,
                delivery: None,
            });
        }
        // The packet id is free again [MQTT-4.3.2-5]; the window has room.
        self.pump(now, id);
    }

    fn inflight_index(&self, id: SessionId, packet_id: PacketId, state: Awaiting) -> Option<usize> {
        let outbound = &self.session(id)?.outbound;
        let index = outbound.inflight_position(packet_id)?;
        (outbound.inflight[index].state == state).then_some(index)
    }

    pub(crate) fn handle_puback(&mut self, now: Instant, id: SessionId, ack: &PublishAck) {
        if let Some(index) = self.inflight_index(id, ack.packet_id, Awaiting::PubAck) {
            self.finish_inflight(now, id, index);
        }
    }

    pub(crate) fn handle_pubrec(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        id: SessionId,
        ack: &PublishAck,
    ) {
        let v5 = self.connection(connection).is_some_and(|c| c.is_v5());
        let Some(index) = self.inflight_index(id, ack.packet_id, Awaiting::PubRec) else {
            // A repeated PUBREC of a message already released gets its PUBREL again
            // [MQTT-4.3.3-4]; an unknown packet id gets PUBREL 0x92 (v5 3.6.2.1).
            let reason = if self
                .inflight_index(id, ack.packet_id, Awaiting::PubComp)
                .is_some()
            {
                ReasonCode::Success
            } else {
                ReasonCode::PacketIdentifierNotFound
            };
            self.send_ack(
                connection,
                &Packet::PubRel(Self::ack_with(ack.packet_id, reason, v5)),
            );
            return;
        };
        // A PUBREC with an error code ends the flow [MQTT-4.3.3 v5 4.3.3-4 context].
        if ack.reason_code.is_error() {
            self.finish_inflight(now, id, index);
            return;
        }
        let Some(session) = self.session_mut(id) else {
            return;
        };
        let inflight = session.outbound.mark_released(index);
        let record = inflight.delivery.stored_seq.map(|seq| {
            let publish = outgoing(now, &inflight.delivery, Some(inflight.packet_id), true);
            (seq, publish)
        });
        let client_id = session.client_id.clone();
        if let Some((seq, publish)) = record {
            self.persist(Record::Outgoing {
                client_id,
                seq,
                delivery: Some(OutgoingRecord {
                    publish,
                    released: true,
                }),
            });
        }
        // After the "released" record: the PUBLISH is never sent again [MQTT-4.3.3-6].
        self.send_ack(connection, &Packet::PubRel(PublishAck::new(ack.packet_id)));
    }

    pub(crate) fn handle_pubcomp(&mut self, now: Instant, id: SessionId, ack: &PublishAck) {
        if let Some(index) = self.inflight_index(id, ack.packet_id, Awaiting::PubComp) {
            self.finish_inflight(now, id, index);
        }
    }

    /// PUBREL from the client: the QoS 2 message it released may now be forgotten; PUBCOMP
    /// (0x92 in v5 if the packet id was not awaiting release) [MQTT-4.3.3-11].
    pub(crate) fn handle_pubrel(
        &mut self,
        connection: ConnectionHandle,
        id: SessionId,
        ack: &PublishAck,
    ) {
        let v5 = self.connection(connection).is_some_and(|c| c.is_v5());
        let Some(session) = self.session_mut(id) else {
            return;
        };
        let released = session.incoming_qos2.remove(&ack.packet_id.get());
        let reason = if released {
            if session.is_persistent() {
                let client_id = session.client_id.clone();
                self.persist(Record::IncomingQos2 {
                    client_id,
                    packet_id: ack.packet_id,
                    pending: false,
                });
            }
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        self.send_ack(
            connection,
            &Packet::PubComp(Self::ack_with(ack.packet_id, reason, v5)),
        );
        // Only the PUBCOMP of a flow this broker counted returns quota [MQTT-3.3.4-7].
        if released {
            self.return_quota(connection);
        }
    }
}

/// The PUBLISH for a delivery: v5 properties forwarded [MQTT-3.3.2-4] with the
/// subscription identifiers [MQTT-3.3.4-3] and the remaining expiry [MQTT-3.3.2-6].
pub(crate) fn outgoing(
    now: Instant,
    delivery: &Delivery,
    packet_id: Option<PacketId>,
    v5: bool,
) -> Publish {
    let message = &delivery.message;
    let mut publish = if v5 {
        let mut publish = message.to_publish(now);
        if !delivery.subscription_ids.is_empty() {
            publish
                .properties
                .subscription_identifiers
                .clone_from(&delivery.subscription_ids);
        }
        publish
    } else {
        Publish::new(
            message.topic.as_mqtt_string().clone(),
            message.payload.clone(),
        )
    };
    publish.qos = delivery.qos;
    publish.retain = delivery.retain;
    publish.packet_id = packet_id;
    publish
}
