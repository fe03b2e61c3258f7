//! Times as requests give them (`?since=2026-11-29`, `?until=…T12:00:00Z`): RFC 3339 or a
//! date, in Unix milliseconds as the store keeps them.

use crate::error::AppError;

/// An RFC 3339 time, or a date (`2026-11-29`, midnight UTC), as Unix milliseconds.
pub fn parse_time(text: &str) -> Result<i64, AppError> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let time = humantime::parse_rfc3339_weak(&full).map_err(|error| {
        AppError::BadRequest(format!(
            "`{text}` is not a time (RFC 3339 or YYYY-MM-DD): {error}"
        ))
    })?;
    let since_epoch = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| AppError::BadRequest(format!("`{text}` is before 1970")))?;
    Ok(crate::clock::millis(since_epoch))
}

/// The end of a time range: a date includes its whole day.
pub fn parse_until(text: &str) -> Result<i64, AppError> {
    let day = if text.trim().len() == 10 { 86_400_000 } else { 0 };
    Ok(parse_time(text)? + day)
}
