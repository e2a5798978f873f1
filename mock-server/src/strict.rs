//! Unknown keys are refused everywhere a body or fixture is read: a typo in a
//! fault rule or a setting must fail loudly instead of widening or disabling
//! what it was meant to configure.
//!
//! serde (`deny_unknown_fields`) already refuses the key; its message
//! (`` unknown field `tims`, expected one of `id`, `api`, … ``) is reworded
//! here into one shape shared by the control API and fixture files:
//! `unknown field "tims" in fault rule; valid: id, api, …, times, … (did you
//! mean "times"?)`. serde offers no structured access to the field list of
//! that error, so the message text is read back; the shape it has is fixed by
//! serde's `Error::unknown_field`.

/// An unknown key, as read back from a serde message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnknownField {
    /// Where inside the document the key sits (`documents[2]`), if said.
    pub path: String,
    pub name: String,
    pub valid: Vec<String>,
}

impl UnknownField {
    /// Reads an `unknown field` message; `None` for any other error.
    pub(crate) fn parse(message: &str) -> Option<UnknownField> {
        const MARK: &str = "unknown field `";
        let start = message.find(MARK)?;
        let path = message[..start]
            .trim_end()
            .trim_end_matches(':')
            .trim()
            .to_string();
        let rest = &message[start + MARK.len()..];
        let end = rest.find('`')?;
        let name = rest[..end].to_string();
        let mut expected = &rest[end + 1..];
        if let Some(at) = expected.find(" at line ") {
            expected = &expected[..at];
        }
        let valid = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        Some(UnknownField { path, name, valid })
    }

    /// The closest valid name, when it is close enough to be a typo.
    pub(crate) fn suggestion(&self) -> Option<&str> {
        let limit = (self.name.chars().count() / 3).max(2);
        self.valid
            .iter()
            .map(|v| (strsim::levenshtein(&self.name, v), v))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, v)| v.as_str())
    }

    /// `unknown field "x" in <what>[ at <path>]; valid: a, b (did you mean "a"?)`.
    pub(crate) fn describe(&self, what: &str) -> String {
        let mut text = format!("unknown field \"{}\" in {what}", self.name);
        if !self.path.is_empty() && self.path != "." {
            text.push_str(&format!(" at {}", self.path));
        }
        if self.valid.is_empty() {
            text.push_str("; it takes no fields");
        } else {
            text.push_str(&format!("; valid: {}", self.valid.join(", ")));
        }
        if let Some(s) = self.suggestion() {
            text.push_str(&format!(" (did you mean \"{s}\"?)"));
        }
        text
    }
}

/// Rewords `message` if it is an unknown-field error; otherwise returns it as is.
pub(crate) fn explain(what: &str, message: &str) -> String {
    match UnknownField::parse(message) {
        Some(u) => u.describe(what),
        None => message.to_string(),
    }
}

/// Like [`explain`], for a message from `serde_path_to_error`, whose `path`
/// ends with the unknown key itself: the key is dropped from the path, which
/// then says where the key sits (`documents[0]`). Returns the path to report
/// and the message.
pub(crate) fn explain_at(what: &str, path: &str, message: &str) -> (String, String) {
    let Some(mut u) = UnknownField::parse(message) else {
        return (path.to_string(), message.to_string());
    };
    let parent = path
        .strip_suffix(u.name.as_str())
        .map(|p| p.trim_end_matches('.'))
        .unwrap_or(path);
    let parent = if parent.is_empty() { "." } else { parent };
    if u.path.is_empty() && parent != "." {
        u.path = parent.to_string();
    }
    (parent.to_string(), u.describe(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewords_serde_json_and_yaml_messages() {
        let json = "unknown field `tims`, expected one of `id`, `api`, `times`";
        assert_eq!(
            explain("fault rule", json),
            "unknown field \"tims\" in fault rule; valid: id, api, times (did you mean \"times\"?)"
        );
        let yaml =
            "documents[0]: unknown field `fieldz`, expected `id` or `fields` at line 3 column 5";
        assert_eq!(
            explain("fixture", yaml),
            "unknown field \"fieldz\" in fixture at documents[0]; valid: id, fields (did you mean \"fields\"?)"
        );
        assert_eq!(
            explain("x", "unknown field `a`, there are no fields"),
            "unknown field \"a\" in x; it takes no fields"
        );
    }

    #[test]
    fn a_path_that_ends_with_the_key_names_the_parent() {
        let message = "unknown field `stauts`, expected `status`";
        let (path, text) = explain_at("fault rule", "respond.stauts", message);
        assert_eq!(path, "respond");
        assert_eq!(
            text,
            "unknown field \"stauts\" in fault rule at respond; valid: status (did you mean \"status\"?)"
        );
        assert_eq!(explain_at("x", "stauts", message).0, ".");
    }

    #[test]
    fn leaves_other_errors_and_far_names_alone() {
        assert_eq!(explain("x", "missing field `api`"), "missing field `api`");
        let far = UnknownField::parse("unknown field `zzzzzz`, expected `id`").unwrap();
        assert_eq!(far.suggestion(), None);
    }
}
