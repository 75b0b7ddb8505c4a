//! Sessions: what the broker keeps for a client id between connections [MQTT-4.1.0-1].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use mqtt_codec::{MqttString, PacketId, QoS, SubscriptionId, SubscriptionOptions};

use crate::event::ConnectionHandle;
use crate::message::Delivery;
use crate::store::{SessionRecord, SubscriptionRecord};

/// A session's slot in the broker's session table.
pub(crate) type SessionId = u32;

/// A subscription as the subscription tree holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub(crate) options: SubscriptionOptions,
    pub(crate) id: Option<SubscriptionId>,
}

/// A will waiting for its delay [MQTT-3.1.3-9] or for the session to end.
#[derive(Debug)]
pub(crate) struct PendingWill {
    pub(crate) message: mqtt_codec::Will,
    pub(crate) username: Option<MqttString>,
    pub(crate) at: Instant,
}

#[derive(Debug)]
pub(crate) struct Session {
    /// Distinguishes this session from earlier ones in the same slot, for stale timers.
    pub(crate) serial: u64,
    pub(crate) client_id: MqttString,
    pub(crate) connection: Option<ConnectionHandle>,
    /// Session Expiry Interval in seconds; `u32::MAX` never expires [MQTT-3.1.2-23].
    pub(crate) expiry_interval: u32,
    /// While disconnected: when the session ends.
    pub(crate) expires_at: Option<Instant>,
    /// By the filter as subscribed (with its `$share/{name}/` prefix).
    pub(crate) subscriptions: HashMap<MqttString, Subscription>,
    pub(crate) outbound: Outbound,
    /// Received QoS 2 packet ids acknowledged with PUBREC, awaiting PUBREL [MQTT-4.3.3-10].
    pub(crate) incoming_qos2: BTreeSet<u16>,
    /// Boxed: most sessions have none, and every session would carry its size.
    pub(crate) pending_will: Option<Box<PendingWill>>,
    /// The next queue position for a durable delivery record.
    pub(crate) next_seq: u64,
    /// The deadline of the session's entry in the timer heap, if it has one.
    pub(crate) timer_armed: Option<Instant>,
    /// A session record is in the durable store: deleting it (and the session's message
    /// records) is due when the session ends or its expiry becomes 0.
    pub(crate) recorded: bool,
}

impl Session {
    pub(crate) fn new(serial: u64, client_id: MqttString, expiry_interval: u32) -> Self {
        Self {
            serial,
            client_id,
            connection: None,
            expiry_interval,
            expires_at: None,
            subscriptions: HashMap::new(),
            outbound: Outbound::default(),
            incoming_qos2: BTreeSet::new(),
            pending_will: None,
            next_seq: 1,
            timer_armed: None,
            recorded: false,
        }
    }

    /// Whether it outlives its connection, so its state is worth storing.
    pub(crate) fn is_persistent(&self) -> bool {
        self.expiry_interval > 0
    }

    pub(crate) fn record(&self) -> SessionRecord {
        let mut subscriptions: Vec<SubscriptionRecord> = self
            .subscriptions
            .iter()
            .map(|(filter, sub)| SubscriptionRecord {
                filter: filter.clone(),
                options: sub.options,
                id: sub.id,
            })
            .collect();
        subscriptions.sort_by(|a, b| a.filter.cmp(&b.filter));
        SessionRecord {
            expiry_interval: self.expiry_interval,
            subscriptions,
        }
    }
}

/// What an outgoing QoS 1 or 2 message awaits [MQTT-4.3.2], [MQTT-4.3.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // Named after the packets awaited.
pub(crate) enum Awaiting {
    /// QoS 1 PUBLISH sent, PUBACK awaited.
    PubAck,
    /// QoS 2 PUBLISH sent, PUBREC awaited.
    PubRec,
    /// PUBREL sent, PUBCOMP awaited: the PUBLISH is never sent again [MQTT-4.3.3-6].
    PubComp,
}

