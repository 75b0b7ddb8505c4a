//! Arbitrary input from several connections into one broker, with time passing, sockets
//! closing, writers pulling bytes late and a durable store confirming late. The broker must
//! never panic, and its queues and windows must stay within their bounds.
//!
//! The input is a list of commands, one selector byte each:
//! `0` open a connection, `1 k n bytes..` feed `n` bytes to connection `k`, `2 k` close
//! connection `k`'s socket, `3 t` advance the clock by `t` * 100 ms, `4 k` pull connection
//! `k`'s bytes, `5` confirm every stored record.
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_broker_core::{Broker, Config, ConnectionHandle, Event};

const MAX_CONNECTIONS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    config.durable = true;
    config.max_queued_messages = 8;
    config.max_inflight = 4;
    config.max_pending_write_bytes = 256;
    config.topic_alias_maximum = 2;
    config.sys_interval = Some(Duration::from_secs(5));
    let limits = (config.max_queued_messages, config.max_inflight);
    let mut now = Instant::now();
    let mut broker = Broker::new(config, now);
    let mut open: Vec<(ConnectionHandle, BytesMut)> = Vec::new();
    let mut last_seq = 0;
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        match op % 6 {
            0 if open.len() < MAX_CONNECTIONS => {
                open.push((broker.handle_connection_opened(now), BytesMut::new()));
            }
            1 => {
                let (Some(k), Some(n)) = (input.next(), input.next()) else { break };
                let bytes: Vec<u8> = input.by_ref().take(usize::from(n)).collect();
                if let Some((handle, buf)) = pick(&mut open, k) {
                    buf.extend_from_slice(&bytes);
                    broker.handle_read(now, *handle, buf);
                }
            }
            2 => {
                let Some(k) = input.next() else { break };
                if !open.is_empty() {
                    let (handle, _) = open.remove(usize::from(k) % open.len());
                    broker.handle_closed(now, handle);
                }
            }
            3 => {
                let Some(t) = input.next() else { break };
                now += Duration::from_millis(u64::from(t) * 100);
                broker.handle_timeout(now);
                if let Some(next) = broker.poll_timeout() {
                    assert!(next > now, "poll_timeout must advance past now");
                }
            }
            4 => {
                let Some(k) = input.next() else { break };
                if let Some((handle, _)) = pick(&mut open, k) {
                    while broker.poll_transmit(now, *handle).is_some() {}
                }
            }
            5 => broker.handle_stored(last_seq),
            _ => {}
        }
        while let Some(event) = broker.poll_event() {
            match event {
                Event::Close { connection, .. } => {
                    while broker.poll_transmit(now, connection).is_some() {}
                    broker.handle_closed(now, connection);
                    open.retain(|(h, _)| *h != connection);
                }
                Event::Persist { seq, .. } => last_seq = seq,
                _ => {}
            }
        }
    }
    for id in ["a", "b", "c", "d"] {
        if let Some(info) = broker.session_info(id) {
            assert!(info.queued_counted <= limits.0, "queue over its bound: {info:?}");
            assert!(info.inflight <= usize::from(limits.1), "inflight over the window: {info:?}");
        }
    }
});

fn pick(open: &mut [(ConnectionHandle, BytesMut)], k: u8) -> Option<&mut (ConnectionHandle, BytesMut)> {
    if open.is_empty() {
        return None;
    }
    let len = open.len();
    open.get_mut(usize::from(k) % len)
}
