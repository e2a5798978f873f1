//! The request journal: every call a workspace served, in order.

use serde::Serialize;

use std::borrow::Cow;

use super::time::Stamp;

/// How many entries a workspace keeps before dropping the oldest.
pub const JOURNAL_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: u64,
    /// The workspace that served the call.
    pub workspace: String,
    /// The virtual instant, formatted only when the journal is read.
    pub at: Stamp,
    /// `numora`, `dataverse` or `webhook`.
    pub api: &'static str,
    #[serde(serialize_with = "method_str")]
    pub method: axum::http::Method,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The route pattern that matched, e.g. `POST /v1/documents/{id}/dispatch`.
    pub route: Cow<'static, str>,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The id of the fault rule that shaped the answer, if any.
    pub fault: Option<String>,
    /// True for calls the fake made itself (the internal workflow's Dataverse calls).
    pub internal: bool,
    /// For a request inside a Dataverse `$batch`: its 1-based place in the
    /// batch (the batch's own entry comes just before its parts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_part: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Journal {
    entries: std::collections::VecDeque<JournalEntry>,
    next_seq: u64,
}

/// What a journal query or count selects.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub method: Option<String>,
    /// A glob over the path: `*` matches one segment, `**` any number.
    pub path: Option<String>,
    pub api: Option<String>,
    pub status: Option<u16>,
}

impl JournalFilter {
    pub fn matches(&self, e: &JournalEntry) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(e.method.as_str()))
            && self.api.as_ref().is_none_or(|a| a == e.api)
            && self.status.is_none_or(|s| s == e.status)
            && self
                .path
                .as_ref()
                .is_none_or(|p| super::glob::path_matches(p, &e.path))
    }
}

fn method_str<S: serde::Serializer>(m: &axum::http::Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

impl JournalEntry {
    /// An entry for `call`, answered with `status` on `route`; the workspace
    /// stamps the rest when it records it ([`super::workspace::Workspace::log_call`]).
    pub fn of(
        api: &'static str,
        call: &crate::call::Call,
        route: impl Into<Cow<'static, str>>,
        status: u16,
    ) -> Self {
        Self {
            seq: 0,
            workspace: String::new(),
            at: Stamp(0),
            api,
            method: call.method.clone(),
            path: call.path.clone(),
            query: call.query.clone(),
            route: route.into(),
            status,
            request_id: None,
            fault: None,
            internal: false,
            batch_part: None,
        }
    }
}

impl Journal {
    pub fn record(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() == JOURNAL_LIMIT {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries<'a>(
        &'a self,
        filter: &'a JournalFilter,
    ) -> impl Iterator<Item = &'a JournalEntry> {
        self.entries.iter().filter(move |e| filter.matches(e))
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