#[derive(Debug)]
pub(crate) struct Inflight {
    pub(crate) packet_id: PacketId,
    pub(crate) delivery: Delivery,
    pub(crate) state: Awaiting,
    /// Its PUBLISH was sent on the current connection: it uses one unit of the client's
    /// Receive Maximum until PUBACK or PUBCOMP (v5 section 4.9). After a reconnect the
    /// quota starts afresh and the PUBLISH is re-sent as the window allows.
    pub(crate) in_window: bool,
}

/// Messages towards the client: those in flight (sent, not yet acknowledged), in the order
/// sent, and those queued behind the window, in the order they are to be sent.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    pub(crate) inflight: VecDeque<Inflight>,
    pub(crate) queue: VecDeque<Delivery>,
    /// Queued deliveries counted against the limits (not those sent for a new subscription).
    counted: usize,
    counted_bytes: usize,
    last_packet_id: u16,
    /// Inflight entries with `in_window` set.
    in_window: usize,
    /// Inflight PUBLISHes still to be re-sent on this connection.
    unsent: usize,
}

/// Limits of a session queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueLimits {
    pub(crate) max_messages: usize,
    /// 0: no byte limit.
    pub(crate) max_bytes: usize,
}

impl Outbound {
    /// Queues `delivery` within `limits` (`None`: without limits, for a delivery that
    /// goes out at once or one restored from the store). When full, the oldest queued QoS 0
    /// messages make room for a QoS 1 or 2 one; a QoS 0 message, or one nothing can make
    /// room for, is refused. Returns what was dropped (usually nothing).
    pub(crate) fn enqueue(
        &mut self,
        delivery: Delivery,
        limits: Option<QueueLimits>,
    ) -> Vec<Delivery> {
        let mut dropped = Vec::new();
        if !delivery.from_retained {
            let bytes = delivery.queued_bytes();
            let limits = limits.unwrap_or(QueueLimits {
                max_messages: usize::MAX,
                max_bytes: 0,
            });
            // Larger than the byte limit on its own: nothing can make room for it.
            if limits.max_bytes > 0 && bytes > limits.max_bytes {
                dropped.push(delivery);
                return dropped;
            }
            while self.counted >= limits.max_messages
                || (limits.max_bytes > 0 && self.counted_bytes + bytes > limits.max_bytes)
            {
                let oldest_qos0 = (delivery.qos > QoS::AtMostOnce)
                    .then(|| {
                        self.queue
                            .iter()
                            .position(|d| !d.from_retained && d.qos == QoS::AtMostOnce)
                    })
                    .flatten();
                match oldest_qos0.and_then(|index| self.remove_at(index)) {
                    Some(old) => dropped.push(old),
                    None => {
                        dropped.push(delivery);
                        return dropped;
                    }
                }
            }
            self.counted += 1;
            self.counted_bytes += bytes;
        }
        self.queue.push_back(delivery);
        dropped
    }

    pub(crate) fn pop_front(&mut self) -> Option<Delivery> {
        let delivery = self.queue.pop_front()?;
        self.uncount(&delivery);
        Some(delivery)
    }

