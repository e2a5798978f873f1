//! `{{var}}` interpolation.
//!
//! In a string, each `{{name}}` is replaced by the variable's text (a string
//! as is, anything else as compact JSON). In a JSON body, a string that is
//! exactly one `{{name}}` takes the variable's JSON value, so a captured
//! number stays a number.

use indexmap::IndexMap;
use serde_json::Value;

/// Variables of one scenario run, in definition order.
pub(crate) type Vars = IndexMap<String, Value>;

/// Names referenced by `{{…}}` in `text`, in order of appearance.
pub(crate) fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push(after[..end].trim().to_owned());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Interpolate a string; an unknown variable is an error naming it.
pub(crate) fn render(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        let value = vars
            .get(name)
            .ok_or_else(|| format!("variable `{name}` is not defined"))?;
        out.push_str(&text_of(value));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolate every string of a JSON value.
pub(crate) fn render_value(v: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let trimmed = s.trim();
            let refs = references(trimmed);
            if refs.len() == 1
                && trimmed.starts_with("{{")
                && trimmed.ends_with("}}")
                && trimmed.matches("{{").count() == 1
            {
                vars.get(&refs[0])
                    .cloned()
                    .ok_or_else(|| format!("variable `{}` is not defined", refs[0]))?
            } else {
                Value::String(render(s, vars)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                out.insert(render(k, vars)?, render_value(x, vars)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_strings_and_keeps_types_of_whole_references() {
        let mut vars = Vars::new();
        vars.insert("id".into(), json!("doc_1"));
        vars.insert("n".into(), json!(3));
        assert_eq!(
            render("/v1/documents/{{id}}/x?n={{ n }}", &vars).unwrap(),
            "/v1/documents/doc_1/x?n=3"
        );
        assert_eq!(
            render_value(&json!({"a": "{{n}}", "b": "n={{n}}"}), &vars).unwrap(),
            json!({"a": 3, "b": "n=3"})
        );
        assert!(render("{{nope}}", &vars).unwrap_err().contains("nope"));
        assert_eq!(references("a {{x}} b {{ y }}"), vec!["x", "y"]);
    }
}
