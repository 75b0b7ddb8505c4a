//! The retained-message index: values stored by topic name, found by topic filter.
//!
//! Names are stored as a tree of levels (interned like the subscription tree's), with each
//! node's children linked in a list so a wildcard level can enumerate them. A lookup by
//! filter follows exact levels through one hash table and enumerates children only where the
//! filter has `+` or `#`: it never visits branches the filter cannot match.

use core::num::NonZeroU32;

use crate::levels::LevelEdges;
use crate::{TopicFilter, TopicName};

type NodeId = u32;
const ROOT: NodeId = 0;

#[derive(Debug)]
struct Node<V> {
    parent: NodeId,
    /// The interned level this node hangs off its parent by (unused for the root).
    level: u32,
    /// Whether the first level of the name starts with `$` (set on the root's children).
    dollar: bool,
    first_child: Option<NonZeroU32>,
    next_sibling: Option<NonZeroU32>,
    prev_sibling: Option<NonZeroU32>,
    value: Option<V>,
    attached: bool,
}

impl<V> Node<V> {
    fn new(parent: NodeId, level: u32, dollar: bool) -> Self {
        Self {
            parent,
            level,
            dollar,
            first_child: None,
            next_sibling: None,
            prev_sibling: None,
            value: None,
            attached: true,
        }
    }
}

/// Retained messages (or anything else) by topic name, with lookup by topic filter.
///
/// ```
/// use mqtt_topic::{RetainedIndex, TopicFilter, TopicName};
///
/// let mut retained = RetainedIndex::new();
/// retained.insert(&TopicName::try_from("home/hall/temp").unwrap(), "21.5");
/// retained.insert(&TopicName::try_from("home/hall/humidity").unwrap(), "40");
/// retained.insert(&TopicName::try_from("$SYS/uptime").unwrap(), "12");
/// let mut found = Vec::new();
/// retained.for_each_match(&TopicFilter::try_from("home/+/temp").unwrap(), |v| found.push(*v));
/// assert_eq!(found, ["21.5"]);
/// let mut all = 0;
/// // `#` does not reach `$`-topics [MQTT-4.7.2-1].
/// retained.for_each_match(&TopicFilter::try_from("#").unwrap(), |_| all += 1);
/// assert_eq!(all, 2);
/// ```
#[derive(Debug)]
pub struct RetainedIndex<V> {
    nodes: Vec<Node<V>>,
    free_nodes: Vec<NodeId>,
    edges: LevelEdges,
    len: usize,
}

