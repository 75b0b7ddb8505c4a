//! Shared inputs for the benchmarks: the packets the codec benchmarks encode and decode
//! (built once for our codec and once, identically on the wire, for rumqttc's), and the
//! topic workloads of the subscription-tree benchmarks ([`topics`]).
#![forbid(unsafe_code)]

pub mod loadgen;
pub mod topics;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Connect, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions, Will,
};

/// The topic of the sample PUBLISH (a typical home-automation topic).
pub const TOPIC: &str = "home/livingroom/sensor/temperature";

/// Payload sizes of the PUBLISH benchmarks: 16 B, 1 KiB, 64 KiB.
pub const PAYLOAD_SIZES: [usize; 3] = [16, 1024, 64 * 1024];

/// A QoS 1 PUBLISH on [`TOPIC`] with a payload of `payload_len` bytes.
pub fn publish(payload_len: usize) -> Packet {
    let mut publish = Publish::new(
        MqttString::from_static(TOPIC),
        Bytes::from(vec![0x5A; payload_len]),
    );
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = PacketId::new(42);
    Packet::Publish(publish)
}

/// A 3.1.1 CONNECT with client id, will, user name and password.
pub fn connect() -> Packet {
    let mut connect = Connect::new(
        ProtocolVersion::V3_1_1,
        MqttString::from_static("living-room-sensor-0042"),
    );
    connect.keep_alive = 30;
    connect.will = Some(Will {
        topic: MqttString::from_static("home/livingroom/sensor/status"),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    });
    connect.username = Some(MqttString::from_static("homeassistant"));
    connect.password = Some(Bytes::from_static(b"correct horse battery staple"));
    Packet::Connect(Box::new(connect))
}

/// The ten topic filters of the sample SUBSCRIBE.
pub fn subscribe_filters() -> Vec<String> {
    (0..10).map(|i| format!("home/room{i}/+/state")).collect()
}

/// A SUBSCRIBE with ten filters at QoS 1.
pub fn subscribe() -> Packet {
    let filters = subscribe_filters()
        .into_iter()
        .map(|f| {
            (
                MqttString::try_from(f).expect("valid filter"),
                SubscriptionOptions::qos(QoS::AtLeastOnce),
            )
        })
        .collect();
    Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(7).expect("non-zero"),
        properties: Default::default(),
        filters,
    })
}

/// The 3.1.1 wire form of `packet`.
pub fn wire(packet: &Packet) -> Bytes {
    let mut buf = BytesMut::new();
    packet
        .encode(ProtocolVersion::V3_1_1, &mut buf)
        .expect("sample packets encode");
    buf.freeze()
}

/// A receive buffer holding `wire`, in the state a connection's buffer is in after its first
/// packet: already shared (a fresh `BytesMut` would pay a one-time promotion on the first
/// split, which no steady-state read pays).
pub fn receive_buffer(wire: &[u8]) -> BytesMut {
    let mut buf = BytesMut::with_capacity(wire.len() + 1);
    buf.extend_from_slice(&[0]);
    buf.extend_from_slice(wire);
    let _first = buf.split_to(1);
    buf
}
