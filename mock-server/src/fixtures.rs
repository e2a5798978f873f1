//! The YAML fixture format: a whole workspace's starting state.
//!
//! A fixture can describe documents in any status (with results, line items
//! and delivery attempts), connections, destinations, workflows, mappings, API
//! keys, webhook endpoints, fault rules, the Dataverse org(s), the clock's
//! start and the seed. The embedded default world is itself a fixture
//! (`scenarios/fixtures/default.yaml`), and a state dump is one too, so a
//! dumped session loads back as it was.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::world::clock::ClockMode;
use crate::world::model::{ActiveStatus, AttemptSource, ProcessingOutcome, ReviewState, Status};
/// Compact JSON a document fixture holds its fields, line items and metadata in.
pub use crate::world::model::{JsonItems, JsonMap};
use crate::world::tables::DataverseFixture;

mod json;

#[cfg(test)]
pub(crate) use json::SHARED_READ;

/// The default world, embedded at build time.
pub const DEFAULT_WORLD: &str = include_str!("../../scenarios/fixtures/default.yaml");
/// The same world as JSON, written by the build script (the JSON parser reads
/// it at start-up, so an idle server never pages in the YAML parser).
const DEFAULT_WORLD_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/default-world.json"));

/// A fixture that failed to load: where, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct FixtureError {
    /// `file:line:col`, or a path inside the fixture such as `documents[2].status`.
    pub location: String,
    pub message: String,
}

