//! Durations in scenarios (`500ms`, `5s`, `15m`, `1h`) and the polling loop
//! of `wait_until`.

use std::time::Duration;

/// Parse `<n><unit>` with unit `ms`, `s`, `m` or `h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration `{text}` needs a unit: ms, s, m or h (e.g. `5s`)"))?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("duration `{text}` must start with a whole number"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1_000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => {
            return Err(format!(
                "duration `{text}`: unknown unit `{unit}` (use ms, s, m or h)"
            ))
        }
    };
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
