//! Service protection: requests per token over a sliding window of virtual
//! time (dataverse.md §6).
//!
//! Only accepted requests are counted. A request arriving when `limit`
//! requests were already accepted within the last `window` is refused with
//! `429`, `Retry-After` (whole seconds until the oldest of them leaves the
//! window, at least 1) and code `0x80072322`.

use std::collections::{BTreeMap, VecDeque};

use super::error::{DataverseError, THROTTLED};
use crate::world::time::Millis;

#[derive(Debug, Clone)]
pub(super) struct Throttle {
    pub limit: u32,
    pub window: Millis,
    seen: BTreeMap<String, VecDeque<Millis>>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(6000, 300_000)
    }
}

impl Throttle {
    pub(super) fn new(limit: u32, window: Millis) -> Self {
        Self {
            limit,
            window: window.max(1),
            seen: BTreeMap::new(),
        }
    }

    /// Records a request, or returns the 429 error and its `Retry-After` seconds.
    pub(super) fn check(&mut self, token: &str, now: Millis) -> Result<(), (DataverseError, i64)> {
        let window = self.window;
        let queue = self.seen.entry(token.to_string()).or_default();
        while queue.front().is_some_and(|t| *t <= now - window) {
            queue.pop_front();
        }
        if queue.len() >= self.limit as usize {
            let oldest = queue.front().copied().unwrap_or(now);
            let wait_ms = (oldest + window - now).max(1);
            let retry = (wait_ms + 999) / 1000;
            let seconds = window / 1000;
            let error = DataverseError::new(
                429,
                THROTTLED,
                format!(
                    "Number of requests exceeded the limit of {} over time window of {seconds} seconds.",
                    self.limit
                ),
            );
            return Err((error, retry.max(1)));
        }
        queue.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_and_frees_with_the_window() {
        // dataverse.md §6: 429, Retry-After in seconds, 0x80072322
        let mut t = Throttle::new(2, 300_000);
        assert!(t.check("a", 0).is_ok());
        assert!(t.check("a", 1_000).is_ok());
        let (e, retry) = t.check("a", 2_000).unwrap_err();
        assert_eq!(e.status, 429);
        assert_eq!(e.code, "0x80072322");
        assert_eq!(
            e.message,
            "Number of requests exceeded the limit of 2 over time window of 300 seconds."
        );
        assert_eq!(retry, 298);
        // Other tokens are independent.
        assert!(t.check("b", 2_000).is_ok());
        // The first request leaves the window at 300 s.
        assert!(t.check("a", 300_000).is_ok());
        assert!(t.check("a", 300_500).is_err());
    }
}
