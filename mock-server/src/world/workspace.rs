//! One tenant: everything a workspace owns, behind one lock.
//!
//! All state changes to documents go through [`Workspace::update_document`],
//! which keeps the outbox index in step; every delivery attempt goes through
//! [`Workspace::record_attempt`], which keeps the status-follows-latest-attempt
//! rule.
//!
//! Due work is data: the scheduler holds [`Job`]s for later instants, and
//! [`Workspace::ready`] holds the ones that were due already when they were
//! made. The world never runs a job itself; the layer above pops them
//! ([`Workspace::pop_due`], [`Workspace::take_ready`]) and runs them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::clock::{Clock, ClockMode};
use super::faults::Faults;
use super::hooks::{Event, Webhooks};
use super::ids::IdGen;
use super::journal::Journal;
use super::model::*;
use super::scheduler::Scheduler;
use super::time::{parse_duration, parse_rfc3339, Millis};
use crate::fixtures::{DeliveryRoute, DocumentFixture, Fixture, FixtureError, N8nWebhookFixture};
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

#[derive(Debug)]
pub struct Workspace {
    pub id: String,
    /// What `reset` goes back to.
    pub fixture: Arc<Fixture>,
    pub seed: u64,
    pub clock: Clock,
    pub ids: IdGen,
    pub settings: Settings,
    pub keys: Vec<ApiKey>,
    pub documents: BTreeMap<String, Document>,
    pub by_external: HashMap<(String, String), String>,
    /// Finalized documents in `reviewed` or `push_failed`, by (updated_at, id).
    outbox: BTreeSet<(Millis, String)>,
    pub connections: Vec<Connection>,
    pub destinations: Vec<Destination>,
    pub workflows: Vec<Workflow>,
    pub mappings: BTreeMap<(String, String), Map<String, Value>>,
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

fn duration(setting: &Option<String>, name: &str, default: Millis) -> Result<Millis, FixtureError> {
    match setting {
        None => Ok(default),
        Some(text) => parse_duration(text).ok_or_else(|| {
            FixtureError::at(
                format!("settings.{name}"),
                format!("'{text}' is not a duration (e.g. 500ms, 5s, 15m)"),
            )
        }),
    }
}

fn instant(text: &Option<String>, location: &str, default: Millis) -> Result<Millis, FixtureError> {
    match text {
        None => Ok(default),
        Some(t) => parse_rfc3339(t).ok_or_else(|| {
            FixtureError::at(
                location,
                format!("'{t}' is not an RFC 3339 timestamp (e.g. 2026-03-24T02:36:37.684Z)"),
            )
        }),
    }
}

impl Workspace {
    /// Builds a workspace from a fixture. `seed` and `clock` override the fixture's.
    pub fn from_fixture(
        id: String,
        fixture: Arc<Fixture>,
        seed: Option<u64>,
        clock: Option<(ClockMode, Option<Millis>)>,
    ) -> Result<Workspace, FixtureError> {
        let f = &*fixture;
        let seed = seed.or(f.seed).unwrap_or(1);
        let start = instant(
            &f.clock.start,
            "clock.start",
            parse_rfc3339(DEFAULT_START).unwrap_or(0),
        )?;
        let tick = match clock.and_then(|c| c.1) {
            Some(t) => t,
            None => duration(&f.clock.tick, "tick", 1000)?,
        };
        let mode = clock.map(|c| c.0).or(f.clock.mode).unwrap_or_default();
        let s = &f.settings;
        let settings = Settings {
            route: s.route,
            n8n_webhook: s.n8n_webhook.clone(),
            rate_limit: s.rate_limit.unwrap_or(600),
            rate_window: duration(&s.rate_window, "rate_window", 60_000)?.max(1),
            session_ttl: duration(&s.session_ttl, "session_ttl", 15 * 60_000)?,
            processing_delay: duration(&s.processing_delay, "processing_delay", 5_000)?,
            run_delay: duration(&s.run_delay, "run_delay", 2_000)?,
            webhook_max_attempts: s.webhook_max_attempts.unwrap_or(6).max(1),
            webhook_timeout: duration(&s.webhook_timeout, "webhook_timeout", 10_000)?,
            outbox_max_page: match s.outbox_max_page {
                Some(0) => {
                    return Err(FixtureError::at(
                        "settings.outbox_max_page",
                        "must be at least 1",
                    ))
                }
                other => other,
            },
            journal_max_entries: s
                .journal_max_entries
                .unwrap_or(super::journal::JOURNAL_LIMIT)
                .max(1),
            journal_max_bytes: s
                .journal_max_bytes
                .unwrap_or(super::journal::JOURNAL_BYTES)
                .max(1),
        };
        let journal =
            Journal::with_limits(settings.journal_max_entries, settings.journal_max_bytes);
        let wall = super::wall::Wall::default();
        let began = wall.now_ms();
        let mut ids = IdGen::new(seed);
        let dataverse = Store::from_fixture_at(&f.dataverse, &mut ids, start)
            .map_err(|m| FixtureError::at("dataverse", m))?;
        let mut ws = Workspace {
            id,
            fixture: fixture.clone(),
            seed,
            clock: Clock::new(start, mode, tick),
            ids,
            settings,
            keys: Vec::new(),
            documents: BTreeMap::new(),
            by_external: HashMap::new(),
            outbox: BTreeSet::new(),
            connections: Vec::new(),
            destinations: Vec::new(),
            workflows: Vec::new(),
            mappings: BTreeMap::new(),
            runs: BTreeMap::new(),
            sessions: BTreeMap::new(),
            scheduler: Scheduler::default(),
            rate: BTreeMap::new(),
            events: Vec::new(),
            journal,
            faults: Faults::default(),
            dataverse,
            webhooks: Webhooks::default(),
            ready: Vec::new(),
            wall,
            began,
        };
        ws.load(f)?;
        Ok(ws)
    }

