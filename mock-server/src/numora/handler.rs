//! The contract between the route table and a `/v1` handler: what a handler
//! receives ([`Input`]) and what it answers ([`Outcome`]).

use axum::http::StatusCode;
use serde_json::Value;

use super::error::NumoraResult;
use crate::call::Call;

/// A handler's JSON answer: status and body.
pub(super) type Answer = (StatusCode, Value);

/// What the pipeline sends: a JSON value, or JSON already serialized by a
/// hot route from borrowed views (no intermediate value tree).
pub(crate) enum Payload {
    Json(Value),
    Raw(bytes::Bytes),
}

/// What every handler ends with, whichever answer type it builds.
pub(super) type Outcome = NumoraResult<(StatusCode, Payload)>;

/// Sends the JSON `write` appends (a hot route's hand-written rendering).
pub(super) fn written(status: StatusCode, write: impl FnOnce(&mut Vec<u8>)) -> Outcome {
    Ok((status, Payload::Raw(crate::call::write_json(write))))
}

/// Turns a handler's answer into an [`Outcome`].
pub(super) trait Respond {
    fn respond(self) -> Outcome;
}

impl Respond for NumoraResult<Answer> {
    fn respond(self) -> Outcome {
        self.map(|(status, value)| (status, Payload::Json(value)))
    }
}

impl Respond for Outcome {
    fn respond(self) -> Outcome {
        self
    }
}

/// One routed call: the request and the path parameters its route names.
pub(super) struct Input<'a> {
    pub call: &'a Call,
    names: &'a [&'static str],
    values: &'a [String],
}

impl<'a> Input<'a> {
    pub(super) fn new(call: &'a Call, names: &'a [&'static str], values: &'a [String]) -> Self {
        Self {
            call,
            names,
            values,
        }
    }

    /// The (percent-decoded) value of path parameter `name`. A name its
    /// route does not declare is a slip in the table: it fails the tests
    /// (debug builds), and reads as empty in release builds.
    pub(super) fn param(&self, name: &str) -> &'a str {
        debug_assert!(
            self.names.contains(&name),
            "a handler reads path parameter `{name}`, which its route does not declare"
        );
        self.names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.values.get(i))
            .map_or("", String::as_str)
    }
}
