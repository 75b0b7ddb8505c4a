//! Rebuilding a broker from stored records after a restart.

use std::sync::Arc;
use std::time::Instant;

use mqtt_codec::{MqttString, QoS};
use mqtt_topic::TopicName;

use crate::broker::Broker;
use crate::config::Config;
use crate::message::{Delivery, Message};
use crate::session::{Awaiting, Session, Subscription};
use crate::store::{OutgoingRecord, Record};

impl Broker {
    /// A broker rebuilt from the records a durable store kept (in any order): retained
    /// messages, persistent sessions (offline, their expiry counted from `now`) with their
    /// subscriptions, queued and inflight messages (re-sent with DUP when the client
    /// resumes [MQTT-4.4.0-1]) and received QoS 2 packet ids awaiting PUBREL.
    ///
    /// Message expiry intervals count from when each record was written; time the broker
    /// was down is not counted.
    pub fn restore<'a>(
        config: Config,
        now: Instant,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Self {
        let mut broker = Self::new(config, now);
        let mut outgoing: Vec<(&MqttString, u64, &OutgoingRecord)> = Vec::new();
        let mut incoming: Vec<(&MqttString, u16)> = Vec::new();
        for record in records {
            match record {
                Record::Retained {
                    topic,
                    message: Some(publish),
                } => {
                    if let Ok(name) = TopicName::new(topic.clone()) {
                        let message = Message::from_publish(publish.clone(), name.clone(), now);
                        broker.retained.insert(&name, Arc::new(message));
                    }
                }
                Record::Session {
                    client_id,
                    session: Some(stored),
                } => {
                    let serial = broker.serial();
                    let mut session =
                        Session::new(serial, client_id.clone(), stored.expiry_interval);
                    session.recorded = true;
                    let id = broker.insert_session(session);
                    for sub in &stored.subscriptions {
                        let subscription = Subscription {
                            options: sub.options,
                            id: sub.id,
                        };
                        broker.add_subscription(id, &sub.filter, subscription);
                    }
                    broker.start_session_expiry(now, id);
                }
                Record::Outgoing {
                    client_id,
                    seq,
                    delivery: Some(delivery),
                } => outgoing.push((client_id, *seq, delivery)),
                Record::IncomingQos2 {
                    client_id,
                    packet_id,
                    pending: true,
                } => incoming.push((client_id, packet_id.get())),
                _ => {}
            }
        }
        outgoing.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (client_id, seq, stored) in outgoing {
            let Some(session) = broker
                .session_ids
                .get(client_id)
                .copied()
                .and_then(|id| broker.sessions.get_mut(id as usize)?.as_mut())
            else {
                continue;
            };
            let publish = &stored.publish;
            let Ok(topic) = TopicName::new(publish.topic.clone()) else {
                continue;
            };
            let mut delivery = Delivery::new(
                Arc::new(Message::from_publish(publish.clone(), topic, now)),
                publish.qos,
                publish.retain,
            );
            delivery
                .subscription_ids
                .clone_from(&publish.properties.subscription_identifiers);
            delivery.stored_seq = Some(seq);
            session.next_seq = session.next_seq.max(seq + 1);
            match publish.packet_id {
                Some(packet_id) => {
                    let state = match (stored.released, publish.qos) {
                        (true, _) => Awaiting::PubComp,
                        (false, QoS::ExactlyOnce) => Awaiting::PubRec,
                        _ => Awaiting::PubAck,
                    };
                    session.outbound.note_packet_id(packet_id);
                    session
                        .outbound
                        .push_inflight(packet_id, delivery, state, false);
                }
                None => {
                    // Stored within the limits (or exempt from them, as retained messages
                    // sent for a new subscription): all of them come back.
                    session.outbound.enqueue(delivery, None);
                }
            }
        }
        for (client_id, packet_id) in incoming {
            if let Some(session) = broker
                .session_ids
                .get(client_id)
                .copied()
                .and_then(|id| broker.sessions.get_mut(id as usize)?.as_mut())
            {
                session.incoming_qos2.insert(packet_id);
            }
        }
        broker
    }
}
