//! PUBLISH from clients: topic aliases, authorisation, QoS 1/2 acknowledgement, retained
//! messages and routing to subscribers.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mqtt_codec::{MqttString, Packet, Publish, QoS, ReasonCode, SubscriptionId};
use mqtt_topic::{Match, TopicName};

use crate::auth::ClientInfo;
use crate::broker::{connection_slot, Broker};
use crate::event::ConnectionHandle;
use crate::message::{Delivery, Message};
use crate::session::{SessionId, Subscription};
use crate::store::Record;

/// One matching subscription of a session (a session may have several).
#[derive(Debug)]
pub(crate) struct Target {
    session: SessionId,
    subscription: Subscription,
}

/// The levels of a topic name or filter, counted without splitting.
pub(crate) fn level_count(topic: &str) -> usize {
    topic.bytes().filter(|&b| b == b'/').count() + 1
}

impl Broker {
    pub(crate) fn handle_publish(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        session_id: SessionId,
        mut publish: Publish,
    ) {
        self.stats.publish_received += 1;
        let Some(conn) = connection_slot(&mut self.connections, connection) else {
            return;
        };
        let v5 = conn.is_v5();

        // A client's PUBLISH carries no Subscription Identifier (v5 [MQTT-3.3.4-6]).
        if !publish.properties.subscription_identifiers.is_empty() {
            return self.protocol_violation(now, connection, ReasonCode::ProtocolError);
        }
        // v5: a QoS above Maximum QoS is 0x9B, RETAIN without Retain Available 0x9A
        // [MQTT-3.2.2-11], [MQTT-3.2.2-14].
        if publish.qos > self.config.maximum_qos {
            return self.protocol_violation(now, connection, ReasonCode::QoSNotSupported);
        }
        if publish.retain && !self.config.retain_available {
            return self.protocol_violation(now, connection, ReasonCode::RetainNotSupported);
        }

        // Topic alias [MQTT-3.3.2-7]..[MQTT-3.3.2-12]: 0 or above our maximum is 0x94;
        // an empty topic with an unknown alias is a protocol error.
        if let Some(alias) = publish.properties.topic_alias {
            let slot = usize::from(alias.get()) - 1;
            let Some(known) = conn.topic_aliases.get_mut(slot) else {
                return self.protocol_violation(now, connection, ReasonCode::TopicAliasInvalid);
            };
            if publish.topic.is_empty() {
                match known {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        return self.protocol_violation(now, connection, ReasonCode::ProtocolError)
                    }
                }
            } else {
                // Kept beyond this packet: a copy, so the alias does not pin the read buffer.
                *known = Some(copy_string(&publish.topic));
            }
        }

        let qos = publish.qos;
        let packet_id = publish.packet_id;

        // v5 Receive Maximum: more unacknowledged QoS 1/2 publishes than we allow is 0x93
        // (v5 [MQTT-3.3.4-7], section 3.3.4). A repeated QoS 2 PUBLISH awaiting PUBREL does not count again.
        let duplicate_qos2 = qos == QoS::ExactlyOnce
            && packet_id.is_some_and(|id| {
                self.session(session_id)
                    .is_some_and(|s| s.incoming_qos2.contains(&id.get()))
            });
        if qos > QoS::AtMostOnce && !duplicate_qos2 {
            let Some(conn) = self.connection_mut(connection) else {
                return;
            };
            conn.inbound_inflight += 1;
            if v5 && conn.inbound_inflight > u32::from(self.config.receive_maximum) {
                return self.protocol_violation(
                    now,
                    connection,
                    ReasonCode::ReceiveMaximumExceeded,
                );
            }
        }
        if duplicate_qos2 {
            // Already received: PUBREC again, and not forwarded again [MQTT-4.3.3-10].
            if let Some(id) = packet_id {
                self.send_ack(
                    connection,
                    &Packet::PubRec(Self::ack_with(id, ReasonCode::Success, v5)),
                );
            }
            return;
        }

