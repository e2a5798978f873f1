//! What a run produced. Reporters read these; the runner never prints.

use serde::Serialize;
use serde_json::Value;

use crate::scenario::location::Location;
use crate::scenario::model::Level;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestRecord {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResponseRecord {
    #[serde(skip)]
    pub request: RequestRecord,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as JSON, when it is JSON.
    #[serde(skip)]
    pub json: Option<Value>,
}

impl ResponseRecord {
    pub(crate) fn new(
        request: RequestRecord,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let json = serde_json::from_slice(&body).ok();
        ResponseRecord {
            request,
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            json,
        }
    }

    /// Every value of a header (names compare case-insensitively).
    pub(crate) fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).first().copied()
    }
}

/// One check and its verdict. A failed check is data, not an error.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AssertionResult {
    /// What was checked: `status`, `header x-request-id equals`,
    /// `json $.data.status one_of`, `schema Document at $.data`, …
    pub check: String,
    pub passed: bool,
    pub expected: Value,
    pub actual: Value,
    /// Extra explanation (schema errors, regex, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl AssertionResult {
    pub(crate) fn new(
        check: impl Into<String>,
        passed: bool,
        expected: Value,
        actual: Value,
    ) -> Self {
        AssertionResult {
            check: check.into(),
            passed,
            expected,
            actual,
            message: None,
        }
    }

    pub(crate) fn with_message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepResult {
    /// 1-based, as people count steps.
    pub index: usize,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(serialize_with = "ser_location")]
    pub location: Location,
    /// The last request sent (for `parallel`, the first failing one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
    pub assertions: Vec<AssertionResult>,
    /// A failure that is not an assertion: no response, a refused write,
    /// an undefined variable, a control call that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Free notes for the report (e.g. how many polls a wait took).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn ser_location<S: serde::Serializer>(l: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&l.to_string())
}

impl StepResult {
    pub(crate) fn passed(&self) -> bool {
        self.error.is_none() && self.assertions.iter().all(|a| a.passed)
    }

    pub(crate) fn failed_assertions(&self) -> impl Iterator<Item = &AssertionResult> {
        self.assertions.iter().filter(|a| !a.passed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Skipped(String),
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScenarioResult {
    /// Path below the library root, without extension.
    pub id: String,
    pub name: String,
    pub file: String,
    pub source: String,
    pub level: Level,
    pub tags: Vec<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub steps: Vec<StepResult>,
    /// The documented rules the scenario cites.
    pub rules: Vec<String>,
    /// The documented endpoints its requests reach.
    pub endpoints: Vec<String>,
    /// Wall time of the scenario, set-up and clean-up included.
    pub duration_ms: u64,
}

impl ScenarioResult {
    pub(crate) fn failed_step(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| !s.passed())
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunReport {
    pub target: String,
    pub scenarios: Vec<ScenarioResult>,
    /// The run's `--seed`.
    pub seed: u64,
    /// The harness's version.
    pub version: String,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// Rules and endpoints checked, when the library has a catalogue.
    pub coverage: Option<crate::coverage::Coverage>,
}

impl RunReport {
    pub(crate) fn count(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in &self.scenarios {
            match s.outcome {
                Outcome::Passed => c.0 += 1,
                Outcome::Failed => c.1 += 1,
                Outcome::Skipped(_) => c.2 += 1,
            }
        }
        c
    }

    pub(crate) fn summary_line(&self) -> String {
        let (p, f, s) = self.count();
        format!(
            "{p} passed, {f} failed, {s} skipped in {}",
            crate::style::duration(self.duration_ms)
        )
    }

    pub(crate) fn success(&self) -> bool {
        self.count().1 == 0
    }
}
