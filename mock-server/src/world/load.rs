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
    external_key, push_attempt, ExternalKey, Job, OutboxEntry, Settings, Workspace, DEFAULT_START,
};
use crate::fixtures::{DocumentFixture, Fixture, FixtureError};
use crate::world::tables::Store;

/// A workspace's documents by id.
type Documents = BTreeMap<Arc<str>, Arc<Document>>;

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
        fixture: Fixture,
        seed: Option<u64>,
        clock: Option<(ClockMode, Option<Millis>)>,
    ) -> Result<Workspace, FixtureError> {
        Self::from_read(id, ReadFixture::from(fixture), seed, clock)
    }

    /// Builds a workspace from a fixture whose documents may be built already.
    pub(crate) fn from_read(
        id: String,
        read: ReadFixture,
        seed: Option<u64>,
        clock: Option<(ClockMode, Option<Millis>)>,
    ) -> Result<Workspace, FixtureError> {
        let ReadFixture { mut fixture, built } = read;
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
        ws.load(&mut fixture, built)?;
        Ok(ws)
    }

    fn load(&mut self, f: &mut Fixture, built: Vec<PreparedDocument>) -> Result<(), FixtureError> {
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
        let given = f.documents.len();
        for (i, d) in std::mem::take(&mut f.documents).into_iter().enumerate() {
            self.insert_document_at(d, i)?;
        }
        self.commit_documents(built, given)?;
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
        let prepared = prepare_document(d, at, Some(&self.documents))?;
        self.commit_document(prepared, at)
    }

    /// Adds a document [`prepare_document`] built: gives it the ids it was
    /// not given (in fixture order, from the workspace's generator), its
    /// default times, and its place in the indexes.
    pub(crate) fn commit_document(
        &mut self,
        p: PreparedDocument,
        at: &dyn Fn() -> String,
    ) -> Result<String, FixtureError> {
        let doc = self.finish_document(p, at, true)?;
        let id = doc.id.to_string();
        if doc.outbox_eligible() {
            Arc::make_mut(&mut self.outbox).insert(OutboxEntry(doc.updated_at, Arc::clone(&doc)));
        }
        Arc::make_mut(&mut self.documents).insert(doc.id.clone(), doc);
        Ok(id)
    }

    /// Commits the documents of a fixture that were built as it was read
    /// (`first`: the fixture index of the first). Into an empty workspace
    /// they go in bulk: the maps are built from sorted lists, which is
    /// several times quicker than one insertion per document.
    fn commit_documents(
        &mut self,
        built: Vec<PreparedDocument>,
        first: usize,
    ) -> Result<(), FixtureError> {
        let at = |i: usize| move || format!("documents[{}]", first + i);
        if !self.documents.is_empty() {
            for (i, p) in built.into_iter().enumerate() {
                self.commit_document(p, &at(i))?;
            }
            return Ok(());
        }
        Arc::make_mut(&mut self.by_external).reserve(built.len());
        let mut documents = Vec::with_capacity(built.len());
        let mut outbox = Vec::new();
        for (i, p) in built.into_iter().enumerate() {
            let doc = self.finish_document(p, &at(i), false)?;
            if doc.outbox_eligible() {
                outbox.push(OutboxEntry(doc.updated_at, Arc::clone(&doc)));
            }
            documents.push((doc.id.clone(), doc));
        }
        // Ids in increasing order (as generated worlds have them) are unique.
        if !documents.is_sorted_by(|a, b| a.0 < b.0) {
            let mut seen = std::collections::HashSet::with_capacity(documents.len());
            if let Some(i) = documents.iter().position(|(id, _)| !seen.insert(id)) {
                return Err(FixtureError::at(
                    format!("{}.id", at(i)()),
                    format!("document '{}' already exists", documents[i].0),
                ));
            }
        }
        self.documents = Arc::new(documents.into_iter().collect());
        Arc::make_mut(&mut self.outbox).extend(outbox);
        Ok(())
    }

    /// A built document given its ids and times and entered in every index
    /// but the document map and the outbox, which the caller fills. With
    /// `check`, an id already in the document map is refused.
    fn finish_document(
        &mut self,
        p: PreparedDocument,
        at: &dyn Fn() -> String,
        check: bool,
    ) -> Result<Arc<Document>, FixtureError> {
        let now = self.now();
        let PreparedDocument {
            doc: mut shared,
            external,
            given_id,
            created_at,
            updated_at,
            missing_attempt_ids,
        } = p;
        // Not shared yet, so this changes it in place.
        let doc = Arc::make_mut(&mut shared);
        if !given_id {
            let id = self.ids.prefixed("doc_", now);
            doc.id = id.as_str().into();
            for a in &mut doc.attempts {
                a.document_id = doc.id.clone();
            }
        }
        if check && self.documents.contains_key(&doc.id) {
            return Err(FixtureError::at(
                format!("{}.id", at()),
                format!("document '{}' already exists", doc.id),
            ));
        }
        doc.created_at = created_at.unwrap_or(now);
        doc.updated_at = updated_at.unwrap_or(doc.created_at);
        for j in missing_attempt_ids.iter() {
            doc.attempts[j].id = self.ids.prefixed("dla_", now);
        }
        if let Some(key) = external {
            Arc::make_mut(&mut self.by_external).insert(key, (*doc.id).into());
        }
        if doc.status == Status::Processing {
            self.scheduler.schedule(
                now + self.settings.processing_delay,
                Job::FinishProcessing {
                    document_id: doc.id.to_string(),
                },
            );
        }
        Ok(shared)
    }
}

