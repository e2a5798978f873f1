//! The checks serde cannot do: variables defined before use, JSON paths
//! and regular expressions that compile, declared writes and control use.
//!
//! Each error names the node it is about by a structural path
//! (`steps[2].request.path`); the YAML parser then says where that node is
//! ([`super::locate`]).

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::Value;

use super::locate::{key, locate, Seg, YamlPath};
use super::location::{did_you_mean, ErrorKind, Location, ScenarioError};
use super::model::{Auth, Capture, ControlAction, ControlStep, Expect, Request, Step};
use super::parse::{line_of, LoadedScenario};
use super::template::references;
use crate::runner::jsonpath;

/// Variables every run defines.
pub(crate) const BUILTIN_VARS: &[&str] =
    &["api_key", "base_url", "workspace_id", "origin", "run_id"];

/// A `{{name}}` reference and the node it was found in.
type Ref = (YamlPath, String);

fn join(base: &[Seg], more: impl IntoIterator<Item = Seg>) -> YamlPath {
    let mut p = base.to_vec();
    p.extend(more);
    p
}

fn text_refs(path: YamlPath, text: &str, out: &mut Vec<Ref>) {
    for r in references(text) {
        out.push((path.clone(), r));
    }
}

/// Every reference in a JSON value, with the node it sits in.
fn value_refs(path: &[Seg], v: &Value, out: &mut Vec<Ref>) {
    match v {
        Value::String(s) => text_refs(path.to_vec(), s, out),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                value_refs(&join(path, [Seg::Index(i)]), x, out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                text_refs(join(path, [Seg::KeyName(k.clone())]), k, out);
                value_refs(&join(path, [Seg::Key(k.clone())]), x, out);
            }
        }
        _ => {}
    }
}

struct Validator<'a> {
    loaded: &'a LoadedScenario,
    text: &'a str,
    defined: HashSet<String>,
    /// Names of the webhook receivers started so far.
    receivers: HashSet<String>,
    /// `{{keys.<name>}}` names used (the workspace's extra API keys).
    keys: std::cell::RefCell<Vec<String>>,
}

type Checked = Result<(), ScenarioError>;

