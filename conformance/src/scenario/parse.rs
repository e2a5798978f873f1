//! YAML → [`Scenario`], with located errors, and the checks serde cannot do.
//!
//! The YAML crate is used here and nowhere else.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::locate::{key, locate, Seg};
use super::location::{did_you_mean, ErrorKind, Location, ScenarioError};
use super::model::{Scenario, Step};
use super::validate::validate;
use crate::coverage::{Catalogue, CATALOGUE_FILE};

/// A parsed, validated scenario and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct LoadedScenario {
    /// The path as given or found (relative to the working directory when
    /// the library was given relatively).
    pub path: PathBuf,
    /// The path relative to the library root, `/`-separated: the scenario's
    /// id in reports and snapshot names.
    pub id: String,
    /// The library the file belongs to: the nearest directory at or above
    /// the given root that holds `scenario.schema.json`, else the given root
    /// (its parent for a file). Its sibling `snapshots/` holds the
    /// snapshots, whichever subdirectory was run.
    pub library_root: PathBuf,
    /// The path relative to `library_root`, `/`-separated: what snapshot
    /// files are named after, so that they are found from a subdirectory
    /// run too (`id` stays relative to the root given).
    pub library_id: String,
    /// The root this file was found under, as given on the command line.
    pub given_root: PathBuf,
    pub scenario: Scenario,
    /// 1-based line and column of each step, as the YAML parser saw it.
    pub step_locations: Vec<(usize, usize)>,
    /// Ids of the documented endpoints its requests reach (empty when the
    /// library has no rules catalogue).
    pub endpoints: Vec<String>,
    /// Workspace keys it uses (`{{keys.<name>}}`): a fake makes them; a
    /// deployment needs them as `--var keys.<name>=KEY`.
    pub keys: Vec<String>,
}

