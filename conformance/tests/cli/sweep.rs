//! `conformance sweep` and `conformance audit`, end to end: a small correct
//! client (tests/clients/sweep_client.py) sweeps green in both modes, and
//! deliberately wrong variants of it are caught in the expected case.

use std::process::{Command, Output};

use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

use super::util::{conformance, repo, scratch, serve, text};

fn client() -> String {
    repo()
        .join("conformance/tests/clients/sweep_client.py")
        .display()
        .to_string()
}

/// `conformance sweep` against the embedded fake, with extra environment.
fn sweep(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conformance"));
    cmd.arg("sweep")
        .args(args)
        .env_remove("NUMORA_API_KEY")
        .env_remove("NUMORA_OUTBOX_LIMIT")
        .current_dir(repo());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the conformance binary runs")
}

/// The JSON report's case named `name`.
fn case<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {report}"))
}

fn json_sweep(cases: &str, client_args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let c = client();
    let mut args = vec!["--only", cases, "--format", "json", "--quiet", "--"];
    args.push("python3");
    args.push(&c);
    args.extend_from_slice(client_args);
    let out = sweep(&args, env);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), report)
}

fn failures(c: &Value) -> String {
    c["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_correct_executor_sweeps_green_with_a_matrix_and_junit() {
    let dir = scratch("sweep-good");
    let junit = dir.join("sweep.xml");
    let c = client();
    let out = sweep(
        &[
            "--only",
            "clean,numora_429_outbox,dataverse_429_line_item,callback_connection_dropped,supplier_miss,inactive_connection,dispatch_409",
            "--format",
            "junit",
            "--report",
            junit.to_str().unwrap(),
            "--",
            "python3",
            &c,
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row {name}: {stdout}"))
            .to_owned()
    };
    assert!(row("clean").contains("0,0") && row("clean").ends_with("PASS"));
    assert!(row("clean").contains("4 delivered, 1 skipped"), "{stdout}");
    assert!(row("supplier_miss").contains("2 skipped"), "{stdout}");
    assert!(
        row("inactive_connection").contains("5 untouched"),
        "{stdout}"
    );
    assert!(row("dispatch_409").ends_with("n/a"), "{stdout}");
    assert!(stdout.contains("n/a dispatch_409: the client uses executor mode"));
    assert!(
        stdout.ends_with("6 passed, 0 failed, 1 not applicable\n"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("case 7 of 7"),
        "progress: {}",
        text(&out.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"7\" failures=\"0\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("<testcase classname=\"sweep\" name=\"dataverse_429_line_item\""));
}

#[test]
fn a_correct_dispatch_client_sweeps_green_and_its_409_case_applies() {
    let (code, report) = json_sweep(
        "clean,dispatch_409,dataverse_429_invoice_create,callback_response_lost",
        &["--mode", "dispatch"],
        &[],
    );
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(case(&report, "dispatch_409")["status"]["status"], "passed");
    assert_eq!(case(&report, "dispatch_409")["fault_fired"], true);
    assert_eq!(case(&report, "clean")["mode"], "dispatch");
    let verdicts = &case(&report, "clean")["verdicts"];
    assert!(
        verdicts["findings"].is_array() || verdicts["unavailable"].is_string(),
        "{verdicts}"
    );
    let lost = &case(&report, "callback_response_lost")["status"];
    assert_eq!(lost["status"], "not_applicable", "{lost}");
}

#[test]
fn a_client_that_reuses_a_failed_execution_id_breaks_the_contract() {
    let (code, report) = json_sweep(
        "dataverse_429_invoice_create",
        &["--bug", "reuse-execution-id"],
        &[],
    );
    assert_eq!(code, Some(1), "{report:#}");
    let c = case(&report, "dataverse_429_invoice_create");
    assert_eq!(c["status"]["status"], "failed");
    let f = failures(c);
    assert!(
        f.contains("ended failed (status push_failed), which this case does not allow"),
        "{f}"
    );
}

#[test]
fn a_client_that_reports_success_without_all_line_items_is_a_partial_write() {
    let (code, report) = json_sweep(
        "dataverse_429_line_item",
        &["--bug", "partial-success"],
        &[],
    );
    assert_eq!(code, Some(1), "{report:#}");
    let f = failures(case(&report, "dataverse_429_line_item"));
    assert!(f.contains("partial write: invoice"), "{f}");
    assert!(f.contains("the latest attempt is succeeded"), "{f}");
}

#[test]
fn a_client_that_stops_at_the_first_outbox_page_leaves_documents_behind() {
    let (code, report) = json_sweep(
        "outbox_two_pages",
        &["--bug", "first-page-only"],
        &[("NUMORA_OUTBOX_LIMIT", "2")],
    );
    assert_eq!(code, Some(1), "{report:#}");
    let f = failures(case(&report, "outbox_two_pages"));
    assert!(f.contains("ended untouched"), "{f}");
}

/// Each wrong client is caught with the rule the fake's verdicts name.
#[test]
fn wrong_clients_are_caught_with_the_expected_rule() {
    for (bug, case_name, rule, env) in [
        (
            "ignore-retry-after",
            "numora_429_outbox",
            "retry_after_ignored",
            None,
        ),
        (
            "reuse-execution-id",
            "dataverse_429_invoice_create",
            "execution_id_reused",
            None,
        ),
        (
            "first-page-only",
            "outbox_two_pages",
            "outbox_page_skipped",
            Some(("NUMORA_OUTBOX_LIMIT", "2")),
        ),
        (
            "partial-success",
            "dataverse_429_line_item",
            "partial_write",
            None,
        ),
    ] {
        let env: Vec<(&str, &str)> = env.into_iter().collect();
        let (code, report) = json_sweep(case_name, &["--bug", bug], &env);
        assert_eq!(code, Some(1), "{bug}: {report:#}");
        let c = case(&report, case_name);
        let f = failures(c);
        assert!(f.contains(&format!("verdict {rule}")), "{bug}: {f}");
    }
    // The same client done right has no error finding there.
    let (code, report) = json_sweep("numora_429_outbox,outbox_two_pages", &[], &[]);
    assert_eq!(code, Some(0), "{report:#}");
}

#[test]
fn a_target_without_control_and_a_missing_command_are_usage_errors() {
    let out = conformance(&["sweep", "--only", "clean"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no client command"));
    let out = conformance(&["sweep", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).lines().count(), 17);
}

/// A target that answers, but not the control routes, is told apart from
/// one that does not answer at all.
#[test]
fn a_target_whose_control_api_answers_404_is_named_as_lacking_it() {
    let no_health = serve(axum::Router::new().route("/v1/schemas", get(|| async { "[]" })));
    let health_only = serve(axum::Router::new().route(
        "/_mock/health",
        get(|| async { Json(json!({"status": "ok"})) }),
    ));
    for (target, why) in [
        (&no_health, "(GET /_mock/health answered 404)"),
        (&health_only, "(GET /_mock/workspaces answered 404)"),
    ] {
        let out = conformance(&["sweep", "--target", target, "--only", "clean", "--", "true"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "this target has no control API {why}; the sweep needs it"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("did not answer"), "{stderr}");
        assert!(!stderr.contains("case 1 of"), "no case ran: {stderr}");
    }
}

#[test]
fn a_client_command_that_does_not_exist_is_refused_before_any_case_runs() {
    for missing in ["no-such-cmd", "./no/such/client.sh"] {
        let out = sweep(&["--only", "clean", "--", missing, "--flag"], &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("the client command `{missing}` was not found")),
            "{stderr}"
        );
        assert!(!stderr.contains("case 1 of"), "no case ran: {stderr}");
        assert!(out.stdout.is_empty(), "no report: {}", text(&out.stdout));
    }
}

#[test]
fn an_unknown_case_name_lists_the_valid_ones_and_suggests_the_closest() {
    let out = conformance(&["sweep", "--only", "clean,numora_429_outbx", "--", "true"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no case named `numora_429_outbx`; did you mean `numora_429_outbox`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("valid names: clean, numora_429_outbox,"),
        "{stderr}"
    );
    let out = conformance(&["sweep", "--only", "zzz", "--", "true"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("did you mean"),
        "nothing is close: {stderr}"
    );
    assert!(stderr.contains("valid names: clean,"), "{stderr}");
}

/// The report names the workspace of a failed case, and says whether it is
/// still there to inspect.
#[test]
fn the_report_says_whether_a_failed_case_s_workspace_was_kept() {
    let out = sweep(&["--only", "clean", "--quiet", "--", "false"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("(removed after the case; --keep keeps it to inspect)"),
        "{stdout}"
    );
    let out = sweep(
        &["--only", "clean", "--quiet", "--keep", "--", "false"],
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("workspace: "))
        .unwrap_or_else(|| panic!("no workspace line: {stdout}"));
    assert!(line.ends_with("(kept, to inspect)"), "{line}");
    assert!(!stdout.contains("removed after the case"), "{stdout}");
}

/// A stand-in for a fake with the verdicts endpoint (its documented shape).
fn verdicts_target(findings: Value) -> String {
    let body = json!({"data": {"findings": findings, "summary": {}}});
    serve(
        axum::Router::new()
            .route("/_mock/health", get(|| async { Json(json!({"status": "ok"})) }))
            .route(
                "/_mock/workspaces",
                get(|| async {
                    Json(json!({"data": [{"id": "ws1", "api_key": "sk_a", "api_keys": [{"key": "sk_b"}]}]}))
                }),
            )
            .route(
                "/_mock/workspaces/ws1",
                get(|| async { Json(json!({"data": {"id": "ws1"}})) }),
            )
            .route(
                "/_mock/workspaces/ws1/verdicts",
                get(move || {
                    let b = body.clone();
                    async move { Json(b) }
                }),
            ),
    )
}

#[test]
fn audit_prints_findings_and_fails_at_the_chosen_severity() {
    let url = verdicts_target(json!([
        {"rule": "retry_without_backoff", "severity": "warning", "message": "retried 3 times at once",
         "advice": "back off", "source": "seed 001", "evidence": [4, 5, 6], "document_id": "doc-9"},
        {"rule": "no_request_id", "severity": "info", "message": "no x-request-id", "advice": "send one",
         "source": "seed 001", "evidence": [1]}
    ]));
    let out = conformance(&["audit", "--target", &url, "--api-key", "sk_b"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with(
        "warning retry_without_backoff (document doc-9): retried 3 times at once\n        fix: back off\n        evidence: journal #4, #5, #6; source: seed 001\n"
    ), "{stdout}");
    assert!(stdout.ends_with("workspace ws1: 0 error, 1 warning, 1 info (0 at or above error)\n"));
    let out = conformance(&[
        "audit",
        "--target",
        &url,
        "--workspace",
        "ws1",
        "--fail-on",
        "warning",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"], json!({"error": 0, "warning": 1, "info": 1}));
    // With --report the file gets --format, whatever its extension says,
    // and stdout stays human.
    let dir = scratch("audit");
    let file = dir.join("audit.json");
    let out = conformance(&[
        "audit",
        "--target",
        &url,
        "--workspace",
        "ws1",
        "--fail-on",
        "warning",
        "--format",
        "junit",
        "--report",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("warning retry_without_backoff"));
    let xml = std::fs::read_to_string(file).unwrap();
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("failures=\"1\"")
            && xml.contains("retry_without_backoff doc-9"),
        "{xml}"
    );
    let out = conformance(&["audit", "--target", &url, "--workspace", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("workspace `nope` does not exist"));
}

#[test]
fn audit_says_when_the_target_has_no_verdicts() {
    let url = serve(
        axum::Router::new()
            .route(
                "/_mock/health",
                get(|| async { Json(json!({"status": "ok"})) }),
            )
            .route(
                "/_mock/workspaces/default",
                get(|| async { Json(json!({"data": {"id": "default"}})) }),
            ),
    );
    let out = conformance(&["audit", "--target", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("verdicts unavailable on this target"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_scenario_step_asserts_verdicts() {
    let dir = scratch("verdicts-step");
    std::fs::write(
        dir.join("v.yaml"),
        "name: a clean read has no error finding\nsource: docs/verdicts.md\nlevel: fake\nrequires: {control: true}\nsteps:\n  - request: {method: GET, path: /v1/delivery/outbox?provider=dynamics365, headers: {x-request-id: r1}, expect: {status: 200}}\n  - verdicts: {none_at_or_above: error, excludes: [retry_after_ignored]}\n",
    )
    .unwrap();
    let out = conformance(&["run", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    std::fs::write(
        dir.join("v.yaml"),
        "name: includes fails when the rule is absent\nsource: docs/verdicts.md\nlevel: fake\nrequires: {control: true}\nsteps:\n  - verdicts: {includes: [partial_write]}\n",
    )
    .unwrap();
    let out = conformance(&["run", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("findings include `partial_write`"));
}

#[test]
fn the_n8n_case_files_parse_and_replace_catalog_cases() {
    for file in [
        "examples/n8n/dispatch-cases.yaml",
        "examples/n8n/executor-cases.yaml",
    ] {
        let out = conformance(&["sweep", "--cases", file, "--list"]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
        let list = text(&out.stdout);
        assert_eq!(
            list.lines().count(),
            17,
            "{file}: only replacements: {list}"
        );
        assert!(list.contains("examples/n8n README") || list.contains("supplier lookup"));
    }
}

/// A case's fault is disarmed before the judge reads: a dispatch client
/// never reads results, so the result fault never fires (not applicable)
/// and the judge's own result reads are not refused.
#[test]
fn a_fault_the_client_never_met_is_not_applicable_and_does_not_hit_the_judge() {
    let (code, report) = json_sweep("numora_5xx_result", &["--mode", "dispatch"], &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let c = case(&report, "numora_5xx_result");
    assert_eq!(c["status"]["status"], "not_applicable", "{c:#}");
    assert_eq!(c["fault_fired"], false);
    assert_eq!(c["documents"].as_array().unwrap().len(), 5);
}

#[test]
fn sweep_and_audit_help_show_examples_and_the_report_rule() {
    for command in ["sweep", "audit"] {
        let out = conformance(&[command, "--help"]);
        let help = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{help}");
        assert!(
            help.contains(&format!("Examples:\n  conformance {command} ")),
            "{help}"
        );
        assert!(help.contains("--format junit --report"), "{help}");
        assert!(help.contains("never decides"), "{help}");
        assert!(help.contains("Exit status: 0"), "{help}");
    }
}
