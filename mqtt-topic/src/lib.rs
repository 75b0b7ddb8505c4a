//! MQTT topic names and filters, wildcard matching, shared subscriptions and a subscription
//! tree that stays fast at a million filters.
//!
//! Not built yet: this crate is the subject of the next issue. It depends on
//! [`mqtt_codec`] for the zero-copy [`mqtt_codec::MqttString`] its topic types wrap.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