    fn load(&mut self, f: &Fixture) -> Result<(), FixtureError> {
        let now = self.now();
        for (i, k) in f.api_keys.iter().enumerate() {
            for scope in &k.scopes {
                if scope != "*" && !SCOPES.contains(&scope.as_str()) {
                    return Err(FixtureError::at(
                        format!("api_keys[{i}].scopes"),
                        format!(
                            "unknown scope '{scope}' (expected * or one of {})",
                            SCOPES.join(", ")
                        ),
                    ));
                }
            }
            self.keys.push(ApiKey {
                key: k.key.clone(),
                name: k.name.clone(),
                scopes: k.scopes.clone(),
                revoked: k.revoked,
            });
        }
        for (i, c) in f.connections.iter().enumerate() {
            if !self.dataverse.has_org(&c.org) {
                return Err(FixtureError::at(
                    format!("connections[{i}].org"),
                    format!("no Dataverse org named '{}' in dataverse.orgs", c.org),
                ));
            }
            self.connections.push(Connection {
                id: c.id.clone(),
                provider: c.provider.clone(),
                status: c.status,
                org: c.org.clone(),
                tenant_id: c.tenant_id.clone(),
                client_id: c.client_id.clone(),
                client_secret: c.client_secret.clone(),
                owner_team: c.owner_team.clone(),
            });
        }
        for (i, d) in f.destinations.iter().enumerate() {
            let at = format!("destinations[{i}]");
            if let Some(conn) = &d.connection {
                if !self.connections.iter().any(|c| &c.id == conn) {
                    return Err(FixtureError::at(
                        format!("{at}.connection"),
                        format!("no connection '{conn}'"),
                    ));
                }
            }
            let created_at = instant(&d.created_at, &format!("{at}.created_at"), now)?;
            self.destinations.push(Destination {
                id: d.id.clone(),
                provider: d.provider.clone(),
                display_name: d.display_name.clone(),
                status: d.status,
                connection_id: d.connection.clone(),
                credentials: d.credentials.clone(),
                created_at,
                updated_at: instant(&d.updated_at, &format!("{at}.updated_at"), created_at)?,
            });
        }
        for (i, w) in f.workflows.iter().enumerate() {
            let at = format!("workflows[{i}]");
            if !is_known_schema(&w.schema) {
                return Err(FixtureError::at(format!("{at}.schema"), SCHEMA_ERROR));
            }
            if !self.destinations.iter().any(|d| d.id == w.destination) {
                return Err(FixtureError::at(
                    format!("{at}.destination"),
                    format!("no destination '{}'", w.destination),
                ));
            }
            self.workflows.push(Workflow {
                id: w.id.clone(),
                name: w.name.clone(),
                status: w.status,
                version: w.version,
                schema: w.schema.clone(),
                destination_id: w.destination.clone(),
                updated_at: instant(&w.updated_at, &format!("{at}.updated_at"), now)?,
            });
        }
        for m in &f.mappings {
            self.mappings
                .insert((m.schema.clone(), m.destination.clone()), m.body.clone());
        }
        for (i, d) in f.documents.iter().enumerate() {
            self.insert_fixture_document(d, &format!("documents[{i}]"))?;
        }
        for (i, r) in f.runs.iter().enumerate() {
            let at = format!("runs[{i}]");
            let created_at = instant(
                &Some(r.created_at.clone()),
                &format!("{at}.created_at"),
                now,
            )?;
            let optional =
                |t: &Option<String>, name: &str| -> Result<Option<Millis>, FixtureError> {
                    t.as_ref()
                        .map(|t| instant(&Some(t.clone()), &format!("{at}.{name}"), now))
                        .transpose()
                };
            let run = Run {
                id: r.id.clone(),
                workflow_id: r.workflow_id.clone(),
                document_id: r.document_id.clone(),
                provider: r.provider.clone(),
                status: r.status,
                outcome: r.outcome,
                error_code: r.error_code.clone(),
                error_message: r.error_message.clone(),
                external_record_id: r.external_record_id.clone(),
                created_at,
                started_at: optional(&r.started_at, "started_at")?,
                finished_at: optional(&r.finished_at, "finished_at")?,
                logs: r.logs.clone(),
            };
            self.runs.insert(run.id.clone(), run);
        }
        self.requeue_loaded_runs();
        for (i, spec) in f.faults.iter().enumerate() {
            let spec: super::faults::FaultSpec = serde_json::from_value(spec.clone())
                .map_err(|e| FixtureError::at(format!("faults[{i}]"), e.to_string()))?;
            spec.validate()
                .map_err(|m| FixtureError::at(format!("faults[{i}]"), m))?;
            let id = spec
                .id
                .clone()
                .unwrap_or_else(|| self.ids.prefixed("flt_", now));
            self.faults.add(id, spec);
        }
        for (i, w) in f.webhooks.iter().enumerate() {
            self.webhooks
                .add_endpoint_json(w.clone(), &mut self.ids, now)
                .map_err(|m| FixtureError::at(format!("webhooks[{i}]"), m))?;
        }
        Ok(())
    }

