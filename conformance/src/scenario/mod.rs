//! The scenario format: model, parser with located errors, templating.

pub(crate) mod locate;
pub(crate) mod location;
pub(crate) mod model;
pub(crate) mod parse;
pub(crate) mod template;
pub(crate) mod validate;

pub(crate) use location::ScenarioError;
pub(crate) use parse::{load_all, parse};
