//! The request a recorded placement answered, as the simulator can be asked it again, and
//! Berth's answer beside the cluster's.
//!
//! Incus's events do not carry the request: Berth rebuilds it.
//! - A create is the instance as a lookup found it right after the event: its type, profiles,
//!   its own config (Incus's `volatile.*` and the image's `image.*` keys left out) and devices,
//!   from its image (`volatile.base_image`), sent to the member that ran the scriptlet, with no
//!   target: a create pinned with `--target` looks the same in the events, and is predicted as
//!   Incus's own choice.
//! - A move is the move to the member it landed on (`?target=`), with the project it went to:
//!   what the `incus` command sends; Incus then asks the scriptlet to validate that one member.
//!   A move to another project that kept its member is sent without a target.
//! - An evacuation is the evacuation of the member it left; a restore, the member it is back on.
//!
//! Decisions recorded since the snapshot a prediction starts from are applied first, each
//! forced to where it really landed ([`prior`]), so the prediction sees the cluster as it was.

use serde::{Deserialize, Serialize};

use super::tracker::Reason;
use crate::model::Instance;
use crate::simulate::{
    CreateOperation, CreateSource, MoveOperation, Operation, Outcome, Simulation, SourceKind,
};

/// A recorded placement, as far as its request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<'a> {
    pub reason: Reason,
    pub project: &'a str,
    pub instance: &'a str,
    /// Where it landed.
    pub member: &'a str,
    pub from_project: Option<&'a str>,
    pub from_member: Option<&'a str>,
}

/// Berth's answer for a request: a member, or Incus's error, with the candidates Incus offered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Predicted {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub candidates: Vec<String>,
}

impl Predicted {
    /// Whether the cluster did what Berth predicted: the same member, and no refusal.
    pub fn agrees_with(&self, member: &str) -> bool {
        self.error.is_none() && self.member.as_deref() == Some(member)
    }
}

/// The create an instance answered, as its lookup shows it.
pub fn create_of(instance: &Instance, via: Option<&str>) -> CreateOperation {
    let config = instance
        .config
        .iter()
        .filter(|(key, _)| !key.starts_with("volatile.") && !key.starts_with("image."))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let source = match instance.config.get("volatile.base_image") {
        Some(fingerprint) if !fingerprint.is_empty() => CreateSource {
            kind: SourceKind::Image,
            fingerprint: Some(fingerprint.clone()),
            ..CreateSource::default()
        },
        _ => CreateSource::default(),
    };
    let empty_source = source.kind == SourceKind::None;
    CreateOperation {
        project: instance.project.clone(),
        name: instance.name.clone(),
        target: String::new(),
        instance_type: Some(instance.instance_type.clone()).filter(|t| !t.is_empty()),
        cloud_instance_type: None,
        profiles: Some(instance.profiles.clone()),
        config,
        devices: instance.devices.clone(),
        ephemeral: instance.ephemeral,
        description: instance.description.clone(),
        architecture: if empty_source {
            instance.architecture.clone()
        } else {
            String::new()
        },
        source,
        via: via.map(str::to_owned),
    }
}

/// The operation to ask the simulator for `recorded`; `create` is the create a lookup read
/// (for a create). `Err`: why it cannot be asked.
pub fn request_of(recorded: &Recorded<'_>, create: Option<&CreateOperation>) -> Result<Operation, String> {
    match recorded.reason {
        Reason::New => create
            .cloned()
            .map(|create| Operation::Create(Box::new(create)))
            .ok_or_else(|| "the instance was gone before Berth could read its configuration".to_owned()),
        Reason::Relocation => Ok(Operation::Move(move_to(recorded, recorded.member))),
        Reason::Evacuation => recorded
            .from_member
            .map(|member| Operation::Evacuate {
                member: member.to_owned(),
            })
            .ok_or_else(|| "the evacuated member is not known".to_owned()),
        Reason::Restore => Ok(Operation::Restore {
            member: recorded.member.to_owned(),
        }),
        Reason::Rebalance => Ok(Operation::Rebalance {
            project: recorded.project.to_owned(),
            name: recorded.instance.to_owned(),
        }),
    }
}

/// `recorded` applied as it really went: a create or a move onto the member it landed on.
pub fn prior(recorded: &Recorded<'_>, create: Option<&CreateOperation>) -> Option<Operation> {
    match (recorded.reason, create) {
        (Reason::New, Some(create)) => {
            let mut forced = create.clone();
            forced.target = recorded.member.to_owned();
            Some(Operation::Create(Box::new(forced)))
        }
        (Reason::New, None) => None,
        _ => Some(Operation::Move(move_to(recorded, recorded.member))),
    }
}

fn move_to(recorded: &Recorded<'_>, member: &str) -> MoveOperation {
    let kept_member = recorded.from_member == Some(member);
    MoveOperation {
        project: recorded.from_project.unwrap_or(recorded.project).to_owned(),
        name: recorded.instance.to_owned(),
        target_project: recorded.from_project.map(|_| recorded.project.to_owned()),
        // Incus refuses a move "to" the member the instance is on.
        target: if kept_member {
            String::new()
        } else {
            member.to_owned()
        },
    }
}

