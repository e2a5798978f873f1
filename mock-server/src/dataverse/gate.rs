//! The gate every Dataverse call passes: external clients' calls (after token
//! checks) and the internal workflow's calls alike. It applies fault rules,
//! asks the store, and journals the call. A call whose token the workspace
//! refuses (unknown there, or expired) is answered 401 and journaled too, so
//! a client that keeps sending an expired token can be judged
//! (`expired_token_reused`).
//!
//! A `$batch` passes the gate once and each of its requests passes it again
//! as a *part*: fault rules match parts by entity set and method, and each
//! part is journaled with its place in the batch. A change set runs inside a
//! stage of the store's undo log, so a failing part undoes the parts before
//! it (memory in proportion to the rows written, never a copy).

use std::collections::BTreeMap;

use axum::http::{header, HeaderName, Method, StatusCode};

use super::batch::{self, Item, ItemReply, PartReply, PartRequest};
use super::{error_reply, unauthorized, DvEnv, DvRequest, API_PREFIX};
use crate::call::{decode_component, Call, Reply};
use crate::fault_pipeline::{self, FaultAction, FaultDialect, Step};
use crate::world::faults::{FaultApi, FaultTarget, Respond};
use crate::world::journal::JournalEntry;
use crate::world::workspace::Workspace;

/// The entity set a resource path addresses (`/otcm_suppliers(…)` → `otcm_suppliers`).
pub(crate) fn entity_set(resource: &str) -> Option<&str> {
    let first = resource.trim_start_matches('/').split('/').next()?;
    let name = first.split('(').next()?;
    (!name.is_empty()).then_some(name)
}

/// The resource path of a call (after `/api/data/v9.2`) and the entity set
/// it addresses, decoded.
fn resource_of(call: &Call) -> (String, Option<String>) {
    let resource = call
        .path
        .strip_prefix(API_PREFIX)
        .unwrap_or(&call.path)
        .to_string();
    let set = entity_set(&resource).map(decode_component);
    (resource, set)
}

/// What the fault matcher sees of a Dataverse call.
fn fault_target<'a>(call: &'a Call, set: Option<&'a str>) -> FaultTarget<'a> {
    FaultTarget {
        method: call.method.as_str(),
        path: &call.path,
        entity_set: set,
        headers: Some(&call.headers),
        ..FaultTarget::default()
    }
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
    let (resource, set) = resource_of(call);
    if call.method == Method::POST && resource.trim_start_matches('/') == "$batch" {
        return serve_batch(ws, org, token, call, internal, received);
    }
    let target = fault_target(call, set.as_deref());
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
    let (_, set) = resource_of(call);
    let status = reply.status.as_u16();
    ws.log_call(JournalEntry {
        token_error: Some(reason),
        ..JournalEntry::of("dataverse", call, route(call, set.as_deref()), status)
            .received(received)
            .answered(&reply)
    });
    reply
}

/// What one batch run collects besides the answers.
struct BatchRun<'a> {
    org_index: usize,
    token: &'a str,
    outer: &'a Call,
    internal: bool,
    /// Rules matched by parts that act on the whole batch answer.
    whole: Vec<FaultAction>,
    /// Journal entries of the parts, recorded after the batch's own.
    parts: Vec<JournalEntry>,
    /// `Content-ID` → the resource path of the row that part created.
    created: BTreeMap<String, String>,
}

