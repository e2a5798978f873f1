//! A workspace rendered as a fixture: the state dump.
//!
//! The dump is deterministic JSON (ordered maps, fixture order) and loads back
//! through the ordinary fixture loader, so a session can be resumed or shared
//! as a repro. Secrets are never written: connection client secrets are left
//! out, destination credentials and webhook secrets become a redaction marker.

use serde_json::{json, Value};

use super::model::*;
use super::time::{format_duration, format_millis};
use super::workspace::{Job, Workspace};
use crate::fixtures::*;

pub(crate) const REDACTED: &str = "<redacted>";

impl Workspace {
    /// The dump the control API serves: secrets redacted.
    pub fn to_fixture(&self) -> Fixture {
        self.render(false)
    }

    /// The state file (`--state-file`): a local persistence file the operator
    /// owns, so secrets are kept and a restart resumes exactly.
    pub fn to_fixture_with_secrets(&self) -> Fixture {
        self.render(true)
    }

    fn render(&self, secrets: bool) -> Fixture {
        let now = self.now();
        let s = &self.settings;
        Fixture {
            seed: Some(self.seed),
            clock: ClockFixture {
                start: Some(format_millis(now)),
                mode: Some(self.clock.mode()),
                tick: Some(format_duration(self.clock.tick())),
            },
            settings: SettingsFixture {
                route: s.route,
                n8n_webhook: s.n8n_webhook.clone().map(|h| N8nWebhookFixture {
                    url: h.url,
                    secret: if secrets { h.secret } else { REDACTED.into() },
                }),
                rate_limit: Some(s.rate_limit),
                rate_window: Some(format_duration(s.rate_window)),
                session_ttl: Some(format_duration(s.session_ttl)),
                processing_delay: Some(format_duration(s.processing_delay)),
                run_delay: Some(format_duration(s.run_delay)),
                webhook_max_attempts: Some(s.webhook_max_attempts),
                webhook_timeout: Some(format_duration(s.webhook_timeout)),
                outbox_max_page: s.outbox_max_page,
                journal_max_entries: (s.journal_max_entries
                    != crate::world::journal::JOURNAL_LIMIT)
                    .then_some(s.journal_max_entries),
                journal_max_bytes: (s.journal_max_bytes != crate::world::journal::JOURNAL_BYTES)
                    .then_some(s.journal_max_bytes),
            },
            api_keys: self
                .keys
                .iter()
                .map(|k| ApiKeyFixture {
                    key: k.key.clone(),
                    name: k.name.clone(),
                    scopes: k.scopes.clone(),
                    revoked: k.revoked,
                })
                .collect(),
            connections: self
                .connections
                .iter()
                .map(|c| ConnectionFixture {
                    id: c.id.clone(),
                    provider: c.provider.clone(),
                    status: c.status,
                    org: c.org.clone(),
                    tenant_id: c.tenant_id.clone(),
                    client_id: c.client_id.clone(),
                    client_secret: if secrets { c.client_secret.clone() } else { None },
                    owner_team: c.owner_team.clone(),
                })
                .collect(),
            destinations: self
                .destinations
                .iter()
                .map(|d| DestinationFixture {
                    id: d.id.clone(),
                    provider: d.provider.clone(),
                    display_name: d.display_name.clone(),
                    status: d.status,
                    connection: d.connection_id.clone(),
                    credentials: d
                        .credentials
                        .as_ref()
                        .map(|c| if secrets { c.clone() } else { json!({ "redacted": true }) }),
                    created_at: Some(format_millis(d.created_at)),
                    updated_at: Some(format_millis(d.updated_at)),
                })
                .collect(),
            workflows: self
                .workflows
                .iter()
                .map(|w| WorkflowFixture {
                    id: w.id.clone(),
                    name: w.name.clone(),
                    status: w.status,
                    version: w.version,
                    schema: w.schema.clone(),
                    destination: w.destination_id.clone(),
                    updated_at: Some(format_millis(w.updated_at)),
                })
                .collect(),
            mappings: self
                .mappings
                .iter()
                .map(|((schema, destination), body)| MappingFixture {
                    schema: schema.clone(),
                    destination: destination.clone(),
                    body: body.clone(),
                })
                .collect(),
            documents: self.documents.values().map(|d| document_fixture(d)).collect(),
            runs: self.runs.values().map(run_fixture).collect(),
            webhooks: self
                .webhooks
                .endpoints
                .iter()
                .map(|e| {
                    let secret = if secrets { e.spec.secret.as_str() } else { REDACTED };
                    json!({"id": e.id, "url": e.spec.url, "secret": secret, "events": e.spec.events})
                })
                .collect(),
            faults: self
                .faults
                .list()
                .iter()
                .map(|f| {
                    let mut spec = f.spec.clone();
                    spec.id = Some(f.id.clone());
                    serde_json::to_value(spec).unwrap_or(Value::Null)
                })
                .collect(),
            dataverse: self.dataverse.to_fixture(),
        }
    }

    /// Re-queues work a dump cannot carry as jobs: queued runs execute
    /// `run_delay` after the load, like a fresh dispatch.
    pub fn requeue_loaded_runs(&mut self) {
        let due = self.now() + self.settings.run_delay;
        let queued: Vec<String> = self
            .runs
            .values()
            .filter(|r| r.status == RunStatus::Queued && r.workflow_id.is_some())
            .map(|r| r.id.clone())
            .collect();
        for run_id in queued {
            self.scheduler.schedule(due, Job::ExecuteRun { run_id });
        }
    }
}

fn document_fixture(d: &Document) -> DocumentFixture {
    DocumentFixture {
        id: Some(d.id.to_string()),
        schema: d.schema.to_string(),
        status: d.status,
        finalized: Some(d.finalized),
        external_id: d.external_id.clone(),
        metadata: d.metadata.clone(),
        review_state: d.review_state.clone(),
        duplicate_of: d.duplicate_of.clone(),
        created_at: Some(format_millis(d.created_at)),
        updated_at: Some(format_millis(d.updated_at)),
        confidence: Some(d.confidence),
        fields: d.fields.clone(),
        line_items: d.line_items.clone(),
        file_url: d.file_url.clone(),
        processing: d.processing,
        failure_reason: d.failure_reason.clone(),
        attempts: d
            .attempts
            .iter()
            .map(|a| AttemptFixture {
                id: Some(a.id.clone()),
                provider: a.data.provider.to_string(),
                status: a.data.status,
                execution_id: a.data.execution_id.clone(),
                attempted_at: format_millis(a.data.attempted_at),
                recorded_at: Some(format_millis(a.recorded_at)),
                external_record_id: a.data.external_record_id.clone(),
                external_url: a.data.external_url.clone(),
                error_code: a.data.error_code.clone(),
                error_message: a.data.error_message.clone(),
                source: a.source,
                run_id: a.run_id.clone(),
            })
            .collect(),
    }
}

fn run_fixture(r: &Run) -> RunFixture {
    RunFixture {
        id: r.id.clone(),
        workflow_id: r.workflow_id.clone(),
        document_id: r.document_id.clone(),
        provider: r.provider.clone(),
        status: r.status,
        outcome: r.outcome,
        error_code: r.error_code.clone(),
        error_message: r.error_message.clone(),
        external_record_id: r.external_record_id.clone(),
        created_at: format_millis(r.created_at),
        started_at: r.started_at.map(format_millis),
        finished_at: r.finished_at.map(format_millis),
        logs: r.logs.clone(),
    }
}
