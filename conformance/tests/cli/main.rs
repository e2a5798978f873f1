//! Black-box tests of the harness: the binary's contract (exit codes,
//! output), the no-writes promise, and proof that the checks can fail.

mod almost;
mod broken;
mod harness_steps;
mod no_writes;
mod props;
mod proxy;
mod run;
mod util;
