//! The subscription tree and the retained index against the reference matcher: on random
//! filters and names drawn from a small alphabet of levels (so matches happen, wildcards and
//! `$` included), and after random subscribe / unsubscribe / remove sequences, the tree finds
//! exactly what a naive `filter_matches` scan finds.

use std::collections::{BTreeMap, BTreeSet};

use mqtt_topic::{filter_matches, Match, RetainedIndex, SubscriptionTree, TopicFilter, TopicName};
use proptest::prelude::*;

const NAME_LEVELS: &[&str] = &["a", "b", "", "$sys", "c"];
const FILTER_LEVELS: &[&str] = &["a", "b", "", "$sys", "+"];

fn name() -> impl Strategy<Value = TopicName> {
    prop::collection::vec(prop::sample::select(NAME_LEVELS), 1..5)
        .prop_filter_map("a name is non-empty", |levels| {
            TopicName::try_from(levels.join("/").as_str()).ok()
        })
}

fn filter() -> impl Strategy<Value = TopicFilter> {
    (
        prop::collection::vec(prop::sample::select(FILTER_LEVELS), 0..4),
        any::<bool>(),
    )
        .prop_filter_map("a filter is non-empty", |(mut levels, multi)| {
            if multi {
                levels.push("#");
            }
            TopicFilter::try_from(levels.join("/").as_str()).ok()
        })
}

#[derive(Debug, Clone)]
enum Op {
    Subscribe(TopicFilter, u8, u32),
    Unsubscribe(TopicFilter, u8),
    SubscribeShared(u8, TopicFilter, u8, u32),
    UnsubscribeShared(u8, TopicFilter, u8),
    RemoveSubscriber(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (filter(), 0u8..4, any::<u32>()).prop_map(|(f, k, v)| Op::Subscribe(f, k, v)),
        2 => (filter(), 0u8..4).prop_map(|(f, k)| Op::Unsubscribe(f, k)),
        1 => (0u8..2, filter(), 0u8..4, any::<u32>())
            .prop_map(|(g, f, k, v)| Op::SubscribeShared(g, f, k, v)),
        1 => (0u8..2, filter(), 0u8..4).prop_map(|(g, f, k)| Op::UnsubscribeShared(g, f, k)),
        1 => (0u8..4).prop_map(Op::RemoveSubscriber),
    ]
}

/// The model: plain subscriptions by (filter, subscriber) and shared memberships by
/// (group, filter, subscriber).
#[derive(Debug, Default)]
struct Model {
    plain: BTreeMap<(String, u8), u32>,
    shared: BTreeMap<(String, String, u8), u32>,
}

/// What one match visit reports, comparable with the model.
type Found = (
    BTreeSet<(String, u8, u32)>,
    BTreeSet<(String, String, Vec<u8>)>,
);

fn tree_matches(tree: &SubscriptionTree<u8, (String, u32)>, topic: &TopicName) -> Found {
    let mut plain = BTreeSet::new();
    let mut shared = BTreeSet::new();
    tree.for_each_match(topic, |m| match m {
        Match::Subscriber(k, (filter, v)) => {
            assert!(plain.insert((filter.clone(), *k, *v)), "visited twice");
        }
        Match::Shared(group) => {
            let filter = group.members()[0].1 .0.clone();
            let mut members: Vec<u8> = group.members().iter().map(|(k, _)| *k).collect();
            members.sort();
            assert!(shared.insert((group.name().to_owned(), filter, members)));
        }
    });
    (plain, shared)
}

