//! Service protection: requests per token over a sliding window of virtual
//! time (dataverse.md §6).
//!
//! Only accepted requests are counted. A request arriving when `limit`
//! requests were already accepted within the last `window` is refused with
//! `429`, `Retry-After` (whole seconds until the oldest of them leaves the
//! window, at least 1) and code `0x80072322`; this module only counts, and
//! says how long to wait: the engine above words the error.

use std::collections::{BTreeMap, VecDeque};

use crate::world::time::Millis;

/// A refused request: the limit and window it exceeded, and the whole
/// seconds to wait (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub limit: u32,
    pub window_seconds: i64,
    pub retry_after: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Throttle {
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
    pub(crate) fn new(limit: u32, window: Millis) -> Self {
        Self {
            limit,
            window: window.max(1),
            seen: BTreeMap::new(),
        }
    }

    /// Records a request, or says why it is refused and how long to wait.
    pub(crate) fn check(&mut self, token: &str, now: Millis) -> Result<(), Throttled> {
        let window = self.window;
        let queue = self.seen.entry(token.to_string()).or_default();
        while queue.front().is_some_and(|t| *t <= now - window) {
            queue.pop_front();
        }
        if queue.len() >= self.limit as usize {
            let oldest = queue.front().copied().unwrap_or(now);
            let wait_ms = (oldest + window - now).max(1);
            let retry = (wait_ms + 999) / 1000;
            return Err(Throttled {
                limit: self.limit,
                window_seconds: window / 1000,
                retry_after: retry.max(1),
            });
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
        let refused = t.check("a", 2_000).unwrap_err();
        assert_eq!(
            refused,
            Throttled {
                limit: 2,
                window_seconds: 300,
                retry_after: 298
            }
        );
        // Other tokens are independent.
        assert!(t.check("b", 2_000).is_ok());
        // The first request leaves the window at 300 s.
        assert!(t.check("a", 300_000).is_ok());
        assert!(t.check("a", 300_500).is_err());
    }
}
