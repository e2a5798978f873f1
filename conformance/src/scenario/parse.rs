//! YAML → [`Scenario`], with located errors, and the checks serde cannot do.
//!
//! The YAML crate is used here and nowhere else.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::location::{did_you_mean, Location, ScenarioError};
use super::model::{Capture, ControlStep, Expect, Request, Scenario, Step};
use super::template::{references, value_references};
use crate::runner::jsonpath;

/// A parsed, validated scenario and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
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
    /// 1-based line of each step's `- ` marker.
    pub step_lines: Vec<usize>,
    /// 1-based column of each step's `- ` marker.
    pub step_columns: Vec<usize>,
}

impl LoadedScenario {
    pub fn step_location(&self, index: usize) -> Location {
        let line = self.step_lines.get(index).copied().unwrap_or(1);
        Location {
            file: self.path.clone(),
            line,
            column: self.step_columns.get(index).copied().unwrap_or(1),
        }
    }

    /// Whether any step writes to the API under test.
    pub fn sends_writes(&self) -> bool {
        self.scenario.steps.iter().any(|s| match s {
            Step::Request(r) => r.method.is_write(),
            Step::WaitUntil(w) => w.request.method.is_write(),
            Step::Parallel(p) => p.request.method.is_write(),
            Step::Control(_) => false,
        })
    }

    /// Whether the scenario needs the control API.
    pub fn needs_control(&self) -> bool {
        self.scenario.requires.control
            || self.scenario.fixtures.is_some()
            || self.scenario.seed.is_some()
            || self
                .scenario
                .steps
                .iter()
                .any(|s| matches!(s, Step::Control(_)))
    }
}

/// Variables every run defines.
pub const BUILTIN_VARS: &[&str] = &["api_key", "base_url", "workspace_id", "origin"];

/// The names serde knows at each level, for "did you mean" on unknown
/// variants (serde lists the expected fields itself for unknown fields).
const STEP_KINDS: &[&str] = &[
    "request",
    "control",
    "wait_until",
    "parallel",
    "webhook_receiver",
    "webhooks",
    "verdicts",
];

/// Parse and validate one file's text.
pub fn parse(path: &Path, id: &str, text: &str) -> Result<LoadedScenario, ScenarioError> {
    // Step kinds are externally tagged enums written as one-key maps
    // (`- request: {...}`), which serde_yaml_ng reads only through
    // `singleton_map_recursive` (its default is YAML tags, `!request`).
    let scenario: Scenario = serde_yaml_ng::with::singleton_map_recursive::deserialize(
        serde_yaml_ng::Deserializer::from_str(text),
    )
    .map_err(|e| yaml_error(path, text, &e))?;
    let loaded = LoadedScenario {
        path: path.to_owned(),
        id: id.to_owned(),
        library_root: path.parent().map(Path::to_owned).unwrap_or_default(),
        library_id: id.to_owned(),
        given_root: path.to_owned(),
        step_columns: step_lines(text)
            .iter()
            .map(|l| {
                let line = line_of(text, *l);
                line.len() - line.trim_start().len() + 1
            })
            .collect(),
        step_lines: step_lines(text),
        scenario,
    };
    validate(&loaded, text)?;
    Ok(loaded)
}

