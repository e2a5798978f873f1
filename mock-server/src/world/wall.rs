//! The wall-clock source of the journal's `wall_ms`.
//!
//! Clients wait in real time, so a wait (a `retry-after`, a backoff) can only
//! be judged on wall time. Everything that must be deterministic (answers,
//! ids, state dumps) runs on the virtual clock instead; `wall_ms` is written
//! only to the journal and read only by the verdicts.
//!
//! The source is a trait object so tests replace it with [`ManualWall`] and
//! move time by hand instead of sleeping. [`SystemWall`] is the one place in
//! the crate that reads `std::time::Instant` for this purpose.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Milliseconds from some fixed origin, never going backwards.
pub trait WallSource: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The process's monotonic clock, counted from its first use.
#[derive(Debug)]
pub struct SystemWall {
    origin: std::time::Instant,
}

impl SystemWall {
    fn shared() -> Arc<SystemWall> {
        static SHARED: OnceLock<Arc<SystemWall>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                Arc::new(SystemWall {
                    // The sanctioned wall-clock read for journal timing: it
                    // never reaches an answer or a state dump.
                    #[allow(clippy::disallowed_methods)]
                    origin: std::time::Instant::now(),
                })
            })
            .clone()
    }
}

impl WallSource for SystemWall {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A wall clock moved by hand (tests: "the client waited 5 s").
#[derive(Debug, Default)]
pub struct ManualWall {
    now: AtomicU64,
}

impl ManualWall {
    pub fn new() -> Arc<ManualWall> {
        Arc::new(ManualWall::default())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl WallSource for ManualWall {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A shared wall-clock source.
#[derive(Clone)]
pub struct Wall(Arc<dyn WallSource>);

impl Wall {
    pub fn new(source: Arc<dyn WallSource>) -> Wall {
        Wall(source)
    }

    pub fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }
}

impl Default for Wall {
    fn default() -> Wall {
        Wall(SystemWall::shared())
    }
}

impl std::fmt::Debug for Wall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wall")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_wall_moves_only_when_told() {
        let manual = ManualWall::new();
        let wall = Wall::new(manual.clone());
        assert_eq!(wall.now_ms(), 0);
        manual.advance(std::time::Duration::from_millis(1_500));
        assert_eq!(wall.now_ms(), 1_500);
    }
}