    /// Removes the queued deliveries `keep` refuses, in order.
    pub(crate) fn take_queued(&mut self, mut take: impl FnMut(&Delivery) -> bool) -> Vec<Delivery> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for delivery in self.queue.drain(..) {
            if take(&delivery) {
                taken.push(delivery);
            } else {
                kept.push_back(delivery);
            }
        }
        self.queue = kept;
        for delivery in &taken {
            self.uncount(delivery);
        }
        taken
    }

    fn remove_at(&mut self, index: usize) -> Option<Delivery> {
        let delivery = self.queue.remove(index)?;
        self.uncount(&delivery);
        Some(delivery)
    }

    fn uncount(&mut self, delivery: &Delivery) {
        if !delivery.from_retained {
            self.counted -= 1;
            self.counted_bytes -= delivery.queued_bytes();
        }
    }

    /// Adds an inflight message whose PUBLISH was just sent (`sent`) or is still to be
    /// re-sent (restored from the store).
    pub(crate) fn push_inflight(
        &mut self,
        packet_id: PacketId,
        delivery: Delivery,
        state: Awaiting,
        sent: bool,
    ) {
        let in_window = sent || state == Awaiting::PubComp;
        if in_window {
            self.in_window += 1;
        } else {
            self.unsent += 1;
        }
        self.inflight.push_back(Inflight {
            packet_id,
            delivery,
            state,
            in_window,
        });
    }

    /// Removes the inflight messages `take` picks, in order.
    pub(crate) fn take_inflight(
        &mut self,
        mut take: impl FnMut(&Inflight) -> bool,
    ) -> Vec<Delivery> {
        let mut taken = Vec::new();
        let mut index = 0;
        while index < self.inflight.len() {
            if take(&self.inflight[index]) {
                taken.extend(self.remove_inflight(index).map(|i| i.delivery));
            } else {
                index += 1;
            }
        }
        taken
    }

    pub(crate) fn remove_inflight(&mut self, index: usize) -> Option<Inflight> {
        let done = self.inflight.remove(index)?;
        if done.in_window {
            self.in_window -= 1;
        } else {
            self.unsent -= 1;
        }
        Some(done)
    }

    /// PUBREC received for the inflight entry at `index`: only the PUBREL remains. An entry
    /// still waiting to be re-sent no longer needs it.
    pub(crate) fn mark_released(&mut self, index: usize) -> &Inflight {
        let entry = &mut self.inflight[index];
        if !entry.in_window && entry.state != Awaiting::PubComp {
            self.unsent -= 1;
            // The PUBREL it gets now counts against the window like the others.
            entry.in_window = true;
            self.in_window += 1;
        }
        entry.state = Awaiting::PubComp;
        entry
    }

    /// A new connection: its Receive Maximum quota starts full and every unacknowledged
    /// PUBLISH is to be re-sent [MQTT-4.4.0-1]. PUBRELs are re-sent at once and count
    /// against the window until their PUBCOMP, so flows cannot pile up across reconnects.
    pub(crate) fn reset_window(&mut self) {
        self.in_window = 0;
        self.unsent = 0;
        for inflight in &mut self.inflight {
            inflight.in_window = inflight.state == Awaiting::PubComp;
            if inflight.in_window {
                self.in_window += 1;
            } else {
                self.unsent += 1;
            }
        }
    }

    /// The next inflight PUBLISH to re-send, marked as sent.
    pub(crate) fn next_resend(&mut self) -> Option<&Inflight> {
        if self.unsent == 0 {
            return None;
        }
        let entry = self.inflight.iter_mut().find(|i| !i.in_window)?;
        entry.in_window = true;
        self.unsent -= 1;
        self.in_window += 1;
        Some(entry)
    }

    /// Inflight PUBLISHes still to be re-sent on this connection.
    pub(crate) fn unsent(&self) -> usize {
        self.unsent
    }

    /// PUBLISHes sent on this connection and not yet acknowledged.
    pub(crate) fn in_window(&self) -> usize {
        self.in_window
    }

    /// Queued deliveries counted against the limits.
    pub(crate) fn counted(&self) -> usize {
        self.counted
    }

    /// The next packet id not in flight. The window is at most 65,535, so one is free
    /// whenever the caller has room in the window [MQTT-2.2.1-3].
    pub(crate) fn next_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            self.last_packet_id = self.last_packet_id.checked_add(1).unwrap_or(1);
            let candidate = PacketId::new(self.last_packet_id)?;
            if !self.inflight.iter().any(|i| i.packet_id == candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// Marks `packet_id` as in use (restoring a stored inflight message).
    pub(crate) fn note_packet_id(&mut self, packet_id: PacketId) {
        self.last_packet_id = self.last_packet_id.max(packet_id.get());
    }

    pub(crate) fn inflight_position(&self, packet_id: PacketId) -> Option<usize> {
        // Acknowledgements usually come in order: the front is the likely one.
        self.inflight.iter().position(|i| i.packet_id == packet_id)
    }
}