fn line_of(text: &str, line: usize) -> String {
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
    let suggestion = suggestion_for(&message);
    ScenarioError {
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

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (or
/// "unknown variant") and picks the closest expected name.
fn suggestion_for(message: &str) -> Option<String> {
    let kind = if message.contains("unknown field `") {
        "unknown field `"
    } else if message.contains("unknown variant `") {
        "unknown variant `"
    } else {
        return None;
    };
    let start = message.find(kind)? + kind.len();
    let word = &message[start..start + message[start..].find('`')?];
    let expected_part = &message[message.find("expected")?..];
    let candidates: Vec<&str> = expected_part.split('`').skip(1).step_by(2).collect();
    let candidates = if candidates.is_empty() {
        STEP_KINDS.to_vec()
    } else {
        candidates
    };
    did_you_mean(word, &candidates).map(str::to_owned)
}

/// The line of each item of the top-level `steps:` list.
fn step_lines(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_steps = false;
    let mut indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let this_indent = line.len() - trimmed.len();
        if !in_steps {
            if line.starts_with("steps:") {
                in_steps = true;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if this_indent == 0 && !trimmed.starts_with('-') {
            break;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match indent {
                None => {
                    indent = Some(this_indent);
                    out.push(i + 1);
                }
                Some(n) if n == this_indent => out.push(i + 1),
                _ => {}
            }
        }
    }
    out
}

struct Validator<'a> {
    loaded: &'a LoadedScenario,
    text: &'a str,
    defined: HashSet<String>,
    /// Names of the webhook receivers started so far.
    receivers: HashSet<String>,
}

impl Validator<'_> {
    /// An error at the first occurrence of `needle` inside step `index`
    /// (or at the step itself).
    fn error(&self, index: Option<usize>, needle: &str, message: String) -> ScenarioError {
        let (from, to) = match index {
            Some(i) => (
                self.loaded.step_lines.get(i).copied().unwrap_or(1),
                self.loaded
                    .step_lines
                    .get(i + 1)
                    .copied()
                    .unwrap_or(usize::MAX),
            ),
            None => (1, usize::MAX),
        };
        let mut location = Location {
            file: self.loaded.path.clone(),
            line: from,
            column: 1,
        };
        for (n, line) in self.text.lines().enumerate() {
            let n = n + 1;
            if n < from || n >= to {
                continue;
            }
            if let Some(col) = line.find(needle).filter(|_| !needle.is_empty()) {
                location.line = n;
                location.column = line[..col].chars().count() + 1;
                break;
            }
        }
        if needle.is_empty() || index.is_some() && location.column == 1 {
            let line = line_of(self.text, location.line);
            location.column = line.len() - line.trim_start().len() + 1;
        }
        ScenarioError {
            source_line: line_of(self.text, location.line),
            location,
            message,
            suggestion: None,
        }
    }

    fn check_refs(
        &self,
        index: usize,
        refs: Vec<String>,
        extra: &[&str],
    ) -> Result<(), ScenarioError> {
        for r in refs {
            if self.defined.contains(&r) || extra.contains(&r.as_str()) || r.starts_with("keys.") {
                continue;
            }
            let candidates: Vec<&str> = self
                .defined
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied())
                .collect();
            let mut e = self.error(
                Some(index),
                &format!("{{{{{r}"),
                format!(
                    "variable `{r}` is not defined here (define it under `vars:`, capture it in an earlier step, or list it in `requires.vars`)"
                ),
            );
            e.suggestion = did_you_mean(&r, &candidates).map(str::to_owned);
            if e.location.column == 1 {
                let needle = format!("{{{{ {r}");
                e = ScenarioError {
                    suggestion: e.suggestion,
                    ..self.error(Some(index), &needle, e.message.clone())
                };
            }
            return Err(e);
        }
        Ok(())
    }

    fn check_request(
        &self,
        index: usize,
        req: &Request,
        extra: &[&str],
    ) -> Result<(), ScenarioError> {
        let mut refs = references(&req.path);
        for (k, v) in &req.headers {
            refs.extend(references(k));
            refs.extend(references(v));
        }
        if let Some(b) = &req.body {
            refs.extend(value_references(b));
        }
        if let Some(b) = &req.raw_body {
            refs.extend(references(b));
        }
        if let Some(super::model::Auth::Bearer(t) | super::model::Auth::Raw(t)) = &req.auth {
            refs.extend(references(t));
        }
        if req.body.is_some() && req.raw_body.is_some() {
            return Err(self.error(
                Some(index),
                "raw_body",
                "a request has either `body` (JSON) or `raw_body`, not both".into(),
            ));
        }
        match (&req.url, req.path.is_empty()) {
            (Some(_), false) => {
                return Err(self.error(
                    Some(index),
                    "url",
                    "a request has either `path` (relative to the target) or `url` (absolute, on the target's origin), not both".into(),
                ))
            }
            (None, true) => {
                return Err(self.error(
                    Some(index),
                    "method",
                    "a request needs a `path` (or an absolute `url`)".into(),
                ))
            }
            (Some(url), true) => {
                refs.extend(references(url));
                if !url.starts_with("{{")
                    && !url.starts_with("http://")
                    && !url.starts_with("https://")
                {
                    return Err(self.error(
                        Some(index),
                        "url",
                        format!("url `{url}` must be absolute (http:// or https://), or a `{{{{var}}}}` holding one"),
                    ));
                }
            }
            (None, false) => {
                if !req.path.starts_with('/') && !req.path.starts_with("{{") {
                    return Err(self.error(
                        Some(index),
                        "path",
                        format!("path `{}` must start with `/`", req.path),
                    ));
                }
            }
        }
        self.check_refs(index, refs, extra)
    }

    fn check_expect(
        &self,
        index: usize,
        expect: &Expect,
        extra: &[&str],
    ) -> Result<(), ScenarioError> {
        let mut refs = Vec::new();
        for (path, check) in &expect.json {
            jsonpath::Path::parse(path).map_err(|e| self.error(Some(index), path, e))?;
            if let Some(re) = check.matches.as_ref().filter(|r| !r.contains("{{")) {
                regex::Regex::new(re).map_err(|e| {
                    self.error(Some(index), re, format!("bad regular expression: {e}"))
                })?;
            }
            if let Some(re) = &check.matches {
                refs.extend(references(re));
            }
            for v in [
                &check.equals,
                &check.not_equals,
                &check.contains,
                &check.not_contains,
            ]
            .into_iter()
            .flatten()
            {
                refs.extend(value_references(v));
            }
            for v in check
                .one_of
                .iter()
                .chain(check.each_one_of.iter())
                .flatten()
            {
                refs.extend(value_references(v));
            }
        }
        if expect.connection.is_some() && expect.checks_response() {
            return Err(self.error(
                Some(index),
                "connection",
                "`connection: dropped` expects no response, so it cannot be combined with checks on one (status, headers, json, …)".into(),
            ));
        }
        for (name, re) in &expect.headers.matches {
            refs.extend(references(re));
            if re.contains("{{") {
                continue;
            }
            regex::Regex::new(re).map_err(|e| {
                self.error(
                    Some(index),
                    name,
                    format!("bad regular expression for header `{name}`: {e}"),
                )
            })?;
        }
        for (name, path) in &expect.headers.equals_json {
            jsonpath::Path::parse(path).map_err(|e| self.error(Some(index), name, e))?;
        }
        for v in expect.body_contains.iter().chain(&expect.body_not_contains) {
            refs.extend(references(v));
        }
        for v in expect.headers.equals.values() {
            refs.extend(references(v));
        }
        if let Some(s) = &expect.schema {
            jsonpath::Path::parse(s.path()).map_err(|e| self.error(Some(index), "schema", e))?;
            let name = s.component();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(self.error(
                    Some(index),
                    "schema",
                    format!("schema `{name}` must be the name of a component under #/components/schemas"),
                ));
            }
        }
        if let Some(name) = &expect.snapshot {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(self.error(
                    Some(index),
                    "snapshot",
                    format!("snapshot name `{name}` may hold only letters, digits, `_` and `-`"),
                ));
            }
        }
        self.check_refs(index, refs, extra)
    }

    fn add_captures(
        &mut self,
        index: usize,
        captures: &indexmap::IndexMap<String, String>,
    ) -> Result<(), ScenarioError> {
        for (name, spec) in captures {
            Capture::parse(spec).map_err(|e| self.error(Some(index), spec, e))?;
            self.defined.insert(name.clone());
        }
        Ok(())
    }

    fn check_control(&mut self, index: usize, c: &ControlStep) -> Result<(), ScenarioError> {
        if let Some(r) = &c.webhook_receiver {
            return self.check_receiver(index, r);
        }
        if let Some(w) = &c.webhooks {
            return self.check_webhooks(index, w);
        }
        if c.verdicts.is_some() {
            return Ok(());
        }
        let actions = c.actions();
        if actions.len() != 1 {
            return Err(self.error(
                Some(index),
                "control",
                format!(
                    "a control step has exactly one action (seed_document, edit_document, fault, delete_fault, advance_clock, clock, call); found {}",
                    if actions.is_empty() { "none".to_owned() } else { actions.join(", ") }
                ),
            ));
        }
        if let Some(by) = &c.advance_clock {
            crate::runner::wait::parse_duration(by)
                .map_err(|e| self.error(Some(index), "advance_clock", e))?;
        }
        let mut refs = Vec::new();
        for v in [&c.seed_document, &c.fault, &c.clock].into_iter().flatten() {
            refs.extend(value_references(v));
        }
        if let Some(e) = &c.edit_document {
            refs.extend(references(&e.id));
            refs.extend(value_references(&e.fields));
        }
        if let Some(d) = &c.delete_fault {
            refs.extend(references(d));
        }
        if let Some(call) = &c.call {
            refs.extend(references(&call.path));
            if let Some(b) = &call.body {
                refs.extend(value_references(b));
            }
        }
        self.check_refs(index, refs, &[])?;
        self.check_expect(index, &c.expect, &[])
    }
}

