//! Tokio adapters around the sans-IO cores: the broker server (used by
//! `cargo run --release --example broker`), and a tokio client ([`client`]) for other
//! projects, which the `pub` and `sub` programs will sit on.
//!
//! The adapters move bytes and pass the time; every protocol rule stays in
//! [`mqtt_broker_core`] (and `mqtt_client_core`).
#![forbid(unsafe_code)]

pub mod broker;
pub mod cli;
pub mod client;
pub mod config;
