//! The scenario format, as serde types.
//!
//! Every struct denies unknown fields and every step kind is an externally
//! tagged enum (`request:`, `control:`, `wait_until:`, `parallel:`), so that a
//! typo is reported at its line with a "did you mean" instead of being
//! silently ignored. `scenarios/README.md` documents the format and
//! `scenarios/scenario.schema.json` describes it for editors.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One YAML file of the library.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short sentence naming the rule under test.
    pub name: String,
    /// Free text: why the rule matters, what the steps do.
    #[serde(default)]
    pub description: Option<String>,
    /// Used by `--tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The seed page or docs section that states the rule
    /// (e.g. `seed 001 "Idempotency Rules"`, `INDEX rule 28`, `DESIGN 4.4`).
    pub source: String,
    /// How strongly the docs promise the behaviour.
    pub level: Level,
    /// What the target must offer for the scenario to run.
    #[serde(default)]
    pub requires: Requires,
    /// Seed of the fresh workspace (targets with control only).
    #[serde(default)]
    pub seed: Option<u64>,
    /// An inline fixture object for the fresh workspace, sent as-is to
    /// `POST /_mock/workspaces`. Without it the workspace gets the default
    /// world.
    #[serde(default)]
    pub fixtures: Option<Value>,
    /// Default values of variables. `--var` overrides them; a variable named
    /// in `requires.vars` must come from `--var` when the target has no
    /// control API (the defaults name rows of the fake's default world).
    #[serde(default)]
    pub vars: IndexMap<String, Value>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Stated in a seed or in the docs: every deployment must pass.
    Documented,
    /// Not stated, but the only reading consistent with the docs.
    Inferred,
    /// Behaviour of the fake itself (control API, determinism).
    Fake,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Documented => "documented",
            Level::Inferred => "inferred",
            Level::Fake => "fake",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// The target must expose the fake's control API (`/_mock`).
    #[serde(default)]
    pub control: bool,
    /// The scenario sends POST/PUT/PATCH/DELETE to the API under test.
    #[serde(default)]
    pub writes: bool,
    /// Variables that must come from `--var` on a target without control.
    #[serde(default)]
    pub vars: Vec<String>,
}

/// A step. The webhook steps (`webhook_receiver:`, `webhooks:`) are
/// written as step kinds of their own but carried as [`ControlStep`]
/// actions: both need the control API, and code elsewhere matches the four
/// variants.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "StepSyntax")]
pub enum Step {
    Request(Box<RequestStep>),
    Control(Box<ControlStep>),
    WaitUntil(Box<WaitStep>),
    Parallel(Box<ParallelStep>),
}

/// The step kinds as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StepSyntax {
    Request(Box<RequestStep>),
    Control(Box<ControlStep>),
    WaitUntil(Box<WaitStep>),
    Parallel(Box<ParallelStep>),
    WebhookReceiver(Box<WebhookReceiver>),
    Webhooks(Box<WebhooksStep>),
    /// Carried as a [`ControlStep`] like the webhook steps; see
    /// [`crate::audit::VerdictsStep`].
    Verdicts(Box<crate::audit::VerdictsStep>),
}

impl From<StepSyntax> for Step {
    fn from(s: StepSyntax) -> Step {
        match s {
            StepSyntax::Request(r) => Step::Request(r),
            StepSyntax::Control(c) => Step::Control(c),
            StepSyntax::WaitUntil(w) => Step::WaitUntil(w),
            StepSyntax::Parallel(p) => Step::Parallel(p),
            StepSyntax::WebhookReceiver(r) => Step::Control(Box::new(ControlStep {
                name: Some(r.name.clone()),
                webhook_receiver: Some(*r),
                ..ControlStep::default()
            })),
            StepSyntax::Webhooks(w) => Step::Control(Box::new(ControlStep {
                name: w.name.clone(),
                webhooks: Some(*w),
                ..ControlStep::default()
            })),
            StepSyntax::Verdicts(v) => Step::Control(Box::new(ControlStep {
                name: v.name.clone(),
                verdicts: Some(*v),
                ..ControlStep::default()
            })),
        }
    }
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Request(_) => "request",
            Step::Control(c) if c.webhook_receiver.is_some() => "webhook_receiver",
            Step::Control(c) if c.webhooks.is_some() => "webhooks",
            Step::Control(c) if c.verdicts.is_some() => "verdicts",
            Step::Control(_) => "control",
            Step::WaitUntil(_) => "wait_until",
            Step::Parallel(_) => "parallel",
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Step::Request(s) => s.name.as_deref(),
            Step::Control(s) => s.name.as_deref(),
            Step::WaitUntil(s) => s.name.as_deref(),
            Step::Parallel(s) => s.name.as_deref(),
        }
    }
}

