//! Dataverse calls whose token a workspace refuses (unknown there, or
//! expired) are answered 401 and journaled, so a client that keeps sending an
//! expired token can be judged (`expired_token_reused`).

use super::dv::{entity_set, API_PREFIX};
use super::journal::JournalEntry;
use super::workspace::Workspace;
use crate::call::{Call, Reply};

impl Workspace {
    /// Answers (and journals) a call whose token this workspace refuses:
    /// unknown here, or expired.
    pub fn dataverse_refuse(&mut self, call: &Call, reason: &'static str, received: u64) -> Reply {
        let reply = crate::dataverse::unauthorized(&call.origin, reason);
        let set = entity_set(call.path.strip_prefix(API_PREFIX).unwrap_or(&call.path))
            .map(crate::call::decode_component);
        let route = match set {
            Some(s) => format!("{} {API_PREFIX}/{s}", call.method),
            None => format!("{} {API_PREFIX}/", call.method),
        };
        let status = reply.status.as_u16();
        self.log_call(JournalEntry {
            token_error: Some(reason),
            ..JournalEntry::of("dataverse", call, route, status)
                .received(received)
                .answered(&reply)
        });
        reply
    }
}
