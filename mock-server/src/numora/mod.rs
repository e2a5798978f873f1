//! The Numora Public API (`/v1`).
//!
//! [`serve`] is the one pipeline every `/v1` call goes through, under the
//! workspace lock: tick the clock, run due work, rate-limit, route, check the
//! key's scope, apply fault rules, handle, add the operational headers and
//! journal the call.

pub mod error;
pub mod executor;

mod catalog;
mod delivery;
mod documents;
mod multipart;
mod schemas;
mod session;

pub use documents::control_json;
pub use schemas::extract;

use axum::http::{header, HeaderName, Method, StatusCode};
use serde_json::{Map, Value};

use crate::call::{Call, Reply};
use crate::world::faults::{FaultApi, FaultSpec, FaultTarget};
use crate::world::journal::JournalEntry;
use crate::world::workspace::{RateState, Workspace};
pub use error::{NumoraError, NumoraResult};

/// A handler's success: status and JSON body.
pub type Answer = (StatusCode, Value);

/// What the pipeline sends: a JSON value, or JSON already serialized by a
/// hot route from borrowed views (no intermediate value tree).
pub enum Payload {
    Json(Value),
    Raw(Vec<u8>),
}

/// Serializes `value` for a hot route.
pub fn raw(
    status: StatusCode,
    value: &impl serde::Serialize,
) -> NumoraResult<(StatusCode, Payload)> {
    serde_json::to_vec(value)
        .map(|bytes| (status, Payload::Raw(bytes)))
        .map_err(|e| NumoraError::Internal(format!("serialization failed: {e}")))
}

/// A matched route: its pattern (for the journal), the scope it needs and its
/// path parameters.
#[derive(Debug, Clone)]
pub struct Route {
    pub pattern: &'static str,
    pub scope: &'static str,
    pub endpoint: Endpoint,
    pub params: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    DocumentsCreate,
    DocumentsGet,
    DocumentsResult,
    DocumentsApprove,
    DocumentsReject,
    DocumentsRetryPush,
    DocumentsDispatch,
    DeliveryCreate,
    DeliveryList,
    Outbox,
    DynamicsSession,
    SchemasList,
    DestinationsList,
    DestinationsCreate,
    DestinationsTest,
    MappingsGet,
    MappingsPut,
    WorkflowsList,
    WorkflowsDispatch,
    RunsGet,
    RunsLogs,
}

