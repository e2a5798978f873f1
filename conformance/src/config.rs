//! Validated configuration: the second phase after clap. Touches no network.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use crate::cli::{Format, LevelArg, RunArgs, Selection};
use crate::error::UsageError;
use crate::scenario::model::Level;
use crate::scenario::parse::LoadedScenario;

/// Which scenarios a command works on.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub max_level: Level,
    pub tags: Vec<String>,
    pub texts: Vec<String>,
}

impl Filter {
    pub(crate) fn selects(&self, s: &LoadedScenario) -> bool {
        s.scenario.level <= self.max_level
            && (self.tags.is_empty() || s.scenario.tags.iter().any(|t| self.tags.contains(t)))
            && (self.texts.is_empty()
                || self
                    .texts
                    .iter()
                    .any(|t| s.id.contains(t.as_str()) || s.scenario.name.contains(t.as_str())))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LibraryConfig {
    pub roots: Vec<PathBuf>,
    /// The roots are the library built into the binary.
    pub embedded: bool,
    pub filter: Filter,
}

#[derive(Debug, Clone)]
pub(crate) enum TargetConfig {
    Embedded,
    Remote {
        url: String,
        api_key: Option<String>,
        allow_writes: bool,
        allow_dispatch: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct RunConfig {
    pub library: LibraryConfig,
    pub target: TargetConfig,
    pub vars: IndexMap<String, Value>,
    pub format: Format,
    pub report: Option<(PathBuf, Format)>,
    pub jobs: Option<usize>,
    pub seed: u64,
    pub snapshots: PathBuf,
    pub update_snapshots: bool,
    pub openapi: Option<String>,
    pub quiet: bool,
    /// `--state-hook CMD`.
    pub state_hook: Option<String>,
    /// `--min-coverage PCT`.
    pub min_coverage: Option<u8>,
    pub fail_on_skip: bool,
}

pub(crate) fn resolve_library(sel: &Selection) -> Result<LibraryConfig, UsageError> {
    let embedded = sel.paths.is_empty();
    let roots = if embedded {
        vec![crate::library::scenarios_dir().map_err(UsageError)?]
    } else {
        sel.paths.clone()
    };
    for r in &roots {
        if !r.exists() {
            return Err(UsageError(format!(
                "scenario path {} does not exist",
                r.display()
            )));
        }
    }
    let max_level = match sel.level {
        Some(LevelArg::Documented) => Level::Documented,
        Some(LevelArg::Inferred) => Level::Inferred,
        Some(LevelArg::Fake) | None => Level::Fake,
    };
    Ok(LibraryConfig {
        roots,
        embedded,
        filter: Filter {
            max_level,
            tags: sel.tags.clone(),
            texts: sel.filters.clone(),
        },
    })
}

/// `--var NAME=VALUE` flags as variables.
pub(crate) fn parse_vars(flags: &[String]) -> Result<IndexMap<String, Value>, UsageError> {
    let mut vars = IndexMap::new();
    for v in flags {
        let (name, value) = v
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--var `{v}` must be NAME=VALUE")))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(UsageError(format!(
                "--var `{v}`: the name may hold only letters, digits, `_`, `-` and `.`"
            )));
        }
        vars.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Ok(vars)
}

pub(crate) fn resolve_run(args: &RunArgs) -> Result<RunConfig, UsageError> {
    let library = resolve_library(&args.selection)?;
    let vars = parse_vars(&args.vars)?;
    let target = match &args.target {
        None => {
            if args.allow_writes
                || args.allow_dispatch
                || args.state_hook.is_some()
                || args.api_key.is_some() && std::env::var_os("NUMORA_API_KEY").is_none()
            {
                return Err(UsageError(
                    "--api-key, --allow-writes, --allow-dispatch and --state-hook only apply with --target".into(),
                ));
            }
            if !cfg!(feature = "embedded") {
                return Err(UsageError(
                    "this build has no embedded fake (feature `embedded`); pass --target URL"
                        .into(),
                ));
            }
            TargetConfig::Embedded
        }
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(UsageError(format!(
                    "--target `{url}` must be an http:// or https:// URL"
                )));
            }
            TargetConfig::Remote {
                url: url.clone(),
                api_key: args.api_key.clone().filter(|k| !k.is_empty()),
                allow_writes: args.allow_writes,
                allow_dispatch: args.allow_dispatch,
            }
        }
    };
    if args.update_snapshots && library.embedded && args.snapshots.is_none() {
        return Err(UsageError(
            "--update-snapshots needs the scenario library's PATH (the built-in library cannot be changed)".into(),
        ));
    }
    if args.allow_dispatch && !args.allow_writes {
        return Err(UsageError(
            "--allow-dispatch needs --allow-writes too (a dispatch is a write)".into(),
        ));
    }
    if args.min_coverage.is_some_and(|p| p > 100) {
        return Err(UsageError(
            "--min-coverage is a percentage, 0 to 100".into(),
        ));
    }
    if args.jobs == Some(0) {
        return Err(UsageError("--jobs must be at least 1".into()));
    }
    let snapshots = args.snapshots.clone().unwrap_or_else(|| {
        let root = &library.roots[0];
        let base = if root.is_file() {
            root.parent().and_then(Path::parent)
        } else {
            root.parent()
        };
        base.unwrap_or(Path::new(".")).join("snapshots")
    });
    Ok(RunConfig {
        report: args.report.clone().map(|p| (p, args.format)),
        library,
        target,
        vars,
        format: if args.report.is_some() {
            Format::Human
        } else {
            args.format
        },
        jobs: args.jobs,
        seed: args.seed,
        snapshots,
        update_snapshots: args.update_snapshots,
        openapi: args.openapi.clone(),
        quiet: args.quiet,
        state_hook: args.state_hook.clone().filter(|c| !c.trim().is_empty()),
        min_coverage: args.min_coverage,
        fail_on_skip: args.fail_on_skip,
    })
}
