//! Verdicts: what a client did wrong, judged from the journal and the
//! workspace's state (read-only; nothing here changes the workspace, and
//! nothing is judged while a call is served).
//!
//! Scope of judgement:
//! - only the client is judged: `internal: true` entries (the fake's own
//!   workflow) and run-boundary marks are never evidence; an injected answer
//!   is not a finding, the client's reaction to it is;
//! - "the same call" is the same method and route pattern for the same
//!   document (and, for a write, the same body);
//! - a Dataverse row belongs to a document by, in order: the mapping's
//!   document-id column; the `external_record_id` of the document's callback;
//!   the document whose result the client read last before writing the row
//!   (line items: their invoice's document);
//! - waits are judged on `wall_ms` (and on virtual time when the clock is
//!   frozen), never across a run boundary (`POST .../journal/mark`).
//!
//! Every rule, its source and how to fix the client: docs/verdicts.md.

mod delivery;
mod records;
mod retries;
pub(crate) mod webhooks;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::world::clock::ClockMode;
use crate::world::journal::JournalEntry;
use crate::world::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub advice: &'static str,
    pub source: &'static str,
    /// Journal entry `seq`s.
    pub evidence: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
}

/// Every finding, ordered by severity, rule, document and evidence.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub(crate) fn to_json(&self) -> Value {
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        json!({
            "findings": self.findings,
            "summary": {
                "error": count(Severity::Error),
                "warning": count(Severity::Warning),
                "info": count(Severity::Info),
            },
        })
    }
}

/// A rule's fixed description.
pub(crate) struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub source: &'static str,
    pub advice: &'static str,
}

impl Rule {
    pub(crate) fn finding(
        &self,
        message: String,
        evidence: Vec<u64>,
        document_id: Option<String>,
    ) -> Finding {
        Finding {
            rule: self.id,
            severity: self.severity,
            message,
            advice: self.advice,
            source: self.source,
            evidence,
            document_id,
        }
    }
}

/// Judges every client of the workspace.
pub(crate) fn judge(ws: &Workspace) -> Report {
    let cx = Cx::new(ws);
    let mut findings = Vec::new();
    retries::judge(&cx, &mut findings);
    delivery::judge(&cx, &mut findings);
    records::judge(&cx, &mut findings);
    webhooks::judge(&cx, &mut findings);
    if ws.journal.dropped > 0 {
        findings.push(JOURNAL_TRUNCATED.finding(
            format!(
                "the journal dropped its {} oldest entries (limits: {} entries, {} bytes); rules that need them judged only what is left",
                ws.journal.dropped, ws.settings.journal_max_entries, ws.settings.journal_max_bytes
            ),
            Vec::new(),
            None,
        ));
    }
    findings.sort_by(|a, b| {
        (a.severity, a.rule, &a.document_id, &a.evidence).cmp(&(
            b.severity,
            b.rule,
            &b.document_id,
            &b.evidence,
        ))
    });
    Report { findings }
}

pub(crate) const JOURNAL_TRUNCATED: Rule = Rule {
    id: "journal_truncated",
    severity: Severity::Info,
    source: "docs/verdicts.md (the journal is bounded per workspace)",
    advice: "raise settings.journal_max_entries / journal_max_bytes, or clear the journal (DELETE .../journal) before the run you want judged",
};

/// What the rules read: the journal in order and the workspace.
pub(crate) struct Cx<'a> {
    pub ws: &'a Workspace,
    pub entries: Vec<&'a JournalEntry>,
    pub frozen: bool,
}

impl<'a> Cx<'a> {
    fn new(ws: &'a Workspace) -> Cx<'a> {
        Cx {
            ws,
            entries: ws.journal.all().collect(),
            frozen: ws.clock.mode() == ClockMode::Frozen,
        }
    }

    /// The client's Numora and Dataverse calls, oldest first.
    pub(crate) fn client(&self) -> impl Iterator<Item = &'a JournalEntry> + '_ {
        self.entries
            .iter()
            .copied()
            .filter(|e| !e.internal && (e.api == "numora" || e.api == "dataverse"))
    }

    /// The client's Numora calls on `route`.
    pub(crate) fn numora(
        &self,
        route: &'static str,
    ) -> impl Iterator<Item = &'a JournalEntry> + '_ {
        self.client()
            .filter(move |e| e.api == "numora" && e.route == route)
    }

    /// Whether a run boundary lies between two journal entries.
    pub(crate) fn boundary_between(&self, from: u64, to: u64) -> bool {
        self.entries
            .iter()
            .any(|e| e.api == "mark" && e.seq > from && e.seq < to)
    }
}

/// The document a Numora call addresses (`/v1/documents/{id}/…`).
pub(crate) fn document_of(e: &JournalEntry) -> Option<String> {
    if e.api != "numora" {
        return None;
    }
    let mut parts = e.path.strip_prefix("/v1/documents/")?.split('/');
    let id = parts.next().filter(|s| !s.is_empty())?;
    Some(crate::call::decode_component(id))
}

pub(crate) fn success(e: &JournalEntry) -> bool {
    (200..300).contains(&e.status)
}

/// Groups values by key, keeping first-seen key order deterministic.
pub(crate) fn group<K: Ord, V>(items: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, Vec<V>> {
    let mut map: BTreeMap<K, Vec<V>> = BTreeMap::new();
    for (k, v) in items {
        map.entry(k).or_default().push(v);
    }
    map
}
