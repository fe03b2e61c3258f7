//! Incus's event timestamps (Go's RFC 3339 with nanoseconds, `Z` or an offset) as nanoseconds
//! since the Unix epoch: the order of scriptlet lines logged within the same millisecond is
//! only in their nanoseconds.

/// `2026-12-05T12:33:54.821123456Z`, `…+01:00`, or without fraction; `None` when it is not one.
pub fn parse_rfc3339_ns(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (index, digit) in fraction[..digits].bytes().enumerate() {
            if index < 9 {
                nanos = nanos * 10 + i64::from(digit - b'0');
            }
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incus_timestamps_read_to_the_nanosecond() {
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ns("2026-12-05T12:33:54.821123456Z"),
            Some(1_796_474_034_821_123_456)
        );
        // Fewer digits are tenths, hundredths…; more than nine are cut.
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00.0000000019Z"), Some(1));
    }

    #[test]
    fn an_offset_is_taken_off() {
        assert_eq!(
            parse_rfc3339_ns("2026-12-05T13:33:54+01:00"),
            parse_rfc3339_ns("2026-12-05T12:33:54Z")
        );
        assert_eq!(
            parse_rfc3339_ns("2026-12-05T10:03:54-02:30"),
            parse_rfc3339_ns("2026-12-05T12:33:54Z")
        );
    }

    #[test]
    fn anything_else_is_none() {
        for text in [
            "",
            "yesterday",
            "2026-12-05",
            "2026-13-05T00:00:00Z",
            "2026-12-05T00:00:00",
            "2026-12-05T00:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339_ns(text), None, "{text}");
        }
    }
}
