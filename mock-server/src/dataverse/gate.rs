//! The gate every Dataverse call passes: external clients' calls (after token
//! checks) and the internal workflow's calls alike. It applies fault rules,
//! asks the store, and journals the call. A call whose token the workspace
//! refuses (unknown there, or expired) is answered 401 and journaled too, so
//! a client that keeps sending an expired token can be judged
//! (`expired_token_reused`).

use axum::http::{header, HeaderName, StatusCode};

use super::{error_reply, unauthorized, DvEnv, DvRequest, API_PREFIX};
use crate::call::{decode_component, Call, Reply};
use crate::fault_pipeline::{self, FaultDialect};
use crate::world::faults::{FaultApi, FaultTarget, Respond};
use crate::world::journal::JournalEntry;
use crate::world::workspace::Workspace;

/// The entity set a resource path addresses (`/otcm_suppliers(…)` → `otcm_suppliers`).
pub(crate) fn entity_set(resource: &str) -> Option<&str> {
    let first = resource.trim_start_matches('/').split('/').next()?;
    let name = first.split('(').next()?;
    (!name.is_empty()).then_some(name)
}

/// How a fault answers for Dataverse: its error body for the status, a 502
/// recorded for a dropped connection, and the 401 of an expired token when
/// a rule expires the caller's session.
struct DataverseFaults<'a> {
    origin: &'a str,
    /// The external caller's session token (`None`: the internal workflow,
    /// which has no session a rule could expire).
    session: Option<&'a str>,
}

impl FaultDialect for DataverseFaults<'_> {
    type Answer = Reply;

    fn respond(&self, respond: &Respond) -> Reply {
        fault_reply(respond)
    }

    fn dropped(&self) -> Reply {
        Reply::new(StatusCode::BAD_GATEWAY)
    }

    fn expire_session(&self, ws: &mut Workspace) -> bool {
        let Some(token) = self.session else {
            return false;
        };
        // The token expires for good: later calls with it are real 401s.
        let now = ws.clock.now();
        if let Some(session) = ws.sessions.get_mut(token) {
            session.expires_at = now;
        }
        true
    }

    fn session_expired(&self) -> Option<Reply> {
        Some(unauthorized(self.origin, "expired_token"))
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
pub(crate) fn exchange(
    ws: &mut Workspace,
    org: &str,
    token: &str,
    call: &Call,
    internal: bool,
) -> Reply {
    let received = ws.wall_ms();
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
    let dialect = DataverseFaults {
        origin: &call.origin,
        session: (!internal).then_some(token),
    };
    let fault = fault_pipeline::check(ws, &dialect, FaultApi::Dataverse, &target);
    let expired = fault.as_ref().is_some_and(|f| f.expired_session());
    let reply = fault_pipeline::serve(fault.as_ref(), &dialect, || {
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
    let status = reply.status.as_u16();
    ws.log_call(JournalEntry {
        fault: fault.map(|f| f.id),
        internal,
        token_error: expired.then_some("expired_token"),
        ..JournalEntry::of("dataverse", call, route(call, set.as_deref()), status)
            .received(received)
            .answered(&reply)
    });
    reply
}

/// The journal's route of a call: its method and entity set.
fn route(call: &Call, set: Option<&str>) -> String {
    match set {
        Some(s) => format!("{} {API_PREFIX}/{s}", call.method),
        None => format!("{} {API_PREFIX}/", call.method),
    }
}

/// Serves an external client's call after the clock ticked and due work
/// ran: token checks, then the gate. `received` is the wall instant the call
/// arrived (before the tick), for the journal of a refused call.
pub(crate) fn serve(ws: &mut Workspace, call: &Call, token: &str, received: u64) -> Reply {
    let now = ws.now();
    let org = match ws.sessions.get(token) {
        None => return refuse(ws, call, "invalid_token", received),
        Some(session) if session.expires_at <= now => {
            return refuse(ws, call, "expired_token", received)
        }
        Some(session) => session.org.clone(),
    };
    exchange(ws, &org, token, call, false)
}

/// Answers (and journals) a call whose token this workspace refuses:
/// unknown here, or expired.
fn refuse(ws: &mut Workspace, call: &Call, reason: &'static str, received: u64) -> Reply {
    let reply = unauthorized(&call.origin, reason);
    let set =
        entity_set(call.path.strip_prefix(API_PREFIX).unwrap_or(&call.path)).map(decode_component);
    let status = reply.status.as_u16();
    ws.log_call(JournalEntry {
        token_error: Some(reason),
        ..JournalEntry::of("dataverse", call, route(call, set.as_deref()), status)
            .received(received)
            .answered(&reply)
    });
    reply
}
