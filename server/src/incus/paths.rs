//! Incus request paths built from names. A name (typed by a user, or read from a snapshot) is
//! one path segment or one query value, percent-encoded: `web/../../1.0/certificates` or
//! `x?project=other` stays the name of one instance and cannot reach another resource.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// What a path segment must encode (RFC 3986): everything but unreserved characters and the
/// sub-delimiters Incus's router reads literally.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'&')
    .add(b'+')
    .add(b'=');

/// `/1.0/SEGMENT/…?KEY=VALUE&…`, each segment and value encoded.
pub fn api_path(segments: &[&str], query: &[(&str, &str)]) -> String {
    let mut path = String::from("/1.0");
    for segment in segments {
        path.push('/');
        match *segment {
            // A URL parser removes dot segments (`/instances/..` is `/`): spelled out, they
            // stay names.
            "." => path.push_str("%2E"),
            ".." => path.push_str("%2E%2E"),
            segment => path.extend(utf8_percent_encode(segment, SEGMENT)),
        }
    }
    if !query.is_empty() {
        let mut encoded = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in query {
            encoded.append_pair(key, value);
        }
        path.push('?');
        path.push_str(&encoded.finish());
    }
    path
}

/// `/1.0/instances/NAME?project=PROJECT`.
pub fn instance_path(name: &str, project: &str) -> String {
    api_path(&["instances", name], &[("project", project)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_one_segment_or_one_value() {
        assert_eq!(
            instance_path("web-1", "default"),
            "/1.0/instances/web-1?project=default"
        );
        assert_eq!(
            instance_path("../../certificates", "a&target=m2"),
            "/1.0/instances/..%2F..%2Fcertificates?project=a%26target%3Dm2"
        );
        assert_eq!(
            api_path(&["instances", "x?y#z", "backups"], &[("project", "p q")]),
            "/1.0/instances/x%3Fy%23z/backups?project=p+q"
        );
        assert_eq!(
            instance_path("..", "default"),
            "/1.0/instances/%2E%2E?project=default"
        );
        assert_eq!(
            api_path(&["cluster", "members", "m1", "state"], &[]),
            "/1.0/cluster/members/m1/state"
        );
    }
}
