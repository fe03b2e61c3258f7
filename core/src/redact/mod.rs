//! Keeping a snapshot's secrets in the snapshot. Captures hold every instance's full config:
//! `environment.*`, `cloud-init.*` and keys named like passwords, tokens or keys hold values
//! nobody reading a cluster's placement needs.
//!
//! - Here: which config keys are secret ([`is_secret_key`]) and the redacted copy of a snapshot
//!   for sharing it ([`Snapshot::redacted`]: those values replaced, keys and sizes kept).
//! - `values.rs`: [`SecretValues`], a snapshot's secret values, to scrub out of text that
//!   scriptlets produce from it (logs, errors, builtin traces), since a scriptlet reads the real
//!   values and may print them.
//! - `json.rs`: [`redact_json`], both at once over an answer built from a snapshot (a
//!   simulation, an evaluation): config maps redacted by key, free text scrubbed.
//!
//! Derived answers keep structure as it is (member, instance and project names are never
//! rewritten): only values that sit under a secret key, and free text, change.

mod json;
mod values;

pub use json::redact_json;
pub use values::{SecretValues, MIN_SCRUBBED_BYTES};

use crate::impact::Impact;
use crate::model::Config;
use crate::plan::preview::PlanPreview;
use crate::Snapshot;

/// Whether a config key's value may be a secret: cloud-init data, environment variables, and
/// keys naming a secret, password, token or key.
pub fn is_secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("cloud-init.")
        || lower.starts_with("user.cloud-init.")
        || lower.starts_with("environment.")
        || ["secret", "password", "token", "key"]
            .iter()
            .any(|word| lower.contains(word))
}

/// What stands in for a secret value of `len` bytes.
pub fn marker(len: usize) -> String {
    format!("[redacted: {len} bytes]")
}

/// Replaces the values of secret keys in `config`; returns how many it replaced.
pub fn redact_config(config: &mut Config) -> usize {
    let mut redacted = 0;
    for (key, value) in config.iter_mut() {
        if is_secret_key(key) && !value.is_empty() {
            *value = marker(value.len());
            redacted += 1;
        }
    }
    redacted
}

impl Snapshot {
    /// A copy with every secret-looking config value replaced; returns it with the number of
    /// values redacted. The placement scriptlet is kept: it is what the snapshot is for. Images
    /// are kept whole: fingerprints, aliases and properties are what creates resolve against.
    pub fn redacted(&self) -> (Snapshot, usize) {
        let mut copy = self.clone();
        let mut count = 0;
        let scriptlet = copy.server.config.remove("instances.placement.scriptlet");
        count += redact_config(&mut copy.server.config);
        if let Some(scriptlet) = scriptlet {
            copy.server
                .config
                .insert("instances.placement.scriptlet".into(), scriptlet);
        }
        for member in &mut copy.members {
            count += redact_config(&mut member.config);
        }
        for project in &mut copy.projects {
            count += redact_config(&mut project.config);
        }
        for profile in &mut copy.profiles {
            count += redact_config(&mut profile.config);
        }
        for instance in &mut copy.instances {
            count += redact_config(&mut instance.config);
            count += redact_config(&mut instance.expanded_config);
        }
        (copy, count)
    }

    /// The values of this snapshot's secret keys, to scrub out of what scriptlets print.
    pub fn secret_values(&self) -> SecretValues {
        SecretValues::of_configs(self.configs())
    }

    /// Every config map of the snapshot: the server's, then members', projects', profiles' and
    /// instances' (their own and expanded).
    fn configs(&self) -> impl Iterator<Item = &Config> {
        std::iter::once(&self.server.config)
            .chain(self.members.iter().map(|member| &member.config))
            .chain(self.projects.iter().map(|project| &project.config))
            .chain(self.profiles.iter().map(|profile| &profile.config))
            .chain(
                self.instances
                    .iter()
                    .flat_map(|instance| [&instance.config, &instance.expanded_config]),
            )
    }
}

