//! Scriptlets: create, revise, read, compare. Shared by `/api/v1/scriptlets` and the editor's
//! server functions; every write is audited here, its entry written by the store in the
//! write's own transaction.
//!
//! Comparing two revisions is the one CPU-heavy thing here, and any viewer may ask for it:
//! revisions of more than [`MAX_DIFF_LINES`] lines are not compared, and the comparison runs
//! off the async runtime ([`crate::cpu`]) under a deadline.

use std::time::Duration;

use berth_app::types::{
    DiffLine, DiffView, RevisionText, RevisionView, ScriptletSummary, ScriptletView, TemplateView,
};
use berth_core::templates::TEMPLATES;
use serde_json::json;

use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::db::{RevisionRow, ScriptletRow, Store};
use crate::error::AppError;

/// The longest scriptlet Berth stores (Incus keeps it in one config value).
const MAX_SOURCE_BYTES: usize = 1 << 20;
const MAX_NAME_CHARS: usize = 100;

/// The most lines a revision may have to be compared. Placement scriptlets are tens to hundreds
/// of lines; the largest stored text (1 MiB of short lines) would be a hundred times this, and
/// a diff page of it no help to anyone.
pub const MAX_DIFF_LINES: usize = 10_000;

/// How long a comparison may search for the smallest diff. Two long, unrelated revisions make
/// Myers' algorithm quadratic; past the deadline `similar` settles for a larger diff that is
/// still correct (every line kept, removed or added).
const DIFF_DEADLINE: Duration = Duration::from_secs(1);

fn summary_of(row: ScriptletRow) -> ScriptletSummary {
    ScriptletSummary {
        id: row.id,
        name: row.name,
        created_by: row.created_by,
        revisions: row.revisions,
        updated_at: rfc3339(row.updated_at),
        updated_by: row.updated_by,
    }
}

fn revision_of(row: &RevisionRow) -> RevisionView {
    RevisionView {
        number: row.number,
        message: row.message.clone(),
        author: row.author.clone(),
        created_at: rfc3339(row.created_at),
    }
}

fn check_source(source: &str) -> Result<(), AppError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(AppError::BadRequest(format!(
            "the scriptlet is over the limit of {} KiB",
            MAX_SOURCE_BYTES >> 10
        )));
    }
    Ok(())
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no scriptlet {id}"))
}

pub async fn list(store: &Store) -> Result<Vec<ScriptletSummary>, AppError> {
    Ok(store
        .list_scriptlets()
        .await?
        .into_iter()
        .map(summary_of)
        .collect())
}

/// The template library (`berth_core::templates`), as the new-scriptlet picker lists it.
pub fn templates() -> Vec<TemplateView> {
    TEMPLATES
        .iter()
        .map(|template| TemplateView {
            name: template.name.to_owned(),
            title: template.title().to_owned(),
            summary: template.summary.to_owned(),
            source: template.source.to_owned(),
        })
        .collect()
}

/// A new scriptlet with `source` as its first revision.
pub async fn create(
    auth: &Auth,
    actor: &Actor,
    name: &str,
    source: &str,
    message: &str,
) -> Result<ScriptletView, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "a scriptlet needs a name of 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    check_source(source)?;
    let author = author_of(actor);
    let message = if message.trim().is_empty() {
        "created"
    } else {
        message.trim()
    };
    // The store adds `scriptlet_id` once it has one.
    let entry = auth.audit().entry(
        actor,
        AuditKind::ScriptletCreated,
        Some(name),
        json!({ "bytes": source.len() }),
    );
    let id = auth
        .store()
        .insert_scriptlet(name, source, message, &author, auth.clock().now_ms(), entry)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("a scriptlet named {name:?} exists already")))?;
    view(auth.store(), id, None).await
}