    /// Adds a document given in fixture form (fixtures and the control API).
    pub fn insert_fixture_document(
        &mut self,
        d: &DocumentFixture,
        at: &str,
    ) -> Result<String, FixtureError> {
        let now = self.now();
        if !is_known_schema(&d.schema) {
            return Err(FixtureError::at(format!("{at}.schema"), SCHEMA_ERROR));
        }
        let id = match &d.id {
            Some(id) if id.is_empty() || id.contains('/') => {
                return Err(FixtureError::at(
                    format!("{at}.id"),
                    "an id must be non-empty and contain no '/'",
                ))
            }
            Some(id) => id.clone(),
            None => self.ids.prefixed("doc_", now),
        };
        if self.documents.contains_key(&id) {
            return Err(FixtureError::at(
                format!("{at}.id"),
                format!("document '{id}' already exists"),
            ));
        }
        let created_at = instant(&d.created_at, &format!("{at}.created_at"), now)?;
        let updated_at = instant(&d.updated_at, &format!("{at}.updated_at"), created_at)?;
        let finalized = d.finalized.unwrap_or(matches!(
            d.status,
            Status::Reviewed | Status::PushPending | Status::PushSucceeded | Status::PushFailed
        ));
        let mut fields = Map::new();
        for (name, value) in &d.fields {
            let field = match value {
                Value::Object(o) if o.contains_key("value") => value.clone(),
                other => json!({"value": other, "confidence": 0.95}),
            };
            fields.insert(name.clone(), field);
        }
        let line_items = d
            .line_items
            .iter()
            .enumerate()
            .map(|(n, item)| {
                let mut item = item.clone();
                if !item.contains_key("id") {
                    let mut with_id = Map::new();
                    with_id.insert("id".into(), json!(format!("li_{}", n + 1)));
                    with_id.extend(item);
                    item = with_id;
                }
                item
            })
            .collect();
        let mut doc = Document {
            id: id.clone(),
            schema: d.schema.clone(),
            status: d.status,
            finalized,
            external_id: d.external_id.clone(),
            metadata: d.metadata.clone(),
            review_state: d.review_state.clone().and_then(ReviewState::normalized),
            duplicate_of: d.duplicate_of.clone(),
            created_at,
            updated_at,
            confidence: d.confidence.unwrap_or(0.93),
            fields,
            line_items,
            file_url: d.file_url.clone(),
            processing: d.processing,
            failure_reason: d.failure_reason.clone(),
            attempts: Vec::new(),
            latest_attempt: None,
            by_execution: HashMap::new(),
        };
        for (j, a) in d.attempts.iter().enumerate() {
            let loc = format!("{at}.attempts[{j}]");
            let attempted_at = instant(
                &Some(a.attempted_at.clone()),
                &format!("{loc}.attempted_at"),
                now,
            )?;
            let attempt = Attempt {
                id: a
                    .id
                    .clone()
                    .unwrap_or_else(|| self.ids.prefixed("dla_", now)),
                document_id: id.clone(),
                data: DeliveryData {
                    provider: a.provider.clone(),
                    status: a.status,
                    execution_id: a.execution_id.clone(),
                    attempted_at,
                    external_record_id: a.external_record_id.clone(),
                    external_url: a.external_url.clone(),
                    error_code: a.error_code.clone(),
                    error_message: a.error_message.clone(),
                },
                source: a.source,
                run_id: a.run_id.clone(),
                recorded_at: instant(&a.recorded_at, &format!("{loc}.recorded_at"), attempted_at)?,
            };
            if doc.by_execution.contains_key(&attempt.data.execution_id) {
                return Err(FixtureError::at(
                    format!("{loc}.execution_id"),
                    "execution_id repeats an earlier attempt",
                ));
            }
            push_attempt(&mut doc, attempt);
        }
        // A fixture (or a state dump) states the status; attempts do not override it.
        doc.status = d.status;
        if let Some(ext) = &doc.external_id {
            self.by_external
                .insert((doc.schema.clone(), ext.clone()), id.clone());
        }
        if doc.status == Status::Processing {
            self.scheduler.schedule(
                now + self.settings.processing_delay,
                Job::FinishProcessing {
                    document_id: id.clone(),
                },
            );
        }
        if doc.outbox_eligible() {
            self.outbox.insert((doc.updated_at, id.clone()));
        }
        self.documents.insert(id.clone(), doc);
        Ok(id)
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Journals a served call, stamped with this workspace and its clock.
    pub fn log_call(&mut self, mut entry: super::journal::JournalEntry) {
        entry.workspace = self.id.clone();
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

    /// Changes a document and keeps the outbox index in step.
    pub fn update_document<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Document) -> R,
    ) -> Option<R> {
        let doc = self.documents.get_mut(id)?;
        let before = (doc.outbox_eligible(), doc.updated_at);
        let result = change(doc);
        let after = (doc.outbox_eligible(), doc.updated_at);
        if before != after {
            if before.0 {
                self.outbox.remove(&(before.1, id.to_string()));
            }
            if after.0 {
                self.outbox.insert((after.1, id.to_string()));
            }
        }
        Some(result)
    }

