//! What every control resource shares: the error envelope, the workspace
//! lookup, and reading a JSON body into a typed struct that refuses unknown
//! keys. Resource files import this file; it imports none of them.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::app_state::AppState;
use crate::call::Reply;
use crate::fixtures::{Fixture, FixtureError};
use crate::numora::NumoraError;
use crate::world::SharedWorkspace;

/// A control API failure, in the Numora error envelope.
pub(crate) struct ControlError(pub(super) NumoraError);

impl From<NumoraError> for ControlError {
    fn from(e: NumoraError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        // The control API keeps no per-call ids; one fixed id keeps the
        // envelope's rule (request_id equals the x-request-id header).
        const ID: &str = "req_control";
        Reply::json(self.0.status(), &self.0.body(ID))
            .with_header(HeaderName::from_static("x-request-id"), ID)
            .into_response()
    }
}

pub(super) type Result<T> = std::result::Result<T, ControlError>;

/// A success: `{"data": …}` with `status`.
pub(super) fn ok(status: StatusCode, data: Value) -> Response {
    Reply::json(status, &json!({ "data": data })).into_response()
}

/// A success: `{"data": …}` with `status`, serialized straight from `data`
/// (the same bytes [`ok`] gives for its JSON value).
pub(super) fn ok_view(status: StatusCode, data: &impl serde::Serialize) -> Response {
    #[derive(serde::Serialize)]
    struct Data<'a, T> {
        data: &'a T,
    }
    let body = crate::call::serialize(&Data { data }).unwrap_or_default();
    Reply::new(status)
        .with_body(body)
        .with_value(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )
        .into_response()
}

/// 400 `invalid_payload`.
pub(super) fn bad(message: impl Into<String>) -> ControlError {
    ControlError(NumoraError::InvalidPayload(message.into()))
}

/// 409 `conflict`.
pub(super) fn conflict(message: impl Into<String>) -> ControlError {
    ControlError(NumoraError::Conflict(message.into()))
}

/// 404 naming what was looked for.
pub(super) fn not_found(what: &str, id: &str) -> ControlError {
    ControlError(NumoraError::not_found(what, id))
}

pub(super) fn workspace(state: &AppState, id: &str) -> Result<SharedWorkspace> {
    state
        .registry
        .workspace(id)
        .ok_or_else(|| not_found("workspace", id))
}

/// The body as JSON; an empty body reads as `{}`.
pub(super) fn body_json(body: &Bytes) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| bad(format!("the request body is not valid JSON: {e}")))
}

/// The body as `T` (an empty body reads as `{}`); `what` names it in errors.
pub(super) fn body<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T> {
    typed(body_json(body)?, what)
}

/// Reads `value` as `T`. An unknown key is refused with the list of valid
/// ones; any other mismatch names the field it happened at.
pub(super) fn typed<T: DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    if !value.is_object() {
        return Err(bad(format!("the {what} must be a JSON object")));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        if crate::strict::UnknownField::parse(&inner).is_some() {
            return bad(crate::strict::explain_at(what, &path, &inner).1);
        }
        if path == "." {
            bad(format!("{what}: {inner}"))
        } else {
            bad(format!("{path}: {inner}"))
        }
    })
}

/// A fixture error as a 400, unknown keys worded like every other body.
pub(super) fn fixture_error(e: FixtureError) -> ControlError {
    bad(format!(
        "{}: {}",
        e.location,
        crate::strict::explain("fixture", &e.message)
    ))
}

/// Inline fixtures: a JSON object, or a YAML string.
pub(super) fn fixture_from(value: &Value) -> Result<Fixture> {
    match value {
        Value::String(yaml) => Fixture::from_yaml("fixtures", yaml).map_err(fixture_error),
        other => Fixture::from_json(other.clone()).map_err(fixture_error),
    }
}

/// `http://<host>` of the request, for the base URLs a workspace reports.
pub(super) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}
