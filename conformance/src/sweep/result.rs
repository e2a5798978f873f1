//! What a sweep found: each run of the command, each case's verdict, the
//! whole report the renderers of [`super::report`] print.

use serde::Serialize;
use serde_json::json;

use super::case::{Case, DocOutcome, Mode};
use super::judge::DocJudgement;
use crate::audit::Verdicts;
use crate::runner::result::StepResult;

/// One run of the command.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRecord {
    pub run: u32,
    /// `None` when it was killed (timeout) or could not start.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u128,
    /// The last lines of its stdout and stderr.
    pub output_tail: String,
}

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub(crate) enum CaseStatus {
    Passed,
    Failed,
    NotApplicable(String),
    /// The case could not be set up or judged.
    Error(String),
}

impl CaseStatus {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            CaseStatus::Passed => "PASS",
            CaseStatus::Failed => "FAIL",
            CaseStatus::NotApplicable(_) => "n/a",
            CaseStatus::Error(_) => "ERROR",
        }
    }

    pub(crate) fn holds(&self) -> bool {
        matches!(self, CaseStatus::Passed | CaseStatus::NotApplicable(_))
    }
}

/// Everything known about one case after it ran.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseResult {
    pub name: String,
    pub source: String,
    pub description: String,
    pub status: CaseStatus,
    pub workspace: Option<String>,
    /// Whether the workspace is still there (`--keep`); else it was deleted
    /// after the case.
    pub workspace_kept: bool,
    pub mode: Option<Mode>,
    pub runs: Vec<RunRecord>,
    /// Whether a fault of the case acted on a call (`None`: no fault).
    pub fault_fired: Option<bool>,
    pub documents: Vec<DocJudgement>,
    pub contract_holds: bool,
    /// `Err` says why no verdicts could be read. In JSON:
    /// `{"findings": [...]}` or `{"unavailable": "why"}`.
    #[serde(serialize_with = "verdicts_json")]
    pub verdicts: Result<Verdicts, String>,
    pub expectations: Vec<StepResult>,
    /// Why the case failed, one line each, with the evidence.
    pub failures: Vec<String>,
    pub notes: Vec<String>,
}

fn verdicts_json<S: serde::Serializer>(
    v: &Result<Verdicts, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Ok(v) => v.serialize(s),
        Err(why) => json!({ "unavailable": why }).serialize(s),
    }
}

impl CaseResult {
    pub(super) fn new(c: &Case) -> CaseResult {
        CaseResult {
            name: c.name.clone(),
            source: c.source.clone(),
            description: c.description.clone(),
            status: CaseStatus::Passed,
            workspace: None,
            workspace_kept: false,
            mode: None,
            runs: Vec::new(),
            fault_fired: None,
            documents: Vec::new(),
            contract_holds: true,
            verdicts: Err("not read".into()),
            expectations: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Count of each outcome, in a fixed order.
    pub(crate) fn outcome_counts(&self) -> Vec<(DocOutcome, usize)> {
        [
            DocOutcome::Delivered,
            DocOutcome::Skipped,
            DocOutcome::Failed,
            DocOutcome::Untouched,
            DocOutcome::Broken,
        ]
        .into_iter()
        .map(|o| (o, self.documents.iter().filter(|d| d.outcome == o).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SweepReport {
    pub target: String,
    pub command: Vec<String>,
    pub cases: Vec<CaseResult>,
}

impl SweepReport {
    pub(crate) fn success(&self) -> bool {
        self.cases.iter().all(|c| c.status.holds())
    }

    pub(crate) fn summary_line(&self) -> String {
        let n = |f: fn(&CaseStatus) -> bool| self.cases.iter().filter(|c| f(&c.status)).count();
        format!(
            "{} passed, {} failed, {} not applicable",
            n(|s| *s == CaseStatus::Passed),
            n(|s| matches!(s, CaseStatus::Failed | CaseStatus::Error(_))),
            n(|s| matches!(s, CaseStatus::NotApplicable(_)))
        )
    }
}
