//! Redaction for sharing a snapshot: values of secret-looking config keys are replaced, keys
//! and value sizes are kept, so the snapshot still explains the cluster without leaking it.

use crate::model::Config;
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

fn redact_config(config: &mut Config) -> usize {
    let mut redacted = 0;
    for (key, value) in config.iter_mut() {
        if is_secret_key(key) && !value.is_empty() {
            *value = format!("[redacted: {} bytes]", value.len());
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
}
