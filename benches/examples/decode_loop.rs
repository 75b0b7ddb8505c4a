//! Decodes a receive buffer of N copies of one sample packet with one codec, dropping each
//! packet after use (as the criterion decode benchmarks do), for instruction counts under
//! `valgrind --tool=callgrind` (stable on a noisy machine, unlike wall-clock time).
//!
//! `decode_loop <mqtt-codec|rumqttc|setup-only> <publish16|publish1k|publish64k|connect|subscribe> <N>`
//!
//! Instructions per decode = (total of a codec run - total of the `setup-only` run) / N:
//! the `setup-only` run builds the same receive buffer without decoding it.
//! `benches/callgrind.sh` runs the whole table.

use std::hint::black_box;

use benches::{connect, publish, receive_buffer, subscribe, wire};
use mqtt_codec::{Decoder, ProtocolVersion};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, codec, packet, n] = &args[..] else {
        eprintln!("usage: decode_loop <mqtt-codec|rumqttc|setup-only> <packet> <N>");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let sample = match packet.as_str() {
        "publish16" => publish(16),
        "publish1k" => publish(1024),
        "publish64k" => publish(64 * 1024),
        "connect" => connect(),
        "subscribe" => subscribe(),
        other => panic!("unknown packet {other}"),
    };
    let stream = wire(&sample).repeat(n);
    let mut buf = receive_buffer(&stream);
    let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
    match codec.as_str() {
        "mqtt-codec" => {
            while let Some(packet) = decoder.decode(black_box(&mut buf)).unwrap() {
                black_box(packet);
            }
        }
        "rumqttc" => {
            while !buf.is_empty() {
                black_box(rumqttc::Packet::read(black_box(&mut buf), 1 << 20).unwrap());
            }
        }
        "setup-only" => {
            black_box(&mut buf);
        }
        other => panic!("unknown codec {other}"),
    }
}