/// A fixture as read for building a workspace: its documents either in
/// `fixture.documents` or already `built` (they follow those).
pub(crate) struct ReadFixture {
    pub fixture: Fixture,
    pub built: Vec<PreparedDocument>,
}

impl From<Fixture> for ReadFixture {
    fn from(fixture: Fixture) -> Self {
        ReadFixture {
            fixture,
            built: Vec::new(),
        }
    }
}

impl ReadFixture {
    /// Reads the text of the server's fixture (`origin` names it in errors).
    /// A large JSON fixture has its documents read and built on two threads
    /// (see [`crate::fixtures`]' quick reader); anything else is read by
    /// [`Fixture::from_yaml`].
    pub(crate) fn read(origin: &str, text: &str) -> Result<ReadFixture, FixtureError> {
        // Errors are left to the general reader, which names their place.
        let build = |d| prepare_document(d, &String::new, None).ok();
        if let Some((fixture, built)) = crate::fixtures::read_json_with(text, &build) {
            return Ok(ReadFixture { fixture, built });
        }
        Fixture::from_yaml(origin, text).map(ReadFixture::from)
    }
}

/// A fixture document checked and built, all but what only its workspace
/// can give it (see [`Workspace::commit_document`]). Building it needs no
/// workspace, so a large fixture's documents can be built side by side.
pub(crate) struct PreparedDocument {
    /// Its id is a placeholder unless `given_id`. Allocated where it was
    /// built (not yet shared).
    doc: Arc<Document>,
    /// Its key in the external-id index.
    external: Option<ExternalKey>,
    given_id: bool,
    /// As given; the workspace's clock fills in what is missing.
    created_at: Option<Millis>,
    updated_at: Option<Millis>,
    /// Attempts whose id the workspace generates.
    missing_attempt_ids: Indexes,
}

/// A set of small indexes: a bit each below 64, a list above.
#[derive(Default)]
struct Indexes {
    low: u64,
    high: Vec<usize>,
}

impl Indexes {
    fn insert(&mut self, i: usize) {
        match u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i)) {
            Some(bit) => self.low |= bit,
            None => self.high.push(i),
        }
    }

    /// In increasing order.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut low = self.low;
        std::iter::from_fn(move || {
            let i = low.trailing_zeros();
            low &= low.wrapping_sub(1);
            (i < 64).then_some(i as usize)
        })
        .chain(self.high.iter().copied())
    }
}

