//! The gate every Dataverse call passes: external clients' calls (after token
//! checks) and the internal workflow's calls alike. It applies fault rules,
//! asks the store, and journals the call.

use axum::http::{header, HeaderName, StatusCode};

use super::{error_reply, unauthorized, DvEnv, DvRequest, API_PREFIX};
use crate::call::{decode_component, Call, Reply};
use crate::fault_pipeline::{self, FaultDialect};
use crate::world::faults::{FaultApi, FaultTarget, Respond};
use crate::world::journal::JournalEntry;
use crate::world::workspace::Workspace;

/// The entity set a resource path addresses (`/otcm_suppliers(…)` → `otcm_suppliers`).
pub fn entity_set(resource: &str) -> Option<&str> {
    let first = resource.trim_start_matches('/').split('/').next()?;
    let name = first.split('(').next()?;
    (!name.is_empty()).then_some(name)
}

/// How a fault answers for Dataverse: its error body for the status, and a
/// 502 recorded for a dropped connection.
struct DataverseFaults;

impl FaultDialect for DataverseFaults {
    type Answer = Reply;

    fn respond(&self, respond: &Respond) -> Reply {
        fault_reply(respond)
    }

    fn dropped(&self) -> Reply {
        Reply::new(StatusCode::BAD_GATEWAY)
    }
}

/// The Dataverse error a fault produces for `status` when it gives no body.
fn fault_reply(respond: &Respond) -> Reply {
    let (code, message) = match respond.status {
        400 => ("0x80040203", "Invalid argument."),
        401 => ("0x80044300", "The user is not authenticated."),
        403 => ("0x80040220", "Principal user is missing prvCreate privilege."),
        404 => ("0x80040217", "The requested record was not found or you do not have sufficient permissions to view it."),
        412 => ("0x80060882", "The version of the existing record doesn't match the RowVersion property provided."),
        429 => ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
        503 => ("0x80040216", "Service Unavailable"),
        _ => ("0x80040216", "An unexpected error occurred."),
    };
    let mut reply = match &respond.body {
        Some(body) => Reply::json(
            StatusCode::from_u16(respond.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
        .with_header(
            header::CONTENT_TYPE,
            "application/json; odata.metadata=minimal",
        )
        .with_header(HeaderName::from_static("odata-version"), "4.0"),
        None => error_reply(
            respond.status,
            respond.code.as_deref().unwrap_or(code),
            respond.message.as_deref().unwrap_or(message),
        ),
    };
    if respond.status == 429 || respond.status == 503 {
        let retry = respond
            .retry_after
            .unwrap_or(if respond.status == 429 { 1 } else { 5 });
        reply = reply.with_header(header::RETRY_AFTER, retry.to_string());
    }
    reply
}

/// Serves one call to `org` (already authenticated).
pub fn exchange(ws: &mut Workspace, org: &str, token: &str, call: &Call, internal: bool) -> Reply {
    let resource = call
        .path
        .strip_prefix(API_PREFIX)
        .unwrap_or(&call.path)
        .to_string();
    let set = entity_set(&resource).map(decode_component);
    let target = FaultTarget {
        method: call.method.as_str(),
        path: &call.path,
        entity_set: set.as_deref(),
        headers: Some(&call.headers),
        ..FaultTarget::default()
    };
    let fault = fault_pipeline::check(ws, &DataverseFaults, FaultApi::Dataverse, &target);
    let reply = fault_pipeline::serve(fault.as_ref(), &DataverseFaults, || {
        let req = DvRequest {
            call,
            resource: &resource,
            token,
        };
        let mut env = DvEnv {
            now: ws.clock.now(),
            ids: &mut ws.ids,
        };
        ws.dataverse.handle(org, &req, &mut env)
    });
    let route = match set {
        Some(s) => format!("{} {API_PREFIX}/{s}", call.method),
        None => format!("{} {API_PREFIX}/", call.method),
    };
    let status = reply.status.as_u16();
    ws.log_call(JournalEntry {
        fault: fault.map(|f| f.id),
        internal,
        ..JournalEntry::of("dataverse", call, route, status)
    });
    reply
}

/// Serves an external client's call after the clock ticked and due work
/// ran: token checks, then the gate.
pub fn serve(ws: &mut Workspace, call: &Call, token: &str) -> Reply {
    let now = ws.now();
    let Some(session) = ws.sessions.get(token) else {
        return unauthorized(&call.origin, "invalid_token");
    };
    if session.expires_at <= now {
        return unauthorized(&call.origin, "expired_token");
    }
    let org = session.org.clone();
    exchange(ws, &org, token, call, false)
}