impl Validator<'_> {
    fn check_receiver(
        &mut self,
        index: usize,
        r: &super::model::WebhookReceiver,
    ) -> Result<(), ScenarioError> {
        if r.name.is_empty()
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(self.error(
                Some(index),
                "name",
                format!(
                    "receiver name `{}` may hold only letters, digits, `_` and `-`",
                    r.name
                ),
            ));
        }
        if !self.receivers.insert(r.name.clone()) {
            return Err(self.error(
                Some(index),
                "name",
                format!("a receiver named `{}` was already started", r.name),
            ));
        }
        if r.respond.is_empty() {
            return Err(self.error(
                Some(index),
                "respond",
                "`respond` needs at least one status".into(),
            ));
        }
        if let Some(bad) = r.respond.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(self.error(
                Some(index),
                "respond",
                format!("{bad} is not an HTTP status"),
            ));
        }
        let mut refs = references(&r.secret);
        for e in &r.events {
            refs.extend(references(e));
        }
        self.check_refs(index, refs, &[])?;
        self.defined.insert(format!("receivers.{}", r.name));
        Ok(())
    }

    fn check_webhooks(
        &mut self,
        index: usize,
        w: &super::model::WebhooksStep,
    ) -> Result<(), ScenarioError> {
        if !self.receivers.contains(&w.receiver) {
            let known: Vec<&str> = self.receivers.iter().map(String::as_str).collect();
            let mut e = self.error(
                Some(index),
                "receiver",
                format!(
                    "no `webhook_receiver` step named `{}` comes before this step",
                    w.receiver
                ),
            );
            e.suggestion = did_you_mean(&w.receiver, &known).map(str::to_owned);
            return Err(e);
        }
        crate::runner::wait::parse_duration(&w.interval)
            .map_err(|e| self.error(Some(index), "interval", e))?;
        if w.expect.is_empty() && !w.only {
            return Err(self.error(
                Some(index),
                "expect",
                "`webhooks` needs at least one expected event (or `only: true` with none, to expect no delivery at all)".into(),
            ));
        }
        let mut refs = Vec::new();
        for e in &w.expect {
            refs.extend(references(&e.event_type));
            if let Some(id) = &e.id {
                refs.extend(references(id));
            }
            if let Some(d) = &e.data {
                refs.extend(value_references(d));
            }
        }
        self.check_refs(index, refs, &[])?;
        for e in &w.expect {
            for (name, path) in &e.capture {
                jsonpath::Path::parse(path).map_err(|err| self.error(Some(index), path, err))?;
                self.defined.insert(name.clone());
            }
        }
        Ok(())
    }
}

