//! Unit tests of each client behaviour, driven with raw packet bytes from a hand-written fake
//! server and a virtual clock.
//!
//! The server side is written by hand (the tools are in `fake_server`): packets are encoded
//! with `Packet::encode` or given as literal bytes, fed with `Client::handle_bytes`, and what
//! the client writes is decoded from `Client::poll_transmit` (or compared byte for byte).
//! Normative statements are cited as `[MQTT-x.y.z-n]`; "v5" marks MQTT 5.0 numbering and "v3"
//! MQTT 3.1.1 numbering where the two differ.

mod fake_server;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use fake_server::*;
use mqtt_client_core::{
    Client, ClientError, ConnectOptions, ConnectionState, DisconnectReason, Event,
};
use mqtt_codec::{
    Auth, AuthProperties, ConnAckProperties, Connect, DecodeError, Disconnect,
    DisconnectProperties, MqttString, Packet, Properties, PropertyId, ProtocolVersion, Publish,
    PublishAck, QoS, ReasonCode, SubAck, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will, WillProperties,
};

// ---------------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------------

/// v3 3.1: the whole CONNECT of default 3.1.1 options, byte for byte.
#[test]
fn connect_v311_default_options_exact_bytes() {
    let mut client = Client::new(options(V3));
    client.connect(Instant::now()).unwrap();
    assert_eq!(
        raw(&mut client),
        [
            0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // name, level 4
            0x02, // Clean Session [MQTT-3.1.2-6]
            0x00, 0x3C, // keep alive 60
            0x00, 0x02, b'c', b'1', // client id
        ]
    );
    assert_eq!(client.state(), ConnectionState::Connecting);
}

/// MQTT 3.1: protocol name "MQIsdp", level 3.
#[test]
fn connect_v31_uses_mqisdp_level_3() {
    let mut client = Client::new(options(ProtocolVersion::V3_1));
    let bytes = {
        client.connect(Instant::now()).unwrap();
        raw(&mut client)
    };
    assert_eq!(&bytes[2..11], b"\x00\x06MQIsdp\x03");
    feed_raw(&mut client, Instant::now(), &CONNACK_V3);
    assert!(matches!(
        events(&mut client)[..],
        [Event::Connected {
            session_present: false,
            ..
        }]
    ));
}

