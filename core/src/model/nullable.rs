//! Incus is written in Go, where an empty slice or map is often `nil`, and `encoding/json`
//! writes a `nil` slice or map as `null` unless the field says `omitempty`. So any list or map
//! in an Incus object may arrive as `null` (an operation's `"resources": {"cluster": null}`,
//! its `"metadata": null`, ...). Serde refuses `null` for a `Vec` or a map; these helpers read
//! it as the empty value. Use them on every collection field of a type deserialized from Incus:
//!
//! ```ignore
//! #[serde(deserialize_with = "null_as_default")]
//! pub used_by: Vec<String>,
//! #[serde(deserialize_with = "null_entries_as_default")]
//! pub resources: BTreeMap<String, Vec<String>>,
//! ```
//!
//! Snapshots are written back with `[]`/`{}`, so reading a `null` does not change a content hash
//! computed after loading.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A map that may be `null` and whose values may each be `null`: Go's `map[string][]string`
/// (operation resources) and `map[string]map[string]string` (devices).
pub fn null_entries_as_default<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Ord + Deserialize<'de>,
    V: Default + Deserialize<'de>,
{
    let entries = Option::<BTreeMap<K, Option<V>>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .map(|(key, value)| (key, value.unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    use crate::model::{
        ClusterGroup, ClusterMember, ClusterMemberState, Image, Instance, OperationsByStatus, Profile,
        Project, Resources, Server,
    };

    /// The `metadata` of an Incus response envelope.
    fn metadata<T: DeserializeOwned>(response: &str) -> T {
        let envelope: Value = serde_json::from_str(response).unwrap();
        serde_json::from_value(envelope["metadata"].clone()).unwrap()
    }

    #[test]
    fn operations_of_a_busy_cluster_load() {
        // Captured from the 6.0.4 test bed while creates, copies and moves ran (secrets
        // zeroed): `"metadata": null` on several operations.
        let response = include_str!("testdata/operations-busy.json");
        assert!(response.contains(r#""metadata": null"#));
        let busy: OperationsByStatus = metadata(response);
        let kept = busy.for_snapshot();
        // The 4 unfinished ones, and the 2 creates that had finished (Incus lists and counts
        // them for 5 s); the finished migration is dropped.
        assert_eq!(kept.len(), 6, "{kept:?}");
        let pending: Vec<&str> = kept
            .iter()
            .filter(|op| op.is_pending_create())
            .map(|op| op.location.as_str())
            .collect();
        assert_eq!(pending, ["m1"]);
        let counted: Vec<(&str, &str)> = kept
            .iter()
            .filter(|op| op.counts_as_pending_create())
            .map(|op| (op.location.as_str(), op.updated_at.as_str()))
            .collect();
        assert_eq!(
            counted,
            [
                ("m1", "2026-11-29T14:02:18.434695005Z"),
                ("m2", "2026-11-29T14:02:17.93633167Z"),
                ("m3", "2026-11-29T14:02:18.276370642Z"),
            ]
        );
    }

    #[test]
    fn an_empty_resource_list_sent_as_null_reads_as_empty() {
        // Captured from the test bed with a cluster join token open (`incus cluster add`):
        // Incus renders its empty `cluster` resource list as `null`. This is the answer
        // `berth snapshot capture` used to fail on.
        let response = include_str!("testdata/operations-join-token.json");
        assert!(response.contains(r#""resources": {"#) && response.contains(r#""cluster": null"#));
        let operations: OperationsByStatus = metadata(response);
        let token = operations
            .for_snapshot()
            .into_iter()
            .find(|op| op.class == "token" && op.description == "Executing operation")
            .expect("the join token is listed");
        assert_eq!(token.resources["cluster"], Vec::<String>::new());
    }

    /// Deserializes `object` with every listed field set to `null`, and checks each came back
    /// empty when serialized.
    fn accepts_null<T: DeserializeOwned + serde::Serialize>(mut object: Value, fields: &[&str]) {
        for field in fields {
            object[*field] = Value::Null;
        }
        let parsed: T =
            serde_json::from_value(object.clone()).unwrap_or_else(|error| panic!("{object}: {error}"));
        let written = serde_json::to_value(&parsed).unwrap();
        for field in fields {
            let value = &written[*field];
            let empty = value.as_array().is_some_and(Vec::is_empty)
                || value.as_object().is_some_and(|m| m.is_empty());
            assert!(empty, "{field}: {value}");
        }
    }

    #[test]
    fn every_list_and_map_of_a_captured_object_accepts_null() {
        // The list and map fields of the upstream types (`shared/api/*.go`) that have no
        // `omitempty`, plus the few that do (older servers may still send `null`).
        accepts_null::<Instance>(
            json!({"name": "c1", "devices": {"eth0": null}}),
            &[
                "profiles",
                "config",
                "devices",
                "expanded_config",
                "expanded_devices",
            ],
        );
        let instance: Instance = serde_json::from_value(json!({"devices": {"eth0": null}})).unwrap();
        assert!(instance.devices["eth0"].is_empty());
        accepts_null::<Profile>(json!({"name": "p"}), &["config", "devices", "used_by"]);
        accepts_null::<Project>(json!({"name": "p"}), &["config", "used_by"]);
        accepts_null::<ClusterGroup>(json!({"name": "g"}), &["members", "config"]);
        accepts_null::<ClusterMember>(json!({"server_name": "m1"}), &["roles", "config", "groups"]);
        accepts_null::<ClusterMemberState>(json!({}), &["storage_pools"]);
        accepts_null::<Image>(
            json!({"fingerprint": "abc"}),
            &["aliases", "properties", "profiles"],
        );
        accepts_null::<Server>(json!({}), &["config", "api_extensions"]);
        let server: Server = serde_json::from_value(json!({"environment": {"architectures": null}})).unwrap();
        assert!(server.environment.architectures.is_empty());
        let state: ClusterMemberState =
            serde_json::from_value(json!({"sysinfo": {"load_averages": null}})).unwrap();
        assert!(state.sysinfo.load_averages.is_empty());
        let resources: Resources = serde_json::from_value(
            json!({"cpu": {"sockets": null}, "memory": {"nodes": null}, "system": {"firmware": null}}),
        )
        .unwrap();
        assert!(resources.cpu.sockets.is_empty() && resources.memory.nodes.is_empty());
        let operations: OperationsByStatus = serde_json::from_value(
            json!({"running": null, "pending": [{"resources": null, "metadata": null}]}),
        )
        .unwrap();
        assert_eq!(operations.for_snapshot().len(), 1);
    }
}
