//! `GET /api/v1/audit`: the audit log for admins and their scripts, newest first, filtered by
//! user, kind (or kind family: `login` matches `login.failed`) and time.

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use berth_core::access::Action;
use serde::{Deserialize, Serialize};

use super::access::{Access, Endpoint};
use super::extract::ApiQuery;
use crate::clock::rfc3339;
use crate::db::{AuditEntry, AuditFilter, Store};
use crate::error::AppError;
use crate::params::{parse_time, parse_until};

/// The most entries one request returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::GET,
        "/api/v1/audit",
        Access::Signed(Action::ReadAudit),
        audit_log,
    )]
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub kind: Option<String>,
    /// RFC 3339 times.
    pub since: Option<String>,
    pub until: Option<String>,
    pub before_id: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub user: Option<String>,
    pub kind: String,
    pub subject: Option<String>,
    pub detail: serde_json::Value,
    pub address: Option<String>,
}

impl From<AuditEntry> for AuditRecord {
    fn from(entry: AuditEntry) -> AuditRecord {
        AuditRecord {
            id: entry.id,
            at: rfc3339(entry.at),
            user: entry.actor,
            kind: entry.kind,
            subject: entry.subject,
            detail: serde_json::from_str(&entry.detail).unwrap_or(serde_json::Value::String(entry.detail)),
            address: entry.address,
        }
    }
}

impl AuditQuery {
    pub fn filter(&self) -> Result<AuditFilter, AppError> {
        let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.trim().is_empty());
        Ok(AuditFilter {
            actor: non_empty(&self.user),
            kind: non_empty(&self.kind),
            since: non_empty(&self.since).map(|time| parse_time(&time)).transpose()?,
            until: non_empty(&self.until)
                .map(|time| parse_until(&time))
                .transpose()?,
            before_id: self.before_id,
            limit: self.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE),
        })
    }
}

async fn audit_log(
    State(store): State<Store>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, AppError> {
    let entries = store.audit_entries(&query.filter()?).await?;
    Ok(Json(entries.into_iter().map(AuditRecord::from).collect()))
}
