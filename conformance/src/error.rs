//! Errors that end a command before or instead of a run, and exit codes.

use std::fmt;

/// All scenarios passed (or `check` found no error).
pub(crate) const EXIT_OK: u8 = 0;
/// At least one scenario failed.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Usage, configuration or scenario parse error; no scenario ran.
pub(crate) const EXIT_USAGE: u8 = 2;

/// A bad command line or configuration (exit 2).
#[derive(Debug, Clone)]
pub(crate) struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
