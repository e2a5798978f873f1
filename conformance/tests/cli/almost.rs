//! Almost-right servers: the fake behind a proxy that breaks one rule in a
//! way only a sharp check notices, and the run (and, where a property covers
//! the rule, `conformance props`) must fail; through the same proxy in
//! pass-through mode the same checks pass, so the failures are the rule's.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::proxy::{Breaker, Exchange};
use super::util::{conformance, scratch, text};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Relays everything unchanged.
    PassThrough,
    /// "Same data" compares `attempted_at` as text: the same instant written
    /// in another offset or precision is answered 409.
    InstantAsText,
    /// The outbox walk never lists a document twice, not even one that
    /// became eligible again at a new position.
    NoRelist,
    /// "Same data" ignores `error_code` and `external_url`: a replay that
    /// changes only those is answered 200 with the recorded attempt.
    SameDataIgnoresErrorFields,
}

/// What the almost-right server remembers, per API key (each workspace has
/// its own keys, and every workspace starts with the same document ids).
#[derive(Default)]
struct Memory {
    /// (key, callback path, execution_id) → (attempted_at as first sent,
    /// the body of the 201 that recorded it).
    recorded: HashMap<(String, String, String), (String, Value)>,
    /// (key) → documents already listed in the current outbox walk.
    listed: HashMap<String, HashSet<String>>,
}

struct AlmostRight {
    mode: Mode,
    memory: Mutex<Memory>,
}

fn conflict(x: &Exchange<'_>, message: &str) -> Vec<u8> {
    let request_id = x
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    json!({"error": {"code": "conflict", "message": message, "request_id": request_id}})
        .to_string()
        .into_bytes()
}

impl AlmostRight {
    fn callback(&self, key: String, x: &mut Exchange<'_>) {
        let Ok(sent) = serde_json::from_slice::<Value>(x.request) else {
            return;
        };
        let (Some(execution), Some(at)) =
            (sent["execution_id"].as_str(), sent["attempted_at"].as_str())
        else {
            return;
        };
        let slot = (key, x.path.to_string(), execution.to_string());
        let mut memory = self.memory.lock().unwrap();
        if x.status == StatusCode::CREATED {
            if let Ok(body) = serde_json::from_slice::<Value>(&x.body) {
                memory.recorded.insert(slot, (at.to_string(), body));
            }
            return;
        }
        let Some((first_at, first_body)) = memory.recorded.get(&slot) else {
            return;
        };
        match self.mode {
            Mode::InstantAsText if x.status == StatusCode::OK && first_at != at => {
                x.status = StatusCode::CONFLICT;
                x.body = conflict(
                    x,
                    &format!("execution_id '{execution}' was already recorded with different delivery data (attempted_at)"),
                );
            }
            Mode::SameDataIgnoresErrorFields if x.status == StatusCode::CONFLICT => {
                let Ok(answer) = serde_json::from_slice::<Value>(&x.body) else {
                    return;
                };
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                let Some(fields) = message
                    .split("different delivery data (")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next())
                else {
                    return;
                };
                if fields
                    .split(", ")
                    .all(|f| f == "error_code" || f == "external_url")
                {
                    let mut replay = first_body.clone();
                    replay["meta"]["replayed"] = json!(true);
                    x.status = StatusCode::OK;
                    x.body = replay.to_string().into_bytes();
                }
            }
            _ => {}
        }
    }

    fn outbox(&self, key: String, x: &mut Exchange<'_>) {
        let Ok(mut page) = serde_json::from_slice::<Value>(&x.body) else {
            return;
        };
        let mut memory = self.memory.lock().unwrap();
        let listed = memory.listed.entry(key).or_default();
        if !x.query.split('&').any(|kv| kv.starts_with("cursor=")) {
            listed.clear();
        }
        if let Some(items) = page["data"].as_array_mut() {
            items.retain(|item| {
                let id = item["document_id"].as_str().unwrap_or_default().to_string();
                listed.insert(id)
            });
        }
        x.body = page.to_string().into_bytes();
    }
}

