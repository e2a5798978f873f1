//! The HTML report is one self-contained page that renders in a real
//! browser without a console error, and the JUnit and JSON reports carry
//! timings, the seed and the version.

use std::time::Duration;

use super::browser;
use super::util::{conformance, scenarios, scratch, text};

fn report(dir: &std::path::Path, format: &str, args: &[&str]) -> String {
    let file = dir.join(format!("report.{format}.out"));
    let mut argv = vec!["run", "-q", "--seed", "11", "--format", format];
    argv.extend_from_slice(&["--report", file.to_str().unwrap()]);
    argv.extend_from_slice(args);
    let out = conformance(&argv);
    assert!(out.status.code().is_some(), "{}", text(&out.stderr));
    std::fs::read_to_string(file).expect("the report was written")
}

/// A scenario that fails, so the reports carry a failure and a diff.
fn failing(dir: &std::path::Path) -> String {
    let file = dir.join("wrong_status.yaml");
    std::fs::write(
        &file,
        "name: the outbox answers 201 (it does not)\nsource: seed 000\nlevel: documented\nsteps:\n  - request:\n      method: GET\n      path: /v1/delivery/outbox?provider=dynamics365\n      expect:\n        status: 201\n",
    )
    .unwrap();
    file.to_str().unwrap().to_owned()
}

#[test]
fn junit_and_json_carry_times_seed_and_version() {
    let dir = scratch("reports-ci");
    let xml = report(&dir, "junit", &["--filter", "auth/"]);
    assert!(
        xml.contains("<property name=\"seed\" value=\"11\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains("<property name=\"target\" value=\"embedded fake\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "<property name=\"version\" value=\"{}\"/>",
            env!("CARGO_PKG_VERSION")
        )),
        "{xml}"
    );
    let suite = xml.lines().find(|l| l.contains("<testsuite ")).unwrap();
    assert!(suite.contains(" time=\""), "{suite}");
    for case in xml.lines().filter(|l| l.contains("<testcase ")) {
        assert!(case.contains(" time=\""), "{case}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&report(&dir, "json", &["--filter", "auth/"])).unwrap();
    assert_eq!(json["seed"], 11);
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["duration_ms"].is_u64());
    assert_eq!(json["coverage"]["rules_total"], 71, "{}", json["coverage"]);
    assert!(json["coverage"]["rules_checked"].as_u64().unwrap() >= 1);
    let r05 = json["coverage"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "R05")
        .expect("rule R05 is listed");
    assert_eq!(r05["status"], "passed", "{r05}");
    for s in json["scenarios"].as_array().unwrap() {
        assert!(s["duration_ms"].is_u64(), "{s}");
    }
}

#[test]
fn the_html_report_is_self_contained_and_renders_without_console_errors() {
    let dir = scratch("reports-html");
    // The rules catalogue next to the file makes it a library with coverage.
    std::fs::copy(scenarios().join("rules.yaml"), dir.join("rules.yaml")).unwrap();
    let bad = failing(&dir);
    let html = report(&dir, "html", &[&bad]);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    // Nothing the page could fetch: no source, link, stylesheet import.
    for remote in [" src=", "<link", "url(", "@import", " href="] {
        assert!(
            !html.contains(remote),
            "fetches `{remote}`: the page must be self-contained"
        );
    }
    assert!(html.contains("wrong_status"), "the failure is shown");
    assert!(html.contains("<h2>Coverage</h2>"), "the coverage is shown");
    assert!(
        html.contains("<span class=\"del\">      expected: 201</span>"),
        "the diff is shown: {html}"
    );
    let Some(chromium) = browser::browser_or_skip("html report") else {
        return;
    };
    let page_file = dir.join("report.html");
    std::fs::write(&page_file, &html).unwrap();
    let page = browser::load(
        &chromium,
        page_file.to_str().unwrap(),
        Duration::from_secs(60),
    );
    assert!(
        page.console_errors.is_empty(),
        "console errors: {:#?}\n{}",
        page.console_errors,
        page.log
    );
    // The summary the page's script draws.
    assert!(page.dom.contains("data-rendered=\"yes\""), "{}", page.dom);
    assert!(
        page.dom.contains("<span class=\"failed\">1 failed</span>"),
        "{}",
        page.dom
    );
}

#[test]
fn the_browser_check_catches_a_page_error() {
    let Some(chromium) = browser::browser_or_skip("browser self-check") else {
        return;
    };
    let dir = scratch("reports-broken-page");
    let page_file = dir.join("broken.html");
    std::fs::write(
        &page_file,
        "<!doctype html><html><body><p id=x>before</p><script>document.getElementById('x').textContent='ran';undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let page = browser::load(
        &chromium,
        page_file.to_str().unwrap(),
        Duration::from_secs(60),
    );
    assert!(page.dom.contains(">ran<"), "{}", page.dom);
    assert!(
        page.console_errors
            .iter()
            .any(|l| l.contains("undefinedFunction")),
        "the error was not seen: {}",
        page.log
    );
}
