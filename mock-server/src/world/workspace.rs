//! One tenant: everything a workspace owns, behind one lock.
//!
//! All state changes to documents go through [`Workspace::update_document`],
//! which keeps the outbox index in step; every delivery attempt goes through
//! [`Workspace::add_attempt`], which keeps the status-follows-latest-attempt
//! rule.
//!
//! Due work is data: the scheduler holds [`Job`]s for later instants, and
//! [`Workspace::ready`] holds the ones that were due already when they were
//! made. The world never runs a job itself; the layer above pops them
//! ([`Workspace::pop_due`], [`Workspace::take_ready`]) and runs them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::clock::Clock;
use super::faults::Faults;
use super::hooks::{Event, Webhooks};
use super::ids::IdGen;
use super::journal::Journal;
use super::model::*;
use super::scheduler::Scheduler;
use super::time::Millis;
use crate::fixtures::{DeliveryRoute, N8nWebhookFixture};
use crate::world::tables::Store;

/// The default start of a workspace's clock.
pub(crate) const DEFAULT_START: &str = "2026-03-24T00:00:00.000Z";

/// Settings of a workspace, parsed from the fixture's `settings:`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub route: DeliveryRoute,
    pub n8n_webhook: Option<N8nWebhookFixture>,
    pub rate_limit: u32,
    pub rate_window: Millis,
    pub session_ttl: Millis,
    pub processing_delay: Millis,
    pub run_delay: Millis,
    pub webhook_max_attempts: u32,
    pub webhook_timeout: Millis,
    /// The most documents one outbox page holds, whatever `limit` asks (none: 100).
    pub outbox_max_page: Option<usize>,
    pub journal_max_entries: usize,
    pub journal_max_bytes: usize,
}

/// Work scheduled on the virtual clock.
#[derive(Debug, Clone)]
pub enum Job {
    /// Processing of an uploaded document finishes.
    FinishProcessing { document_id: String },
    /// A queued run (dispatch, retry-push, workflow dispatch) executes.
    ExecuteRun { run_id: String },
    /// A webhook delivery attempt is due.
    DeliverWebhook { delivery_id: String },
}

/// A short-lived Dataverse token minted by `POST /v1/dynamics/session`.
#[derive(Debug, Clone)]
pub struct Session {
    pub connection_id: String,
    pub org: String,
    pub expires_at: Millis,
}

/// A per-key fixed rate-limit window on virtual time.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateWindow {
    pub index: i64,
    pub count: u32,
}

/// The rate-limit state answered in `x-rate-limit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets (at least 1).
    pub reset: u64,
    pub exceeded: bool,
}

/// An outbox entry: a document, ordered by `(updated_at, id)`. It shares the
/// document with the store; `update_document` takes it out before a change
/// (so the change is made in place) and puts the changed document back.
#[derive(Debug, Clone)]
pub(crate) struct OutboxEntry(pub(crate) Millis, pub(crate) Arc<Document>);

impl OutboxEntry {
    fn key(&self) -> (Millis, &str) {
        (self.0, &self.1.id)
    }

    /// An entry that sorts exactly where `(at, id)` does (a cursor's bound).
    fn probe(at: Millis, id: &str) -> Self {
        Self(at, Arc::new(Document::bare(id)))
    }
}

impl PartialEq for OutboxEntry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for OutboxEntry {}

impl PartialOrd for OutboxEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OutboxEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The outbox index: the eligible documents in outbox order, and the last
/// page answered from them.
///
/// Integrations poll the outbox: most calls ask for the same page as the call
/// before, and the page changes only when the documents in it, the schemas
/// with an active destination, the cursor or the limit do. The entries
/// change only through [`OutboxIndex::insert`] and [`OutboxIndex::remove`]
/// (both forget the page), and the page is kept with the schemas, cursor,
/// provider and limit it was made for, so a page is served again only for
/// the same question about the same entries. It costs no memory of its own
/// beyond one reference: the journal keeps the same bytes as the answer.
#[derive(Debug, Default)]
pub(crate) struct OutboxIndex {
    entries: BTreeSet<OutboxEntry>,
    last_page: std::sync::Mutex<Option<OutboxPage>>,
}

/// A page of the outbox as answered, and what it answered.
#[derive(Debug, Clone)]
pub(crate) struct OutboxPage {
    pub provider: String,
    pub schemas: Vec<String>,
    /// The `cursor` parameter as sent (empty for the first page).
    pub cursor: String,
    pub limit: usize,
    pub body: bytes::Bytes,
}

