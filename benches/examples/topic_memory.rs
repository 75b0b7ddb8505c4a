//! Builds a subscription tree of N workload filters (`benches/src/topics.rs`) and reports the
//! build time and the bytes per filter (growth of the process's resident set, read from
//! /proc, with the filters themselves allocated before the first reading).
//!
//! `cargo run --release -p benches --example topic_memory -- 1000000`

use std::time::Instant;

use benches::loadgen::procfs;
use benches::topics;
use mqtt_topic::SubscriptionTree;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a filter count"))
        .unwrap_or(1_000_000);
    let filters = topics::filters(count);
    let before = procfs::own_rss_bytes();
    let start = Instant::now();
    let mut tree = SubscriptionTree::<u32, u32>::new();
    for (i, f) in filters.iter().enumerate() {
        tree.subscribe(f, i as u32, 1);
    }
    let build = start.elapsed();
    let after = procfs::own_rss_bytes();
    println!(
        "{count} filters: built in {:.2} s, {} nodes, {:.0} bytes per filter (RSS +{:.1} MiB)",
        build.as_secs_f64(),
        tree.node_count(),
        (after - before) as f64 / count as f64,
        (after - before) as f64 / (1 << 20) as f64,
    );
}
