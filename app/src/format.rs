//! How numbers read on screen.

const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// `1536` → `"1.5 KiB"`; whole numbers below 10 keep one decimal, larger ones none.
pub fn bytes(value: u64) -> String {
    let mut scaled = value as f64;
    let mut unit = 0;
    while scaled >= 1024.0 && unit < UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} B")
    } else if scaled < 10.0 {
        format!("{} {}", tenths(scaled), UNITS[unit])
    } else {
        format!("{} {}", whole(scaled), UNITS[unit])
    }
}

/// `value` with one decimal (`2.35` → `"2.4"`), as `{:.1}` writes it but without Rust's float
/// formatting, which would put about 20 KB of code into every page's wasm (issue 22's weight
/// budget). Halves round away from zero, as do values a rounding error below one (987.65).
pub fn tenths(value: f64) -> String {
    let tenths = (value.abs() * 10.0).round() as u64;
    let sign = if value < 0.0 && tenths > 0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths / 10, tenths % 10)
}

/// `value` as a whole number (`{:.0}`), likewise without float formatting.
pub fn whole(value: f64) -> String {
    let whole = value.abs().round() as u64;
    let sign = if value < 0.0 && whole > 0 { "-" } else { "" };
    format!("{sign}{whole}")
}

/// A fraction as a whole percentage, clamped to 0–100.
pub fn percent(fraction: f64) -> u32 {
    (fraction.clamp(0.0, 1.0) * 100.0).round() as u32
}

/// An RFC 3339 time as `2026-11-20 09:00` (UTC, as stored): short enough for tables.
pub fn timestamp(rfc3339: &str) -> String {
    match rfc3339.split_once('T') {
        Some((date, time)) => format!("{date} {}", time.get(..5).unwrap_or(time)),
        None => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pick_a_readable_unit() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(201 << 30), "201 GiB");
        assert_eq!(bytes(7680 << 30), "7.5 TiB");
    }

    #[test]
    fn decimals_are_written_without_float_formatting_as_format_would() {
        assert_eq!(tenths(2.35), "2.4");
        assert_eq!(tenths(0.04), "0.0");
        assert_eq!(tenths(-0.04), "0.0");
        assert_eq!(tenths(-1.25), "-1.3");
        assert_eq!(tenths(1234.0), "1234.0");
        assert_eq!(whole(1499.5), "1500");
        assert_eq!(whole(-0.4), "0");
        assert_eq!(whole(f64::NAN), "0");
        for value in [0.0, 0.26, 1.0, 9.94, 12.3, 987.61] {
            assert_eq!(tenths(value), format!("{value:.1}"), "{value}");
            assert_eq!(whole(value), format!("{value:.0}"), "{value}");
        }
    }

    #[test]
    fn percent_is_clamped() {
        assert_eq!(percent(0.456), 46);
        assert_eq!(percent(1.7), 100);
        assert_eq!(percent(-0.2), 0);
    }
}
