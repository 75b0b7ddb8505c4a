//! Wills and the end of sessions: a will is published when the connection ends without a
//! normal DISCONNECT [MQTT-3.1.2-8], after its v5 Will Delay Interval or when the session
//! ends, whichever comes first [MQTT-3.1.3-9].

use std::time::{Duration, Instant};

use mqtt_codec::{MqttString, Properties, Will};
use mqtt_topic::TopicName;

use crate::auth::ClientInfo;
use crate::broker::Broker;
use crate::message::Message;
use crate::session::{PendingWill, SessionId};
use crate::store::Record;

impl Broker {
    /// The connection of session `id` ended abnormally: publish its will now, or hold it
    /// for its delay.
    pub(crate) fn schedule_will(
        &mut self,
        now: Instant,
        id: SessionId,
        will: Will,
        username: Option<MqttString>,
    ) {
        let delay = will.properties.will_delay_interval.unwrap_or(0);
        let Some(session) = self.session_mut(id) else {
            return;
        };
        if delay == 0 {
            let client_id = session.client_id.clone();
            self.publish_will(now, &client_id, username.as_ref(), will);
            return;
        }
        session.pending_will = Some(Box::new(PendingWill {
            message: will,
            username,
            at: now + Duration::from_secs(u64::from(delay)),
        }));
        self.rearm_session_timer(id);
    }

    pub(crate) fn publish_pending_will(&mut self, now: Instant, id: SessionId) {
        let Some(session) = self.session_mut(id) else {
            return;
        };
        if let Some(pending) = session.pending_will.take() {
            let client_id = session.client_id.clone();
            self.publish_will(now, &client_id, pending.username.as_ref(), pending.message);
        }
    }

    /// Publishes a will like any message of its client: `$` topics and topics the client
    /// may not publish to are dropped.
    fn publish_will(
        &mut self,
        now: Instant,
        client_id: &MqttString,
        username: Option<&MqttString>,
        will: Will,
    ) {
        let Ok(topic) = TopicName::new(will.topic.clone()) else {
            return;
        };
        if topic.is_dollar()
            || crate::publish::level_count(topic.as_str()) > self.config.max_topic_levels
        {
            return;
        }
        let client = ClientInfo {
            client_id,
            username: username.map(MqttString::as_str),
        };
        if !self.auth.authorize_publish(&client, &topic) {
            return;
        }
        let mut properties = Properties::<mqtt_codec::PublishProperties>::default();
        let wp = &will.properties;
        if !wp.is_empty() {
            properties.payload_format_indicator = wp.payload_format_indicator;
            properties.message_expiry_interval = wp.message_expiry_interval;
            properties.content_type.clone_from(&wp.content_type);
            properties.response_topic.clone_from(&wp.response_topic);
            properties.correlation_data.clone_from(&wp.correlation_data);
            properties.user_properties.clone_from(&wp.user_properties);
        }
        let expires_at = properties
            .message_expiry_interval
            .filter(|&secs| secs > 0)
            .map(|secs| now + Duration::from_secs(u64::from(secs)));
        let message = Message {
            topic,
            payload: will.payload,
            qos: will.qos.min(self.config.maximum_qos),
            retain: will.retain && self.config.retain_available,
            properties,
            expires_at,
            after_record: 0,
        };
        self.stats.wills_published += 1;
        self.publish_message(now, message, None);
    }

    /// A disconnected session starts its expiry [MQTT-3.1.2-23]; `u32::MAX` never expires.
    pub(crate) fn start_session_expiry(&mut self, now: Instant, id: SessionId) {
        let Some(session) = self.session_mut(id) else {
            return;
        };
        session.expires_at = (session.expiry_interval != u32::MAX)
            .then(|| now + Duration::from_secs(u64::from(session.expiry_interval)));
        self.rearm_session_timer(id);
    }

    /// Ends session `id`: its subscriptions go, queued messages routed through a shared
    /// subscription go to another member [MQTT-4.8.2-5 context], its pending will is
    /// published, and its records are deleted.
    pub(crate) fn end_session(&mut self, now: Instant, id: SessionId) {
        let Some(mut session) = self.remove_session_slot(id) else {
            return;
        };
        for (filter, _) in session.subscriptions.drain() {
            self.remove_subscription(id, &filter);
        }
        // Messages of shared subscriptions it had not acknowledged go to another member
        // (v5 section 4.8.2): queued ones, and QoS 1 ones in flight. A QoS 2 message in
        // flight goes to nobody else [MQTT-4.8.2-5].
        let mut rerouted = session.outbound.take_inflight(|i| {
            i.delivery.shared_group.is_some() && i.state == crate::session::Awaiting::PubAck
        });
        rerouted.extend(session.outbound.take_queued(|d| d.shared_group.is_some()));
        let client_id = session.client_id.clone();
        // Queued deliveries handed to other members lose their store keys: deleted here.
        let rerouted_seqs: Vec<u64> = rerouted.iter().filter_map(|d| d.stored_seq).collect();
        let recorded = session.recorded;
        for record in crate::persist::session_deletes(&mut session) {
            self.persist(record);
        }
        if recorded {
            for seq in rerouted_seqs {
                self.persist(Record::Outgoing {
                    client_id: client_id.clone(),
                    seq,
                    delivery: None,
                });
            }
        }
        for mut delivery in rerouted {
            delivery.stored_seq = None;
            self.reroute_shared(now, delivery);
        }
        if let Some(pending) = session.pending_will.take() {
            self.publish_will(now, &client_id, pending.username.as_ref(), pending.message);
        }
    }
}
