//! The webhook steps, absolute URLs, `connection: dropped`, header regexes
//! with variables, and snapshots found from a subdirectory: each passes on
//! the fake where it should, and each can fail.

use serde_json::Value;

use super::util::{conformance, scenarios, scratch, text};

const HEAD: &str = "source: test\nlevel: fake\nrequires: {control: true, writes: true}\n";

/// Run the scenarios of a scratch library; returns the exit code and the
/// JSON report's scenarios by id.
fn run_library(name: &str, files: &[(&str, String)]) -> (Option<i32>, Vec<Value>) {
    let dir = scratch(name);
    for (file, body) in files {
        std::fs::write(dir.join(file), body).unwrap();
    }
    let out = conformance(&["run", dir.to_str().unwrap(), "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report ({e}): {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    let list = report["scenarios"].as_array().cloned().unwrap_or_default();
    (out.status.code(), list)
}

fn scenario<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no scenario {id} in {list:#?}"))
}

/// Every failed check of a scenario, as `check: actual`.
fn failures(s: &Value) -> String {
    let mut out = String::new();
    for step in s["steps"].as_array().into_iter().flatten() {
        for a in step["assertions"].as_array().into_iter().flatten() {
            if a["passed"] == false {
                let check = a["check"].as_str().unwrap_or_default();
                out.push_str(&format!("{check}: {}\n", a["actual"]));
            }
        }
        if let Some(e) = step["error"].as_str() {
            out.push_str(&format!("error: {e}\n"));
        }
    }
    out
}

const APPROVE: &str = "  - request:\n      method: POST\n      path: /v1/documents/doc_01jpwq4q9m7q4q2k8dax1x1q5n/actions/approve\n      body: {expected_updated_at: \"2026-03-21T14:20:00.000Z\", review_state: null}\n      expect: {status: 200}\n";

#[test]
fn webhook_expectations_pass_on_good_deliveries_and_fail_on_bad_ones() {
    let good = format!(
        "name: good\n{HEAD}steps:\n  - webhook_receiver: {{name: hooks, secret: s3cret, events: [document.reviewed], respond: [503, 200]}}\n{APPROVE}  - webhooks:\n      receiver: hooks\n      expect: [{{type: document.reviewed, data: {{document_id: doc_01jpwq4q9m7q4q2k8dax1x1q5n}}}}]\n      min_attempts: 2\n      only: true\n"
    );
    // The receiver knows one secret, the endpoint is registered with another.
    let wrong_secret = format!(
        "name: wrong secret\n{HEAD}steps:\n  - webhook_receiver: {{name: hooks, secret: s3cret, register: false}}\n  - control:\n      call: {{method: POST, path: webhooks, body: {{url: '{{{{receivers.hooks}}}}', secret: other, events: [document.reviewed]}}}}\n{APPROVE}  - webhooks:\n      receiver: hooks\n      expect: [{{type: document.reviewed}}]\n"
    );
    let no_duplicates = format!(
        "name: no duplicates\n{HEAD}steps:\n  - webhook_receiver: {{name: hooks, secret: s3cret, events: [document.reviewed]}}\n  - control:\n      fault: {{api: webhook, duplicate: true, times: 1}}\n{APPROVE}  - webhooks:\n      receiver: hooks\n      expect: [{{type: document.reviewed}}]\n      min_attempts: 2\n      duplicates_allowed: false\n"
    );
    let never = format!(
        "name: never sent\n{HEAD}steps:\n  - webhook_receiver: {{name: hooks, secret: s3cret}}\n  - webhooks:\n      receiver: hooks\n      expect: [{{type: push.failed}}]\n      max_attempts: 3\n"
    );
    // Retries made inside one long advance carry timestamps from early in
    // it; they are judged against the window, not its end.
    let long_advance = format!(
        "name: long advance\n{HEAD}steps:\n  - control: {{clock: {{mode: frozen}}}}\n  - webhook_receiver: {{name: hooks, secret: s3cret, events: [document.reviewed], respond: [500, 500, 500, 500, 200]}}\n{APPROVE}  - control: {{advance_clock: 15m}}\n  - webhooks:\n      receiver: hooks\n      expect: [{{type: document.reviewed}}]\n      min_attempts: 5\n      max_attempts: 1\n"
    );
    let (code, list) = run_library(
        "webhooks",
        &[
            ("good.yaml", good),
            ("long_advance.yaml", long_advance),
            ("wrong_secret.yaml", wrong_secret),
            ("no_duplicates.yaml", no_duplicates),
            ("never.yaml", never),
        ],
    );
    assert_eq!(code, Some(1));
    for id in ["good", "long_advance"] {
        let ok = scenario(&list, id);
        assert_eq!(ok["outcome"], "passed", "{id}: {}", failures(ok));
    }
    let f = failures(scenario(&list, "wrong_secret"));
    assert!(f.contains("every delivery verifies"), "{f}");
    assert!(f.contains("bad_signature"), "{f}");
    let f = failures(scenario(&list, "no_duplicates"));
    assert!(
        f.contains("delivered again after it was answered 2xx"),
        "{f}"
    );
    let f = failures(scenario(&list, "never"));
    assert!(f.contains("event push.failed arrived"), "{f}");
}

#[test]
fn absolute_urls_dropped_connections_and_header_regex_variables() {
    let foreign = format!(
        "name: foreign\n{HEAD}steps:\n  - request:\n      method: GET\n      url: http://example.invalid/v1/schemas\n"
    );
    let own = format!(
        "name: own\n{HEAD}steps:\n  - request:\n      method: GET\n      url: '{{{{base_url}}}}/v1/schemas'\n      expect:\n        status: 200\n        headers:\n          match: {{x-request-id: '^.+$', content-type: '^{{{{nothing_special}}}}'}}\n",
    );
    let own = own.replace(
        "steps:",
        "vars: {nothing_special: application/json}\nsteps:",
    );
    let answered = format!(
        "name: answered\n{HEAD}steps:\n  - request:\n      method: GET\n      path: /v1/schemas\n      expect: {{connection: dropped}}\n"
    );
    let regex_var = format!(
        "name: regex var\n{HEAD}vars: {{want: 'a.b'}}\nsteps:\n  - request:\n      method: GET\n      path: /v1/schemas\n      headers: {{x-request-id: axb}}\n      expect:\n        headers:\n          match: {{x-request-id: '^{{{{want}}}}$'}}\n"
    );
    let (code, list) = run_library(
        "urls",
        &[
            ("foreign.yaml", foreign),
            ("own.yaml", own),
            ("answered.yaml", answered),
            ("regex_var.yaml", regex_var),
        ],
    );
    assert_eq!(code, Some(1));
    let f = failures(scenario(&list, "foreign"));
    assert!(
        f.contains("refused to send to http://example.invalid"),
        "{f}"
    );
    let own = scenario(&list, "own");
    assert_eq!(own["outcome"], "passed", "{}", failures(own));
    let f = failures(scenario(&list, "answered"));
    assert!(f.contains("connection dropped: \"a 200 response\""), "{f}");
    // `{{want}}` is inserted literally: `a.b` does not match `axb`.
    let f = failures(scenario(&list, "regex_var"));
    assert!(f.contains("header x-request-id matches"), "{f}");
}

#[test]
fn new_step_mistakes_are_load_errors() {
    let dir = scratch("step-errors");
    let bad = [
        (
            "both.yaml",
            format!("name: x\n{HEAD}steps:\n  - request:\n      method: GET\n      path: /v1/schemas\n      url: http://x/v1/schemas\n"),
            "not both",
        ),
        (
            "receiver.yaml",
            format!("name: x\n{HEAD}steps:\n  - webhook_receiver: {{name: hooks, secret: s}}\n  - webhooks: {{receiver: hook, expect: [{{type: a}}]}}\n"),
            "did you mean `hooks`?",
        ),
        (
            "dropped.yaml",
            format!("name: x\n{HEAD}steps:\n  - request:\n      method: GET\n      path: /v1/schemas\n      expect: {{connection: dropped, status: 200}}\n"),
            "cannot be combined",
        ),
        (
            "kind.yaml",
            format!("name: x\n{HEAD}steps:\n  - webhook_reciever: {{name: hooks, secret: s}}\n"),
            "did you mean `webhook_receiver`?",
        ),
    ];
    for (file, body, _) in &bad {
        std::fs::write(dir.join(file), body).unwrap();
    }
    let out = conformance(&["check", dir.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for (file, _, message) in &bad {
        assert!(err.contains(file), "{file} not reported: {err}");
        assert!(err.contains(message), "{file}: `{message}` not in {err}");
    }
}

#[test]
fn a_subdirectory_run_finds_the_library_snapshots() {
    let sub = scenarios().join("numora/documents");
    let out = conformance(&[
        "run",
        sub.to_str().unwrap(),
        "--filter",
        "get_document_shape",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    let file = sub.join("get_document_shape.yaml");
    let out = conformance(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
