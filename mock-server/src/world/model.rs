//! The domain records a workspace holds, and how they render on the wire.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub(crate) use super::compact::fixture_fields;
pub(crate) use super::compact::RawJson;
pub use super::compact::{JsonItems, JsonMap};
use super::time::{format_millis, Millis, Stamp};

/// The public document status set (document-api-contract, document-lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Processing,
    ReviewRequired,
    Reviewed,
    PushPending,
    PushSucceeded,
    PushFailed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Processing => "processing",
            Status::ReviewRequired => "review_required",
            Status::Reviewed => "reviewed",
            Status::PushPending => "push_pending",
            Status::PushSucceeded => "push_succeeded",
            Status::PushFailed => "push_failed",
            Status::Failed => "failed",
        }
    }
}

/// The documented schema catalog.
pub(crate) const SCHEMAS: [(&str, &str); 3] = [
    ("invoice_v2", "Invoice"),
    ("receipt_v1", "Receipt"),
    ("contract_v1", "Contract"),
];

pub(crate) const SCHEMA_ERROR: &str = "schema must be one of invoice_v2, receipt_v1, contract_v1";

pub(crate) fn is_known_schema(schema: &str) -> bool {
    catalog_schema(schema).is_some()
}

/// The catalog's own copy of `schema`, if it is one of the catalog's: a
/// document holds that instead of a string of its own.
pub(crate) fn catalog_schema(schema: &str) -> Option<&'static str> {
    SCHEMAS.iter().map(|(id, _)| *id).find(|id| *id == schema)
}

/// The providers a destination, connection or delivery may name.
pub(crate) const PROVIDERS: [&str; 1] = ["dynamics365"];

