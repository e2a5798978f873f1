//! The one scheduler for due work.
//!
//! Jobs are keyed by (virtual instant, creation sequence): they run in instant
//! order, ties in the order they were scheduled. Nothing runs in the background:
//! the workspace drains due jobs at the start of every request and on every
//! clock advance, so work that is due runs before the request that made it due
//! is answered.

use std::collections::BTreeMap;

use super::time::Millis;

#[derive(Debug, Clone)]
pub struct Scheduler<J> {
    queue: BTreeMap<(Millis, u64), J>,
    next_seq: u64,
}

impl<J> Default for Scheduler<J> {
    fn default() -> Self {
        Self {
            queue: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<J> Scheduler<J> {
    pub fn schedule(&mut self, at: Millis, job: J) {
        self.queue.insert((at, self.next_seq), job);
        self.next_seq += 1;
    }

    /// Removes and returns the earliest job due at or before `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<(Millis, J)> {
        let (&(at, _), _) = self.queue.first_key_value()?;
        if at > now {
            return None;
        }
        self.queue.pop_first().map(|((at, _), job)| (at, job))
    }

    pub fn pending(&self) -> impl Iterator<Item = (Millis, &J)> {
        self.queue.iter().map(|(&(at, _), job)| (at, job))
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_instant_order_then_creation_order() {
        let mut s = Scheduler::default();
        s.schedule(20, "late");
        s.schedule(10, "first");
        s.schedule(10, "second");
        assert_eq!(s.pop_due(5), None);
        assert_eq!(s.pop_due(30), Some((10, "first")));
        assert_eq!(s.pop_due(30), Some((10, "second")));
        assert_eq!(s.pop_due(30), Some((20, "late")));
        assert_eq!(s.pop_due(30), None);
    }
}
