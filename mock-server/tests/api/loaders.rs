//! the fixture loader never panics, whatever it is given; it answers
//! with a located error instead.

use proptest::prelude::*;

use mock_server::fixtures::{Fixture, DEFAULT_WORLD};
use mock_server::MockServer;

/// Loads a fixture the way the server does; returns whether it started.
fn try_load(yaml: &str) -> bool {
    MockServer::builder()
        .fixtures_yaml(yaml.to_string())
        .build_state()
        .is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary text: an error with a location, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        if let Err(e) = Fixture::from_yaml("fuzz.yaml", &text) {
            prop_assert!(e.location.starts_with("fuzz.yaml"), "{e}");
        }
        let _ = try_load(&text);
    }

    /// The default world with one line dropped or one character replaced.
    #[test]
    fn mutated_default_world_never_panics(line in 0usize..400, column in 0usize..60, replacement in "[ -~]") {
        let lines: Vec<&str> = DEFAULT_WORLD.lines().collect();
        let line = line % lines.len();
        let dropped: String = lines.iter().enumerate().filter(|(i, _)| *i != line).map(|(_, l)| format!("{l}\n")).collect();
        let _ = try_load(&dropped);
        let mut chars: Vec<char> = lines[line].chars().collect();
        if !chars.is_empty() {
            let c = column % chars.len();
            chars[c] = replacement.chars().next().unwrap_or(' ');
        }
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        changed[line] = chars.into_iter().collect();
        let _ = try_load(&changed.join("\n"));
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
