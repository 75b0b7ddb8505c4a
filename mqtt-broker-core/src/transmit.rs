//! Bytes towards clients: each connection's write buffer, the adapter pulling it, and the
//! durability barrier that keeps bytes back until the records they depend on are stored.
//!
//! With a durable store, a packet may only reach its client once every record emitted
//! before it is stored: a PUBACK or PUBREC promises the message is safe, a PUBREL promises
//! the PUBLISH will not be sent again [MQTT-4.3.3-6], a PUBLISH in flight must keep its
//! packet id across a restart [MQTT-4.4.0-1], a SUBACK promises the subscription. A
//! barrier marks where in the buffer the bytes that wait begin; bytes before it go.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt_codec::Packet;

use crate::broker::{connection_slot, Broker, Connection, ConnectionState};
use crate::event::{ConnectionHandle, Event};

/// Encoded packets waiting for the adapter's writer.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    pub(crate) bytes: BytesMut,
    /// (record sequence number, offset): the bytes from the offset on wait until the store
    /// confirms that record. Offsets and sequence numbers increase.
    barriers: VecDeque<(u64, usize)>,
    /// An [`Event::Transmit`] was raised and the bytes not pulled yet.
    notified: bool,
    /// The connection is in the broker's list of connections with barriers.
    listed: bool,
    /// Units of the client's send quota returned by PUBACKs and PUBCOMPs still held: each
    /// comes back when its record is stored (v5 section 4.9), by sequence number.
    held_quota: VecDeque<u64>,
}

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// How many bytes from the front may go, given the last stored record.
    fn releasable(&mut self, stored: u64) -> usize {
        while self.barriers.front().is_some_and(|&(seq, _)| seq <= stored) {
            self.barriers.pop_front();
        }
        self.barriers
            .front()
            .map_or(self.bytes.len(), |&(_, at)| at)
    }

    /// Holds the bytes from `start` on until record `seq` is stored.
    fn hold_from(&mut self, start: usize, seq: u64) {
        match self.barriers.back_mut() {
            // A later write waiting for the same or an earlier record: the barrier already
            // in place covers it (records are stored in order).
            Some(&mut (last, _)) if last >= seq => {}
            _ => self.barriers.push_back((seq, start)),
        }
    }

    /// The connection is closing: bytes still waiting for records will never be sent, so
    /// they go now (a held acknowledgement is simply not given; the client repeats its
    /// packet), making room for the closing DISCONNECT.
    pub(crate) fn discard_held(&mut self, stored: u64) {
        let keep = self.releasable(stored);
        self.bytes.truncate(keep);
        self.barriers.clear();
        self.held_quota.clear();
    }

    fn take(&mut self, stored: u64) -> Option<Bytes> {
        let n = self.releasable(stored);
        if n == 0 {
            return None;
        }
        for barrier in &mut self.barriers {
            barrier.1 -= n;
        }
        Some(self.bytes.split_to(n).freeze())
    }
}

impl Broker {
    /// Encodes `packet` into the connection's write buffer and signals the adapter. It
    /// depends on no record (PINGRESP, CONNACK, DISCONNECT), though it still goes out after
    /// the bytes before it.
    pub(crate) fn send(&mut self, connection: ConnectionHandle, packet: &Packet) {
        self.send_after(connection, packet, 0);
    }

    /// Sends an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK): a
    /// promise about state, so it waits for every record emitted so far.
    pub(crate) fn send_ack(&mut self, connection: ConnectionHandle, packet: &Packet) {
        self.send_after(connection, packet, self.last_record);
    }

    fn send_after(&mut self, connection: ConnectionHandle, packet: &Packet, record: u64) {
        let Some(conn) = connection_slot(&mut self.connections, connection) else {
            return;
        };
        if conn.state == ConnectionState::Closing {
            return;
        }
        let start = conn.out.len();
        // Packets the broker builds are valid; a failure is a bug, and dropping the packet
        // is safer than panicking in a shared broker.
        if packet.encode(conn.version, &mut conn.out.bytes).is_ok() {
            self.stats.messages_sent += 1;
        }
        self.written(connection, start, record);
    }

