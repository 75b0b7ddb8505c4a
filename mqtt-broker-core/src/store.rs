//! The durability hook: state that must survive a restart comes out of the broker as
//! [`Record`]s, and a broker is rebuilt from them with
//! [`Broker::restore`](crate::Broker::restore).
//!
//! Each record is an upsert or a delete under its [`RecordKey`], so a store is a key-value
//! map: apply records in the order they come, and hand back the surviving ones on start.
//! [`MemoryStore`] is that map in memory; an on-disk store does the same durably and then
//! reports the sequence number it reached with
//! [`Broker::handle_stored`](crate::Broker::handle_stored).

use std::collections::BTreeMap;

use mqtt_codec::{MqttString, PacketId, Publish, SubscriptionId, SubscriptionOptions};

/// One change to durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// The retained message of `topic`, or its deletion [MQTT-3.3.1-5], [MQTT-3.3.1-6].
    Retained {
        /// The topic name.
        topic: MqttString,
        /// The message (its Message Expiry Interval is what remained when recorded).
        message: Option<Publish>,
    },
    /// A persistent session and its subscriptions, or its end.
    Session {
        /// The client identifier.
        client_id: MqttString,
        /// The session, or `None` when it ended.
        session: Option<SessionRecord>,
    },
    /// A QoS 1 or 2 message queued or in flight to a persistent session, or its completion.
    Outgoing {
        /// The session's client identifier.
        client_id: MqttString,
        /// Its position in the session's queue: delivery order.
        seq: u64,
        /// The message, or `None` once acknowledged or dropped.
        delivery: Option<OutgoingRecord>,
    },
    /// A QoS 2 message received from a persistent session and acknowledged with PUBREC but
    /// not yet released: a repeated PUBLISH with this packet id must not be forwarded again
    /// [MQTT-4.3.3-10].
    IncomingQos2 {
        /// The session's client identifier.
        client_id: MqttString,
        /// The packet identifier awaiting PUBREL.
        packet_id: PacketId,
        /// Whether the packet id still awaits its PUBREL (`false` deletes the record).
        pending: bool,
    },
}

/// What a persistent session needs after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub expiry_interval: u32,
    /// The session's subscriptions, in the order they were made.
    pub subscriptions: Vec<SubscriptionRecord>,
}

/// One subscription of a persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The topic filter as subscribed (with its `$share/{name}/` prefix, if shared).
    pub filter: MqttString,
    /// The subscription options.
    pub options: SubscriptionOptions,
    /// The v5 Subscription Identifier.
    pub id: Option<SubscriptionId>,
}

/// A message on its way to a persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// The PUBLISH as it is sent: delivered QoS, RETAIN flag, subscription identifiers,
    /// and the packet id once it is in flight.
    pub publish: Publish,
    /// PUBREC received: only the PUBREL remains to be completed [MQTT-4.3.3-6].
    pub released: bool,
}

/// What a record replaces: records with equal keys overwrite each other.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKey {
    /// A retained message, by topic.
    Retained(MqttString),
    /// A session, by client id.
    Session(MqttString),
    /// A message to a session, by client id and queue position.
    Outgoing(MqttString, u64),
    /// A received QoS 2 packet id awaiting PUBREL, by client id and packet id.
    IncomingQos2(MqttString, u16),
}

impl Record {
    /// The key this record replaces.
    pub fn key(&self) -> RecordKey {
        match self {
            Self::Retained { topic, .. } => RecordKey::Retained(topic.clone()),
            Self::Session { client_id, .. } => RecordKey::Session(client_id.clone()),
            Self::Outgoing { client_id, seq, .. } => RecordKey::Outgoing(client_id.clone(), *seq),
            Self::IncomingQos2 {
                client_id,
                packet_id,
                ..
            } => RecordKey::IncomingQos2(client_id.clone(), packet_id.get()),
        }
    }

    /// Whether the record deletes its key.
    pub fn is_delete(&self) -> bool {
        match self {
            Self::Retained { message, .. } => message.is_none(),
            Self::Session { session, .. } => session.is_none(),
            Self::Outgoing { delivery, .. } => delivery.is_none(),
            Self::IncomingQos2 { pending, .. } => !pending,
        }
    }
}

/// A store kept in memory: records applied by key. It proves the hook (a restart test
/// rebuilds a broker from it) and suits brokers that want no persistence across processes.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: BTreeMap<RecordKey, Record>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one record: an upsert, or a delete of its key.
    pub fn apply(&mut self, record: Record) {
        let key = record.key();
        if record.is_delete() {
            self.records.remove(&key);
        } else {
            self.records.insert(key, record);
        }
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The surviving records, in key order (what [`Broker::restore`](crate::Broker::restore)
    /// takes).
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }
}
