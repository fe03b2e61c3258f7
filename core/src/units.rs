//! Incus's size strings (`limits.memory=4GiB`, `size=20GB`) as byte counts.

/// Parses a size the way Incus's `units.ParseByteSizeString` does: an integer followed by an
/// optional suffix, decimal (`kB`, `MB`, …, `EB`) or binary (`KiB`, `MiB`, …, `EiB`), or `B`.
/// Returns `None` for anything else, including percentages (`limits.memory=50%`).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let multiplier: u64 = match suffix.trim() {
        "" | "B" => 1,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "PB" => 1_000_000_000_000_000,
        "EB" => 1_000_000_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "PiB" => 1 << 50,
        "EiB" => 1 << 60,
        _ => return None,
    };
    value.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn parses_decimal_and_binary_suffixes() {
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("4GiB"), Some(4 << 30));
        assert_eq!(parse_bytes("20GB"), Some(20_000_000_000));
        assert_eq!(parse_bytes("1024"), Some(1024));
    }

    #[test]
    fn refuses_what_is_not_a_byte_size() {
        assert_eq!(parse_bytes("50%"), None);
        assert_eq!(parse_bytes("GiB"), None);
        assert_eq!(parse_bytes("99999999999EiB"), None);
    }
}