impl LoadedScenario {
    pub(crate) fn step_location(&self, index: usize) -> Location {
        let (line, column) = self.step_locations.get(index).copied().unwrap_or((1, 1));
        Location {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// Whether any step writes to the API under test.
    pub(crate) fn sends_writes(&self) -> bool {
        self.scenario
            .steps
            .iter()
            .any(|s| s.api_request().is_some_and(|(m, _)| m.is_write()))
    }

    /// Whether any step dispatches a document or a workflow run.
    pub(crate) fn dispatches(&self) -> bool {
        self.scenario.steps.iter().any(|s| {
            s.api_request()
                .is_some_and(|(m, p)| m.is_write() && crate::target::is_dispatch(p))
        })
    }

    /// Whether the scenario needs the control API.
    pub(crate) fn needs_control(&self) -> bool {
        self.scenario.requires.control
            || self.scenario.fixtures.is_some()
            || self.scenario.seed.is_some()
            || self.scenario.steps.iter().any(Step::needs_control)
    }
}

/// Parse and validate one file's text.
pub(crate) fn parse(path: &Path, id: &str, text: &str) -> Result<LoadedScenario, ScenarioError> {
    // Step kinds are externally tagged enums written as one-key maps
    // (`- request: {...}`), which serde_yaml_ng reads only through
    // `singleton_map_recursive` (its default is YAML tags, `!request`).
    let scenario: Scenario = serde_yaml_ng::with::singleton_map_recursive::deserialize(
        serde_yaml_ng::Deserializer::from_str(text),
    )
    .map_err(|e| yaml_error(path, text, &e))?;
    let step_locations = (0..scenario.steps.len())
        .map(|i| locate(text, &[key("steps"), Seg::Index(i)]).unwrap_or((1, 1)))
        .collect();
    let loaded = LoadedScenario {
        path: path.to_owned(),
        id: id.to_owned(),
        library_root: path.parent().map(Path::to_owned).unwrap_or_default(),
        library_id: id.to_owned(),
        given_root: path.to_owned(),
        step_locations,
        endpoints: Vec::new(),
        keys: Vec::new(),
        scenario,
    };
    let keys = validate(&loaded, text)?;
    Ok(LoadedScenario { keys, ..loaded })
}

/// The text of a 1-based line (empty past the end).
pub(crate) fn line_of(text: &str, line: usize) -> String {
    text.lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .to_owned()
}

fn yaml_error(path: &Path, text: &str, e: &serde_yaml_ng::Error) -> ScenarioError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let mut message = e.to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    let (kind, suggestion) = classify(&message);
    ScenarioError {
        kind,
        location: Location {
            file: path.to_owned(),
            line,
            column,
        },
        source_line: line_of(text, line),
        message,
        suggestion,
    }
}

/// Sorts a serde message into an error kind and, for an unknown name,
/// picks the closest expected one. serde words these messages itself
/// (`unknown field `x`, expected one of `a`, `b``), the same for every
/// format, and exposes no other handle on them.
fn classify(message: &str) -> (ErrorKind, Option<String>) {
    let (kind, marker) = if message.contains("unknown field `") {
        (ErrorKind::UnknownField, "unknown field `")
    } else if message.contains("unknown variant `") {
        (ErrorKind::UnknownKind, "unknown variant `")
    } else {
        return (ErrorKind::Syntax, None);
    };
    let suggestion = (|| {
        let start = message.find(marker)? + marker.len();
        let word = &message[start..start + message[start..].find('`')?];
        let expected_part = &message[message.find("expected")?..];
        let candidates: Vec<&str> = expected_part.split('`').skip(1).step_by(2).collect();
        let candidates = if candidates.is_empty() {
            Step::KINDS.to_vec()
        } else {
            candidates
        };
        did_you_mean(word, &candidates).map(str::to_owned)
    })();
    (kind, suggestion)
}

/// The scenario files of a library: `*.yaml`/`*.yml` below `root`, except
/// under `fixtures/`, sorted by path.
pub(crate) fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "fixtures") {
                    continue;
                }
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == CATALOGUE_FILE) {
                // The rules catalogue, not a scenario.
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Parse every file of every root; collect all errors, do not stop at the
/// first.
pub(crate) fn load_all(roots: &[PathBuf]) -> (Vec<LoadedScenario>, Vec<ScenarioError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        let files = match discover(root) {
            Ok(f) => f,
            Err(e) => {
                errors.push(ScenarioError {
                    kind: ErrorKind::Io,
                    location: Location {
                        file: root.clone(),
                        line: 1,
                        column: 1,
                    },
                    source_line: String::new(),
                    message: format!("cannot read scenario library: {e}"),
                    suggestion: None,
                });
                continue;
            }
        };
        let library = library_root(root);
        let catalogue = match Catalogue::load(&library) {
            Ok(c) => c,
            Err(message) => {
                errors.push(ScenarioError {
                    kind: ErrorKind::Syntax,
                    location: Location {
                        file: library.join(CATALOGUE_FILE),
                        line: 1,
                        column: 1,
                    },
                    source_line: String::new(),
                    message,
                    suggestion: None,
                });
                None
            }
        };
        for file in files {
            let id = scenario_id(root, &file);
            match std::fs::read_to_string(&file) {
                Ok(text) => match parse(&file, &id, &text)
                    .and_then(|s| cite_known_rules(s, catalogue.as_ref(), &text))
                {
                    Ok(mut s) => {
                        s.library_id = scenario_id(&library, &file);
                        s.library_root = library.clone();
                        s.given_root = root.clone();
                        if let Some(c) = &catalogue {
                            s.endpoints = c.endpoints_of(&s);
                        }
                        ok.push(s)
                    }
                    Err(e) => errors.push(e),
                },
                Err(e) => errors.push(ScenarioError {
                    kind: ErrorKind::Io,
                    location: Location {
                        file: file.clone(),
                        line: 1,
                        column: 1,
                    },
                    source_line: String::new(),
                    message: format!("cannot read file: {e}"),
                    suggestion: None,
                }),
            }
        }
    }
    let mut seen = HashSet::new();
    for s in &ok {
        if !seen.insert(s.id.clone()) {
            errors.push(ScenarioError {
                kind: ErrorKind::DuplicateId,
                location: Location {
                    file: s.path.clone(),
                    line: 1,
                    column: 1,
                },
                source_line: String::new(),
                message: format!("scenario id `{}` appears twice", s.id),
                suggestion: None,
            });
        }
    }
    (ok, errors)
}

/// Every rule id a scenario cites must be in the library's catalogue.
fn cite_known_rules(
    s: LoadedScenario,
    catalogue: Option<&Catalogue>,
    text: &str,
) -> Result<LoadedScenario, ScenarioError> {
    let Some(c) = catalogue else {
        return Ok(s);
    };
    let known: Vec<&str> = c.rules.iter().map(|r| r.id.as_str()).collect();
    for (i, id) in s.scenario.rules.iter().enumerate() {
        if known.contains(&id.as_str()) {
            continue;
        }
        let (line, column) = locate(text, &[key("rules"), Seg::Index(i)]).unwrap_or((1, 1));
        return Err(ScenarioError {
            kind: ErrorKind::Invalid,
            location: Location {
                file: s.path.clone(),
                line,
                column,
            },
            source_line: line_of(text, line),
            message: format!(
                "rule `{id}` is not in {CATALOGUE_FILE} (R01…R{:02})",
                known.len()
            ),
            suggestion: did_you_mean(id, &known).map(str::to_owned),
        });
    }
    Ok(s)
}

