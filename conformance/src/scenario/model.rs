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

mod expect;
pub(crate) use expect::*;

/// One YAML file of the library.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    /// Short sentence naming the rule under test.
    pub name: String,
    /// Free text: why the rule matters, what the steps do.
    #[serde(default)]
    #[allow(dead_code)] // read by people; the harness only accepts it
    pub description: Option<String>,
    /// Used by `--tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The seed page or docs section that states the rule
    /// (e.g. `seed 001 "Idempotency Rules"`, `INDEX rule 28`, `DESIGN 4.4`).
    pub source: String,
    /// Ids of the documented rules (`rules.yaml`) the scenario checks.
    #[serde(default)]
    pub rules: Vec<String>,
    /// A provider state the scenario needs on a target without the control
    /// API (`--state-hook CMD` is run with this name).
    #[serde(default)]
    pub state: Option<String>,
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
pub(crate) enum Level {
    /// Stated in a seed or in the docs: every deployment must pass.
    Documented,
    /// Not stated, but the only reading consistent with the docs.
    Inferred,
    /// Behaviour of the fake itself (control API, determinism).
    Fake,
}

impl Level {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Documented => "documented",
            Level::Inferred => "inferred",
            Level::Fake => "fake",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Requires {
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

/// A step: one variant per kind, written in YAML as a one-key map
/// (`- request: {...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Step {
    Request(Box<RequestStep>),
    Control(Box<ControlStep>),
    WaitUntil(Box<WaitStep>),
    Parallel(Box<ParallelStep>),
    WebhookReceiver(Box<WebhookReceiver>),
    Webhooks(Box<WebhooksStep>),
    /// Assertions on the fake's verdicts (see [`crate::audit::VerdictsStep`]).
    Verdicts(Box<crate::audit::VerdictsStep>),
}

impl Step {
    /// The step kinds as written in YAML, for "did you mean".
    pub(crate) const KINDS: &'static [&'static str] = &[
        "request",
        "control",
        "wait_until",
        "parallel",
        "webhook_receiver",
        "webhooks",
        "verdicts",
    ];

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Step::Request(_) => "request",
            Step::Control(_) => "control",
            Step::WaitUntil(_) => "wait_until",
            Step::Parallel(_) => "parallel",
            Step::WebhookReceiver(_) => "webhook_receiver",
            Step::Webhooks(_) => "webhooks",
            Step::Verdicts(_) => "verdicts",
        }
    }

    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Step::Request(s) => s.name.as_deref(),
            Step::Control(s) => s.name.as_deref(),
            Step::WaitUntil(s) => s.name.as_deref(),
            Step::Parallel(s) => s.name.as_deref(),
            Step::WebhookReceiver(s) => Some(&s.name),
            Step::Webhooks(s) => s.name.as_deref(),
            Step::Verdicts(s) => s.name.as_deref(),
        }
    }

    /// The request a step sends to the API under test, if any.
    pub(crate) fn api_request(&self) -> Option<(Method, &str)> {
        match self {
            Step::Request(r) => Some((r.method, r.path.as_str())),
            Step::WaitUntil(w) => Some((w.request.method, w.request.path.as_str())),
            Step::Parallel(p) => Some((p.request.method, p.request.path.as_str())),
            _ => None,
        }
    }

    /// Whether the step needs the fake's control API.
    pub(crate) fn needs_control(&self) -> bool {
        matches!(
            self,
            Step::Control(_) | Step::WebhookReceiver(_) | Step::Webhooks(_) | Step::Verdicts(_)
        )
    }
}