impl OutboxPage {
    fn answers(&self, provider: &str, schemas: &[&str], cursor: &str, limit: usize) -> bool {
        self.limit == limit
            && self.provider == provider
            && self.cursor == cursor
            && self
                .schemas
                .iter()
                .map(String::as_str)
                .eq(schemas.iter().copied())
    }
}

impl Clone for OutboxIndex {
    /// A copy (made when a shared index first changes) starts without a page.
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            last_page: std::sync::Mutex::new(None),
        }
    }
}

impl OutboxIndex {
    pub(crate) fn insert(&mut self, entry: OutboxEntry) {
        self.forget_page();
        self.entries.insert(entry);
    }

    /// Adds many entries; into an empty index, in bulk.
    pub(crate) fn extend(&mut self, entries: Vec<OutboxEntry>) {
        self.forget_page();
        if self.entries.is_empty() {
            self.entries = entries.into_iter().collect();
        } else {
            self.entries.extend(entries);
        }
    }

    pub(crate) fn remove(&mut self, entry: &OutboxEntry) {
        self.forget_page();
        self.entries.remove(entry);
    }

    fn forget_page(&mut self) {
        *self.last_page.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The page kept for this question, if it is the last one answered.
    pub(crate) fn page(
        &self,
        provider: &str,
        schemas: &[&str],
        cursor: &str,
        limit: usize,
    ) -> Option<bytes::Bytes> {
        let kept = self.last_page.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|page| page.answers(provider, schemas, cursor, limit))
            .map(|page| page.body.clone())
    }

    /// Keeps `page` as the last one answered.
    pub(crate) fn keep_page(&self, page: OutboxPage) {
        *self.last_page.lock().unwrap_or_else(|p| p.into_inner()) = Some(page);
    }
}

/// The key of the external-id index: the schema's catalog index and the
/// external id, stored without spare capacity.
pub(crate) type ExternalKey = (u8, Box<str>);

/// The external-id index key for a document of `schema` (a catalog schema).
pub(crate) fn external_key(schema: &str, external_id: &str) -> ExternalKey {
    let index = super::model::SCHEMAS
        .iter()
        .position(|(id, _)| *id == schema)
        .unwrap_or(usize::from(u8::MAX));
    (index as u8, external_id.into())
}

/// The hasher of the external-id index: a multiply-rotate over eight bytes at
/// a time, several times cheaper than the default SipHash on these short keys
/// (loading 100k documents spent about 3 % of its time hashing them). The
/// index is never iterated, so its order cannot reach an answer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Builds [`IndexHasher`]s.
pub(crate) type IndexHash = std::hash::BuildHasherDefault<IndexHasher>;

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: String,
    /// The workspace as its fixture built it: what `reset` goes back to. New
    /// workspaces of the same fixture and seed are copies of it, sharing its
    /// documents until they change one.
    pub pristine: Option<Arc<Workspace>>,
    pub seed: u64,
    pub clock: Clock,
    pub ids: IdGen,
    pub settings: Settings,
    pub keys: Vec<ApiKey>,
    /// Each document, and the map itself, is shared with the pristine copy
    /// until it changes (`Arc::make_mut`): a new workspace copies nothing.
    pub documents: Arc<BTreeMap<Arc<str>, Arc<Document>>>,
    /// `(schema, external_id)` → document id; the schema as its index in
    /// [`super::model::SCHEMAS`] (see [`external_key`]).
    pub(crate) by_external: Arc<HashMap<ExternalKey, Box<str>, IndexHash>>,
    /// Finalized documents in `reviewed` or `push_failed`, by (updated_at, id).
    /// Each entry holds the document itself, so a page needs no lookup.
    pub(crate) outbox: Arc<OutboxIndex>,
    pub connections: Vec<Connection>,
    pub destinations: Vec<Destination>,
    pub workflows: Vec<Workflow>,
    /// Shared with the pristine copy until a mapping is set.
    pub mappings: Arc<BTreeMap<(String, String), Map<String, Value>>>,
    pub runs: BTreeMap<String, Run>,
    pub sessions: BTreeMap<String, Session>,
    pub scheduler: Scheduler<Job>,
    pub rate: BTreeMap<String, RateWindow>,
    pub events: Vec<Event>,
    pub journal: Journal,
    pub faults: Faults,
    pub dataverse: Store,
    pub webhooks: Webhooks,
    /// Jobs that were due already when they were made (deliveries of an
    /// event emitted for now), in the order they were made. The layer above
    /// runs them before it answers the request that made them.
    pub ready: Vec<(Millis, Job)>,
    /// The wall clock of the journal's `wall_ms` (never in answers or dumps).
    pub wall: super::wall::Wall,
    /// The wall instant the workspace began.
    pub began: u64,
}

