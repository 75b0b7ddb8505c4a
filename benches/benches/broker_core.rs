//! In-process broker-core throughput, no IO: bytes of PUBLISH packets go into
//! `Broker::handle_read`, deliveries come out of `poll_transmit`, and subscribers'
//! PUBACKs go back in. Messages routed per second (criterion's elements/s counts
//! deliveries), 64-byte payloads:
//!
//! - fan-in: 4 publishers -> 1 subscriber; fan-out: 1 publisher -> 16 subscribers;
//!   each at QoS 0 and QoS 1 (publish and subscription at the same QoS).
//! - baseline in the same group: the codec work alone for the same traffic (decode each
//!   PUBLISH, encode each delivery into a buffer), which any broker built on this codec pays.
//!
//! `cargo bench -p benches --bench broker_core`

use std::hint::black_box;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mqtt_broker_core::{Broker, Config, ConnectionHandle, Event};
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions,
};

const VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;
/// Messages each publisher sends per iteration: within the inflight window, so a QoS 1
/// subscriber acknowledges once per iteration.
const BATCH: usize = 64;
const PAYLOAD: [u8; 64] = [0x5a; 64];

struct Scenario {
    broker: Broker,
    now: Instant,
    publishers: Vec<(ConnectionHandle, Bytes)>,
    subscribers: Vec<ConnectionHandle>,
    qos: QoS,
    /// The next packet id the broker gives each subscriber's deliveries.
    next_id: Vec<u16>,
}

fn encode(packet: Packet) -> BytesMut {
    let mut out = BytesMut::new();
    packet.encode(VERSION, &mut out).expect("valid packet");
    out
}

fn connect(broker: &mut Broker, now: Instant, id: &str) -> ConnectionHandle {
    let handle = broker.handle_connection_opened(now);
    let mut connect = Connect::new(VERSION, MqttString::try_from(id).expect("id"));
    connect.keep_alive = 0;
    broker.handle_read(now, handle, &mut encode(Packet::Connect(Box::new(connect))));
    handle
}

fn publish_batch(publisher: usize, qos: QoS) -> Bytes {
    let mut out = BytesMut::new();
    for i in 0..BATCH {
        let topic = format!("site/{publisher}/sensor/temp");
        let mut publish = Publish::new(
            MqttString::try_from(topic.as_str()).expect("topic"),
            Bytes::from_static(&PAYLOAD),
        );
        publish.qos = qos;
        if qos > QoS::AtMostOnce {
            publish.packet_id = PacketId::new(i as u16 + 1);
        }
        Packet::Publish(publish)
            .encode(VERSION, &mut out)
            .expect("publish");
    }
    out.freeze()
}

impl Scenario {
    fn new(publishers: usize, subscribers: usize, qos: QoS) -> Self {
        let now = Instant::now();
        let mut config = Config::default();
        config.sys_interval = None;
        config.max_inflight = BATCH as u16 * publishers as u16;
        config.max_pending_write_bytes = 1 << 20;
        let mut broker = Broker::new(config, now);
        let mut subscriber_handles = Vec::new();
        for s in 0..subscribers {
            let handle = connect(&mut broker, now, &format!("sub-{s}"));
            let subscribe = Subscribe {
                packet_id: PacketId::new(1).expect("id"),
                properties: Default::default(),
                filters: vec![(
                    MqttString::from_static("site/+/sensor/#"),
                    SubscriptionOptions::qos(qos),
                )],
            };
            broker.handle_read(now, handle, &mut encode(Packet::Subscribe(subscribe)));
            subscriber_handles.push(handle);
        }
        let publisher_handles = (0..publishers)
            .map(|p| {
                (
                    connect(&mut broker, now, &format!("pub-{p}")),
                    publish_batch(p, qos),
                )
            })
            .collect();
        let mut scenario = Self {
            broker,
            now,
            publishers: publisher_handles,
            subscribers: subscriber_handles,
            qos,
            next_id: vec![1; subscribers],
        };
        scenario.drain();
        scenario
    }

    fn drain(&mut self) -> usize {
        let mut bytes = 0;
        while let Some(event) = self.broker.poll_event() {
            if let Event::Transmit(handle) = event {
                while let Some(out) = self.broker.poll_transmit(self.now, handle) {
                    bytes += out.len();
                }
            }
        }
        bytes
    }

    /// One round: every publisher sends its batch; every subscriber gets and acks it.
    fn round(&mut self) -> usize {
        for (handle, batch) in &self.publishers {
            let mut input = BytesMut::from(&batch[..]);
            self.broker.handle_read(self.now, *handle, &mut input);
        }
        let bytes = self.drain();
        if self.qos == QoS::AtLeastOnce {
            let deliveries = BATCH * self.publishers.len();
            for (s, handle) in self.subscribers.iter().enumerate() {
                let mut acks = BytesMut::with_capacity(deliveries * 4);
                for _ in 0..deliveries {
                    let id = self.next_id[s];
                    acks.put_slice(&[0x40, 0x02]);
                    acks.put_u16(id);
                    self.next_id[s] = id.checked_add(1).unwrap_or(1);
                }
                self.broker.handle_read(self.now, *handle, &mut acks);
            }
            self.drain();
        }
        bytes
    }

    fn deliveries_per_round(&self) -> u64 {
        (BATCH * self.publishers.len() * self.subscribers.len()) as u64
    }
}

/// The codec work of the same traffic, without routing: decode every PUBLISH of the
/// batches, encode it once per subscriber.
fn codec_only(batches: &[Bytes], subscribers: usize) -> usize {
    let mut out = BytesMut::with_capacity(1 << 16);
    for batch in batches {
        let mut decoder = Decoder::new(VERSION);
        let mut input = BytesMut::from(&batch[..]);
        while let Ok(Some(packet)) = decoder.decode(&mut input) {
            for _ in 0..subscribers {
                packet.encode(VERSION, &mut out).expect("publish");
            }
        }
    }
    let len = out.len();
    out.clear();
    len
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("broker_core");
    for (name, publishers, subscribers) in [("fan_in_4x1", 4, 1), ("fan_out_1x16", 1, 16)] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let label = format!("{name}_qos{}", qos as u8);
            let mut scenario = Scenario::new(publishers, subscribers, qos);
            // Sanity outside the timing: every delivery arrives, every ack matches, nothing
            // stays queued or in flight.
            let expected_bytes = scenario.deliveries_per_round() as usize
                * (2 + 2
                    + "site/0/sensor/temp".len()
                    + PAYLOAD.len()
                    + if qos == QoS::AtMostOnce { 0 } else { 2 });
            let acked_bytes =
                scenario.publishers.len() * BATCH * if qos == QoS::AtMostOnce { 0 } else { 4 };
            assert_eq!(scenario.round(), expected_bytes + acked_bytes);
            for s in 0..subscribers {
                let info = scenario
                    .broker
                    .session_info(&format!("sub-{s}"))
                    .expect("session");
                assert_eq!(
                    (info.inflight, info.queued),
                    (0, 0),
                    "{label}: all delivered and acked"
                );
            }
            group.throughput(Throughput::Elements(scenario.deliveries_per_round()));
            group.bench_function(BenchmarkId::new("broker", &label), |b| {
                b.iter(|| black_box(scenario.round()))
            });
            let batches: Vec<Bytes> = scenario.publishers.iter().map(|(_, b)| b.clone()).collect();
            group.bench_function(BenchmarkId::new("codec_only", &label), |b| {
                b.iter(|| codec_only(black_box(&batches), subscribers))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