    /// Bytes from `start` on were just written to the connection's buffer; they depend on
    /// record `record` (0: none): hold them until it is stored, and signal the adapter when
    /// something can go.
    pub(crate) fn written(&mut self, connection: ConnectionHandle, start: usize, record: u64) {
        let stored = self.stored_record;
        let Some(conn) = connection_slot(&mut self.connections, connection) else {
            return;
        };
        if record > stored && conn.out.len() > start {
            conn.out.hold_from(start, record);
            if !conn.out.listed {
                conn.out.listed = true;
                self.held.push(connection);
            }
        }
        Self::notify(&mut self.events, connection, conn, stored);
    }

    fn notify(
        events: &mut VecDeque<Event>,
        handle: ConnectionHandle,
        conn: &mut Connection,
        stored: u64,
    ) {
        if !conn.out.notified && conn.out.releasable(stored) > 0 {
            conn.out.notified = true;
            events.push_back(Event::Transmit(handle));
        }
    }

    /// Whether the adapter should read more from `connection`. A client that sends faster
    /// than it reads what the broker answers (acknowledgements pile up in its write buffer)
    /// is not read from until it catches up, so its buffer stays bounded; TCP then slows
    /// the client down.
    #[must_use]
    pub fn wants_read(&self, connection: ConnectionHandle) -> bool {
        self.connection(connection).is_some_and(|conn| {
            conn.out.len() < self.config.max_pending_write_bytes.max(1).saturating_mul(4)
        })
    }

    /// The next output. Drain it after every input.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What may be written to `connection` now, in one buffer; `None` when nothing is.
    /// Pull when the socket can take more: taking the bytes makes room for queued
    /// messages, which may raise [`Event::Transmit`] again. With a durable store, bytes
    /// that depend on records not yet stored stay until
    /// [`handle_stored`](Self::handle_stored) confirms them.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, connection: ConnectionHandle) -> Option<Bytes> {
        let stored = self.stored_record;
        let conn = self.connections.get_mut(connection.0)?.as_mut()?;
        conn.out.notified = false;
        let bytes = conn.out.take(stored)?;
        self.stats.bytes_sent += bytes.len() as u64;
        if let (Some(session), ConnectionState::Connected) = (conn.session, conn.state) {
            self.pump(now, session);
        }
        Some(bytes)
    }

    /// The store has durably written every record up to `seq`: bytes held for them may go.
    pub fn handle_stored(&mut self, seq: u64) {
        self.stored_record = self.stored_record.max(seq.min(self.last_record));
        let stored = self.stored_record;
        let mut held = core::mem::take(&mut self.held);
        held.retain(|&handle| {
            let Some(conn) = connection_slot(&mut self.connections, handle) else {
                return false;
            };
            Self::notify(&mut self.events, handle, conn, stored);
            while conn.out.held_quota.front().is_some_and(|&s| s <= stored) {
                conn.out.held_quota.pop_front();
                conn.inbound_inflight = conn.inbound_inflight.saturating_sub(1);
            }
            let waiting =
                conn.out.releasable(stored) < conn.out.len() || !conn.out.held_quota.is_empty();
            conn.out.listed = waiting;
            waiting
        });
        self.held = held;
    }

    /// A PUBACK or PUBCOMP answering a counted PUBLISH was just written: it returns one
    /// unit of the client's send quota once the client can have it (v5 section 4.9).
    pub(crate) fn return_quota(&mut self, connection: ConnectionHandle) {
        let (last, stored) = (self.last_record, self.stored_record);
        let Some(conn) = connection_slot(&mut self.connections, connection) else {
            return;
        };
        if last > stored {
            // The acknowledgement waits behind a barrier, and so does the quota.
            conn.out.held_quota.push_back(last);
            if !conn.out.listed {
                conn.out.listed = true;
                self.held.push(connection);
            }
        } else {
            conn.inbound_inflight = conn.inbound_inflight.saturating_sub(1);
        }
    }
}
