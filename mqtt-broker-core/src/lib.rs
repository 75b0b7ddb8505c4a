//! A sans-IO MQTT broker: bytes and time go in, packets, records and deadlines come out.
//!
//! Not built yet: see `ARCHITECTURE.md` for the design this crate will follow. It builds on
//! [`mqtt_codec`] for framing and validation.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
