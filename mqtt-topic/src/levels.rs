//! Interned topic levels and the exact-level edges built on them, shared by the subscription
//! tree and the retained index: each distinct level string is stored once and named by a
//! `u32`, so an edge `(parent, level) -> child` is three integers in one hash table.

use core::hash::BuildHasher;
use core::num::NonZeroU32;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

/// The exact-level edges of a tree whose nodes are `u32` ids (the root, 0, is never a child).
#[derive(Debug, Default)]
pub(crate) struct LevelEdges {
    edges: HashMap<(u32, u32), NonZeroU32>,
    levels: Levels,
}

impl LevelEdges {
    /// The child of `parent` by the exact level `level`.
    pub(crate) fn child(&self, parent: u32, level: &str) -> Option<u32> {
        let id = self.levels.find(level)?;
        self.edges.get(&(parent, id)).map(|child| child.get())
    }

    /// Links `child` under `parent` by `level`; returns the interned level id, which
    /// [`LevelEdges::unlink`] takes back.
    pub(crate) fn link(&mut self, parent: u32, level: &str, child: u32) -> u32 {
        let id = self.levels.acquire(level);
        if let Some(child) = NonZeroU32::new(child) {
            self.edges.insert((parent, id), child);
        }
        id
    }

    /// Removes the edge from `parent` by the level id `level`, freeing the level string with
    /// its last edge.
    pub(crate) fn unlink(&mut self, parent: u32, level: u32) {
        self.edges.remove(&(parent, level));
        self.levels.release(level);
    }
}

/// Interned level strings: each distinct level is stored once and referred to by a `u32`,
/// counted by the edges that use it and freed with the last.
#[derive(Debug, Default)]
struct Levels {
    names: Vec<Option<Box<str>>>,
    uses: Vec<u32>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Levels {
    fn find(&self, level: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(level);
        self.index
            .find(hash, |&id| {
                self.names[id as usize].as_deref() == Some(level)
            })
            .copied()
    }

    /// The id of `level`, interning it if new; counts one more use.
    fn acquire(&mut self, level: &str) -> u32 {
        let id = match self.find(level) {
            Some(id) => id,
            None => {
                let id = match self.free.pop() {
                    Some(id) => {
                        self.names[id as usize] = Some(level.into());
                        id
                    }
                    None => {
                        self.names.push(Some(level.into()));
                        self.uses.push(0);
                        (self.names.len() - 1) as u32
                    }
                };
                let Self {
                    names,
                    hasher,
                    index,
                    ..
                } = self;
                let hash = hasher.hash_one(level);
                index.insert_unique(hash, id, |&id| {
                    hasher.hash_one(names[id as usize].as_deref().unwrap_or_default())
                });
                id
            }
        };
        self.uses[id as usize] += 1;
        id
    }

    /// Counts one use less; the last frees the string.
    fn release(&mut self, id: u32) {
        let uses = &mut self.uses[id as usize];
        *uses -= 1;
        if *uses > 0 {
            return;
        }
        if let Some(name) = self.names[id as usize].take() {
            let hash = self.hasher.hash_one(&*name);
            if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
                entry.remove();
            }
        }
        self.free.push(id);
    }
}
