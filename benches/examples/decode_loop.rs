//! Decodes one sample packet N times with one codec, for instruction counts under
//! `valgrind --tool=callgrind` (stable on a noisy machine, unlike wall-clock time).
//!
//! `decode_loop <mqtt-codec|rumqttc|setup-only> <publish16|publish1k|publish64k|connect|subscribe> <N>`
//!
//! Instructions per decode = (total of a codec run - total of the `setup-only` run) / N:
//! the `setup-only` run builds the same receive buffers without decoding them.
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
    let bytes = wire(&sample);
    let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
    for _ in 0..n {
        let mut buf = receive_buffer(&bytes);
        match codec.as_str() {
            "mqtt-codec" => {
                black_box(decoder.decode(black_box(&mut buf)).unwrap().unwrap());
            }
            "rumqttc" => {
                black_box(rumqttc::Packet::read(black_box(&mut buf), 1 << 20).unwrap());
            }
            "setup-only" => {
                black_box(&mut buf);
            }
            other => panic!("unknown codec {other}"),
        }
    }
}
