//! After a gap (the stream was not held): what a fresh capture shows that the decision log did
//! not see happen. Instances that appeared, or that are on another member or in another
//! project than the log last knew, are recorded as *seen later*: where they are now, when
//! Berth saw them, never an invented decision with logs or a time of its own.

use super::time::parse_rfc3339_ns;
use super::tracker::Reason;
use super::whereabouts::Whereabouts;
use crate::Snapshot;

/// An instance the log did not see placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenLater {
    pub project: String,
    pub instance: String,
    pub member: String,
    pub reason: Reason,
    pub from_project: Option<String>,
    pub from_member: Option<String>,
}

/// What `capture` shows that `known` (where the log last knew every instance) does not.
/// Instances created at or after `streaming_since_ns` are left out: the stream, open again
/// before the capture, reports them itself.
pub fn seen_later(
    known: &Whereabouts,
    capture: &Snapshot,
    streaming_since_ns: Option<i64>,
) -> Vec<SeenLater> {
    let present: std::collections::BTreeSet<(&str, &str)> = capture
        .instances
        .iter()
        .map(|i| (i.project.as_str(), i.name.as_str()))
        .collect();
    let mut found = Vec::new();
    for instance in &capture.instances {
        let created_ns = parse_rfc3339_ns(&instance.created_at);
        if let (Some(since), Some(created)) = (streaming_since_ns, created_ns) {
            if created >= since {
                continue;
            }
        }
        match known.member_of(&instance.project, &instance.name) {
            Some(member) if member == instance.location => {}
            Some(member) => found.push(SeenLater {
                project: instance.project.clone(),
                instance: instance.name.clone(),
                member: instance.location.clone(),
                reason: Reason::Relocation,
                from_project: None,
                from_member: Some(member.to_owned()),
            }),
            None => {
                // Gone from exactly one other project: moved from there.
                let left: Vec<(String, String)> = known
                    .elsewhere(&instance.project, &instance.name)
                    .into_iter()
                    .filter(|(project, _)| !present.contains(&(project.as_str(), instance.name.as_str())))
                    .collect();
                let (reason, from_project, from_member) = match left.as_slice() {
                    [(project, member)] => (Reason::Relocation, Some(project.clone()), Some(member.clone())),
                    _ => (Reason::New, None, None),
                };
                found.push(SeenLater {
                    project: instance.project.clone(),
                    instance: instance.name.clone(),
                    member: instance.location.clone(),
                    reason,
                    from_project,
                    from_member,
                });
            }
        }
    }
    found
}
