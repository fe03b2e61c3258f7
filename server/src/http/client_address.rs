//! Who the client is, by address: the TCP peer, or behind a trusted proxy (`--trusted-proxy`)
//! the address the proxy forwarded. The login rate limit counts failures per address and the
//! audit log records it; behind a load balancer the peer is always the balancer, which would put
//! every user in one bucket.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not a trusted proxy (entries further left were written by
/// the client and prove nothing).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(address) if trusted.contains(&address) => continue,
            Ok(address) => return address,
            // Garbage in the chain: nothing to its left can be trusted either.
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_for_its_own_hop() {
        let (proxy, inner): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let trusted = [proxy, inner];
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_address(client, &headers(&["198.51.100.1"]), &trusted),
            client
        );
        // A trusted proxy: the entry it appended.
        assert_eq!(
            client_address(proxy, &headers(&["203.0.113.7"]), &trusted),
            client
        );
        // What the client claimed before the proxies is skipped: the right-most untrusted wins.
        let chain = headers(&["198.51.100.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(client_address(proxy, &chain, &trusted), client);
        // Nothing forwarded, or garbage: the peer.
        assert_eq!(client_address(proxy, &headers(&[]), &trusted), proxy);
        assert_eq!(
            client_address(proxy, &headers(&["not-an-address"]), &trusted),
            proxy
        );
        // Nobody trusted: always the peer.
        assert_eq!(client_address(proxy, &headers(&["203.0.113.7"]), &[]), proxy);
    }
}
