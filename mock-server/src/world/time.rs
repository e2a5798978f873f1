//! Virtual instants and their wire formats.
//!
//! An instant is a count of milliseconds since the Unix epoch. Resource
//! timestamps are RFC 3339 UTC with milliseconds (`2026-03-24T02:36:37.684Z`);
//! webhook timestamps and Dataverse dates drop the fraction
//! (`2026-03-21T14:24:11Z`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, on a workspace's virtual clock.
pub(crate) type Millis = i64;

fn datetime(ms: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Displays an instant as `2026-03-24T02:36:37.684Z` without allocating
/// (serializers write it straight into their output).
#[derive(Debug, Clone, Copy)]
pub struct Stamp(pub Millis);

impl Stamp {
    /// The 24 bytes of `2026-03-24T02:36:37.684Z`, for years 0 to 9999
    /// (the rest go through the general formatter).
    pub(crate) fn ascii(&self) -> Option<[u8; 24]> {
        let t = datetime(self.0);
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, u32::from(u8::from(t.month())));
        put(8, 2, u32::from(t.day()));
        put(11, 2, u32::from(t.hour()));
        put(14, 2, u32::from(t.minute()));
        put(17, 2, u32::from(t.second()));
        put(20, 3, u32::from(t.millisecond()));
        Some(out)
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ascii) = self.ascii() {
            // Only ASCII digits and separators were written.
            return f.write_str(std::str::from_utf8(&ascii).map_err(|_| std::fmt::Error)?);
        }
        let t = datetime(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.ascii() {
            Some(ascii) => s.serialize_str(std::str::from_utf8(&ascii).unwrap_or_default()),
            None => s.collect_str(self),
        }
    }
}

/// `2026-03-24T02:36:37.684Z`
pub(crate) fn format_millis(ms: Millis) -> String {
    Stamp(ms).to_string()
}

/// `2026-03-21T14:24:11Z`
pub(crate) fn format_seconds(ms: Millis) -> String {
    let t = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an RFC 3339 timestamp (any offset, any fraction) into an instant.
pub(crate) fn parse_rfc3339(text: &str) -> Option<Millis> {
    if let Some(millis) = parse_utc_millis(text.as_bytes()) {
        return Some(millis);
    }
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The usual stamp, `YYYY-MM-DDTHH:MM:SS.mmmZ` (what the fake writes), read
/// without the general parser; anything else (other offsets, precisions, leap
/// seconds, years before 1) is `None` and left to it. Loading a fixture reads
/// three stamps per document, and the general parser was 2 % of a large load.
fn parse_utc_millis(t: &[u8]) -> Option<Millis> {
    if t.len() != 24 || t[4] != b'-' || t[7] != b'-' || t[10] != b'T' {
        return None;
    }
    if t[13] != b':' || t[16] != b':' || t[19] != b'.' || t[23] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        t[from..to].iter().try_fold(0i64, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second, millis) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year < 1 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    // Days since 1970-01-01 in the proleptic Gregorian calendar, counted
    // from March so that the leap day ends the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis)
}

/// Parses a duration such as `250ms`, `1s`, `15m`, `2h`, `1d`, `1m30s` or a bare
/// number of seconds.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as Millis);
    }
    let mut total: Millis = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add((number * factor).round() as Millis)?;
    }
    Some(total)
}

/// Renders a duration the way `parse_duration` reads it back.
pub(crate) fn format_duration(ms: Millis) -> String {
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else {
        format!("{}s", ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_stamp_reads_as_the_general_parser_reads_it() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2026-03-24T02:36:37.684Z",
            "2024-02-29T23:59:59.999Z",
            "2000-02-29T12:00:00.001Z",
            "1969-12-31T23:59:59.999Z",
            "1900-03-01T00:00:00.000Z",
            "0001-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "2026-12-31T10:20:30.400Z",
        ] {
            let general = OffsetDateTime::parse(text, &Rfc3339).unwrap();
            let expected = i64::try_from(general.unix_timestamp_nanos() / 1_000_000).unwrap();
            assert_eq!(parse_utc_millis(text.as_bytes()), Some(expected), "{text}");
            assert_eq!(parse_rfc3339(text), Some(expected), "{text}");
        }
        for text in [
            "2027-02-29T00:00:00.000Z",
            "1900-02-29T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T00:00:60.000Z",
            "2026-01-01T00:00:00.000+01:00",
            "2026-01-01 00:00:00.000Z",
            "2026-01-0aT00:00:00.000Z",
            // One separator wrong while its neighbour is right.
            "2026-12x01T00:00:00.000Z",
            "2026-12-01T00:00:00.000+",
            "2026-12-01T00:00x00.000Z",
        ] {
            assert_eq!(parse_utc_millis(text.as_bytes()), None, "{text}");
        }
        // Other forms still go to the general parser.
        assert_eq!(
            parse_rfc3339("2026-03-24T03:36:37.684+01:00"),
            parse_rfc3339("2026-03-24T02:36:37.684Z")
        );
    }

    #[test]
    fn round_trips_millisecond_timestamps() {
        let ms = parse_rfc3339("2026-03-24T02:36:37.684Z").unwrap();
        assert_eq!(format_millis(ms), "2026-03-24T02:36:37.684Z");
        assert_eq!(format_seconds(ms), "2026-03-24T02:36:37Z");
        assert_eq!(parse_rfc3339("2026-03-24T04:36:37.684+02:00"), Some(ms));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn stamps_match_the_general_format_and_serialize_alike() {
        let general = |ms: Millis| {
            let t = datetime(ms);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            )
        };
        let instants = [
            0,
            1,
            999,
            parse_rfc3339("2026-12-31T23:59:59.999Z").unwrap(),
            parse_rfc3339("2000-02-29T12:00:00.050Z").unwrap(),
            parse_rfc3339("0001-01-01T00:00:00.000Z").unwrap(),
            parse_rfc3339("9999-12-31T23:59:59.999Z").unwrap(),
            -1,
        ];
        for ms in instants
            .into_iter()
            .chain((0..500).map(|i| i * 7_919_993_731))
        {
            let shown = Stamp(ms).to_string();
            assert_eq!(shown, general(ms), "{ms}");
            assert_eq!(
                serde_json::to_string(&Stamp(ms)).unwrap(),
                format!("\"{shown}\"")
            );
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("1s"), Some(1000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("15m"), Some(900_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("inf"), None);
        assert_eq!(parse_duration("2"), Some(2000));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration(""), None);
    }
}