/// `provider` as an attempt holds it: a known provider as the constant (no
/// string of its own in every attempt), anything else as given.
pub(crate) fn provider_name(provider: String) -> std::borrow::Cow<'static, str> {
    match PROVIDERS.iter().find(|p| **p == provider) {
        Some(known) => std::borrow::Cow::Borrowed(known),
        None => std::borrow::Cow::Owned(provider),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewState {
    pub version: u32,
    #[serde(default)]
    pub confirmed_general_field_names: Vec<String>,
    #[serde(default)]
    pub confirmed_line_item_ids: Vec<String>,
}

impl ReviewState {
    /// The documented normalisation: both arrays empty means `null`.
    pub fn normalized(self) -> Option<Self> {
        (!(self.confirmed_general_field_names.is_empty()
            && self.confirmed_line_item_ids.is_empty()))
        .then_some(self)
    }
}

/// Whether processing a document ends in review or in failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingOutcome {
    #[default]
    Succeed,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Document {
    /// Shared with the key of the workspace's document map.
    pub id: std::sync::Arc<str>,
    /// One of [`SCHEMAS`].
    pub schema: &'static str,
    pub status: Status,
    pub finalized: bool,
    pub external_id: Option<String>,
    pub metadata: JsonMap,
    pub review_state: Option<ReviewState>,
    pub duplicate_of: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub confidence: f64,
    /// `{name: {value, confidence}}`, in fixture order, as compact JSON.
    pub fields: JsonMap,
    /// Each line item is an object with a stable `id` (`li_1`, …).
    pub line_items: JsonItems,
    pub file_url: Option<String>,
    pub processing: ProcessingOutcome,
    pub failure_reason: Option<String>,
    /// Delivery attempts in arrival order.
    pub attempts: Vec<Attempt>,
    /// Index into `attempts` of the attempt that decides the status.
    pub latest_attempt: Option<usize>,
    /// `execution_id` → index into `attempts`, kept only once a document has
    /// more than [`INDEXED_ATTEMPTS`] attempts (fewer are scanned).
    // Boxed: one pointer in every document, a table only for long histories.
    pub by_execution: Option<Box<ExecutionIndex>>,
    /// The bytes of its hot views, rendered on first use and dropped by
    /// every change (`Workspace::update_document`).
    pub(crate) rendered: super::rendered::Rendered,
}

/// Attempts a document holds before its `execution_id` lookups use an index.
pub(crate) const INDEXED_ATTEMPTS: usize = 16;

/// A document's `execution_id` lookup: positions in its `attempts` with the
/// id's hash, checked against the attempt itself, so the ids are not copied
/// into the index (two words per attempt instead of a string), and growing
/// the table reads no attempt.
#[derive(Debug, Clone, Default)]
pub struct ExecutionIndex {
    positions: hashbrown::HashTable<(u64, usize)>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl ExecutionIndex {
    fn hash(&self, execution_id: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, execution_id)
    }

    /// The first attempt in `attempts` with this `execution_id`.
    fn find(&self, attempts: &[Attempt], execution_id: &str) -> Option<usize> {
        let hash = self.hash(execution_id);
        self.positions
            .find(hash, |&(h, i)| {
                h == hash && attempts[i].data.execution_id == execution_id
            })
            .map(|&(_, i)| i)
    }

    /// Indexes `attempts[at]`, unless an earlier attempt has its
    /// `execution_id` (lookups find the first, as a scan would).
    fn insert(&mut self, attempts: &[Attempt], at: usize) {
        let id = attempts[at].data.execution_id.as_str();
        let hash = self.hash(id);
        let same = |&(h, i): &(u64, usize)| h == hash && attempts[i].data.execution_id == id;
        if let hashbrown::hash_table::Entry::Vacant(slot) =
            self.positions.entry(hash, same, |&(h, _)| h)
        {
            slot.insert((hash, at));
        }
    }
}

impl Document {
    /// A document with only its id (a search bound; never stored).
    pub(crate) fn bare(id: &str) -> Document {
        Document {
            id: std::sync::Arc::from(id),
            schema: "",
            status: Status::Processing,
            finalized: false,
            external_id: None,
            metadata: JsonMap::default(),
            review_state: None,
            duplicate_of: None,
            created_at: 0,
            updated_at: 0,
            confidence: 0.0,
            fields: JsonMap::default(),
            line_items: JsonItems::default(),
            file_url: None,
            processing: ProcessingOutcome::Succeed,
            failure_reason: None,
            attempts: Vec::new(),
            latest_attempt: None,
            by_execution: None,
            rendered: super::rendered::Rendered::default(),
        }
    }

    /// `GET /v1/documents/{id}` (and the dispatch response's `data`).
    pub fn view(&self) -> DocumentView<'_> {
        DocumentView {
            id: &self.id,
            schema: self.schema,
            status: self.status.as_str(),
            external_id: &self.external_id,
            metadata: self.metadata.raw(),
            review_state: &self.review_state,
            duplicate_of: &self.duplicate_of,
            created_at: Stamp(self.created_at),
            updated_at: Stamp(self.updated_at),
            status_url: DocumentUrl(&self.id, ""),
            result_url: DocumentUrl(&self.id, "/result"),
            dispatch_url: DocumentUrl(&self.id, "/dispatch"),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).unwrap_or(Value::Null)
    }

    /// The attempt recorded under `execution_id`, if any.
    pub fn attempt_by_execution(&self, execution_id: &str) -> Option<usize> {
        match &self.by_execution {
            Some(index) => index.find(&self.attempts, execution_id),
            None => self
                .attempts
                .iter()
                .position(|a| a.data.execution_id == execution_id),
        }
    }

    /// Appends an attempt, keeping the `execution_id` lookup in step.
    pub(crate) fn append_attempt(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
        let attempts = &self.attempts;
        match &mut self.by_execution {
            Some(index) => index.insert(attempts, attempts.len() - 1),
            None if attempts.len() > INDEXED_ATTEMPTS => {
                let mut index = ExecutionIndex::default();
                for i in 0..attempts.len() {
                    index.insert(attempts, i);
                }
                self.by_execution = Some(Box::new(index));
            }
            None => {}
        }
    }

    /// One item of `GET /v1/delivery/outbox`.
    pub fn outbox_view(&self) -> OutboxItemView<'_> {
        OutboxItemView {
            document_id: &self.id,
            schema: self.schema,
            status: self.status.as_str(),
            external_id: &self.external_id,
            metadata: self.metadata.raw(),
            result_url: DocumentUrl(&self.id, "/result"),
            dispatch_url: DocumentUrl(&self.id, "/dispatch"),
            updated_at: Stamp(self.updated_at),
        }
    }

    /// `GET /v1/documents/{id}/result`'s `data`.
    pub fn to_result_json(&self) -> Value {
        json!({
            "id": &*self.id,
            "schema": self.schema,
            "status": self.status.as_str(),
            "review_state": self.review_state,
            "confidence": self.confidence,
            "duplicate_of": self.duplicate_of,
            "data": {
                "fields": self.fields.raw(),
                "line_items": self.line_items.raw(),
            },
        })
    }

    /// Eligible for the outbox (before the provider/destination check).
    pub fn outbox_eligible(&self) -> bool {
        self.finalized && matches!(self.status, Status::Reviewed | Status::PushFailed)
    }

    /// Reads a documented field path such as `fields.vendor_name.value`.
    pub fn field_value(&self, name: &str) -> Option<Value> {
        self.fields.get(name).map(|f| match f {
            Value::Object(mut o) if o.contains_key("value") => {
                o.remove("value").unwrap_or_default()
            }
            other => other,
        })
    }
}

