//! A sans-IO MQTT broker: bytes and time go in; bytes to write, connections to close,
//! records to store and the next deadline come out.
//!
//! [`Broker`] holds every protocol rule of MQTT 3.1, 3.1.1 and 5.0: sessions (clean and
//! persistent, with expiry), subscriptions (shared ones too) on an
//! [`mqtt_topic::SubscriptionTree`], QoS 0/1/2 in both directions with inflight windows and
//! bounded queues, retained messages, wills (with v5 delay), keep alive, topic aliases,
//! message expiry, `$SYS` topics, and authentication and authorisation through the
//! [`Authenticator`] trait. It has no sockets, no threads and no clock: the adapter (the
//! tokio broker in `examples/`) moves bytes and passes the time.
//!
//! ```text
//!  adapter                               Broker
//!  socket accepted  ── handle_connection_opened ─▶  ConnectionHandle
//!  bytes read       ── handle_read(now, ..) ──────▶  decode, apply rules
//!  socket closed    ── handle_closed(now, ..) ────▶  will, session expiry
//!  deadline passed  ── handle_timeout(now) ───────▶  keep alive, expiry, $SYS
//!  records stored   ── handle_stored(seq) ────────▶  held PUBACK/PUBREC go out
//!                   ◀── poll_event() ── Transmit(c) | Close { c, reason } | Persist { seq, record }
//!                   ◀── poll_transmit(now, c) ── bytes for c's socket
//!                   ◀── poll_timeout() ── next deadline
//! ```
//!
//! Durability is sans-IO too: with [`Config::durable`], state that must survive a restart
//! comes out as [`Record`]s, QoS 1/2 acknowledgements wait until the adapter reports them
//! stored, and [`Broker::restore`] rebuilds a broker from what the store kept.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod broker;
mod config;
mod connect;
mod delivery;
mod event;
mod message;
mod persist;
mod publish;
mod restore;
mod session;
mod store;
mod subscribe;
mod sys;
mod timer;
mod transmit;
mod will;

pub use auth::{AllowAll, AuthError, Authenticator, ClientInfo, Credentials};
pub use broker::{Broker, SessionInfo};
pub use config::Config;
pub use event::{CloseReason, ConnectionHandle, Event};
pub use store::{
    MemoryStore, OutgoingRecord, Record, RecordKey, SessionRecord, SubscriptionRecord,
};
pub use sys::Stats;
