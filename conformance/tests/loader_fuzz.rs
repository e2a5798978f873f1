//! The scenario loader never panics: arbitrary or mutated scenario text gives
//! a located error (file:line:col) or a scenario.

use std::path::Path;

use proptest::prelude::*;

const VALID: &str = "name: fuzz target\nsource: seeds/000 (outbox)\nlevel: documented\nsteps:\n  - request:\n      method: GET\n      path: /v1/delivery/outbox?provider=dynamics365\n      expect:\n        status: 200\n        json:\n          $.meta.next_cursor: {type: \"null\"}\n";

fn load(text: &str) {
    let _ = conformance::check_scenario_text(Path::new("fuzz.yaml"), text);
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
        load(&nested);
    }
}
