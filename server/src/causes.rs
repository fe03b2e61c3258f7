//! An error's message followed by its causes. reqwest's and openidconnect's top-level messages
//! ("error sending request") hide why (a refused connection, a certificate the server's name
//! does not match); Berth's messages about a remote name the whole chain.

/// `error`'s message and each of its sources', joined by `: `.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_causes_follow_the_message() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(with_causes(&error), "error sending request: connection refused");
    }
}
