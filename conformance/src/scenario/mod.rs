//! The scenario format: model, parser with located errors, templating.

pub mod location;
pub mod model;
pub mod parse;
pub mod template;

pub use location::{Location, ScenarioError};
pub use model::Scenario;
pub use parse::{load_all, parse, LoadedScenario};
