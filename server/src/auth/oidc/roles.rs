//! `--oidc-role-map 'berth-admins=admin,sre=operator'`: which Berth role a value of the role
//! claim gives. A user in several mapped groups gets the highest of their roles; a user in
//! none gets no access.

use berth_core::access::Role;
use serde_json::Value;

/// The role map, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap(Vec<(String, Role)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleMapError {
    #[error("--oidc-role-map: `{0}` is not GROUP=ROLE")]
    NotAPair(String),
    #[error("--oidc-role-map: `{group}={role}`: roles are viewer, author, reviewer, operator, admin")]
    UnknownRole { group: String, role: String },
    #[error("--oidc-role-map: map at least one group to a role")]
    Empty,
}

impl RoleMap {
    pub fn parse(text: &str) -> Result<RoleMap, RoleMapError> {
        let mut entries = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let Some((group, role)) = pair.rsplit_once('=') else {
                return Err(RoleMapError::NotAPair(pair.to_owned()));
            };
            let (group, role) = (group.trim(), role.trim());
            if group.is_empty() {
                return Err(RoleMapError::NotAPair(pair.to_owned()));
            }
            let role = role.parse().map_err(|_| RoleMapError::UnknownRole {
                group: group.to_owned(),
                role: role.to_owned(),
            })?;
            entries.push((group.to_owned(), role));
        }
        if entries.is_empty() {
            return Err(RoleMapError::Empty);
        }
        Ok(RoleMap(entries))
    }

    /// The highest role any of the claim's values maps to. The claim is a list of strings (as
    /// `groups` is at most providers) or one string; anything else maps to nothing.
    pub fn role_for(&self, claim: Option<&Value>) -> Option<Role> {
        let values: Vec<&str> = match claim {
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(value)) => vec![value.as_str()],
            _ => Vec::new(),
        };
        self.0
            .iter()
            .filter(|(group, _)| values.contains(&group.as_str()))
            .map(|(_, role)| *role)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_highest_mapped_role_wins_and_no_match_is_no_access() {
        let map = RoleMap::parse("berth-admins=admin, sre=operator,dev=author,all=viewer").unwrap();
        let role = |claim: Value| map.role_for(Some(&claim));
        assert_eq!(role(json!(["dev", "sre", "other"])), Some(Role::Operator));
        assert_eq!(role(json!(["all", "berth-admins"])), Some(Role::Admin));
        assert_eq!(role(json!("dev")), Some(Role::Author));
        assert_eq!(role(json!(["other"])), None);
        assert_eq!(role(json!([])), None);
        // Not strings, or a near miss: nothing.
        assert_eq!(role(json!([1, {"sre": true}, "SRE", "sre "])), None);
        assert_eq!(map.role_for(None), None);
    }

    #[test]
    fn a_malformed_map_is_refused_naming_the_entry() {
        assert_eq!(RoleMap::parse(""), Err(RoleMapError::Empty));
        assert_eq!(RoleMap::parse("sre"), Err(RoleMapError::NotAPair("sre".into())));
        assert_eq!(
            RoleMap::parse("=admin"),
            Err(RoleMapError::NotAPair("=admin".into()))
        );
        assert!(matches!(
            RoleMap::parse("sre=root"),
            Err(RoleMapError::UnknownRole { .. })
        ));
        // A group name may hold `=`: the role is after the last one.
        let map = RoleMap::parse("team=ops=operator").unwrap();
        assert_eq!(map.role_for(Some(&json!(["team=ops"]))), Some(Role::Operator));
    }
}
