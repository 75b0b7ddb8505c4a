//! The subscription tree: which subscribers' filters match a topic name.
//!
//! Filters are stored as paths of levels. Every distinct level string is interned once,
//! every exact edge of the tree is one entry `(parent, level) -> child` in a
//! single hash table, and the `+` and `#` children hang directly off their node. A node is a
//! few integers and its subscribers, so a filter costs its node, its edge and, when its last
//! level is new, one interned string (measured in `BENCHMARKS.md`).
//!
//! Matching walks the topic's levels from the root: at each node the `#` child matches the
//! rest, the `+` child and the exact child for the level continue the walk. It visits only
//! nodes on matching paths and allocates nothing.

use core::num::NonZeroU32;

use crate::levels::LevelEdges;
use crate::{TopicFilter, TopicName};

/// A node id: an index into the node arena. The root is node 0 and is never a child.
type NodeId = u32;
const ROOT: NodeId = 0;

/// How a node hangs off its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// The root, or a node on the free list: attached to nothing.
    Detached,
    Exact(u32),
    SingleLevel,
    MultiLevel,
}

/// A shared subscription group (`$share/{name}/{filter}`): the broker delivers each message
/// to one of its members (v5 section 4.8.2).
///
/// A group is identified by its share name and its filter: `$share/g/a/#` and
/// `$share/g/a/+` are two groups (a broker keys its round-robin position on both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroup<K, V> {
    name: Box<str>,
    filter: TopicFilter,
    members: Vec<(K, V)>,
}

impl<K, V> SharedGroup<K, V> {
    /// The share name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's topic filter (without the `$share/{name}/` prefix).
    pub fn filter(&self) -> &TopicFilter {
        &self.filter
    }

    /// The members and their subscription values, in subscription order.
    pub fn members(&self) -> &[(K, V)] {
        &self.members
    }
}

#[derive(Debug)]
struct Node<K, V> {
    parent: NodeId,
    edge: Edge,
    single_level: Option<NonZeroU32>,
    multi_level: Option<NonZeroU32>,
    exact_children: u32,
    subscribers: Vec<(K, V)>,
    /// Shared groups are rare: out of line, one pointer while there are none. The box saves
    /// 16 bytes on every node without groups (measured: 142 -> 126 bytes per filter at 1M).
    #[allow(clippy::box_collection)]
    shared: Option<Box<Vec<SharedGroup<K, V>>>>,
}

impl<K, V> Node<K, V> {
    fn new(parent: NodeId, edge: Edge) -> Self {
        Self {
            parent,
            edge,
            single_level: None,
            multi_level: None,
            exact_children: 0,
            subscribers: Vec::new(),
            shared: None,
        }
    }

    fn is_unused(&self) -> bool {
        self.subscribers.is_empty()
            && self.shared.is_none()
            && self.single_level.is_none()
            && self.multi_level.is_none()
            && self.exact_children == 0
    }
}

