//! Parsed stored snapshots, kept in memory between requests.
//!
//! A stored snapshot never changes (its row is written once, identified by its content hash),
//! so a parsed copy stays right for as long as the row exists; and reading, parsing and
//! validating one costs far more than a placement call on it (hundreds of milliseconds for
//! 20,000 instances). The cache is small: each entry holds a whole cluster.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use berth_core::Snapshot;

/// A stored snapshot, parsed, with its identity.
#[derive(Debug)]
pub struct StoredSnapshot {
    pub id: i64,
    /// The SHA-256 of its canonical JSON ([`Snapshot::content_hash`]), as stored.
    pub content_hash: String,
    pub snapshot: Snapshot,
}

/// The most recently used stored snapshots, by id.
#[derive(Debug)]
pub(super) struct SnapshotCache {
    capacity: usize,
    /// Least recently used first.
    entries: Mutex<VecDeque<Arc<StoredSnapshot>>>,
}

impl SnapshotCache {
    pub(super) fn new(capacity: usize) -> SnapshotCache {
        SnapshotCache {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub(super) fn get(&self, id: i64) -> Option<Arc<StoredSnapshot>> {
        let mut entries = self.entries.lock().expect("the cache lock is never poisoned");
        let position = entries.iter().position(|entry| entry.id == id)?;
        let entry = entries.remove(position).expect("the position was just found");
        entries.push_back(entry.clone());
        Some(entry)
    }

    pub(super) fn insert(&self, entry: Arc<StoredSnapshot>) {
        let mut entries = self.entries.lock().expect("the cache lock is never poisoned");
        entries.retain(|cached| cached.id != entry.id);
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64) -> Arc<StoredSnapshot> {
        Arc::new(StoredSnapshot {
            id,
            content_hash: format!("hash-{id}"),
            snapshot: berth_core::demo::demo_snapshot(),
        })
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let cache = SnapshotCache::new(2);
        cache.insert(entry(1));
        cache.insert(entry(2));
        assert!(cache.get(1).is_some(), "1 is now the most recent");
        cache.insert(entry(3));
        assert!(cache.get(2).is_none());
        assert_eq!(cache.get(1).unwrap().content_hash, "hash-1");
        assert_eq!(cache.get(3).unwrap().content_hash, "hash-3");
    }
}
