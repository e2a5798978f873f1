//! The request journal: every call a workspace served, in order, with what
//! was sent and answered.
//!
//! Each entry keeps the request's headers and body and the response's status,
//! headers and body (secrets redacted, bodies cut at [`BODY_LIMIT`]), the
//! fault that shaped the answer, the virtual instant and `wall_ms`: the wall
//! milliseconds since the workspace began, at receipt and at answer. The
//! verdicts (`crate::verdicts`) judge a client from this record.
//!
//! The journal is bounded per workspace, by entries and by bytes
//! (`settings.journal_max_entries`, `settings.journal_max_bytes`); the oldest
//! entries go first and the journal counts what it dropped.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::Value;

use super::time::Stamp;

/// How many entries a workspace keeps by default before dropping the oldest.
pub(crate) const JOURNAL_LIMIT: usize = 10_000;
/// How many bytes (bodies, headers, paths) a workspace's journal keeps by default.
pub(crate) const JOURNAL_BYTES: usize = 64 * 1024 * 1024;
/// The most body bytes kept per request or response.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// What a request or a response looked like.
///
/// The header values (secrets already redacted) sit back to back in one
/// buffer, a request's body after them: capturing a call costs two
/// allocations whatever its headers, and dropping the entry two frees. A
/// response's body is shared with the reply instead (the fake made it, to
/// its size, so it pins nothing else).
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// Header names (lowercase), each with the end of its value in `text`.
    names: Vec<(HeaderName, u32)>,
    /// The header values, then a request's body.
    text: Vec<u8>,
    /// A response's body (a request's is in `text`).
    shared: Option<Bytes>,
    /// The body was longer than [`BODY_LIMIT`] and was cut.
    pub truncated: bool,
    /// Responses only.
    pub status: Option<u16>,
}

/// Whether `hay` contains `needle`: a scan for the needle's first byte,
/// compared in full only where that byte sits (far cheaper, for header
/// names, than `str::contains` or a slice compare at every offset).
fn contains<const N: usize>(hay: &[u8], needle: &[u8; N]) -> bool {
    hay.len() >= N
        && (0..=hay.len() - N).any(|i| hay[i] == needle[0] && hay[i..i + N] == needle[..])
}

/// Headers whose values are never kept.
fn secret_header(name: &str) -> bool {
    // Names are lowercase, and every header of every call passes here: the
    // names the fake itself sends, and the usual request headers, first.
    if matches!(
        name,
        "host"
            | "content-type"
            | "content-length"
            | "x-request-id"
            | "x-rate-limit-limit"
            | "x-rate-limit-remaining"
            | "x-rate-limit-reset"
            | "accept"
            | "user-agent"
    ) {
        return false;
    }
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key" | "api-key"
    ) || contains(name.as_bytes(), b"secret")
        || contains(name.as_bytes(), b"token")
}

/// JSON members whose values are never shown.
fn secret_member(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with("secret")
        || name.contains("password")
        || name == "token"
        || name.ends_with("_token")
        || name == "api_key"
}

pub(crate) const REDACTED: &str = "[redacted]";

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if secret_member(k) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

impl Captured {
    /// A request's headers and body (or its first [`BODY_LIMIT`] bytes),
    /// copied: a request's bytes are slices of the connection's read
    /// buffer, and keeping a slice would keep the whole buffer alive.
    pub(crate) fn request(headers: &HeaderMap, body: &Bytes) -> Captured {
        let kept = body.len().min(BODY_LIMIT);
        let mut captured = Self::capture(headers.len(), || headers.iter(), &body[..kept]);
        captured.truncated = body.len() > BODY_LIMIT;
        captured
    }

    /// A reply's headers, copied (they are short), and its body, shared
    /// unless it is cut.
    pub(crate) fn response(reply: &crate::call::Reply) -> Captured {
        let mut captured = Self::capture(
            reply.headers.len(),
            || reply.headers.iter().map(|(n, v)| (n, v)),
            &[],
        );
        captured.status = Some(reply.status.as_u16());
        if reply.body.len() > BODY_LIMIT {
            captured.shared = Some(Bytes::copy_from_slice(&reply.body[..BODY_LIMIT]));
            captured.truncated = true;
        } else {
            captured.shared = Some(reply.body.clone());
        }
        captured
    }

