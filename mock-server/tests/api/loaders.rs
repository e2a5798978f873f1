//! the fixture loader never panics, whatever it is given; it answers
//! with a located error instead.

use proptest::prelude::*;

use mock_server::fixtures::{Fixture, DEFAULT_WORLD};
use mock_server::MockServer;

/// Loads a fixture the way the server does. A refusal must be a fixture error
/// that says where: `fixtures:LINE:COL` inside the text, or a path into the
/// fixture (`documents[2].status`), and what is wrong.
fn try_load(yaml: &str) {
    let Err(err) = MockServer::builder()
        .fixtures_yaml(yaml.to_string())
        .build_state()
    else {
        return;
    };
    let mock_server::StartError::Fixtures(e) = err else {
        panic!("a fixture text was refused without a location: {err}");
    };
    assert_located(&e, "fixtures", yaml);
}

/// `e.location` is `NAME:LINE:COL` with the line inside `text` (one past the
/// end for an unexpected end of input), or a field path; the message is not empty.
fn assert_located(e: &mock_server::fixtures::FixtureError, name: &str, text: &str) {
    assert!(
        !e.message.trim().is_empty(),
        "an empty message at {}",
        e.location
    );
    match e.location.strip_prefix(&format!("{name}:")) {
        Some(rest) => {
            let mut parts = rest.splitn(2, ':');
            let line: usize = parts
                .next()
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| panic!("no line in '{}'", e.location));
            let lines = text.lines().count().max(1);
            assert!(
                (1..=lines + 1).contains(&line),
                "line {line} outside the text's {lines} lines: {e}"
            );
            if let Some(column) = parts.next() {
                let column: usize = column
                    .parse()
                    .unwrap_or_else(|_| panic!("a bad column in '{}'", e.location));
                assert!(column >= 1, "{e}");
            }
        }
        None => assert!(
            e.location
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase()),
            "neither file:line:col nor a field path: '{}' ({e})",
            e.location
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary text: an error with a location, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        if let Err(e) = Fixture::from_yaml("fuzz.yaml", &text) {
            prop_assert!(e.location.starts_with("fuzz.yaml"), "{e}");
            assert_located(&e, "fuzz.yaml", &text);
        }
        try_load(&text);
    }

    /// The default world with one line dropped or one character replaced.
    #[test]
    fn mutated_default_world_never_panics(line in 0usize..400, column in 0usize..60, replacement in "[ -~]") {
        let lines: Vec<&str> = DEFAULT_WORLD.lines().collect();
        let line = line % lines.len();
        let dropped: String = lines.iter().enumerate().filter(|(i, _)| *i != line).map(|(_, l)| format!("{l}\n")).collect();
        try_load(&dropped);
        let mut chars: Vec<char> = lines[line].chars().collect();
        if !chars.is_empty() {
            let c = column % chars.len();
            chars[c] = replacement.chars().next().unwrap_or(' ');
        }
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        changed[line] = chars.into_iter().collect();
        try_load(&changed.join("\n"));
    }
}

#[test]
fn a_wrong_value_is_located() {
    let yaml = DEFAULT_WORLD.replace(
        "status: reviewed\n    finalized: true\n    review_state",
        "status: pending\n    finalized: true\n    review_state",
    );
    let err = Fixture::from_yaml("world.yaml", &yaml).unwrap_err();
    assert!(err.location.starts_with("world.yaml:"), "{err}");
    assert!(err.message.contains("pending"), "{err}");
}