/// The file that marks the top of a scenario library.
pub(crate) const LIBRARY_MARKER: &str = "scenario.schema.json";

/// The library a root belongs to: the nearest directory at or above it
/// (above its file, for a file) that holds [`LIBRARY_MARKER`]; without
/// one, the root itself (a file's directory), as before.
pub(crate) fn library_root(root: &Path) -> PathBuf {
    let start = if root.is_file() {
        root.parent().map(Path::to_owned).unwrap_or_default()
    } else {
        root.to_owned()
    };
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        let probe = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        if probe.join(LIBRARY_MARKER).is_file() {
            return d.to_owned();
        }
        dir = d.parent();
    }
    start
}

fn scenario_id(root: &Path, file: &Path) -> String {
    let rel = if root.is_file() {
        file.file_name().map(PathBuf::from).unwrap_or_default()
    } else {
        file.strip_prefix(root).unwrap_or(file).to_owned()
    };
    let s: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    s.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<LoadedScenario, ScenarioError> {
        parse(Path::new("t.yaml"), "t", text)
    }

    const OK: &str = "name: n\nsource: seed 000\nlevel: documented\nsteps:\n  - request:\n      method: GET\n      path: /v1/x\n      expect:\n        status: 200\n      capture:\n        id: $.data.id\n  - request:\n      method: GET\n      path: /v1/x/{{id}}\n";

    #[test]
    fn parses_a_valid_scenario_and_finds_step_lines() {
        let s = p(OK).unwrap();
        assert_eq!(s.step_locations, vec![(5, 5), (12, 5)]);
        assert!(!s.sends_writes());
    }

    #[test]
    fn unknown_field_is_located_with_a_suggestion() {
        let text = OK.replace("      expect:", "      expct:");
        let e = p(&text).unwrap_err();
        assert_eq!(e.location.line, 8, "{e}");
        assert_eq!(e.suggestion.as_deref(), Some("expect"), "{e}");
        assert!(e.to_string().contains("t.yaml:8:"), "{e}");
    }

    #[test]
    fn unknown_step_kind_is_suggested() {
        let text = OK.replace(
            "  - request:\n      method: GET\n      path: /v1/x\n",
            "  - requst:\n      method: GET\n      path: /v1/x\n",
        );
        let e = p(&text).unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("request"), "{e}");
    }

    #[test]
    fn undefined_variable_is_an_error() {
        let text = OK.replace("{{id}}", "{{idd}}");
        let e = p(&text).unwrap_err();
        assert!(e.message.contains("`idd`"), "{e}");
        assert_eq!(e.location.line, 14, "{e}");
        assert_eq!(e.suggestion.as_deref(), Some("id"));
    }

    #[test]
    fn a_control_step_has_exactly_one_action() {
        let text = "name: n\nsource: s\nlevel: fake\nrequires: {control: true}\nsteps:\n  - control:\n      advance_clock: 5s\n      clock: {mode: frozen}\n";
        let e = p(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
        assert!(e.message.contains("exactly one action"), "{e}");
        assert!(e.message.contains("found advance_clock, clock"), "{e}");
        assert!((6..=8).contains(&e.location.line), "{e}");
        let e =
            p(&text.replace("      clock: {mode: frozen}\n", "")).map(|s| s.scenario.steps.len());
        assert_eq!(e.unwrap(), 1);
    }

    #[test]
    fn flow_style_steps_are_located_by_the_parser() {
        let text = "name: n\nsource: s\nlevel: documented\nsteps: [{request: {method: GET, path: /v1/x}}, {request: {method: GET, path: '/v1/{{nope}}'}}]\n";
        let e = p(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UndefinedVariable, "{e}");
        assert_eq!((e.location.line, e.location.column), (4, 83), "{e}");
        let ok = p(&text.replace("{{nope}}", "y")).unwrap();
        assert_eq!(ok.step_locations, vec![(4, 9), (4, 48)]);
    }

    #[test]
    fn writes_must_be_declared() {
        let text = OK.replace(
            "method: GET\n      path: /v1/x\n      expect",
            "method: POST\n      path: /v1/x\n      expect",
        );
        let e = p(&text).unwrap_err();
        assert!(e.message.contains("writes"), "{e}");
        assert_eq!(e.location.line, 6, "{e}");
    }
}
