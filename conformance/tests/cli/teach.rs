//! The CLI teaches: help with examples, unknown commands with a
//! suggestion, the built-in library from anywhere, plain output off a
//! terminal, counters and timings, one report per failure, plurals, and
//! failed checks that say what is there instead.

use super::util::{conformance, conformance_in, scenarios, scratch, text};

#[test]
fn help_has_examples_and_no_code_comments() {
    let out = conformance(&["--help"]);
    let help = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        help.starts_with("Check that a Numora API deployment"),
        "{help}"
    );
    assert!(help.contains("Examples:\n  conformance "), "{help}");
    assert!(help.contains("--target https://api.example"), "{help}");
    for leak in ["[`", "The whole command line", "Cli`"] {
        assert!(!help.contains(leak), "leaked `{leak}`: {help}");
    }
}

#[test]
fn an_unknown_command_is_an_error_with_a_suggestion() {
    let out = conformance(&["lsit"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unrecognized command `lsit`"), "{err}");
    assert!(err.contains("did you mean `list`?"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
    // An existing path is still a path.
    let out = conformance(&["check", "scenarios/numora/auth"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_built_in_library_is_used_from_any_directory() {
    let elsewhere = scratch("elsewhere");
    let out = conformance_in(&elsewhere, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let files = conformance::scenario_files(&scenarios()).unwrap().len();
    assert_eq!(text(&out.stdout), format!("{files} scenarios OK\n"));
    let out = conformance_in(&elsewhere, &["list", "--filter", "auth/"]);
    assert!(
        text(&out.stdout).contains("numora/auth/"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn counts_agree_in_number() {
    let one = scenarios().join("numora/auth/missing_or_invalid_key.yaml");
    assert!(one.is_file(), "the example scenario moved");
    let out = conformance(&["check", one.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "1 scenario OK\n");
}

fn failing_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("typo.yaml");
    std::fs::write(
        &file,
        "name: a mistyped path and a wrong status\nsource: seed 000\nlevel: documented\nsteps:\n  - request:\n      method: GET\n      path: /v1/delivery/outbox?provider=dynamics365\n      expect:\n        status: 201\n        json:\n          $.meta.nxt_cursor: {type: string}\n",
    )
    .unwrap();
    file
}

#[test]
fn a_failure_is_reported_once_with_types_and_the_nearest_key() {
    let dir = scratch("teach-fail");
    let file = failing_scenario(&dir);
    let out = conformance(&["run", file.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout.matches("FAILED").count(), 1, "{stdout}");
    assert!(
        stdout.contains("expected: 201\n      actual:   200"),
        "{stdout}"
    );
    assert!(stdout.contains("did you mean `next_cursor`?"), "{stdout}");
    assert!(!stdout.contains("<present>"), "{stdout}");
    assert!(stdout.contains("json $.meta.nxt_cursor type"), "{stdout}");
    // Progress: a counter and a time, and no detail repeated on stderr.
    assert!(stderr.contains("[1/1] FAILED  typo (step 1)"), "{stderr}");
    assert!(!stderr.contains("expected:"), "{stderr}");
    // Not a terminal: no colour codes anywhere.
    assert!(!stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'));
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("0 passed, 1 failed, 0 skipped in "),
        "{last}"
    );
}

#[test]
fn the_format_flag_decides_the_report_format_not_the_extension() {
    let dir = scratch("teach-format");
    let report = dir.join("ci-report.json");
    let out = conformance(&[
        "run",
        "--filter",
        "auth/missing_or_invalid_key",
        "-q",
        "--format",
        "junit",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        text(&out.stdout).contains("1 passed, 0 failed"),
        "human on stdout"
    );
}