    /// Headers (secret values replaced by [`REDACTED`]) and `body` after them.
    /// `headers` makes the iterator over the `count` headers (it is walked twice).
    fn capture<'h, I: Iterator<Item = (&'h HeaderName, &'h HeaderValue)>>(
        count: usize,
        headers: impl Fn() -> I,
        body: &[u8],
    ) -> Captured {
        // Room for every value, or the redaction that replaces it.
        let room = headers()
            .map(|(_, v)| v.len().max(REDACTED.len()))
            .sum::<usize>();
        let mut names = Vec::with_capacity(count);
        let mut text = Vec::with_capacity(room + body.len());
        for (name, value) in headers() {
            if secret_header(name.as_str()) {
                text.extend_from_slice(REDACTED.as_bytes());
            } else {
                text.extend_from_slice(value.as_bytes());
            }
            names.push((name.clone(), u32::try_from(text.len()).unwrap_or(u32::MAX)));
        }
        text.extend_from_slice(body);
        Captured {
            names,
            text,
            shared: None,
            truncated: false,
            status: None,
        }
    }

    /// Each header's name and value, in the order sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let mut start = 0;
        self.names.iter().map(move |(name, end)| {
            let end = *end as usize;
            let value = &self.text[start..end];
            start = end;
            (name.as_str(), value)
        })
    }

    /// The body as kept.
    pub fn body(&self) -> &[u8] {
        match &self.shared {
            Some(body) => body,
            None => &self.text[self.names.last().map_or(0, |(_, end)| *end as usize)..],
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Whether a header of this name was sent (whatever its value).
    pub fn has_header(&self, name: &str) -> bool {
        self.names
            .iter()
            .any(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
    }

    /// The body as JSON, when it is JSON (and was not cut).
    pub fn json(&self) -> Option<Value> {
        if self.truncated || self.body().is_empty() {
            return None;
        }
        serde_json::from_slice(self.body()).ok()
    }

    /// The body as shown: JSON (secrets redacted), else text, else nothing.
    fn shown_body(&self) -> Value {
        let body = self.body();
        if body.is_empty() {
            return Value::Null;
        }
        if !self.truncated {
            if let Ok(mut json) = serde_json::from_slice::<Value>(body) {
                redact(&mut json);
                return json;
            }
        }
        Value::String(String::from_utf8_lossy(body).into_owned())
    }

    /// Body and header bytes, with 4 of framing per header.
    fn weight(&self) -> usize {
        let names: usize = self.names.iter().map(|(n, _)| n.as_str().len() + 4).sum();
        self.text.len() + self.shared.as_ref().map_or(0, Bytes::len) + names
    }
}

impl Serialize for Captured {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(status) = self.status {
            map.serialize_entry("status", &status)?;
        }
        let headers: serde_json::Map<String, Value> = self
            .headers()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v).into_owned();
                (n.to_string(), Value::String(value))
            })
            .collect();
        map.serialize_entry("headers", &headers)?;
        map.serialize_entry("body", &self.shown_body())?;
        if self.truncated {
            map.serialize_entry("truncated", &true)?;
        }
        map.end()
    }
}

/// Wall-clock milliseconds since the workspace began (journal only).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct WallMs {
    pub received: u64,
    pub answered: u64,
}

/// How the fake tampered with a webhook delivery (a webhook fault action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tampered {
    /// Signed with another secret (`sign_with`).
    Signature,
    /// The timestamp was moved into the past (`backdate`).
    Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: u64,
    /// The workspace that served the call (shared by its entries).
    #[serde(serialize_with = "shared_str")]
    pub workspace: Arc<str>,
    /// The virtual instant, formatted only when the journal is read.
    pub at: Stamp,
    /// `numora`, `dataverse`, `webhook` (a delivery the fake sent) or `mark`
    /// (a run boundary set through the control API).
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
    /// A run boundary's label (`api: mark`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Why a Dataverse token was refused (`missing_token`, `invalid_token`, `expired_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_error: Option<&'static str>,
    /// Webhook deliveries a fault tampered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tampered: Option<Tampered>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Captured>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Captured>,
    pub wall_ms: WallMs,
    /// The API key or Dataverse token that sent the call: kept to tell
    /// clients apart, never serialized.
    #[serde(skip)]
    pub credential: Option<Arc<str>>,
    /// `wall_ms.received` was set by the caller (else it is the answer's).
    #[serde(skip)]
    pub received_set: bool,
    /// Real latency a fault adds after the answer is built.
    #[serde(skip)]
    pub answer_delay: u64,
    /// For a request inside a Dataverse `$batch`: its 1-based place in the
    /// batch (the batch's own entry comes just before its parts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_part: Option<u32>,
}

