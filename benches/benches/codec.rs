//! Codec benchmarks: our decoder and encoder against a `memcpy` of the same bytes (the
//! physical floor) and rumqttc's mqttbytes (the peer), in the same groups.
//!
//! `cargo bench -p benches --bench codec`

use std::hint::black_box;

use benches::{
    connect, publish, receive_buffer, subscribe, subscribe_filters, wire, PAYLOAD_SIZES, TOPIC,
};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mqtt_codec::{Decoder, Packet, ProtocolVersion};

const MAX: usize = 1 << 20;

/// Packets per receive buffer in the decode benchmarks.
const STREAM_PACKETS: usize = 32;

/// Bytes of receive buffers prepared per timed batch: small enough that they stay in cache,
/// as a socket buffer just filled by `read` is.
const STREAM_BYTES_PER_BATCH: usize = 256 * 1024;

fn rumqttc_publish(payload_len: usize) -> rumqttc::Packet {
    let mut p = rumqttc::Publish::new(TOPIC, rumqttc::QoS::AtLeastOnce, vec![0x5A; payload_len]);
    p.pkid = 42;
    rumqttc::Packet::Publish(p)
}

fn rumqttc_connect() -> rumqttc::Packet {
    let mut c = rumqttc::Connect::new("living-room-sensor-0042");
    c.keep_alive = 30;
    c.last_will = Some(rumqttc::LastWill::new(
        "home/livingroom/sensor/status",
        "offline",
        rumqttc::QoS::AtLeastOnce,
        true,
    ));
    c.login = Some(rumqttc::Login::new(
        "homeassistant",
        "correct horse battery staple",
    ));
    rumqttc::Packet::Connect(c)
}

fn rumqttc_subscribe() -> rumqttc::Packet {
    let filters = subscribe_filters()
        .into_iter()
        .map(|f| rumqttc::SubscribeFilter::new(f, rumqttc::QoS::AtLeastOnce))
        .collect::<Vec<_>>();
    let mut s = rumqttc::Subscribe::new_many(filters);
    s.pkid = 7;
    rumqttc::Packet::Subscribe(s)
}

/// One decode group and one encode group for a packet: ours, rumqttc, memcpy.
fn bench_packet(c: &mut Criterion, name: &str, param: &str, ours: &Packet, peer: &rumqttc::Packet) {
    let bytes = wire(ours);
    let mut peer_wire = BytesMut::new();
    peer.write(&mut peer_wire, MAX).unwrap();
    assert_eq!(
        bytes[..],
        peer_wire[..],
        "{name}: both codecs must see the same bytes"
    );
    let version = ProtocolVersion::V3_1_1;

    // Decoding is measured the way a server decodes: a receive buffer holding a run of
    // packets back to back (one socket read), decoded one by one and each packet dropped
    // after use, so the refcount traffic of zero-copy slices is paid in full.
    let stream: Vec<u8> = bytes.repeat(STREAM_PACKETS);
    let batch = (STREAM_BYTES_PER_BATCH / stream.len()).max(1) as u64;
    let mut group = c.benchmark_group(format!("{name}_decode"));
    group.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    group.bench_function(BenchmarkId::new("mqtt-codec", param), |b| {
        let mut decoder = Decoder::new(version);
        b.iter_batched_ref(
            || receive_buffer(&stream),
            |buf| {
                while let Some(packet) = decoder.decode(black_box(buf)).unwrap() {
                    black_box(packet);
                }
            },
            BatchSize::NumIterations(batch),
        )
    });
    group.bench_function(BenchmarkId::new("rumqttc", param), |b| {
        b.iter_batched_ref(
            || receive_buffer(&stream),
            |buf| {
                while !buf.is_empty() {
                    black_box(rumqttc::Packet::read(black_box(buf), MAX).unwrap());
                }
            },
            BatchSize::NumIterations(batch),
        )
    });
    group.bench_function(BenchmarkId::new("memcpy", param), |b| {
        let mut dst = vec![0u8; stream.len()];
        b.iter(|| dst.copy_from_slice(black_box(&stream)))
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{name}_encode"));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(BenchmarkId::new("mqtt-codec", param), |b| {
        let mut buf = BytesMut::with_capacity(bytes.len());
        b.iter(|| {
            buf.clear();
            black_box(ours).encode(version, &mut buf).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("rumqttc", param), |b| {
        let mut buf = BytesMut::with_capacity(bytes.len());
        b.iter(|| {
            buf.clear();
            black_box(peer).write(&mut buf, MAX).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("memcpy", param), |b| {
        let mut buf = BytesMut::with_capacity(bytes.len());
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&bytes[..]));
        })
    });
    group.finish();
}

fn publish_benches(c: &mut Criterion) {
    for size in PAYLOAD_SIZES {
        let param = match size {
            s if s >= 1024 => format!("{}KiB", s / 1024),
            s => format!("{s}B"),
        };
        bench_packet(c, "publish", &param, &publish(size), &rumqttc_publish(size));
    }
}

fn control_benches(c: &mut Criterion) {
    bench_packet(c, "connect", "will+login", &connect(), &rumqttc_connect());
    bench_packet(
        c,
        "subscribe",
        "10_filters",
        &subscribe(),
        &rumqttc_subscribe(),
    );
}

criterion_group!(benches, publish_benches, control_benches);
criterion_main!(benches);