impl Validator<'_> {
    /// An error about the node at `path`, located by the parser (at the
    /// nearest enclosing node that exists when the path's end does not).
    fn error(&self, kind: ErrorKind, path: &[Seg], message: String) -> ScenarioError {
        let mut at = path;
        let (line, column) = loop {
            if let Some(found) = locate(self.text, at) {
                break found;
            }
            match at.split_last() {
                Some((_, rest)) if !rest.is_empty() => at = rest,
                _ => break (1, 1),
            }
        };
        ScenarioError {
            kind,
            location: Location {
                file: self.loaded.path.clone(),
                line,
                column,
            },
            source_line: line_of(self.text, line),
            message,
            suggestion: None,
        }
    }

    fn check_refs(&self, refs: Vec<Ref>, extra: &[&str]) -> Checked {
        for (path, r) in refs {
            if let Some(name) = r.strip_prefix("keys.") {
                let mut keys = self.keys.borrow_mut();
                if !keys.iter().any(|k| k == name) {
                    keys.push(name.to_owned());
                }
                continue;
            }
            if self.defined.contains(&r) || extra.contains(&r.as_str()) {
                continue;
            }
            let candidates: Vec<&str> = self
                .defined
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied())
                .collect();
            let mut e = self.error(
                ErrorKind::UndefinedVariable,
                &path,
                format!(
                    "variable `{r}` is not defined here (define it under `vars:`, capture it in an earlier step, or list it in `requires.vars`)"
                ),
            );
            // The parser gives the scalar; point inside it at the reference
            // when it is on that line.
            let line = &e.source_line;
            let from = line
                .char_indices()
                .nth(e.location.column.saturating_sub(1))
                .map_or(0, |(i, _)| i);
            let hit = [format!("{{{{{r}"), format!("{{{{ {r}")]
                .iter()
                .filter_map(|n| line[from..].find(n.as_str()))
                .min();
            if let Some(off) = hit {
                e.location.column = line[..from + off].chars().count() + 1;
            }
            e.suggestion = did_you_mean(&r, &candidates).map(str::to_owned);
            return Err(e);
        }
        Ok(())
    }

    fn check_request(&self, at: &[Seg], req: &Request, extra: &[&str]) -> Checked {
        let mut refs = Vec::new();
        text_refs(join(at, [key("path")]), &req.path, &mut refs);
        for (k, v) in &req.headers {
            text_refs(
                join(at, [key("headers"), Seg::KeyName(k.clone())]),
                k,
                &mut refs,
            );
            text_refs(join(at, [key("headers"), key(k)]), v, &mut refs);
        }
        if let Some(b) = &req.body {
            value_refs(&join(at, [key("body")]), b, &mut refs);
        }
        if let Some(b) = &req.raw_body {
            text_refs(join(at, [key("raw_body")]), b, &mut refs);
        }
        if let Some(Auth::Bearer(t) | Auth::Raw(t)) = &req.auth {
            text_refs(join(at, [key("auth")]), t, &mut refs);
        }
        let invalid = |field: &str, message: String| {
            self.error(
                ErrorKind::Invalid,
                &join(at, [Seg::KeyName(field.into())]),
                message,
            )
        };
        if req.body.is_some() && req.raw_body.is_some() {
            return Err(invalid(
                "raw_body",
                "a request has either `body` (JSON) or `raw_body`, not both".into(),
            ));
        }
        match (&req.url, req.path.is_empty()) {
            (Some(_), false) => {
                return Err(invalid(
                    "url",
                    "a request has either `path` (relative to the target) or `url` (absolute, on the target's origin), not both".into(),
                ))
            }
            (None, true) => {
                return Err(invalid(
                    "method",
                    "a request needs a `path` (or an absolute `url`)".into(),
                ))
            }
            (Some(url), true) => {
                text_refs(join(at, [key("url")]), url, &mut refs);
                if !url.starts_with("{{")
                    && !url.starts_with("http://")
                    && !url.starts_with("https://")
                {
                    return Err(invalid(
                        "url",
                        format!("url `{url}` must be absolute (http:// or https://), or a `{{{{var}}}}` holding one"),
                    ));
                }
            }
            (None, false) => {
                if !req.path.starts_with('/') && !req.path.starts_with("{{") {
                    return Err(self.error(
                        ErrorKind::Invalid,
                        &join(at, [key("path")]),
                        format!("path `{}` must start with `/`", req.path),
                    ));
                }
            }
        }
        self.check_refs(refs, extra)
    }

    fn check_expect(&self, at: &[Seg], expect: &Expect, extra: &[&str]) -> Checked {
        let mut refs = Vec::new();
        let invalid = |path: YamlPath, message: String| {
            self.error(ErrorKind::Invalid, &join(at, path), message)
        };
        for (path, check) in &expect.json {
            let here = vec![key("json"), key(path)];
            jsonpath::Path::parse(path)
                .map_err(|e| invalid(vec![key("json"), Seg::KeyName(path.clone())], e))?;
            if let Some(re) = &check.matches {
                text_refs(join(at, join(&here, [key("match")])), re, &mut refs);
                if !re.contains("{{") {
                    regex::Regex::new(re).map_err(|e| {
                        invalid(
                            join(&here, [key("match")]),
                            format!("bad regular expression: {e}"),
                        )
                    })?;
                }
            }
            let values = [
                ("equals", &check.equals),
                ("not_equals", &check.not_equals),
                ("contains", &check.contains),
                ("not_contains", &check.not_contains),
            ];
            for (name, v) in values {
                if let Some(v) = v {
                    value_refs(&join(at, join(&here, [key(name)])), v, &mut refs);
                }
            }
            for (name, list) in [
                ("one_of", &check.one_of),
                ("each_one_of", &check.each_one_of),
            ] {
                for (i, v) in list.iter().flatten().enumerate() {
                    value_refs(
                        &join(at, join(&here, [key(name), Seg::Index(i)])),
                        v,
                        &mut refs,
                    );
                }
            }
        }
        if expect.connection.is_some() && expect.checks_response() {
            return Err(invalid(
                vec![Seg::KeyName("connection".into())],
                "`connection: dropped` expects no response, so it cannot be combined with checks on one (status, headers, json, …)".into(),
            ));
        }
        for (name, re) in &expect.headers.matches {
            let here = vec![key("headers"), key("match"), key(name)];
            text_refs(join(at, here.clone()), re, &mut refs);
            if re.contains("{{") {
                continue;
            }
            regex::Regex::new(re).map_err(|e| {
                invalid(
                    here,
                    format!("bad regular expression for header `{name}`: {e}"),
                )
            })?;
        }
        for (name, path) in &expect.headers.equals_json {
            jsonpath::Path::parse(path)
                .map_err(|e| invalid(vec![key("headers"), key("equals_json"), key(name)], e))?;
        }
        for (field, list) in [
            ("body_contains", &expect.body_contains),
            ("body_not_contains", &expect.body_not_contains),
        ] {
            for (i, v) in list.iter().enumerate() {
                text_refs(join(at, [key(field), Seg::Index(i)]), v, &mut refs);
            }
        }
        for (name, v) in &expect.headers.equals {
            text_refs(
                join(at, [key("headers"), key("equals"), key(name)]),
                v,
                &mut refs,
            );
        }
        if let Some(s) = &expect.schema {
            jsonpath::Path::parse(s.path()).map_err(|e| invalid(vec![key("schema")], e))?;
            let name = s.component();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(
                    vec![key("schema")],
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
                return Err(invalid(
                    vec![key("snapshot")],
                    format!("snapshot name `{name}` may hold only letters, digits, `_` and `-`"),
                ));
            }
        }
        self.check_refs(refs, extra)
    }

    fn add_captures(&mut self, at: &[Seg], captures: &IndexMap<String, String>) -> Checked {
        for (name, spec) in captures {
            Capture::parse(spec).map_err(|e| {
                self.error(
                    ErrorKind::Invalid,
                    &join(at, [key("capture"), key(name)]),
                    e,
                )
            })?;
            self.defined.insert(name.clone());
        }
        Ok(())
    }

    fn check_control(&mut self, at: &[Seg], c: &ControlStep) -> Checked {
        let mut refs = Vec::new();
        let field = |k: &str| join(at, [key(k)]);
        match &c.action {
            ControlAction::AdvanceClock(by) => {
                crate::runner::wait::parse_duration(by)
                    .map_err(|e| self.error(ErrorKind::Invalid, &field("advance_clock"), e))?;
            }
            ControlAction::SeedDocument(v) => value_refs(&field("seed_document"), v, &mut refs),
            ControlAction::Fault(v) => value_refs(&field("fault"), v, &mut refs),
            ControlAction::Clock(v) => value_refs(&field("clock"), v, &mut refs),
            ControlAction::EditDocument(e) => {
                text_refs(
                    join(at, [key("edit_document"), key("id")]),
                    &e.id,
                    &mut refs,
                );
                value_refs(
                    &join(at, [key("edit_document"), key("fields")]),
                    &e.fields,
                    &mut refs,
                );
            }
            ControlAction::DeleteFault(d) => text_refs(field("delete_fault"), d, &mut refs),
            ControlAction::Call(call) => {
                text_refs(join(at, [key("call"), key("path")]), &call.path, &mut refs);
                if let Some(b) = &call.body {
                    value_refs(&join(at, [key("call"), key("body")]), b, &mut refs);
                }
            }
        }
        self.check_refs(refs, &[])?;
        self.check_expect(&field("expect"), &c.expect, &[])
    }

    fn check_receiver(&mut self, at: &[Seg], r: &super::model::WebhookReceiver) -> Checked {
        let invalid =
            |k: &str, message: String| self.error(ErrorKind::Invalid, &join(at, [key(k)]), message);
        if r.name.is_empty()
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                "name",
                format!(
                    "receiver name `{}` may hold only letters, digits, `_` and `-`",
                    r.name
                ),
            ));
        }
        if self.receivers.contains(&r.name) {
            return Err(invalid(
                "name",
                format!("a receiver named `{}` was already started", r.name),
            ));
        }
        if r.respond.is_empty() {
            return Err(invalid(
                "respond",
                "`respond` needs at least one status".into(),
            ));
        }
        if let Some(bad) = r.respond.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(invalid("respond", format!("{bad} is not an HTTP status")));
        }
        let mut refs = Vec::new();
        text_refs(join(at, [key("secret")]), &r.secret, &mut refs);
        for (i, e) in r.events.iter().enumerate() {
            text_refs(join(at, [key("events"), Seg::Index(i)]), e, &mut refs);
        }
        self.check_refs(refs, &[])?;
        self.receivers.insert(r.name.clone());
        self.defined.insert(format!("receivers.{}", r.name));
        Ok(())
    }

    fn check_webhooks(&mut self, at: &[Seg], w: &super::model::WebhooksStep) -> Checked {
        if !self.receivers.contains(&w.receiver) {
            let known: Vec<&str> = self.receivers.iter().map(String::as_str).collect();
            let mut e = self.error(
                ErrorKind::UndefinedVariable,
                &join(at, [key("receiver")]),
                format!(
                    "no `webhook_receiver` step named `{}` comes before this step",
                    w.receiver
                ),
            );
            e.suggestion = did_you_mean(&w.receiver, &known).map(str::to_owned);
            return Err(e);
        }
        crate::runner::wait::parse_duration(&w.interval)
            .map_err(|e| self.error(ErrorKind::Invalid, &join(at, [key("interval")]), e))?;
        if w.expect.is_empty() && !w.only {
            return Err(self.error(
                ErrorKind::Invalid,
                &join(at, [Seg::KeyName("expect".into())]),
                "`webhooks` needs at least one expected event (or `only: true` with none, to expect no delivery at all)".into(),
            ));
        }
        let mut refs = Vec::new();
        for (i, e) in w.expect.iter().enumerate() {
            let here = join(at, [key("expect"), Seg::Index(i)]);
            text_refs(join(&here, [key("type")]), &e.event_type, &mut refs);
            if let Some(id) = &e.id {
                text_refs(join(&here, [key("id")]), id, &mut refs);
            }
            if let Some(d) = &e.data {
                value_refs(&join(&here, [key("data")]), d, &mut refs);
            }
        }
        self.check_refs(refs, &[])?;
        for (i, e) in w.expect.iter().enumerate() {
            for (name, path) in &e.capture {
                jsonpath::Path::parse(path).map_err(|err| {
                    self.error(
                        ErrorKind::Invalid,
                        &join(
                            at,
                            [key("expect"), Seg::Index(i), key("capture"), key(name)],
                        ),
                        err,
                    )
                })?;
                self.defined.insert(name.clone());
            }
        }
        Ok(())
    }

    fn check_step(&mut self, i: usize, step: &Step) -> Checked {
        let at = vec![key("steps"), Seg::Index(i), key(step.kind())];
        let field = |k: &str| join(&at, [key(k)]);
        match step {
            Step::Request(r) => {
                self.check_request(&at, &r.request(), &[])?;
                self.check_expect(&field("expect"), &r.expect, &[])?;
                self.add_captures(&at, &r.capture)
            }
            Step::Control(c) => {
                self.check_control(&at, c)?;
                self.add_captures(&at, &c.capture)
            }
            Step::WebhookReceiver(r) => self.check_receiver(&at, r),
            Step::Webhooks(w) => self.check_webhooks(&at, w),
            Step::Verdicts(_) => Ok(()),
            Step::WaitUntil(w) => {
                self.check_request(&field("request"), &w.request, &[])?;
                self.check_expect(&field("until"), &w.until, &[])?;
                self.check_expect(&field("expect"), &w.expect, &[])?;
                crate::runner::wait::parse_duration(&w.interval)
                    .map_err(|e| self.error(ErrorKind::Invalid, &field("interval"), e))?;
                if w.until.is_empty() {
                    return Err(self.error(
                        ErrorKind::Invalid,
                        &field("until"),
                        "`until` needs at least one check".into(),
                    ));
                }
                self.add_captures(&at, &w.capture)
            }
            Step::Parallel(p) => {
                self.check_request(&field("request"), &p.request, &["index"])?;
                self.check_expect(&field("each"), &p.each, &["index"])?;
                if p.count < 2 {
                    return Err(self.error(
                        ErrorKind::Invalid,
                        &field("count"),
                        "`parallel` needs a `count` of at least 2".into(),
                    ));
                }
                let total: usize = p.statuses.values().sum();
                if !p.statuses.is_empty() && total != p.count {
                    return Err(self.error(
                        ErrorKind::Invalid,
                        &field("statuses"),
                        format!(
                            "`statuses` counts add up to {total}, but `count` is {}",
                            p.count
                        ),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Validate a parsed scenario against the rules of the format; returns the
/// names of the workspace keys (`{{keys.<name>}}`) it uses.
pub(crate) fn validate(loaded: &LoadedScenario, text: &str) -> Result<Vec<String>, ScenarioError> {
    let s = &loaded.scenario;
    let mut v = Validator {
        loaded,
        text,
        defined: BUILTIN_VARS.iter().map(|s| (*s).to_owned()).collect(),
        receivers: HashSet::new(),
        keys: std::cell::RefCell::new(Vec::new()),
    };
    v.defined.extend(s.vars.keys().cloned());
    v.defined.extend(s.requires.vars.iter().cloned());
    if s.source.trim().is_empty() {
        return Err(v.error(
            ErrorKind::Invalid,
            &[key("source")],
            "`source` must name the seed or docs section that states the rule".into(),
        ));
    }
    if s.steps.is_empty() {
        return Err(v.error(
            ErrorKind::Invalid,
            &[key("steps")],
            "a scenario needs at least one step".into(),
        ));
    }
    if loaded.needs_control() && !s.requires.control {
        return Err(v.error(
            ErrorKind::Invalid,
            &[Seg::KeyName("requires".into())],
            "this scenario uses the control API (a control, webhook or verdicts step, `fixtures` or `seed`) but does not declare `requires: {control: true}`".into(),
        ));
    }
    if loaded.sends_writes() && !s.requires.writes {
        let index = s
            .steps
            .iter()
            .position(|st| st.api_request().is_some_and(|(m, _)| m.is_write()))
            .unwrap_or(0);
        let step = &s.steps[index];
        let mut at = vec![key("steps"), Seg::Index(index), key(step.kind())];
        if !matches!(step, Step::Request(_)) {
            at.push(key("request"));
        }
        at.push(Seg::KeyName("method".into()));
        return Err(v.error(
            ErrorKind::Invalid,
            &at,
            "this step sends a write (POST/PUT/PATCH/DELETE) but the scenario does not declare `requires: {writes: true}`".into(),
        ));
    }
    for (i, step) in s.steps.iter().enumerate() {
        v.check_step(i, step)?;
    }
    Ok(v.keys.into_inner())
}
