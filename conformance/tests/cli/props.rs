//! `conformance props`: the properties pass against the fake, fail with a
//! shrunk sequence against a fake behind a proxy that breaks one rule, and
//! refuse (exit 2) to write to a target without being told which documents.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::proxy::{Breaker, Exchange};
use super::util::{conformance, scratch, serve, text};

/// A document of the default world that starts push_pending.
const PENDING_DOC: &str = "5e4a0d27-9b13-4c68-a2f5-7e1c3b8d9f06";

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 409 on `POST …/delivery` becomes 200: changed replays are accepted.
    AcceptChangedReplay,
    /// The outbox's last page also lists a push_pending document.
    ListPending,
}

impl Breaker for Fault {
    fn answer(&self, x: &mut Exchange<'_>) {
        match self {
            Fault::AcceptChangedReplay
                if *x.method == Method::POST
                    && x.path.ends_with("/delivery")
                    && x.status == StatusCode::CONFLICT =>
            {
                x.status = StatusCode::OK;
            }
            Fault::ListPending if x.path == "/v1/delivery/outbox" && x.status == StatusCode::OK => {
                let Ok(mut page) = serde_json::from_slice::<Value>(&x.body) else {
                    return;
                };
                let limit: usize = x
                    .query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("limit="))
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(50);
                let room = page["data"].as_array().is_some_and(|a| a.len() < limit);
                if page["meta"]["next_cursor"].is_null() && room {
                    if let Some(items) = page["data"].as_array_mut() {
                        items.push(json!({
                            "document_id": PENDING_DOC,
                            "schema": "invoice_v2",
                            "status": "push_pending",
                            "external_id": null,
                            "metadata": {},
                            "result_url": format!("/v1/documents/{PENDING_DOC}/result"),
                            "dispatch_url": format!("/v1/documents/{PENDING_DOC}/dispatch"),
                            "updated_at": "2026-03-24T23:00:00.000Z",
                        }));
                    }
                    x.body = serde_json::to_vec(&page).unwrap_or_default();
                }
            }
            _ => {}
        }
    }
}

/// The embedded fake behind a proxy that breaks one rule; the proxy's origin.
fn broken_fake(fault: Fault) -> String {
    super::proxy::start(fault)
}

/// Run the properties with the binary; (exit code, report).
fn props(args: &[&str]) -> (u8, String) {
    let mut argv = vec!["props", "-q"];
    argv.extend_from_slice(args);
    let out = conformance(&argv);
    let code = out.status.code().expect("an exit code");
    (
        u8::try_from(code).expect("a small exit code"),
        text(&out.stdout),
    )
}

#[test]
fn the_properties_hold_on_the_embedded_fake() {
    let dir = scratch("props-ok");
    let out = conformance(&[
        "props",
        "--cases",
        "24",
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("ok      delivery_state_machine   24 cases"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok      concurrent_requests      24 cases"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("\n2 properties held, 0 failed (48 cases passed)\n"),
        "{stdout}"
    );
}

#[test]
fn an_accepted_changed_replay_is_found_and_shrunk() {
    let proxy = broken_fake(Fault::AcceptChangedReplay);
    let dir = scratch("props-changed-replay");
    let (code, report) = props(&[
        "--target",
        &proxy,
        "--cases",
        "64",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAILED  "), "{report}");
    assert!(report.contains("shrunk failing sequence ("), "{report}");
    // A changed replay answered 200, alone or in a parallel burst.
    assert!(
        report.contains("expected status 409, got 200")
            || report.contains("statuses 200, 201; expected one 201 and the rest 409"),
        "{report}"
    );
    assert!(
        report.contains("replay: conformance props --seed 7 --cases 64 --target"),
        "{report}"
    );
    assert!(report.contains(" failed ("), "{report}");
    assert!(
        !report.contains("warning: the scenario file does not load"),
        "{report}"
    );
    // The shrunk case is short: two callbacks and a probe suffice.
    let shrunk = report
        .split("shrunk failing sequence (")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("a count");
    assert!(shrunk <= 3, "{report}");
    // The scenario file replays the failure with `conformance run` and
    // passes against the fake itself.
    let file = std::fs::read_dir(&dir)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "yaml"))
        .expect("a scenario file");
    let broken = conformance(&["run", "--target", &proxy, "-q", file.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stdout));
    let fixed = conformance(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stdout));
    assert!(text(&fixed.stdout).contains("\n1 passed, 0 failed, 0 skipped in "));
}

#[test]
fn a_pending_document_in_the_outbox_is_found() {
    let proxy = broken_fake(Fault::ListPending);
    let dir = scratch("props-list-pending");
    let (code, report) = props(&[
        "--target",
        &proxy,
        "--cases",
        "64",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!(
            "outbox: lists {PENDING_DOC} in status push_pending"
        )),
        "{report}"
    );
    assert!(report.contains("outbox walk limit="), "{report}");
    assert!(report.contains("regression scenario: "), "{report}");
}

#[test]
fn a_target_without_control_needs_writes_and_documents() {
    let stub = serve(axum::Router::new());
    let no_writes = conformance(&["props", "--target", &stub, "--api-key", "k"]);
    assert_eq!(no_writes.status.code(), Some(2));
    assert!(
        text(&no_writes.stderr).contains("needs --allow-writes --allow-dispatch"),
        "{}",
        text(&no_writes.stderr)
    );
    let no_docs = conformance(&[
        "props",
        "--target",
        &stub,
        "--api-key",
        "k",
        "--allow-writes",
        "--allow-dispatch",
    ]);
    assert_eq!(no_docs.status.code(), Some(2));
    assert!(
        text(&no_docs.stderr).contains("--var doc=<id>"),
        "{}",
        text(&no_docs.stderr)
    );
    let bad_var = conformance(&["props", "--var", "reviewed=x"]);
    assert_eq!(bad_var.status.code(), Some(2));
}