/// The key the simulator gives the instance `recorded` placed (`PROJECT/NAME` where it was).
pub fn simulation_key(recorded: &Recorded<'_>) -> String {
    format!(
        "{}/{}",
        recorded.from_project.unwrap_or(recorded.project),
        recorded.instance
    )
}

/// Berth's answer in a simulation whose last operation was the request: the last outcome for
/// `key`, with the candidates of its last call. `Err`: the simulation did not reach it (it
/// stopped on its budget, or the instance was not where the simulation had it), so there is
/// no prediction, only why.
pub fn predicted_in(simulation: &Simulation, key: &str) -> Result<Predicted, String> {
    let candidates = simulation
        .calls
        .iter()
        .rev()
        .find(|call| call.instance == key)
        .map(|call| call.candidates.clone())
        .unwrap_or_default();
    let outcome = simulation.outcomes.iter().rev().find(|outcome| match outcome {
        Outcome::Placed { instance, .. } | Outcome::Failed { instance, .. } => instance == key,
    });
    match outcome {
        Some(Outcome::Placed { member, .. }) => Ok(Predicted {
            member: Some(member.clone()),
            error: None,
            candidates,
        }),
        Some(Outcome::Failed { error, .. }) => Ok(Predicted {
            member: None,
            error: Some(error.clone()),
            candidates,
        }),
        None => Err(simulation.stopped.clone().unwrap_or_else(|| {
            format!("Berth's simulation did not reach {key}: it was not where the capture and the decisions since put it")
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded<'a>(
        reason: Reason,
        member: &'a str,
        from: (Option<&'a str>, Option<&'a str>),
    ) -> Recorded<'a> {
        Recorded {
            reason,
            project: "web",
            instance: "api-1",
            member,
            from_project: from.0,
            from_member: from.1,
        }
    }

    #[test]
    fn a_create_is_asked_as_the_user_sent_it() {
        let mut instance = Instance {
            name: "api-1".into(),
            project: "web".into(),
            location: "m2".into(),
            instance_type: "container".into(),
            profiles: vec!["default".into()],
            ..Instance::default()
        };
        for (key, value) in [
            ("user.app", "api"),
            ("environment.TOKEN", "s3cr3t-value"),
            ("volatile.base_image", "abc123"),
            ("volatile.uuid", "u"),
            ("image.os", "busybox"),
        ] {
            instance.config.insert(key.into(), value.into());
        }
        let create = create_of(&instance, Some("m1"));
        assert_eq!(
            create.config.keys().collect::<Vec<_>>(),
            ["environment.TOKEN", "user.app"]
        );
        assert_eq!(create.source.fingerprint.as_deref(), Some("abc123"));
        assert_eq!(create.via.as_deref(), Some("m1"));
        assert_eq!(create.target, "");
        let asked = request_of(&recorded(Reason::New, "m2", (None, None)), Some(&create)).unwrap();
        assert!(matches!(asked, Operation::Create(_)));
        let Some(Operation::Create(forced)) =
            prior(&recorded(Reason::New, "m2", (None, None)), Some(&create))
        else {
            panic!("a create")
        };
        assert_eq!(forced.target, "m2", "a prior lands where it landed");
        assert!(request_of(&recorded(Reason::New, "m2", (None, None)), None)
            .unwrap_err()
            .contains("gone"));
    }

    #[test]
    fn moves_go_to_the_member_they_landed_on_unless_they_kept_it() {
        let member_move = request_of(&recorded(Reason::Relocation, "m3", (None, Some("m1"))), None).unwrap();
        assert_eq!(
            member_move,
            Operation::Move(MoveOperation {
                project: "web".into(),
                name: "api-1".into(),
                target_project: None,
                target: "m3".into()
            })
        );
        let project_move = request_of(
            &recorded(Reason::Relocation, "m1", (Some("dev"), Some("m1"))),
            None,
        )
        .unwrap();
        assert_eq!(
            project_move,
            Operation::Move(MoveOperation {
                project: "dev".into(),
                name: "api-1".into(),
                target_project: Some("web".into()),
                target: String::new()
            })
        );
        assert_eq!(
            simulation_key(&recorded(Reason::Relocation, "m1", (Some("dev"), Some("m1")))),
            "dev/api-1"
        );
        assert_eq!(
            request_of(&recorded(Reason::Evacuation, "m3", (None, Some("m2"))), None).unwrap(),
            Operation::Evacuate { member: "m2".into() }
        );
    }

    #[test]
    fn agreement_is_the_same_member_without_a_refusal() {
        let placed = Predicted {
            member: Some("m2".into()),
            ..Predicted::default()
        };
        assert!(placed.agrees_with("m2"));
        assert!(!placed.agrees_with("m1"));
        let refused = Predicted {
            error: Some("no".into()),
            ..Predicted::default()
        };
        assert!(!refused.agrees_with("m2"));
    }
}