/// `/v1/documents/{id}` + suffix, written without allocating.
#[derive(Debug, Clone, Copy)]
pub struct DocumentUrl<'a>(pub &'a str, pub &'static str);

impl Serialize for DocumentUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const PREFIX: &str = "/v1/documents/";
        let len = PREFIX.len() + self.0.len() + self.1.len();
        let mut buf = [0u8; 160];
        if len <= buf.len() {
            // The usual id: the three pieces side by side on the stack.
            buf[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
            buf[PREFIX.len()..PREFIX.len() + self.0.len()].copy_from_slice(self.0.as_bytes());
            buf[PREFIX.len() + self.0.len()..len].copy_from_slice(self.1.as_bytes());
            s.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
        } else {
            s.serialize_str(&[PREFIX, self.0, self.1].concat())
        }
    }
}

/// The public document resource, borrowed from a [`Document`].
#[derive(Debug, Serialize)]
pub struct DocumentView<'a> {
    pub id: &'a str,
    pub schema: &'a str,
    pub status: &'static str,
    pub external_id: &'a Option<String>,
    pub metadata: RawJson<'a>,
    pub review_state: &'a Option<ReviewState>,
    pub duplicate_of: &'a Option<String>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub status_url: DocumentUrl<'a>,
    pub result_url: DocumentUrl<'a>,
    pub dispatch_url: DocumentUrl<'a>,
}

/// One outbox item, borrowed from a [`Document`].
#[derive(Debug, Serialize)]
pub struct OutboxItemView<'a> {
    pub document_id: &'a str,
    pub schema: &'a str,
    pub status: &'static str,
    pub external_id: &'a Option<String>,
    pub metadata: RawJson<'a>,
    pub result_url: DocumentUrl<'a>,
    pub dispatch_url: DocumentUrl<'a>,
    pub updated_at: Stamp,
}

/// The outcome a delivery attempt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Succeeded,
    Failed,
    Skipped,
}

impl AttemptStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "skipped" => Some(Self::Skipped),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// The document status an attempt of this outcome leads to.
    pub fn document_status(self) -> Status {
        match self {
            Self::Succeeded | Self::Skipped => Status::PushSucceeded,
            Self::Failed => Status::PushFailed,
        }
    }
}

/// Who recorded an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptSource {
    Callback,
    Dispatch,
}

/// The delivery data that the idempotency rule compares.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryData {
    /// One of [`PROVIDERS`] is held as the constant, anything else as given.
    pub provider: std::borrow::Cow<'static, str>,
    pub status: AttemptStatus,
    pub execution_id: String,
    pub attempted_at: Millis,
    pub external_record_id: Option<String>,
    pub external_url: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    /// The document's own id, shared.
    pub document_id: std::sync::Arc<str>,
    pub data: DeliveryData,
    pub source: AttemptSource,
    pub run_id: Option<String>,
    pub recorded_at: Millis,
}

