//! The Numora Public API (`/v1`).
//!
//! [`serve`] is the one pipeline every `/v1` call goes through, under the
//! workspace lock: tick the clock, run due work, rate-limit, route, check the
//! key's scope, apply fault rules, handle, add the operational headers and
//! journal the call.
//!
//! Files, each importing only the ones below it (never this one):
//! - `routes` — the route table, declared once; 404, 405 + `Allow` and
//!   HEAD-as-GET come from it.
//! - `documents`, `delivery`, `catalog`, `session` — the handlers.
//! - `executor` — the internal workflow that delivers to Dataverse.
//! - `handler` — what a handler receives and answers; `body` — typed JSON
//!   bodies and their 400/422 split; `query` — list parameters; `upload` —
//!   multipart uploads; `schemas` — extraction results; `error` — the error
//!   dialect.
//!
//! To add a route: a line in `routes`, a handler in the file of its
//! resource, and the operation in `openapi.json`.

pub(crate) mod error;
pub(crate) mod executor;
pub(crate) mod routes;

mod body;
mod catalog;
mod delivery;
mod documents;
mod handler;
mod query;
pub(crate) mod schemas;
mod session;
mod upload;

pub(crate) use documents::control_json;
pub(crate) use routes::{route, RouteMiss};

use axum::http::{header, HeaderName, HeaderValue, StatusCode};

use crate::call::{Call, Reply};
use crate::fault_pipeline::{self, FaultAction, FaultDialect, Step};
use crate::world::faults::{FaultApi, FaultTarget, Respond};
use crate::world::journal::JournalEntry;
use crate::world::workspace::{RateState, Workspace};
pub(crate) use error::{NumoraError, NumoraResult};
use handler::Payload;

/// The operational headers, made once at compile time.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-rate-limit-limit");
const X_RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-rate-limit-remaining");
const X_RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-rate-limit-reset");

/// The longest client `x-request-id` we echo; longer ones are replaced.
const MAX_REQUEST_ID: usize = 200;

/// The request id: the client's `x-request-id` when usable, else a new `req_…`.
pub(crate) fn request_id(call: &Call, generate: impl FnOnce() -> String) -> String {
    call.headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID)
        .map(str::to_string)
        .unwrap_or_else(generate)
}

/// Serves one authenticated `/v1` call for the workspace that owns `key`.
pub(crate) fn serve(ws: &mut Workspace, call: &Call, key: &str) -> Reply {
    let received = ws.wall_ms();
    ws.clock.on_request();
    crate::driver::run_due(ws);
    let now = ws.now();
    let request_id = request_id(call, || ws.ids.prefixed("req_", now));
    let routed = route(&call.method, &call.path);
    let allow = match routed {
        Err(RouteMiss::MethodNotAllowed(allow)) => Some(allow),
        _ => None,
    };
    let pattern: &'static str = match &routed {
        Ok(r) => r.pattern,
        Err(_) => "(no route)",
    };
    // (revoked, scopes allow the route): read in place, the key is not copied.
    let key_state = ws
        .key(key)
        .map(|k| (k.revoked, routed.as_ref().is_ok_and(|r| k.allows(r.scope))));
    let rate = ws.rate_check(key, now);
    let mut fault: Option<FaultAction> = None;

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
        fault = fault_pipeline::check(ws, &NumoraFaults, FaultApi::Numora, &target);
        if let Some(Step::Answer(error)) = fault.as_ref().map(|f| f.step(&NumoraFaults)) {
            return Err(error);
        }
        route.handle(ws, call)
    })();

    let mut reply = match result {
        Ok((status, Payload::Json(body))) => Reply::json(status, &body),
        Ok((status, Payload::Raw(bytes))) => Reply::new(status).with_body(bytes).with_value(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        Err(e) => {
            let body = match fault
                .as_ref()
                .and_then(FaultAction::respond)
                .and_then(|r| r.body.clone())
            {
                Some(custom) => custom,
                None => e.body(&request_id),
            };
            let mut r = Reply::json(e.status(), &body);
            if let Some(allow) = allow {
                r = r.with_header(header::ALLOW, allow);
            }
            r
        }
    };
    reply = with_operational_headers(reply, &request_id, &rate);
    if reply.status == StatusCode::TOO_MANY_REQUESTS {
        let retry = fault
            .as_ref()
            .and_then(FaultAction::respond)
            .and_then(|r| r.retry_after)
            .unwrap_or(rate.reset);
        reply = reply.with_header(header::RETRY_AFTER, retry.to_string());
    }
    if let Some(action) = &fault {
        reply = action.finish(reply);
    }
    let status = reply.status.as_u16();
    let credential = Some(ws.journal.names.credential(key));
    ws.log_call(JournalEntry {
        request_id: Some(request_id),
        fault: fault.map(|f| f.id),
        ..JournalEntry::of_keyed("numora", call, pattern, status, credential)
            .received(received)
            .answered(&reply)
    });
    reply
}

/// How a fault answers for Numora: the error envelope for the status; a
/// dropped connection is recorded as an internal error (never sent).
struct NumoraFaults;

impl FaultDialect for NumoraFaults {
    type Answer = NumoraError;

    fn respond(&self, respond: &Respond) -> NumoraError {
        fault_error(respond)
    }

    fn dropped(&self) -> NumoraError {
        NumoraError::Internal("connection dropped".into())
    }

    /// The call took virtual time: work that fell due meanwhile runs first.
    fn after_latency(&self, ws: &mut Workspace) {
        crate::driver::run_due(ws);
    }
}

fn fault_error(respond: &Respond) -> NumoraError {
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

pub(crate) fn with_operational_headers(reply: Reply, request_id: &str, rate: &RateState) -> Reply {
    reply
        .with_header(X_REQUEST_ID, request_id)
        .with_value(X_RATE_LIMIT_LIMIT, Reply::number(rate.limit.into()))
        .with_value(X_RATE_LIMIT_REMAINING, Reply::number(rate.remaining.into()))
        .with_value(X_RATE_LIMIT_RESET, Reply::number(rate.reset))
}
