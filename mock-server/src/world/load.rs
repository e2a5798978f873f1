//! Building a workspace from a fixture: settings, keys, connections,
//! destinations, workflows, mappings, documents, runs, faults and webhooks,
//! each checked with the fixture location of what is wrong.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::clock::{Clock, ClockMode};
use super::faults::Faults;
use super::hooks::Webhooks;
use super::ids::IdGen;
use super::journal::Journal;
use super::model::*;
use super::scheduler::Scheduler;
use super::time::{parse_duration, parse_rfc3339, Millis};
use super::workspace::{
    external_key, push_attempt, Job, OutboxEntry, Settings, Workspace, DEFAULT_START,
};
use crate::fixtures::{DocumentFixture, Fixture, FixtureError};
use crate::world::tables::Store;

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

/// Reads an instant, naming `location` (built only on error) if it is not one.
fn instant_at(text: &str, location: impl FnOnce() -> String) -> Result<Millis, FixtureError> {
    parse_rfc3339(text).ok_or_else(|| {
        FixtureError::at(
            location(),
            format!("'{text}' is not an RFC 3339 timestamp (e.g. 2026-03-24T02:36:37.684Z)"),
        )
    })
}

impl Workspace {
    /// Builds a workspace from a fixture. `seed` and `clock` override the fixture's.
    pub fn from_fixture(
        id: String,
        mut fixture: Fixture,
        seed: Option<u64>,
        clock: Option<(ClockMode, Option<Millis>)>,
    ) -> Result<Workspace, FixtureError> {
        let f = &fixture;
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
            pristine: None,
            seed,
            clock: Clock::new(start, mode, tick),
            ids,
            settings,
            keys: Vec::new(),
            documents: Arc::default(),
            by_external: Arc::default(),
            outbox: Arc::default(),
            connections: Vec::new(),
            destinations: Vec::new(),
            workflows: Vec::new(),
            mappings: Arc::default(),
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
        ws.load(&mut fixture)?;
        Ok(ws)
    }

    fn load(&mut self, f: &mut Fixture) -> Result<(), FixtureError> {
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
            Arc::make_mut(&mut self.mappings)
                .insert((m.schema.clone(), m.destination.clone()), m.body.clone());
        }
        for (i, d) in std::mem::take(&mut f.documents).into_iter().enumerate() {
            self.insert_document_at(d, i)?;
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

    /// Adds the fixture's document `i` (its location built only on error).
    fn insert_document_at(&mut self, d: DocumentFixture, i: usize) -> Result<String, FixtureError> {
        self.insert_document(d, &|| format!("documents[{i}]"))
    }

    /// Adds a document given in fixture form (the control API).
    pub fn insert_fixture_document(
        &mut self,
        d: DocumentFixture,
        at: &str,
    ) -> Result<String, FixtureError> {
        self.insert_document(d, &|| at.to_string())
    }

    fn insert_document(
        &mut self,
        d: DocumentFixture,
        at: &dyn Fn() -> String,
    ) -> Result<String, FixtureError> {
        let now = self.now();
        let Some(schema) = catalog_schema(&d.schema) else {
            return Err(FixtureError::at(format!("{}.schema", at()), SCHEMA_ERROR));
        };
        let id = match d.id {
            Some(id) if id.is_empty() || id.contains('/') => {
                return Err(FixtureError::at(
                    format!("{}.id", at()),
                    "an id must be non-empty and contain no '/'",
                ))
            }
            Some(id) => id,
            None => self.ids.prefixed("doc_", now),
        };
        if self.documents.contains_key(id.as_str()) {
            return Err(FixtureError::at(
                format!("{}.id", at()),
                format!("document '{id}' already exists"),
            ));
        }
        let created_at = match &d.created_at {
            None => now,
            Some(t) => instant_at(t, || format!("{}.created_at", at()))?,
        };
        let updated_at = match &d.updated_at {
            None => created_at,
            Some(t) => instant_at(t, || format!("{}.updated_at", at()))?,
        };
        let finalized = d.finalized.unwrap_or(matches!(
            d.status,
            Status::Reviewed | Status::PushPending | Status::PushSucceeded | Status::PushFailed
        ));
        // One allocation for the id, shared by the document and the map's key.
        let shared: Arc<str> = id.as_str().into();
        // Fields and line items arrive normalised (shorthand filled, ids given).
        let mut doc = Document {
            id: shared.clone(),
            schema,
            status: d.status,
            finalized,
            external_id: d.external_id,
            metadata: d.metadata,
            review_state: d.review_state.and_then(ReviewState::normalized),
            duplicate_of: d.duplicate_of,
            created_at,
            updated_at,
            confidence: d.confidence.unwrap_or(0.93),
            fields: d.fields,
            line_items: d.line_items,
            file_url: d.file_url,
            processing: d.processing,
            failure_reason: d.failure_reason,
            attempts: Vec::with_capacity(d.attempts.len()),
            latest_attempt: None,
            by_execution: None,
            rendered: Default::default(),
        };
        for (j, a) in d.attempts.into_iter().enumerate() {
            let loc = || format!("{}.attempts[{j}]", at());
            let attempted_at = instant_at(&a.attempted_at, || format!("{}.attempted_at", loc()))?;
            let recorded_at = match &a.recorded_at {
                None => attempted_at,
                Some(t) => instant_at(t, || format!("{}.recorded_at", loc()))?,
            };
            let attempt = Attempt {
                id: a.id.unwrap_or_else(|| self.ids.prefixed("dla_", now)),
                document_id: shared.clone(),
                data: DeliveryData {
                    provider: provider_name(a.provider),
                    status: a.status,
                    execution_id: a.execution_id,
                    attempted_at,
                    external_record_id: a.external_record_id,
                    external_url: a.external_url,
                    error_code: a.error_code,
                    error_message: a.error_message,
                },
                source: a.source,
                run_id: a.run_id,
                recorded_at,
            };
            if doc
                .attempt_by_execution(&attempt.data.execution_id)
                .is_some()
            {
                return Err(FixtureError::at(
                    format!("{}.execution_id", loc()),
                    "execution_id repeats an earlier attempt",
                ));
            }
            push_attempt(&mut doc, attempt);
        }
        // A fixture (or a state dump) states the status; attempts do not override it.
        doc.status = d.status;
        if let Some(ext) = &doc.external_id {
            Arc::make_mut(&mut self.by_external)
                .insert(external_key(doc.schema, ext), id.as_str().into());
        }
        if doc.status == Status::Processing {
            self.scheduler.schedule(
                now + self.settings.processing_delay,
                Job::FinishProcessing {
                    document_id: id.clone(),
                },
            );
        }
        let doc = Arc::new(doc);
        if doc.outbox_eligible() {
            Arc::make_mut(&mut self.outbox).insert(OutboxEntry(doc.updated_at, Arc::clone(&doc)));
        }
        Arc::make_mut(&mut self.documents).insert(shared, doc);
        Ok(id)
    }
}
