//! The scenario loader never panics: arbitrary or mutated scenario text gives
//! a located error (file:line:col) or a scenario.

use std::path::Path;

use proptest::prelude::*;

const VALID: &str = "name: fuzz target\nsource: seeds/000 (outbox)\nlevel: documented\nsteps:\n  - request:\n      method: GET\n      path: /v1/delivery/outbox?provider=dynamics365\n      expect:\n        status: 200\n        json:\n          $.meta.next_cursor: {type: \"null\"}\n";

/// Loads `text`; a refusal must point into it: the file, a line inside the
/// text (or one past its end, for an unexpected end of input), a column, the
/// source line quoted when there is one, and a message.
fn load(text: &str) -> bool {
    match conformance::check_scenario_text(Path::new("fuzz.yaml"), text) {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(e.location.file, Path::new("fuzz.yaml"), "{e}");
            let lines = text.lines().count().max(1);
            assert!(
                (1..=lines + 1).contains(&e.location.line),
                "line {} outside the text's {lines} lines: {e}",
                e.location.line
            );
            assert!(e.location.column >= 1, "{e}");
            assert!(!e.message.trim().is_empty(), "{e}");
            if let Some(quoted) = text.lines().nth(e.location.line - 1) {
                if !e.source_line.is_empty() {
                    assert_eq!(e.source_line, quoted, "the quoted line is the located one");
                }
            }
            let shown = e.to_string();
            assert!(
                shown.contains(&format!(
                    "fuzz.yaml:{}:{}",
                    e.location.line, e.location.column
                )),
                "{shown}"
            );
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        load(&text);
    }

    #[test]
    fn mutated_scenarios_never_panic(position in 0usize..400, replacement in "[ -~\\n]{0,3}", cut in 0usize..400) {
        let chars: Vec<char> = VALID.chars().collect();
        let at = position % chars.len();
        let mut mutated: String = chars[..at].iter().collect();
        mutated.push_str(&replacement);
        mutated.extend(chars[at..].iter().skip(1));
        load(&mutated);
        let truncated: String = chars[..cut % chars.len()].iter().collect();
        load(&truncated);
    }

    #[test]
    fn deep_nesting_never_overflows(depth in 1usize..400) {
        let nested = format!("name: x\nsource: y\nsteps:\n  - request: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        prop_assert!(!load(&nested), "a request written as nested lists is refused");
    }
}

#[test]
fn the_unmutated_scenario_loads() {
    assert!(load(VALID));
}

#[test]
fn a_misspelt_key_is_located_on_its_line() {
    let text = VALID.replace("expect:", "expct:");
    let e = conformance::check_scenario_text(Path::new("fuzz.yaml"), &text).unwrap_err();
    assert_eq!(e.location.line, 8, "{e}");
    assert!(e.message.contains("expct"), "{e}");
}