        let topic = match TopicName::new(publish.topic.clone()) {
            Ok(topic) if level_count(topic.as_str()) <= self.config.max_topic_levels => topic,
            _ => return self.protocol_violation(now, connection, ReasonCode::TopicNameInvalid),
        };
        let allowed = !topic.is_dollar() && self.may_publish(connection, session_id, &topic);
        // A 3.1.1 client cannot be told of a refusal: its QoS 2 flow runs as usual.
        if let (QoS::ExactlyOnce, Some(id), true) = (qos, packet_id, allowed || !v5) {
            // PUBREC state is kept until PUBREL [MQTT-4.3.3-10], and recorded before the
            // message is forwarded: after a restart a repeated PUBLISH is still known.
            if let Some(session) = self.session_mut(session_id) {
                session.incoming_qos2.insert(id.get());
                if session.is_persistent() {
                    let client_id = session.client_id.clone();
                    self.persist(Record::IncomingQos2 {
                        client_id,
                        packet_id: id,
                        pending: true,
                    });
                }
            }
        }
        let reason = if allowed {
            let mut message = Message::from_publish(publish, topic, now);
            if qos == QoS::ExactlyOnce {
                // Forwarded only once its packet id is stored: after a restart, a repeated
                // PUBLISH must be known as a repeat [MQTT-4.3.3-10].
                message.after_record = self.last_record;
            }
            if self.publish_message(now, message, Some(session_id)) == 0 {
                ReasonCode::NoMatchingSubscribers
            } else {
                ReasonCode::Success
            }
        } else {
            // Clients cannot publish to `$` topics [MQTT-4.7.2-1 context]; a refused v5
            // QoS 1/2 message is answered 0x87, a 3.1.1 one acknowledged and dropped.
            self.stats.publish_dropped += 1;
            ReasonCode::NotAuthorized
        };

