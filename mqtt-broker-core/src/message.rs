//! Application messages as the broker holds them, and their deliveries to sessions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_codec::{Properties, Publish, PublishProperties, QoS, SubscriptionId};
use mqtt_topic::TopicName;

/// An application message accepted from a publisher (or a will, or `$SYS`), shared by every
/// session it goes to: fan-out clones one `Arc`, never the topic or payload.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) topic: TopicName,
    pub(crate) payload: Bytes,
    /// The QoS it was published with.
    pub(crate) qos: QoS,
    /// The RETAIN flag it was published with (for v5 Retain As Published).
    pub(crate) retain: bool,
    /// Forwarded unaltered [MQTT-3.3.2-4]..: without Topic Alias and Subscription
    /// Identifiers, which are per connection and per subscription; the Message Expiry
    /// Interval is rewritten with what remains [MQTT-3.3.2-6].
    pub(crate) properties: Properties<PublishProperties>,
    /// When the v5 Message Expiry Interval runs out [MQTT-3.3.2-5].
    pub(crate) expires_at: Option<Instant>,
    /// The record that must be stored before the message may reach a subscriber (the
    /// publisher's QoS 2 packet id); 0 for none.
    pub(crate) after_record: u64,
}

impl Message {
    /// Takes over a received PUBLISH, whose topic (alias resolved) is `topic`.
    pub(crate) fn from_publish(publish: Publish, topic: TopicName, now: Instant) -> Self {
        let mut properties = publish.properties;
        // An interval of 0 would expire the message before anyone could have it: it is
        // taken as no expiry, as Mosquitto does, and forwarded as published.
        let expires_at = properties
            .message_expiry_interval
            .filter(|&secs| secs > 0)
            .map(|secs| now + Duration::from_secs(u64::from(secs)));
        if !properties.is_empty() {
            properties.topic_alias = None;
            properties.subscription_identifiers.clear();
            if properties.is_empty() {
                properties = Properties::default();
            }
        }
        Self {
            topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties,
            expires_at,
            after_record: 0,
        }
    }

    /// Seconds left before it expires, rounded up; `Some(0)` once it has expired.
    pub(crate) fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }

    /// At or past its expiry.
    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// The message as a PUBLISH to store or to send, with the expiry interval that remains.
    pub(crate) fn to_publish(&self, now: Instant) -> Publish {
        let mut publish = Publish::new(self.topic.as_mqtt_string().clone(), self.payload.clone());
        publish.qos = self.qos;
        publish.retain = self.retain;
        publish.properties = self.properties.clone();
        if let Some(left) = self.remaining_expiry(now) {
            publish.properties.message_expiry_interval = Some(left);
        }
        publish
    }
}

/// One message on its way to one session: in the session's queue or in flight.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) message: Arc<Message>,
    /// min(published QoS, granted QoS) (3.1.1 [MQTT-3.8.4-6], v5 [MQTT-3.8.4-8]).
    pub(crate) qos: QoS,
    /// The RETAIN flag to send.
    pub(crate) retain: bool,
    /// Every matching subscription's identifier [MQTT-3.3.4-3].
    pub(crate) subscription_ids: Vec<SubscriptionId>,
    /// The shared subscription (`$share/{name}/{filter}`) it was routed through, so it can
    /// be routed to another member if this one leaves before it is sent.
    pub(crate) shared_group: Option<Arc<str>>,
    /// Sent because of a new subscription: not counted against the queue limits, so a `#`
    /// subscription gets every retained message, paced by the window.
    pub(crate) from_retained: bool,
    /// Its key in the durable store, while it has one.
    pub(crate) stored_seq: Option<u64>,
}

impl Delivery {
    pub(crate) fn new(message: Arc<Message>, qos: QoS, retain: bool) -> Self {
        Self {
            message,
            qos,
            retain,
            subscription_ids: Vec::new(),
            shared_group: None,
            from_retained: false,
            stored_seq: None,
        }
    }

    /// Payload bytes it adds to a queue.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.message.payload.len()
    }
}
