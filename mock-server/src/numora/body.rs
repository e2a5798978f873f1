//! Typed JSON request bodies.
//!
//! A handler declares what it reads as a serde struct and calls [`parse`]:
//! the body must be a JSON object (else 400 `invalid_payload`), then each
//! field is read in the order the struct declares it. The first problem
//! decides the answer:
//! - a required field that is missing or `null`: 400 `invalid_payload`,
//!   "`field` is required";
//! - a value of the wrong type, an empty [`Text`], an unknown enum value, a
//!   bad [`Timestamp`], or anything wrong inside a nested value: 422
//!   `invalid_payload`, naming the field path (`review_state.version`).
//!
//! Why a small deserializer of our own instead of `serde_json::from_value`:
//! that split depends on which field is wrong and how, and on the field order
//! the API checks in. serde_json visits keys in the order the client sent
//! them, reports missing fields only after every present one, and its errors
//! carry neither the field nor the kind of problem. The [`Deserializer`]
//! here visits a body's fields in declaration order (an absent field is
//! visited as `null`, which an `Option` reads as `None`), and every rejection
//! knows its field path and whether it was a missing value.
//!
//! Rules for body structs: optional fields are `Option<T>` (not
//! `#[serde(default)]`, which would meet a `null` for an absent field);
//! unknown keys are ignored, as the API documents.

use std::fmt::{self, Display};

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Expected, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::{NumoraError, NumoraResult};
use crate::call::Call;
use crate::world::model::PROVIDERS;
use crate::world::time::{parse_rfc3339, Millis};

/// Whether a call must carry a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// An empty body is a 400.
    Required,
    /// An empty body reads as `{}`.
    Optional,
}

/// Parses the body as a JSON object.
pub(super) fn object(call: &Call, need: Need) -> NumoraResult<Map<String, Value>> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return match need {
            Need::Optional => Ok(Map::new()),
            Need::Required => Err(NumoraError::InvalidPayload(
                "a JSON request body is required".into(),
            )),
        };
    }
    match serde_json::from_slice::<Value>(&call.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(NumoraError::InvalidPayload(
            "the request body must be a JSON object".into(),
        )),
        Err(e) => Err(NumoraError::InvalidPayload(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

/// Reads `T` from an object already parsed with [`object`].
pub(super) fn typed<T: DeserializeOwned>(map: Map<String, Value>) -> NumoraResult<T> {
    T::deserialize(Node::root(map)).map_err(NumoraError::from)
}

/// Parses the body as `T`.
pub(super) fn parse<T: DeserializeOwned>(call: &Call, need: Need) -> NumoraResult<T> {
    typed(object(call, need)?)
}

/// Checks that each of `fields` is present and not null, in order, before any
/// value is read (for bodies whose documented rule is "all of these first").
pub(super) fn require(map: &Map<String, Value>, fields: &[&str]) -> NumoraResult<()> {
    match fields
        .iter()
        .find(|f| map.get(**f).is_none_or(Value::is_null))
    {
        Some(field) => Err(NumoraError::missing(field)),
        None => Ok(()),
    }
}

/// A string that is not empty or only whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(Self(text))
    }
}

/// A provider name from [`PROVIDERS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Provider(pub String);

impl Provider {
    /// The provider of an optional field or parameter: absent means
    /// `dynamics365`.
    pub(super) fn or_default(provider: Option<Self>) -> String {
        provider.map_or_else(|| "dynamics365".into(), |p| p.0)
    }

    /// Checks a provider name; the error completes "provider …".
    pub(super) fn check(text: &str) -> Result<Self, String> {
        if PROVIDERS.contains(&text) {
            Ok(Self(text.to_string()))
        } else {
            Err(format!(
                "must be one of {} (got '{text}')",
                PROVIDERS.join(", ")
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::check(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// An RFC 3339 timestamp, read as virtual-clock milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timestamp(pub Millis);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).map(Self).ok_or_else(|| {
            de::Error::custom(format!(
                "must be an RFC 3339 timestamp such as 2026-03-24T03:00:00.000Z (got '{text}')"
            ))
        })
    }
}

/// One step of a field path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone)]
enum Problem {
    /// A required field is absent.
    Missing,
    /// `null` where a value is needed (the text is what was expected).
    Null(String),
    /// Any other problem; the text completes "`path` …".
    Invalid(String),
}

/// Why a body was rejected: where, and what is wrong there.
#[derive(Debug, Clone)]
pub(crate) struct Reject {
    path: Vec<Step>,
    problem: Problem,
}

impl Reject {
    fn new(problem: Problem) -> Self {
        Self {
            path: Vec::new(),
            problem,
        }
    }

    fn at(mut self, step: Step) -> Self {
        self.path.insert(0, step);
        self
    }

    fn path_text(&self) -> String {
        let mut text = String::new();
        for step in &self.path {
            match step {
                Step::Key(key) if text.is_empty() => text.push_str(key),
                Step::Key(key) => {
                    text.push('.');
                    text.push_str(key);
                }
                Step::Index(i) => text.push_str(&format!("[{i}]")),
            }
        }
        text
    }
}

impl Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path_text();
        let path = if path.is_empty() { "the body" } else { &path };
        match &self.problem {
            Problem::Missing => write!(f, "{path} is required"),
            Problem::Null(expected) => write!(f, "{path} must be {expected}, not null"),
            Problem::Invalid(what) => write!(f, "{path} {what}"),
        }
    }
}

impl std::error::Error for Reject {}

/// serde's descriptions of what it expected, in the words of a JSON API.
fn expected(exp: &dyn Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "a map" => "a JSON object".into(),
        "a sequence" => "a JSON array".into(),
        "a boolean" => "true or false".into(),
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize" => {
            "an integer".into()
        }
        "f32" | "f64" => "a number".into(),
        t if t.starts_with("struct ") => "a JSON object".into(),
        t if t.starts_with("enum ") => "a string".into(),
        _ => text,
    }
}

