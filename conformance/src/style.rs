//! Colour for people at a terminal, and never otherwise.
//!
//! Colour is on only when the stream is a terminal, `NO_COLOR` is unset or
//! empty (<https://no-color.org>) and `TERM` is not `dumb`. Reports written
//! to files and every machine format are never coloured. Eight ANSI codes
//! do not warrant a crate.

use std::io::IsTerminal;

/// Whether to colour one output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    on: bool,
}

fn wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !no_color && !dumb
}

impl Style {
    pub(crate) const PLAIN: Style = Style { on: false };

    pub(crate) fn stdout() -> Style {
        Style {
            on: wanted() && std::io::stdout().is_terminal(),
        }
    }

    pub(crate) fn stderr() -> Style {
        Style {
            on: wanted() && std::io::stderr().is_terminal(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub(crate) fn ok(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub(crate) fn bad(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub(crate) fn warn(self, text: &str) -> String {
        self.paint("33", text)
    }

    pub(crate) fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    pub(crate) fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// `1 scenario`, `2 scenarios`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration for people: `840 ms`, `4.2 s`, `2 min 5 s`.
pub(crate) fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// A start instant for the report's timings. The workspace bans wall
/// clocks so that none reaches a response of the fake; the harness only
/// reports how long its own checks took.
#[allow(clippy::disallowed_methods)]
pub(crate) fn stopwatch() -> std::time::Instant {
    std::time::Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_nothing_and_plurals_agree() {
        assert_eq!(Style::PLAIN.bad("FAILED"), "FAILED");
        assert_eq!(Style { on: true }.ok("ok"), "\x1b[32mok\x1b[0m");
        assert_eq!(plural(1, "scenario", "scenarios"), "1 scenario");
        assert_eq!(plural(0, "scenario", "scenarios"), "0 scenarios");
        assert_eq!(duration(840), "840 ms");
        assert_eq!(duration(4_200), "4.2 s");
        assert_eq!(duration(125_000), "2 min 5 s");
    }
}