impl Workspace {
    /// A new workspace `id` as `pristine` is: a copy that shares its
    /// documents (each copied when it first changes) and resets to it.
    pub fn from_pristine(id: String, pristine: Arc<Workspace>) -> Workspace {
        let mut ws = (*pristine).clone();
        ws.id = id;
        ws.clock = pristine.clock.restarted();
        ws.pristine = Some(pristine);
        ws
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Journals a served call, stamped with this workspace and its clock.
    pub fn log_call(&mut self, mut entry: super::journal::JournalEntry) {
        entry.workspace = self.journal.names.workspace(&self.id);
        entry.at = super::time::Stamp(self.now());
        let now = self.wall_ms();
        entry.wall_ms.answered = now.saturating_add(entry.answer_delay);
        if !entry.received_set {
            entry.wall_ms.received = now;
        }
        tracing::debug!(
            workspace = %self.id,
            api = entry.api,
            method = %entry.method,
            path = %entry.path,
            status = entry.status,
            fault = entry.fault.as_deref().unwrap_or("-"),
            internal = entry.internal,
            "request"
        );
        self.journal.record(entry);
    }

    /// Wall milliseconds since the workspace began (journal timing only).
    pub fn wall_ms(&self) -> u64 {
        self.wall.now_ms().saturating_sub(self.began)
    }

    /// Uses `wall` from now on, starting the workspace's wall time at zero.
    pub fn set_wall(&mut self, wall: super::wall::Wall) {
        self.began = wall.now_ms();
        self.wall = wall;
    }

    pub fn key(&self, key: &str) -> Option<&ApiKey> {
        self.keys.iter().find(|k| k.key == key)
    }

    /// Changes a document, keeps the outbox index in step and drops the
    /// document's rendered views. The one way to change a stored document.
    pub fn update_document<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Document) -> R,
    ) -> Option<R> {
        let current = Arc::clone(self.documents.get(id)?);
        if current.outbox_eligible() {
            // Out of the outbox first: it shares the document, which would
            // otherwise be copied by the change below.
            Arc::make_mut(&mut self.outbox).remove(&OutboxEntry(current.updated_at, current));
        } else {
            drop(current);
        }
        let stored = Arc::make_mut(&mut self.documents).get_mut(id)?;
        let doc = Arc::make_mut(stored);
        let result = change(doc);
        doc.rendered.clear();
        if doc.outbox_eligible() {
            let entry = OutboxEntry(doc.updated_at, Arc::clone(stored));
            Arc::make_mut(&mut self.outbox).insert(entry);
        }
        Some(result)
    }

    /// Schemas with an active destination for `provider`.
    pub fn schemas_with_destination(&self, provider: &str) -> Vec<&str> {
        let active = |id: &str| {
            self.destinations
                .iter()
                .any(|d| d.id == id && d.provider == provider && d.status == ActiveStatus::Active)
        };
        let mut schemas: Vec<&str> = self
            .workflows
            .iter()
            .filter(|w| active(&w.destination_id))
            .map(|w| w.schema.as_str())
            .chain(
                self.mappings
                    .keys()
                    .filter(|(_, dst)| active(dst))
                    .map(|(schema, _)| schema.as_str()),
            )
            .collect();
        schemas.sort_unstable();
        schemas.dedup();
        schemas
    }

    /// Outbox-eligible documents after `after` (exclusive), in (updated_at, id) order.
    pub fn outbox_after<'a>(
        &'a self,
        after: Option<&'a (Millis, String)>,
    ) -> impl Iterator<Item = &'a Document> + 'a {
        use std::ops::Bound;
        let lower = match after {
            Some((at, id)) => Bound::Excluded(OutboxEntry::probe(*at, id)),
            None => Bound::Unbounded,
        };
        self.outbox
            .entries
            .range((lower, Bound::Unbounded))
            .map(|entry| &*entry.1)
    }

    /// The active workflow that delivers `schema` to `provider`.
    pub fn active_workflow(&self, schema: &str, provider: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| {
            w.status == ActiveStatus::Active
                && w.schema == schema
                && self.destinations.iter().any(|d| {
                    d.id == w.destination_id
                        && d.provider == provider
                        && d.status == ActiveStatus::Active
                })
        })
    }

    /// Counts a request against `key`'s window.
    pub fn rate_check(&mut self, key: &str, now: Millis) -> RateState {
        let window = self.settings.rate_window;
        let limit = self.settings.rate_limit;
        let index = now.div_euclid(window);
        // Counts one request in the key's current window.
        let count = |w: &mut RateWindow| {
            if w.index != index {
                *w = RateWindow { index, count: 0 };
            }
            let exceeded = w.count >= limit;
            if !exceeded {
                w.count += 1;
            }
            (exceeded, w.count)
        };
        let (exceeded, used) = match self.rate.get_mut(key) {
            Some(window) => count(window),
            None => {
                let mut window = RateWindow::default();
                let counted = count(&mut window);
                self.rate.insert(key.to_string(), window);
                counted
            }
        };
        let reset_ms = (index + 1) * window - now;
        RateState {
            limit,
            remaining: limit.saturating_sub(used),
            reset: ((reset_ms + 999) / 1000).max(1) as u64,
            exceeded,
        }
    }

    /// Records a delivery attempt; the document's status follows its latest attempt.
    /// Deliveries of the event it emits that are due already land in
    /// [`Workspace::ready`] (`webhooks::record_attempt` also makes them).
    pub fn add_attempt(
        &mut self,
        document_id: &str,
        data: DeliveryData,
        source: AttemptSource,
        run_id: Option<String>,
        at: Millis,
    ) -> Option<Attempt> {
        let id = self.ids.prefixed("dla_", at);
        // The document's own id, not a copy of it.
        let shared = match self.documents.get(document_id) {
            Some(doc) => doc.id.clone(),
            None => document_id.into(),
        };
        let attempt = Attempt {
            id,
            document_id: shared,
            data,
            source,
            run_id,
            recorded_at: at,
        };
        let before = self.documents.get(document_id)?.status;
        let status = self.update_document(document_id, |doc| {
            push_attempt(doc, attempt.clone());
            doc.updated_at = at;
            doc.status
        })?;
        if status != before {
            match status {
                Status::PushSucceeded => self.add_event("push.succeeded", document_id, at, None),
                Status::PushFailed => self.add_event("push.failed", document_id, at, None),
                _ => {}
            }
        }
        Some(attempt)
    }

    /// Emits a webhook event for a document and queues its deliveries: later
    /// ones on the scheduler, those due already in [`Workspace::ready`]
    /// (`webhooks::emit` also makes those attempts).
    pub fn add_event(&mut self, kind: &str, document_id: &str, at: Millis, run_id: Option<&str>) {
        let Some(doc) = self.documents.get(document_id) else {
            return;
        };
        let mut data = json!({
            "document_id": &*doc.id,
            "schema": doc.schema,
            "status": doc.status.as_str(),
        });
        if let Some(run) = run_id {
            data["run_id"] = json!(run);
        }
        let event = Event {
            id: self.ids.prefixed("evt_", at),
            kind: kind.to_string(),
            created_at: at,
            data,
        };
        let jobs = self.webhooks.enqueue(&event, &mut self.ids, at);
        self.events.push(event);
        let now = self.now();
        for (due, delivery_id) in jobs {
            if due <= now {
                // Due already: attempted now rather than at the next request.
                self.ready.push((due, Job::DeliverWebhook { delivery_id }));
            } else {
                self.scheduler
                    .schedule(due, Job::DeliverWebhook { delivery_id });
            }
        }
    }

    /// The next job due by now (earliest virtual instant first).
    pub fn pop_due(&mut self) -> Option<(Millis, Job)> {
        let now = self.now();
        self.scheduler.pop_due(now)
    }

    /// The jobs that were due already when they were made, in order.
    pub fn take_ready(&mut self) -> Vec<(Millis, Job)> {
        std::mem::take(&mut self.ready)
    }

    /// Records a new queued run (dispatch, retry-push, workflow dispatch, or
    /// the route era's n8n notification) and returns its id.
    pub fn new_run(
        &mut self,
        document_id: &str,
        workflow_id: Option<String>,
        provider: &str,
    ) -> String {
        let now = self.now();
        let id = self.ids.prefixed("run_", now);
        let run = Run {
            id: id.clone(),
            workflow_id,
            document_id: document_id.to_string(),
            provider: provider.to_string(),
            status: RunStatus::Queued,
            outcome: None,
            error_code: None,
            error_message: None,
            external_record_id: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            logs: Vec::new(),
        };
        self.runs.insert(id.clone(), run);
        id
    }

    /// Queues a run of the internal workflow, executed `run_delay` from now.
    pub fn queue_run(
        &mut self,
        document_id: &str,
        workflow_id: Option<String>,
        provider: &str,
    ) -> String {
        let id = self.new_run(document_id, workflow_id, provider);
        let due = self.now() + self.settings.run_delay;
        self.scheduler
            .schedule(due, Job::ExecuteRun { run_id: id.clone() });
        id
    }
}

