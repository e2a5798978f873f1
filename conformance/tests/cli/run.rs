//! The CLI contract: exit codes, located parse errors, the summary line,
//! and the whole library passing against the embedded fake.

use super::util::{conformance, scenarios, scratch, text};

#[test]
fn check_parses_the_library() {
    let out = conformance(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("scenarios OK\n"));
}

#[test]
fn a_broken_file_is_located_with_a_caret_and_a_suggestion_and_exits_2() {
    let dir = scratch("parse");
    std::fs::write(
        dir.join("typo.yaml"),
        "name: x\nsource: seed 000\nlevel: documented\nsteps:\n  - request:\n      method: GET\n      path: /v1/schemas\n      expct:\n        status: 200\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kind.yaml"),
        "name: x\nsource: seed 000\nlevel: documented\nsteps:\n  - requets:\n      method: GET\n      path: /v1/schemas\n",
    )
    .unwrap();
    let out = conformance(&["check", dir.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("typo.yaml:8:7"), "{err}");
    assert!(err.contains("8 |       expct:\n  |       ^"), "{err}");
    assert!(err.contains("did you mean `expect`?"), "{err}");
    assert!(
        err.contains("kind.yaml:5:"),
        "both files are reported: {err}"
    );
    assert!(err.contains("did you mean `request`?"), "{err}");
    // `run` parses everything before sending anything, and also exits 2.
    let out = conformance(&["run", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    let out = conformance(&["run", "--var", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("NAME=VALUE"));
    let out = conformance(&["run", "--target", "ftp://x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = conformance(&["run", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_library_passes_against_the_embedded_fake() {
    let dir = scratch("reports");
    let junit = dir.join("report.xml");
    let out = conformance(&[
        "run",
        "--format",
        "junit",
        "--report",
        junit.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let (n, rest) = last.split_once(" passed, ").expect("summary line");
    assert!(n.parse::<usize>().unwrap() > 20, "{last}");
    assert!(rest.starts_with("0 failed, 0 skipped in "), "{last}");
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.starts_with("<?xml") && xml.contains("<testsuite name=\"numora\""),
        "{xml}"
    );
    assert!(!xml.contains("<failure"));
}

#[test]
fn json_format_is_parseable_and_counts_match() {
    let out = conformance(&["run", "--format", "json", "--filter", "auth", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let n = v["scenarios"].as_array().unwrap().len();
    assert!(n >= 2);
    assert_eq!(v["summary"]["passed"], n);
    assert!(scenarios().is_dir());
}

/// `scenario.schema.json` and the parser agree on the whole library.
#[test]
fn every_scenario_validates_against_the_format_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scenarios().join("scenario.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let files = conformance::scenario_files(&scenarios()).unwrap();
    assert!(files.len() > 20);
    for f in files {
        let yaml: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&yaml)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
}
