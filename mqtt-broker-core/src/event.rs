//! What the broker asks of its adapter.

use mqtt_codec::{MqttString, ReasonCode};

use crate::store::Record;

/// A connection, as the broker knows it: an index the adapter keeps beside its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub(crate) usize);

impl ConnectionHandle {
    /// The index, for adapters that keep their sockets in a slab of their own.
    pub const fn index(self) -> usize {
        self.0
    }
}

/// An output of the broker, pulled with [`Broker::poll_event`](crate::Broker::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The connection has bytes to write: pull them with
    /// [`Broker::poll_transmit`](crate::Broker::poll_transmit) when its socket can take
    /// them. Raised once each time its buffer goes from empty to not empty.
    Transmit(ConnectionHandle),
    /// Close the connection: first write what [`Broker::poll_transmit`](crate::Broker::poll_transmit)
    /// still returns for it (a CONNACK or DISCONNECT with the reason), then close the
    /// socket and call [`Broker::handle_closed`](crate::Broker::handle_closed).
    Close {
        /// The connection.
        connection: ConnectionHandle,
        /// Why.
        reason: CloseReason,
    },
    /// A client completed its CONNECT (for logs).
    Connected {
        /// The connection.
        connection: ConnectionHandle,
        /// Its client identifier (the assigned one, if the client sent none).
        client_id: MqttString,
        /// Whether an existing session was resumed.
        session_present: bool,
    },
    /// Store this record durably, after every record before it; then report `seq` (or a
    /// later one) with [`Broker::handle_stored`](crate::Broker::handle_stored). Raised only
    /// when [`Config::durable`](crate::Config::durable) is set.
    Persist {
        /// Increases by one with each record.
        seq: u64,
        /// The change.
        record: Record,
    },
}

/// Why the broker closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent DISCONNECT.
    ClientDisconnected,
    /// The CONNECT was refused with this reason code (sent in the CONNACK, when one was sent).
    ConnectRefused(ReasonCode),
    /// No CONNECT arrived within [`Config::connect_timeout`](crate::Config::connect_timeout).
    ConnectTimeout,
    /// Nothing arrived within 1.5 times the keep alive [MQTT-3.1.2-24].
    KeepAliveTimeout,
    /// Another connection took the session over [MQTT-3.1.4-3].
    SessionTakenOver,
    /// The client broke the protocol; the reason code says how (sent in a v5 DISCONNECT).
    ProtocolViolation(ReasonCode),
    /// The broker is shutting down.
    ServerShuttingDown,
}
