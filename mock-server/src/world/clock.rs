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

    #[test]
    fn advance_to_lands_on_the_instant_and_never_goes_back() {
        let mut clock = Clock::new(1_000, ClockMode::Frozen, 1_000);
        clock.advance_to(5_250);
        assert_eq!(clock.now(), 5_250);
        clock.advance_to(5_250);
        assert_eq!(clock.now(), 5_250);
        clock.advance_to(4_000);
        assert_eq!(clock.now(), 5_250);
    }

    #[test]
    fn modes_parse_and_settings_read_back() {
        for (text, mode) in [
            ("step", ClockMode::Step),
            ("frozen", ClockMode::Frozen),
            ("real", ClockMode::Real),
        ] {
            assert_eq!(text.parse::<ClockMode>(), Ok(mode));
            assert_eq!(Clock::new(0, mode, 10).mode(), mode);
        }
        let err = "fast".parse::<ClockMode>().unwrap_err();
        assert!(
            err.contains("'fast'") && err.contains("step, frozen or real"),
            "{err}"
        );

        let mut clock = Clock::new(0, ClockMode::Step, -5);
        assert_eq!(clock.tick(), 0, "a negative tick is no tick");
        clock.set_tick(250);
        assert_eq!(clock.tick(), 250);
        clock.on_request();
        assert_eq!(clock.now(), 250);
        clock.set_tick(-1);
        clock.on_request();
        assert_eq!(clock.now(), 250);
        clock.set_mode(ClockMode::Frozen);
        clock.set_tick(250);
        clock.on_request();
        assert_eq!(clock.now(), 250, "a frozen clock ignores requests");
    }

    /// The `real` mode is the one part of the crate that follows the OS
    /// clock, so this test lets a few real milliseconds pass. It asserts
    /// lower bounds only (time moved at least as far as the wall clock did),
    /// which hold however slow the machine is.
    #[test]
    #[allow(clippy::disallowed_methods)] // the real mode is defined by the OS clock
    fn real_mode_follows_the_wall_clock_and_keeps_its_instant_when_switched() {
        let wait = |ms: u128| {
            let start = std::time::Instant::now();
            while start.elapsed().as_millis() < ms {
                std::hint::spin_loop();
            }
        };
        let clock = Clock::new(10_000, ClockMode::Real, 1_000);
        wait(3);
        let moved = clock.now();
        assert!(moved >= 10_003, "{moved}");
        assert!(moved < 10_000 + 60_000, "{moved}");

        // A restarted copy (a workspace made from a pristine one) starts
        // again from the clock's own instant and runs from there.
        let mut copy = clock.restarted();
        assert!(copy.now() >= 10_000);
        wait(3);
        assert!(copy.now() >= 10_003);

        // Switching away keeps the instant reached and stops there.
        copy.set_mode(ClockMode::Frozen);
        let frozen = copy.now();
        assert!(frozen >= 10_003, "{frozen}");
        wait(2);
        assert_eq!(copy.now(), frozen);

        // Switching back to real moves on from the frozen instant.
        copy.set_mode(ClockMode::Real);
        wait(2);
        assert!(copy.now() >= frozen + 2);
    }
}
