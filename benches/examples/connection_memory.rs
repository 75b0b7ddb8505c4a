//! Memory of the broker core per idle connection, without sockets or tasks: opens N
//! connections, each sending a CONNECT (3.1.1, clean session, its own client id) and
//! receiving its CONNACK, and reports the growth of the resident set per connection. The
//! adapter's own cost per connection is what `loadgen idle` measures beyond this.
//!
//! `cargo run --release -p benches --example connection_memory -- 10000`

use std::time::Instant;

use benches::loadgen::procfs;
use bytes::BytesMut;
use mqtt_broker_core::{Broker, Config, Event};
use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion};

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a connection count"))
        .unwrap_or(10_000);
    let now = Instant::now();
    let mut config = Config::default();
    config.sys_interval = None;
    let mut broker = Broker::new(config, now);
    let connects: Vec<BytesMut> = (0..count)
        .map(|i| {
            let mut connect = Connect::new(
                ProtocolVersion::V3_1_1,
                MqttString::try_from(format!("idle-{i}").as_str()).expect("id"),
            );
            connect.keep_alive = 60;
            let mut out = BytesMut::with_capacity(64);
            Packet::Connect(Box::new(connect))
                .encode(ProtocolVersion::V3_1_1, &mut out)
                .expect("connect");
            out
        })
        .collect();
    let before = procfs::own_rss_bytes();
    for mut bytes in connects {
        let handle = broker.handle_connection_opened(now);
        broker.handle_read(now, handle, &mut bytes);
        while let Some(event) = broker.poll_event() {
            if let Event::Transmit(handle) = event {
                while broker.poll_transmit(now, handle).is_some() {}
            }
        }
    }
    let after = procfs::own_rss_bytes();
    println!(
        "{count} idle connections: {:.0} bytes each in the broker core (RSS +{:.1} MiB)",
        (after - before) as f64 / count as f64,
        (after - before) as f64 / (1 << 20) as f64
    );
    assert_eq!(broker.stats().clients_connected as usize, count);
}
