//! Query strings for links, written the same on the server and in the browser: values
//! percent-encoded but for unreserved characters, as the browser's `encodeURIComponent`
//! does. (`ParamsMap::to_query_string` encodes `-` as `%2D` when rendering on the server, so
//! a link to `?template=load-ceiling` would read differently before and after hydration.)

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

/// `?key=value&…` for every pair in order (a `&ParamsMap` gives each value of each key);
/// empty when there is none.
pub fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> String {
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                percent_encode(key.as_ref()),
                percent_encode(value.as_ref())
            )
        })
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
        let pairs = [
            ("template", "load-ceiling"),
            ("ops", "[{\"kind\": \"evacuate\"}]"),
        ];
        assert_eq!(
            query_string(pairs),
            "?template=load-ceiling&ops=%5B%7B%22kind%22%3A%20%22evacuate%22%7D%5D"
        );
        assert_eq!(query_string(Vec::<(&str, &str)>::new()), "");
    }
}
