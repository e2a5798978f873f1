//! Checking a response against an [`Expect`].

use serde_json::{json, Value};

use super::jsonpath::{Path, Selection};
use super::result::{AssertionResult, ResponseRecord};
use super::snapshot::SnapshotContext;
use crate::scenario::model::{Expect, JsonCheck, JsonType};
use crate::scenario::template::{render, render_value, Vars};
use crate::target::Target;

/// Everything a check may need besides the response.
pub(crate) struct CheckContext<'a> {
    pub vars: &'a Vars,
    pub target: &'a Target,
    pub snapshot: Option<SnapshotContext<'a>>,
}

/// Run every check of `expect`; all results are returned, passed or not.
pub(crate) async fn evaluate(
    expect: &Expect,
    resp: &ResponseRecord,
    ctx: &CheckContext<'_>,
) -> Vec<AssertionResult> {
    let mut out = Vec::new();
    if let Some(s) = &expect.status {
        out.push(AssertionResult::new(
            "status",
            s.accepts(resp.status),
            s.as_json(),
            json!(resp.status),
        ));
    }
    check_headers(expect, resp, ctx.vars, &mut out);
    for (path, check) in &expect.json {
        check_json(path, check, resp, ctx.vars, &mut out);
    }
    if let Some(schema) = &expect.schema {
        out.push(check_schema(schema.component(), schema.path(), resp, ctx.target).await);
    }
    for text in &expect.body_contains {
        match render(text, ctx.vars) {
            Ok(t) => out.push(AssertionResult::new(
                "body contains",
                resp.body.contains(&t),
                json!(t),
                json!(truncate(&resp.body, 500)),
            )),
            Err(e) => out.push(
                AssertionResult::new("body contains", false, json!(text), Value::Null)
                    .with_message(e),
            ),
        }
    }
    for text in &expect.body_not_contains {
        match render(text, ctx.vars) {
            Ok(t) => out.push(AssertionResult::new(
                "body does not contain",
                !resp.body.contains(&t),
                json!({ "not_contains": t }),
                json!(truncate(&resp.body, 500)),
            )),
            Err(e) => out.push(
                AssertionResult::new("body does not contain", false, json!(text), Value::Null)
                    .with_message(e),
            ),
        }
    }
    if let (Some(name), Some(snap)) = (&expect.snapshot, &ctx.snapshot) {
        out.push(snap.check(name, resp));
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// A `match` regex with its `{{vars}}` inserted literally (escaped), so
/// `{{origin}}` matches itself. An undefined variable leaves a pattern that
/// names it (and does not compile, so the check fails).
pub(crate) fn render_regex(re: &str, vars: &Vars) -> String {
    if crate::scenario::template::references(re).is_empty() {
        return re.to_owned();
    }
    let mut escaped = Vars::new();
    for (k, v) in vars {
        let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        escaped.insert(k.clone(), json!(regex::escape(&text)));
    }
    render(re, &escaped).unwrap_or_else(|e| format!("<{e}>("))
}

fn check_headers(
    expect: &Expect,
    resp: &ResponseRecord,
    vars: &Vars,
    out: &mut Vec<AssertionResult>,
) {
    let h = &expect.headers;
    let actual = |name: &str| resp.header(name).map_or(Value::Null, |v| json!(v));
    for (name, want) in &h.equals {
        let label = format!("header {name} equals");
        match render(want, vars) {
            Ok(want) => out.push(AssertionResult::new(
                label,
                resp.header(name) == Some(want.as_str()),
                json!(want),
                actual(name),
            )),
            Err(e) => out
                .push(AssertionResult::new(label, false, json!(want), Value::Null).with_message(e)),
        }
    }
    for (name, re) in &h.matches {
        let label = format!("header {name} matches");
        let re = &render_regex(re, vars);
        let passed = match (regex::Regex::new(re), resp.header(name)) {
            (Ok(r), Some(v)) => r.is_match(v),
            _ => false,
        };
        out.push(AssertionResult::new(
            label,
            passed,
            json!(format!("/{re}/")),
            actual(name),
        ));
    }
    for name in &h.present {
        out.push(AssertionResult::new(
            format!("header {name} present"),
            resp.header(name).is_some(),
            json!("present"),
            resp.header(name).map_or(json!("absent"), |v| json!(v)),
        ));
    }
    for name in &h.absent {
        out.push(AssertionResult::new(
            format!("header {name} absent"),
            resp.header(name).is_none(),
            json!("absent"),
            actual(name),
        ));
    }
    for (name, path) in &h.equals_json {
        let label = format!("header {name} equals body {path}");
        let body_value = resp
            .json
            .as_ref()
            .and_then(|j| Path::parse(path).ok().map(|p| p.select(j)))
            .and_then(|s| s.value());
        let passed = match (&body_value, resp.header(name)) {
            (Some(Value::String(b)), Some(h)) => b == h,
            _ => false,
        };
        out.push(AssertionResult::new(
            label,
            passed,
            body_value.unwrap_or(Value::Null),
            actual(name),
        ));
    }
}

/// The value checks of a `json:` entry, as the author wrote them.
fn written_checks(check: &JsonCheck) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let mut add = |name: &'static str, v: Option<Value>| {
        if let Some(v) = v {
            out.push((name, v));
        }
    };
    add("equals", check.equals.clone());
    add("not_equals", check.not_equals.clone());
    add("match", check.matches.clone().map(Value::String));
    add("type", check.type_.map(|t| json!(t.as_str())));
    add("length", check.length.map(|n| json!(n)));
    add("one_of", check.one_of.clone().map(Value::Array));
    add("contains", check.contains.clone());
    add("not_contains", check.not_contains.clone());
    add("each_one_of", check.each_one_of.clone().map(Value::Array));
    out
}