impl de::Error for Reject {
    fn custom<T: Display>(msg: T) -> Self {
        Self::new(Problem::Invalid(msg.to_string()))
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        match unexp {
            Unexpected::Unit | Unexpected::Option => Self::new(Problem::Null(expected(exp))),
            _ => Self::new(Problem::Invalid(format!("must be {}", expected(exp)))),
        }
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::new(Problem::Invalid(format!(
            "must be {} (got {unexp})",
            expected(exp)
        )))
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        Self::new(Problem::Invalid(format!(
            "must be {} (got {len} items)",
            expected(exp)
        )))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(Problem::Invalid(format!(
            "must be one of {} (got '{variant}')",
            expected.join(", ")
        )))
    }

    fn unknown_field(_field: &str, expected: &'static [&'static str]) -> Self {
        Self::new(Problem::Invalid(format!(
            "is not a known field; expected one of {}",
            expected.join(", ")
        )))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new(Problem::Missing).at(Step::Key(field.into()))
    }
}

impl From<Reject> for NumoraError {
    fn from(reject: Reject) -> Self {
        let top_level = reject.path.len() == 1;
        match reject.problem {
            Problem::Missing | Problem::Null(_) if top_level => {
                NumoraError::missing(&reject.path_text())
            }
            _ => NumoraError::InvalidValue(reject.to_string()),
        }
    }
}

/// A JSON value being read; `root` marks the body object itself, whose
/// fields are visited in declaration order.
struct Node {
    value: Value,
    root: bool,
}

impl Node {
    fn root(map: Map<String, Value>) -> Self {
        Self {
            value: Value::Object(map),
            root: true,
        }
    }
}

fn node(value: Value) -> Node {
    Node { value, root: false }
}