fn shared_str<S: serde::Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(text)
}

/// The names most entries of a workspace repeat (its id, the key that is
/// calling), kept once and shared by the entries instead of copied into each.
#[derive(Debug, Clone, Default)]
pub struct SharedNames {
    workspace: Option<Arc<str>>,
    credential: Option<Arc<str>>,
}

impl SharedNames {
    /// `id`, shared with the entries recorded before when it is the same.
    pub fn workspace(&mut self, id: &str) -> Arc<str> {
        Self::share(&mut self.workspace, id)
    }

    /// `key`, shared with the entries recorded before when it is the same.
    pub fn credential(&mut self, key: &str) -> Arc<str> {
        Self::share(&mut self.credential, key)
    }

    fn share(slot: &mut Option<Arc<str>>, text: &str) -> Arc<str> {
        match slot {
            Some(kept) if **kept == *text => kept.clone(),
            _ => slot.insert(Arc::from(text)).clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Journal {
    /// The names its entries share.
    pub names: SharedNames,
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    bytes: usize,
    /// How many entries were dropped to stay within the limits.
    pub dropped: u64,
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl Default for Journal {
    fn default() -> Journal {
        Journal::with_limits(JOURNAL_LIMIT, JOURNAL_BYTES)
    }
}

/// What a journal query or count selects (the control API's query string).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct JournalFilter {
    pub method: Option<String>,
    /// A glob over the path: `*` matches one segment, `**` any number.
    pub path: Option<String>,
    pub api: Option<String>,
    pub status: Option<u16>,
    /// Only entries with `seq` greater than this.
    pub since: Option<u64>,
    /// Only the fake's own calls (`true`) or only the clients' (`false`).
    pub internal: Option<bool>,
}

impl JournalFilter {
    pub fn matches(&self, e: &JournalEntry) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(e.method.as_str()))
            && self.api.as_ref().is_none_or(|a| a == e.api)
            && self.status.is_none_or(|s| s == e.status)
            && self.since.is_none_or(|s| e.seq > s)
            && self.internal.is_none_or(|i| e.internal == i)
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
        Self::of_keyed(api, call, route, status, call.bearer().map(Arc::from))
    }

    /// [`JournalEntry::of`] with the credential already known (and shared).
    pub fn of_keyed(
        api: &'static str,
        call: &crate::call::Call,
        route: impl Into<Cow<'static, str>>,
        status: u16,
        credential: Option<Arc<str>>,
    ) -> Self {
        Self {
            seq: 0,
            workspace: Arc::from(""),
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
            label: None,
            token_error: None,
            tampered: None,
            request: Some(Captured::request(&call.headers, &call.body)),
            response: None,
            wall_ms: WallMs::default(),
            credential,
            received_set: false,
            answer_delay: 0,
            batch_part: None,
        }
    }

    /// Adds the answer as sent.
    pub fn answered(mut self, reply: &crate::call::Reply) -> Self {
        self.response = Some(Captured::response(reply));
        self.answer_delay = reply
            .delay
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the wall instant the call was received.
    pub fn received(mut self, wall: u64) -> Self {
        self.wall_ms.received = wall;
        self.received_set = true;
        self
    }

    fn weight(&self) -> usize {
        256 + self.path.len()
            + self.query.as_ref().map_or(0, String::len)
            + self.request.as_ref().map_or(0, Captured::weight)
            + self.response.as_ref().map_or(0, Captured::weight)
    }

    /// The request body as JSON.
    pub fn request_json(&self) -> Option<Value> {
        self.request.as_ref().and_then(Captured::json)
    }

    /// The response body as JSON.
    pub fn response_json(&self) -> Option<Value> {
        self.response.as_ref().and_then(Captured::json)
    }

    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request.as_ref().and_then(|c| c.header(name))
    }

    /// Whether the request carried a header of this name.
    pub fn request_has_header(&self, name: &str) -> bool {
        self.request.as_ref().is_some_and(|c| c.has_header(name))
    }

    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response.as_ref().and_then(|c| c.header(name))
    }
}

impl Journal {
    pub fn with_limits(max_entries: usize, max_bytes: usize) -> Journal {
        Journal {
            names: SharedNames::default(),
            entries: VecDeque::new(),
            next_seq: 0,
            bytes: 0,
            dropped: 0,
            max_entries: max_entries.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    pub fn record(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += entry.weight();
        self.entries.push_back(entry);
        while self.entries.len() > 1
            && (self.entries.len() > self.max_entries || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.weight());
                self.dropped += 1;
            }
        }
    }

