//! What `berth serve --demo` stores, so that a first run has something real on every page:
//! the demo snapshot (the Cluster and Snapshots pages, the sandbox), the template library as
//! scriptlets (the Scriptlets page and the editor), and for `load-ceiling` an earlier revision
//! first, so the Impact page has two revisions to compare on the demo.
//!
//! Each write is audited as the command line's, in its own transaction. Each is made once: a
//! snapshot is stored once by its content hash, a scriptlet once by its name (one of that name
//! already there, the demo's or an author's, is left as it is), so a restart, or replicas
//! starting together on one database, store nothing twice.

use anyhow::Context;
use berth_core::templates::{Template, TEMPLATES};

use crate::audit::Actor;
use crate::auth::Auth;
use crate::error::AppError;
use crate::services::scriptlets;

/// What [`store_demo`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStored {
    pub snapshot_id: i64,
    pub snapshot_new: bool,
    /// Templates stored as scriptlets now; the others were there already.
    pub scriptlets_new: usize,
}

/// Stores the demo snapshot and the template library (each only when it is not there yet).
pub async fn store_demo(auth: &Auth) -> anyhow::Result<DemoStored> {
    let actor = Actor::command_line();
    let snapshot = berth_core::demo::demo_snapshot();
    let entry = auth.audit().snapshot_added(&actor, &snapshot);
    let (snapshot_id, snapshot_new) = auth
        .store()
        .insert_snapshot(&snapshot, &entry)
        .await
        .context("cannot store the demo snapshot")?;
    let mut scriptlets_new = 0;
    for template in TEMPLATES {
        if store_template(auth, &actor, template)
            .await
            .with_context(|| format!("cannot store the template {}", template.name))?
        {
            scriptlets_new += 1;
        }
    }
    Ok(DemoStored {
        snapshot_id,
        snapshot_new,
        scriptlets_new,
    })
}

/// The template as a scriptlet of its name, with its history when it has one; `false` when a
/// scriptlet of that name exists already.
async fn store_template(auth: &Auth, actor: &Actor, template: &Template) -> Result<bool, AppError> {
    let history = history(template);
    let (first, message) = history
        .first()
        .map(|(text, message)| (text.as_str(), *message))
        .unwrap_or((template.source, FROM_THE_LIBRARY));
    let created = match scriptlets::create(auth, actor, template.name, first, message).await {
        Ok(created) => created,
        Err(AppError::Conflict(_)) => return Ok(false),
        Err(error) => return Err(error),
    };
    for (text, message) in history.iter().skip(1) {
        scriptlets::revise(auth, actor, created.id, text, message).await?;
    }
    Ok(true)
}

const FROM_THE_LIBRARY: &str = "From the template library (templates/)";

/// Earlier texts a template is stored with on the demo, oldest first and ending with the
/// template itself, each with its revision message; empty: the template alone.
///
/// `load-ceiling` starts without a ceiling (100 %: Incus's own choice, as nothing is that
/// hot), then gets the template's 80 %: on the demo cluster that moves every placement Incus
/// would give hv-e02 (98 %) or hv-b02 (91 %), which is what the Impact page shows between the
/// two revisions.
fn history(template: &Template) -> Vec<(String, &'static str)> {
    const CEILING: &str = "MAX_LOAD_PERCENT = 80\n";
    if template.name != "load-ceiling" || !template.source.contains(CEILING) {
        return Vec::new();
    }
    vec![
        (
            template.source.replace(CEILING, "MAX_LOAD_PERCENT = 100\n"),
            "No ceiling yet (100 %): Incus's own choice",
        ),
        (
            template.source.to_owned(),
            "A ceiling at 80 % of the CPU threads: hot members are passed over",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_ceiling_has_an_earlier_revision_without_a_ceiling() {
        let template = berth_core::templates::template("load-ceiling").unwrap();
        let revisions = history(template);
        assert_eq!(revisions.len(), 2);
        assert!(revisions[0].0.contains("MAX_LOAD_PERCENT = 100\n"));
        assert_eq!(revisions[1].0, template.source);
        for other in TEMPLATES.iter().filter(|t| t.name != "load-ceiling") {
            assert_eq!(history(other), []);
        }
    }
}
