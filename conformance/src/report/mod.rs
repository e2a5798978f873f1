//! Reports over a [`RunReport`](crate::runner::result::RunReport): human
//! text with diffs, JSON, JUnit XML.

pub mod diff;
pub mod human;
pub mod json;
pub mod junit;
