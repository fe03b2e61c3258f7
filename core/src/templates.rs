//! The template library: starting scriptlets kept in the repository's `templates/` directory,
//! each with its golden cases, embedded into the binary from the one list here. The editor's
//! "New scriptlet" offers them, and `berth serve --demo` stores them as scriptlets.
//!
//! Every template answers every reason alike (`new`, `relocation`, `evacuation`,
//! `rebalance`), sets only a candidate as its target, handles zero and one candidate and absent
//! config keys, and never fails a placement; `core/tests/templates.rs` holds them to that on
//! the demo cluster, and `server/tests/templates.rs` runs their golden cases through `berth
//! check` for each Incus version Berth imitates.

/// One template: `templates/NAME.star` and `templates/NAME.cases.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// The file name without its extension; the scriptlet's name when `--demo` stores it.
    pub name: &'static str,
    /// What it does, in one line (the picker shows it under the title).
    pub summary: &'static str,
    /// The scriptlet, opening with a comment that says what it does and for whom.
    pub source: &'static str,
    /// Its golden cases on the demo cluster (`berth check --cases`).
    pub cases: &'static str,
}

impl Template {
    /// The title: the first line of its header comment.
    pub fn title(&self) -> &'static str {
        self.source
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# "))
            .unwrap_or(self.name)
    }
}

macro_rules! template {
    ($name:literal, $summary:literal) => {
        Template {
            name: $name,
            summary: $summary,
            source: include_str!(concat!("../../templates/", $name, ".star")),
            cases: include_str!(concat!("../../templates/", $name, ".cases.json")),
        }
    };
}

/// The library, in the order the picker lists it: the best practice first.
pub const TEMPLATES: &[Template] = &[
    template!(
        "every-reason",
        "Best practice: one decision for new instances, relocations, evacuations and rebalancing"
    ),
    template!(
        "spread-by-free-memory",
        "The candidate with the most free memory among those with room for the instance"
    ),
    template!(
        "anti-affinity",
        "Instances that share a user.* label, such as an HA pair, on different members"
    ),
    template!(
        "pin-project-to-group",
        "A pinned project's instances only on the members of its cluster group"
    ),
    template!(
        "load-ceiling",
        "Members whose load is at 80 % of their CPU threads or more are passed over"
    ),
];

/// The template called `name`.
pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|template| template.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::Case;

    #[test]
    fn every_template_has_a_title_cases_and_a_unique_name() {
        let mut names: Vec<&str> = TEMPLATES.iter().map(|template| template.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TEMPLATES.len());
        for template in TEMPLATES {
            assert!(
                template
                    .source
                    .starts_with(&format!("# {}\n#\n", template.title())),
                "{} opens with its title, then its description",
                template.name
            );
            let cases: Vec<Case> = serde_json::from_str(template.cases)
                .unwrap_or_else(|error| panic!("{}: {error}", template.name));
            assert!(cases.len() >= 4, "{}: {} cases", template.name, cases.len());
        }
        assert_eq!(
            template("load-ceiling").map(Template::title),
            Some("Load ceiling")
        );
        assert_eq!(template("nope"), None);
    }
}
