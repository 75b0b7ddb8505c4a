//! CONNECT and DISCONNECT: client identifiers, authentication, session start, resume and
//! takeover, keep alive and the CONNACK (v5 sections 3.1, 3.2, 3.14; 3.1.1 the same).

use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use mqtt_codec::{
    ConnAck, Connect, Disconnect, MqttString, Packet, ProtocolVersion, QoS, ReasonCode,
};

use crate::auth::Credentials;
use crate::broker::{Broker, ConnectionState};
use crate::event::{CloseReason, ConnectionHandle, Event};
use crate::publish::copy_string;
use crate::session::{Session, SessionId};

/// MQTT 3.1 limits client identifiers to 23 characters (3.1 section 3.1).
const MQTT_3_1_MAX_CLIENT_ID: usize = 23;

impl Broker {
    pub(crate) fn handle_connect(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        connect: Connect,
    ) {
        let version = connect.protocol_version;
        let v5 = version.is_v5();
        if let Some(conn) = self.connection_mut(handle) {
            conn.version = version;
        }
        // Enhanced authentication is not offered: CONNACK 0x8C (v5 4.12).
        if connect.properties.authentication_method.is_some() {
            return self.refuse_connect(handle, ReasonCode::BadAuthenticationMethod);
        }

        // A will the server cannot honour refuses the CONNECT: QoS above Maximum QoS 0x9B,
        // retain without Retain Available 0x9A (v5 [MQTT-3.2.2-12], [MQTT-3.2.2-13]).
        if let (true, Some(will)) = (v5, &connect.will) {
            if will.qos > self.config.maximum_qos {
                return self.refuse_connect(handle, ReasonCode::QoSNotSupported);
            }
            if will.retain && !self.config.retain_available {
                return self.refuse_connect(handle, ReasonCode::RetainNotSupported);
            }
        }

        // Client identifier [MQTT-3.1.3-5]..[MQTT-3.1.3-8]: an empty one is assigned, except
        // for a 3.1.1 persistent session (CONNACK 0x02) and MQTT 3.1, which requires 1..23.
        let assigned = connect.client_id.is_empty();
        let client_id = if assigned {
            if !v5 && (!connect.clean_start || version == ProtocolVersion::V3_1) {
                return self.refuse_connect(handle, ReasonCode::ClientIdentifierNotValid);
            }
            self.assign_client_id()
        } else {
            if version == ProtocolVersion::V3_1
                && connect.client_id.chars().count() > MQTT_3_1_MAX_CLIENT_ID
            {
                return self.refuse_connect(handle, ReasonCode::ClientIdentifierNotValid);
            }
            copy_string(&connect.client_id)
        };

        let credentials = Credentials {
            client_id: &client_id,
            username: connect.username.as_ref().map(MqttString::as_str),
            password: connect.password.as_ref(),
            protocol_version: version,
        };
        if let Err(refusal) = self.auth.authenticate(&credentials) {
            return self.refuse_connect(handle, refusal.reason_code());
        }

        // Session expiry: v5 from the CONNECT property (absent: 0), capped by our maximum;
        // 3.1.1 clean session ends with the connection, a persistent one lasts as configured.
        let asked_expiry = connect.properties.session_expiry_interval.unwrap_or(0);
        let expiry = if v5 {
            asked_expiry.min(self.config.max_session_expiry)
        } else if connect.clean_start {
            0
        } else {
            self.config.max_session_expiry
        };

        // Keep alive: a v5 client asking for more than our maximum (or none) is told ours
        // as Server Keep Alive and must use it [MQTT-3.2.2-21], [MQTT-3.2.2-22].
        let (keep_alive, server_keep_alive) = match self.config.max_keep_alive {
            Some(max) if v5 && (connect.keep_alive == 0 || connect.keep_alive > max) => {
                (max, Some(max))
            }
            _ => (connect.keep_alive, None),
        };

        // Takeover: the connection holding this client id is closed, v5 with DISCONNECT
        // 0x8E [MQTT-3.1.4-3] (3.1.1 [MQTT-3.1.4-2]).
        if let Some(old) = self
            .session_ids
            .get(&client_id)
            .and_then(|&id| self.session(id))
            .and_then(|s| s.connection)
        {
            self.close(
                now,
                old,
                CloseReason::SessionTakenOver,
                Some(ReasonCode::SessionTakenOver),
            );
        }

        // Clean start discards an existing session [MQTT-3.1.2-4] (3.1.1 [MQTT-3.1.2-6]);
        // otherwise it is resumed [MQTT-3.1.2-5].
        let existing = self.session_ids.get(&client_id).copied();
        let (session_id, session_present) = match existing {
            Some(id) if !connect.clean_start => (id, true),
            other => {
                if let Some(id) = other {
                    self.end_session(now, id);
                }
                let serial = self.serial();
                (
                    self.insert_session(Session::new(serial, client_id.clone(), expiry)),
                    false,
                )
            }
        };

        let Some(session) = self.session_mut(session_id) else {
            return;
        };
        let record_session = session.expiry_interval != expiry || !session_present;
        session.expiry_interval = expiry;
        session.expires_at = None;
        session.connection = Some(handle);
        // A delayed will of the session's last connection is cancelled by this one
        // [MQTT-3.1.3-9].
        session.pending_will = None;
        if expiry > 0 && record_session {
            self.record_session(session_id);
        } else if expiry == 0 {
            self.forget_session_records(session_id);
        }

        let receive_maximum = connect
            .properties
            .receive_maximum
            .map_or(u16::MAX, NonZeroU16::get);
        let max_packet_size = connect
            .properties
            .maximum_packet_size
            .map_or(u32::MAX, NonZeroU32::get);
        let topic_alias_maximum = if v5 {
            self.config.topic_alias_maximum
        } else {
            0
        };
        let max_inflight = self.config.max_inflight.max(1);
        let Some(conn) = self.connection_mut(handle) else {
            return;
        };
        conn.state = ConnectionState::Connected;
        conn.session = Some(session_id);
        conn.username = connect.username.as_ref().map(copy_string);
        conn.will = connect.will.map(Box::new);
        conn.keep_alive_limit =
            (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        conn.topic_aliases = vec![None; usize::from(topic_alias_maximum)];
        // v5: never more in flight than the client's Receive Maximum [MQTT-3.3.4-9].
        conn.send_quota = if v5 {
            receive_maximum.min(max_inflight)
        } else {
            max_inflight
        };
        conn.max_packet_size = max_packet_size;
        let keep_alive_deadline = conn.keep_alive_limit.map(|limit| now + limit);
        self.stats.clients_connected += 1;
        self.stats.clients_maximum = self.stats.clients_maximum.max(self.stats.clients_connected);

        let mut connack = ConnAck::new(session_present, ReasonCode::Success);
        if v5 {
            let props = &mut connack.properties;
            if assigned {
                props.assigned_client_identifier = Some(client_id.clone()); // [MQTT-3.2.2-16]
            }
            if asked_expiry != expiry {
                props.session_expiry_interval = Some(expiry);
            }
            if self.config.receive_maximum < u16::MAX {
                props.receive_maximum = NonZeroU16::new(self.config.receive_maximum);
            }
            if self.config.maximum_qos < QoS::ExactlyOnce {
                props.maximum_qos = Some(self.config.maximum_qos);
            }
            if !self.config.retain_available {
                props.retain_available = Some(false);
            }
            props.maximum_packet_size = NonZeroU32::new(self.config.max_packet_size);
            if topic_alias_maximum > 0 {
                props.topic_alias_maximum = Some(topic_alias_maximum);
            }
            props.server_keep_alive = server_keep_alive;
        }
        // CONNACK is the first packet the server sends [MQTT-3.2.0-1].
        self.send(handle, &Packet::ConnAck(Box::new(connack)));
        if let Some(at) = keep_alive_deadline {
            self.arm_connection_timer(handle, at);
        }
        self.events.push_back(Event::Connected {
            connection: handle,
            client_id,
            session_present,
        });
        if session_present {
            self.resend_inflight(session_id, handle);
        }
        self.pump(now, session_id);
    }

    /// Refuses a CONNECT: CONNACK with `reason` (mapped to the 3.1.1 return code for older
    /// clients), then close; nothing after it is processed [MQTT-3.2.2-6] (3.1.1 [MQTT-3.1.4-5]).
    pub(crate) fn refuse_connect(&mut self, handle: ConnectionHandle, reason: ReasonCode) {
        self.stats.connects_refused += 1;
        // Session Present is 0 on a refusal [MQTT-3.2.2-6] (3.1.1 [MQTT-3.2.2-4]).
        self.send(
            handle,
            &Packet::ConnAck(Box::new(ConnAck::new(false, reason))),
        );
        if let Some(conn) = self.connection_mut(handle) {
            conn.state = ConnectionState::Closing;
        }
        self.events.push_back(Event::Close {
            connection: handle,
            reason: CloseReason::ConnectRefused(reason),
        });
    }

    /// An identifier no session has: `auto-{instance}-{n}` (v5 [MQTT-3.2.2-16]).
    fn assign_client_id(&mut self) -> MqttString {
        loop {
            self.assigned_ids += 1;
            let id = format!(
                "auto-{:016x}-{}",
                self.config.instance_id, self.assigned_ids
            );
            let Ok(id) = MqttString::try_from(id) else {
                continue;
            };
            if !self.session_ids.contains_key(&id) {
                return id;
            }
        }
    }

    /// DISCONNECT from the client: the will is discarded [MQTT-3.14.4-3], unless a v5
    /// client sends another reason code than 0x00; a v5 client may change its session
    /// expiry, except from 0 (v5 3.14.2.2.2).
    pub(crate) fn handle_disconnect(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        session_id: SessionId,
        disconnect: &Disconnect,
    ) {
        let max_expiry = self.config.max_session_expiry;
        if let Some(new_expiry) = disconnect.properties.session_expiry_interval {
            let Some(session) = self.session_mut(session_id) else {
                return;
            };
            if session.expiry_interval == 0 && new_expiry != 0 {
                return self.protocol_violation(now, handle, ReasonCode::ProtocolError);
            }
            let new_expiry = new_expiry.min(max_expiry);
            if new_expiry != session.expiry_interval {
                session.expiry_interval = new_expiry;
                if new_expiry > 0 {
                    self.record_session(session_id);
                } else {
                    self.forget_session_records(session_id);
                }
            }
        }
        // Only Normal Disconnection (0x00) discards the will [MQTT-3.14.4-3]; 0x04 asks for
        // it and any error code leaves it to be published [MQTT-3.1.2-8].
        let will = self
            .connection_mut(handle)
            .and_then(|c| c.will.take())
            .map(|will| *will);
        if disconnect.reason_code != ReasonCode::Success {
            if let Some(will) = will {
                let username = self.connection(handle).and_then(|c| c.username.clone());
                self.schedule_will(now, session_id, will, username);
            }
        }
        self.close(now, handle, CloseReason::ClientDisconnected, None);
    }
}
