//! SUBSCRIBE and UNSUBSCRIBE, and their acknowledgements.

use std::time::Instant;

use mqtt_codec::{
    MqttString, Packet, PacketId, Properties, ReasonCode, Subscribe, SubscribeProperties,
    SubscriptionOptions, Unsubscribe, UnsubscribeProperties,
};

use crate::client::{Client, ConnectionState};
use crate::error::ClientError;
use crate::event::Event;

impl Client {
    /// Subscribes to `filters`, each with its options. The returned packet id comes back in
    /// [`Event::Subscribed`] with one reason code per filter.
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<(MqttString, SubscriptionOptions)>,
    ) -> Result<PacketId, ClientError> {
        self.subscribe_with(now, filters, Properties::default())
    }

    /// [`subscribe`](Self::subscribe) with MQTT 5 properties (a Subscription Identifier,
    /// user properties).
    pub fn subscribe_with(
        &mut self,
        now: Instant,
        filters: Vec<(MqttString, SubscriptionOptions)>,
        properties: Properties<SubscribeProperties>,
    ) -> Result<PacketId, ClientError> {
        if filters.is_empty() {
            return Err(ClientError::NoFilters); // [MQTT-3.8.3-3]
        }
        self.request(now, |packet_id| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters,
            })
        })
    }

    /// Unsubscribes from `filters` (compared exactly by the server). The returned packet
    /// id comes back in [`Event::Unsubscribed`].
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<MqttString>,
    ) -> Result<PacketId, ClientError> {
        self.unsubscribe_with(now, filters, Properties::default())
    }

    /// [`unsubscribe`](Self::unsubscribe) with MQTT 5 properties.
    pub fn unsubscribe_with(
        &mut self,
        now: Instant,
        filters: Vec<MqttString>,
        properties: Properties<UnsubscribeProperties>,
    ) -> Result<PacketId, ClientError> {
        if filters.is_empty() {
            return Err(ClientError::NoFilters); // [MQTT-3.10.3-2]
        }
        self.request(now, |packet_id| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        })
    }

    fn request(
        &mut self,
        now: Instant,
        build: impl FnOnce(PacketId) -> Packet,
    ) -> Result<PacketId, ClientError> {
        if self.state == ConnectionState::Disconnected {
            return Err(ClientError::NotConnected);
        }
        let packet_id = self.next_packet_id().ok_or(ClientError::NoPacketIdFree)?;
        let packet = build(packet_id);
        // Encoded now, whenever it is sent: an invalid filter is the caller's error.
        let mut scratch = bytes::BytesMut::new();
        packet.encode(self.version, &mut scratch)?;
        let size = scratch.len();
        if size > self.limits.maximum_packet_size as usize {
            return Err(ClientError::PacketTooLarge {
                size,
                max: self.limits.maximum_packet_size,
            });
        }
        // While connecting the request waits for the CONNACK, which sends every pending
        // request: with an authentication method only AUTH may come before it
        // [MQTT-3.1.2-30], and a request is sent once per connection.
        if self.state == ConnectionState::Connected {
            self.out.extend_from_slice(&scratch);
            self.last_sent = Some(now);
        }
        self.pending_requests.push((packet_id, packet));
        Ok(packet_id)
    }

    /// SUBACK or UNSUBACK: one reason code per filter of the request [MQTT-3.9.3-1],
    /// [MQTT-3.11.3-1].
    pub(crate) fn handle_suback(
        &mut self,
        now: Instant,
        packet_id: PacketId,
        mut reason_codes: Vec<ReasonCode>,
        subscribe: bool,
    ) {
        let position = self
            .pending_requests
            .iter()
            .position(|(id, _)| *id == packet_id);
        let expected = match position.map(|i| &self.pending_requests[i].1) {
            Some(Packet::Subscribe(s)) if subscribe => s.filters.len(),
            Some(Packet::Unsubscribe(u)) if !subscribe => u.filters.len(),
            _ => {
                return self
                    .protocol_error(now, ClientError::Protocol("acknowledgement of no request"))
            }
        };
        if !subscribe && !self.version.is_v5() {
            // 3.1.1 UNSUBACK carries no codes: each filter is done.
            reason_codes = vec![ReasonCode::Success; expected];
        }
        if reason_codes.len() != expected {
            return self.protocol_error(now, ClientError::Protocol("wrong number of reason codes"));
        }
        if let Some(index) = position {
            self.pending_requests.remove(index);
        }
        self.events.push_back(if subscribe {
            Event::Subscribed {
                packet_id,
                reason_codes,
            }
        } else {
            Event::Unsubscribed {
                packet_id,
                reason_codes,
            }
        });
    }
}