impl Breaker for AlmostRight {
    fn answer(&self, x: &mut Exchange<'_>) {
        let key = x
            .request_headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let callback = *x.method == Method::POST
            && x.path.starts_with("/v1/documents/")
            && x.path.ends_with("/delivery");
        match self.mode {
            Mode::InstantAsText | Mode::SameDataIgnoresErrorFields if callback => {
                self.callback(key, x)
            }
            Mode::NoRelist
                if *x.method == Method::GET
                    && x.path == "/v1/delivery/outbox"
                    && x.status == StatusCode::OK =>
            {
                self.outbox(key, x)
            }
            _ => {}
        }
    }
}

fn almost_right(mode: Mode) -> String {
    super::proxy::start(AlmostRight {
        mode,
        memory: Mutex::new(Memory::default()),
    })
}

/// `conformance run --target <proxy> -q <files>`: (exit code, stdout).
fn run(target: &str, files: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["run", "--target", target, "-q"];
    let paths: Vec<String> = files.iter().map(|f| format!("scenarios/{f}")).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = conformance(&args);
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

const SAME_INSTANT: &str = "numora/rules/same_instant_other_offset_is_same_data.yaml";
const REAPPROVED: &str = "numora/rules/reapproved_mid_walk_reappears.yaml";
const EACH_FIELD: &str = "numora/rules/changed_replay_of_each_field_conflicts.yaml";

#[test]
fn the_sharp_scenarios_pass_through_the_proxy_unchanged() {
    let proxy = almost_right(Mode::PassThrough);
    let (code, report) = run(&proxy, &[SAME_INSTANT, REAPPROVED, EACH_FIELD]);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("\n3 passed, 0 failed, 0 skipped in "),
        "{report}"
    );
}

#[test]
fn attempted_at_compared_as_text_fails_the_same_instant_rule() {
    let proxy = almost_right(Mode::InstantAsText);
    let (code, report) = run(&proxy, &[SAME_INSTANT]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("\"the same instant, +02:00 and whole seconds\""),
        "{report}"
    );
    assert!(
        report.contains("expected: 200\n      actual:   409"),
        "{report}"
    );
}

#[test]
fn an_outbox_that_never_relists_fails_the_reapproval_rule() {
    let proxy = almost_right(Mode::NoRelist);
    let (code, report) = run(&proxy, &[REAPPROVED]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("\"the last page holds the remaining document and the re-approved one\""),
        "{report}"
    );
}

#[test]
fn same_data_ignoring_error_fields_fails_the_each_field_rule() {
    let proxy = almost_right(Mode::SameDataIgnoresErrorFields);
    let (code, report) = run(&proxy, &[EACH_FIELD]);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("\"changed external_url\""), "{report}");
    assert!(
        report.contains("expected: 409\n      actual:   200"),
        "{report}"
    );
}

/// `conformance props --target <proxy> --cases 64`: (exit code, report).
fn props(proxy: &str, name: &str) -> (Option<i32>, String) {
    let dir = scratch(name);
    let out = conformance(&[
        "props",
        "--target",
        proxy,
        "--cases",
        "64",
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]);
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn the_properties_hold_through_the_proxy_unchanged() {
    let proxy = almost_right(Mode::PassThrough);
    let (code, report) = props(&proxy, "almost-pass");
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn same_data_ignoring_error_fields_fails_the_properties() {
    let proxy = almost_right(Mode::SameDataIgnoresErrorFields);
    let (code, report) = props(&proxy, "almost-error-fields");
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("changed replay of recorded"), "{report}");
    assert!(report.contains("expected status 409, got 200"), "{report}");
}

#[test]
fn attempted_at_compared_as_text_fails_the_properties() {
    let proxy = almost_right(Mode::InstantAsText);
    let (code, report) = props(&proxy, "almost-instant");
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("identical replay of recorded"), "{report}");
    assert!(report.contains("expected status 200, got 409"), "{report}");
}

#[test]
fn an_outbox_that_never_relists_fails_the_properties() {
    let proxy = almost_right(Mode::NoRelist);
    let (code, report) = props(&proxy, "almost-relist");
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("re-approved after page 1"), "{report}");
    assert!(
        report.contains("expected once, at its new position"),
        "{report}"
    );
}