fn model_matches(model: &Model, topic: &TopicName) -> Found {
    let matches = |f: &str| filter_matches(&TopicFilter::try_from(f).unwrap(), topic);
    let plain = model
        .plain
        .iter()
        .filter(|((f, _), _)| matches(f))
        .map(|((f, k), v)| (f.clone(), *k, *v))
        .collect();
    let mut groups: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    for (g, f, k) in model.shared.keys() {
        if matches(f) {
            groups.entry((g.clone(), f.clone())).or_default().push(*k);
        }
    }
    let shared = groups
        .into_iter()
        .map(|((g, f), mut ks)| {
            ks.sort();
            (g, f, ks)
        })
        .collect();
    (plain, shared)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// [MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.7.2-1]: on random filters and names, the tree
    /// matches exactly what the reference matcher matches.
    #[test]
    fn tree_equals_naive_scan(filters in prop::collection::vec(filter(), 0..24),
                              names in prop::collection::vec(name(), 1..16)) {
        let mut tree = SubscriptionTree::new();
        let mut model = Model::default();
        for (i, f) in filters.iter().enumerate() {
            let k = (i % 3) as u8;
            tree.subscribe(f, k, (f.as_str().to_owned(), i as u32));
            model.plain.insert((f.as_str().to_owned(), k), i as u32);
        }
        prop_assert_eq!(tree.len(), model.plain.len());
        for n in &names {
            prop_assert_eq!(tree_matches(&tree, n), model_matches(&model, n), "topic {}", n);
        }
    }

    /// After random subscribe / unsubscribe / shared / remove-subscriber sequences the tree
    /// still equals the model, and emptying it frees every node.
    #[test]
    fn tree_equals_model_after_random_operations(ops in prop::collection::vec(op(), 0..64),
                                                names in prop::collection::vec(name(), 1..12)) {
        let mut tree = SubscriptionTree::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Subscribe(f, k, v) => {
                    let old = tree.subscribe(&f, k, (f.as_str().to_owned(), v)).map(|x| x.1);
                    prop_assert_eq!(old, model.plain.insert((f.as_str().to_owned(), k), v));
                }
                Op::Unsubscribe(f, k) => {
                    let old = tree.unsubscribe(&f, &k).map(|x| x.1);
                    prop_assert_eq!(old, model.plain.remove(&(f.as_str().to_owned(), k)));
                }
                Op::SubscribeShared(g, f, k, v) => {
                    let group = format!("g{g}");
                    let old = tree
                        .subscribe_shared(&group, &f, k, (f.as_str().to_owned(), v))
                        .map(|x| x.1);
                    prop_assert_eq!(old, model.shared.insert((group, f.as_str().to_owned(), k), v));
                }
                Op::UnsubscribeShared(g, f, k) => {
                    let group = format!("g{g}");
                    let old = tree.unsubscribe_shared(&group, &f, &k).map(|x| x.1);
                    prop_assert_eq!(old, model.shared.remove(&(group, f.as_str().to_owned(), k)));
                }
                Op::RemoveSubscriber(k) => {
                    let before = model.plain.len() + model.shared.len();
                    model.plain.retain(|(_, key), _| *key != k);
                    model.shared.retain(|(_, _, key), _| *key != k);
                    let removed = before - model.plain.len() - model.shared.len();
                    prop_assert_eq!(tree.remove_subscriber(&k), removed);
                }
            }
            prop_assert_eq!(tree.len(), model.plain.len() + model.shared.len());
        }
        for n in &names {
            prop_assert_eq!(tree_matches(&tree, n), model_matches(&model, n), "topic {}", n);
        }
        for k in 0..4u8 {
            tree.remove_subscriber(&k);
        }
        prop_assert!(tree.is_empty());
        prop_assert_eq!(tree.node_count(), 1, "an empty tree keeps only its root");
    }

    /// The retained index finds, for a filter, exactly the stored names the reference matcher
    /// accepts, also after removals.
    #[test]
    fn retained_index_equals_naive_scan(names in prop::collection::vec(name(), 0..24),
                                        removed in prop::collection::vec(name(), 0..8),
                                        filters in prop::collection::vec(filter(), 1..12)) {
        let mut index = RetainedIndex::new();
        let mut model = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            let old = index.insert(n, (n.as_str().to_owned(), i));
            prop_assert_eq!(old, model.insert(n.as_str().to_owned(), i).map(|v| (n.as_str().to_owned(), v)));
        }
        for n in &removed {
            prop_assert_eq!(index.remove(n).map(|v| v.1), model.remove(n.as_str()));
        }
        prop_assert_eq!(index.len(), model.len());
        for f in &filters {
            let mut found = BTreeSet::new();
            index.for_each_match(f, |(n, i)| {
                assert!(found.insert((n.clone(), *i)), "visited twice");
            });
            let expected: BTreeSet<_> = model
                .iter()
                .filter(|(n, _)| filter_matches(f, &TopicName::try_from(n.as_str()).unwrap()))
                .map(|(n, i)| (n.clone(), *i))
                .collect();
            prop_assert_eq!(found, expected, "filter {}", f);
        }
        for n in model.keys() {
            let topic = TopicName::try_from(n.as_str()).unwrap();
            prop_assert_eq!(index.get(&topic).map(|v| v.1), model.get(n).copied());
        }
    }
}

/// [MQTT-3.8.4-3]: subscribing again to the same filter replaces the subscription.
#[test]
fn mqtt_3_8_4_3_same_filter_replaces() {
    let mut tree = SubscriptionTree::new();
    let f = TopicFilter::from_static("a/+");
    assert_eq!(tree.subscribe(&f, 1, 0u8), None);
    assert_eq!(tree.subscribe(&f, 1, 2u8), Some(0));
    assert_eq!(tree.len(), 1);
}

/// [MQTT-3.10.4-1]: UNSUBSCRIBE compares filters character by character: `a/+` does not
/// remove `a/b`.
#[test]
fn mqtt_3_10_4_1_unsubscribe_compares_exactly() {
    let mut tree = SubscriptionTree::new();
    tree.subscribe(&TopicFilter::from_static("a/b"), 1, ());
    assert_eq!(tree.unsubscribe(&TopicFilter::from_static("a/+"), &1), None);
    assert_eq!(
        tree.unsubscribe(&TopicFilter::from_static("a/b"), &1),
        Some(())
    );
    assert_eq!(tree.node_count(), 1);
}