/// An HTTP request to the API under test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestStep {
    #[serde(default)]
    pub name: Option<String>,
    pub method: Method,
    #[serde(default)]
    pub path: String,
    /// An absolute URL on the target's origin instead of `path`.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub raw_body: Option<String>,
    #[serde(default)]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub expect: Expect,
    /// Variable name → what to read from the response (see [`Capture`]).
    #[serde(default)]
    pub capture: IndexMap<String, String>,
}

impl RequestStep {
    /// The request part (serde cannot flatten with `deny_unknown_fields`).
    pub fn request(&self) -> Request {
        Request {
            method: self.method,
            path: self.path.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            raw_body: self.raw_body.clone(),
            auth: self.auth.clone(),
        }
    }
}

/// Method, path, headers and body. Shared by every step that sends a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: Method,
    /// Path and query, relative to the target's base URL; `{{var}}` allowed.
    /// Empty when `url` is given.
    #[serde(default)]
    pub path: String,
    /// An absolute URL (e.g. a captured `@odata.nextLink` or
    /// `OData-EntityId`); it must be on the target's origin.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// JSON body (sent with `Content-Type: application/json`).
    #[serde(default)]
    pub body: Option<Value>,
    /// A body sent byte for byte, for malformed-input tests.
    #[serde(default)]
    pub raw_body: Option<String>,
    /// Which credentials to send. Default: the target's API key.
    #[serde(default)]
    pub auth: Option<Auth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether the method may change state on the target.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Method::Post | Method::Put | Method::Patch | Method::Delete
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// No `Authorization` header at all.
    None,
    /// `Authorization: Bearer <token>`; `{{var}}` allowed.
    Bearer(String),
    /// The `Authorization` header verbatim.
    Raw(String),
}

/// Expectations over one response. All listed checks run; all failures are
/// reported, not only the first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub status: Option<StatusExpect>,
    #[serde(default)]
    pub headers: HeaderExpect,
    /// JSON path (`$.data.items[0].id`, `$.data[*].status`) → checks.
    #[serde(default)]
    pub json: IndexMap<String, JsonCheck>,
    /// Validate the body (or a part of it) against a component of the
    /// target's OpenAPI document.
    #[serde(default)]
    pub schema: Option<SchemaExpect>,
    /// Compare the normalised body with `snapshots/<name>.snap`.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Substrings the raw body must contain.
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings the raw body must not contain (e.g. a secret).
    #[serde(default)]
    pub body_not_contains: Vec<String>,
    /// `connection: dropped`: the target closes the connection without an
    /// answer (a `drop_connection` fault). Excludes every other check.
    #[serde(default)]
    pub connection: Option<ConnectionExpect>,
}

/// What must happen to the connection of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionExpect {
    /// Closed with no HTTP response at all.
    Dropped,
}

impl Expect {
    /// Whether any check other than `connection` is set.
    pub fn checks_response(&self) -> bool {
        !(self.status.is_none()
            && self.headers.is_empty()
            && self.json.is_empty()
            && self.schema.is_none()
            && self.snapshot.is_none()
            && self.body_contains.is_empty()
            && self.body_not_contains.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.connection.is_none()
            && self.status.is_none()
            && self.headers.is_empty()
            && self.json.is_empty()
            && self.schema.is_none()
            && self.snapshot.is_none()
            && self.body_contains.is_empty()
            && self.body_not_contains.is_empty()
    }
}

/// `status: 200` or `status: [200, 201]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusExpect {
    One(u16),
    Any(Vec<u16>),
}

impl StatusExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusExpect::One(s) => *s == status,
            StatusExpect::Any(v) => v.contains(&status),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            StatusExpect::One(s) => s.to_string(),
            StatusExpect::Any(v) => {
                let all: Vec<String> = v.iter().map(u16::to_string).collect();
                format!("one of {}", all.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    /// Header name → exact value (`{{var}}` allowed).
    #[serde(default)]
    pub equals: IndexMap<String, String>,
    /// Header name → regular expression the value must match.
    #[serde(default, rename = "match")]
    pub matches: IndexMap<String, String>,
    #[serde(default)]
    pub present: Vec<String>,
    #[serde(default)]
    pub absent: Vec<String>,
    /// Header name → JSON path of the body whose value the header must equal
    /// (e.g. `x-request-id: $.error.request_id`).
    #[serde(default)]
    pub equals_json: IndexMap<String, String>,
}

impl HeaderExpect {
    pub fn is_empty(&self) -> bool {
        self.equals.is_empty()
            && self.matches.is_empty()
            && self.present.is_empty()
            && self.absent.is_empty()
            && self.equals_json.is_empty()
    }
}

/// Checks on the value(s) a JSON path selects. A path with `[*]` selects an
/// array of every match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonCheck {
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    /// Regular expression over a string value.
    #[serde(default, rename = "match")]
    pub matches: Option<String>,
    #[serde(default, rename = "type")]
    pub type_: Option<JsonType>,
    /// `absent: true`: the path selects nothing. `absent: false`: it selects
    /// something (possibly null).
    #[serde(default)]
    pub absent: Option<bool>,
    /// Length of an array, string or object.
    #[serde(default)]
    pub length: Option<usize>,
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// The selected array contains this value.
    #[serde(default)]
    pub contains: Option<Value>,
    /// The selected array does not contain this value.
    #[serde(default)]
    pub not_contains: Option<Value>,
    /// Every element of the selected array is one of these values.
    #[serde(default)]
    pub each_one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Null,
    Array,
    Object,
}

