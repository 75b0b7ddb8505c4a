//! SUBSCRIBE and UNSUBSCRIBE: filters, shared subscriptions, authorisation, and the
//! retained messages a new subscription receives (v5 sections 3.8 to 3.11).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use mqtt_codec::{
    MqttString, Packet, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use mqtt_topic::{SharedSubscription, TopicError, TopicFilter};

use crate::auth::ClientInfo;
use crate::broker::{Broker, SharedCursor};
use crate::event::ConnectionHandle;
use crate::message::{Delivery, Message};
use crate::publish::{copy_string, level_count};
use crate::session::{SessionId, Subscription};
use crate::store::Record;

/// A subscribed filter, plain or shared.
enum Parsed {
    Plain(TopicFilter),
    Shared(SharedSubscription),
}

impl Parsed {
    fn parse(filter: &MqttString) -> Result<Self, TopicError> {
        match SharedSubscription::parse(filter)? {
            Some(shared) => Ok(Self::Shared(shared)),
            None => TopicFilter::new(filter.clone()).map(Self::Plain),
        }
    }

    /// The filter messages are matched against.
    fn filter(&self) -> &TopicFilter {
        match self {
            Self::Plain(filter) => filter,
            Self::Shared(shared) => shared.filter(),
        }
    }
}

impl Broker {
    pub(crate) fn handle_subscribe(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        session_id: SessionId,
        subscribe: Subscribe,
    ) {
        let Some(conn) = self.connection(connection) else {
            return;
        };
        let username = conn.username.clone();
        // A shared subscription with No Local is a protocol error [MQTT-3.8.3-4].
        for (filter, options) in &subscribe.filters {
            if options.no_local && filter.starts_with("$share/") {
                return self.protocol_violation(now, connection, ReasonCode::ProtocolError);
            }
        }
        let Some(client_id) = self.session(session_id).map(|s| s.client_id.clone()) else {
            return;
        };
        let id = subscribe.properties.subscription_identifier;
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        let mut changed = false;
        for (filter, options) in subscribe.filters {
            let parsed = match Parsed::parse(&filter) {
                Ok(parsed)
                    if level_count(parsed.filter().as_str()) <= self.config.max_topic_levels =>
                {
                    parsed
                }
                // 0x8F Topic Filter invalid; 3.1.1 has only 0x80 Failure [MQTT-3.9.3-2].
                _ => {
                    codes.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            let client = ClientInfo {
                client_id: &client_id,
                username: username.as_ref().map(MqttString::as_str),
            };
            if !self.auth.authorize_subscribe(&client, parsed.filter()) {
                codes.push(ReasonCode::NotAuthorized);
                continue;
            }
            let Some(session) = self.session(session_id) else {
                return;
            };
            let key = copy_string(&filter);
            if !session.subscriptions.contains_key(&key)
                && session.subscriptions.len() >= self.config.max_subscriptions_per_session
            {
                codes.push(ReasonCode::QuotaExceeded);
                continue;
            }
            // The granted QoS may be lower than asked (v5 3.9.3); deliveries use the lower
            // of it and the published QoS (3.1.1 [MQTT-3.8.4-6], v5 [MQTT-3.8.4-8]).
            let mut options = options;
            options.qos = options.qos.min(self.config.maximum_qos);
            let subscription = Subscription { options, id };
            let existed = self.subscribe_parsed(session_id, key, &parsed, subscription);
            changed = true;
            codes.push(granted_code(options.qos));
            // Retained messages on subscribe: v5 Retain Handling 0 always, 1 only for a new
            // subscription, 2 never [MQTT-3.3.1-9..11]; never for a shared subscription
            // (v5 4.8.2).
            let send_retained = match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendAtSubscribeIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            if let (true, Parsed::Plain(filter)) = (send_retained, &parsed) {
                self.collect_retained(now, filter, subscription, &mut retained);
            }
        }
        // The session record first: the SUBACK promises the subscription, across a restart
        // too. One reason code per filter, in order [MQTT-3.8.4-4], [MQTT-3.9.3-1]; the
        // codec writes 3.1.1's 0x80 Failure for every refusal.
        if changed {
            self.record_session(session_id);
        }
        self.send_ack(
            connection,
            &Packet::SubAck(SubAck::new(subscribe.packet_id, codes)),
        );
        // A retained message still queued for this session from an earlier subscription is
        // not queued again: the backlog of retained messages stays within the retained store,
        // however often a client subscribes.
        if !retained.is_empty() {
            if let Some(session) = self.session(session_id) {
                let queued: HashSet<usize> = session
                    .outbound
                    .queue
                    .iter()
                    .filter(|d| d.from_retained)
                    .map(|d| Arc::as_ptr(&d.message) as usize)
                    .collect();
                retained.retain(|d| !queued.contains(&(Arc::as_ptr(&d.message) as usize)));
            }
        }
        for delivery in retained {
            self.deliver(now, session_id, delivery);
        }
    }

    /// Retained messages matching `filter`, sent with RETAIN 1 [MQTT-3.3.1-8] (3.1.1
    /// [MQTT-3.3.1-8]) at min(their QoS, granted QoS) (v5 [MQTT-3.8.4-8]). They are not held to
    /// the queue limits: all of them go, paced by the window.
    fn collect_retained(
        &mut self,
        now: Instant,
        filter: &TopicFilter,
        subscription: Subscription,
        out: &mut Vec<Delivery>,
    ) {
        let mut expired: Vec<mqtt_topic::TopicName> = Vec::new();
        self.retained
            .for_each_match(filter, |message: &Arc<Message>| {
                if message.is_expired(now) {
                    expired.push(message.topic.clone());
                    return;
                }
                let mut delivery = Delivery::new(
                    message.clone(),
                    message.qos.min(subscription.options.qos),
                    true,
                );
                delivery.subscription_ids.extend(subscription.id);
                delivery.from_retained = true;
                out.push(delivery);
            });
        // Expired retained messages are deleted when found [MQTT-3.3.2-5].
        for topic in expired {
            self.retained.remove(&topic);
            self.persist(Record::Retained {
                topic: topic.into_inner(),
                message: None,
            });
        }
    }

    pub(crate) fn handle_unsubscribe(
        &mut self,
        now: Instant,
        connection: ConnectionHandle,
        session_id: SessionId,
        unsubscribe: Unsubscribe,
    ) {
        let mut codes = Vec::with_capacity(unsubscribe.filters.len());
        let mut changed = false;
        for filter in &unsubscribe.filters {
            let code = if Parsed::parse(filter).is_err() {
                ReasonCode::TopicFilterInvalid
            } else if self
                .session_mut(session_id)
                .and_then(|s| s.subscriptions.remove(filter))
                .is_some()
            {
                self.remove_subscription(session_id, filter);
                self.reroute_from(now, session_id, filter);
                changed = true;
                ReasonCode::Success
            } else {
                // UNSUBACK even when nothing was removed [MQTT-3.10.4-5]; v5 0x11.
                ReasonCode::NoSubscriptionExisted
            };
            codes.push(code);
        }
        if changed {
            self.record_session(session_id);
        }
        // 3.1.1 UNSUBACK has no reason codes; the codec leaves them out.
        let unsuback = UnsubAck::new(unsubscribe.packet_id, codes);
        self.send_ack(connection, &Packet::UnsubAck(unsuback));
    }

    /// Adds a subscription of session `id`, as restored from a record.
    pub(crate) fn add_subscription(
        &mut self,
        id: SessionId,
        filter: &MqttString,
        subscription: Subscription,
    ) {
        if let Ok(parsed) = Parsed::parse(filter) {
            self.subscribe_parsed(id, filter.clone(), &parsed, subscription);
        }
    }

    /// Subscribes session `id`; the same filter replaces the earlier subscription
    /// [MQTT-3.8.4-3]. Returns whether it replaced one.
    fn subscribe_parsed(
        &mut self,
        id: SessionId,
        key: MqttString,
        parsed: &Parsed,
        subscription: Subscription,
    ) -> bool {
        let existed = match parsed {
            Parsed::Plain(filter) => self.subscriptions.subscribe(filter, id, subscription),
            Parsed::Shared(shared) => {
                let replaced = self.subscriptions.subscribe_shared(
                    shared.share_name(),
                    shared.filter(),
                    id,
                    subscription,
                );
                if replaced.is_none() {
                    self.shared_groups
                        .entry(key.as_str().to_owned())
                        .or_insert_with(|| SharedCursor {
                            next: 0,
                            name: Arc::from(key.as_str()),
                            members: 0,
                        })
                        .members += 1;
                }
                replaced
            }
        }
        .is_some();
        if let Some(session) = self.session_mut(id) {
            session.subscriptions.insert(key, subscription);
        }
        existed
    }

    /// Removes session `id`'s subscription to `filter` (as subscribed) from the tree.
    pub(crate) fn remove_subscription(&mut self, id: SessionId, filter: &MqttString) {
        match Parsed::parse(filter) {
            Ok(Parsed::Plain(filter)) => {
                self.subscriptions.unsubscribe(&filter, &id);
            }
            Ok(Parsed::Shared(shared)) => {
                let removed = self.subscriptions.unsubscribe_shared(
                    shared.share_name(),
                    shared.filter(),
                    &id,
                );
                if removed.is_some() {
                    if let Some(cursor) = self.shared_groups.get_mut(filter.as_str()) {
                        cursor.members -= 1;
                        if cursor.members == 0 {
                            self.shared_groups.remove(filter.as_str());
                        }
                    }
                }
            }
            Err(_) => {}
        }
    }

    /// A member left shared group `filter`: its queued messages from that group go to
    /// another member.
    fn reroute_from(&mut self, now: Instant, id: SessionId, filter: &MqttString) {
        if !filter.starts_with("$share/") {
            return;
        }
        let Some(session) = self.session_mut(id) else {
            return;
        };
        let taken = session
            .outbound
            .take_queued(|d| d.shared_group.as_deref() == Some(filter.as_str()));
        let client_id = session.client_id.clone();
        for mut delivery in taken {
            if let Some(seq) = delivery.stored_seq.take() {
                self.persist(Record::Outgoing {
                    client_id: client_id.clone(),
                    seq,
                    delivery: None,
                });
            }
            self.reroute_shared(now, delivery);
        }
    }
}

/// The SUBACK code granting `qos` (0x00, 0x01, 0x02).
fn granted_code(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}
