//! Black-box tests of the harness: the binary's contract (exit codes,
//! output), the no-writes promise, and proof that the checks can fail.

#![warn(unreachable_pub, missing_debug_implementations)]

mod almost;
mod broken;
#[path = "../support/browser.rs"]
mod browser;
mod deployment;
mod diff;
mod harness_steps;
mod html;
mod no_writes;
mod props;
mod proxy;
mod run;
mod sweep;
mod teach;
mod util;
