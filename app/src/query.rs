//! Query strings for links, written the same on the server and in the browser: values
//! percent-encoded but for unreserved characters, as the browser's `encodeURIComponent`
//! does. (`ParamsMap::to_query_string` encodes `-` as `%2D` when rendering on the server, so
//! a link to `?template=load-ceiling` would read differently before and after hydration.)

use leptos_router::params::ParamsMap;

/// Percent-encodes everything but unreserved characters (a query value, a `data:` URL).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?key=value&…` for every value of `params` in order; empty when there is none.
pub fn query_string(params: &ParamsMap) -> String {
    let pairs: Vec<String> = params
        .into_iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_unreserved_characters() {
        let mut params = ParamsMap::new();
        params.insert("template", "load-ceiling".to_owned());
        params.insert("ops", "[{\"kind\": \"evacuate\"}]".to_owned());
        assert_eq!(
            query_string(&params),
            "?template=load-ceiling&ops=%5B%7B%22kind%22%3A%20%22evacuate%22%7D%5D"
        );
        assert_eq!(query_string(&ParamsMap::new()), "");
    }
}