/// Serves a `$batch`: change sets atomically, other requests one by one,
/// stopping at the first failure unless `Prefer: odata.continue-on-error`.
fn serve_batch(
    ws: &mut Workspace,
    org: &str,
    token: &str,
    call: &Call,
    internal: bool,
    received: u64,
) -> Reply {
    let route = format!("POST {API_PREFIX}/$batch");
    let dialect = DataverseFaults {
        origin: &call.origin,
        session: (!internal).then_some(token),
    };
    let target = FaultTarget {
        method: "POST",
        path: &call.path,
        entity_set: Some("$batch"),
        headers: Some(&call.headers),
        ..FaultTarget::default()
    };
    let fault = fault_pipeline::check(ws, &dialect, FaultApi::Dataverse, &target);
    let expired = fault.as_ref().is_some_and(|f| f.expired_session());
    let mut run = BatchRun {
        org_index: 0,
        token,
        outer: call,
        internal,
        whole: Vec::new(),
        parts: Vec::new(),
        created: BTreeMap::new(),
    };
    let answer = match fault.as_ref().map(|f| f.step(&dialect)) {
        Some(Step::Answer(reply)) => reply,
        _ => run_batch(ws, org, &mut run),
    };
    let mut reply = match &fault {
        Some(f) => f.finish(answer),
        None => answer,
    };
    for action in &run.whole {
        reply = action.for_enclosing().finish(reply);
    }
    let status = if reply.drop_connection {
        StatusCode::BAD_GATEWAY.as_u16()
    } else {
        reply.status.as_u16()
    };
    ws.log_call(JournalEntry {
        fault: fault
            .map(|f| f.id)
            .or_else(|| run.whole.first().map(|f| f.id.clone())),
        internal,
        token_error: expired.then_some("expired_token"),
        ..JournalEntry::of("dataverse", call, route, status)
            .received(received)
            .answered(&reply)
    });
    for entry in run.parts {
        ws.log_call(entry);
    }
    reply
}

fn run_batch(ws: &mut Workspace, org: &str, run: &mut BatchRun<'_>) -> Reply {
    let now = ws.clock.now();
    run.org_index = match ws.dataverse.admit(org, run.token, now) {
        Ok(i) => i,
        Err(refusal) => return refusal,
    };
    let items = match batch::parse(run.outer.content_type(), run.outer.body.clone()) {
        Ok(items) => items,
        Err(e) => {
            return e
                .reply()
                .with_header(HeaderName::from_static("odata-version"), "4.0")
        }
    };
    let continue_on_error = run
        .outer
        .headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("odata.continue-on-error"));
    let mut answers = Vec::new();
    let mut number = 0u32;
    for item in items {
        let failed = match item {
            Item::Single(request) => {
                number += 1;
                let part = run_part(ws, run, &request, number);
                let failed = part.reply.status.as_u16() >= 400;
                answers.push(ItemReply::Single(part));
                failed
            }
            Item::ChangeSet(requests) => {
                ws.dataverse.begin();
                let mut done = Vec::new();
                let mut failure = None;
                for request in &requests {
                    number += 1;
                    let part = run_part(ws, run, request, number);
                    if part.reply.status.as_u16() >= 400 {
                        failure = Some(part);
                        break;
                    }
                    done.push(part);
                }
                match failure {
                    Some(part) => {
                        ws.dataverse.rollback();
                        // The change set's answer is its one failure (L-batch).
                        answers.push(ItemReply::Single(part));
                        true
                    }
                    None => {
                        ws.dataverse.commit();
                        answers.push(ItemReply::ChangeSet(done));
                        false
                    }
                }
            }
        };
        if failed && !continue_on_error {
            break;
        }
    }
    let batch_id = ws.ids.guid();
    let mut reply = batch::write(&batch_id, &answers);
    if continue_on_error {
        reply = reply.with_header(
            HeaderName::from_static("preference-applied"),
            "odata.continue-on-error",
        );
    }
    reply
}

