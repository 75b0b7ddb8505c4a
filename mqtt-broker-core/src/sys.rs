//! Counters and the `$SYS/broker/...` topics, in Mosquitto's names, published as retained
//! messages at [`Config::sys_interval`](crate::Config::sys_interval) when their value
//! changed.

use std::time::Instant;

use bytes::Bytes;
use mqtt_codec::{Properties, QoS};
use mqtt_topic::TopicName;

use crate::broker::Broker;
use crate::message::Message;
use crate::timer::Timer;

/// What the broker counts. Totals since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections through CONNECT, now.
    pub clients_connected: u64,
    /// The most connected at once.
    pub clients_maximum: u64,
    /// Sessions held, connected or not ([`Broker::stats`] fills it in).
    pub sessions: u64,
    /// CONNECTs refused.
    pub connects_refused: u64,
    /// Packets received.
    pub messages_received: u64,
    /// Packets sent.
    pub messages_sent: u64,
    /// PUBLISH packets received.
    pub publish_received: u64,
    /// PUBLISH packets sent.
    pub publish_sent: u64,
    /// Messages dropped: queue full, too large for the client, refused by authorisation.
    pub publish_dropped: u64,
    /// Messages that expired before they could be sent.
    pub messages_expired: u64,
    /// Wills published.
    pub wills_published: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes handed to the adapter to send.
    pub bytes_sent: u64,
    /// Retained messages held ([`Broker::stats`] fills it in).
    pub retained_messages: u64,
    /// Subscriptions held ([`Broker::stats`] fills it in).
    pub subscriptions: u64,
}

impl Broker {
    pub(crate) fn sys_timer(&mut self, now: Instant) {
        let Some(interval) = self.config.sys_interval else {
            return;
        };
        let stats = self.stats();
        let uptime = now.saturating_duration_since(self.started).as_secs();
        let disconnected = stats.sessions.saturating_sub(stats.clients_connected);
        let topics: [(&'static str, String); 15] = [
            ("$SYS/broker/version", self.config.version_string.clone()),
            ("$SYS/broker/uptime", format!("{uptime} seconds")),
            (
                "$SYS/broker/clients/connected",
                stats.clients_connected.to_string(),
            ),
            ("$SYS/broker/clients/disconnected", disconnected.to_string()),
            ("$SYS/broker/clients/total", stats.sessions.to_string()),
            (
                "$SYS/broker/clients/maximum",
                stats.clients_maximum.to_string(),
            ),
            (
                "$SYS/broker/messages/received",
                stats.messages_received.to_string(),
            ),
            ("$SYS/broker/messages/sent", stats.messages_sent.to_string()),
            (
                "$SYS/broker/publish/messages/received",
                stats.publish_received.to_string(),
            ),
            (
                "$SYS/broker/publish/messages/sent",
                stats.publish_sent.to_string(),
            ),
            (
                "$SYS/broker/publish/messages/dropped",
                stats.publish_dropped.to_string(),
            ),
            (
                "$SYS/broker/bytes/received",
                stats.bytes_received.to_string(),
            ),
            ("$SYS/broker/bytes/sent", stats.bytes_sent.to_string()),
            (
                "$SYS/broker/subscriptions/count",
                stats.subscriptions.to_string(),
            ),
            (
                "$SYS/broker/retained messages/count",
                stats.retained_messages.to_string(),
            ),
        ];
        for (topic, value) in topics {
            if self.sys_published.get(topic) == Some(&value) {
                continue;
            }
            let message = Message {
                topic: TopicName::from_static(topic),
                payload: Bytes::from(value.clone().into_bytes()),
                qos: QoS::AtMostOnce,
                retain: true,
                properties: Properties::default(),
                expires_at: None,
                after_record: 0,
            };
            self.sys_published.insert(topic, value);
            self.publish_message(now, message, None);
        }
        let next = now + interval;
        self.next_sys = Some(next);
        self.timers.insert((next, Timer::Sys));
    }
}
