//! The per-workspace virtual clock.
//!
//! `step` (the default) moves the clock forward by a fixed tick on every API
//! request, so behaviour is deterministic and polling still makes progress.
//! `frozen` moves only when told to (`POST /_mock/.../clock/advance`).
//! `real` follows the wall clock from the moment the mode was chosen; it is the
//! only place in the crate that reads the OS clock.

use serde::{Deserialize, Serialize};

use super::time::Millis;

/// How a workspace's clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    #[default]
    Step,
    Frozen,
    Real,
}

impl std::str::FromStr for ClockMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "step" => Ok(Self::Step),
            "frozen" => Ok(Self::Frozen),
            "real" => Ok(Self::Real),
            other => Err(format!(
                "unknown clock mode '{other}' (expected step, frozen or real)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Clock {
    now: Millis,
    mode: ClockMode,
    tick: Millis,
    /// In `real` mode: the wall-clock instant at which `now` was last anchored.
    anchor: Option<std::time::Instant>,
}

impl Clock {
    pub fn new(start: Millis, mode: ClockMode, tick: Millis) -> Self {
        let mut clock = Self {
            now: start,
            mode: ClockMode::Frozen,
            tick: tick.max(0),
            anchor: None,
        };
        clock.set_mode(mode);
        clock
    }

    /// A copy that starts now: in `real` mode its time runs from this
    /// instant, as a clock built now would (copies of a pristine workspace).
    pub fn restarted(&self) -> Self {
        let mut clock = self.clone();
        clock.anchor = None;
        let mode = clock.mode;
        clock.set_mode(mode);
        clock
    }

    /// The current virtual instant.
    pub fn now(&self) -> Millis {
        match (self.mode, self.anchor) {
            (ClockMode::Real, Some(anchor)) => {
                self.now + i64::try_from(anchor.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
            }
            _ => self.now,
        }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn tick(&self) -> Millis {
        self.tick
    }

    pub fn set_tick(&mut self, tick: Millis) {
        self.tick = tick.max(0);
    }

    /// Switches mode, keeping the current instant.
    pub fn set_mode(&mut self, mode: ClockMode) {
        self.now = self.now();
        self.mode = mode;
        self.anchor = match mode {
            #[allow(clippy::disallowed_methods)] // the one sanctioned wall-clock reader
            ClockMode::Real => Some(std::time::Instant::now()),
            _ => None,
        };
    }

    /// Called once per API request before it is handled.
    pub fn on_request(&mut self) {
        if self.mode == ClockMode::Step {
            self.now = self.now.saturating_add(self.tick);
        }
    }

    /// Moves the clock forward (never backwards) by `by` milliseconds.
    pub fn advance(&mut self, by: Millis) {
        self.now = self.now.saturating_add(by.max(0));
    }

    /// Moves the clock to `to` if that is in the future.
    pub fn advance_to(&mut self, to: Millis) {
        let now = self.now();
        if to > now {
            self.advance(to - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_mode_ticks_per_request() {
        let mut clock = Clock::new(1_000, ClockMode::Step, 1_000);
        clock.on_request();
        clock.on_request();
        assert_eq!(clock.now(), 3_000);
    }

    #[test]
    fn frozen_mode_moves_only_when_advanced() {
        let mut clock = Clock::new(1_000, ClockMode::Frozen, 1_000);
        clock.on_request();
        assert_eq!(clock.now(), 1_000);
        clock.advance(500);
        clock.advance(-10);
        clock.advance_to(200);
        assert_eq!(clock.now(), 1_500);
    }
}