fn validate(loaded: &LoadedScenario, text: &str) -> Result<(), ScenarioError> {
    let s = &loaded.scenario;
    let mut v = Validator {
        loaded,
        text,
        defined: BUILTIN_VARS.iter().map(|s| (*s).to_owned()).collect(),
        receivers: HashSet::new(),
    };
    v.defined.extend(s.vars.keys().cloned());
    v.defined.extend(s.requires.vars.iter().cloned());
    if s.source.trim().is_empty() {
        return Err(v.error(
            None,
            "source:",
            "`source` must name the seed or docs section that states the rule".into(),
        ));
    }
    if s.steps.is_empty() {
        return Err(v.error(None, "steps:", "a scenario needs at least one step".into()));
    }
    if loaded.step_lines.len() != s.steps.len() {
        // Flow-style lists (`steps: [..]`) have no per-step lines; fall back.
        return Err(v.error(None, "steps:", "write `steps:` as a block list (one `- ` per step) so that failures can point at their step".into()));
    }
    if loaded.needs_control() && !s.requires.control {
        return Err(v.error(
            None,
            "requires",
            "this scenario uses the control API (a control or webhook step, `fixtures` or `seed`) but does not declare `requires: {control: true}`".into(),
        ));
    }
    if loaded.sends_writes() && !s.requires.writes {
        let index = s.steps.iter().position(|st| match st {
            Step::Request(r) => r.method.is_write(),
            Step::WaitUntil(w) => w.request.method.is_write(),
            Step::Parallel(p) => p.request.method.is_write(),
            Step::Control(_) => false,
        });
        return Err(v.error(
            index,
            "method",
            "this step sends a write (POST/PUT/PATCH/DELETE) but the scenario does not declare `requires: {writes: true}`".into(),
        ));
    }
    for (i, step) in s.steps.iter().enumerate() {
        match step {
            Step::Request(r) => {
                v.check_request(i, &r.request(), &[])?;
                v.check_expect(i, &r.expect, &[])?;
                v.add_captures(i, &r.capture)?;
            }
            Step::Control(c) => {
                v.check_control(i, c)?;
                v.add_captures(i, &c.capture)?;
            }
            Step::WaitUntil(w) => {
                v.check_request(i, &w.request, &[])?;
                v.check_expect(i, &w.until, &[])?;
                v.check_expect(i, &w.expect, &[])?;
                crate::runner::wait::parse_duration(&w.interval)
                    .map_err(|e| v.error(Some(i), "interval", e))?;
                if w.until.is_empty() {
                    return Err(v.error(
                        Some(i),
                        "until",
                        "`until` needs at least one check".into(),
                    ));
                }
                v.add_captures(i, &w.capture)?;
            }
            Step::Parallel(p) => {
                v.check_request(i, &p.request, &["index"])?;
                v.check_expect(i, &p.each, &["index"])?;
                if p.count < 2 {
                    return Err(v.error(
                        Some(i),
                        "count",
                        "`parallel` needs a `count` of at least 2".into(),
                    ));
                }
                let total: usize = p.statuses.values().sum();
                if !p.statuses.is_empty() && total != p.count {
                    return Err(v.error(
                        Some(i),
                        "statuses",
                        format!(
                            "`statuses` counts add up to {total}, but `count` is {}",
                            p.count
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The scenario files of a library: `*.yaml`/`*.yml` below `root`, except
/// under `fixtures/`, sorted by path.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
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
pub fn load_all(roots: &[PathBuf]) -> (Vec<LoadedScenario>, Vec<ScenarioError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        let files = match discover(root) {
            Ok(f) => f,
            Err(e) => {
                errors.push(ScenarioError {
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
        for file in files {
            let id = scenario_id(root, &file);
            match std::fs::read_to_string(&file) {
                Ok(text) => match parse(&file, &id, &text) {
                    Ok(mut s) => {
                        s.library_id = scenario_id(&library, &file);
                        s.library_root = library.clone();
                        s.given_root = root.clone();
                        ok.push(s)
                    }
                    Err(e) => errors.push(e),
                },
                Err(e) => errors.push(ScenarioError {
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

/// The file that marks the top of a scenario library.
pub const LIBRARY_MARKER: &str = "scenario.schema.json";

/// The library a root belongs to: the nearest directory at or above it
/// (above its file, for a file) that holds [`LIBRARY_MARKER`]; without
/// one, the root itself (a file's directory), as before.
pub fn library_root(root: &Path) -> PathBuf {
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
        assert_eq!(s.step_lines, vec![5, 12]);
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
