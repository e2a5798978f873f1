//! Sweep cases: the built-in catalog (`catalog.yaml`, embedded) and the
//! cases a user adds with `--cases FILE`.
//!
//! A case is YAML in the scenario format's vocabulary: fault rules and seeded
//! documents as the control API takes them, workspace settings, the clock,
//! extra control calls, and expectations written as scenario steps.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::model::{ControlCall, Step};

/// The delivery mode a client uses (seed 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// The client writes to Dataverse itself and records each attempt with
    /// `POST /v1/documents/{id}/delivery`.
    Executor,
    /// The client calls `POST /v1/documents/{id}/dispatch` and Numora's
    /// workflow writes.
    Dispatch,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Executor => "executor",
            Mode::Dispatch => "dispatch",
        }
    }
}

/// Where an eligible document may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DocOutcome {
    /// `push_succeeded`, a `succeeded` attempt, its invoice row with every
    /// line item.
    Delivered,
    /// `push_succeeded`, a `skipped` attempt with `supplier_not_found` or
    /// `team_not_found`, no row.
    Skipped,
    /// `push_failed`, back in the outbox, a `failed` attempt with an
    /// `error_code`.
    Failed,
    /// No new attempt, no row, still in the outbox.
    Untouched,
    /// None of the above (the problems say why).
    Broken,
}

impl DocOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DocOutcome::Delivered => "delivered",
            DocOutcome::Skipped => "skipped",
            DocOutcome::Failed => "failed",
            DocOutcome::Untouched => "untouched",
            DocOutcome::Broken => "broken",
        }
    }
}

/// Whether a non-zero exit of the command fails the case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ExitRule {
    /// Reported, never a failure (n8n exits 1 when a node errors, which a
    /// good flow may allow under a fault).
    #[default]
    Any,
    /// Every run must exit 0.
    Zero,
}

fn default_allow() -> Vec<DocOutcome> {
    vec![DocOutcome::Delivered, DocOutcome::Skipped]
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The doc page or rule the case rests on.
    pub source: String,
    /// Modes the case applies to (empty: both).
    #[serde(default)]
    pub modes: Vec<Mode>,
    /// A fixture for the workspace (overrides `--fixtures`).
    #[serde(default)]
    pub fixtures: Option<Value>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// `PATCH …/settings` before the runs.
    #[serde(default)]
    pub settings: Option<Value>,
    /// `PATCH …/clock` before the runs.
    #[serde(default)]
    pub clock: Option<Value>,
    /// Documents to seed (`POST …/documents`).
    #[serde(default)]
    pub documents: Vec<Value>,
    /// Any other control call, relative to the workspace.
    #[serde(default)]
    pub setup: Vec<ControlCall>,
    /// Fault rules (`POST …/faults`). When there are any, the case applies
    /// only if one of them acted on a call.
    #[serde(default)]
    pub faults: Vec<Value>,
    /// A `journal/count` query that must count at least one entry for the
    /// case to apply (for failures that are not fault rules).
    #[serde(default)]
    pub applies_if_journal: Option<String>,
    /// The outcomes an eligible document may end in.
    #[serde(default = "default_allow")]
    pub allow: Vec<DocOutcome>,
    #[serde(default)]
    pub exit: ExitRule,
    /// Runs of the command (overrides `--runs`).
    #[serde(default)]
    pub runs: Option<u32>,
    /// Scenario steps run after the verdicts are read (request, control,
    /// wait_until, verdicts): the case's own expectations.
    #[serde(default)]
    pub expect: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

const CATALOG: &str = include_str!("catalog.yaml");

fn parse(text: &str, what: &str) -> Result<Vec<Case>, String> {
    // Steps are one-key maps (`- request: {...}`), as in scenario files.
    let file: CaseFile = serde_yaml_ng::with::singleton_map_recursive::deserialize(
        serde_yaml_ng::Deserializer::from_str(text),
    )
    .map_err(|e| format!("{what}: {e}"))?;
    let mut seen = std::collections::HashSet::new();
    for c in &file.cases {
        if !seen.insert(c.name.clone()) {
            return Err(format!("{what}: case `{}` is defined twice", c.name));
        }
        if c.allow.is_empty() {
            return Err(format!(
                "{what}: case `{}` allows no outcome; list some in `allow`",
                c.name
            ));
        }
    }
    Ok(file.cases)
}

/// The built-in catalog.
pub(crate) fn catalog() -> Vec<Case> {
    parse(CATALOG, "the built-in catalog").expect("the embedded catalog parses")
}

/// The catalog plus the cases of `extra` (a case with a catalog name
/// replaces it; others are added at the end).
pub(crate) fn load(extra: Option<&Path>) -> Result<Vec<Case>, String> {
    let mut cases = catalog();
    if let Some(path) = extra {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --cases {}: {e}", path.display()))?;
        for c in parse(&text, &path.display().to_string())? {
            match cases.iter_mut().find(|k| k.name == c.name) {
                Some(slot) => *slot = c,
                None => cases.push(c),
            }
        }
    }
    Ok(cases)
}

/// Keep the cases named in `only` (in catalog order); an unknown name is
/// an error listing the known ones.
pub(crate) fn select(cases: Vec<Case>, only: &[String]) -> Result<Vec<Case>, String> {
    if only.is_empty() {
        return Ok(cases);
    }
    for name in only {
        if !cases.iter().any(|c| &c.name == name) {
            let known: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
            let hint = crate::scenario::location::did_you_mean(name, &known)
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(format!(
                "--only: no case named `{name}`; {hint}valid names: {}",
                known.join(", ")
            ));
        }
    }
    Ok(cases
        .into_iter()
        .filter(|c| only.contains(&c.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_the_seventeen_named_cases_each_with_a_source() {
        let names: Vec<String> = catalog().into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "clean",
                "numora_429_outbox",
                "numora_5xx_result",
                "dispatch_409",
                "dataverse_429_invoice_create",
                "dataverse_429_line_item",
                "dataverse_500_line_item",
                "dataverse_token_expired_mid_run",
                "supplier_miss",
                "owner_team_missing",
                "callback_response_lost",
                "callback_connection_dropped",
                "outbox_two_pages",
                "slow_outbox",
                "inactive_connection",
                "webhook_duplicate",
                "webhook_bad_signature",
            ]
        );
        assert!(catalog().iter().all(|c| !c.source.trim().is_empty()));
    }

    #[test]
    fn a_user_file_replaces_by_name_and_adds_and_only_rejects_unknown_names() {
        let dir = std::env::temp_dir().join(format!("sweep-cases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cases.yaml");
        std::fs::write(
            &file,
            "cases:\n  - name: clean\n    source: mine\n    allow: [delivered]\n  - name: mine\n    source: x\n    expect:\n      - verdicts: {none_at_or_above: warning}\n",
        )
        .unwrap();
        let cases = load(Some(&file)).unwrap();
        assert_eq!(cases.len(), 18);
        assert_eq!(cases[0].source, "mine");
        assert_eq!(cases[0].allow, vec![DocOutcome::Delivered]);
        assert_eq!(cases[17].expect[0].kind(), "verdicts");
        let err = select(cases, &["nope".into()]).unwrap_err();
        assert!(
            err.contains("no case named `nope`") && err.contains("clean"),
            "{err}"
        );
        std::fs::write(
            &file,
            "cases:\n  - name: x\n    source: y\n    fautls: []\n",
        )
        .unwrap();
        let err = load(Some(&file)).unwrap_err();
        assert!(err.contains("unknown field `fautls`"), "{err}");
    }
}