/// Serves one request of a batch: fault rules first (a `respond` rule
/// answers for the part; any other action shapes the whole batch answer).
fn run_part(
    ws: &mut Workspace,
    run: &mut BatchRun<'_>,
    request: &PartRequest,
    number: u32,
) -> PartReply {
    let received = ws.wall_ms();
    let call = part_call(run, request);
    let (resource, set) = resource_of(&call);
    let target = fault_target(&call, set.as_deref());
    let dialect = DataverseFaults {
        origin: &call.origin,
        session: (!run.internal).then_some(run.token),
    };
    let fault = fault_pipeline::check(ws, &dialect, FaultApi::Dataverse, &target);
    let mut reply = match fault.as_ref().filter(|f| f.respond().is_some()) {
        Some(action) => match action.step(&dialect) {
            Step::Answer(reply) => reply,
            Step::Pass => Reply::new(StatusCode::INTERNAL_SERVER_ERROR),
        },
        None => {
            let req = DvRequest {
                call: &call,
                resource: &resource,
                token: run.token,
            };
            let mut env = DvEnv {
                now: ws.clock.now(),
                ids: &mut ws.ids,
            };
            ws.dataverse.handle_part(run.org_index, &req, &mut env)
        }
    };
    if let Some(entity) = reply.header("odata-entityid").map(str::to_string) {
        if let (Some(id), Some(path)) = (&request.content_id, entity.split(API_PREFIX).nth(1)) {
            run.created.insert(id.clone(), path.to_string());
        }
        if reply.header("location").is_none() {
            reply = reply.with_header(header::LOCATION, entity);
        }
    }
    run.parts.push(JournalEntry {
        fault: fault.as_ref().map(|f| f.id.clone()),
        internal: run.internal,
        batch_part: Some(number),
        ..JournalEntry::of(
            "dataverse",
            &call,
            route(&call, set.as_deref()),
            reply.status.as_u16(),
        )
        .received(received)
        .answered(&reply)
    });
    if let Some(action) = fault {
        run.whole.push(action);
    }
    PartReply {
        content_id: request.content_id.clone(),
        reply,
    }
}

/// The call a batch part stands for: its target made a path under the
/// service root (`$n` references resolved), its own headers and body.
fn part_call(run: &BatchRun<'_>, request: &PartRequest) -> Call {
    let mut target = request.target.as_str();
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        target = rest.find('/').map_or("", |i| &rest[i..]);
    }
    let target = target.strip_prefix(API_PREFIX).unwrap_or(target);
    let target = target.trim_start_matches('/');
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (target, None),
    };
    let path = resolve_reference(&run.created, path);
    let body = resolve_binds(&run.created, &request.body);
    Call {
        method: request.method.clone(),
        path: format!("{API_PREFIX}/{}", path.trim_start_matches('/')),
        query,
        headers: request.headers.clone(),
        body,
        origin: run.outer.origin.clone(),
    }
}

/// `$1/rest` → `set(id)/rest` when part `1` created that row.
fn resolve_reference(created: &BTreeMap<String, String>, path: &str) -> String {
    if let Some(reference) = path.strip_prefix('$') {
        let (id, rest) = match reference.split_once('/') {
            Some((id, rest)) => (id, Some(rest)),
            None => (reference, None),
        };
        if let Some(entity) = created.get(id) {
            return match rest {
                Some(rest) => format!("{}/{rest}", entity.trim_start_matches('/')),
                None => entity.trim_start_matches('/').to_string(),
            };
        }
    }
    path.to_string()
}

/// `"x@odata.bind": "$1"` → the row part `1` created.
fn resolve_binds(created: &BTreeMap<String, String>, body: &bytes::Bytes) -> bytes::Bytes {
    if created.is_empty() {
        return body.clone();
    }
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(body) else {
        return body.clone();
    };
    let mut changed = false;
    for (key, value) in object.iter_mut() {
        if !key.ends_with("@odata.bind") {
            continue;
        }
        if let Some(entity) = value
            .as_str()
            .and_then(|v| v.strip_prefix('$'))
            .and_then(|id| created.get(id))
        {
            *value = serde_json::Value::String(entity.clone());
            changed = true;
        }
    }
    if changed {
        serde_json::to_vec(&object)
            .map(Into::into)
            .unwrap_or_else(|_| body.clone())
    } else {
        body.clone()
    }
}