fn check_json(
    path: &str,
    check: &JsonCheck,
    resp: &ResponseRecord,
    vars: &Vars,
    out: &mut Vec<AssertionResult>,
) {
    let label = |what: &str| format!("json {path} {what}");
    let Some(body) = &resp.json else {
        out.push(
            AssertionResult::new(
                label("(body is JSON)"),
                false,
                json!("a JSON body"),
                json!(truncate(&resp.body, 500)),
            )
            .with_message("the response body is not JSON"),
        );
        return;
    };
    let parsed = match Path::parse(path) {
        Ok(p) => p,
        Err(e) => {
            out.push(
                AssertionResult::new(label(""), false, Value::Null, Value::Null).with_message(e),
            );
            return;
        }
    };
    let selection = parsed.select(body);
    let value = selection.value();
    let shown = value.clone().unwrap_or(json!("<absent>"));
    let render_or_fail = |v: &Value, what: &str, out: &mut Vec<AssertionResult>| -> Option<Value> {
        match render_value(v, vars) {
            Ok(v) => Some(v),
            Err(e) => {
                out.push(
                    AssertionResult::new(label(what), false, v.clone(), Value::Null)
                        .with_message(e),
                );
                None
            }
        }
    };
    if let Some(absent) = check.absent {
        let is_absent = matches!(selection, Selection::Missing)
            || matches!(&selection, Selection::Many(v) if v.is_empty());
        out.push(AssertionResult::new(
            label(if absent { "absent" } else { "present" }),
            is_absent == absent,
            json!(if absent { "<absent>" } else { "<present>" }),
            shown.clone(),
        ));
    }
    // Every other check needs a value; a missing one fails them all once.
    let needs_value = check.equals.is_some()
        || check.not_equals.is_some()
        || check.matches.is_some()
        || check.type_.is_some()
        || check.length.is_some()
        || check.one_of.is_some()
        || check.contains.is_some()
        || check.not_contains.is_some()
        || check.each_one_of.is_some();
    let Some(value) = value else {
        if needs_value {
            // Fail the checks the author wrote, once, and say why the path
            // found nothing rather than inventing a check.
            let written = written_checks(check);
            let names: Vec<&str> = written.iter().map(|(n, _)| *n).collect();
            let expected = match written.as_slice() {
                [(_, v)] => v.clone(),
                many => Value::Object(
                    many.iter()
                        .map(|(n, v)| ((*n).to_owned(), v.clone()))
                        .collect(),
                ),
            };
            let why = parsed
                .explain_missing(body)
                .unwrap_or_else(|| format!("nothing at {path}"));
            out.push(
                AssertionResult::new(label(&names.join(", ")), false, expected, json!("<absent>"))
                    .with_message(why),
            );
        }
        return;
    };
    if let Some(want) = &check.equals {
        if let Some(want) = render_or_fail(want, "equals", out) {
            out.push(AssertionResult::new(
                label("equals"),
                value == want,
                want,
                value.clone(),
            ));
        }
    }
    if let Some(want) = &check.not_equals {
        if let Some(want) = render_or_fail(want, "not_equals", out) {
            out.push(AssertionResult::new(
                label("not_equals"),
                value != want,
                json!({"not": want}),
                value.clone(),
            ));
        }
    }
    if let Some(re) = &check.matches {
        let re = &render_regex(re, vars);
        let passed = match (&value, regex::Regex::new(re)) {
            (Value::String(s), Ok(r)) => r.is_match(s),
            _ => false,
        };
        out.push(AssertionResult::new(
            label("matches"),
            passed,
            json!(format!("/{re}/")),
            value.clone(),
        ));
    }
    if let Some(t) = check.type_ {
        out.push(
            AssertionResult::new(
                label("type"),
                t.accepts(&value),
                json!(t.as_str()),
                json!(JsonType::of(&value).as_str()),
            )
            .with_message(format!("value: {}", truncate(&value.to_string(), 200))),
        );
        if out.last().is_some_and(|a| a.passed) {
            if let Some(a) = out.last_mut() {
                a.message = None;
            }
        }
    }
    if let Some(n) = check.length {
        let len = match &value {
            Value::Array(a) => Some(a.len()),
            Value::String(s) => Some(s.chars().count()),
            Value::Object(m) => Some(m.len()),
            _ => None,
        };
        out.push(AssertionResult::new(
            label("length"),
            len == Some(n),
            json!(n),
            len.map_or(json!(format!("no length: {value}")), |l| json!(l)),
        ));
    }
    if let Some(options) = &check.one_of {
        if let Some(Value::Array(options)) =
            render_or_fail(&Value::Array(options.clone()), "one_of", out)
        {
            out.push(AssertionResult::new(
                label("one_of"),
                options.contains(&value),
                json!({"one_of": options}),
                value.clone(),
            ));
        }
    }
    if let Some(item) = &check.contains {
        if let Some(item) = render_or_fail(item, "contains", out) {
            let passed = matches!(&value, Value::Array(a) if a.contains(&item));
            out.push(AssertionResult::new(
                label("contains"),
                passed,
                json!({"contains": item}),
                value.clone(),
            ));
        }
    }
    if let Some(options) = &check.each_one_of {
        if let Some(Value::Array(options)) =
            render_or_fail(&Value::Array(options.clone()), "each_one_of", out)
        {
            let passed = match &value {
                Value::Array(a) => a.iter().all(|x| options.contains(x)),
                _ => false,
            };
            out.push(AssertionResult::new(
                label("each_one_of"),
                passed,
                json!({ "each_one_of": options }),
                value.clone(),
            ));
        }
    }
    if let Some(item) = &check.not_contains {
        if let Some(item) = render_or_fail(item, "not_contains", out) {
            let passed = matches!(&value, Value::Array(a) if !a.contains(&item));
            out.push(AssertionResult::new(
                label("not_contains"),
                passed,
                json!({"not_contains": item}),
                value.clone(),
            ));
        }
    }
}