/// Why no route matched.
pub enum RouteMiss {
    NotFound,
    MethodNotAllowed(&'static str),
}

/// The route table: path shape → (method → endpoint, pattern, scope).
pub fn route(method: &Method, segments: &[impl AsRef<str>]) -> Result<Route, RouteMiss> {
    use Endpoint::*;
    let s: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
    type Choice = (&'static str, Endpoint, &'static str, &'static str);
    let (choices, params): (&[Choice], Vec<String>) = match s.as_slice() {
        ["documents"] => (
            &[(
                "POST",
                DocumentsCreate,
                "POST /v1/documents",
                "documents:write",
            )],
            vec![],
        ),
        ["documents", id] => (
            &[(
                "GET",
                DocumentsGet,
                "GET /v1/documents/{id}",
                "documents:read",
            )],
            vec![id.to_string()],
        ),
        ["documents", id, "result"] => (
            &[(
                "GET",
                DocumentsResult,
                "GET /v1/documents/{id}/result",
                "documents:read",
            )],
            vec![id.to_string()],
        ),
        ["documents", id, "actions", "approve"] => (
            &[(
                "POST",
                DocumentsApprove,
                "POST /v1/documents/{id}/actions/approve",
                "documents:write",
            )],
            vec![id.to_string()],
        ),
        ["documents", id, "actions", "reject"] => (
            &[(
                "POST",
                DocumentsReject,
                "POST /v1/documents/{id}/actions/reject",
                "documents:write",
            )],
            vec![id.to_string()],
        ),
        ["documents", id, "actions", "retry-push"] => (
            &[(
                "POST",
                DocumentsRetryPush,
                "POST /v1/documents/{id}/actions/retry-push",
                "delivery:write",
            )],
            vec![id.to_string()],
        ),
        ["documents", id, "dispatch"] => (
            &[(
                "POST",
                DocumentsDispatch,
                "POST /v1/documents/{id}/dispatch",
                "delivery:write",
            )],
            vec![id.to_string()],
        ),
        ["documents", id, "delivery"] => (
            &[
                (
                    "GET",
                    DeliveryList,
                    "GET /v1/documents/{id}/delivery",
                    "delivery:read",
                ),
                (
                    "POST",
                    DeliveryCreate,
                    "POST /v1/documents/{id}/delivery",
                    "delivery:write",
                ),
            ],
            vec![id.to_string()],
        ),
        ["delivery", "outbox"] => (
            &[("GET", Outbox, "GET /v1/delivery/outbox", "delivery:read")],
            vec![],
        ),
        ["dynamics", "session"] => (
            &[(
                "POST",
                DynamicsSession,
                "POST /v1/dynamics/session",
                "dynamics:session",
            )],
            vec![],
        ),
        ["schemas"] => (
            &[("GET", SchemasList, "GET /v1/schemas", "destinations:read")],
            vec![],
        ),
        ["destinations"] => (
            &[
                (
                    "GET",
                    DestinationsList,
                    "GET /v1/destinations",
                    "destinations:read",
                ),
                (
                    "POST",
                    DestinationsCreate,
                    "POST /v1/destinations",
                    "destinations:write",
                ),
            ],
            vec![],
        ),
        ["destinations", id, "test"] => (
            &[(
                "POST",
                DestinationsTest,
                "POST /v1/destinations/{id}/test",
                "destinations:write",
            )],
            vec![id.to_string()],
        ),
        ["mappings", schema, destination] => (
            &[
                (
                    "GET",
                    MappingsGet,
                    "GET /v1/mappings/{schema}/{destination}",
                    "destinations:read",
                ),
                (
                    "PUT",
                    MappingsPut,
                    "PUT /v1/mappings/{schema}/{destination}",
                    "destinations:write",
                ),
            ],
            vec![schema.to_string(), destination.to_string()],
        ),
        ["workflows"] => (
            &[("GET", WorkflowsList, "GET /v1/workflows", "workflows:read")],
            vec![],
        ),
        ["workflows", id, "dispatch"] => (
            &[(
                "POST",
                WorkflowsDispatch,
                "POST /v1/workflows/{id}/dispatch",
                "workflows:write",
            )],
            vec![id.to_string()],
        ),
        ["runs", id] => (
            &[("GET", RunsGet, "GET /v1/runs/{id}", "workflows:read")],
            vec![id.to_string()],
        ),
        ["runs", id, "logs"] => (
            &[("GET", RunsLogs, "GET /v1/runs/{id}/logs", "workflows:read")],
            vec![id.to_string()],
        ),
        _ => return Err(RouteMiss::NotFound),
    };
    let allowed: &'static str = match choices {
        [(only, ..)] => only,
        [(_, DeliveryList | DestinationsList, ..), ..] => "GET, POST",
        _ => "GET, PUT",
    };
    let wanted = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    choices
        .iter()
        .find(|(m, ..)| *m == wanted)
        .map(|&(_, endpoint, pattern, scope)| Route {
            pattern,
            scope,
            endpoint,
            params,
        })
        .ok_or(RouteMiss::MethodNotAllowed(allowed))
}

fn handle(ws: &mut Workspace, route: &Route, call: &Call) -> NumoraResult<(StatusCode, Payload)> {
    let json =
        |answer: NumoraResult<Answer>| answer.map(|(status, value)| (status, Payload::Json(value)));
    use Endpoint::*;
    let id = route.params.first().map(String::as_str).unwrap_or_default();
    match route.endpoint {
        DocumentsCreate => json(documents::create(ws, call)),
        DocumentsGet => documents::get(ws, id),
        DocumentsResult => json(documents::result(ws, id)),
        DocumentsApprove => json(documents::approve(ws, id, call)),
        DocumentsReject => json(documents::reject(ws, id, call)),
        DocumentsRetryPush => json(delivery::retry_push(ws, id, call)),
        DocumentsDispatch => json(delivery::dispatch(ws, id, call)),
        DeliveryCreate => json(delivery::callback(ws, id, call)),
        DeliveryList => json(delivery::list(ws, id, call)),
        Outbox => delivery::outbox(ws, call),
        DynamicsSession => json(session::create(ws, call)),
        SchemasList => json(catalog::schemas()),
        DestinationsList => json(catalog::destinations_list(ws)),
        DestinationsCreate => json(catalog::destinations_create(ws, call)),
        DestinationsTest => json(catalog::destinations_test(ws, id, call)),
        MappingsGet => json(catalog::mapping_get(ws, &route.params[0], &route.params[1])),
        MappingsPut => json(catalog::mapping_put(
            ws,
            &route.params[0],
            &route.params[1],
            call,
        )),
        WorkflowsList => json(catalog::workflows_list(ws)),
        WorkflowsDispatch => json(catalog::workflow_dispatch(ws, id, call)),
        RunsGet => json(catalog::run_get(ws, id)),
        RunsLogs => json(catalog::run_logs(ws, id)),
    }
}

/// The longest client `x-request-id` we echo; longer ones are replaced.
const MAX_REQUEST_ID: usize = 200;

/// The request id: the client's `x-request-id` when usable, else a new `req_…`.
pub fn request_id(call: &Call, generate: impl FnOnce() -> String) -> String {
    call.header("x-request-id")
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID)
        .map(str::to_string)
        .unwrap_or_else(generate)
}