impl<'de> Deserializer<'de> for Node {
    type Error = Reject;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Reject> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.into_iter().enumerate(),
            }),
            Value::Object(map) => visitor.visit_map(Fields::new(map.into_iter().collect())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Reject> {
        if self.value.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Reject> {
        match self.value {
            Value::Object(mut map) if self.root => {
                let mut ordered = Vec::with_capacity(fields.len() + map.len());
                for field in fields {
                    let value = map.remove(*field).unwrap_or(Value::Null);
                    ordered.push(((*field).to_string(), value));
                }
                ordered.extend(map);
                visitor.visit_map(Fields::new(ordered))
            }
            value => node(value).deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Reject> {
        match self.value {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            value => node(value).deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Reject> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

/// The entries of an object, each error tagged with its key.
struct Fields {
    entries: std::vec::IntoIter<(String, Value)>,
    pending: Option<(String, Value)>,
}

impl Fields {
    fn new(entries: Vec<(String, Value)>) -> Self {
        Self {
            entries: entries.into_iter(),
            pending: None,
        }
    }
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Reject;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Reject> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let read = seed
            .deserialize(key.clone().into_deserializer())
            .map_err(|e: Reject| e.at(Step::Key(key.clone())))?;
        self.pending = Some((key, value));
        Ok(Some(read))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Reject> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        seed.deserialize(node(value))
            .map_err(|e| e.at(Step::Key(key)))
    }
}

/// The items of an array, each error tagged with its index.
struct Items {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Reject;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Reject> {
        match self.items.next() {
            None => Ok(None),
            Some((i, value)) => seed
                .deserialize(node(value))
                .map(Some)
                .map_err(|e| e.at(Step::Index(i))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        name: Text,
        count: u32,
        note: Option<String>,
        tags: Option<Vec<String>>,
    }

    fn read(value: Value) -> NumoraResult<Sample> {
        match value {
            Value::Object(map) => typed(map),
            _ => unreachable!("the samples are objects"),
        }
    }

    fn rejected(value: Value) -> (u16, String) {
        let e = read(value).unwrap_err();
        (e.status().as_u16(), e.to_string())
    }

    #[test]
    fn the_first_problem_in_declaration_order_decides() {
        // `count` is missing, but `name` comes first and is the wrong type.
        assert_eq!(
            rejected(json!({"count": 1, "name": 5})),
            (422, "name must be a string".into())
        );
        // `name` is fine; `count` is absent, although `note` (later) is bad.
        assert_eq!(
            rejected(json!({"note": 7, "name": "a"})),
            (400, "count is required".into())
        );
        assert_eq!(
            rejected(json!({"name": "a", "count": null})),
            (400, "count is required".into())
        );
    }

    #[test]
    fn values_name_their_path_and_the_fix() {
        assert_eq!(
            rejected(json!({"name": " ", "count": 1})),
            (422, "name must not be empty".into())
        );
        assert_eq!(
            rejected(json!({"name": "a", "count": 1, "tags": ["x", 3]})),
            (422, "tags[1] must be a string".into())
        );
        assert_eq!(
            rejected(json!({"name": "a", "count": 1, "tags": {}})),
            (422, "tags must be a JSON array".into())
        );
        assert_eq!(
            rejected(json!({"name": "a", "count": -1})),
            (422, "count must be an integer (got integer `-1`)".into())
        );
    }

    #[test]
    fn null_and_absent_optional_fields_are_none_and_unknown_keys_ignored() {
        let s = read(json!({"name": "a", "count": 2, "note": null, "extra": true})).unwrap();
        assert!(s.note.is_none() && s.tags.is_none());
        assert_eq!(s.name, Text("a".into()));
    }

    #[test]
    fn nested_problems_are_422_even_when_missing() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Option<crate::world::model::ReviewState>,
        }
        let e = typed::<Outer>(json!({"inner": {}}).as_object().cloned().unwrap()).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.to_string()),
            (422, "inner.version is required".into())
        );
        let e = typed::<Outer>(
            json!({"inner": {"version": 1, "x": 1}})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .unwrap_err();
        assert_eq!(e.status().as_u16(), 422);
        assert!(
            e.to_string().starts_with("inner.x is not a known field"),
            "{e}"
        );
    }
}
