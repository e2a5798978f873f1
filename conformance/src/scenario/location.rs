//! Where something is in a scenario file, and how a load error is shown.

use std::fmt;
use std::path::PathBuf;

/// A position in a scenario file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a file cannot be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file or directory cannot be read.
    Io,
    /// Not YAML, or a value of the wrong type, or a missing field.
    Syntax,
    /// A key the format does not have.
    UnknownField,
    /// A step kind, action or enum value the format does not have.
    UnknownKind,
    /// A `{{variable}}` or receiver used before it is defined.
    UndefinedVariable,
    /// Well-formed, but against a rule of the format (a bad JSON path,
    /// regex or duration, undeclared writes, …).
    Invalid,
    /// Two files with the same scenario id.
    DuplicateId,
}

/// A file that cannot be loaded: read, YAML or validation error.
#[derive(Debug, Clone)]
pub struct ScenarioError {
    pub kind: ErrorKind,
    pub location: Location,
    /// The source line the location points at (empty when unknown).
    pub source_line: String,
    pub message: String,
    /// A known name close to the unknown one.
    pub suggestion: Option<String>,
}

impl fmt::Display for ScenarioError {
    /// Renders like a compiler diagnostic:
    ///
    /// ```text
    /// error: unknown field `expct`
    ///   --> scenarios/numora/x.yaml:12:5
    ///    |
    /// 12 |     expct:
    ///    |     ^
    ///    = help: did you mean `expect`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let num = self.location.line.to_string();
        let pad = " ".repeat(num.len());
        writeln!(f, "{pad}--> {}", self.location)?;
        if !self.source_line.is_empty() {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{num} | {}", self.source_line)?;
            let caret_pad: String = self
                .source_line
                .chars()
                .take(self.location.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} | {caret_pad}^")?;
        }
        if let Some(s) = &self.suggestion {
            writeln!(f, "{pad} = help: did you mean `{s}`?")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Levenshtein distance, for "did you mean".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("expct", &["expect", "capture"]),
            Some("expect")
        );
        assert_eq!(did_you_mean("zzzzzz", &["expect", "capture"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn renders_a_caret_under_the_column() {
        let e = ScenarioError {
            kind: ErrorKind::UnknownField,
            location: Location {
                file: "a.yaml".into(),
                line: 3,
                column: 5,
            },
            source_line: "    expct: {}".into(),
            message: "unknown field `expct`".into(),
            suggestion: Some("expect".into()),
        };
        let text = e.to_string();
        assert!(text.contains("--> a.yaml:3:5"), "{text}");
        assert!(text.contains("3 |     expct: {}\n  |     ^"), "{text}");
        assert!(text.contains("did you mean `expect`?"), "{text}");
    }
}
