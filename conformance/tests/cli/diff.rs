//! `conformance diff`: two identical fakes differ in nothing; a fake with
//! another rate limit differs in exactly that header.

use super::deployment::start_without_control;
use super::util::{conformance, scenarios, text};

const KEY: &str = "sk_test_numora_mock_default";

fn diff(a: &str, b: &str, extra: &[&str]) -> (i32, String) {
    let mut argv = vec!["diff", "--target", a, "--against", b, "--api-key", KEY];
    argv.extend_from_slice(extra);
    let out = conformance(&argv);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.code().expect("an exit code"), all)
}

#[test]
fn two_identical_fakes_do_not_differ_and_a_changed_setting_is_the_only_difference() {
    let default = std::fs::read_to_string(scenarios().join("fixtures/default.yaml")).unwrap();
    assert!(
        default.contains("rate_limit: 600"),
        "the default world's rate limit moved"
    );
    let a = start_without_control(None);
    let b = start_without_control(None);
    let (code, out) = diff(&a, &b, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" differ (0 differences)"), "{out}");
    let lines = out.lines().last().unwrap_or_default();
    let compared: usize = lines.split(' ').next().unwrap().parse().unwrap();
    assert!(
        compared > 20,
        "the walk and the scenarios' requests ran: {out}"
    );

    let changed =
        start_without_control(Some(default.replace("rate_limit: 600", "rate_limit: 300")));
    let (code, out) = diff(&a, &changed, &[]);
    assert_eq!(code, 1, "{out}");
    let found: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(!found.is_empty(), "{out}");
    assert!(
        found
            .iter()
            .all(|l| *l == "  header x-rate-limit-limit: \"600\" vs \"300\""),
        "only the rate limit differs: {out}"
    );
    // Leaving the header out is not possible with --ignore (it is for
    // bodies), but --shape-only compares no values.
    let (code, out) = diff(&a, &changed, &["--shape-only"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn with_writes_each_side_runs_the_writing_scenarios_and_only_the_setting_differs() {
    let default = std::fs::read_to_string(scenarios().join("fixtures/default.yaml")).unwrap();
    let a = start_without_control(None);
    let b = start_without_control(None);
    let (code, out) = diff(&a, &b, &["--allow-writes"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" differ (0 differences)"), "{out}");
    let c = start_without_control(None);
    let changed =
        start_without_control(Some(default.replace("rate_limit: 600", "rate_limit: 300")));
    let (code, out) = diff(&c, &changed, &["--allow-writes"]);
    assert_eq!(code, 1, "{out}");
    let found: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(
        found
            .iter()
            .all(|l| *l == "  header x-rate-limit-limit: \"600\" vs \"300\""),
        "only the rate limit differs: {out}"
    );
    // The writing scenarios' steps were compared too.
    assert!(
        out.lines()
            .any(|l| l.starts_with("numora/documents/create_idempotent step ")),
        "{out}"
    );
}

#[test]
fn ignore_paths_and_usage_errors() {
    let a = start_without_control(None);
    let (code, out) = diff(&a, &a, &["--ignore", "$.data[*].nope"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = diff(&a, &a, &["--ignore", "data"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("must start with `$`"), "{out}");
}