/// An HTTP request to the API under test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestStep {
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
    pub(crate) fn request(&self) -> Request {
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
pub(crate) struct Request {
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
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
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
    pub(crate) fn is_write(self) -> bool {
        matches!(
            self,
            Method::Post | Method::Put | Method::Patch | Method::Delete
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Auth {
    /// No `Authorization` header at all.
    None,
    /// `Authorization: Bearer <token>`; `{{var}}` allowed.
    Bearer(String),
    /// The `Authorization` header verbatim.
    Raw(String),
}

/// A step against the fake's control API: one action, then the usual
/// expectations and captures.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ControlSyntax")]
pub(crate) struct ControlStep {
    pub name: Option<String>,
    pub action: ControlAction,
    pub expect: Expect,
    pub capture: IndexMap<String, String>,
}

/// What a control step does, one variant per kind.
#[derive(Debug, Clone)]
pub(crate) enum ControlAction {
    /// Add a document in any state: `POST /_mock/workspaces/{ws}/documents`.
    SeedDocument(Value),
    /// Edit a document's fields (the review UI's stand-in).
    EditDocument(EditDocument),
    /// Add a fault rule; capture `$.data.id` to delete it later.
    Fault(Value),
    /// Remove a fault rule by id.
    DeleteFault(String),
    /// Advance the virtual clock (`"5s"`, `"15m"`).
    AdvanceClock(String),
    /// Set the clock mode and tick.
    Clock(Value),
    /// Any other control call, relative to the workspace
    /// (`GET journal/count?method=POST&path=/v1/documents/*/dispatch`).
    Call(ControlCall),
}

impl ControlAction {
    /// The action keys as written in YAML.
    pub(crate) const KEYS: &'static [&'static str] = &[
        "seed_document",
        "edit_document",
        "fault",
        "delete_fault",
        "advance_clock",
        "clock",
        "call",
    ];
}

/// A control step as written: the action is one of several keys of the
/// same map (serde cannot flatten an enum into a map that denies unknown
/// fields), so exactly-one is checked when converting, during parsing,
/// and the parser locates the error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlSyntax {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    seed_document: Option<Value>,
    #[serde(default)]
    edit_document: Option<EditDocument>,
    #[serde(default)]
    fault: Option<Value>,
    #[serde(default)]
    delete_fault: Option<String>,
    #[serde(default)]
    advance_clock: Option<String>,
    #[serde(default)]
    clock: Option<Value>,
    #[serde(default)]
    call: Option<ControlCall>,
    #[serde(default)]
    expect: Expect,
    #[serde(default)]
    capture: IndexMap<String, String>,
}

impl TryFrom<ControlSyntax> for ControlStep {
    type Error = String;

    fn try_from(c: ControlSyntax) -> Result<ControlStep, String> {
        let mut actions = Vec::new();
        let candidates = [
            c.seed_document.map(ControlAction::SeedDocument),
            c.edit_document.map(ControlAction::EditDocument),
            c.fault.map(ControlAction::Fault),
            c.delete_fault.map(ControlAction::DeleteFault),
            c.advance_clock.map(ControlAction::AdvanceClock),
            c.clock.map(ControlAction::Clock),
            c.call.map(ControlAction::Call),
        ];
        for (key, action) in ControlAction::KEYS.iter().zip(candidates) {
            if let Some(a) = action {
                actions.push((*key, a));
            }
        }
        if actions.len() != 1 {
            let found: Vec<&str> = actions.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "a control step has exactly one action ({}); found {}",
                ControlAction::KEYS.join(", "),
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                }
            ));
        }
        let (_, action) = actions.remove(0);
        Ok(ControlStep {
            name: c.name,
            action,
            expect: c.expect,
            capture: c.capture,
        })
    }
}

/// Start a webhook receiver inside the harness (on `127.0.0.1:0`) and
/// register it with the workspace (`POST /_mock/workspaces/{ws}/webhooks`).
/// Its URL is `{{receivers.<name>}}` in later steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookReceiver {
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
pub(crate) struct WebhooksStep {
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
pub(crate) enum SignatureExpect {
    #[default]
    Valid,
    Any,
}

/// One expected event: its type and, optionally, its id and a subset of
/// its `data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventExpect {
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
pub(crate) struct EditDocument {
    pub id: String,
    pub fields: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ControlCall {
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
pub(crate) struct WaitStep {
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
pub(crate) struct ParallelStep {
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
pub(crate) enum Capture {
    Json(String),
    Header(String),
    Status,
}

impl Capture {
    /// `$.json.path`, `header:name` or `status`.
    pub(crate) fn parse(s: &str) -> Result<Capture, String> {
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