/// Appends an attempt and moves the document's status to its latest attempt's
/// (by `attempted_at`; a later arrival wins a tie).
pub(super) fn push_attempt(doc: &mut Document, attempt: Attempt) {
    let index = doc.attempts.len();
    let is_latest = doc
        .latest_attempt
        .is_none_or(|i| attempt.data.attempted_at >= doc.attempts[i].data.attempted_at);
    doc.append_attempt(attempt);
    if is_latest {
        doc.latest_attempt = Some(index);
    }
    if let Some(latest) = doc.latest_attempt {
        doc.status = doc.attempts[latest].data.status.document_status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixture;

    fn default_workspace() -> Workspace {
        Workspace::from_fixture("w".into(), Fixture::default_world(), Some(1), None).unwrap()
    }

    #[test]
    fn the_active_workflow_must_match_schema_and_provider() {
        let ws = default_workspace();
        let w = ws
            .workflows
            .iter()
            .find(|w| w.status == ActiveStatus::Active)
            .expect("the default world has an active workflow");
        let provider = ws
            .destinations
            .iter()
            .find(|d| d.id == w.destination_id)
            .map(|d| d.provider.clone())
            .unwrap();
        assert_eq!(
            ws.active_workflow(&w.schema, &provider).map(|f| &f.id),
            Some(&w.id)
        );
        assert!(ws.active_workflow("no_such_schema", &provider).is_none());
        assert!(ws.active_workflow(&w.schema, "no_such_provider").is_none());
    }

    #[test]
    fn a_loaded_state_requeues_only_queued_runs_of_a_workflow() {
        let mut ws = default_workspace();
        let jobs = |ws: &Workspace| {
            ws.scheduler
                .pending()
                .filter_map(|(_, j)| match j {
                    Job::ExecuteRun { run_id } => Some(run_id.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let before = jobs(&ws);
        // Runs as a loaded state holds them: recorded, none scheduled.
        let queued = ws.new_run("doc", Some("wf_1".into()), "dynamics365");
        ws.new_run("doc", None, "dynamics365");
        let done = ws.new_run("doc", Some("wf_1".into()), "dynamics365");
        ws.runs.get_mut(&done).unwrap().status = RunStatus::Succeeded;
        ws.requeue_loaded_runs();
        let mut added: Vec<String> = jobs(&ws)
            .into_iter()
            .filter(|j| !before.contains(j))
            .collect();
        added.sort();
        added.dedup();
        assert_eq!(added, [queued]);
    }

    #[test]
    fn each_schema_has_its_own_external_id_keys() {
        let keys: Vec<ExternalKey> = super::super::model::SCHEMAS
            .iter()
            .map(|(schema, _)| external_key(schema, "ext-1"))
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(external_key("invoice_v2", "ext-1"), keys[0].clone());
    }

    #[test]
    fn a_schema_counts_only_with_an_active_destination_of_the_provider() {
        let mut ws = default_workspace();
        let active = ws
            .destinations
            .iter()
            .find(|d| d.status == ActiveStatus::Active)
            .cloned()
            .expect("the default world has an active destination");
        let before = ws.schemas_with_destination(&active.provider).len();
        // A paused destination of the same provider, and an active one of
        // another, each with a workflow for a schema no one else delivers.
        let mut paused = active.clone();
        paused.id = "dst_paused".into();
        paused.status = ActiveStatus::Inactive;
        let mut other = active.clone();
        other.id = "dst_other".into();
        other.provider = "other".into();
        ws.destinations.extend([paused, other]);
        let template = ws.workflows[0].clone();
        for (id, dst) in [("wf_p", "dst_paused"), ("wf_o", "dst_other")] {
            let mut w = template.clone();
            w.id = id.into();
            w.schema = format!("schema_of_{dst}");
            w.destination_id = dst.into();
            ws.workflows.push(w);
        }
        let schemas = ws.schemas_with_destination(&active.provider);
        assert_eq!(schemas.len(), before, "{schemas:?}");
        assert_eq!(
            ws.schemas_with_destination("other"),
            ["schema_of_dst_other"]
        );
    }

    #[test]
    fn a_journaled_call_is_stamped_with_the_wall_time_it_was_received() {
        let mut ws = default_workspace();
        let manual = super::super::wall::ManualWall::new();
        ws.set_wall(super::super::wall::Wall::new(manual.clone()));
        manual.advance(std::time::Duration::from_millis(250));
        let call =
            crate::call::Call::to_v1_x(axum::http::Method::GET, None, &[], bytes::Bytes::new());
        ws.log_call(super::super::journal::JournalEntry::of(
            "numora",
            &call,
            "GET /v1/x",
            200,
        ));
        let kept = ws.journal.all().last().unwrap();
        assert_eq!((kept.wall_ms.received, kept.wall_ms.answered), (250, 250));
        // A call whose arrival was noted earlier keeps that instant.
        let early = super::super::journal::JournalEntry::of("numora", &call, "GET /v1/x", 200)
            .received(100);
        ws.log_call(early);
        let kept = ws.journal.all().last().unwrap();
        assert_eq!((kept.wall_ms.received, kept.wall_ms.answered), (100, 250));
    }

    #[test]
    fn the_kept_outbox_page_answers_only_the_same_question_about_the_same_entries() {
        let mut index = OutboxIndex::default();
        let page = |schemas: &[&str]| OutboxPage {
            provider: "dynamics365".into(),
            schemas: schemas.iter().map(|s| s.to_string()).collect(),
            cursor: String::new(),
            limit: 100,
            body: bytes::Bytes::from_static(b"page"),
        };
        let ask = |index: &OutboxIndex, provider: &str, schemas: &[&str], cursor: &str, limit| {
            index.page(provider, schemas, cursor, limit).is_some()
        };
        assert!(!ask(&index, "dynamics365", &["invoice_v2"], "", 100));
        index.keep_page(page(&["invoice_v2"]));
        assert!(ask(&index, "dynamics365", &["invoice_v2"], "", 100));
        assert!(!ask(&index, "other", &["invoice_v2"], "", 100));
        assert!(!ask(
            &index,
            "dynamics365",
            &["invoice_v2", "receipt_v1"],
            "",
            100
        ));
        assert!(!ask(&index, "dynamics365", &["receipt_v1"], "", 100));
        assert!(!ask(&index, "dynamics365", &[], "", 100));
        assert!(!ask(&index, "dynamics365", &["invoice_v2"], "cur_x", 100));
        assert!(!ask(&index, "dynamics365", &["invoice_v2"], "", 99));
        // Any change to the entries forgets it; so does a copy.
        let entry = OutboxEntry(1, Arc::new(Document::bare("d1")));
        index.insert(entry.clone());
        assert!(!ask(&index, "dynamics365", &["invoice_v2"], "", 100));
        index.keep_page(page(&["invoice_v2"]));
        assert!(!ask(
            &index.clone(),
            "dynamics365",
            &["invoice_v2"],
            "",
            100
        ));
        index.remove(&entry);
        assert!(!ask(&index, "dynamics365", &["invoice_v2"], "", 100));
    }

    #[test]
    fn a_state_dump_names_only_the_journal_limits_that_were_changed() {
        let mut ws = default_workspace();
        let settings =
            |ws: &Workspace| serde_json::to_value(ws.to_fixture()).unwrap()["settings"].clone();
        let shown = settings(&ws);
        assert!(
            shown.get("journal_max_bytes").is_none_or(Value::is_null),
            "{shown}"
        );
        assert!(
            shown.get("journal_max_entries").is_none_or(Value::is_null),
            "{shown}"
        );
        ws.settings.journal_max_bytes = 1_000;
        ws.settings.journal_max_entries = 7;
        let shown = settings(&ws);
        assert_eq!(shown["journal_max_bytes"], 1_000);
        assert_eq!(shown["journal_max_entries"], 7);
    }
}