/// Build a validator for `#/components/schemas/<name>` of an OpenAPI
/// document: the component is referenced from a root that carries the
/// document's `components`, so its own `$ref`s resolve.
pub(crate) fn component_validator(
    openapi: &Value,
    name: &str,
) -> Result<jsonschema::Validator, String> {
    if openapi
        .pointer(&format!("/components/schemas/{name}"))
        .is_none()
    {
        let known: Vec<String> = openapi
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        return Err(format!(
            "the OpenAPI document has no component `{name}` (it has: {})",
            known.join(", ")
        ));
    }
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": openapi["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .map_err(|e| format!("component `{name}` is not a valid JSON Schema: {e}"))
}

async fn check_schema(
    name: &str,
    path: &str,
    resp: &ResponseRecord,
    target: &Target,
) -> AssertionResult {
    let label = if path == "$" {
        format!("schema {name}")
    } else {
        format!("schema {name} at {path}")
    };
    let fail = |msg: String| {
        AssertionResult::new(label.clone(), false, json!(name), Value::Null).with_message(msg)
    };
    let openapi = match target.openapi().await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let validator = match component_validator(&openapi, name) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let Some(body) = &resp.json else {
        return fail("the response body is not JSON".into());
    };
    let Some(instance) = Path::parse(path).ok().and_then(|p| p.select(body).value()) else {
        return fail(format!("nothing at {path}"));
    };
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(10)
        .map(|e| {
            let at = e.instance_path.to_string();
            format!("{}: {e}", if at.is_empty() { "/".to_owned() } else { at })
        })
        .collect();
    if errors.is_empty() {
        AssertionResult::new(label, true, json!(name), json!("valid"))
    } else {
        AssertionResult::new(label, false, json!(format!("valid {name}")), instance)
            .with_message(errors.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_refs_resolve_inside_the_document() {
        let doc = json!({"components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}}},
            "ErrorBody": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
        }}});
        let v = component_validator(&doc, "Error").unwrap();
        assert!(v.is_valid(&json!({"error": {"code": "conflict"}})));
        assert!(!v.is_valid(&json!({"error": {"code": 1}})));
        assert!(component_validator(&doc, "Nope")
            .unwrap_err()
            .contains("Error"));
    }
}