    /// Changes the limits (dropping the oldest entries if now over them).
    pub fn set_limits(&mut self, max_entries: usize, max_bytes: usize) {
        self.max_entries = max_entries.max(1);
        self.max_bytes = max_bytes.max(1);
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            match self.entries.pop_front() {
                Some(old) => {
                    self.bytes = self.bytes.saturating_sub(old.weight());
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }

    pub fn entries<'a>(
        &'a self,
        filter: &'a JournalFilter,
    ) -> impl Iterator<Item = &'a JournalEntry> {
        self.entries.iter().filter(move |e| filter.matches(e))
    }

    /// Every kept entry, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &JournalEntry> {
        self.entries.iter()
    }

    /// The entry with this `seq`, if still kept.
    pub fn get(&self, seq: u64) -> Option<&JournalEntry> {
        let first = self.entries.front()?.seq;
        self.entries
            .get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    /// Empties the journal; what it dropped before no longer matters.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::call::{Call, Reply};
    use axum::http::{Method, StatusCode};

    fn entry(body: &str) -> JournalEntry {
        let call = Call::to_v1_x(Method::POST, None, &[], body.to_string());
        JournalEntry::of("numora", &call, "POST /v1/x", 200)
    }

    #[test]
    fn new_limits_drop_the_oldest_entries_down_to_both_bounds() {
        let mut journal = Journal::with_limits(10, usize::MAX);
        for i in 0..3 {
            journal.record(entry(&format!("body {i}")));
        }
        let seqs = |j: &Journal| j.all().map(|e| e.seq).collect::<Vec<_>>();
        // Exactly at both bounds: nothing goes.
        let total = journal.bytes;
        journal.set_limits(3, total);
        assert_eq!(seqs(&journal), [0, 1, 2]);
        // One entry over the count.
        journal.set_limits(2, usize::MAX);
        assert_eq!(seqs(&journal), [1, 2]);
        // One byte under what is kept: the oldest goes.
        let kept = journal.bytes;
        journal.set_limits(10, kept - 1);
        assert_eq!(seqs(&journal), [2]);
        assert_eq!(journal.dropped, 2);
    }

    #[test]
    fn request_headers_are_read_back_by_name() {
        let call = Call::to_v1_x(
            Method::GET,
            None,
            &[("x-n8n-execution", "42")],
            Bytes::new(),
        );
        let e = JournalEntry::of("numora", &call, "GET /v1/x", 200);
        assert_eq!(e.request_header("x-n8n-execution"), Some("42"));
        assert_eq!(e.request_header("x-other"), None);
        assert!(e.request_has_header("x-n8n-execution"));
    }

    #[test]
    fn a_request_keeps_each_value_and_its_body_apart_with_secrets_redacted() {
        let call = Call::to_v1_x(
            Method::POST,
            None,
            &[
                ("x-a", "first"),
                ("authorization", "Bearer sk_live"),
                ("x-b", "second value"),
            ],
            &b"{\"k\":1}"[..],
        );
        let captured = JournalEntry::of("numora", &call, "POST /v1/x", 200)
            .request
            .unwrap();
        let shown: Vec<(&str, &str)> = captured
            .headers()
            .map(|(n, v)| (n, std::str::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            shown,
            [
                ("x-a", "first"),
                ("authorization", REDACTED),
                ("x-b", "second value"),
            ]
        );
        assert_eq!(captured.body(), b"{\"k\":1}");
        assert!(!captured.truncated);
    }

    #[test]
    fn secret_headers_are_found_wherever_the_word_sits() {
        for name in [
            "authorization",
            "x-api-key",
            "set-cookie",
            "secret",
            "x-client-secret",
            "secret-x",
            "token",
            "x-csrf-token",
            "tokens",
            "x-secrett",
        ] {
            assert!(secret_header(name), "{name}");
        }
        for name in [
            "",
            "host",
            "secre",
            "toke",
            "x-secre-t",
            "content-type",
            "x-rate-limit-remaining",
            "tokne",
        ] {
            assert!(!secret_header(name), "{name}");
        }
    }

    #[test]
    fn the_journal_stays_within_its_entry_and_byte_limits() {
        let mut journal = Journal::with_limits(3, usize::MAX);
        for _ in 0..5 {
            journal.record(entry("{}"));
        }
        assert_eq!(journal.all().count(), 3);
        assert_eq!(journal.dropped, 2);
        assert_eq!(journal.all().next().map(|e| e.seq), Some(2));
        assert_eq!(journal.get(3).map(|e| e.seq), Some(3));
        assert!(journal.get(1).is_none());

        let mut journal = Journal::with_limits(100, 2_000);
        for _ in 0..10 {
            journal.record(entry(&"x".repeat(500)));
        }
        assert!(journal.all().count() < 10);
        assert!(journal.dropped > 0);
    }

    #[test]
    fn an_entry_weighs_its_path_query_and_captured_headers_and_bodies() {
        let call = Call::to_v1_x(Method::GET, Some("a=1"), &[("x-a", "bc")], &b"hello"[..]);
        // 256 fixed, 5 of path, 3 of query; the request: 5 of body and
        // one header of 3 + 2 bytes plus 4 of framing.
        let unanswered = JournalEntry::of("numora", &call, "GET /v1/x", 200);
        let mut journal = Journal::with_limits(10, usize::MAX);
        journal.record(unanswered.clone());
        assert_eq!(journal.bytes, 256 + 5 + 3 + (5 + 3 + 2 + 4));
        // The answer adds its own: a 2-byte body and a 12 + 16 byte header.
        let reply = Reply::new(StatusCode::OK)
            .with_body(&b"{}"[..])
            .with_header(HeaderName::from_static("content-type"), "application/json");
        journal.record(unanswered.answered(&reply));
        assert_eq!(
            journal.bytes,
            2 * (256 + 5 + 3 + (5 + 3 + 2 + 4)) + (2 + 12 + 16 + 4)
        );
    }

    #[test]
    fn the_default_byte_limit_keeps_megabytes_of_bodies() {
        let mut journal = Journal::default();
        // 40 bodies of 64 KiB: 2.5 MiB, far under the 64 MiB default.
        for _ in 0..40 {
            journal.record(entry(&"x".repeat(BODY_LIMIT)));
        }
        assert_eq!(journal.all().count(), 40);
        assert_eq!(journal.dropped, 0);
        assert_eq!(journal.max_bytes, 64 << 20);
    }

    #[test]
    fn an_entry_reads_back_its_bodies_and_headers_and_filters_by_api_and_status() {
        let posted = |body: Bytes| Call::to_v1_x(Method::POST, None, &[("x-a", "1")], body);
        let reply = Reply::new(StatusCode::CREATED)
            .with_body(&br#"{"ok":true}"#[..])
            .with_header(HeaderName::from_static("x-b"), "2");
        let e = JournalEntry::of(
            "dataverse",
            &posted(Bytes::from_static(br#"{"k":1}"#)),
            "POST /v1/x",
            201,
        )
        .answered(&reply);
        assert_eq!(e.request_json(), Some(serde_json::json!({"k": 1})));
        assert_eq!(e.response_json(), Some(serde_json::json!({"ok": true})));
        assert!(e.request_has_header("x-a") && !e.request_has_header("x-b"));
        assert_eq!(e.response_header("x-b"), Some("2"));
        assert_eq!(e.response_header("x-a"), None);
        // No JSON in an empty or a cut body, even when what was kept
        // happens to be valid JSON.
        let long = Bytes::from(format!("[{}]", "1,".repeat(BODY_LIMIT) + "1"));
        let padded = Bytes::from(format!("{{}}{}", " ".repeat(BODY_LIMIT)));
        for body in [Bytes::new(), long, padded] {
            let kept = JournalEntry::of("dataverse", &posted(body), "r", 200);
            assert_eq!(kept.request_json(), None);
        }
        let filter = |api: Option<&str>, status: Option<u16>| JournalFilter {
            api: api.map(str::to_string),
            status,
            ..JournalFilter::default()
        };
        assert!(filter(Some("dataverse"), Some(201)).matches(&e));
        assert!(!filter(Some("numora"), None).matches(&e));
        assert!(!filter(None, Some(200)).matches(&e));
    }

    #[test]
    fn the_newest_entry_stays_even_when_it_alone_is_over_the_byte_bound() {
        let mut journal = Journal::with_limits(10, 1);
        journal.record(entry("first"));
        assert_eq!(journal.all().map(|e| e.seq).collect::<Vec<_>>(), [0]);
        journal.record(entry("second"));
        assert_eq!(journal.all().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        assert_eq!(journal.dropped, 1);
    }

    #[test]
    fn recording_up_to_either_bound_keeps_everything() {
        let mut journal = Journal::with_limits(3, usize::MAX);
        for _ in 0..3 {
            journal.record(entry("{}"));
        }
        assert_eq!((journal.all().count(), journal.dropped), (3, 0));
        let one = {
            let mut j = Journal::with_limits(10, usize::MAX);
            j.record(entry("{}"));
            j.bytes
        };
        let mut journal = Journal::with_limits(10, 2 * one);
        journal.record(entry("{}"));
        journal.record(entry("{}"));
        assert_eq!((journal.all().count(), journal.dropped), (2, 0));
        journal.record(entry("{}"));
        assert_eq!((journal.all().count(), journal.dropped), (2, 1));
    }

    #[test]
    fn bodies_up_to_64_kib_are_kept_whole() {
        // docs/behaviour.md: "kept up to 64 KiB each".
        let body = Bytes::from(vec![b'a'; 64 * 1024]);
        let kept = Captured::request(&HeaderMap::new(), &body);
        assert!(!kept.truncated);
        assert_eq!(kept.body().len(), 64 * 1024);
        let body = Bytes::from(vec![b'a'; 64 * 1024 + 1]);
        assert!(Captured::request(&HeaderMap::new(), &body).truncated);
    }

    #[test]
    fn a_reply_body_exactly_at_the_limit_is_kept_whole() {
        let reply = |len: usize| Reply::new(StatusCode::OK).with_body(vec![b'a'; len]);
        let at = Captured::response(&reply(BODY_LIMIT));
        assert!(!at.truncated);
        assert_eq!(at.body().len(), BODY_LIMIT);
        let over = Captured::response(&reply(BODY_LIMIT + 1));
        assert!(over.truncated);
        assert_eq!(over.body().len(), BODY_LIMIT);
    }

    #[test]
    fn shared_names_change_when_the_name_does() {
        let mut names = SharedNames::default();
        let a = names.workspace("ws_a");
        let again = names.workspace("ws_a");
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(&*names.workspace("ws_b"), "ws_b");
        assert_eq!(&*names.credential("k1"), "k1");
        assert_eq!(&*names.credential("k2"), "k2");
    }

    #[test]
    fn since_selects_only_later_entries() {
        let mut journal = Journal::with_limits(10, usize::MAX);
        for i in 0..4 {
            journal.record(entry(&format!("{i}")));
        }
        let filter = JournalFilter {
            since: Some(1),
            ..JournalFilter::default()
        };
        let seqs: Vec<u64> = journal
            .all()
            .filter(|e| filter.matches(e))
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [2, 3]);
    }

    #[test]
    fn secret_members_are_redacted_inside_arrays_and_by_every_rule() {
        let body = Bytes::from(
            r#"{"items":[{"password":"p","note":"n"}],"user_password":"u","token":"t","refresh_token":"r","api_key":"k","webhook_secret":"w","tokens":"kept"}"#,
        );
        let shown = serde_json::to_value(Captured::request(&HeaderMap::new(), &body)).unwrap();
        let b = &shown["body"];
        assert_eq!(b["items"][0]["password"], REDACTED);
        assert_eq!(b["items"][0]["note"], "n");
        for member in [
            "user_password",
            "token",
            "refresh_token",
            "api_key",
            "webhook_secret",
        ] {
            assert_eq!(b[member], REDACTED, "{member}");
        }
        assert_eq!(b["tokens"], "kept");
    }

    #[test]
    fn secrets_are_redacted_and_long_bodies_cut() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer sk_live".parse().unwrap());
        let body = Bytes::from(r#"{"credentials":{"client_secret":"s3"},"access_token":"t"}"#);
        let shown = serde_json::to_value(Captured::request(&headers, &body)).unwrap();
        assert_eq!(shown["headers"]["authorization"], REDACTED);
        assert_eq!(shown["body"]["credentials"]["client_secret"], REDACTED);
        assert_eq!(shown["body"]["access_token"], REDACTED);
        let long = Bytes::from(vec![b'a'; BODY_LIMIT + 10]);
        let shown = serde_json::to_value(Captured::request(&HeaderMap::new(), &long)).unwrap();
        assert_eq!(shown["truncated"], true);
        assert_eq!(shown["body"].as_str().map(str::len), Some(BODY_LIMIT));
    }
}