impl<V> Default for RetainedIndex<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> RetainedIndex<V> {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            nodes: vec![Node::new(ROOT, 0, false)],
            free_nodes: Vec::new(),
            edges: LevelEdges::default(),
            len: 0,
        }
    }

    /// The number of stored values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` under `topic`, replacing and returning the previous one
    /// (a retained message replaces the previous one [MQTT-3.3.1-5]).
    pub fn insert(&mut self, topic: &TopicName, value: V) -> Option<V> {
        let mut node = ROOT;
        for level in topic.levels() {
            node = match self.edges.child(node, level) {
                Some(child) => child,
                None => self.add_child(node, level),
            };
        }
        let previous = self.nodes[node as usize].value.replace(value);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// The value stored under exactly `topic`.
    pub fn get(&self, topic: &TopicName) -> Option<&V> {
        self.nodes[self.find(topic)? as usize].value.as_ref()
    }

    /// Removes and returns the value stored under `topic` (an empty retained payload deletes
    /// [MQTT-3.3.1-10]).
    pub fn remove(&mut self, topic: &TopicName) -> Option<V> {
        let node = self.find(topic)?;
        let value = self.nodes[node as usize].value.take()?;
        self.len -= 1;
        self.prune(node);
        Some(value)
    }

    /// Calls `visit` with every value whose topic name matches `filter`. Names starting with
    /// `$` are not matched by a filter starting with a wildcard [MQTT-4.7.2-1].
    pub fn for_each_match<'a>(&'a self, filter: &TopicFilter, mut visit: impl FnMut(&'a V)) {
        let mut pending = Vec::new();
        self.walk(ROOT, filter.levels(), &mut pending, &mut visit);
        while let Some((node, levels)) = pending.pop() {
            self.walk(node, levels, &mut pending, &mut visit);
        }
    }

    /// Visits the values under `node` whose remaining name levels match `levels`, the filter
    /// levels not yet consumed. Exact levels are followed in a loop, everything below a `#`
    /// is walked through the node links, and the children of a `+` level are queued on
    /// `pending`: nothing recurses, so neither deep names nor deep filters can exhaust the
    /// stack. (`pending` allocates only for filters with `+`.)
    fn walk<'a, 'f, I>(
        &'a self,
        mut node: NodeId,
        mut levels: I,
        pending: &mut Vec<(NodeId, I)>,
        visit: &mut impl FnMut(&'a V),
    ) where
        I: Iterator<Item = &'f str> + Clone,
    {
        loop {
            let here = &self.nodes[node as usize];
            let Some(level) = levels.next() else {
                if let Some(value) = &here.value {
                    visit(value);
                }
                return;
            };
            match level {
                "#" => {
                    // `sport/#` matches `sport` itself [MQTT-4.7.1-2] and everything below.
                    if let Some(value) = &here.value {
                        visit(value);
                    }
                    for child in self.children(node) {
                        if !self.nodes[child as usize].dollar {
                            self.visit_all(child, visit);
                        }
                    }
                    return;
                }
                "+" => {
                    // Every child continues with the same remaining filter levels.
                    for child in self.children(node) {
                        if !self.nodes[child as usize].dollar {
                            pending.push((child, levels.clone()));
                        }
                    }
                    return;
                }
                exact => match self.edges.child(node, exact) {
                    Some(child) => node = child,
                    None => return,
                },
            }
        }
    }

    /// Every value at or below `top`, in pre-order, walking the child, sibling and parent
    /// links instead of a call stack (stored names may be thousands of levels deep).
    fn visit_all<'a>(&'a self, top: NodeId, visit: &mut impl FnMut(&'a V)) {
        let mut node = top;
        loop {
            let here = &self.nodes[node as usize];
            if let Some(value) = &here.value {
                visit(value);
            }
            if let Some(child) = here.first_child {
                node = child.get();
                continue;
            }
            // Climb until a node below `top` has a next sibling.
            loop {
                if node == top {
                    return;
                }
                let here = &self.nodes[node as usize];
                if let Some(next) = here.next_sibling {
                    node = next.get();
                    break;
                }
                node = here.parent;
            }
        }
    }

    fn children(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let first = self.nodes[node as usize].first_child;
        core::iter::successors(first, |child| self.nodes[child.get() as usize].next_sibling)
            .map(NonZeroU32::get)
    }

    fn find(&self, topic: &TopicName) -> Option<NodeId> {
        let mut node = ROOT;
        for level in topic.levels() {
            node = self.edges.child(node, level)?;
        }
        Some(node)
    }

    fn add_child(&mut self, parent: NodeId, level: &str) -> NodeId {
        let dollar = parent == ROOT && level.starts_with('$');
        let mut node = Node::new(parent, 0, dollar);
        node.next_sibling = self.nodes[parent as usize].first_child;
        let child = match self.free_nodes.pop() {
            Some(free) => {
                self.nodes[free as usize] = node;
                free
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as NodeId
            }
        };
        let linked = NonZeroU32::new(child);
        if let Some(next) = self.nodes[parent as usize].first_child {
            self.nodes[next.get() as usize].prev_sibling = linked;
        }
        self.nodes[parent as usize].first_child = linked;
        self.nodes[child as usize].level = self.edges.link(parent, level, child);
        child
    }

    /// Removes `node` and then its ancestors while they hold no value and no child.
    fn prune(&mut self, mut node: NodeId) {
        loop {
            let here = &self.nodes[node as usize];
            if node == ROOT || !here.attached || here.value.is_some() || here.first_child.is_some()
            {
                return;
            }
            let (parent, level, prev, next) = (
                here.parent,
                here.level,
                here.prev_sibling,
                here.next_sibling,
            );
            match prev {
                Some(prev) => self.nodes[prev.get() as usize].next_sibling = next,
                None => self.nodes[parent as usize].first_child = next,
            }
            if let Some(next) = next {
                self.nodes[next.get() as usize].prev_sibling = prev;
            }
            self.edges.unlink(parent, level);
            self.nodes[node as usize].attached = false;
            self.free_nodes.push(node);
            node = parent;
        }
    }
}
