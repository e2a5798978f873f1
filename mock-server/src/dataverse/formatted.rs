//! Formatted values (`@OData.Community.Display.V1.FormattedValue`) in the
//! en-US culture, the way Dataverse shows a user whose settings are en-US
//! and whose time zone is UTC (docs/behaviour.md).

use serde_json::Value;

use crate::world::tables::schema::{Column, ColumnType};
use crate::world::time::parse_rfc3339;

/// The formatted value of a stored cell, when its type has one here:
/// choices (their label), booleans (`Yes`/`No`), money (`$1,234.50`),
/// date and time (`4/7/2023 9:59 PM`), date only (`4/7/2023`), whole
/// numbers (`1,234`).
pub(super) fn formatted(column: &Column, value: &Value) -> Option<String> {
    match column.ty {
        ColumnType::Choice | ColumnType::Integer if column.options.is_empty() => {
            let n = value.as_i64()?;
            column.label(n).or_else(|| {
                (column.ty == ColumnType::Integer)
                    .then(|| group(&n.unsigned_abs().to_string(), n < 0))
            })
        }
        ColumnType::Choice | ColumnType::Integer => column.label(value.as_i64()?),
        ColumnType::Boolean => Some(if value.as_bool()? { "Yes" } else { "No" }.into()),
        ColumnType::Money => {
            let amount: f64 = value.as_str()?.parse().ok()?;
            let cents = format!("{:.2}", amount.abs());
            let (whole, fraction) = cents.split_once('.')?;
            let sign = if amount < 0.0 { "-" } else { "" };
            Some(format!("{sign}${}.{fraction}", group(whole, false)))
        }
        ColumnType::Datetime => {
            let ms = parse_rfc3339(value.as_str()?)?;
            let (date, seconds) = civil(ms);
            let (hour, minute) = (seconds / 3600, seconds % 3600 / 60);
            let (h12, half) = match hour {
                0 => (12, "AM"),
                1..=11 => (hour, "AM"),
                12 => (12, "PM"),
                _ => (hour - 12, "PM"),
            };
            Some(format!("{date} {h12}:{minute:02} {half}"))
        }
        ColumnType::Dateonly => {
            let text = value.as_str()?;
            let (y, rest) = text.split_once('-')?;
            let (m, d) = rest.split_once('-')?;
            Some(format!(
                "{}/{}/{y}",
                m.parse::<u32>().ok()?,
                d.parse::<u32>().ok()?
            ))
        }
        _ => None,
    }
}

/// `M/D/YYYY` and the seconds into the day of a UTC instant.
fn civil(ms: i64) -> (String, i64) {
    let text = crate::world::time::format_seconds(ms);
    let date = &text[..10];
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    let (y, rest) = date.split_once('-').unwrap_or((date, ""));
    let (m, d) = rest.split_once('-').unwrap_or(("0", "0"));
    let m: u32 = m.parse().unwrap_or(0);
    let d: u32 = d.parse().unwrap_or(0);
    (format!("{m}/{d}/{y}"), seconds)
}

/// Digits with `,` every three from the right.
fn group(digits: &str, negative: bool) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if negative {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn col(name: &str, ty: ColumnType) -> Column {
        Column::new(name, ty)
    }

    #[test]
    fn en_us_formats() {
        assert_eq!(
            formatted(&col("m", ColumnType::Money), &json!("1234567.5000")).as_deref(),
            Some("$1,234,567.50")
        );
        assert_eq!(
            formatted(&col("m", ColumnType::Money), &json!("-5.0000")).as_deref(),
            Some("-$5.00")
        );
        assert_eq!(
            formatted(&col("b", ColumnType::Boolean), &json!(false)).as_deref(),
            Some("No")
        );
        assert_eq!(
            formatted(
                &col("d", ColumnType::Datetime),
                &json!("2023-04-07T21:59:01Z")
            )
            .as_deref(),
            Some("4/7/2023 9:59 PM")
        );
        assert_eq!(
            formatted(
                &col("d", ColumnType::Datetime),
                &json!("2023-12-31T00:05:00Z")
            )
            .as_deref(),
            Some("12/31/2023 12:05 AM")
        );
        assert_eq!(
            formatted(&col("d", ColumnType::Dateonly), &json!("2026-03-09")).as_deref(),
            Some("3/9/2026")
        );
        assert_eq!(
            formatted(&col("statecode", ColumnType::Integer), &json!(0)).as_deref(),
            Some("Active")
        );
        assert_eq!(
            formatted(&col("n", ColumnType::Integer), &json!(-12345)).as_deref(),
            Some("-12,345")
        );
        let mut kind = col("kind", ColumnType::Choice);
        kind.options = vec![(1, "Goods".into())];
        assert_eq!(formatted(&kind, &json!(1)).as_deref(), Some("Goods"));
        assert_eq!(formatted(&kind, &json!(7)), None);
        assert_eq!(formatted(&col("s", ColumnType::String), &json!("x")), None);
    }
}