/// [MQTT-4.7.2-1]: `#` and `+/...` do not match `$SYS` topics, `$SYS/#` does, also through
/// the tree.
#[test]
fn mqtt_4_7_2_1_dollar_topics_in_the_tree() {
    let mut tree = SubscriptionTree::new();
    for (k, f) in ["#", "+/broker/uptime", "$SYS/#", "$SYS/broker/+"]
        .iter()
        .enumerate()
    {
        tree.subscribe(&TopicFilter::try_from(*f).unwrap(), k, ());
    }
    let mut hits = Vec::new();
    tree.for_each_match(&TopicName::from_static("$SYS/broker/uptime"), |m| {
        if let Match::Subscriber(k, _) = m {
            hits.push(*k);
        }
    });
    hits.sort();
    assert_eq!(hits, [2, 3]);
}

/// Shared groups are visited once, as a group, with their members in subscription order.
#[test]
fn shared_group_is_one_match() {
    let mut tree = SubscriptionTree::new();
    let f = TopicFilter::from_static("jobs/+");
    tree.subscribe_shared("workers", &f, "w1", ());
    tree.subscribe_shared("workers", &f, "w2", ());
    let mut groups = Vec::new();
    tree.for_each_match(&TopicName::from_static("jobs/1"), |m| {
        if let Match::Shared(g) = m {
            groups.push((
                g.name().to_owned(),
                g.members().iter().map(|m| m.0).collect::<Vec<_>>(),
            ));
        }
    });
    assert_eq!(groups, [("workers".to_owned(), vec!["w1", "w2"])]);
    assert_eq!(tree.unsubscribe_shared("workers", &f, &"w1"), Some(()));
    assert_eq!(tree.unsubscribe_shared("workers", &f, &"w2"), Some(()));
    assert!(tree.is_empty());
    assert_eq!(tree.node_count(), 1);
}

/// Deep topics (20,000 levels, within MQTT's 65,535-byte limit) are stored, matched and
/// removed without deep recursion: the walks are loops, so the stack does not overflow.
#[test]
fn deep_topics_do_not_exhaust_the_stack() {
    let deep = vec!["a"; 20_000].join("/");
    let name = TopicName::try_from(deep.as_str()).unwrap();
    let filter = TopicFilter::try_from(deep.as_str()).unwrap();
    let mut tree = SubscriptionTree::new();
    tree.subscribe(&filter, 1u8, ());
    tree.subscribe(&TopicFilter::from_static("a/#"), 2u8, ());
    let mut hits = 0;
    tree.for_each_match(&name, |_| hits += 1);
    assert_eq!(hits, 2);
    assert_eq!(tree.remove_subscriber(&1), 1);
    assert_eq!(
        tree.unsubscribe(&TopicFilter::from_static("a/#"), &2),
        Some(())
    );
    assert_eq!(tree.node_count(), 1);

    let mut retained = RetainedIndex::new();
    retained.insert(&name, 1);
    retained.insert(&TopicName::from_static("a/b"), 2);
    let mut values = Vec::new();
    retained.for_each_match(&TopicFilter::from_static("#"), |v| values.push(*v));
    values.sort();
    assert_eq!(values, [1, 2]);
    let mut exact = Vec::new();
    retained.for_each_match(&filter, |v| exact.push(*v));
    assert_eq!(exact, [1]);
    assert_eq!(retained.remove(&name), Some(1));
    assert_eq!(retained.len(), 1);
}

/// A filter of 20,000 `+` levels against a topic as deep: every `+` is a branch point, and
/// none of them nests a call.
#[test]
fn deep_single_level_wildcard_filters_do_not_exhaust_the_stack() {
    let name = TopicName::try_from(vec!["a"; 20_000].join("/").as_str()).unwrap();
    let filter = TopicFilter::try_from(vec!["+"; 20_000].join("/").as_str()).unwrap();
    let mut tree = SubscriptionTree::new();
    tree.subscribe(&filter, 1u8, ());
    let mut hits = 0;
    tree.for_each_match(&name, |_| hits += 1);
    assert_eq!(hits, 1);

    let mut retained = RetainedIndex::new();
    retained.insert(&name, 7);
    let mut values = Vec::new();
    retained.for_each_match(&filter, |v| values.push(*v));
    assert_eq!(values, [7]);
}

/// Shared groups are told apart by share name and filter.
#[test]
fn shared_groups_with_the_same_name_differ_by_filter() {
    let mut tree = SubscriptionTree::new();
    tree.subscribe_shared("g", &TopicFilter::from_static("a/#"), 1u8, ());
    tree.subscribe_shared("g", &TopicFilter::from_static("a/+"), 2u8, ());
    let mut groups = Vec::new();
    tree.for_each_match(&TopicName::from_static("a/b"), |m| {
        if let Match::Shared(g) = m {
            groups.push((g.name().to_owned(), g.filter().as_str().to_owned()));
        }
    });
    groups.sort();
    assert_eq!(
        groups,
        [
            ("g".to_owned(), "a/#".to_owned()),
            ("g".to_owned(), "a/+".to_owned())
        ]
    );
}
