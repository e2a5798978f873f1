//! Reports over a [`RunReport`](crate::runner::result::RunReport): human
//! text with diffs, JSON, JUnit XML.

pub(crate) mod diff;
pub(crate) mod html;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