/// v3: will (QoS, retain), user name and password, keep alive and Clean Session 0 in the
/// connect flags and the payload, in order [MQTT-3.1.3-1]; no v5 properties on the wire.
#[test]
fn connect_v311_will_credentials_and_flags() {
    let mut opts = options(V3);
    opts.clean_start = false;
    opts.keep_alive = 30;
    opts.username = Some(s("user"));
    opts.password = Some(Bytes::from_static(b"secret"));
    opts.will = Some(Will {
        topic: s("last/will"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::default(),
    });
    opts.session_expiry_interval = 100; // v5 only: ignored
    opts.receive_maximum = 5; // v5 only: ignored
    let mut client = Client::new(opts);
    client.connect(Instant::now()).unwrap();
    let bytes = raw(&mut client);
    // username 0x80 | password 0x40 | will retain 0x20 | will QoS 1 0x08 | will 0x04.
    assert_eq!(bytes[9], 0xEC);
    assert_eq!(&bytes[10..12], &[0x00, 30]);
    let mut payload = Vec::new();
    payload.extend_from_slice(b"\x00\x02c1\x00\x09last/will\x00\x04gone\x00\x04user\x00\x06secret");
    assert_eq!(&bytes[12..], &payload[..]);
}

/// v5 3.1.2.11 and 3.1.3.2: every CONNECT property and will property from the options.
#[test]
fn connect_v5_properties_and_will_properties() {
    let mut will_props = WillProperties::default();
    will_props.will_delay_interval = Some(30);
    will_props.message_expiry_interval = Some(600);
    will_props.content_type = Some(s("text/plain"));
    will_props.user_properties = vec![user_property("w", "1")];
    let will = Will {
        topic: s("last/will"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: will_props.into(),
    };
    let mut opts = options(V5);
    opts.keep_alive = 45;
    opts.will = Some(will.clone());
    opts.username = Some(s("user"));
    opts.password = Some(Bytes::from_static(b"pw"));
    opts.session_expiry_interval = 3600;
    opts.receive_maximum = 10;
    opts.maximum_packet_size = 2048;
    opts.topic_alias_maximum = 5;
    opts.request_response_information = true;
    opts.user_properties = vec![user_property("k", "v"), user_property("k", "v2")];
    opts.authentication_method = Some(s("SCRAM-SHA-256"));
    opts.authentication_data = Some(Bytes::from_static(b"\x01\x02"));
    let mut client = Client::new(opts);
    let connect = connect_packet(&mut client, Instant::now());

    assert_eq!(connect.protocol_version, V5);
    assert!(connect.clean_start);
    assert_eq!(connect.keep_alive, 45);
    assert_eq!(connect.client_id, "c1");
    assert_eq!(connect.will, Some(will));
    assert_eq!(connect.username, Some(s("user")));
    assert_eq!(connect.password, Some(Bytes::from_static(b"pw")));
    let p = &connect.properties;
    assert_eq!(p.session_expiry_interval, Some(3600));
    assert_eq!(p.receive_maximum, NonZeroU16::new(10));
    assert_eq!(p.maximum_packet_size, NonZeroU32::new(2048));
    assert_eq!(p.topic_alias_maximum, Some(5));
    assert_eq!(p.request_response_information, Some(true));
    assert_eq!(p.user_properties.len(), 2);
    assert_eq!(p.user_properties[1].value, "v2");
    assert_eq!(p.authentication_method, Some(s("SCRAM-SHA-256")));
    assert_eq!(p.authentication_data, Some(Bytes::from_static(b"\x01\x02")));
}

/// v5: default options send only what differs from the protocol defaults (Session Expiry 0,
/// Receive Maximum 65,535, Topic Alias Maximum 0 are absent; Maximum Packet Size is sent).
#[test]
fn connect_v5_defaults_send_only_maximum_packet_size() {
    let mut client = Client::new(options(V5));
    let connect = connect_packet(&mut client, Instant::now());
    let mut expected = mqtt_codec::ConnectProperties::default();
    expected.maximum_packet_size = NonZeroU32::new(1024 * 1024);
    assert_eq!(*connect.properties, expected);
    assert_eq!(connect.will, None);
    assert_eq!(connect.username, None);
}

/// v3 [MQTT-3.1.2-22]: a password without a user name cannot be sent in 3.1.1. The refused
/// `connect` must leave the client as it was: disconnected, nothing to write, and able to
/// connect once the options are fixed.
#[test]
fn connect_v311_password_without_username_is_refused_cleanly() {
    let t0 = Instant::now();
    let mut client = Client::new(tuned(V3, |o| o.password = Some(Bytes::from_static(b"pw"))));
    assert!(matches!(client.connect(t0), Err(ClientError::Invalid(_))));
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(
        client.state(),
        ConnectionState::Disconnected,
        "a refused connect leaves the client Connecting"
    );
    assert_eq!(client.poll_timeout(), None);
    client.options_mut().username = Some(s("user"));
    assert_eq!(client.connect(t0), Ok(()));
}

/// v3 [MQTT-3.1.3-7]: "If the Client supplies a zero-byte ClientId, the Client MUST also set
/// CleanSession to 1". The client must not send such a CONNECT.
#[test]
fn connect_v311_empty_client_id_requires_clean_session() {
    let mut opts = ConnectOptions::default();
    opts.clean_start = false;
    let mut client = Client::new(opts);
    let result = client.connect(Instant::now());
    let bytes = raw(&mut client);
    let sends_violation = result.is_ok() && bytes.len() > 9 && bytes[9] & 0x02 == 0;
    assert!(
        !sends_violation,
        "CONNECT with an empty client id and Clean Session 0 was sent: {bytes:02x?}"
    );
}

#[test]
fn connect_twice_is_already_connected() {
    let t0 = Instant::now();
    let mut client = Client::new(options(V3));
    client.connect(t0).unwrap();
    assert_eq!(client.connect(t0), Err(ClientError::AlreadyConnected));
    feed_raw(&mut client, t0, &CONNACK_V3);
    assert_eq!(client.connect(t0), Err(ClientError::AlreadyConnected));
}

// ---------------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------------

/// v3 CONNACK accepted: Connected with the 3.1.1 defaults as limits.
#[test]
fn connack_v311_accepted_with_default_limits() {
    let t0 = Instant::now();
    let mut client = connecting(options(V3), t0);
    feed_raw(&mut client, t0, &CONNACK_V3);
    let events = events(&mut client);
    let [Event::Connected {
        session_present,
        assigned_client_id,
        limits,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert!(!session_present);
    assert_eq!(assigned_client_id, &None);
    assert_eq!(limits.receive_maximum, u16::MAX);
    assert_eq!(limits.maximum_qos, QoS::ExactlyOnce);
    assert!(limits.retain_available);
    assert_eq!(limits.maximum_packet_size, u32::MAX);
    assert_eq!(limits.topic_alias_maximum, 0);
    assert_eq!(limits.keep_alive, 60);
    assert_eq!(client.state(), ConnectionState::Connected);
    assert_eq!(client.limits(), limits);
}

/// v5 3.2.2.3: the server's limits reach the application in Connected (and `limits()`).
#[test]
fn connack_v5_server_limits() {
    let t0 = Instant::now();
    let mut client = Client::new(tuned(V5, |o| o.client_id = MqttString::new()));
    let connect = connect_packet(&mut client, t0);
    assert_eq!(connect.client_id, "");
    let mut props = ConnAckProperties::default();
    props.receive_maximum = NonZeroU16::new(20);
    props.maximum_qos = Some(QoS::AtLeastOnce);
    props.retain_available = Some(false);
    props.maximum_packet_size = NonZeroU32::new(4096);
    props.topic_alias_maximum = Some(7);
    props.assigned_client_identifier = Some(s("auto-42"));
    props.server_keep_alive = Some(15);
    props.wildcard_subscription_available = Some(false);
    props.subscription_identifier_available = Some(false);
    props.shared_subscription_available = Some(false);
    let mut ack = connack(false);
    ack.properties = props.into();
    feed(&mut client, t0, Packet::ConnAck(Box::new(ack)));
    let events = events(&mut client);
    let [Event::Connected {
        session_present: false,
        assigned_client_id,
        limits,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(assigned_client_id, &Some(s("auto-42")));
    assert_eq!(limits.receive_maximum, 20);
    assert_eq!(limits.maximum_qos, QoS::AtLeastOnce);
    assert!(!limits.retain_available);
    assert_eq!(limits.maximum_packet_size, 4096);
    assert_eq!(limits.topic_alias_maximum, 7);
    assert_eq!(limits.keep_alive, 15);
    assert!(!limits.wildcard_subscription_available);
    assert!(!limits.subscription_identifiers_available);
    assert!(!limits.shared_subscription_available);
    assert_eq!(client.limits(), limits);
}

/// v3 3.2.2.3 table 3.1: return codes 1..5 refuse the connection.
#[test]
fn connack_v311_refused_return_codes() {
    let expected = [
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::ServerUnavailable,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
    ];
    for (code, reason) in (1u8..=5).zip(expected) {
        assert_connack_refuses(V3, &[0x20, 0x02, 0x00, code], reason);
    }
}

/// v5 3.2.2.2: a CONNACK reason code of 0x80 or more refuses the connection
/// [MQTT-3.2.2-7].
#[test]
fn connack_v5_refused_reason_codes() {
    for code in [
        0x80u8, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x95, 0x97, 0x9C, 0x9D, 0x9F,
    ] {
        let reason = ReasonCode::from_u8(code).unwrap();
        assert_connack_refuses(V5, &[0x20, 0x03, 0x00, code, 0x00], reason);
    }
}

/// v3 [MQTT-3.2.0-1], v5 [MQTT-3.2.0-1]: the first packet from the server is CONNACK;
/// anything else is a protocol error and is not processed (no Message event).
#[test]
fn first_packet_other_than_connack_is_protocol_error() {
    for version in BOTH {
        for first in [
            server_publish("a", b"hi", QoS::AtMostOnce, None, false),
            Packet::PingResp,
            Packet::SubAck(SubAck::new(pid(1), vec![ReasonCode::Success])),
        ] {
            assert_first_packet_is_protocol_error(version, &encode(version, &first));
        }
    }
}

/// v5 [MQTT-3.2.2-4]: a client without session state (Clean Start 1) that gets Session
/// Present 1 closes the connection. 3.1.1 (3.2.2.2) lets the client choose; this one closes.
#[test]
fn session_present_on_clean_start_is_protocol_error() {
    assert_first_packet_is_protocol_error(V3, &[0x20, 0x02, 0x01, 0x00]);
    assert_first_packet_is_protocol_error(V5, &[0x20, 0x03, 0x01, 0x00, 0x00]);
}

/// No CONNACK within the response timeout: the connection is declared dead.
#[test]
fn connack_timeout() {
    let t0 = Instant::now();
    let opts = tuned(V3, |o| o.response_timeout = Duration::from_secs(7));
    let mut client = connecting(opts, t0);
    assert_eq!(client.poll_timeout(), Some(at(t0, 7)));
    client.handle_timeout(at(t0, 6));
    assert_eq!(events(&mut client), []);
    assert_eq!(client.poll_timeout(), Some(at(t0, 7)));
    client.handle_timeout(at(t0, 7));
    assert_eq!(
        events(&mut client),
        [Event::Disconnected(DisconnectReason::Timeout)]
    );
    assert_idle_disconnected(&mut client);
    // A late CONNACK on the dead connection is ignored.
    feed_raw(&mut client, at(t0, 8), &CONNACK_V3);
    assert_eq!(events(&mut client), []);
}

/// Streaming: a CONNACK split over reads stays buffered until whole.
#[test]
fn connack_split_across_reads() {
    let t0 = Instant::now();
    let mut client = connecting(options(V5), t0);
    let mut input = BytesMut::from(&[0x20, 0x03, 0x00][..]);
    client.handle_bytes(t0, &mut input);
    assert_eq!(events(&mut client), []);
    assert_eq!(&input[..], &[0x20, 0x03, 0x00], "the partial packet stays");
    input.extend_from_slice(&[0x00, 0x00]);
    client.handle_bytes(t0, &mut input);
    assert!(matches!(events(&mut client)[..], [Event::Connected { .. }]));
    assert!(input.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Keep alive
// ---------------------------------------------------------------------------------------------

/// v3 [MQTT-3.1.2-23], v5 [MQTT-3.1.2-20]: PINGREQ once nothing was sent for the keep alive,
/// not before; PINGRESP gives Pong and the next PINGREQ is a keep alive later.
#[test]
fn pingreq_after_keep_alive_idle_and_pong() {
    for version in BOTH {
        let t0 = Instant::now();
        let mut client = connected(tuned(version, |o| o.keep_alive = 10), t0);
        assert_eq!(client.poll_timeout(), Some(at(t0, 10)));
        client.handle_timeout(at(t0, 9));
        assert_eq!(client.poll_transmit(), None);
        client.handle_timeout(at(t0, 10));
        assert_eq!(raw(&mut client), PINGREQ);
        // Waiting for PINGRESP: the response timeout (default 30 s).
        assert_eq!(client.poll_timeout(), Some(at(t0, 40)));
        feed_raw(&mut client, at(t0, 11), &PINGRESP);
        assert_eq!(events(&mut client), [Event::Pong]);
        assert_eq!(client.poll_timeout(), Some(at(t0, 20)));
        client.handle_timeout(at(t0, 20));
        assert_eq!(raw(&mut client), PINGREQ);
    }
}

/// The keep alive counts from the last packet the client sent, whatever it was (a PUBLISH
/// or an acknowledgement) [v3 MQTT-3.1.2-23].
#[test]
fn any_packet_sent_resets_keep_alive() {
    let t0 = Instant::now();
    let mut client = connected(tuned(V3, |o| o.keep_alive = 10), t0);
    publish(&mut client, at(t0, 6), "a", b"x", QoS::AtMostOnce);
    assert_eq!(sent(&mut client).len(), 1);
    assert_eq!(client.poll_timeout(), Some(at(t0, 16)));
    client.handle_timeout(at(t0, 10));
    assert_eq!(
        client.poll_transmit(),
        None,
        "no PINGREQ 4 s after a PUBLISH"
    );
    // A PUBACK the client sends also counts.
    let qos1 = server_publish("a", b"x", QoS::AtLeastOnce, Some(1), false);
    assert_eq!(answer(&mut client, at(t0, 12), qos1), puback(1));
    assert_eq!(client.poll_timeout(), Some(at(t0, 22)));
    client.handle_timeout(at(t0, 16));
    assert_eq!(client.poll_transmit(), None);
    client.handle_timeout(at(t0, 22));
    assert_eq!(raw(&mut client), PINGREQ);
}

/// v5 [MQTT-3.2.2-21]: the Server Keep Alive replaces the client's; 0 turns it off.
#[test]
fn server_keep_alive_replaces_the_clients() {
    let t0 = Instant::now();
    let mut client = connected_v5(options(V5), t0, |p| p.server_keep_alive = Some(5));
    assert_eq!(client.limits().keep_alive, 5);
    assert_eq!(client.poll_timeout(), Some(at(t0, 5)));
    client.handle_timeout(at(t0, 5));
    assert_eq!(raw(&mut client), PINGREQ);

    let client = connected_v5(options(V5), t0, |p| p.server_keep_alive = Some(0));
    assert_eq!(client.limits().keep_alive, 0);
    assert_never_pings(client, t0);
}

/// Keep alive 0 turns the mechanism off (v3 3.1.2.10).
#[test]
fn keep_alive_zero_never_pings() {
    let t0 = Instant::now();
    assert_never_pings(connected(tuned(V3, |o| o.keep_alive = 0), t0), t0);
}

/// 3.1.2.10: no PINGRESP within the response timeout: Disconnected(Timeout).
#[test]
fn no_pingresp_in_time_is_timeout() {
    let t0 = Instant::now();
    let opts = tuned(V5, |o| {
        o.keep_alive = 10;
        o.response_timeout = Duration::from_secs(3);
    });
    let mut client = connected(opts, t0);
    client.handle_timeout(at(t0, 10));
    assert_eq!(raw(&mut client), PINGREQ);
    assert_eq!(client.poll_timeout(), Some(at(t0, 13)));
    // Other packets from the server are no PINGRESP.
    let qos0 = server_publish("a", b"x", QoS::AtMostOnce, None, false);
    feed(&mut client, at(t0, 11), qos0);
    client.handle_timeout(at(t0, 12));
    assert_eq!(client.state(), ConnectionState::Connected);
    client.handle_timeout(at(t0, 13));
    let events = events(&mut client);
    assert_eq!(
        events.last(),
        Some(&Event::Disconnected(DisconnectReason::Timeout))
    );
    assert_idle_disconnected(&mut client);
}

/// The sans-IO contract: after `handle_timeout(deadline)`, `poll_timeout` is `None` or later
/// than the deadline, so an adapter never spins.
#[test]
fn poll_timeout_always_moves_past_now() {
    for (version, keep_alive, timeout, answer_pings) in [
        (V3, 10, 3, true),
        (V3, 10, 30, false),
        (V5, 1, 1, true),
        (V5, 2, 5, false),
    ] {
        let t0 = Instant::now();
        let opts = tuned(version, |o| {
            o.keep_alive = keep_alive;
            o.response_timeout = Duration::from_secs(timeout);
        });
        let mut client = connecting(opts, t0);
        // First the CONNACK timeout, then a connection with pings.
        let deadline = client.poll_timeout().unwrap();
        client.handle_timeout(deadline);
        assert_eq!(client.poll_timeout(), None);
        client.connect(deadline).unwrap();
        let connack = Packet::ConnAck(Box::new(connack(false)));
        feed(&mut client, deadline, connack);
        let _ = client.poll_transmit();
        let mut steps = 0;
        while let Some(deadline) = client.poll_timeout() {
            client.handle_timeout(deadline);
            let wrote_ping = client.poll_transmit().is_some();
            if wrote_ping && answer_pings {
                feed_raw(&mut client, deadline, &PINGRESP);
            }
            if let Some(next) = client.poll_timeout() {
                assert!(next > deadline, "poll_timeout did not move past now");
            }
            steps += 1;
            if steps == 50 {
                break;
            }
        }
        assert!(steps >= 2, "at least a PINGREQ and what follows it");
    }
}

// ---------------------------------------------------------------------------------------------
// Outgoing publishes
// ---------------------------------------------------------------------------------------------

/// v3/v5 4.3.1: a QoS 0 PUBLISH, byte for byte; no completion event.
#[test]
fn publish_qos0_exact_bytes() {
    each_version(options, |mut client, t0| {
        publish(&mut client, t0, "a/b", b"hi", QoS::AtMostOnce);
        let expected: &[u8] = if client.options().version == V5 {
            b"\x30\x08\x00\x03a/b\x00hi" // property length 0
        } else {
            b"\x30\x07\x00\x03a/bhi"
        };
        assert_eq!(raw(&mut client), expected);
        assert_eq!(events(&mut client), []);
        assert_eq!(client.inflight(), 0);
    });
}

/// v5 [MQTT-4.3.2-1], [MQTT-4.3.2-2]: QoS 1 PUBLISH with DUP 0 and a packet id; PUBACK
/// completes it [MQTT-4.3.2-3].
#[test]
fn publish_qos1_flow() {
    each_version(options, |mut client, t0| {
        let mut m = msg("a/b", b"hi", QoS::AtLeastOnce);
        m.retain = true;
        let id = client.publish(t0, m.clone()).unwrap();
        let bytes = raw(&mut client);
        assert_eq!(bytes[0], 0x33, "PUBLISH QoS 1 RETAIN, DUP 0");
        assert_eq!(&bytes[2..9], b"\x00\x03a/b\x00\x01");
        assert_eq!(client.inflight(), 1);
        assert_eq!(events(&mut client), []);
        feed_raw(&mut client, t0, &puback(1));
        assert_completed_ok(&mut client, &[id]);
        assert_eq!(client.inflight(), 0);
        assert_eq!(client.poll_transmit(), None);
        // A repeated PUBACK is ignored.
        feed_raw(&mut client, t0, &puback(1));
        assert_eq!(events(&mut client), []);
        assert_eq!(client.state(), ConnectionState::Connected);
    });
}

/// v5 [MQTT-4.3.3-1]..[MQTT-4.3.3-5] (v3 [MQTT-4.3.3-1]): PUBLISH QoS 2 -> PUBREC -> PUBREL
/// (flags 0010, same id) -> PUBCOMP -> completed. A repeated PUBREC gets PUBREL again.
#[test]
fn publish_qos2_flow() {
    each_version(options, |mut client, t0| {
        let id = publish(&mut client, t0, "q/2", b"x", QoS::ExactlyOnce);
        let sent_publish = sent(&mut client);
        let p = publish_of(&sent_publish[0]);
        assert_eq!(
            (p.qos, p.dup, p.packet_id),
            (QoS::ExactlyOnce, false, Some(pid(1)))
        );
        assert_eq!(answer_raw(&mut client, t0, &pubrec(1)), pubrel(1));
        assert_eq!(events(&mut client), [], "not complete before PUBCOMP");
        assert_eq!(client.inflight(), 1);
        let again = answer_raw(&mut client, t0, &pubrec(1));
        assert_eq!(again, pubrel(1), "PUBREL again");
        feed_raw(&mut client, t0, &pubcomp(1));
        assert_completed_ok(&mut client, &[id]);
        assert_eq!(client.inflight(), 0);
        assert_eq!(client.poll_transmit(), None);
    });
}

/// Acknowledgements of packet ids the client has no state for are answered with the next
/// step of the flow; nothing completes and the connection stays:
/// - a PUBREC for a packet id the client has no message for gets PUBREL (v5: 0x92 Packet
///   Identifier not found, 3.6.2.1) (was `unknown_pubrec_gets_pubrel`);
/// - v5 3.7.2.1 / [MQTT-4.3.3-11]: a PUBREL for an unknown id gets PUBCOMP (v5: 0x92 Packet
///   Identifier not found) (was `pubrel_for_unknown_id_gets_pubcomp`).
#[test]
fn unknown_pubrec_gets_pubrel_and_unknown_pubrel_gets_pubcomp() {
    let t0 = Instant::now();
    for (version, input, expected) in [
        (V3, pubrec(7), pubrel(7).to_vec()),
        (V5, pubrec(7), vec![0x62, 0x03, 0x00, 0x07, 0x92]),
        (V3, pubrel(9), pubcomp(9).to_vec()),
        (V5, pubrel(9), vec![0x70, 0x03, 0x00, 0x09, 0x92]),
    ] {
        let mut client = connected(options(version), t0);
        let answered = answer_raw(&mut client, t0, &input);
        assert_eq!(answered, expected, "{version:?} {input:02x?}");
        assert_eq!(events(&mut client), []);
        assert_eq!(client.state(), ConnectionState::Connected);
    }
}

/// v5 [MQTT-4.3.3-4] and [MQTT-4.4.0-2]: a PUBREC with a reason code of 0x80 or more ends
/// the flow: no PUBREL, the reason is reported, and the PUBLISH is never re-sent, even on a
/// resumed session. An error PUBACK is reported the same way.
#[test]
fn v5_error_pubrec_and_puback_end_the_flow() {
    let t0 = Instant::now();
    let mut client = connected(persistent(V5), t0);
    let q2 = publish(&mut client, t0, "a", b"x", QoS::ExactlyOnce);
    let q1 = publish(&mut client, t0, "b", b"y", QoS::AtLeastOnce);
    assert_eq!(sent(&mut client).len(), 2);
    feed_raw(&mut client, t0, &[0x50, 0x03, 0x00, 0x01, 0x80]);
    assert_eq!(
        client.poll_transmit(),
        None,
        "no PUBREL after an error PUBREC"
    );
    feed_raw(&mut client, t0, &[0x40, 0x03, 0x00, 0x02, 0x87]);
    assert_eq!(
        events(&mut client),
        [
            completed(q2, ReasonCode::UnspecifiedError),
            completed(q1, ReasonCode::NotAuthorized)
        ]
    );
    assert_eq!(client.inflight(), 0);
    let (resent, _) = reconnect(&mut client, t0, connack(true));
    assert_eq!(resent, []);
}

/// v5 [MQTT-2.2.1-3] (v3 [MQTT-2.3.1-1], [MQTT-2.3.1-2]): packet ids are non-zero and not in
/// use; they wrap after 65,535 and skip one still in flight. A completed id is used again.
#[test]
fn packet_ids_unique_nonzero_and_reused_after_wrap() {
    let t0 = Instant::now();
    let mut client = connected(options(V3), t0);
    publish(&mut client, t0, "held", b"", QoS::AtLeastOnce);
    assert_eq!(publish_of(&sent(&mut client)[0]).packet_id, Some(pid(1)));
    let mut input = BytesMut::new();
    for expected in 2..=u16::MAX {
        publish(&mut client, t0, "t", b"", QoS::AtLeastOnce);
        let bytes = client.poll_transmit().unwrap();
        // 0x32, 0x05, topic "t" (3 bytes), then the packet id.
        assert_eq!(u16::from_be_bytes([bytes[5], bytes[6]]), expected);
        input.extend_from_slice(&[0x40, 0x02, bytes[5], bytes[6]]);
        client.handle_bytes(t0, &mut input);
        assert!(matches!(
            client.poll_event(),
            Some(Event::PublishCompleted { .. })
        ));
    }
    // Wrapped: 1 is still in flight, so 2 (completed long ago) is next.
    publish(&mut client, t0, "t", b"", QoS::ExactlyOnce);
    assert_eq!(publish_of(&sent(&mut client)[0]).packet_id, Some(pid(2)));
    assert_eq!(client.inflight(), 2);
}

/// [MQTT-2.2.1-3]: SUBSCRIBE, UNSUBSCRIBE and PUBLISH share the client's id space.
#[test]
fn packet_ids_shared_by_subscribe_and_publish() {
    let t0 = Instant::now();
    let mut client = connected(options(V5), t0);
    let sub = subscribe(&mut client, t0, "a");
    publish(&mut client, t0, "a", b"x", QoS::AtLeastOnce);
    let unsub = client.unsubscribe(t0, vec![s("a")]).unwrap();
    let packets = sent(&mut client);
    let publish_id = publish_of(&packets[1]).packet_id.unwrap();
    let mut ids = vec![sub, publish_id, unsub];
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{sub} {publish_id} {unsub}");
}

/// v5 [MQTT-3.3.4-7], [MQTT-4.9.0-2]: never more QoS 1/2 PUBLISH unacknowledged than the
/// server's Receive Maximum; the next goes when one completes.
#[test]
fn receive_maximum_window() {
    let t0 = Instant::now();
    let mut client = connected_window(2, t0);
    let a = publish(&mut client, t0, "a", b"1", QoS::AtLeastOnce);
    let b = publish(&mut client, t0, "b", b"2", QoS::ExactlyOnce);
    let c = publish(&mut client, t0, "c", b"3", QoS::AtLeastOnce);
    let packets = sent(&mut client);
    let ids: Vec<_> = publishes(&packets).iter().map(|p| p.packet_id).collect();
    assert_eq!(ids, [Some(pid(1)), Some(pid(2))]);
    assert_eq!((client.inflight(), client.queued()), (2, 1));
    feed_raw(&mut client, t0, &puback(1));
    assert_completed_ok(&mut client, &[a]);
    let packets = sent(&mut client);
    assert_eq!(publishes(&packets).len(), 1);
    assert_eq!(publish_of(&packets[0]).topic, "c");
    assert_eq!(publish_of(&packets[0]).packet_id, Some(pid(3)));
    // B counts until PUBCOMP, not PUBREC.
    publish(&mut client, t0, "d", b"4", QoS::AtLeastOnce);
    feed_raw(&mut client, t0, &pubrec(2));
    assert_eq!(sent(&mut client), [Packet::PubRel(ack(2))]);
    feed_raw(&mut client, t0, &pubcomp(2));
    let packets = sent(&mut client);
    assert_eq!(publish_of(&packets[0]).topic, "d");
    feed_raw(&mut client, t0, &puback(3));
    assert_completed_ok(&mut client, &[b, c]);
}

/// v5 [MQTT-3.3.4-8]: a full window delays only PUBLISH packets: PUBREL, PINGREQ and
/// SUBSCRIBE still go.
#[test]
fn full_window_does_not_delay_other_packets() {
    let t0 = Instant::now();
    let mut client = connected_window(1, t0);
    let [_, queued] = [("a", QoS::ExactlyOnce), ("b", QoS::AtLeastOnce)]
        .map(|(topic, qos)| publish(&mut client, t0, topic, b"x", qos));
    assert_eq!(publishes(&sent(&mut client)).len(), 1);
    feed_raw(&mut client, t0, &pubrec(1));
    client.ping(t0).unwrap();
    subscribe(&mut client, t0, "x");
    let packets = sent(&mut client);
    assert_eq!(packets[0], Packet::PubRel(ack(1)));
    assert_eq!(packets[1], Packet::PingReq);
    assert!(matches!(packets[2], Packet::Subscribe(_)));
    assert_eq!(packets.len(), 3);
    assert_eq!(client.queued(), 1);
    feed_raw(&mut client, t0, &pubcomp(1));
    let packets = sent(&mut client);
    assert_eq!(
        publish_of(&packets[0]).topic,
        "b",
        "{queued:?} goes once the window opens"
    );
}

/// The bounded queue: one publish more than `max_queued_publishes` is QueueFull, connected
/// (window full) or not.
#[test]
fn queue_full() {
    let t0 = Instant::now();
    let opts = tuned(V5, |o| o.max_queued_publishes = 2);
    let mut client = connected_v5(opts.clone(), t0, |p| {
        p.receive_maximum = NonZeroU16::new(1);
    });
    publish(&mut client, t0, "a", b"", QoS::AtLeastOnce);
    publish(&mut client, t0, "b", b"", QoS::AtLeastOnce);
    publish(&mut client, t0, "c", b"", QoS::ExactlyOnce);
    assert_eq!(
        client.publish(t0, msg("d", b"", QoS::AtLeastOnce)),
        Err(ClientError::QueueFull)
    );
    assert_eq!(
        client.publish(t0, msg("e", b"", QoS::AtMostOnce)),
        Err(ClientError::QueueFull),
        "a QoS 0 message would also wait behind the queue"
    );
    assert_eq!((client.inflight(), client.queued()), (1, 2));
    let _ = sent(&mut client);
    feed_raw(&mut client, t0, &puback(1));
    assert_eq!(client.queued(), 1);
    assert!(client.publish(t0, msg("d", b"", QoS::AtLeastOnce)).is_ok());

    // Disconnected: everything waits, up to the bound.
    let mut client = Client::new(opts);
    publish(&mut client, t0, "a", b"", QoS::AtMostOnce);
    publish(&mut client, t0, "b", b"", QoS::AtLeastOnce);
    assert_eq!(
        client.publish(t0, msg("c", b"", QoS::AtLeastOnce)),
        Err(ClientError::QueueFull)
    );
    assert_eq!(client.poll_transmit(), None);
}

/// v5 [MQTT-3.2.2-11] Maximum QoS, [MQTT-3.2.2-14] Retain Available, [MQTT-3.2.2-15]
/// Maximum Packet Size: refused at once when connected, nothing sent.
#[test]
fn server_limits_refuse_publishes_when_connected() {
    let t0 = Instant::now();
    let mut client = connected_v5(options(V5), t0, |p| {
        p.maximum_qos = Some(QoS::AtLeastOnce);
        p.retain_available = Some(false);
        p.maximum_packet_size = NonZeroU32::new(64);
    });
    assert_eq!(
        client.publish(t0, msg("a", b"x", QoS::ExactlyOnce)),
        Err(ClientError::QoSNotSupported)
    );
    let mut retained = msg("a", b"x", QoS::AtMostOnce);
    retained.retain = true;
    assert_eq!(
        client.publish(t0, retained),
        Err(ClientError::RetainNotSupported)
    );
    let big = Publish::new(s("a"), Bytes::from(vec![0u8; 100]));
    assert_eq!(
        client.publish(t0, big),
        Err(ClientError::PacketTooLarge { size: 106, max: 64 })
    );
    assert_eq!(client.poll_transmit(), None);
    assert_eq!((client.inflight(), client.queued()), (0, 0));
    // What fits goes: 64 bytes exactly.
    let fits = Publish::new(s("a"), Bytes::from(vec![0u8; 58]));
    client.publish(t0, fits).unwrap();
    assert_eq!(raw(&mut client).len(), 64);
    publish(&mut client, t0, "a", b"x", QoS::AtLeastOnce);
    assert_eq!(publishes(&sent(&mut client)).len(), 1);
    // A SUBSCRIBE too large for the server is refused the same way.
    let filter = MqttString::try_from("f/".repeat(40)).unwrap();
    assert_eq!(
        client.subscribe(t0, vec![(filter, SubscriptionOptions::default())]),
        Err(ClientError::PacketTooLarge { size: 88, max: 64 })
    );
    assert_eq!(client.poll_transmit(), None);
}

/// A publish queued before the CONNACK that the server's limits refuse completes with the
/// matching reason code and is not sent.
#[test]
fn queued_publish_over_server_limits_completes_with_reason() {
    let t0 = Instant::now();
    let mut client = Client::new(options(V5));
    let q2 = publish(&mut client, t0, "a", b"x", QoS::ExactlyOnce);
    let mut retained = msg("b", b"x", QoS::AtLeastOnce);
    retained.retain = true;
    let r = client.publish(t0, retained).unwrap();
    let ok = publish(&mut client, t0, "c", b"x", QoS::AtLeastOnce);
    connect_packet(&mut client, t0);
    let mut ack = connack(false);
    ack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    ack.properties.retain_available = Some(false);
    feed(&mut client, t0, Packet::ConnAck(Box::new(ack)));
    let events = events(&mut client);
    assert_eq!(
        &events[1..],
        [
            completed(q2, ReasonCode::QoSNotSupported),
            completed(r, ReasonCode::RetainNotSupported)
        ]
    );
    let packets = sent(&mut client);
    assert_eq!(packets.len(), 1);
    assert_eq!(publish_of(&packets[0]).topic, "c");
    assert_eq!(publish_of(&packets[0]).packet_id, Some(pid(1)));
    feed_raw(&mut client, t0, &puback(1));
    assert_eq!(
        client.poll_event(),
        Some(completed(ok, ReasonCode::Success))
    );
}

/// Publishes made while disconnected or connecting go after the CONNACK, in order.
#[test]
fn publishes_while_disconnected_are_sent_after_connack() {
    let t0 = Instant::now();
    for version in BOTH {
        let mut client = Client::new(options(version));
        publish(&mut client, t0, "a", b"0", QoS::AtMostOnce);
        publish(&mut client, t0, "b", b"1", QoS::AtLeastOnce);
        publish(&mut client, t0, "c", b"2", QoS::ExactlyOnce);
        assert_eq!(client.poll_transmit(), None);
        assert_eq!(client.queued(), 3);
        connect_packet(&mut client, t0);
        publish(&mut client, t0, "d", b"3", QoS::AtLeastOnce);
        assert_eq!(
            client.poll_transmit(),
            None,
            "nothing but CONNECT before CONNACK"
        );
        feed(&mut client, t0, Packet::ConnAck(Box::new(connack(false))));
        let packets = sent(&mut client);
        let got: Vec<_> = publishes(&packets)
            .iter()
            .map(|p| (p.topic.to_string(), p.qos, p.packet_id, p.dup))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), QoS::AtMostOnce, None, false),
                ("b".to_string(), QoS::AtLeastOnce, Some(pid(1)), false),
                ("c".to_string(), QoS::ExactlyOnce, Some(pid(2)), false),
                ("d".to_string(), QoS::AtLeastOnce, Some(pid(3)), false),
            ]
        );
        assert_eq!(client.queued(), 0);
    }
}

/// Message order (v5 4.6, Ordered Topic): a QoS 0 message does not overtake QoS 1 messages
/// waiting for the window.
#[test]
fn qos0_does_not_overtake_queued_qos1() {
    let t0 = Instant::now();
    let mut client = connected_window(1, t0);
    for (payload, qos) in [
        (b"1", QoS::AtLeastOnce),
        (b"2", QoS::AtLeastOnce),
        (b"3", QoS::AtMostOnce),
    ] {
        publish(&mut client, t0, "t", payload, qos);
    }
    let first = sent(&mut client);
    assert_eq!(first.len(), 1);
    assert_eq!(publish_of(&first[0]).payload, "1");
    feed_raw(&mut client, t0, &puback(1));
    let rest = sent(&mut client);
    let payloads: Vec<_> = publishes(&rest).iter().map(|p| p.payload.clone()).collect();
    assert_eq!(payloads, ["2", "3"]);
}

/// v5 3.3.2.3.4: outgoing topic aliases within the server's Topic Alias Maximum; the first
/// PUBLISH of a topic carries topic and alias, later ones an empty topic and the alias. They
/// do not survive the connection [MQTT-3.3.2-7]: a re-sent PUBLISH carries its topic, and the
/// next connection sets aliases again.
#[test]
fn outgoing_topic_aliases() {
    let t0 = Instant::now();
    let mut opts = persistent(V5);
    opts.outgoing_topic_aliases = true;
    let mut client = connected_v5(opts, t0, |p| p.topic_alias_maximum = Some(2));
    for topic in ["t/1", "t/1", "t/2", "t/3", "t/2"] {
        client
            .publish(
                t0,
                Publish::new(MqttString::try_from(topic).unwrap(), Bytes::new()),
            )
            .unwrap();
    }
    publish(&mut client, t0, "t/1", b"q1", QoS::AtLeastOnce);
    let packets = sent(&mut client);
    let wire: Vec<_> = publishes(&packets)
        .iter()
        .map(|p| {
            (
                p.topic.to_string(),
                p.properties.topic_alias.map(|a| a.get()),
            )
        })
        .collect();
    let expected = [
        ("t/1", Some(1)),
        ("", Some(1)),
        ("t/2", Some(2)),
        ("t/3", None), // beyond the maximum [MQTT-3.3.2-9]
        ("", Some(2)),
        ("", Some(1)),
    ];
    let expected: Vec<_> = expected.iter().map(|(t, a)| (t.to_string(), *a)).collect();
    assert_eq!(wire, expected);

    let mut ack = connack(true);
    ack.properties.topic_alias_maximum = Some(2);
    let (resent, _) = reconnect(&mut client, t0, ack);
    let p = publish_of(&resent[0]);
    assert_eq!((p.topic.as_str(), p.dup), ("t/1", true));
    assert_eq!(p.properties.topic_alias, None);
    publish(&mut client, t0, "t/1", b"", QoS::AtMostOnce);
    let p = sent(&mut client);
    assert_eq!(publish_of(&p[0]).topic, "t/1");
    assert_eq!(publish_of(&p[0]).properties.topic_alias, NonZeroU16::new(1));
}

/// v5 [MQTT-3.2.2-18]: without a Topic Alias Maximum from the server, no alias is sent even
/// with outgoing aliases enabled.
#[test]
fn outgoing_topic_aliases_off_without_server_maximum() {
    let t0 = Instant::now();
    let mut client = connected(tuned(V5, |o| o.outgoing_topic_aliases = true), t0);
    for _ in 0..2 {
        publish(&mut client, t0, "t/1", b"", QoS::AtMostOnce);
    }
    for packet in sent(&mut client) {
        let p = publish_of(&packet);
        assert_eq!((p.topic.as_str(), p.properties.topic_alias), ("t/1", None));
    }
}

/// v5 [MQTT-3.2.2-17], [MQTT-3.2.2-18], [MQTT-3.3.2-9]: the client MUST NOT send a Topic
/// Alias above the server's Topic Alias Maximum (none at all when it is 0), also when the
/// application put one in the message's properties.
#[test]
fn application_topic_alias_above_server_maximum_is_never_sent() {
    let mut m = msg("t/1", b"x", QoS::AtLeastOnce);
    m.properties.topic_alias = NonZeroU16::new(1);
    assert_never_sent(
        m,
        |p| p.properties.topic_alias.is_some(),
        "Topic Alias to a server with Topic Alias Maximum 0",
    );
}

/// v5 [MQTT-3.3.4-6]: a PUBLISH sent by a client MUST NOT contain a Subscription Identifier.
#[test]
fn publish_with_subscription_identifier_is_never_sent() {
    let mut m = msg("t/1", b"x", QoS::AtMostOnce);
    m.properties.subscription_identifiers = vec![SubscriptionId::new(5).unwrap()];
    assert_never_sent(
        m,
        |p| !p.properties.subscription_identifiers.is_empty(),
        "Subscription Identifier in a client PUBLISH",
    );
}

// ---------------------------------------------------------------------------------------------
// Incoming messages
// ---------------------------------------------------------------------------------------------

/// v3/v5 4.3.1: a QoS 0 message, no acknowledgement; topic and payload are slices of the
/// receive buffer (zero-copy).
#[test]
fn incoming_qos0_is_zero_copy() {
    let t0 = Instant::now();
    for (version, bytes) in [
        (V3, &b"\x31\x0A\x00\x03s/thello"[..]),
        (V5, &b"\x31\x0B\x00\x03s/t\x00hello"[..]),
    ] {
        let mut client = connected(options(version), t0);
        let mut input = BytesMut::with_capacity(64);
        input.extend_from_slice(bytes);
        let start = input.as_ptr() as usize;
        let range = start..start + input.len();
        client.handle_bytes(t0, &mut input);
        let events = events(&mut client);
        let [Event::Message(m)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!((m.topic.as_str(), &m.payload[..]), ("s/t", &b"hello"[..]));
        assert_eq!(
            (m.qos, m.retain, m.dup, m.ack),
            (QoS::AtMostOnce, true, false, None)
        );
        assert!(
            range.contains(&(m.payload.as_ptr() as usize)),
            "payload copied"
        );
        assert!(
            range.contains(&(m.topic.as_bytes().as_ptr() as usize)),
            "topic copied"
        );
        assert_eq!(client.poll_transmit(), None);
    }
}

/// v5 [MQTT-4.3.2-4] (v3 [MQTT-4.3.2-2]): a QoS 1 message is acknowledged with PUBACK of its
/// packet id.
#[test]
fn incoming_qos1_gets_puback() {
    each_version(options, |mut client, t0| {
        let qos1 = server_publish("a/b", b"m", QoS::AtLeastOnce, Some(7), false);
        let m = delivered(&mut client, t0, qos1, &puback(7));
        assert_eq!((m.qos, m.ack), (QoS::AtLeastOnce, None));
    });
}

/// v5 [MQTT-4.3.3-8], [MQTT-4.3.3-10], [MQTT-4.3.3-11], [MQTT-4.3.3-12] (v3 [MQTT-4.3.3-2]):
/// PUBREC; a repeated PUBLISH (DUP) before PUBREL gets PUBREC again and no second Message;
/// PUBREL gets PUBCOMP; after it the id is a new message.
#[test]
fn incoming_qos2_exactly_once() {
    each_version(options, |mut client, t0| {
        let once = qos2_in("q", b"once", 9);
        delivered(&mut client, t0, once.clone(), &pubrec(9));
        assert_not_delivered_again(&mut client, t0, &once, &pubrec(9));
        assert_eq!(answer_raw(&mut client, t0, &pubrel(9)), pubcomp(9));
        let again = delivered(&mut client, t0, qos2_in("q", b"again", 9), &pubrec(9));
        assert_eq!(again.payload, "again");
    });
}

/// v3 [MQTT-4.1.0-1], v5 [MQTT-3.1.2-23], [MQTT-4.4.0-1]: the PUBREC state of an incoming
/// QoS 2 message is session state and survives a reconnect: the server's re-sent PUBLISH (DUP) is not delivered again, its PUBREL is
/// answered.
#[test]
fn incoming_qos2_state_survives_reconnect() {
    each_version(persistent, |mut client, t0| {
        let first = qos2_in("q", b"x", 5);
        delivered(&mut client, t0, first.clone(), &pubrec(5));
        let (resent, connack_events) = reconnect(&mut client, t0, connack(true));
        assert_eq!(resent, []);
        assert!(matches!(connack_events[..], [Event::Connected { .. }]));
        assert_not_delivered_again(&mut client, t0, &first, &pubrec(5));
        assert_eq!(answer_raw(&mut client, t0, &pubrel(5)), pubcomp(5));
    });
}

/// v5 [MQTT-3.3.2-10]: the client accepts aliases 1..=its Topic Alias Maximum: a PUBLISH
/// with topic and alias sets the mapping, an empty topic uses it, a new topic replaces it.
#[test]
fn inbound_topic_alias_set_use_and_replace() {
    let t0 = Instant::now();
    let opts = tuned(V5, |o| o.topic_alias_maximum = 2);
    let (mut client, connect) = connected_sending(opts, t0, connack(false));
    assert_eq!(connect.properties.topic_alias_maximum, Some(2));
    for packet in [
        aliased_publish("long/topic/name", 1, b"1"),
        aliased_publish("", 1, b"2"),
        aliased_publish("other", 1, b"3"),
        aliased_publish("", 1, b"4"),
        aliased_publish("two", 2, b"5"),
        aliased_publish("", 2, b"6"),
    ] {
        feed(&mut client, t0, packet);
    }
    let events = events(&mut client);
    let got: Vec<_> = messages(&events)
        .iter()
        .map(|m| {
            assert_eq!(m.properties.topic_alias, None, "alias resolved");
            (m.topic.to_string(), m.payload.clone())
        })
        .collect();
    let expected: Vec<_> = [
        ("long/topic/name", "1"),
        ("long/topic/name", "2"),
        ("other", "3"),
        ("other", "4"),
        ("two", "5"),
        ("two", "6"),
    ]
    .iter()
    .map(|(t, p)| (t.to_string(), Bytes::from_static(p.as_bytes())))
    .collect();
    assert_eq!(got, expected);
    assert_eq!(client.state(), ConnectionState::Connected);
}

/// v5 3.3.4: an empty topic with an alias that has no mapping is a Protocol Error: DISCONNECT
/// 0x82.
#[test]
fn inbound_unknown_topic_alias_is_protocol_error() {
    let t0 = Instant::now();
    let mut client = connected(tuned(V5, |o| o.topic_alias_maximum = 2), t0);
    feed(&mut client, t0, aliased_publish("", 2, b"x"));
    assert_protocol_error(&closed_with(&mut client, 0x82));
}

/// v5 [MQTT-3.1.2-26], [MQTT-3.1.2-27], 3.3.4: "A Topic Alias value of 0 or greater than the
/// Maximum Topic Alias is a Protocol Error, the receiver uses DISCONNECT with Reason Code of
/// 0x94 (Topic Alias invalid)". Also when the client's maximum is 0 (the default).
#[test]
fn inbound_topic_alias_above_maximum_is_0x94() {
    let t0 = Instant::now();
    for (maximum, alias) in [(2u16, 3u16), (0, 1)] {
        let mut client = connected(tuned(V5, |o| o.topic_alias_maximum = maximum), t0);
        feed(&mut client, t0, aliased_publish("t", alias, b"x"));
        let events = closed_with(&mut client, 0x94);
        assert!(
            matches!(
                events.last(),
                Some(Event::Disconnected(DisconnectReason::ProtocolError(_)))
            ),
            "alias {alias} with Topic Alias Maximum {maximum}: {events:?}"
        );
    }
}

/// v5 [MQTT-3.3.2-8], 3.3.4: a Topic Alias of 0 is refused by the codec; DISCONNECT 0x94.
#[test]
fn inbound_topic_alias_zero_is_0x94() {
    let t0 = Instant::now();
    let mut client = connected(tuned(V5, |o| o.topic_alias_maximum = 2), t0);
    // PUBLISH QoS 0, topic "a", properties: Topic Alias (0x23) = 0, payload "x".
    feed_raw(
        &mut client,
        t0,
        &[0x30, 0x08, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x00, b'x'],
    );
    assert_malformed(
        &closed_with(&mut client, 0x94),
        DecodeError::InvalidPropertyValue(PropertyId::TopicAlias),
    );
}

/// v5 [MQTT-3.3.2-7]: the receiver does not carry topic alias mappings to a new connection.
#[test]
fn inbound_topic_aliases_do_not_survive_reconnect() {
    let t0 = Instant::now();
    let mut opts = persistent(V5);
    opts.topic_alias_maximum = 2;
    let mut client = connected(opts, t0);
    feed(&mut client, t0, aliased_publish("t", 1, b"x"));
    assert_eq!(messages(&events(&mut client)).len(), 1);
    reconnect(&mut client, t0, connack(true));
    feed(&mut client, t0, aliased_publish("", 1, b"y"));
    assert_protocol_error(&closed_with(&mut client, 0x82));
}

/// v5 [MQTT-3.3.4-9] and 4.9: the server sends no more than the client's Receive Maximum
/// unacknowledged QoS 1/2 PUBLISH packets. A QoS 2 message counts until PUBCOMP; a
/// re-sent one does not count twice.
#[test]
fn client_receive_maximum_counts_until_pubcomp() {
    let t0 = Instant::now();
    let opts = tuned(V5, |o| o.receive_maximum = 2);
    let (mut client, connect) = connected_sending(opts, t0, connack(false));
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(2));
    for packet in [qos2_in("q", b"x", 1), qos2_in("q", b"x", 2)] {
        feed(&mut client, t0, packet);
    }
    feed(&mut client, t0, redelivered(&qos2_in("q", b"x", 1)));
    assert_eq!(
        sent(&mut client),
        [
            Packet::PubRec(ack(1)),
            Packet::PubRec(ack(2)),
            Packet::PubRec(ack(1))
        ]
    );
    feed_raw(&mut client, t0, &pubrel(1));
    feed(&mut client, t0, qos2_in("q", b"x", 3));
    assert_eq!(
        sent(&mut client),
        [Packet::PubComp(ack(1)), Packet::PubRec(ack(3))]
    );
    assert_eq!(messages(&events(&mut client)).len(), 3);
    assert_eq!(client.state(), ConnectionState::Connected);
}

/// v5 3.3.4 after [MQTT-3.3.4-9]: "If it receives more than Receive Maximum QoS 1 and QoS 2
/// PUBLISH packets where it has not sent a PUBACK or PUBCOMP in response, the Client uses
/// DISCONNECT with Reason Code 0x93 (Receive Maximum exceeded)".
#[test]
fn client_receive_maximum_exceeded_is_0x93() {
    let t0 = Instant::now();
    let mut client = connected(tuned(V5, |o| o.receive_maximum = 2), t0);
    for id in [1, 2, 3] {
        feed(&mut client, t0, qos2_in("q", b"x", id));
    }
    let packets = sent(&mut client);
    assert_eq!(
        &packets[..2],
        [Packet::PubRec(ack(1)), Packet::PubRec(ack(2))]
    );
    let events = events(&mut client);
    assert_eq!(messages(&events).len(), 2, "the third is not delivered");
    assert_eq!(client.state(), ConnectionState::Disconnected);
    assert_eq!(
        packets[2..],
        [Packet::Disconnect(Disconnect::new(
            ReasonCode::ReceiveMaximumExceeded
        ))]
    );
}

/// v5 3.1.2.11.4: a packet larger than the client's Maximum Packet Size is a Protocol Error:
/// DISCONNECT 0x95. v3: the connection closes.
#[test]
fn packet_larger_than_client_maximum_is_refused() {
    let t0 = Instant::now();
    for version in BOTH {
        let mut client = connected(tuned(version, |o| o.maximum_packet_size = 32), t0);
        let mut publish = msg("t", b"", QoS::AtMostOnce);
        publish.payload = Bytes::from(vec![7u8; 100]);
        feed(&mut client, t0, Packet::Publish(publish));
        let events = closed_with(&mut client, 0x95);
        assert!(matches!(
            events.last(),
            Some(Event::Disconnected(DisconnectReason::ProtocolError(
                ClientError::Malformed(DecodeError::PacketTooLarge { max: 32, .. })
            )))
        ));
    }
}

/// Streaming: a PUBLISH fed one byte at a time is delivered and acknowledged once.
#[test]
fn incoming_publish_split_byte_by_byte() {
    let t0 = Instant::now();
    let mut client = connected(options(V5), t0);
    let bytes = encode(
        V5,
        &server_publish("a/b", b"payload", QoS::AtLeastOnce, Some(3), false),
    );
    let mut input = BytesMut::new();
    for byte in bytes.iter() {
        input.extend_from_slice(&[*byte]);
        client.handle_bytes(t0, &mut input);
    }
    assert_eq!(raw(&mut client), puback(3));
    assert_eq!(messages(&events(&mut client)).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Manual acknowledgement
// ---------------------------------------------------------------------------------------------

/// With manual acks no PUBACK/PUBREC goes until `ack`; a handle acknowledges once.
#[test]
fn manual_acks_wait_for_the_application() {
    each_version(manual, |mut client, t0| {
        for (payload, qos, id) in [
            (b"0", QoS::AtMostOnce, None),
            (b"1", QoS::AtLeastOnce, Some(1)),
            (b"2", QoS::ExactlyOnce, Some(2)),
        ] {
            feed(
                &mut client,
                t0,
                server_publish("a", payload, qos, id, false),
            );
        }
        assert_eq!(client.poll_transmit(), None);
        let events = events(&mut client);
        let msgs = messages(&events);
        assert_eq!(msgs[0].ack, None, "QoS 0 needs no ack");
        let (h1, h2) = (msgs[1].ack.unwrap(), msgs[2].ack.unwrap());
        client.ack(t0, h1).unwrap();
        assert_eq!(raw(&mut client), puback(1));
        client.ack(t0, h2).unwrap();
        assert_eq!(raw(&mut client), pubrec(2));
        assert_eq!(client.ack(t0, h1), Err(ClientError::UnknownAck));
        assert_eq!(client.ack(t0, h2), Err(ClientError::UnknownAck));
        assert_eq!(client.poll_transmit(), None);
        assert_eq!(answer_raw(&mut client, t0, &pubrel(2)), pubcomp(2));
    });
}

/// [MQTT-4.6.0-2], [MQTT-4.6.0-3]: acknowledged out of order, the PUBACKs and PUBRECs still
/// go in the order the PUBLISH packets arrived.
#[test]
fn manual_acks_out_of_order_are_sent_in_arrival_order() {
    let t0 = Instant::now();
    let mut client = connected(manual(V5), t0);
    let incoming = [
        (1, QoS::AtLeastOnce),
        (2, QoS::ExactlyOnce),
        (3, QoS::AtLeastOnce),
        (4, QoS::ExactlyOnce),
    ];
    for (id, qos) in incoming {
        feed(
            &mut client,
            t0,
            server_publish("a", b"x", qos, Some(id), false),
        );
    }
    let events = events(&mut client);
    let handles: Vec<_> = messages(&events).iter().map(|m| m.ack.unwrap()).collect();
    client.ack(t0, handles[3]).unwrap();
    client.ack(t0, handles[1]).unwrap();
    client.ack(t0, handles[2]).unwrap();
    assert_eq!(
        client.poll_transmit(),
        None,
        "the first message is not acked yet"
    );
    client.ack(t0, handles[0]).unwrap();
    assert_eq!(
        sent(&mut client),
        [
            Packet::PubAck(ack(1)),
            Packet::PubRec(ack(2)),
            Packet::PubAck(ack(3)),
            Packet::PubRec(ack(4)),
        ]
    );
}

/// Manual acks across a reconnect: a QoS 2 message delivered but not acknowledged is re-sent
/// by the server (DUP) on the resumed session: not delivered again [MQTT-4.3.3-10]; once
/// the application acks, the PUBREC goes on the new connection.
#[test]
fn manual_ack_qos2_across_reconnect() {
    each_version(persistent_manual, |mut client, t0| {
        let first = qos2_in("a", b"x", 4);
        let handle = delivered(&mut client, t0, first.clone(), &[]).ack.unwrap();
        let (resent, _) = reconnect(&mut client, at(t0, 1), connack(true));
        assert_eq!(resent, []);
        // No PUBREC before the ack.
        assert_not_delivered_again(&mut client, at(t0, 1), &first, &[]);
        client.ack(at(t0, 2), handle).unwrap();
        assert_eq!(raw(&mut client), pubrec(4));
        assert_eq!(answer_raw(&mut client, at(t0, 2), &pubrel(4)), pubcomp(4));
    });
}

/// Manual acks across a reconnect, QoS 1: the server re-sends the message, which is
/// delivered again (at least once) with a new handle; the old handle sends nothing.
#[test]
fn manual_ack_qos1_handle_of_old_connection() {
    let t0 = Instant::now();
    let mut client = connected(persistent_manual(V3), t0);
    let first = server_publish("a", b"x", QoS::AtLeastOnce, Some(6), false);
    let old = delivered(&mut client, t0, first.clone(), &[]).ack.unwrap();
    reconnect(&mut client, t0, connack(true));
    let again = delivered(&mut client, t0, redelivered(&first), &[]);
    assert!(again.dup);
    let new = again.ack.unwrap();
    assert_eq!(client.ack(t0, old), Ok(()));
    assert_eq!(client.poll_transmit(), None);
    client.ack(t0, new).unwrap();
    assert_eq!(raw(&mut client), puback(6));
}

// ---------------------------------------------------------------------------------------------
// Subscribe and unsubscribe
// ---------------------------------------------------------------------------------------------

/// v3 3.8: SUBSCRIBE byte for byte (flags 0010 [MQTT-3.8.1-1]); the v5 options bits are
/// not sent in 3.1.1.
#[test]
fn subscribe_v311_exact_bytes() {
    let t0 = Instant::now();
    let mut client = connected(options(V3), t0);
    let filters = vec![
        (s("a/+"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
        (s("b/#"), every_option(QoS::ExactlyOnce)),
    ];
    assert_eq!(client.subscribe(t0, filters).unwrap(), pid(1));
    assert_eq!(
        raw(&mut client),
        b"\x82\x0E\x00\x01\x00\x03a/+\x01\x00\x03b/#\x02"
    );
}

/// v5 3.8.2 and 3.8.3.1: SUBSCRIBE with a Subscription Identifier and every option bit.
#[test]
fn subscribe_v5_options_and_subscription_identifier() {
    let t0 = Instant::now();
    let mut client = connected(options(V5), t0);
    let opts = every_option(QoS::AtLeastOnce);
    let mut props = Properties::<SubscribeProperties>::default();
    props.subscription_identifier = SubscriptionId::new(42);
    let id = client
        .subscribe_with(t0, vec![(s("a/#"), opts)], props.clone())
        .unwrap();
    let bytes = raw(&mut client);
    assert_eq!(
        *bytes.last().unwrap(),
        0x2D,
        "QoS 1 | No Local | RAP | RH 2"
    );
    assert_eq!(
        decode(V5, &bytes),
        [Packet::Subscribe(Subscribe {
            packet_id: id,
            properties: props,
            filters: vec![(s("a/#"), opts)],
        })]
    );
}

/// v5 [MQTT-3.9.3-1] (v3 [MQTT-3.9.3-1]): SUBACK gives one code per filter, in order.
#[test]
fn suback_gives_subscribed_with_codes() {
    use ReasonCode::*;
    let t0 = Instant::now();
    for (version, suback, reason_codes) in [
        (
            V3,
            &[0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x80][..],
            vec![Success, GrantedQoS1, UnspecifiedError],
        ),
        (
            V5,
            &[0x90, 0x06, 0x00, 0x01, 0x00, 0x02, 0x87, 0xA2][..],
            vec![
                GrantedQoS2,
                NotAuthorized,
                WildcardSubscriptionsNotSupported,
            ],
        ),
    ] {
        let mut client = connected(options(version), t0);
        let filters = vec![
            (s("a"), SubscriptionOptions::qos(QoS::AtMostOnce)),
            (s("b"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
            (s("c"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
        ];
        let packet_id = client.subscribe(t0, filters).unwrap();
        let _ = client.poll_transmit();
        feed_raw(&mut client, t0, suback);
        assert_eq!(
            events(&mut client),
            [Event::Subscribed {
                packet_id,
                reason_codes
            }]
        );
    }
}

/// [MQTT-3.9.3-1], [MQTT-3.11.3-1]: a SUBACK with the wrong number of codes, or an
/// acknowledgement of no request (unknown id, or UNSUBACK for a SUBSCRIBE) is a protocol
/// error: v5 DISCONNECT 0x82; v3 closes.
#[test]
fn bad_suback_is_protocol_error() {
    let t0 = Instant::now();
    let bad_acks = [
        Packet::SubAck(SubAck::new(pid(1), vec![ReasonCode::Success])),
        Packet::SubAck(SubAck::new(
            pid(9),
            vec![ReasonCode::Success, ReasonCode::Success],
        )),
        Packet::UnsubAck(UnsubAck::new(
            pid(1),
            vec![ReasonCode::Success, ReasonCode::Success],
        )),
    ];
    for version in BOTH {
        for bad in bad_acks.clone() {
            let mut client = connected(options(version), t0);
            let filters = vec![
                (s("a"), SubscriptionOptions::default()),
                (s("b"), SubscriptionOptions::default()),
            ];
            client.subscribe(t0, filters).unwrap();
            let _ = client.poll_transmit();
            feed(&mut client, t0, bad.clone());
            assert_protocol_error(&closed_with(&mut client, 0x82));
        }
    }
}

/// v3 3.10 and 3.11: UNSUBSCRIBE byte for byte; the 3.1.1 UNSUBACK carries no codes, so
/// each filter is Success. v5 UNSUBACK codes are passed on.
#[test]
fn unsubscribe_and_unsuback() {
    let t0 = Instant::now();
    for (version, unsuback, reason_codes) in [
        (
            V3,
            &[0xB0, 0x02, 0x00, 0x01][..],
            vec![ReasonCode::Success; 2],
        ),
        (
            V5,
            &[0xB0, 0x05, 0x00, 0x01, 0x00, 0x00, 0x11][..],
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        ),
    ] {
        let mut client = connected(options(version), t0);
        let packet_id = client.unsubscribe(t0, vec![s("a/+"), s("b")]).unwrap();
        let bytes = raw(&mut client);
        assert_eq!(
            decode(version, &bytes),
            [Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties: Properties::default(),
                filters: vec![s("a/+"), s("b")],
            })]
        );
        if version == V3 {
            assert_eq!(bytes, b"\xA2\x0A\x00\x01\x00\x03a/+\x00\x01b");
        }
        feed_raw(&mut client, t0, unsuback);
        assert_eq!(
            events(&mut client),
            [Event::Unsubscribed {
                packet_id,
                reason_codes,
            }]
        );
    }
}

/// v3 [MQTT-3.8.3-3], [MQTT-3.10.3-2] (v5 [MQTT-3.8.3-2], [MQTT-3.10.3-2]): at least one
/// filter; commands that need a connection say NotConnected.
#[test]
fn command_errors() {
    let t0 = Instant::now();
    let mut client = connected(options(V5), t0);
    assert_eq!(client.subscribe(t0, vec![]), Err(ClientError::NoFilters));
    assert_eq!(client.unsubscribe(t0, vec![]), Err(ClientError::NoFilters));
    assert_eq!(client.poll_transmit(), None);

    let mut client = Client::new(options(V5));
    let one = || vec![(s("a"), SubscriptionOptions::default())];
    assert_eq!(client.subscribe(t0, one()), Err(ClientError::NotConnected));
    assert_eq!(
        client.unsubscribe(t0, vec![s("a")]),
        Err(ClientError::NotConnected)
    );
    assert_eq!(client.ping(t0), Err(ClientError::NotConnected));
    assert_eq!(
        client.disconnect(t0, ReasonCode::Success, Properties::default()),
        Err(ClientError::NotConnected)
    );
    assert_eq!(client.poll_transmit(), None);
    // After the connection is lost too.
    let mut client = connected(options(V3), t0);
    client.connection_lost(t0);
    assert_eq!(client.subscribe(t0, one()), Err(ClientError::NotConnected));
    assert_eq!(client.ping(t0), Err(ClientError::NotConnected));
}

/// [MQTT-2.2.1-3] / v3 [MQTT-2.3.1-2]: a SUBSCRIBE made before the CONNACK is sent once on
/// that connection; sending it again with the same packet id while it is unacknowledged
/// would make the server's second SUBACK an "acknowledgement of no request".
#[test]
fn subscribe_before_connack_is_sent_once() {
    let t0 = Instant::now();
    for version in BOTH {
        let mut client = connecting(options(version), t0);
        let id = subscribe(&mut client, t0, "a");
        let mut packets = sent(&mut client);
        feed(&mut client, t0, Packet::ConnAck(Box::new(connack(false))));
        packets.extend(sent(&mut client));
        let subscribes = packets
            .iter()
            .filter(|p| matches!(p, Packet::Subscribe(_)))
            .count();
        assert_eq!(subscribes, 1, "SUBSCRIBE {id} sent {subscribes} times");
    }
}

/// v5 [MQTT-3.1.2-30]: with an Authentication Method in the CONNECT, nothing but AUTH or
/// DISCONNECT goes before the CONNACK. The AUTH exchange itself works.
#[test]
fn auth_method_allows_only_auth_before_connack() {
    let t0 = Instant::now();
    let opts = tuned(V5, |o| {
        o.authentication_method = Some(s("SCRAM-SHA-1"));
        o.authentication_data = Some(Bytes::from_static(b"client-first"));
    });
    let mut client = connecting(opts, t0);
    // The server continues the exchange.
    let mut props = AuthProperties::default();
    props.authentication_method = Some(s("SCRAM-SHA-1"));
    props.authentication_data = Some(Bytes::from_static(b"server-first"));
    let continue_auth = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: props.clone().into(),
    };
    feed(&mut client, t0, Packet::Auth(continue_auth.clone()));
    assert_eq!(
        events(&mut client),
        [Event::AuthChallenge {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: props.clone().into(),
        }]
    );
    client
        .authenticate(t0, ReasonCode::ContinueAuthentication, props.into())
        .unwrap();
    let _ = client.subscribe(t0, vec![(s("a"), SubscriptionOptions::default())]);
    let _ = client.unsubscribe(t0, vec![s("a")]);
    publish(&mut client, t0, "a", b"x", QoS::AtMostOnce);
    assert!(client.ping(t0).is_err());
    let before_connack = sent(&mut client);
    assert_eq!(before_connack.first(), Some(&Packet::Auth(continue_auth)));
    for packet in &before_connack {
        assert!(
            matches!(packet, Packet::Auth(_) | Packet::Disconnect(_)),
            "sent before CONNACK: {packet:?}"
        );
    }
    let mut ack = connack(false);
    ack.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    feed(&mut client, t0, Packet::ConnAck(Box::new(ack)));
    assert!(matches!(events(&mut client)[..], [Event::Connected { .. }]));
}

/// v5 [MQTT-4.12.0-7]: a client that put no Authentication Method in its CONNECT MUST NOT
/// send AUTH.
#[test]
fn no_auth_without_authentication_method() {
    let t0 = Instant::now();
    let mut client = connected(options(V5), t0);
    let mut props = AuthProperties::default();
    props.authentication_method = Some(s("SCRAM-SHA-1"));
    let result = client.authenticate(t0, ReasonCode::ReAuthenticate, props.into());
    let packets = sent(&mut client);
    assert!(
        !packets.iter().any(|p| matches!(p, Packet::Auth(_))),
        "AUTH sent without an Authentication Method in the CONNECT ({result:?})"
    );
}

// ---------------------------------------------------------------------------------------------
// Reconnect and session resume
// ---------------------------------------------------------------------------------------------

/// v5 [MQTT-4.4.0-1], [MQTT-4.6.0-1], [MQTT-3.3.1-1], [MQTT-4.3.3-6] (v3 [MQTT-4.4.0-1],
/// [MQTT-4.3.3-1]): on a resumed session the unacknowledged PUBLISHes go again with DUP 1,
/// their packet ids, in their order; a message that had its PUBREC gets its PUBREL again,
/// never its PUBLISH.
#[test]
fn resume_resends_publishes_with_dup_and_pubrels() {
    each_version(persistent, |mut client, t0| {
        let outgoing = [
            ("a", b"A", QoS::AtLeastOnce),
            ("b", b"B", QoS::ExactlyOnce),
            ("c", b"C", QoS::ExactlyOnce),
            ("d", b"D", QoS::AtLeastOnce),
        ];
        let ids: Vec<_> = outgoing
            .iter()
            .map(|&(topic, payload, qos)| publish(&mut client, t0, topic, payload, qos))
            .collect();
        assert_eq!(publishes(&sent(&mut client)).len(), 4);
        assert_eq!(answer_raw(&mut client, t0, &pubrec(2)), pubrel(2));

        let (resent, evs) = reconnect(&mut client, at(t0, 5), connack(true));
        assert!(matches!(
            evs[..],
            [Event::Connected {
                session_present: true,
                ..
            }]
        ));
        let mut expected = vec![Packet::PubRel(ack(2))];
        for (id, (topic, payload, qos)) in (1..).zip(outgoing) {
            if id != 2 {
                let mut p = msg(topic, payload, qos);
                p.packet_id = Some(pid(id));
                p.dup = true;
                expected.push(Packet::Publish(p));
            }
        }
        assert_eq!(resent, expected);

        feed_raw(&mut client, t0, &puback(1));
        feed_raw(&mut client, t0, &pubcomp(2));
        assert_eq!(answer_raw(&mut client, t0, &pubrec(3)), pubrel(3));
        feed_raw(&mut client, t0, &pubcomp(3));
        feed_raw(&mut client, t0, &puback(4));
        assert_completed_ok(&mut client, &ids);
        assert_eq!(client.inflight(), 0);
    });
}

/// v5 [MQTT-4.3.3-6]: once PUBREL is sent the PUBLISH is never sent again, also when the
/// resumed connection's Receive Maximum is smaller than the number of PUBRELs owed
/// ([MQTT-3.3.4-8]: PUBRELs are not held back by the window).
#[test]
fn resume_with_small_window_never_resends_released_publishes() {
    let t0 = Instant::now();
    let mut client = connected(persistent(V5), t0);
    publish(&mut client, t0, "a", b"A", QoS::ExactlyOnce);
    publish(&mut client, t0, "b", b"B", QoS::ExactlyOnce);
    let _ = sent(&mut client);
    feed_raw(&mut client, t0, &pubrec(1));
    feed_raw(&mut client, t0, &pubrec(2));
    let pubrels = [Packet::PubRel(ack(1)), Packet::PubRel(ack(2))];
    assert_eq!(sent(&mut client), pubrels);
    let mut ack1 = connack(true);
    ack1.properties.receive_maximum = NonZeroU16::new(1);
    let (resent, _) = reconnect(&mut client, t0, ack1);
    assert!(
        publishes(&resent).is_empty(),
        "PUBLISH re-sent after its PUBREL: {resent:?}"
    );
    assert_eq!(resent, pubrels);
    // The window opens: still no PUBLISH for a message in its PUBREL stage.
    feed_raw(&mut client, t0, &pubcomp(1));
    let after_pubcomp = sent(&mut client);
    assert!(
        publishes(&after_pubcomp).is_empty(),
        "PUBLISH re-sent after its PUBREL: {after_pubcomp:?}"
    );
    feed_raw(&mut client, t0, &pubcomp(2));
    assert_eq!(client.inflight(), 0);
}

/// A SUBSCRIBE without SUBACK when the connection was lost goes again on the next one.
#[test]
fn resume_resends_pending_subscribe() {
    let t0 = Instant::now();
    let mut client = connected(persistent(V3), t0);
    let filter = (s("a/#"), SubscriptionOptions::qos(QoS::AtLeastOnce));
    let id = client.subscribe(t0, vec![filter]).unwrap();
    let first = sent(&mut client);
    let (resent, _) = reconnect(&mut client, t0, connack(true));
    assert_eq!(resent, first);
    feed_raw(&mut client, t0, &[0x90, 0x03, 0x00, 0x01, 0x01]);
    assert_eq!(
        events(&mut client),
        [Event::Subscribed {
            packet_id: id,
            reason_codes: vec![ReasonCode::GrantedQoS1],
        }]
    );
}

/// v5 [MQTT-3.2.2-5]: Session Present 0 while the client has session state: the state is
/// discarded; the application hears SessionLost. The QoS 1 message in flight is published
/// again as new (DUP 0, a fresh id); the QoS 2 message whose PUBREC came was the server's
/// already and its PUBLISH is never sent again [MQTT-4.3.3-6]: it completes as delivered.
/// Received QoS 2 state goes too.
#[test]
fn session_lost_republishes_as_new() {
    each_version(persistent, |mut client, t0| {
        // In flight: QoS 1 "a" unacknowledged, QoS 2 "b" released, QoS 2 id 5 received.
        let a = publish(&mut client, t0, "a", b"A", QoS::AtLeastOnce);
        let b = publish(&mut client, t0, "b", b"B", QoS::ExactlyOnce);
        assert_eq!(publishes(&sent(&mut client)).len(), 2);
        assert_eq!(answer_raw(&mut client, t0, &pubrec(2)), pubrel(2));
        delivered(&mut client, t0, qos2_in("in", b"x", 5), &pubrec(5));

        let (resent, evs) = reconnect(&mut client, t0, connack(false));
        assert_eq!(
            evs[..],
            [
                Event::Connected {
                    session_present: false,
                    assigned_client_id: None,
                    limits: client.limits().clone(),
                },
                Event::SessionLost { republished: 1 },
                Event::PublishCompleted {
                    id: b,
                    reason_code: ReasonCode::Success,
                },
            ]
        );
        let p = publishes(&resent);
        assert_eq!(
            resent.len(),
            1,
            "only \"a\" again; no PUBREL for the lost session"
        );
        assert_eq!((p[0].topic.as_str(), p[0].dup), ("a", false));
        let ida = p[0].packet_id.unwrap();
        // The server's new session delivers id 5 as a new message.
        feed(&mut client, t0, qos2_in("in", b"y", 5));
        assert_eq!(sent(&mut client), [Packet::PubRec(ack(5))]);
        assert_eq!(messages(&events(&mut client)).len(), 1);
        feed(&mut client, t0, Packet::PubAck(PublishAck::new(ida)));
        assert_completed_ok(&mut client, &[a]);
    });
}

/// v5 3.14: the client's DISCONNECT carries its reason (0x04 asks for the will); v3 has none.
/// The session stays for the next connection.
#[test]
fn client_disconnect() {
    let t0 = Instant::now();
    let mut client = with_unacked_qos1(persistent(V5), t0);
    client
        .disconnect(
            t0,
            ReasonCode::DisconnectWithWillMessage,
            Properties::default(),
        )
        .unwrap();
    assert_eq!(raw(&mut client), [0xE0, 0x01, 0x04]);
    assert_eq!(
        events(&mut client),
        [Event::Disconnected(DisconnectReason::Requested)]
    );
    assert_eq!(client.state(), ConnectionState::Disconnected);
    assert_eq!(client.inflight(), 1, "the session is kept");
    let (resent, _) = resume(&mut client, t0, connack(true));
    assert!(publish_of(&resent[0]).dup);

    let mut client = connected(options(V3), t0);
    let mut props = DisconnectProperties::default();
    props.session_expiry_interval = Some(10);
    client
        .disconnect(t0, ReasonCode::Success, props.into())
        .unwrap();
    assert_eq!(raw(&mut client), [0xE0, 0x00]);
}

// ---------------------------------------------------------------------------------------------
// Strict with the server
// ---------------------------------------------------------------------------------------------

/// v3 [MQTT-3.3.1-4], [MQTT-4.8.0-1]; v5 [MQTT-3.3.1-4], 4.13: a PUBLISH with QoS 3 is
/// malformed: v5 DISCONNECT 0x81 (Malformed Packet), v3 close without a packet.
#[test]
fn malformed_publish_qos3() {
    each_version(options, |mut client, t0| {
        feed_raw(
            &mut client,
            t0,
            &[0x36, 0x07, 0x00, 0x01, b'a', 0x00, 0x01, b'h', b'i'],
        );
        assert_malformed(&closed_with(&mut client, 0x81), DecodeError::InvalidQoS);
    });
}

/// 2.1.4: a remaining length of more than four bytes is malformed; so are fixed header
/// flags other than 0010 on PUBREL [MQTT-3.6.1-1] and DUP on QoS 0 [MQTT-3.3.1-2].
#[test]
fn malformed_fixed_headers() {
    let t0 = Instant::now();
    let cases: [(&[u8], DecodeError); 3] = [
        (
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            DecodeError::VariableByteIntegerTooLong,
        ),
        (
            &[0x60, 0x02, 0x00, 0x01],
            DecodeError::InvalidHeaderFlags {
                packet_type: mqtt_codec::PacketType::PubRel,
                flags: 0,
            },
        ),
        (
            &[0x38, 0x04, 0x00, 0x01, b'a', b'x'],
            DecodeError::DupOnQos0,
        ),
    ];
    for (bytes, error) in cases {
        let mut client = connected(options(V5), t0);
        feed_raw(&mut client, t0, bytes);
        assert_malformed(&events(&mut client), error);
        assert_eq!(raw(&mut client), v5_disconnect(0x81), "{bytes:02x?}");
        // Whatever comes next is not read.
        feed_raw(&mut client, t0, &PINGRESP);
        assert_eq!(events(&mut client), []);
    }
}

/// Packets only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ), a second
/// CONNACK, and AUTH without an Authentication Method [MQTT-4.12.0-6] are protocol errors:
/// v5 DISCONNECT 0x82, v3 close.
#[test]
fn unexpected_packets_from_server_are_protocol_errors() {
    let t0 = Instant::now();
    for version in BOTH {
        let mut unexpected = vec![
            Packet::Connect(Box::new(Connect::new(version, s("srv")))),
            Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                properties: Properties::default(),
                filters: vec![(s("a"), SubscriptionOptions::default())],
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: pid(1),
                properties: Properties::default(),
                filters: vec![s("a")],
            }),
            Packet::PingReq,
            Packet::ConnAck(Box::new(connack(false))),
        ];
        if version == V5 {
            let mut props = AuthProperties::default();
            props.authentication_method = Some(s("SCRAM-SHA-1"));
            unexpected.push(Packet::Auth(Auth {
                reason_code: ReasonCode::ReAuthenticate,
                properties: props.into(),
            }));
        }
        for packet in unexpected {
            let mut client = connected(options(version), t0);
            feed(&mut client, t0, packet.clone());
            let events = closed_with(&mut client, 0x82);
            assert_protocol_error(&events);
            assert_eq!(events.len(), 1, "{packet:?}: {events:?}");
        }
    }
    // v3: AUTH (type 15) does not exist: malformed.
    let mut client = connected(options(V3), t0);
    feed_raw(&mut client, t0, &[0xF0, 0x00]);
    assert_malformed(&events(&mut client), DecodeError::InvalidPacketType(15));
    assert_eq!(client.poll_transmit(), None);
}

/// v5 3.14: a server DISCONNECT ends the connection with its reason and Reason String; the
/// client answers nothing (the connection is closing [MQTT-3.14.4-2]) and keeps its session.
#[test]
fn server_disconnect_v5_with_reason_string() {
    let t0 = Instant::now();
    let mut client = with_unacked_qos1(options(V5), t0);
    let mut disconnect = Disconnect::new(ReasonCode::ServerShuttingDown);
    disconnect.properties.reason_string = Some(s("maintenance"));
    feed(&mut client, t0, Packet::Disconnect(disconnect));
    assert_eq!(
        events(&mut client),
        [Event::Disconnected(DisconnectReason::ByServer(
            ReasonCode::ServerShuttingDown,
            Some(s("maintenance"))
        ))]
    );
    assert_idle_disconnected(&mut client);
    assert_eq!(client.inflight(), 1);
    // Raw: DISCONNECT 0x8E without properties.
    let mut client = connected(options(V5), t0);
    feed_raw(&mut client, t0, &v5_disconnect(0x8E));
    assert_eq!(
        events(&mut client),
        [Event::Disconnected(DisconnectReason::ByServer(
            ReasonCode::SessionTakenOver,
            None
        ))]
    );
}

/// v5 [MQTT-3.14.4-1]: after its DISCONNECT the client sends nothing more on that connection,
/// whatever the server sends, the clock does, or the application asks.
#[test]
fn nothing_sent_after_the_clients_disconnect() {
    let t0 = Instant::now();
    let mut client = connected(tuned(V5, |o| o.keep_alive = 5), t0);
    let qos3 = [0x36, 0x02, 0x00, 0x01];
    assert_eq!(answer_raw(&mut client, t0, &qos3), v5_disconnect(0x81));
    let qos1 = server_publish("a", b"x", QoS::AtLeastOnce, Some(1), false);
    feed(&mut client, t0, qos1);
    client.handle_timeout(at(t0, 100));
    publish(&mut client, t0, "a", b"x", QoS::AtLeastOnce);
    assert!(client.ping(t0).is_err());
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(client.poll_timeout(), None);
}

/// Robustness: arbitrary bytes from the server in every state never panic, and whatever the
/// client writes in answer decodes (at most a DISCONNECT after an error).
#[test]
fn garbage_from_the_server_never_panics() {
    let t0 = Instant::now();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Headers that make the bytes look like real packets more often than random ones.
    let heads: [u8; 16] = [
        0x20, 0x30, 0x32, 0x34, 0x3A, 0x40, 0x50, 0x62, 0x70, 0x90, 0xB0, 0xD0, 0xE0, 0xF0, 0x31,
        0x00,
    ];
    for round in 0..3000 {
        let version = if round % 2 == 0 { V3 } else { V5 };
        let opts = tuned(version, |o| {
            o.manual_acks = round % 3 == 0;
            o.topic_alias_maximum = 3;
            o.receive_maximum = 4;
        });
        let mut client = connecting(opts, t0);
        if round % 4 != 0 {
            feed(&mut client, t0, Packet::ConnAck(Box::new(connack(false))));
            publish(&mut client, t0, "a", b"x", QoS::ExactlyOnce);
            let _ = client.subscribe(t0, vec![(s("a"), SubscriptionOptions::default())]);
            let _ = client.poll_transmit();
        }
        for _ in 0..4 {
            let len = (next() % 12) as usize;
            let mut bytes = vec![heads[(next() % 16) as usize], len as u8];
            bytes.extend((0..len).map(|_| next() as u8));
            if next() % 4 == 0 {
                bytes.truncate((next() % (bytes.len() as u64 + 1)) as usize);
            }
            feed_raw(&mut client, at(t0, 1), &bytes);
            client.handle_timeout(at(t0, (next() % 100) + 1));
            for event in events(&mut client) {
                if let Event::Message(m) = event {
                    if let Some(handle) = m.ack {
                        let _ = client.ack(at(t0, 1), handle);
                    }
                }
            }
            let _ = sent(&mut client);
        }
        let state = client.state();
        if state == ConnectionState::Disconnected {
            // The session can always be resumed after a failure.
            client.options_mut().clean_start = false;
            client.connect(at(t0, 200)).unwrap();
        }
    }
}
