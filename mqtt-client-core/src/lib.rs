//! A sans-IO MQTT client: commands and bytes go in; bytes to send, events and the next
//! deadline come out.
//!
//! [`Client`] holds the protocol of MQTT 3.1, 3.1.1 and 5.0 for one client: the connect
//! handshake, keep alive, QoS 0/1/2 in both directions (QoS 2 received exactly once, its
//! state kept across reconnects), the server's Receive Maximum and limits, a bounded
//! publish queue, manual acknowledgement, topic aliases, and session resume with the
//! unacknowledged packets re-sent in order. It has no sockets, no threads and no clock:
//! the application (or a runtime adapter such as the tokio client in `examples/`) moves
//! bytes and passes the time.
//!
//! ```text
//!  application                          Client
//!  socket opened   ── connect(now) ──────────▶  CONNECT queued
//!  publish/...     ── publish(now, ..) ──────▶  PublishId
//!  bytes read      ── handle_bytes(now, ..) ─▶  packets handled
//!  socket failed   ── connection_lost(now) ──▶  session kept
//!  deadline        ── handle_timeout(now) ───▶  PINGREQ or timeout
//!                  ◀── poll_transmit() ── bytes to write
//!                  ◀── poll_event() ── Connected | Message | PublishCompleted | ...
//!                  ◀── poll_timeout() ── next deadline
//! ```
//!
//! ```
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use mqtt_client_core::{Client, ConnectOptions, Event};
//! use mqtt_codec::{MqttString, Publish, QoS};
//!
//! let now = Instant::now();
//! let mut client = Client::new(ConnectOptions::new(MqttString::from_static("sensor-1")));
//! client.connect(now).unwrap();
//! let connect_bytes = client.poll_transmit().unwrap(); // write these to the socket
//! assert_eq!(connect_bytes[0], 0x10);
//!
//! // The server's CONNACK arrives: accepted, no session.
//! let mut input = BytesMut::from(&[0x20, 0x02, 0x00, 0x00][..]);
//! client.handle_bytes(now, &mut input);
//! assert!(matches!(client.poll_event(), Some(Event::Connected { session_present: false, .. })));
//!
//! let mut publish = Publish::new(MqttString::from_static("home/temp"), Bytes::from_static(b"21.5"));
//! publish.qos = QoS::AtLeastOnce;
//! let id = client.publish(now, publish).unwrap();
//! let wire = client.poll_transmit().unwrap();
//! assert_eq!(wire[0], 0x32); // PUBLISH, QoS 1, packet id 1
//!
//! // PUBACK for packet id 1 completes it.
//! client.handle_bytes(now, &mut BytesMut::from(&[0x40, 0x02, 0x00, 0x01][..]));
//! assert!(matches!(client.poll_event(), Some(Event::PublishCompleted { id: done, .. }) if done == id));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;
mod event;
mod options;
mod publish;
mod receive;
mod subscribe;

pub use client::{Client, ConnectionState};
pub use error::ClientError;
pub use event::{AckHandle, DisconnectReason, Event, IncomingMessage, PublishId, ServerLimits};
pub use options::ConnectOptions;
