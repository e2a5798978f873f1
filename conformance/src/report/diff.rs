//! Expected-versus-actual, readable.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// Short values on two lines; multi-line values as a unified line diff
/// (`-` expected, `+` actual).
pub(crate) fn render(expected: &Value, actual: &Value, indent: &str) -> String {
    let e = pretty(expected);
    let a = pretty(actual);
    if !e.contains('\n') && !a.contains('\n') {
        let show = |v: &Value, s: &str| match v {
            Value::String(_) => format!("{s:?}"),
            _ => s.to_owned(),
        };
        // `200` and `"200"` print alike once unquoted; name the types
        // when only the type differs.
        let kind = |v: &Value| match v {
            Value::String(_) if e == a => " (string)",
            Value::Number(_) if e == a => " (number)",
            Value::Bool(_) if e == a => " (boolean)",
            _ => "",
        };
        let (ke, ka) = if std::mem::discriminant(expected) != std::mem::discriminant(actual) {
            (kind(expected), kind(actual))
        } else {
            ("", "")
        };
        return format!(
            "{indent}expected: {}{ke}\n{indent}actual:   {}{ka}\n",
            show(expected, &e),
            show(actual, &a)
        );
    }
    let mut out = format!("{indent}--- expected\n{indent}+++ actual\n");
    let diff = TextDiff::from_lines(&e, &a);
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                out.push_str(&format!("{indent}{sign} {}", change.value()));
                if !change.value().ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_on_two_lines_objects_as_diff() {
        let s = render(&json!("409"), &json!("200"), "  ");
        assert_eq!(s, "  expected: \"409\"\n  actual:   \"200\"\n");
        let d = render(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3}), "");
        assert!(d.contains("-   \"b\": 2"), "{d}");
        assert!(d.contains("+   \"b\": 3"), "{d}");
    }
}