        let Some(id) = packet_id else {
            return;
        };
        let ack = Self::ack_with(id, reason, v5);
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.send_ack(connection, &Packet::PubAck(ack));
                self.return_quota(connection);
            }
            QoS::ExactlyOnce => {
                self.send_ack(connection, &Packet::PubRec(ack));
                if v5 && reason.is_error() {
                    // A PUBREC with an error ends the flow: the quota comes back
                    // (v5 section 4.9).
                    self.return_quota(connection);
                }
            }
        }
    }

    fn may_publish(
        &mut self,
        connection: ConnectionHandle,
        session: SessionId,
        topic: &TopicName,
    ) -> bool {
        let username = self.connection(connection).and_then(|c| c.username.clone());
        let Some(client_id) = self.session(session).map(|s| s.client_id.clone()) else {
            return false;
        };
        let client = ClientInfo {
            client_id: &client_id,
            username: username.as_ref().map(MqttString::as_str),
        };
        self.auth.authorize_publish(&client, topic)
    }

    /// Stores `message` if it is retained and routes it to every matching subscription.
    /// Returns how many sessions it went to.
    pub(crate) fn publish_message(
        &mut self,
        now: Instant,
        message: Message,
        publisher: Option<SessionId>,
    ) -> usize {
        if message.retain && self.config.retain_available {
            self.store_retained(now, &message);
        }
        self.route(now, &Arc::new(message), publisher)
    }

    /// A retained message replaces the topic's previous one; an empty payload deletes it and
    /// is not stored [MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-7] (v3 3.3.1-10/11).
    fn store_retained(&mut self, now: Instant, message: &Message) {
        let durable = !message.topic.as_str().starts_with("$SYS");
        if message.payload.is_empty() {
            if self.retained.remove(&message.topic).is_some() && durable {
                self.persist(Record::Retained {
                    topic: message.topic.as_mqtt_string().clone(),
                    message: None,
                });
            }
            return;
        }
        // Retained messages live long: copies, so they do not pin the receive buffers.
        let topic = TopicName::new(copy_string(message.topic.as_mqtt_string()))
            .unwrap_or_else(|_| message.topic.clone());
        let kept = Message {
            topic,
            payload: Bytes::copy_from_slice(&message.payload),
            qos: message.qos,
            retain: true,
            properties: message.properties.clone(),
            expires_at: message.expires_at,
            after_record: 0,
        };
        if durable {
            self.persist(Record::Retained {
                topic: kept.topic.as_mqtt_string().clone(),
                message: Some(kept.to_publish(now)),
            });
        }
        let topic = kept.topic.clone();
        self.retained.insert(&topic, Arc::new(kept));
    }

    /// Delivers `message` to each matching session once, at the highest QoS granted by its
    /// matching subscriptions and with all their identifiers ([MQTT-3.3.4-2], 3.1.1
    /// [MQTT-3.3.5-1]), and to one member of each matching shared group.
    fn route(
        &mut self,
        now: Instant,
        message: &Arc<Message>,
        publisher: Option<SessionId>,
    ) -> usize {
        let topic = &message.topic;
        let mut targets = core::mem::take(&mut self.route_scratch);
        let mut shared: Vec<(SessionId, Subscription, Arc<str>)> = Vec::new();
        let sessions = &self.sessions;
        let groups = &mut self.shared_groups;
        let key = &mut self.share_key;
        self.subscriptions.for_each_match(topic, |m| match m {
            Match::Subscriber(&session, &subscription) => {
                // No Local: not back to the publisher's own subscription [MQTT-3.8.3-3].
                if !(subscription.options.no_local && publisher == Some(session)) {
                    targets.push(Target {
                        session,
                        subscription,
                    });
                }
            }
            Match::Shared(group) => {
                key.clear();
                key.push_str("$share/");
                key.push_str(group.name());
                key.push('/');
                key.push_str(group.filter().as_str());
                // Every group with members has its cursor (subscribe creates it).
                let Some(entry) = groups.get_mut(key.as_str()) else {
                    return;
                };
                let members = group.members();
                let online = |i: usize| {
                    let (id, _) = members[i % members.len()];
                    sessions
                        .get(id as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|s| s.connection.is_some())
                };
                // Round robin over connected members; when none is connected, over all.
                let start = entry.next;
                let pick = (start..start + members.len())
                    .find(|&i| online(i))
                    .unwrap_or(start);
                entry.next = (pick + 1) % members.len();
                let (id, subscription) = members[pick % members.len()];
                shared.push((id, subscription, entry.name.clone()));
            }
        });
        targets.sort_unstable_by_key(|t| t.session);
        let mut delivered = 0;
        let mut i = 0;
        while i < targets.len() {
            let session = targets[i].session;
            let mut best = targets[i].subscription;
            let mut ids: Vec<SubscriptionId> = best.id.into_iter().collect();
            let mut retain_as_published = best.options.retain_as_published;
            i += 1;
            while i < targets.len() && targets[i].session == session {
                let other = targets[i].subscription;
                best.options.qos = best.options.qos.max(other.options.qos);
                retain_as_published |= other.options.retain_as_published;
                ids.extend(other.id);
                i += 1;
            }
            let mut delivery = Delivery::new(
                message.clone(),
                message.qos.min(best.options.qos),
                // Live messages go out with RETAIN 0 unless Retain As Published
                // [MQTT-3.3.1-12], [MQTT-3.3.1-13] (3.1.1 [MQTT-3.3.1-9]).
                message.retain && retain_as_published,
            );
            ids.sort_unstable();
            delivery.subscription_ids = ids;
            self.deliver(now, session, delivery);
            delivered += 1;
        }
        targets.clear();
        self.route_scratch = targets;
        for (session, subscription, group) in shared {
            let mut delivery = Delivery::new(
                message.clone(),
                message.qos.min(subscription.options.qos),
                message.retain && subscription.options.retain_as_published,
            );
            delivery.subscription_ids.extend(subscription.id);
            delivery.shared_group = Some(group);
            self.deliver(now, session, delivery);
            delivered += 1;
        }
        delivered
    }

    /// Routes a queued delivery of a shared group whose member left to another member.
    pub(crate) fn reroute_shared(&mut self, now: Instant, delivery: Delivery) {
        let Some(group_name) = delivery.shared_group.clone() else {
            return;
        };
        let topic = delivery.message.topic.clone();
        let mut chosen = None;
        let sessions = &self.sessions;
        self.subscriptions.for_each_match(&topic, |m| {
            if let Match::Shared(group) = m {
                let same = group_name
                    .strip_prefix("$share/")
                    .and_then(|rest| rest.strip_prefix(group.name()))
                    .and_then(|rest| rest.strip_prefix('/'))
                    == Some(group.filter().as_str());
                if chosen.is_none() && same {
                    let online = group.members().iter().find(|(id, _)| {
                        sessions
                            .get(*id as usize)
                            .and_then(Option::as_ref)
                            .is_some_and(|s| s.connection.is_some())
                    });
                    chosen = online.or(group.members().first()).copied();
                }
            }
        });
        match chosen {
            Some((session, subscription)) => {
                let mut delivery = delivery;
                delivery.qos = delivery.message.qos.min(subscription.options.qos);
                delivery.subscription_ids = subscription.id.into_iter().collect();
                self.deliver(now, session, delivery);
            }
            None => self.stats.publish_dropped += 1,
        }
    }

    /// Hands a delivery to a session: queued (within its limits) and sent as its window and
    /// write buffer allow. An offline session keeps QoS 1/2 messages (and QoS 0 ones when
    /// configured) for when it returns.
    pub(crate) fn deliver(&mut self, now: Instant, id: SessionId, mut delivery: Delivery) {
        let limits = self.queue_limits();
        let queue_qos0_offline = self.config.queue_qos0_offline;
        let durable = self.config.durable;
        let max_pending = self.config.max_pending_write_bytes.max(1);
        let Some(session) = self.sessions.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        let online = session.connection.is_some();
        if !online && delivery.qos == QoS::AtMostOnce && !queue_qos0_offline {
            return;
        }
        if durable && session.is_persistent() && delivery.qos > QoS::AtMostOnce {
            delivery.stored_seq = Some(session.next_seq);
            session.next_seq += 1;
        }
        let record = delivery.stored_seq.map(|seq| (seq, delivery.clone()));
        // A delivery that goes out at once is not held to the queue limits: they bound
        // what waits, not what passes [MQTT-4.5.0-1 context].
        let goes_out_now = session.connection.is_some_and(|handle| {
            session.outbound.queue.is_empty()
                && session.outbound.unsent() == 0
                && self.connections[handle.0].as_ref().is_some_and(|conn| {
                    conn.out.len() < max_pending
                        && (delivery.qos == QoS::AtMostOnce
                            || session.outbound.in_window() < usize::from(conn.send_quota))
                })
        });
        let dropped = session
            .outbound
            .enqueue(delivery, (!goes_out_now).then_some(limits));
        if record.is_some() || !dropped.is_empty() {
            let client_id = session.client_id.clone();
            if let Some((seq, delivery)) = record {
                if !dropped.iter().any(|d| d.stored_seq == Some(seq)) {
                    self.persist(Record::Outgoing {
                        client_id: client_id.clone(),
                        seq,
                        delivery: Some(crate::store::OutgoingRecord {
                            publish: crate::delivery::outgoing(now, &delivery, None, true),
                            released: false,
                        }),
                    });
                }
            }
            self.drop_deliveries(&client_id, dropped);
        }
        if online {
            self.pump(now, id);
        }
    }

    /// Counts deliveries dropped by a full queue and deletes their records.
    pub(crate) fn drop_deliveries(&mut self, client_id: &MqttString, dropped: Vec<Delivery>) {
        for delivery in dropped {
            self.stats.publish_dropped += 1;
            if let Some(seq) = delivery.stored_seq {
                self.persist(Record::Outgoing {
                    client_id: client_id.clone(),
                    seq,
                    delivery: None,
                });
            }
        }
    }
}

/// A copy of `s` in its own allocation.
pub(crate) fn copy_string(s: &MqttString) -> MqttString {
    MqttString::try_from(Bytes::copy_from_slice(s.as_bytes())).unwrap_or_else(|_| s.clone())
}
