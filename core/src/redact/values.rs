//! A snapshot's secret values, to scrub out of text that scriptlets produce on it.
//!
//! A scriptlet reads the real config (it decides on it), so what it prints, the errors it
//! raises and the builtin results in its trace may quote any value. Those texts are shown to
//! authors and viewers; every occurrence of a secret value in them is replaced by the marker
//! of [`super::marker`]. Each value is searched as it is, as JSON and Starlark quote it (a
//! printed dict escapes its newlines), and line by line for multi-line values (cloud-init
//! data). One Aho–Corasick automaton finds all of them in one pass, whatever their number.
//!
//! Values shorter than [`MIN_SCRUBBED_BYTES`] are left in free text: `true`, `1` or `prod`
//! would be replaced in every sentence. They are still redacted wherever they appear as a
//! config value (`json.rs`). This is a guard against showing secrets by accident; it cannot
//! stop an author who encodes a value in placement decisions on purpose (running scriptlets on
//! real config is what the sandbox is for).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{is_secret_key, marker};
use crate::model::Config;

/// The shortest value scrubbed out of free text.
pub const MIN_SCRUBBED_BYTES: usize = 6;

/// The secret values of one snapshot, ready to scrub text with. `Debug` names no value.
#[derive(Clone, Default)]
pub struct SecretValues {
    /// Every form of every value; `None` when the snapshot has none.
    matcher: Option<AhoCorasick>,
    /// Per pattern of `matcher`, the length of the value it is a form of (what the marker says).
    lengths: Vec<usize>,
}

impl SecretValues {
    /// The values of the secret keys of `configs` (see [`is_secret_key`]).
    pub fn of_configs<'c>(configs: impl IntoIterator<Item = &'c Config>) -> SecretValues {
        let mut forms: BTreeMap<String, usize> = BTreeMap::new();
        let mut add = |form: &str, len: usize| {
            if form.len() >= MIN_SCRUBBED_BYTES {
                let known = forms.entry(form.to_owned()).or_insert(len);
                *known = (*known).max(len);
            }
        };
        for config in configs {
            for (key, value) in config {
                if !is_secret_key(key) {
                    continue;
                }
                add(value, value.len());
                add(&quoted(value), value.len());
                if value.contains('\n') {
                    for line in value.lines().map(str::trim) {
                        add(line, line.len());
                    }
                }
            }
        }
        if forms.is_empty() {
            return SecretValues::default();
        }
        let (patterns, lengths): (Vec<String>, Vec<usize>) = forms.into_iter().unzip();
        let matcher = AhoCorasick::builder()
            // The longest form where several start at one place: a whole value before a line
            // of it.
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .expect("plain strings make an automaton");
        SecretValues {
            matcher: Some(matcher),
            lengths,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every secret value replaced by its marker.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        if !matcher.is_match(text) {
            return Cow::Borrowed(text);
        }
        let mut scrubbed = String::with_capacity(text.len());
        matcher.replace_all_with(text, &mut scrubbed, |found, _, out| {
            out.push_str(&marker(self.lengths[found.pattern().as_usize()]));
            true
        });
        Cow::Owned(scrubbed)
    }

    pub fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(scrubbed) = self.scrub(text) {
            *text = scrubbed;
        }
    }
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValues({} forms)", self.lengths.len())
    }
}

/// `value` as it appears inside a quoted JSON or Starlark string (without the quotes).
fn quoted(value: &str) -> String {
    let json = serde_json::to_string(value).expect("a string serializes");
    json[1..json.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(pairs: &[(&str, &str)]) -> SecretValues {
        let config: Config = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        SecretValues::of_configs([&config])
    }

    #[test]
    fn every_occurrence_of_a_value_is_replaced_by_its_marker() {
        let values = secrets(&[
            ("environment.DB_PASSWORD", "hunter2-db"),
            ("user.api_token", "tok-123456"),
            ("user.app", "web-frontend"),
        ]);
        assert_eq!(
            values.scrub("db=hunter2-db token=tok-123456 again hunter2-db"),
            "db=[redacted: 10 bytes] token=[redacted: 10 bytes] again [redacted: 10 bytes]"
        );
        assert_eq!(values.scrub("app web-frontend"), "app web-frontend");
        assert!(matches!(values.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn quoted_and_line_by_line_forms_are_found_too() {
        let user_data = "#cloud-config\npassword: s3cr3t-cloud\nchpasswd: { expire: False }\n";
        let values = secrets(&[("cloud-init.user-data", user_data)]);
        let printed = format!(
            "{{\"cloud-init.user-data\": {}}}",
            serde_json::to_string(user_data).unwrap()
        );
        let scrubbed = values.scrub(&printed);
        assert!(!scrubbed.contains("s3cr3t-cloud"), "{scrubbed}");
        assert!(scrubbed.contains(&marker(user_data.len())), "{scrubbed}");
        let one_line = values.scrub("the line was password: s3cr3t-cloud");
        assert_eq!(
            one_line,
            format!("the line was {}", marker("password: s3cr3t-cloud".len()))
        );
    }

    #[test]
    fn short_values_are_left_in_free_text() {
        let values = secrets(&[("environment.DEBUG", "true"), ("environment.PIN", "12345")]);
        assert!(values.is_empty());
        assert_eq!(
            values.scrub("debug is true, pin 12345"),
            "debug is true, pin 12345"
        );
    }

    #[test]
    fn debug_names_no_value() {
        let values = secrets(&[("user.api_token", "tok-abcdef-123")]);
        assert!(!format!("{values:?}").contains("tok-abcdef"));
    }
}
