//! Proof that the checks can fail: the harness runs against the embedded
//! fake behind a proxy that breaks one rule, and the run must fail and name
//! the broken rule.

use axum::http::{Method, StatusCode};

use super::proxy::{Breaker, Exchange};
use super::util::{conformance, scenarios, text};

#[derive(Clone, Copy, Debug)]
enum Break {
    /// A changed delivery-callback replay is accepted (409 → 200).
    AcceptChangedReplay,
    /// Responses lose their x-request-id header.
    DropRequestId,
    /// The outbox ignores the cursor: every page is the first page.
    RepeatPage,
    /// Dispatch answers 200 instead of 202.
    DispatchOk,
}

impl Breaker for Break {
    fn forward_to(&self, path: &str, query: &str) -> String {
        if matches!(self, Break::RepeatPage) && path == "/v1/delivery/outbox" {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.starts_with("cursor="))
                .collect();
            return format!("{path}?{}", kept.join("&"));
        }
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        }
    }

    fn answer(&self, x: &mut Exchange<'_>) {
        match self {
            Break::AcceptChangedReplay
                if *x.method == Method::POST
                    && x.path.ends_with("/delivery")
                    && x.status == StatusCode::CONFLICT =>
            {
                x.status = StatusCode::OK;
            }
            Break::DropRequestId => {
                x.headers.remove("x-request-id");
            }
            Break::DispatchOk
                if x.path.ends_with("/dispatch") && x.status == StatusCode::ACCEPTED =>
            {
                x.status = StatusCode::OK;
            }
            _ => {}
        }
    }
}

/// The embedded fake behind a proxy that breaks `mode`; the proxy's origin.
fn broken_target(mode: Break) -> String {
    super::proxy::start(mode)
}

/// Run one scenario file against `target` with the binary; returns
/// (success, human report).
fn run(target: &str, scenario: &str) -> (bool, String) {
    let path = scenarios().join(scenario);
    let out = conformance(&["run", "--target", target, "-q", path.to_str().unwrap()]);
    (out.status.success(), text(&out.stdout))
}

#[test]
fn an_accepted_changed_replay_fails_the_idempotency_rule() {
    let target = broken_target(Break::AcceptChangedReplay);
    let (ok, report) = run(&target, "numora/delivery/callback_idempotency.yaml");
    assert!(!ok, "{report}");
    assert!(report.contains("FAILED callback_idempotency"), "{report}");
    assert!(
        report.contains("\"changed replay is a conflict\""),
        "{report}"
    );
    assert!(
        report.contains("✗ status\n      expected: 409\n      actual:   200"),
        "{report}"
    );
    assert!(
        report.contains("\n0 passed, 1 failed, 0 skipped in "),
        "{report}"
    );
}

#[test]
fn a_dropped_request_id_header_fails_the_envelope_rule() {
    let target = broken_target(Break::DropRequestId);
    let (ok, report) = run(&target, "numora/errors/envelope_and_request_id.yaml");
    assert!(!ok, "{report}");
    assert!(report.contains("✗ header x-request-id present"), "{report}");
    assert!(
        report.contains("✗ header x-request-id equals body $.error.request_id"),
        "{report}"
    );
}

#[test]
fn a_repeated_page_fails_the_pagination_rule() {
    let target = broken_target(Break::RepeatPage);
    let (ok, report) = run(&target, "numora/outbox/pagination_walk.yaml");
    assert!(!ok, "{report}");
    assert!(
        report.contains("\"second page, cursor passed back unchanged\""),
        "{report}"
    );
    assert!(
        report.contains("✗ json $.data[*].document_id not_contains"),
        "{report}"
    );
}

#[test]
fn a_synchronous_dispatch_status_fails_the_dispatch_rule() {
    let target = broken_target(Break::DispatchOk);
    let (ok, report) = run(&target, "numora/dispatch/accepted_as_queued.yaml");
    assert!(!ok, "{report}");
    assert!(
        report.contains("rule: seed 000 \"Dispatch a Reviewed Document\""),
        "{report}"
    );
    assert!(report.contains("expected: 202"), "{report}");
}