impl PlanPreview {
    /// Scrubs the text the cluster's scriptlet produced while previewing (its logs, its
    /// refusals as Berth words them) of `secrets`: a preview is stored and shown to every role.
    pub fn scrub_secrets(&mut self, secrets: &SecretValues) {
        for preview in &mut self.moves {
            for reason in &mut preview.reasons {
                secrets.scrub_in_place(reason);
            }
            if let Some(decision) = &mut preview.decision {
                for line in &mut decision.logs {
                    secrets.scrub_in_place(line);
                }
            }
            for call in &mut preview.incus_calls {
                secrets.scrub_in_place(&mut call.outcome);
            }
        }
    }
}

impl Impact {
    /// Scrubs the revisions' errors (a scriptlet's `fail(…)` may quote any config value) of
    /// `secrets`. Counts are kept: they were made on the errors as the scriptlets raised them.
    pub fn scrub_secrets(&mut self, secrets: &SecretValues) {
        for changed in &mut self.changed {
            for decision in [&mut changed.from, &mut changed.to] {
                if let Some(error) = &mut decision.error {
                    secrets.scrub_in_place(error);
                }
            }
        }
        for reason in &mut self.stopped {
            secrets.scrub_in_place(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_snapshot;

    #[test]
    fn secret_looking_keys_are_recognised() {
        for key in [
            "cloud-init.user-data",
            "environment.PGPASSWORD",
            "user.api_token",
            "core.trust_password",
            "user.ssh-key",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["limits.memory", "user.app", "volatile.uuid", "image.os"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn redaction_keeps_keys_sizes_and_the_scriptlet() {
        let demo = demo_snapshot();
        let (redacted, count) = demo.redacted();
        assert!(count > 0);
        let original = demo
            .instances
            .iter()
            .find(|i| i.config.contains_key("environment.PGPASSWORD"))
            .unwrap();
        let copy = redacted
            .instances
            .iter()
            .find(|i| i.name == original.name && i.project == original.project)
            .unwrap();
        let secret = &original.config["environment.PGPASSWORD"];
        assert_eq!(
            copy.config["environment.PGPASSWORD"],
            format!("[redacted: {} bytes]", secret.len())
        );
        assert_eq!(copy.config["user.app"], original.config["user.app"]);
        assert_eq!(
            redacted.server.placement_scriptlet(),
            demo.server.placement_scriptlet()
        );
        assert!(!redacted.to_json().contains(secret.as_str()));
        assert!(!demo.images.is_empty());
        assert_eq!(
            redacted.images, demo.images,
            "images carry no secrets and are kept"
        );
        redacted.validate().unwrap();
    }

    #[test]
    fn secret_looking_user_keys_are_no_labels() {
        let mut instance = demo_snapshot().instances[0].clone();
        instance
            .expanded_config
            .insert("user.api_token".into(), "tok-0123456789".into());
        let labels: Vec<&str> = instance.labels().map(|(key, _)| key).collect();
        assert!(labels.contains(&"user.app"), "{labels:?}");
        assert!(!labels.contains(&"user.api_token"), "{labels:?}");
    }

    #[test]
    fn a_snapshots_secret_values_are_those_of_its_secret_keys() {
        let mut demo = demo_snapshot();
        demo.server
            .config
            .insert("oidc.client.secret".into(), "server-side-secret".into());
        demo.profiles[0]
            .config
            .insert("environment.TOKEN".into(), "profile-token-value".into());
        let secrets = demo.secret_values();
        let password = demo
            .instances
            .iter()
            .find_map(|i| i.config.get("environment.PGPASSWORD"))
            .unwrap();
        for value in [password.as_str(), "server-side-secret", "profile-token-value"] {
            assert_eq!(
                secrets.scrub(&format!("it is {value}.")),
                format!("it is {}.", marker(value.len())),
                "{value}"
            );
        }
        let app = &demo.instances[0].config["user.app"];
        assert_eq!(secrets.scrub(app), app.as_str(), "not a secret key");
    }
}
