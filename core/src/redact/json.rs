//! Redacting an answer built from a snapshot as JSON (a simulation, an evaluation), whatever
//! its shape: every config map in it (`config`, `expanded_config`: a placement request's, an
//! instance a builtin returned) has its secret keys' values replaced, and every other string
//! is scrubbed of the snapshot's secret values, except those that name cluster objects.
//!
//! Scrubbing by default and keeping a short list of name fields errs on the side of hiding: a
//! field this list forgets is scrubbed (harmless unless it quotes a secret), where a list of
//! free-text fields that forgot one would show it.

use serde_json::Value;

use super::{is_secret_key, marker, SecretValues};

/// Fields whose strings name members, instances, projects or profiles: kept as they are, so
/// that a name containing a secret-looking word is never mangled.
const NAME_FIELDS: &[&str] = &[
    "instance",
    "name",
    "project",
    "target_project",
    "member",
    "location",
    "runs_on",
    "target",
    "candidates",
    "profiles",
];

/// Fields holding an Incus config map.
const CONFIG_FIELDS: &[&str] = &["config", "expanded_config"];

/// Redacts `answer` in place: config maps by key, free text by value.
pub fn redact_json(answer: &mut Value, secrets: &SecretValues) {
    walk(answer, None, secrets);
}

fn walk(value: &mut Value, field: Option<&str>, secrets: &SecretValues) {
    match value {
        Value::String(text) => {
            if !field.is_some_and(|field| NAME_FIELDS.contains(&field)) {
                secrets.scrub_in_place(text);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, field, secrets);
            }
        }
        Value::Object(entries) => {
            let config = field.is_some_and(|field| CONFIG_FIELDS.contains(&field));
            for (key, item) in entries.iter_mut() {
                match item {
                    Value::String(text) if config && is_secret_key(key) => {
                        if !text.is_empty() {
                            *text = marker(text.len());
                        }
                    }
                    _ => walk(item, Some(key), secrets),
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::Config;

    #[test]
    fn config_maps_are_redacted_by_key_and_free_text_by_value() {
        let config: Config = [
            ("environment.DB_PASSWORD".to_owned(), "pw-0123456789".to_owned()),
            ("environment.PIN".to_owned(), "42".to_owned()),
        ]
        .into_iter()
        .collect();
        let secrets = SecretValues::of_configs([&config]);
        let mut answer = json!({
            "calls": [{
                "instance": "db-1",
                "candidates": ["m1", "m2"],
                "logs": [{"level": "info", "message": "password is pw-0123456789"}],
                "trace": [{"builtin": "get_instances", "result": "[{\"environment.PIN\": \"42\", \"x\": \"pw-0123456789\"}]"}],
                "request": {"name": "db-1", "config": {"environment.PIN": "42", "limits.cpu": "2", "user.env": "prod"}},
                "error": {"message": "fail: pw-0123456789"}
            }]
        });
        redact_json(&mut answer, &secrets);
        let text = answer.to_string();
        assert!(!text.contains("pw-0123456789"), "{text}");
        let call = &answer["calls"][0];
        assert_eq!(
            call["request"]["config"]["environment.PIN"],
            "[redacted: 2 bytes]"
        );
        assert_eq!(call["request"]["config"]["limits.cpu"], "2");
        assert_eq!(call["request"]["config"]["user.env"], "prod");
        assert_eq!(call["instance"], "db-1");
        assert_eq!(call["candidates"], json!(["m1", "m2"]));
        assert_eq!(call["logs"][0]["message"], "password is [redacted: 13 bytes]");
    }

    #[test]
    fn names_are_never_rewritten() {
        let config: Config = [("environment.APP".to_owned(), "postgres".to_owned())]
            .into_iter()
            .collect();
        let secrets = SecretValues::of_configs([&config]);
        let mut answer =
            json!({"outcomes": [{"instance": "postgres-1", "member": "m1", "error": "no postgres"}]});
        redact_json(&mut answer, &secrets);
        assert_eq!(answer["outcomes"][0]["instance"], "postgres-1");
        assert_eq!(answer["outcomes"][0]["error"], "no [redacted: 8 bytes]");
    }
}