/// Serves one authenticated `/v1` call for the workspace that owns `key`.
pub fn serve(ws: &mut Workspace, call: &Call, key: &str) -> Reply {
    let received = ws.wall_ms();
    ws.clock.on_request();
    ws.run_due();
    let now = ws.now();
    let request_id = request_id(call, || ws.ids.prefixed("req_", now));
    let segments = call.segments_after("/v1").unwrap_or_default();
    let routed = route(&call.method, &segments);
    let pattern: &'static str = match &routed {
        Ok(r) => r.pattern,
        Err(_) => "(no route)",
    };
    // (revoked, scopes allow the route): read in place, the key is not copied.
    let key_state = ws
        .key(key)
        .map(|k| (k.revoked, routed.as_ref().is_ok_and(|r| k.allows(r.scope))));
    let rate = ws.rate_check(key, now);
    let mut fault: Option<(String, FaultSpec)> = None;

    let result: NumoraResult<(StatusCode, Payload)> = (|| {
        let allowed = match key_state {
            Some((false, allowed)) => allowed,
            _ => {
                return Err(NumoraError::Unauthorized(
                    "the API key has been revoked".into(),
                ))
            }
        };
        let route = match routed {
            Ok(route) => route,
            Err(RouteMiss::NotFound) => {
                return Err(NumoraError::NotFound(format!(
                    "no route for {} {}",
                    call.method, call.path
                )))
            }
            Err(RouteMiss::MethodNotAllowed(allowed)) => {
                return Err(NumoraError::Custom {
                    status: 405,
                    code: "method_not_allowed".into(),
                    message: format!(
                        "{} is not allowed on {}; allowed: {allowed}",
                        call.method, call.path
                    ),
                })
            }
        };
        if rate.exceeded {
            return Err(NumoraError::RateLimited(format!(
                "rate limit of {} requests per {}s exceeded for this API key",
                rate.limit,
                ws.settings.rate_window / 1000
            )));
        }
        if !allowed {
            return Err(NumoraError::Forbidden(format!(
                "the API key lacks the '{}' scope required by {}",
                route.scope, route.pattern
            )));
        }
        let document_id = route.pattern.starts_with("GET /v1/documents/{id}")
            || route.pattern.starts_with("POST /v1/documents/{id}");
        let target = FaultTarget {
            method: call.method.as_str(),
            path: &call.path,
            document_id: document_id.then(|| route.params[0].as_str()),
            headers: Some(&call.headers),
            ..FaultTarget::default()
        };
        fault = ws.faults.check(FaultApi::Numora, &target);
        if let Some((_, spec)) = &fault {
            let latency = spec.virtual_latency();
            if latency > 0 {
                ws.clock.advance(latency);
                ws.run_due();
            }
            if let Some(respond) = &spec.respond {
                return Err(fault_error(respond));
            }
            if spec.drop_connection {
                return Err(NumoraError::Internal("connection dropped".into()));
            }
        }
        handle(ws, &route, call)
    })();

    let mut reply = match result {
        Ok((status, Payload::Json(body))) => Reply::json(status, &body),
        Ok((status, Payload::Raw(bytes))) => Reply::new(status)
            .with_body(bytes)
            .with_header(header::CONTENT_TYPE, "application/json"),
        Err(e) => {
            let body = match fault
                .as_ref()
                .and_then(|(_, s)| s.respond.as_ref())
                .and_then(|r| r.body.clone())
            {
                Some(custom) => custom,
                None => e.body(&request_id),
            };
            let mut r = Reply::json(e.status(), &body);
            if let NumoraError::Custom {
                status: 405,
                message,
                ..
            } = &e
            {
                if let Some(allowed) = message.rsplit("allowed: ").next() {
                    r = r.with_header(header::ALLOW, allowed);
                }
            }
            r
        }
    };
    reply = with_operational_headers(reply, &request_id, &rate);
    if reply.status == StatusCode::TOO_MANY_REQUESTS {
        let retry = fault
            .as_ref()
            .and_then(|(_, s)| s.respond.as_ref())
            .and_then(|r| r.retry_after)
            .unwrap_or(rate.reset);
        reply = reply.with_header(header::RETRY_AFTER, retry.to_string());
    }
    if let Some((_, spec)) = &fault {
        if let Some(respond) = &spec.respond {
            for (name, value) in &respond.headers {
                if let Ok(name) = HeaderName::try_from(name.as_str()) {
                    reply = reply.with_header(name, value);
                }
            }
        }
        reply.delay = spec.real_latency();
        reply.drop_connection = spec.drop_connection;
        if spec.malformed_body {
            let cut = reply.body.len() / 2;
            reply.body = reply.body.slice(..cut);
        }
    }
    let status = reply.status.as_u16();
    ws.log_call(JournalEntry {
        request_id: Some(request_id),
        fault: fault.map(|(id, _)| id),
        ..JournalEntry::of("numora", call, pattern, status)
            .received(received)
            .answered(&reply)
    });
    reply
}