/// Paths still to walk while matching: (node, remaining topic levels). The first few live
/// on the stack, so matching allocates nothing unless a topic meets more than
/// [`Pending::INLINE`] `+` branches at once.
struct Pending<'t> {
    inline: [(NodeId, Option<&'t str>); Pending::INLINE],
    len: usize,
    spilled: Vec<(NodeId, Option<&'t str>)>,
}

impl<'t> Pending<'t> {
    const INLINE: usize = 16;

    fn new(first: (NodeId, Option<&'t str>)) -> Self {
        let mut inline = [(ROOT, None); Self::INLINE];
        inline[0] = first;
        Self {
            inline,
            len: 1,
            spilled: Vec::new(),
        }
    }

    fn push(&mut self, path: (NodeId, Option<&'t str>)) {
        if self.len < Self::INLINE {
            self.inline[self.len] = path;
            self.len += 1;
        } else {
            self.spilled.push(path);
        }
    }

    fn pop(&mut self) -> Option<(NodeId, Option<&'t str>)> {
        if let Some(path) = self.spilled.pop() {
            return Some(path);
        }
        self.len = self.len.checked_sub(1)?;
        Some(self.inline[self.len])
    }
}

/// One match of a topic: a plain subscription, or a shared group to pick a member from.
#[derive(Debug)]
pub enum Match<'a, K, V> {
    /// A subscriber whose filter matches, with its subscription value.
    Subscriber(&'a K, &'a V),
    /// A shared subscription group whose filter matches.
    Shared(&'a SharedGroup<K, V>),
}

// Only references: copyable whatever `K` and `V` are (a derive would require `K: Copy`).
impl<K, V> Clone for Match<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Match<'_, K, V> {}

/// Subscriptions by topic filter, generic over the subscriber key `K` (a session id) and the
/// per-subscription value `V` (QoS and options).
///
/// Memory: a filter costs its node, its edge and its subscriber list, plus its share of the
/// interned level strings; measured at 126 bytes per filter for a million realistic filters
/// with `u32` keys and values (`BENCHMARKS.md`). Matching one topic takes well under a
/// microsecond at that size and does not allocate.
///
/// ```
/// use mqtt_topic::{Match, SubscriptionTree, TopicFilter, TopicName};
///
/// let mut tree = SubscriptionTree::new();
/// tree.subscribe(&TopicFilter::try_from("home/+/temp").unwrap(), "kitchen-display", 1u8);
/// tree.subscribe(&TopicFilter::try_from("home/#").unwrap(), "logger", 0u8);
/// let mut hits = Vec::new();
/// tree.for_each_match(&TopicName::try_from("home/hall/temp").unwrap(), |m| {
///     if let Match::Subscriber(who, qos) = m {
///         hits.push((*who, *qos));
///     }
/// });
/// hits.sort();
/// assert_eq!(hits, [("kitchen-display", 1), ("logger", 0)]);
/// ```
#[derive(Debug)]
pub struct SubscriptionTree<K, V> {
    nodes: Vec<Node<K, V>>,
    free_nodes: Vec<NodeId>,
    edges: LevelEdges,
    subscriptions: usize,
}

impl<K, V> Default for SubscriptionTree<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> SubscriptionTree<K, V> {
    /// An empty tree.
    pub fn new() -> Self {
        Self {
            nodes: vec![Node::new(ROOT, Edge::Detached)],
            free_nodes: Vec::new(),
            edges: LevelEdges::default(),
            subscriptions: 0,
        }
    }

    /// The number of subscriptions (plain subscriptions and shared group memberships).
    pub fn len(&self) -> usize {
        self.subscriptions
    }

    /// Whether the tree holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.subscriptions == 0
    }

    /// The number of nodes in the tree, the root included (for memory accounting).
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free_nodes.len()
    }

    /// Calls `visit` for every plain subscription whose filter matches `topic`, and for every
    /// shared group whose filter matches it. A subscriber with several matching filters is
    /// visited once per filter; the broker merges them [MQTT-3.3.4-2]. Filters starting with
    /// a wildcard do not match topics starting with `$` [MQTT-4.7.2-1]. Allocates nothing.
    pub fn for_each_match<'a>(&'a self, topic: &TopicName, mut visit: impl FnMut(Match<'a, K, V>)) {
        let dollar = topic.is_dollar();
        let mut pending = Pending::new((ROOT, Some(topic.as_str())));
        while let Some((node, rest)) = pending.pop() {
            self.walk(node, rest, dollar, &mut pending, &mut visit);
        }
    }

    /// Follows the exact path from `node` for `rest`, the topic levels not yet consumed
    /// (`None` once every level is consumed), emitting what matches on the way. A `+` child
    /// is a second path: it is queued on `pending` instead of recursed into, so a filter of
    /// thousands of `+` levels cannot exhaust the stack.
    fn walk<'a, 't>(
        &'a self,
        mut node: NodeId,
        mut rest: Option<&'t str>,
        dollar: bool,
        pending: &mut Pending<'t>,
        visit: &mut impl FnMut(Match<'a, K, V>),
    ) {
        loop {
            let here = &self.nodes[node as usize];
            let Some(levels) = rest else {
                Self::emit(here, visit);
                // `sport/#` also matches `sport` [MQTT-4.7.1-2].
                if let Some(multi) = here.multi_level {
                    Self::emit(&self.nodes[multi.get() as usize], visit);
                }
                return;
            };
            let (level, next) = match levels.split_once('/') {
                Some((level, next)) => (level, Some(next)),
                None => (levels, None),
            };
            // A `$` topic is not matched by a wildcard in the first level [MQTT-4.7.2-1].
            if !(dollar && node == ROOT) {
                if let Some(multi) = here.multi_level {
                    Self::emit(&self.nodes[multi.get() as usize], visit);
                }
                if let Some(single) = here.single_level {
                    pending.push((single.get(), next));
                }
            }
            let Some(child) = self.edges.child(node, level) else {
                return;
            };
            node = child;
            rest = next;
        }
    }

    fn emit<'a>(node: &'a Node<K, V>, visit: &mut impl FnMut(Match<'a, K, V>)) {
        for (subscriber, value) in &node.subscribers {
            visit(Match::Subscriber(subscriber, value));
        }
        for group in node.shared.iter().flat_map(|groups| groups.iter()) {
            visit(Match::Shared(group));
        }
    }

    /// The node for `filter`, created with its path if missing.
    fn node_for(&mut self, filter: &TopicFilter) -> NodeId {
        let mut node = ROOT;
        for level in filter.levels() {
            node = match level {
                "+" => self.wildcard_child(node, Edge::SingleLevel),
                "#" => self.wildcard_child(node, Edge::MultiLevel),
                exact => match self.edges.child(node, exact) {
                    Some(child) => child,
                    None => {
                        let child = self.new_node(node, Edge::Detached);
                        let level = self.edges.link(node, exact, child);
                        self.nodes[child as usize].edge = Edge::Exact(level);
                        self.nodes[node as usize].exact_children += 1;
                        child
                    }
                },
            };
        }
        node
    }

    /// The `+` or `#` child of `node` (by `edge`), created if missing.
    fn wildcard_child(&mut self, node: NodeId, edge: Edge) -> NodeId {
        if let Some(child) = *self.wildcard_slot(node, edge) {
            return child.get();
        }
        let child = self.new_node(node, edge);
        *self.wildcard_slot(node, edge) = NonZeroU32::new(child);
        child
    }

    /// Where `node` keeps its `+` child (`Edge::SingleLevel`) or its `#` child (otherwise).
    fn wildcard_slot(&mut self, node: NodeId, edge: Edge) -> &mut Option<NonZeroU32> {
        let node = &mut self.nodes[node as usize];
        match edge {
            Edge::SingleLevel => &mut node.single_level,
            _ => &mut node.multi_level,
        }
    }

    /// The node for `filter` if it exists.
    fn find_node(&self, filter: &TopicFilter) -> Option<NodeId> {
        let mut node = ROOT;
        for level in filter.levels() {
            let here = &self.nodes[node as usize];
            node = match level {
                "+" => here.single_level?.get(),
                "#" => here.multi_level?.get(),
                exact => self.edges.child(node, exact)?,
            };
        }
        Some(node)
    }

    fn new_node(&mut self, parent: NodeId, edge: Edge) -> NodeId {
        let node = Node::new(parent, edge);
        match self.free_nodes.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as NodeId
            }
        }
    }

    /// Removes `node` and then its ancestors while they hold nothing.
    fn prune(&mut self, mut node: NodeId) {
        while self.nodes[node as usize].is_unused() {
            let Node { parent, edge, .. } = self.nodes[node as usize];
            match edge {
                // The root stays; a node already freed is not freed twice.
                Edge::Detached => return,
                Edge::SingleLevel | Edge::MultiLevel => *self.wildcard_slot(parent, edge) = None,
                Edge::Exact(level) => {
                    self.nodes[parent as usize].exact_children -= 1;
                    self.edges.unlink(parent, level);
                }
            }
            self.nodes[node as usize] = Node::new(ROOT, Edge::Detached);
            self.free_nodes.push(node);
            node = parent;
        }
    }
}

impl<K: PartialEq, V> SubscriptionTree<K, V> {
    /// Subscribes `subscriber` to `filter` with `value`. A subscription of the same
    /// subscriber to the same filter is replaced, and its old value returned [MQTT-3.8.4-3].
    pub fn subscribe(&mut self, filter: &TopicFilter, subscriber: K, value: V) -> Option<V> {
        let node = self.node_for(filter);
        let subscribers = &mut self.nodes[node as usize].subscribers;
        if let Some(entry) = subscribers.iter_mut().find(|(k, _)| *k == subscriber) {
            return Some(core::mem::replace(&mut entry.1, value));
        }
        // Most filters have one subscriber: no room for more until a second comes (then the
        // list grows by doubling as usual).
        if subscribers.is_empty() {
            subscribers.reserve_exact(1);
        }
        subscribers.push((subscriber, value));
        self.subscriptions += 1;
        None
    }

    /// Removes the subscription of `subscriber` to exactly `filter` (compared level by level,
    /// not matched [MQTT-3.10.4-1]) and returns its value.
    pub fn unsubscribe(&mut self, filter: &TopicFilter, subscriber: &K) -> Option<V> {
        let node = self.find_node(filter)?;
        let subscribers = &mut self.nodes[node as usize].subscribers;
        let position = subscribers.iter().position(|(k, _)| k == subscriber)?;
        let (_, value) = subscribers.swap_remove(position);
        self.subscriptions -= 1;
        self.prune(node);
        Some(value)
    }

    /// Adds `subscriber` to the shared group `share_name` of `filter`
    /// (`$share/{share_name}/{filter}`), replacing its earlier membership of that group.
    pub fn subscribe_shared(
        &mut self,
        share_name: &str,
        filter: &TopicFilter,
        subscriber: K,
        value: V,
    ) -> Option<V> {
        let node = self.node_for(filter);
        let groups = self.nodes[node as usize]
            .shared
            .get_or_insert_with(Box::default);
        let group = match groups.iter().position(|g| &*g.name == share_name) {
            Some(index) => &mut groups[index],
            None => {
                groups.push(SharedGroup {
                    name: share_name.into(),
                    filter: filter.clone(),
                    members: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        if let Some(entry) = group.members.iter_mut().find(|(k, _)| *k == subscriber) {
            return Some(core::mem::replace(&mut entry.1, value));
        }
        group.members.push((subscriber, value));
        self.subscriptions += 1;
        None
    }

    /// Removes `subscriber` from the shared group `share_name` of `filter`; the group goes
    /// with its last member. Members keep their order, so a round-robin position stays fair.
    pub fn unsubscribe_shared(
        &mut self,
        share_name: &str,
        filter: &TopicFilter,
        subscriber: &K,
    ) -> Option<V> {
        let node = self.find_node(filter)?;
        let shared = &mut self.nodes[node as usize].shared;
        let groups = shared.as_mut()?;
        let index = groups.iter().position(|g| &*g.name == share_name)?;
        let members = &mut groups[index].members;
        let position = members.iter().position(|(k, _)| k == subscriber)?;
        let (_, value) = members.remove(position);
        if members.is_empty() {
            groups.swap_remove(index);
            if groups.is_empty() {
                *shared = None;
            }
        }
        self.subscriptions -= 1;
        self.prune(node);
        Some(value)
    }

    /// Removes every subscription and shared membership of `subscriber`, returning how many.
    ///
    /// This sweeps the whole tree (O(nodes)); a broker that knows a session's filters (it
    /// must, to answer UNSUBSCRIBE and to persist the session) should unsubscribe those
    /// instead, which costs only their paths.
    pub fn remove_subscriber(&mut self, subscriber: &K) -> usize {
        let mut removed = 0;
        let mut emptied = Vec::new();
        for (id, node) in self.nodes.iter_mut().enumerate() {
            let before = removed;
            let plain = node.subscribers.len();
            node.subscribers.retain(|(k, _)| k != subscriber);
            removed += plain - node.subscribers.len();
            if let Some(groups) = &mut node.shared {
                for group in groups.iter_mut() {
                    let members = group.members.len();
                    group.members.retain(|(k, _)| k != subscriber);
                    removed += members - group.members.len();
                }
                groups.retain(|g| !g.members.is_empty());
                if groups.is_empty() {
                    node.shared = None;
                }
            }
            if removed > before && node.is_unused() {
                emptied.push(id as NodeId);
            }
        }
        self.subscriptions -= removed;
        for node in emptied {
            // Pruning one node may free its ancestors; `prune` skips nodes already freed.
            self.prune(node);
        }
        removed
    }
}