    /// Schemas with an active destination for `provider`.
    pub fn schemas_with_destination(&self, provider: &str) -> BTreeSet<String> {
        let active: BTreeSet<&str> = self
            .destinations
            .iter()
            .filter(|d| d.provider == provider && d.status == ActiveStatus::Active)
            .map(|d| d.id.as_str())
            .collect();
        let mut schemas: BTreeSet<String> = self
            .workflows
            .iter()
            .filter(|w| active.contains(w.destination_id.as_str()))
            .map(|w| w.schema.clone())
            .collect();
        schemas.extend(
            self.mappings
                .keys()
                .filter(|(_, dst)| active.contains(dst.as_str()))
                .map(|(schema, _)| schema.clone()),
        );
        schemas
    }

    /// Outbox-eligible documents after `after` (exclusive), in (updated_at, id) order.
    pub fn outbox_after<'a>(
        &'a self,
        after: Option<&'a (Millis, String)>,
    ) -> impl Iterator<Item = &'a Document> + 'a {
        use std::ops::Bound;
        let lower = match after {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Unbounded,
        };
        self.outbox
            .range((lower, Bound::Unbounded))
            .filter_map(|(_, id)| self.documents.get(id))
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
        let attempt = Attempt {
            id,
            document_id: document_id.to_string(),
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
            "document_id": doc.id,
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

    /// Queues a run for a document (dispatch, retry-push, workflow dispatch).
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
fn push_attempt(doc: &mut Document, attempt: Attempt) {
    let index = doc.attempts.len();
    let is_latest = doc
        .latest_attempt
        .is_none_or(|i| attempt.data.attempted_at >= doc.attempts[i].data.attempted_at);
    doc.by_execution
        .insert(attempt.data.execution_id.clone(), index);
    doc.attempts.push(attempt);
    if is_latest {
        doc.latest_attempt = Some(index);
    }
    if let Some(latest) = doc.latest_attempt {
        doc.status = doc.attempts[latest].data.status.document_status();
    }
}
