//! Emitting records for the durable store (see [`crate::store`]).

use mqtt_codec::PacketId;

use crate::broker::Broker;
use crate::event::Event;
use crate::session::{Session, SessionId};
use crate::store::Record;

impl Broker {
    /// Emits a record for the durable store.
    pub(crate) fn persist(&mut self, record: Record) {
        if self.config.durable {
            self.last_record += 1;
            self.events.push_back(Event::Persist {
                seq: self.last_record,
                record,
            });
        }
    }

    /// Records a persistent session with its subscriptions (after it starts or changes).
    pub(crate) fn record_session(&mut self, id: SessionId) {
        if !self.config.durable {
            return;
        }
        let Some(session) = self.session_mut(id) else {
            return;
        };
        if !session.is_persistent() {
            return;
        }
        session.recorded = true;
        let record = Record::Session {
            client_id: session.client_id.clone(),
            session: Some(session.record()),
        };
        self.persist(record);
    }

    /// Deletes every record of session `id` when its expiry becomes 0 while it lives on
    /// for its connection: nothing of it may outlive that connection [MQTT-3.1.2-23], even
    /// if the broker stops first.
    pub(crate) fn forget_session_records(&mut self, id: SessionId) {
        if let Some(session) = self.session_mut(id) {
            for record in session_deletes(session) {
                self.persist(record);
            }
        }
    }
}

/// The records that delete everything stored of `session`; its deliveries no longer have
/// store keys afterwards. Nothing when it was never recorded.
pub(crate) fn session_deletes(session: &mut Session) -> Vec<Record> {
    if !session.recorded {
        return Vec::new();
    }
    session.recorded = false;
    let client_id = session.client_id.clone();
    let outbound = &mut session.outbound;
    let seqs = outbound
        .queue
        .iter_mut()
        .map(|d| &mut d.stored_seq)
        .chain(
            outbound
                .inflight
                .iter_mut()
                .map(|i| &mut i.delivery.stored_seq),
        )
        .filter_map(Option::take)
        .collect::<Vec<_>>();
    let mut records: Vec<Record> = seqs
        .into_iter()
        .map(|seq| Record::Outgoing {
            client_id: client_id.clone(),
            seq,
            delivery: None,
        })
        .collect();
    records.extend(
        session
            .incoming_qos2
            .iter()
            .filter_map(|&id| PacketId::new(id))
            .map(|packet_id| Record::IncomingQos2 {
                client_id: client_id.clone(),
                packet_id,
                pending: false,
            }),
    );
    records.push(Record::Session {
        client_id,
        session: None,
    });
    records
}