impl JsonType {
    pub fn of(v: &Value) -> JsonType {
        match v {
            Value::String(_) => JsonType::String,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::Bool(_) => JsonType::Boolean,
            Value::Null => JsonType::Null,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    pub fn accepts(self, v: &Value) -> bool {
        let actual = JsonType::of(v);
        actual == self || (self == JsonType::Number && actual == JsonType::Integer)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// `schema: Document` (the whole body) or
/// `schema: {component: Document, path: $.data}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SchemaExpect {
    Whole(String),
    At(SchemaAt),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaAt {
    pub component: String,
    #[serde(default = "root_path")]
    pub path: String,
}

fn root_path() -> String {
    "$".to_owned()
}

impl SchemaExpect {
    pub fn component(&self) -> &str {
        match self {
            SchemaExpect::Whole(c) => c,
            SchemaExpect::At(a) => &a.component,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            SchemaExpect::Whole(_) => "$",
            SchemaExpect::At(a) => &a.path,
        }
    }
}

/// A step against the fake's control API. Exactly one action field is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlStep {
    #[serde(default)]
    pub name: Option<String>,
    /// Add a document in any state: `POST /_mock/workspaces/{ws}/documents`.
    #[serde(default)]
    pub seed_document: Option<Value>,
    /// Edit a document's fields (the review UI's stand-in).
    #[serde(default)]
    pub edit_document: Option<EditDocument>,
    /// Add a fault rule; capture `$.data.id` to delete it later.
    #[serde(default)]
    pub fault: Option<Value>,
    /// Remove a fault rule by id.
    #[serde(default)]
    pub delete_fault: Option<String>,
    /// Advance the virtual clock (`"5s"`, `"15m"`).
    #[serde(default)]
    pub advance_clock: Option<String>,
    /// Set the clock mode and tick.
    #[serde(default)]
    pub clock: Option<Value>,
    /// Any other control call, relative to the workspace
    /// (`GET journal/count?method=POST&path=/v1/documents/*/dispatch`).
    #[serde(default)]
    pub call: Option<ControlCall>,
    /// Written as the step `webhook_receiver:` (see [`Step`]).
    #[serde(skip_deserializing)]
    pub webhook_receiver: Option<WebhookReceiver>,
    /// Written as the step `webhooks:` (see [`Step`]).
    #[serde(skip_deserializing)]
    pub webhooks: Option<WebhooksStep>,
    /// Written as the step `verdicts:` (see [`Step`]).
    #[serde(skip_deserializing)]
    pub verdicts: Option<crate::audit::VerdictsStep>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub capture: IndexMap<String, String>,
}

impl ControlStep {
    /// Names of the action fields that are set; valid steps have one.
    pub fn actions(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.seed_document.is_some() {
            out.push("seed_document");
        }
        if self.edit_document.is_some() {
            out.push("edit_document");
        }
        if self.fault.is_some() {
            out.push("fault");
        }
        if self.delete_fault.is_some() {
            out.push("delete_fault");
        }
        if self.advance_clock.is_some() {
            out.push("advance_clock");
        }
        if self.clock.is_some() {
            out.push("clock");
        }
        if self.call.is_some() {
            out.push("call");
        }
        if self.webhook_receiver.is_some() {
            out.push("webhook_receiver");
        }
        if self.webhooks.is_some() {
            out.push("webhooks");
        }
        if self.verdicts.is_some() {
            out.push("verdicts");
        }
        out
    }
}

/// Start a webhook receiver inside the harness (on `127.0.0.1:0`) and
/// register it with the workspace (`POST /_mock/workspaces/{ws}/webhooks`).
/// Its URL is `{{receivers.<name>}}` in later steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookReceiver {
    /// What `webhooks:` steps call it; also `{{receivers.<name>}}`.
    pub name: String,
    /// The endpoint secret the deliveries are signed with.
    pub secret: String,
    /// Event types to subscribe to; empty = all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Status answered to the n-th valid request carrying one event id; the
    /// last entry repeats (`[500, 200]`: each event's first attempt fails).
    /// Invalid deliveries get 400/401, as `conformance listen` answers.
    #[serde(default = "default_respond")]
    pub respond: Vec<u16>,
    /// Seconds a delivery's timestamp may be from the target's clock.
    #[serde(default = "default_tolerance")]
    pub tolerance: u64,
    /// `false`: only start the receiver (e.g. to put its URL into the
    /// workspace's `n8n_webhook` setting with a `control: {call: …}`).
    #[serde(default = "yes")]
    pub register: bool,
}

fn default_respond() -> Vec<u16> {
    vec![200]
}

fn default_tolerance() -> u64 {
    300
}

fn yes() -> bool {
    true
}

/// Wait (bounded) until a receiver got the expected events, then judge
/// every delivery. Order-insensitive; redeliveries are allowed unless
/// `duplicates_allowed: false`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksStep {
    #[serde(default)]
    pub name: Option<String>,
    /// The `name` of a `webhook_receiver` step.
    pub receiver: String,
    /// Events that must arrive, in any order.
    #[serde(default)]
    pub expect: Vec<EventExpect>,
    /// `valid`: every delivery of an expected event passes the verifier of
    /// `conformance listen` (signature, timestamp, id header), and a copy
    /// with a changed body or a stale "now" is rejected. `any`: not checked.
    #[serde(default)]
    pub signature: SignatureExpect,
    /// Every delivery received, expected or not, verifies and carries
    /// `Content-Type: application/json`.
    #[serde(default = "yes")]
    pub all_signed: bool,
    /// Requests each expected event id must have reached the receiver with
    /// (retries and redeliveries count).
    #[serde(default = "one")]
    pub min_attempts: usize,
    /// `false`: an event id received again after it was answered 2xx fails.
    #[serde(default = "yes")]
    pub duplicates_allowed: bool,
    /// Every delivery must match one of `expect`.
    #[serde(default)]
    pub only: bool,
    /// Between checks the virtual clock advances by this (a target without
    /// a clock gets real time).
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureExpect {
    #[default]
    Valid,
    Any,
}

/// One expected event: its type and, optionally, its id and a subset of
/// its `data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventExpect {
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub id: Option<String>,
    /// Every key given must be in the event's `data` with an equal value
    /// (objects compare the same way, recursively); `{{var}}` allowed.
    #[serde(default)]
    pub data: Option<Value>,
    /// Overrides the step's `min_attempts` for this event.
    #[serde(default)]
    pub min_attempts: Option<usize>,
    /// Variable name → JSON path into the first matching event
    /// (`evt: $.id`).
    #[serde(default)]
    pub capture: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditDocument {
    pub id: String,
    pub fields: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlCall {
    pub method: Method,
    /// Relative to `/_mock/workspaces/{ws}/`, or absolute when it starts
    /// with `/_mock/`.
    pub path: String,
    #[serde(default)]
    pub body: Option<Value>,
}

/// Poll a request until its response meets `until`, within a bound.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    #[serde(default)]
    pub name: Option<String>,
    pub request: Request,
    /// The condition; failures while polling are not reported.
    pub until: Expect,
    /// Pause between attempts (virtual when the target has a clock).
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Checked once, on the response that met `until`.
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub capture: IndexMap<String, String>,
}

fn default_interval() -> String {
    "1s".to_owned()
}

fn default_attempts() -> u32 {
    30
}

/// Send `count` copies of one request at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParallelStep {
    #[serde(default)]
    pub name: Option<String>,
    pub count: usize,
    /// `{{index}}` (0-based) is available in the request.
    pub request: Request,
    /// Checked on every response.
    #[serde(default)]
    pub each: Expect,
    /// Status code → exact number of responses with it.
    #[serde(default)]
    pub statuses: IndexMap<u16, usize>,
}

/// Which part of a response a capture reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    Json(String),
    Header(String),
    Status,
}

impl Capture {
    /// `$.json.path`, `header:name` or `status`.
    pub fn parse(s: &str) -> Result<Capture, String> {
        if s.starts_with('$') {
            crate::runner::jsonpath::Path::parse(s)?;
            Ok(Capture::Json(s.to_owned()))
        } else if let Some(h) = s.strip_prefix("header:") {
            Ok(Capture::Header(h.trim().to_ascii_lowercase()))
        } else if s == "status" {
            Ok(Capture::Status)
        } else {
            Err(format!(
                "capture `{s}` must be a JSON path (`$.data.id`), `header:<name>` or `status`"
            ))
        }
    }
}
