//! What a step expects of a response: status, headers, JSON paths, schema,
//! snapshot, body text, a dropped connection.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Expectations over one response. All listed checks run; all failures are
/// reported, not only the first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    #[serde(default)]
    pub status: Option<StatusExpect>,
    #[serde(default)]
    pub headers: HeaderExpect,
    /// JSON path (`$.data.items[0].id`, `$.data[*].status`) → checks.
    #[serde(default)]
    pub json: IndexMap<String, JsonCheck>,
    /// Validate the body (or a part of it) against a component of the
    /// target's OpenAPI document.
    #[serde(default)]
    pub schema: Option<SchemaExpect>,
    /// Compare the normalised body with `snapshots/<name>.snap`.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Substrings the raw body must contain.
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings the raw body must not contain (e.g. a secret).
    #[serde(default)]
    pub body_not_contains: Vec<String>,
    /// `connection: dropped`: the target closes the connection without an
    /// answer (a `drop_connection` fault). Excludes every other check.
    #[serde(default)]
    pub connection: Option<ConnectionExpect>,
}

/// What must happen to the connection of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ConnectionExpect {
    /// Closed with no HTTP response at all.
    Dropped,
}

impl Expect {
    /// Whether any check other than `connection` is set.
    pub(crate) fn checks_response(&self) -> bool {
        !(self.status.is_none()
            && self.headers.is_empty()
            && self.json.is_empty()
            && self.schema.is_none()
            && self.snapshot.is_none()
            && self.body_contains.is_empty()
            && self.body_not_contains.is_empty())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.connection.is_none()
            && self.status.is_none()
            && self.headers.is_empty()
            && self.json.is_empty()
            && self.schema.is_none()
            && self.snapshot.is_none()
            && self.body_contains.is_empty()
            && self.body_not_contains.is_empty()
    }
}

/// `status: 200` or `status: [200, 201]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum StatusExpect {
    One(u16),
    Any(Vec<u16>),
}

impl StatusExpect {
    pub(crate) fn accepts(&self, status: u16) -> bool {
        match self {
            StatusExpect::One(s) => *s == status,
            StatusExpect::Any(v) => v.contains(&status),
        }
    }

    /// The expectation as JSON: `200`, or `[200, 201]`.
    pub(crate) fn as_json(&self) -> Value {
        match self {
            StatusExpect::One(s) => Value::from(*s),
            StatusExpect::Any(v) => Value::from(v.clone()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderExpect {
    /// Header name → exact value (`{{var}}` allowed).
    #[serde(default)]
    pub equals: IndexMap<String, String>,
    /// Header name → regular expression the value must match.
    #[serde(default, rename = "match")]
    pub matches: IndexMap<String, String>,
    #[serde(default)]
    pub present: Vec<String>,
    #[serde(default)]
    pub absent: Vec<String>,
    /// Header name → JSON path of the body whose value the header must equal
    /// (e.g. `x-request-id: $.error.request_id`).
    #[serde(default)]
    pub equals_json: IndexMap<String, String>,
}

impl HeaderExpect {
    pub(crate) fn is_empty(&self) -> bool {
        self.equals.is_empty()
            && self.matches.is_empty()
            && self.present.is_empty()
            && self.absent.is_empty()
            && self.equals_json.is_empty()
    }
}

/// Checks on the value(s) a JSON path selects. A path with `[*]` selects an
/// array of every match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JsonCheck {
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    /// Regular expression over a string value.
    #[serde(default, rename = "match")]
    pub matches: Option<String>,
    #[serde(default, rename = "type")]
    pub type_: Option<JsonType>,
    /// `absent: true`: the path selects nothing. `absent: false`: it selects
    /// something (possibly null).
    #[serde(default)]
    pub absent: Option<bool>,
    /// Length of an array, string or object.
    #[serde(default)]
    pub length: Option<usize>,
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// The selected array contains this value.
    #[serde(default)]
    pub contains: Option<Value>,
    /// The selected array does not contain this value.
    #[serde(default)]
    pub not_contains: Option<Value>,
    /// Every element of the selected array is one of these values.
    #[serde(default)]
    pub each_one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Null,
    Array,
    Object,
}

impl JsonType {
    pub(crate) fn of(v: &Value) -> JsonType {
        match v {
            Value::String(_) => JsonType::String,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::Bool(_) => JsonType::Boolean,
            Value::Null => JsonType::Null,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    pub(crate) fn accepts(self, v: &Value) -> bool {
        let actual = JsonType::of(v);
        actual == self || (self == JsonType::Number && actual == JsonType::Integer)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// `schema: Document` (the whole body) or
/// `schema: {component: Document, path: $.data}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum SchemaExpect {
    Whole(String),
    At(SchemaAt),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchemaAt {
    pub component: String,
    #[serde(default = "root_path")]
    pub path: String,
}

fn root_path() -> String {
    "$".to_owned()
}

impl SchemaExpect {
    pub(crate) fn component(&self) -> &str {
        match self {
            SchemaExpect::Whole(c) => c,
            SchemaExpect::At(a) => &a.component,
        }
    }

    pub(crate) fn path(&self) -> &str {
        match self {
            SchemaExpect::Whole(_) => "$",
            SchemaExpect::At(a) => &a.path,
        }
    }
}
