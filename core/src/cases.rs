//! Golden cases for a scriptlet, like `opa test`: an operation and what must come of it (a
//! member, or an error containing a text), judged against the simulation of that operation.
//! `berth check FILE --snapshot S --cases CASES.json` runs them in CI.

use serde::Deserialize;

use crate::simulate::{Operation, Outcome, Simulation};

/// One case: `{"name", "op": {…as berth simulate…}, "expect": {"member"?, "error"?}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub op: Operation,
    #[serde(default)]
    pub expect: Expectation,
}

/// Without either field, the operation must simply succeed.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Where every instance the operation places must land.
    pub member: Option<String>,
    /// A text the error must contain (the operation must fail).
    pub error: Option<String>,
}

/// `Ok` when the case holds; otherwise what happened instead, in words.
pub fn judge(case: &Case, simulation: &Simulation) -> Result<(), String> {
    if let Some(stopped) = &simulation.stopped {
        return Err(stopped.clone());
    }
    if simulation.outcomes.is_empty() {
        return Err("nothing was placed".into());
    }
    for outcome in &simulation.outcomes {
        match (outcome, &case.expect) {
            (
                Outcome::Failed { instance, error },
                Expectation {
                    error: Some(wanted), ..
                },
            ) => {
                if !error.contains(wanted.as_str()) {
                    return Err(format!(
                        "{instance} failed with {error:?}, not an error containing {wanted:?}"
                    ));
                }
            }
            (Outcome::Failed { instance, error }, _) => {
                return Err(format!("{instance} failed: {error}"));
            }
            (
                Outcome::Placed { instance, member, .. },
                Expectation {
                    error: Some(wanted), ..
                },
            ) => {
                return Err(format!(
                    "{instance} was placed on {member}, not refused with an error containing {wanted:?}"
                ));
            }
            (
                Outcome::Placed { instance, member, .. },
                Expectation {
                    member: Some(wanted), ..
                },
            ) => {
                if member != wanted {
                    return Err(format!("{instance} was placed on {member}, not on {wanted}"));
                }
            }
            (Outcome::Placed { .. }, _) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{BehaviourProfile, Mode};

    fn simulation(outcomes: Vec<Outcome>) -> Simulation {
        Simulation {
            incus_version: "6.0.4".into(),
            profile: BehaviourProfile::P3,
            mode: Mode::Upstream,
            calls: Vec::new(),
            outcomes,
            stopped: None,
        }
    }

    fn case(expect: &str) -> Case {
        serde_json::from_str(&format!(
            r#"{{"name":"c","op":{{"kind":"evacuate","member":"m1"}},"expect":{expect}}}"#
        ))
        .unwrap()
    }

    fn placed(member: &str) -> Outcome {
        Outcome::Placed {
            instance: "default/a".into(),
            member: member.into(),
            project: "default".into(),
        }
    }

    fn failed(error: &str) -> Outcome {
        Outcome::Failed {
            instance: "default/a".into(),
            error: error.into(),
        }
    }

    #[test]
    fn each_expectation_holds_or_says_what_happened_instead() {
        assert_eq!(
            judge(&case(r#"{"member":"m2"}"#), &simulation(vec![placed("m2")])),
            Ok(())
        );
        assert_eq!(
            judge(
                &case(r#"{"member":"m2"}"#),
                &simulation(vec![placed("m2"), placed("m3")])
            ),
            Err("default/a was placed on m3, not on m2".into())
        );
        assert_eq!(
            judge(
                &case(r#"{"error":"no room"}"#),
                &simulation(vec![failed("fail: no room left")])
            ),
            Ok(())
        );
        assert_eq!(
            judge(&case(r#"{"error":"no room"}"#), &simulation(vec![placed("m1")])),
            Err("default/a was placed on m1, not refused with an error containing \"no room\"".into())
        );
        assert_eq!(
            judge(&case(r#"{"member":"m1"}"#), &simulation(vec![failed("boom")])),
            Err("default/a failed: boom".into())
        );
        assert_eq!(judge(&case("{}"), &simulation(vec![placed("m1")])), Ok(()));
        assert_eq!(
            judge(&case("{}"), &simulation(vec![])),
            Err("nothing was placed".into())
        );
    }

    #[test]
    fn a_case_with_an_unknown_field_is_refused() {
        let typo = r#"{"name":"c","op":{"kind":"evacuate","member":"m1"},"expect":{"membr":"m1"}}"#;
        assert!(serde_json::from_str::<Case>(typo).is_err());
    }
}
