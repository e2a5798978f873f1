//! Honest coverage: which documented rules and endpoints a run checked.
//!
//! The catalogue is `rules.yaml` at the top of the scenario library: the
//! documented rules (R01…) and endpoints (E01…) with stable ids. Scenarios
//! cite rule ids (`rules: [R28]`); the endpoints a scenario exercises are
//! read from its requests. A rule is *checked* when a scenario citing it
//! ran (passed or failed); every rule of the catalogue counts in the
//! total, so a rule no scenario cites lowers the percentage.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::runner::result::{Outcome, RunReport};
use crate::scenario::model::Step;
use crate::scenario::parse::LoadedScenario;

/// The file, at the library root, that lists the documented rules.
pub(crate) const CATALOGUE_FILE: &str = "rules.yaml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    pub id: String,
    #[allow(dead_code)] // documentation for people
    pub evidence: String,
    #[allow(dead_code)] // documentation for people
    pub area: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Endpoint {
    pub id: String,
    pub method: String,
    pub path: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Catalogue {
    pub rules: Vec<Rule>,
    pub endpoints: Vec<Endpoint>,
}

impl Catalogue {
    /// The catalogue of a library, if it has one.
    pub(crate) fn load(library_root: &Path) -> Result<Option<Catalogue>, String> {
        let path = library_root.join(CATALOGUE_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        serde_yaml_ng::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The endpoint ids a scenario's requests reach.
    pub(crate) fn endpoints_of(&self, s: &LoadedScenario) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for step in &s.scenario.steps {
            let Some((method, path)) = step_request(step) else {
                continue;
            };
            for e in &self.endpoints {
                if e.method == method && template_matches(&e.path, &path) && !out.contains(&e.id) {
                    out.push(e.id.clone());
                }
            }
        }
        out
    }
}

fn step_request(step: &Step) -> Option<(&'static str, String)> {
    let (method, path) = step.api_request()?;
    Some((
        method.as_str(),
        path.split('?').next().unwrap_or("").to_owned(),
    ))
}

/// `/v1/documents/{id}/delivery` matches `/v1/documents/{{doc}}/delivery`:
/// a `{…}` segment of the template takes any segment, and a segment of the
/// scenario that holds a `{{variable}}` matches any template segment.
fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || t.starts_with('{') || p.contains("{{"))
}

/// Where one rule or endpoint stands after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Passed,
    Failed,
    /// Every scenario citing it was skipped.
    Skipped,
    /// No selected scenario cites it.
    NotCovered,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Item {
    pub id: String,
    /// The rule's text, or `METHOD path` of an endpoint.
    pub what: String,
    pub status: Status,
    pub scenarios: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Coverage {
    pub rules: Vec<Item>,
    pub endpoints: Vec<Item>,
}

fn status_of(outcomes: &[&Outcome]) -> Status {
    if outcomes.is_empty() {
        Status::NotCovered
    } else if outcomes.iter().any(|o| **o == Outcome::Failed) {
        Status::Failed
    } else if outcomes.iter().any(|o| **o == Outcome::Passed) {
        Status::Passed
    } else {
        Status::Skipped
    }
}

impl Coverage {
    pub(crate) fn compute(catalogue: &Catalogue, report: &RunReport) -> Coverage {
        let item =
            |id: &str,
             what: String,
             cites: &dyn Fn(&crate::runner::result::ScenarioResult) -> bool| {
                let hits: Vec<_> = report.scenarios.iter().filter(|s| cites(s)).collect();
                Item {
                    id: id.to_owned(),
                    what,
                    status: status_of(&hits.iter().map(|s| &s.outcome).collect::<Vec<_>>()),
                    scenarios: hits.iter().map(|s| s.id.clone()).collect(),
                }
            };
        Coverage {
            rules: catalogue
                .rules
                .iter()
                .map(|r| item(&r.id, r.text.clone(), &|s| s.rules.contains(&r.id)))
                .collect(),
            endpoints: catalogue
                .endpoints
                .iter()
                .map(|e| {
                    item(&e.id, format!("{} {}", e.method, e.path), &|s| {
                        s.endpoints.contains(&e.id)
                    })
                })
                .collect(),
        }
    }

    fn count(items: &[Item], status: Status) -> usize {
        items.iter().filter(|i| i.status == status).count()
    }

    /// Rules checked (passed or failed) out of all documented rules.
    pub(crate) fn checked(&self) -> usize {
        Self::count(&self.rules, Status::Passed) + Self::count(&self.rules, Status::Failed)
    }

    /// The percentage of documented rules checked, rounded down.
    pub(crate) fn percent(&self) -> usize {
        (self.checked() * 100)
            .checked_div(self.rules.len())
            .unwrap_or(100)
    }

    /// The lines of the human report.
    pub(crate) fn lines(&self) -> Vec<String> {
        let r = &self.rules;
        let e = &self.endpoints;
        let exercised = Self::count(e, Status::Passed) + Self::count(e, Status::Failed);
        let mut out = vec![
            format!(
                "checked {} of {} documented rules ({}%): {} passed, {} failed, {} only skipped, {} cited by no scenario run",
                self.checked(),
                r.len(),
                self.percent(),
                Self::count(r, Status::Passed),
                Self::count(r, Status::Failed),
                Self::count(r, Status::Skipped),
                Self::count(r, Status::NotCovered),
            ),
            format!(
                "exercised {exercised} of {} documented operations: {} passed, {} failed, {} only skipped, {} not exercised",
                e.len(),
                Self::count(e, Status::Passed),
                Self::count(e, Status::Failed),
                Self::count(e, Status::Skipped),
                Self::count(e, Status::NotCovered),
            ),
        ];
        let missing: Vec<&str> = e
            .iter()
            .filter(|i| i.status == Status::NotCovered)
            .map(|i| i.what.as_str())
            .collect();
        if !missing.is_empty() {
            out.push(format!("  not exercised: {}", missing.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_paths_with_variables() {
        assert!(template_matches(
            "/v1/documents/{id}/delivery",
            "/v1/documents/{{doc}}/delivery"
        ));
        assert!(template_matches("/v1/documents/{id}", "/v1/documents/abc"));
        assert!(!template_matches(
            "/v1/documents/{id}",
            "/v1/documents/abc/result"
        ));
        assert!(!template_matches("/v1/schemas", "/v1/destinations"));
    }
}