impl Attempt {
    pub fn to_json(&self) -> Value {
        let d = &self.data;
        json!({
            "id": self.id,
            "document_id": &*self.document_id,
            "provider": d.provider,
            "status": d.status.as_str(),
            "execution_id": d.execution_id,
            "external_record_id": d.external_record_id,
            "external_url": d.external_url,
            "error_code": d.error_code,
            "error_message": d.error_message,
            "attempted_at": format_millis(d.attempted_at),
            "recorded_at": format_millis(self.recorded_at),
            "source": self.source,
            "run_id": self.run_id,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActiveStatus {
    #[default]
    Active,
    Inactive,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub key: String,
    pub name: String,
    /// `*` grants every scope.
    pub scopes: Vec<String>,
    pub revoked: bool,
}

impl ApiKey {
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == "*" || s == scope)
    }
}

/// Every scope a key can carry (DESIGN §2).
pub(crate) const SCOPES: [&str; 9] = [
    "documents:read",
    "documents:write",
    "delivery:read",
    "delivery:write",
    "dynamics:session",
    "workflows:read",
    "workflows:write",
    "destinations:read",
    "destinations:write",
];

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub provider: String,
    pub status: ActiveStatus,
    /// The Dataverse org (in this workspace) the connection reaches.
    pub org: String,
    pub tenant_id: String,
    pub client_id: String,
    /// Write-only: never rendered.
    pub client_secret: Option<String>,
    pub owner_team: String,
}

#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub provider: String,
    pub display_name: String,
    pub status: ActiveStatus,
    pub connection_id: Option<String>,
    /// Write-only: never rendered; only `has_credentials` is.
    pub credentials: Option<Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Destination {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "provider": self.provider,
            "display_name": self.display_name,
            "status": self.status,
            "has_credentials": self.credentials.is_some(),
            "created_at": format_millis(self.created_at),
            "updated_at": format_millis(self.updated_at),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: String,
    pub name: String,
    pub status: ActiveStatus,
    pub version: u32,
    pub schema: String,
    pub destination_id: String,
    pub updated_at: Millis,
}

impl Workflow {
    /// Public fields only (workflow-runs: no definition JSON, no connection snapshot).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "binding_count": 1,
            "updated_at": format_millis(self.updated_at),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// One node of a run's log (team lookup, supplier lookup, creates, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLog {
    pub node: String,
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub workflow_id: Option<String>,
    pub document_id: String,
    pub provider: String,
    pub status: RunStatus,
    /// `succeeded`, `skipped` or `failed` once finished.
    pub outcome: Option<AttemptStatus>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub external_record_id: Option<String>,
    pub created_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub logs: Vec<RunLog>,
}

impl Run {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "workflow_id": self.workflow_id,
            "document_id": self.document_id,
            "provider": self.provider,
            "status": self.status,
            "execution_mode": "queued",
            "outcome": self.outcome.map(AttemptStatus::as_str),
            "external_record_id": self.external_record_id,
            "error": self.error_code.as_ref().map(|code| json!({
                "code": code,
                "message": self.error_message,
            })),
            "created_at": format_millis(self.created_at),
            "started_at": self.started_at.map(format_millis),
            "finished_at": self.finished_at.map(format_millis),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_value_is_its_value_member_or_the_field_itself() {
        let mut doc = Document::bare("doc_1");
        let fields = json!({
            "vendor_name": {"value": "Acme", "confidence": 0.9},
            "total": {"value": null, "confidence": 0.1},
            "raw": {"amount": 3},
            "plain": 5
        });
        doc.fields = JsonMap::from_map(fields.as_object().unwrap());
        assert_eq!(doc.field_value("vendor_name"), Some(json!("Acme")));
        assert_eq!(doc.field_value("total"), Some(Value::Null));
        assert_eq!(doc.field_value("raw"), Some(json!({"amount": 3})));
        assert_eq!(doc.field_value("plain"), Some(json!(5)));
        assert_eq!(doc.field_value("missing"), None);
    }

    #[test]
    fn a_provider_name_is_kept_as_given() {
        assert_eq!(provider_name("dynamics365".into()), "dynamics365");
        assert!(matches!(
            provider_name("dynamics365".into()),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(provider_name("other".into()), "other");
    }

    fn attempt_with(execution_id: &str, n: usize) -> Attempt {
        Attempt {
            id: format!("att_{n}"),
            document_id: "doc_1".into(),
            data: DeliveryData {
                provider: "dynamics365".into(),
                status: AttemptStatus::Succeeded,
                execution_id: execution_id.into(),
                attempted_at: n as Millis,
                external_record_id: None,
                external_url: None,
                error_code: None,
                error_message: None,
            },
            source: AttemptSource::Callback,
            run_id: None,
            recorded_at: n as Millis,
        }
    }

    #[test]
    fn execution_ids_are_found_alike_before_and_after_the_index() {
        let mut doc = Document::bare("doc_1");
        // A repeated id (a run's attempts may repeat one) finds the first.
        let ids: Vec<String> = (0..200)
            .map(|n| {
                if n % 50 == 49 {
                    "exec-7".into()
                } else {
                    format!("exec-{n}")
                }
            })
            .collect();
        for (n, id) in ids.iter().enumerate() {
            doc.append_attempt(attempt_with(id, n));
            assert_eq!(
                doc.by_execution.is_some(),
                doc.attempts.len() > INDEXED_ATTEMPTS,
                "indexed past {INDEXED_ATTEMPTS} attempts"
            );
            for (m, earlier) in ids[..=n].iter().enumerate() {
                let first = ids.iter().position(|i| i == earlier).unwrap();
                assert_eq!(doc.attempt_by_execution(earlier), Some(first), "{m} of {n}");
            }
            assert_eq!(doc.attempt_by_execution("exec-none"), None);
        }
    }

    #[test]
    fn attempt_statuses_parse_back_from_their_names() {
        for s in [
            AttemptStatus::Succeeded,
            AttemptStatus::Failed,
            AttemptStatus::Skipped,
        ] {
            assert_eq!(AttemptStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(AttemptStatus::parse("pending"), None);
    }
}
