//! A sans-IO MQTT client: commands and bytes go in, bytes to send, events and the next
//! deadline come out.
//!
//! Not built yet: see `ARCHITECTURE.md` for the design this crate will follow. It builds on
//! [`mqtt_codec`] for framing and validation.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
