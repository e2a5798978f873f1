//! A tiny ordered JSON writer.
//!
//! Dataverse writes money as `20000.0000` and decimals with their full scale
//! (dataverse.md §1.1), which `serde_json` numbers cannot express without the
//! `arbitrary_precision` feature. Responses are therefore built as [`Out`]
//! trees whose decimal leaves are raw number text.

use serde_json::Value;

/// A JSON value whose object keys keep their order and whose numbers may be raw text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    Json(Value),
    /// A number written verbatim (already valid JSON number text).
    Raw(String),
    Obj(Vec<(String, Out)>),
    Arr(Vec<Out>),
}

impl Out {
    pub(crate) fn str(text: impl Into<String>) -> Out {
        Out::Json(Value::String(text.into()))
    }

    pub(crate) fn write(&self, buf: &mut String) {
        match self {
            Out::Json(v) => {
                buf.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
            }
            Out::Raw(text) => buf.push_str(text),
            Out::Obj(entries) => {
                buf.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    buf.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"\"".into()));
                    buf.push(':');
                    v.write(buf);
                }
                buf.push('}');
            }
            Out::Arr(items) => {
                buf.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    v.write(buf);
                }
                buf.push(']');
            }
        }
    }

    pub(crate) fn to_text(&self) -> String {
        let mut buf = String::new();
        self.write(&mut buf);
        buf
    }

    /// The same value as a `serde_json::Value` (raw numbers become JSON numbers).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Out::Json(v) => v.clone(),
            Out::Raw(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Out::Obj(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
            Out::Arr(items) => Value::Array(items.iter().map(Out::to_value).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_numbers_keep_their_scale() {
        // dataverse.md §1.1: money is written as 20000.0000
        let out = Out::Obj(vec![
            ("b".into(), Out::Raw("20000.0000".into())),
            ("a".into(), Out::str("x\"y")),
            ("c".into(), Out::Arr(vec![Out::Json(Value::Null)])),
        ]);
        assert_eq!(out.to_text(), r#"{"b":20000.0000,"a":"x\"y","c":[null]}"#);
        assert_eq!(out.to_value()["b"], serde_json::json!(20000.0));
    }
}