/// Checks and builds fixture document `d` (`at` names it in errors, built
/// only on error). With `existing`, a given id already taken is refused here,
/// so that errors come in the order the fields are read; without, the
/// commit refuses it.
pub(crate) fn prepare_document(
    d: DocumentFixture,
    at: &dyn Fn() -> String,
    existing: Option<&Documents>,
) -> Result<PreparedDocument, FixtureError> {
    let Some(schema) = catalog_schema(&d.schema) else {
        return Err(FixtureError::at(format!("{}.schema", at()), SCHEMA_ERROR));
    };
    let given_id = d.id.is_some();
    let id = match d.id {
        Some(id) if id.is_empty() || id.contains('/') => {
            return Err(FixtureError::at(
                format!("{}.id", at()),
                "an id must be non-empty and contain no '/'",
            ))
        }
        Some(id) => id,
        None => String::new(),
    };
    if given_id && existing.is_some_and(|docs| docs.contains_key(id.as_str())) {
        return Err(FixtureError::at(
            format!("{}.id", at()),
            format!("document '{id}' already exists"),
        ));
    }
    let created_at = match &d.created_at {
        None => None,
        Some(t) => Some(instant_at(t, || format!("{}.created_at", at()))?),
    };
    let updated_at = match &d.updated_at {
        None => created_at,
        Some(t) => Some(instant_at(t, || format!("{}.updated_at", at()))?),
    };
    let finalized = d.finalized.unwrap_or(matches!(
        d.status,
        Status::Reviewed | Status::PushPending | Status::PushSucceeded | Status::PushFailed
    ));
    // One allocation for the id, shared by the document, its attempts and
    // the map's key.
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
        // Set when committed.
        created_at: 0,
        updated_at: 0,
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
    let mut missing_attempt_ids = Indexes::default();
    for (j, a) in d.attempts.into_iter().enumerate() {
        let loc = || format!("{}.attempts[{j}]", at());
        let attempted_at = instant_at(&a.attempted_at, || format!("{}.attempted_at", loc()))?;
        let recorded_at = match &a.recorded_at {
            None => attempted_at,
            Some(t) => instant_at(t, || format!("{}.recorded_at", loc()))?,
        };
        let id = a.id.unwrap_or_else(|| {
            missing_attempt_ids.insert(j);
            String::new()
        });
        let attempt = Attempt {
            id,
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
    Ok(PreparedDocument {
        external: doc.external_id.as_deref().map(|e| external_key(schema, e)),
        doc: Arc::new(doc),
        given_id,
        created_at,
        updated_at,
        missing_attempt_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world of `count` documents: most with ids in order, some without
    /// (generated from the seed), attempts without ids, one processing.
    fn world(count: usize) -> String {
        let mut root: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&Fixture::default_world()).unwrap())
                .unwrap();
        let documents: Vec<serde_json::Value> = (0..count)
            .map(|n| {
                let mut d = serde_json::json!({
                    "status": if n == 7 { "processing" } else { "push_succeeded" },
                    "external_id": format!("ap-{n}"),
                    "fields": {"invoice_number": {"value": format!("INV-{n}"), "confidence": 0.97}},
                    "line_items": [{"description": "Paper", "amount": 490.0}],
                    "attempts": [{"status": "succeeded", "execution_id": format!("e-{n}"),
                                  "attempted_at": "2026-03-22T00:00:00.000Z"}]
                });
                if n % 1000 != 3 {
                    d["id"] = format!("doc_{n:07}").into();
                }
                d
            })
            .collect();
        root["documents"] = documents.into();
        serde_json::to_string(&root).unwrap()
    }

    fn built(read: ReadFixture) -> Result<Fixture, FixtureError> {
        Workspace::from_read("w".into(), read, Some(5), None).map(|ws| ws.to_fixture())
    }

    #[test]
    fn documents_built_as_they_are_read_make_the_same_workspace() {
        let text = world(20_000);
        assert!(
            text.len() > crate::fixtures::SHARED_READ,
            "long enough for two threads"
        );
        let quick = ReadFixture::read("w.json", &text).unwrap();
        assert_eq!(quick.built.len(), 20_000, "built on the way");
        let general = ReadFixture::from(Fixture::from_yaml("w.json", &text).unwrap());
        assert_eq!(built(quick).unwrap(), built(general).unwrap());
    }

    #[test]
    fn a_repeated_id_is_refused_by_either_path_at_the_same_place() {
        let text = world(20_000).replace("doc_0015000", "doc_0000002");
        let quick = ReadFixture::read("w.json", &text).unwrap();
        let general = ReadFixture::from(Fixture::from_yaml("w.json", &text).unwrap());
        let e = built(quick).unwrap_err();
        assert_eq!(e, built(general).unwrap_err());
        assert_eq!(e.location, "documents[15000].id");
    }

    #[test]
    fn a_document_that_does_not_build_leaves_the_text_to_the_general_reader() {
        let text = world(20_000).replacen("2026-03-22T00:00:00.000Z", "yesterday", 1);
        let e = ReadFixture::read("w.json", &text)
            .and_then(built)
            .unwrap_err();
        assert_eq!(e.location, "documents[0].attempts[0].attempted_at");
    }
}