impl FixtureError {
    pub fn at(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Seeds every id the workspace generates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub clock: ClockFixture,
    #[serde(default)]
    pub settings: SettingsFixture,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<ApiKeyFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<WorkflowFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<MappingFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Value>,
    #[serde(default)]
    pub dataverse: DataverseFixture,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockFixture {
    /// RFC 3339 start instant (default `2026-03-24T00:00:00.000Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ClockMode>,
    /// How far `step` mode moves per request (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<String>,
}

/// The delivery route of the route era (DESIGN §4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryRoute {
    #[default]
    Workflow,
    N8nExecutor,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFixture {
    #[serde(default)]
    pub route: DeliveryRoute,
    /// The shared n8n webhook notified on dispatch when `route: n8n_executor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n8n_webhook: Option<N8nWebhookFixture>,
    /// Requests per window per API key (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// The rate-limit window (default `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_window: Option<String>,
    /// Lifetime of a Dataverse session token (default `15m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<String>,
    /// Virtual time from upload to the end of processing (default `5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_delay: Option<String>,
    /// Virtual time from dispatch to the run executing (default `2s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_delay: Option<String>,
    /// Webhook delivery attempts before giving up (default 6: 1 + 5 retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_max_attempts: Option<u32>,
    /// How long a webhook receiver may take before the attempt counts as timed out (default `10s`, real time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_timeout: Option<String>,
    /// Caps every outbox page at this many documents, whatever `limit` asks
    /// (so any client meets a second page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_max_page: Option<usize>,
    /// The most entries the journal keeps (default 10000; the oldest go first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_max_entries: Option<usize>,
    /// The most bytes of bodies and headers the journal keeps (default 64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_max_bytes: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct N8nWebhookFixture {
    pub url: String,
    #[serde(default)]
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyFixture {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Scopes; `["*"]` (the default) grants all.
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

fn all_scopes() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionFixture {
    pub id: String,
    #[serde(default = "dynamics")]
    pub provider: String,
    #[serde(default)]
    pub status: ActiveStatus,
    /// The Dataverse org of this workspace the connection reaches (default `default`).
    #[serde(default = "default_org")]
    pub org: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The owner team the internal workflow looks up (`team` by name).
    #[serde(default)]
    pub owner_team: String,
}

fn dynamics() -> String {
    "dynamics365".to_string()
}

fn default_org() -> String {
    "default".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationFixture {
    pub id: String,
    #[serde(default = "dynamics")]
    pub provider: String,
    pub display_name: String,
    #[serde(default)]
    pub status: ActiveStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFixture {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: ActiveStatus,
    #[serde(default = "one")]
    pub version: u32,
    pub schema: String,
    pub destination: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingFixture {
    pub schema: String,
    pub destination: String,
    /// The mapping resource body (see docs/behaviour.md, "Mappings").
    #[serde(flatten)]
    pub body: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentFixture {
    /// Kept as given (the seeds use bare UUIDs); generated (`doc_…`) if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default = "invoice")]
    pub schema: String,
    pub status: Status,
    /// Reviewed and finalized (approved). Defaults to true for `reviewed` and `push_*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalized: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default)]
    pub metadata: JsonMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_state: Option<ReviewState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// `{name: {value, confidence}}`, or `{name: value}` as a shorthand
    /// (confidence 0.95), kept as compact JSON with the shorthand filled in.
    #[serde(default, deserialize_with = "crate::world::model::fixture_fields")]
    pub fields: JsonMap,
    /// Each item's `id` defaults to `li_<n>` (filled in as it is read).
    #[serde(default)]
    pub line_items: JsonItems,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// `fail` makes processing end in `failed`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub processing: ProcessingOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptFixture>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn invoice() -> String {
    "invoice_v2".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptFixture {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default = "dynamics")]
    pub provider: String,
    pub status: crate::world::model::AttemptStatus,
    pub execution_id: String,
    pub attempted_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default = "callback_source")]
    pub source: AttemptSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// A workflow run (state dumps carry them so runs stay readable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFixture {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    pub document_id: String,
    #[serde(default = "dynamics")]
    pub provider: String,
    pub status: crate::world::model::RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<crate::world::model::AttemptStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_record_id: Option<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<crate::world::model::RunLog>,
}

fn callback_source() -> AttemptSource {
    AttemptSource::Callback
}

/// Reads a JSON fixture whose documents `build` turns into something else as
/// they are read, on two threads when the list is long; `None` if it is not
/// JSON, not of the common shapes the quick reader takes, or `build`
/// refused a document (then [`Fixture::from_yaml`] reads it, and names the
/// error).
pub(crate) fn read_json_with<T: Send>(
    text: &str,
    build: &(dyn Fn(DocumentFixture) -> Option<T> + Sync),
) -> Option<(Fixture, Vec<T>)> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    json::read_with(text, build, true)
}

impl Fixture {
    /// Parses YAML (or JSON, which is YAML) text; `origin` names the source in errors.
    ///
    /// Text that starts with `{` is read as JSON first, which is several
    /// times faster: by the quick reader of [`json`] when it can, else by
    /// `serde_json`; if that fails, the YAML parser reads it (JSON is YAML),
    /// so an error reads the same either way.
    pub fn from_yaml(origin: &str, text: &str) -> Result<Fixture, FixtureError> {
        if text.trim_start().starts_with('{') {
            if let Some(fixture) = json::read(text) {
                return Ok(fixture);
            }
            if let Ok(fixture) = serde_json::from_str(text) {
                return Ok(fixture);
            }
        }
        serde_yaml_ng::from_str(text).map_err(|e| {
            let location = match e.location() {
                Some(l) => format!("{origin}:{}:{}", l.line(), l.column()),
                None => origin.to_string(),
            };
            FixtureError::at(location, crate::strict::explain("fixture", &e.to_string()))
        })
    }

    /// Reads a fixture from a JSON value (the control API's inline fixtures);
    /// the error's location is the path inside it (`documents[0].status`).
    pub fn from_json(value: Value) -> Result<Fixture, FixtureError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            // The location names the path, so the message need not repeat it.
            let inner = e.inner().to_string();
            let (path, _) = crate::strict::explain_at("fixture", &e.path().to_string(), &inner);
            let message = crate::strict::explain("fixture", &inner);
            let location = if path == "." {
                "fixtures".into()
            } else {
                format!("fixtures: {path}")
            };
            FixtureError::at(location, message)
        })
    }

    pub fn default_world() -> Fixture {
        serde_json::from_str(DEFAULT_WORLD_JSON)
            .expect("the embedded default world is valid (checked by tests)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_json_world_is_the_yaml_world() {
        let from_yaml = serde_yaml_ng::from_str::<Fixture>(DEFAULT_WORLD).unwrap();
        let from_json = Fixture::default_world();
        assert_eq!(from_json, from_yaml);
        // Same bytes when written out: key order and number forms carried over.
        assert_eq!(
            serde_json::to_string(&from_json).unwrap(),
            serde_json::to_string(&from_yaml).unwrap()
        );
    }
}