fn fault_error(respond: &crate::world::faults::Respond) -> NumoraError {
    let base = NumoraError::for_status(respond.status, respond.message.clone());
    match &respond.code {
        Some(code) => NumoraError::Custom {
            status: respond.status,
            code: code.clone(),
            message: base.to_string(),
        },
        None => base,
    }
}

pub fn with_operational_headers(reply: Reply, request_id: &str, rate: &RateState) -> Reply {
    reply
        .with_header(HeaderName::from_static("x-request-id"), request_id)
        .with_value(
            HeaderName::from_static("x-rate-limit-limit"),
            rate.limit.into(),
        )
        .with_value(
            HeaderName::from_static("x-rate-limit-remaining"),
            rate.remaining.into(),
        )
        .with_value(
            HeaderName::from_static("x-rate-limit-reset"),
            rate.reset.into(),
        )
}

/// Parses a JSON object body. An empty body reads as `{}` when `optional`.
pub fn json_object(call: &Call, optional: bool) -> NumoraResult<Map<String, Value>> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return if optional {
            Ok(Map::new())
        } else {
            Err(NumoraError::InvalidPayload(
                "a JSON request body is required".into(),
            ))
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

/// A required string field: missing or null ⇒ 400, another type ⇒ 422.
pub fn required_str<'a>(body: &'a Map<String, Value>, field: &str) -> NumoraResult<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => Err(NumoraError::missing(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(NumoraError::InvalidValue(format!(
            "{field} must not be empty"
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(NumoraError::InvalidValue(format!(
            "{field} must be a string"
        ))),
    }
}

/// An optional string field: absent or null ⇒ None, another type ⇒ 422.
pub fn optional_str(body: &Map<String, Value>, field: &str) -> NumoraResult<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(NumoraError::InvalidValue(format!(
            "{field} must be a string"
        ))),
    }
}

/// A `provider` value: absent ⇒ `dynamics365`; unknown ⇒ 422.
pub fn provider(value: Option<&str>) -> NumoraResult<String> {
    let provider = value.unwrap_or("dynamics365");
    if crate::world::model::PROVIDERS.contains(&provider) {
        Ok(provider.to_string())
    } else {
        Err(NumoraError::InvalidValue(format!(
            "provider must be one of {} (got '{provider}')",
            crate::world::model::PROVIDERS.join(", ")
        )))
    }
}

/// A `limit` query parameter: not a number ⇒ 400; outside `1..=max` ⇒ 422.
pub fn limit(call: &Call, default: usize, max: usize) -> NumoraResult<usize> {
    match call.query_param("limit") {
        None => Ok(default),
        Some(text) => {
            let n: i64 = text.trim().parse().map_err(|_| {
                NumoraError::InvalidPayload(format!("limit must be an integer (got '{text}')"))
            })?;
            if n < 1 || n > max as i64 {
                return Err(NumoraError::InvalidValue(format!(
                    "limit must be between 1 and {max} (got {n})"
                )));
            }
            Ok(n as usize)
        }
    }
}