/// Saves `source` as the scriptlet's next revision.
pub async fn revise(
    auth: &Auth,
    actor: &Actor,
    id: i64,
    source: &str,
    message: &str,
) -> Result<RevisionView, AppError> {
    check_source(source)?;
    let author = author_of(actor);
    let message = if message.trim().is_empty() {
        "edited"
    } else {
        message.trim()
    };
    let store = auth.store();
    let scriptlet = store.scriptlet(id).await?.ok_or_else(|| not_found(id))?;
    // The store adds the new `revision`'s number.
    let entry = auth.audit().entry(
        actor,
        AuditKind::ScriptletRevised,
        Some(&scriptlet.name),
        json!({ "scriptlet_id": id, "bytes": source.len() }),
    );
    let number = store
        .save_revision(id, source, message, &author, auth.clock().now_ms(), entry)
        .await?
        .ok_or_else(|| not_found(id))?;
    let row = store
        .revision(id, number)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("revision {number} of scriptlet {id} vanished")))?;
    Ok(revision_of(&row))
}

/// The scriptlet with `revision`'s text (default: the newest) and all its revisions.
pub async fn view(store: &Store, id: i64, revision: Option<i64>) -> Result<ScriptletView, AppError> {
    let scriptlet = store.scriptlet(id).await?.ok_or_else(|| not_found(id))?;
    let revisions = store.revisions(id).await?;
    let shown = revision.unwrap_or(scriptlet.revisions);
    let text = revisions
        .iter()
        .find(|row| row.number == shown)
        .ok_or_else(|| AppError::NotFound(format!("scriptlet {id} has no revision {shown}")))?;
    Ok(ScriptletView {
        id,
        name: scriptlet.name,
        created_by: scriptlet.created_by,
        revision: shown,
        source: text.source.clone(),
        revisions: revisions.iter().map(revision_of).collect(),
    })
}

pub async fn revision(store: &Store, id: i64, number: i64) -> Result<RevisionText, AppError> {
    let row = store
        .revision(id, number)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("scriptlet {id} has no revision {number}")))?;
    Ok(RevisionText {
        scriptlet_id: id,
        revision: revision_of(&row),
        source: row.source,
    })
}

/// The line diff from revision `from` to revision `to`; refused (422) when either has more
/// than [`MAX_DIFF_LINES`] lines.
pub async fn diff(store: &Store, id: i64, from: i64, to: i64) -> Result<DiffView, AppError> {
    let old = revision(store, id, from).await?;
    let new = revision(store, id, to).await?;
    for text in [&old, &new] {
        let lines = text.source.lines().count();
        if lines > MAX_DIFF_LINES {
            return Err(AppError::Unprocessable(format!(
                "revision {} has {lines} lines: Berth compares revisions of up to {MAX_DIFF_LINES} lines; \
                 download both and compare them with a tool of your own",
                text.revision.number
            )));
        }
    }
    Ok(crate::cpu::run(move || line_diff(from, to, &old.source, &new.source)).await)
}

/// The diff itself, CPU-bound: call it through [`crate::cpu::run`] in a request.
pub fn line_diff(from: i64, to: i64, old: &str, new: &str) -> DiffView {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::configure().timeout(DIFF_DEADLINE).diff_lines(old, new);
    let mut view = DiffView {
        from,
        to,
        lines: Vec::new(),
        added: 0,
        removed: 0,
    };
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => "same",
            ChangeTag::Insert => {
                view.added += 1;
                "added"
            }
            ChangeTag::Delete => {
                view.removed += 1;
                "removed"
            }
        };
        view.lines.push(DiffLine {
            kind: kind.into(),
            old_line: change.old_index().map(|index| index + 1),
            new_line: change.new_index().map(|index| index + 1),
            text: change.value().trim_end_matches(['\n', '\r']).to_owned(),
        });
    }
    view
}

fn author_of(actor: &Actor) -> String {
    match &actor.user {
        Some((_, name)) => name.clone(),
        None => "command line".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_numbers_lines_on_both_sides_and_counts_changes() {
        let diff = line_diff(1, 2, "a\nb\nc\n", "a\nB\nc\nd\n");
        let kinds: Vec<_> = diff
            .lines
            .iter()
            .map(|line| {
                (
                    line.kind.as_str(),
                    line.old_line,
                    line.new_line,
                    line.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("same", Some(1), Some(1), "a"),
                ("removed", Some(2), None, "b"),
                ("added", None, Some(2), "B"),
                ("same", Some(3), Some(3), "c"),
                ("added", None, Some(4), "d"),
            ]
        );
        assert_eq!((diff.added, diff.removed), (2, 1));
    }
}
