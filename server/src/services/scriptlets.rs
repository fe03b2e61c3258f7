//! Scriptlets: create, revise, read, compare. Shared by `/api/v1/scriptlets` and the editor's
//! server functions; every write is audited here.

use berth_app::types::{DiffLine, DiffView, RevisionText, RevisionView, ScriptletSummary, ScriptletView};
use serde_json::json;

use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::db::{RevisionRow, ScriptletRow, Store};
use crate::error::AppError;

/// The longest scriptlet Berth stores (Incus keeps it in one config value).
const MAX_SOURCE_BYTES: usize = 1 << 20;
const MAX_NAME_CHARS: usize = 100;

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
    let id = auth
        .store()
        .insert_scriptlet(name, source, message, &author, auth.clock().now_ms())
        .await?
        .ok_or_else(|| AppError::Conflict(format!("a scriptlet named {name:?} exists already")))?;
    auth.audit()
        .record(
            actor,
            AuditKind::ScriptletCreated,
            Some(name),
            json!({ "scriptlet_id": id, "bytes": source.len() }),
        )
        .await?;
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
    let number = store
        .insert_revision(id, source, message, &author, auth.clock().now_ms())
        .await?
        .ok_or_else(|| not_found(id))?;
    auth.audit()
        .record(
            actor,
            AuditKind::ScriptletRevised,
            Some(&scriptlet.name),
            json!({ "scriptlet_id": id, "revision": number, "bytes": source.len() }),
        )
        .await?;
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

/// The line diff from revision `from` to revision `to`.
pub async fn diff(store: &Store, id: i64, from: i64, to: i64) -> Result<DiffView, AppError> {
    let old = revision(store, id, from).await?;
    let new = revision(store, id, to).await?;
    Ok(line_diff(from, to, &old.source, &new.source))
}

pub fn line_diff(from: i64, to: i64, old: &str, new: &str) -> DiffView {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_lines(old, new);
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
