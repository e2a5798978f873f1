//! Verifying a deployment: against the fake without its control API (a
//! correct deployment by construction) a writing run passes twice in a row;
//! a read-only run groups its skips, reports coverage and fails the gates;
//! provider states come from a hook or --var; dispatches need their own
//! flag; rule ids are checked against the catalogue.

use std::sync::OnceLock;

use super::util::{conformance, scratch, text};

const KEY: &str = "sk_test_numora_mock_default";
/// A reviewed, finalized document of the default world.
const REVIEWED: &str = "4be38121-3791-4856-80d5-c57dbec2cf78";

/// One fake without control for this file's tests, on its own thread.
fn deployment() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start_without_control(None))
}

/// A fake without control on a thread of its own (for the life of the
/// test process); its origin.
pub(crate) fn start_without_control(fixtures_yaml: Option<String>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let fake = conformance::start_embedded_fake_without_control(7, fixtures_yaml)
                .await
                .expect("the fake starts");
            tx.send(fake.url.clone()).expect("send url");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the fake's url")
}

#[test]
fn a_writing_run_passes_twice_in_a_row_on_a_correct_deployment() {
    let url = deployment();
    for run in 1..=2 {
        let out = conformance(&[
            "run",
            "-q",
            "--target",
            url,
            "--api-key",
            KEY,
            "--allow-writes",
        ]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "run {run}:\n{stdout}");
        assert!(
            stdout.contains(" passed, 0 failed, "),
            "run {run}: {stdout}"
        );
        // Nothing that writes is skipped for want of --allow-writes.
        assert!(
            !stdout.contains("pass --allow-writes"),
            "run {run}: {stdout}"
        );
    }
}

#[test]
fn a_read_only_run_groups_skips_reports_coverage_and_fails_the_gates() {
    let url = deployment();
    let out = conformance(&[
        "run",
        "-q",
        "--target",
        url,
        "--api-key",
        KEY,
        "--min-coverage",
        "50",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(" × sends writes (POST/PUT/PATCH/DELETE); pass --allow-writes"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" × needs the control API of the fake"),
        "{stdout}"
    );
    assert!(stdout.contains("coverage:\n  checked "), "{stdout}");
    assert!(stdout.contains(" of 71 documented rules ("), "{stdout}");
    assert!(stdout.contains(" of 21 documented operations"), "{stdout}");
    assert!(stderr.contains("below --min-coverage 50"), "{stderr}");
    // Without the gate, the same run is green.
    let out = conformance(&["run", "-q", "--target", url, "--api-key", KEY]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = conformance(&[
        "run",
        "-q",
        "--target",
        url,
        "--api-key",
        KEY,
        "--fail-on-skip",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--fail-on-skip"),
        "{}",
        text(&out.stderr)
    );
    // The embedded fake checks well over half of the rules.
    let out = conformance(&["run", "-q", "--min-coverage", "50"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

fn scenario(dir: &std::path::Path, name: &str, body: &str) -> String {
    let file = dir.join(name);
    std::fs::write(&file, body).unwrap();
    file.to_str().unwrap().to_owned()
}

#[test]
fn a_provider_state_comes_from_the_hook_or_is_skipped_with_the_way_to_enable_it() {
    let url = deployment();
    let dir = scratch("state-hook");
    let file = scenario(
        &dir,
        "state.yaml",
        "name: a reviewed document reads back\nsource: test\nlevel: documented\nstate: reviewed_document\nrequires: {vars: [doc]}\nsteps:\n  - request:\n      method: GET\n      path: /v1/documents/{{doc}}\n      expect:\n        status: 200\n        json:\n          $.data.status: {equals: reviewed}\n",
    );
    let out = conformance(&["run", "--target", url, "--api-key", KEY, &file]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("needs the provider state `reviewed_document`: pass --state-hook CMD (run as `CMD reviewed_document`), or --var doc=…"),
        "{stdout}"
    );
    let hook = dir.join("hook.sh");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\n[ \"$1\" = reviewed_document ] || exit 3\nprintf '{{\"doc\": \"{REVIEWED}\"}}'\n"),
    )
    .unwrap();
    let hook_cmd = format!("sh {}", hook.display());
    let out = conformance(&[
        "run",
        "--target",
        url,
        "--api-key",
        KEY,
        "--state-hook",
        &hook_cmd,
        &file,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("1 passed, 0 failed, 0 skipped"),
        "{}",
        text(&out.stdout)
    );
    // A hook that prints a number where a string belongs fails the scenario.
    std::fs::write(&hook, "#!/bin/sh\nprintf '{\"doc\": 7}'\n").unwrap();
    let out = conformance(&[
        "run",
        "--target",
        url,
        "--api-key",
        KEY,
        "--state-hook",
        &hook_cmd,
        &file,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("`doc` must be a string"),
        "{}",
        text(&out.stdout)
    );
    // A hook that leaves out a variable the scenario needs says which.
    std::fs::write(&hook, "#!/bin/sh\nprintf '{}'\n").unwrap();
    let out = conformance(&[
        "run",
        "--target",
        url,
        "--api-key",
        KEY,
        "--state-hook",
        &hook_cmd,
        &file,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("printed no doc"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_dispatch_needs_allow_dispatch_as_well() {
    let url = deployment();
    let dir = scratch("dispatch-flag");
    let file = scenario(
        &dir,
        "dispatch.yaml",
        "name: dispatch a document\nsource: test\nlevel: documented\nrequires: {writes: true, vars: [doc]}\nsteps:\n  - request:\n      method: POST\n      path: /v1/documents/{{doc}}/dispatch\n      body: {provider: dynamics365}\n      expect:\n        status: 202\n",
    );
    let var = format!("doc={REVIEWED}");
    let out = conformance(&[
        "run",
        "--target",
        url,
        "--api-key",
        KEY,
        "--allow-writes",
        "--var",
        &var,
        &file,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("pass --allow-dispatch"),
        "{}",
        text(&out.stdout)
    );
    let out = conformance(&[
        "run",
        "--target",
        url,
        "--api-key",
        KEY,
        "--allow-dispatch",
        &file,
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--allow-dispatch alone is a usage error"
    );
}

#[test]
fn a_cited_rule_must_be_in_the_catalogue() {
    let dir = scratch("rules-catalogue");
    std::fs::write(
        dir.join("rules.yaml"),
        "rules:\n  - {id: R01, evidence: stated, area: a, text: one}\n  - {id: R02, evidence: stated, area: a, text: two}\nendpoints: []\n",
    )
    .unwrap();
    scenario(
        &dir,
        "cites.yaml",
        "name: n\nsource: s\nrules: [R01, R2]\nlevel: documented\nsteps:\n  - request: {method: GET, path: /v1/schemas}\n",
    );
    let out = conformance(&["check", dir.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("rule `R2` is not in rules.yaml"), "{err}");
    assert!(err.contains("cites.yaml:3:14"), "{err}");
    assert!(err.contains("did you mean `R02`?"), "{err}");
}
