//! Stored snapshots kept in memory between requests, as `/api/v1` needs them.
//!
//! A stored snapshot never changes (its row is written once, identified by its content hash),
//! so a copy stays right for as long as the row exists; and reading, parsing and hashing one per
//! request cost far more than the placement call on it (70 ms for 5,000 instances). The server
//! keeps what it needs itself (identity, version, member names) and the stored JSON for the
//! workers, which parse and prepare it once each: a parsed cluster is several times the size of
//! its JSON. The cache is small: each entry holds a whole cluster's JSON.
//!
//! The server also keeps the snapshot's secret values, to scrub them out of what scriptlets
//! print on it before any answer leaves (`berth_core::redact`).

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use berth_core::model::Config;
use berth_core::redact::SecretValues;
use serde::Deserialize;

/// A stored snapshot as the API uses it.
#[derive(Debug)]
pub struct StoredSnapshot {
    pub id: i64,
    /// The SHA-256 of its canonical JSON ([`berth_core::Snapshot::content_hash`]), as stored.
    pub content_hash: String,
    /// `environment.server_version`, as captured (it may not parse).
    pub incus_version: String,
    pub member_names: BTreeSet<String>,
    /// The canonical JSON, as stored (validated when it was stored).
    pub json: String,
    /// The values of its secret config keys.
    pub secrets: SecretValues,
}

impl StoredSnapshot {
    /// Reads what the server needs from a stored body (validated when it was stored).
    pub(super) fn read(
        id: i64,
        content_hash: String,
        json: String,
    ) -> Result<StoredSnapshot, serde_json::Error> {
        #[derive(Deserialize)]
        struct Summary {
            server: Server,
            members: Vec<Member>,
            #[serde(default)]
            projects: Vec<Configured>,
            #[serde(default)]
            profiles: Vec<Configured>,
            #[serde(default)]
            instances: Vec<Configured>,
        }
        #[derive(Deserialize)]
        struct Server {
            environment: Environment,
            #[serde(default)]
            config: Config,
        }
        #[derive(Deserialize)]
        struct Environment {
            #[serde(default)]
            server_version: String,
        }
        #[derive(Deserialize)]
        struct Member {
            server_name: String,
            #[serde(default)]
            config: Config,
        }
        /// Anything with a config (an instance has its expanded one too).
        #[derive(Deserialize)]
        struct Configured {
            #[serde(default)]
            config: Config,
            #[serde(default)]
            expanded_config: Config,
        }
        let summary: Summary = serde_json::from_str(&json)?;
        let secrets = SecretValues::of_configs(
            std::iter::once(&summary.server.config)
                .chain(summary.members.iter().map(|member| &member.config))
                .chain(
                    [&summary.projects, &summary.profiles, &summary.instances]
                        .into_iter()
                        .flatten()
                        .flat_map(|configured| [&configured.config, &configured.expanded_config]),
                ),
        );
        Ok(StoredSnapshot {
            id,
            content_hash,
            incus_version: summary.server.environment.server_version,
            member_names: summary.members.into_iter().map(|m| m.server_name).collect(),
            json,
            secrets,
        })
    }
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

    pub(super) fn remove(&self, id: i64) {
        let mut entries = self.entries.lock().expect("the cache lock is never poisoned");
        entries.retain(|cached| cached.id != id);
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
        let json = berth_core::demo::demo_snapshot().to_json();
        Arc::new(StoredSnapshot::read(id, format!("hash-{id}"), json).unwrap())
    }

    #[test]
    fn reads_the_version_and_members_of_a_stored_body() {
        let stored = entry(1);
        assert_eq!(stored.incus_version, "6.0.4");
        assert_eq!(stored.member_names.len(), 14);
        assert!(stored.member_names.contains("hv-b04"));
    }

    #[test]
    fn knows_the_secret_values_of_a_stored_body() {
        let demo = berth_core::demo::demo_snapshot();
        let stored = entry(1);
        let password = demo
            .instances
            .iter()
            .find_map(|i| i.config.get("environment.PGPASSWORD"))
            .unwrap();
        assert!(!stored.secrets.is_empty());
        assert!(!stored.secrets.scrub(password).contains(password.as_str()));
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
