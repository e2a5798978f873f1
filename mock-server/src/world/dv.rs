//! The gate every Dataverse call passes: external clients' calls (after token
//! checks) and the internal workflow's calls alike. It applies fault rules,
//! asks the store, and journals the call.

use axum::http::{header, HeaderName, StatusCode};

use super::faults::{FaultApi, FaultSpec, FaultTarget};
use super::journal::JournalEntry;
use super::workspace::Workspace;
use crate::call::{Call, Reply};
use crate::dataverse::{error_reply, DvEnv, DvRequest};

pub const API_PREFIX: &str = "/api/data/v9.2";

/// The entity set a resource path addresses (`/otcm_suppliers(…)` → `otcm_suppliers`).
pub fn entity_set(resource: &str) -> Option<&str> {
    let first = resource.trim_start_matches('/').split('/').next()?;
    let name = first.split('(').next()?;
    (!name.is_empty()).then_some(name)
}

/// The Dataverse error a fault produces for `status` when it gives no body.
fn fault_reply(respond: &super::faults::Respond) -> Reply {
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
    for (name, value) in &respond.headers {
        if let Ok(name) = HeaderName::try_from(name.as_str()) {
            reply = reply.with_header(name, value);
        }
    }
    reply
}

impl Workspace {
    /// Serves one call to `org` (already authenticated).
    pub fn dataverse_exchange(
        &mut self,
        org: &str,
        token: &str,
        call: &Call,
        internal: bool,
    ) -> Reply {
        let received = self.wall_ms();
        let resource = call
            .path
            .strip_prefix(API_PREFIX)
            .unwrap_or(&call.path)
            .to_string();
        let set = entity_set(&resource).map(crate::call::decode_component);
        let target = FaultTarget {
            method: call.method.as_str(),
            path: &call.path,
            entity_set: set.as_deref(),
            headers: Some(&call.headers),
            ..FaultTarget::default()
        };
        let fault = self.faults.check(FaultApi::Dataverse, &target);
        if let Some((_, spec)) = &fault {
            let latency = spec.virtual_latency();
            if latency > 0 {
                self.clock.advance(latency);
            }
        }
        let expire = fault
            .as_ref()
            .is_some_and(|(_, s)| s.expire_session && !internal);
        if expire {
            // The token expires for good: later calls with it are real 401s.
            let now = self.clock.now();
            if let Some(session) = self.sessions.get_mut(token) {
                session.expires_at = now;
            }
        }
        let mut reply = match fault.as_ref().map(|(_, s)| s) {
            _ if expire => crate::dataverse::unauthorized(&call.origin, "expired_token"),
            Some(FaultSpec {
                respond: Some(respond),
                ..
            }) => fault_reply(respond),
            Some(spec) if spec.drop_connection => Reply::new(StatusCode::BAD_GATEWAY),
            _ => {
                let req = DvRequest {
                    call,
                    resource: &resource,
                    token,
                };
                let mut env = DvEnv {
                    now: self.clock.now(),
                    ids: &mut self.ids,
                };
                self.dataverse.handle(org, &req, &mut env)
            }
        };
        if let Some((_, spec)) = &fault {
            reply.delay = spec.real_latency();
            reply.drop_connection = spec.drop_connection;
            if spec.malformed_body {
                let cut = reply.body.len() / 2;
                reply.body = reply.body.slice(..cut);
            }
        }
        let route = match set {
            Some(s) => format!("{} {API_PREFIX}/{s}", call.method),
            None => format!("{} {API_PREFIX}/", call.method),
        };
        let status = reply.status.as_u16();
        self.log_call(JournalEntry {
            fault: fault.map(|(id, _)| id),
            internal,
            token_error: expire.then_some("expired_token"),
            ..JournalEntry::of("dataverse", call, route, status)
                .received(received)
                .answered(&reply)
        });
        reply
    }

    /// Serves an external client's call: token checks, clock, due work, then the gate.
    pub fn dataverse_serve(&mut self, call: &Call, token: &str) -> Reply {
        let received = self.wall_ms();
        self.clock.on_request();
        self.run_due();
        let now = self.now();
        let refused = match self.sessions.get(token) {
            None => Some("invalid_token"),
            Some(session) if session.expires_at <= now => Some("expired_token"),
            Some(_) => None,
        };
        if let Some(reason) = refused {
            return self.dataverse_refuse(call, reason, received);
        }
        let org = self
            .sessions
            .get(token)
            .map(|s| s.org.clone())
            .unwrap_or_default();
        self.dataverse_exchange(&org, token, call, false)
    }
}
