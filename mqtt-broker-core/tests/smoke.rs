//! End-to-end sanity of the harness and the broker's basic paths.

mod harness;

use harness::*;
use mqtt_codec::{Packet, ProtocolVersion::*, QoS, ReasonCode};

#[test]
fn publish_reaches_subscriber_at_each_qos() {
    let mut h = Harness::quiet();
    let sub = h.connect("sub", V5);
    let publisher = h.connect("pub", V3_1_1);
    assert_eq!(
        h.subscribe(sub, "a/+", QoS::ExactlyOnce),
        [ReasonCode::GrantedQoS2]
    );
    h.publish(publisher, "a/b", b"zero", QoS::AtMostOnce, false, 0);
    h.publish(publisher, "a/b", b"one", QoS::AtLeastOnce, false, 1);
    h.publish(publisher, "a/b", b"two", QoS::ExactlyOnce, false, 2);
    let acks = h.drain(publisher);
    assert!(matches!(acks[0], Packet::PubAck(_)));
    assert!(matches!(acks[1], Packet::PubRec(_)));
    let got = h.publishes(sub);
    assert_eq!(got.len(), 3);
    assert_eq!(
        got.iter().map(|p| p.qos).collect::<Vec<_>>(),
        [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
    );
    assert_eq!(&got[2].payload[..], b"two");
}
