//! Subscription matching and the retained index on realistic topics (`benches/src/topics.rs`):
//! match one topic at 10k, 100k and 1M filters with a naive linear scan (rumqttd's approach)
//! as the baseline in the same group; subscribe/unsubscribe churn; a wildcard retained lookup
//! over 100k stored names.
//!
//! `cargo bench -p benches --bench topic`

use std::hint::black_box;

use benches::topics;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mqtt_topic::{filter_matches, RetainedIndex, SubscriptionTree, TopicFilter};

fn tree_of(filters: &[TopicFilter]) -> SubscriptionTree<u32, u32> {
    let mut tree = SubscriptionTree::new();
    for (i, f) in filters.iter().enumerate() {
        tree.subscribe(f, i as u32, 1);
    }
    tree
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("topic_match");
    for count in [10_000, 100_000, 1_000_000] {
        let filters = topics::filters(count);
        let tree = tree_of(&filters);
        let topic = topics::probe(count);
        let expected = filters.iter().filter(|f| filter_matches(f, &topic)).count();
        let mut found = 0;
        tree.for_each_match(&topic, |_| found += 1);
        assert_eq!(found, expected, "tree and scan agree on {topic}");
        let label = format!("{}k_{expected}_matches", count / 1000);
        group.bench_function(BenchmarkId::new("tree", &label), |b| {
            b.iter(|| {
                let mut n = 0usize;
                tree.for_each_match(black_box(&topic), |_| n += 1);
                n
            })
        });
        if count == 10_000 {
            group.bench_function(BenchmarkId::new("naive_scan", &label), |b| {
                b.iter(|| {
                    filters
                        .iter()
                        .filter(|f| filter_matches(f, black_box(&topic)))
                        .count()
                })
            });
        }
    }
    group.finish();
}

fn churn(c: &mut Criterion) {
    let filters = topics::filters(100_000);
    let mut tree = tree_of(&filters);
    let fresh = TopicFilter::try_from("home/room3/device99999/temperature").expect("valid");
    c.bench_function("topic_churn/subscribe_unsubscribe_100k", |b| {
        b.iter(|| {
            tree.subscribe(black_box(&fresh), u32::MAX, 1);
            tree.unsubscribe(black_box(&fresh), &u32::MAX)
        })
    });
}

fn retained(c: &mut Criterion) {
    let names = topics::names(100_000);
    let mut index = RetainedIndex::new();
    for (i, n) in names.iter().enumerate() {
        index.insert(n, i as u32);
    }
    let filter = TopicFilter::try_from("home/room7/+/temperature").expect("valid");
    let expected = names.iter().filter(|n| filter_matches(&filter, n)).count();
    let mut group = c.benchmark_group("retained_lookup_100k");
    let label = format!("{expected}_matches");
    group.bench_function(BenchmarkId::new("index", &label), |b| {
        b.iter(|| {
            let mut n = 0usize;
            index.for_each_match(black_box(&filter), |_| n += 1);
            n
        })
    });
    group.bench_function(BenchmarkId::new("naive_scan", &label), |b| {
        b.iter(|| {
            names
                .iter()
                .filter(|n| filter_matches(black_box(&filter), n))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, matching, churn, retained);
criterion_main!(benches);
