//! The commands, from validated configuration to exit code. Results go to
//! stdout, progress and diagnostics to stderr.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::style::Style;

use crate::cli::{CheckArgs, Cli, Command, Format, ListArgs};
use crate::config::{self, LibraryConfig, RunConfig, TargetConfig};
use crate::error::{UsageError, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::report;
use crate::runner::result::{RunReport, ScenarioResult};
use crate::runner::snapshot::SnapshotConfig;
use crate::runner::{self, Events, Quiet, RunOptions};
use crate::scenario::model::{SchemaExpect, Step};
use crate::scenario::parse::LoadedScenario;
use crate::scenario::{load_all, ScenarioError};
use crate::target::Target;

/// Run the parsed command line; returns the process exit code.
pub(crate) fn main(cli: Cli) -> u8 {
    let result = match cli.command {
        None => run_command(&cli.run),
        Some(Command::Run(args)) => run_command(&args),
        Some(Command::Check(args)) => check_command(&args),
        Some(Command::List(args)) => list_command(&args),
        Some(Command::Listen(args)) => crate::listen::command(&args),
        Some(Command::Diff(args)) => return crate::compare::command(&args),
        Some(Command::Audit(args)) => crate::audit::command(&args),
        Some(Command::Sweep(args)) => crate::sweep::command(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))
}

/// Parse every file, report every error; select with the filter.
pub(crate) fn load(library: &LibraryConfig) -> Result<Vec<LoadedScenario>, Vec<ScenarioError>> {
    let (scenarios, errors) = load_all(&library.roots);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(scenarios
        .into_iter()
        .filter(|s| library.filter.selects(s))
        .map(|mut s| {
            if library.embedded {
                // Name files as the library does, not by the cache copy.
                s.path =
                    Path::new(crate::library::DISPLAY_ROOT).join(format!("{}.yaml", s.library_id));
            }
            s
        })
        .collect())
}

fn print_parse_errors(errors: &[ScenarioError]) {
    for e in errors {
        eprintln!("{e}");
    }
    eprintln!(
        "{} scenario file{} could not be loaded; nothing was run",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
}

/// Progress on stderr: one line per scenario with a running counter.
struct StderrEvents {
    done: AtomicUsize,
    total: AtomicUsize,
    style: Style,
}

impl Events for StderrEvents {
    fn run_started(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
    }

    fn scenario_finished(&self, r: &ScenarioResult) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed);
        eprintln!("{}", report::human::progress(r, done, total, self.style));
    }
}

/// Connect to (or start) the target of a run.
pub(crate) async fn open_target(cfg: &RunConfig) -> Result<Target, UsageError> {
    match &cfg.target {
        TargetConfig::Remote {
            url,
            api_key,
            allow_writes,
            allow_dispatch,
        } => crate::target::remote::connect(
            url,
            api_key.clone(),
            *allow_writes,
            *allow_dispatch,
            cfg.openapi.clone(),
        )
        .await
        .map_err(UsageError),
        TargetConfig::Embedded => {
            #[cfg(feature = "embedded")]
            {
                crate::target::embedded::start(cfg.seed, cfg.openapi.clone())
                    .await
                    .map_err(UsageError)
            }
            #[cfg(not(feature = "embedded"))]
            {
                Err(UsageError(
                    "this build has no embedded fake; pass --target URL".into(),
                ))
            }
        }
    }
}

/// Run a whole configuration: load, connect, run. `Err` means exit 2.
pub(crate) async fn run_config(
    cfg: &RunConfig,
    events: Arc<dyn Events>,
) -> Result<RunReport, Result<UsageError, Vec<ScenarioError>>> {
    let scenarios = load(&cfg.library).map_err(Err)?;
    let target = open_target(cfg).await.map_err(Ok)?;
    let jobs = cfg
        .jobs
        .unwrap_or(if target.capabilities.control { 8 } else { 2 });
    let opts = RunOptions {
        jobs,
        vars: cfg.vars.clone(),
        snapshots: SnapshotConfig {
            dir: cfg.snapshots.clone(),
            update: cfg.update_snapshots,
        },
        seed: cfg.seed,
        state_hook: cfg.state_hook.clone(),
        run_id: runner::run_nonce(),
    };
    let catalogue = cfg
        .library
        .roots
        .first()
        .map(|r| crate::scenario::parse::library_root(r))
        .and_then(|root| crate::coverage::Catalogue::load(&root).ok().flatten());
    let mut report = runner::run_all(scenarios, Arc::new(target), Arc::new(opts), events).await;
    report.coverage = catalogue.map(|c| crate::coverage::Coverage::compute(&c, &report));
    Ok(report)
}

fn render(report: &RunReport, format: Format, style: Style) -> String {
    match format {
        Format::Human => report::human::render(report, style),
        Format::Json => report::json::render(report),
        Format::Junit => report::junit::render(report),
        Format::Html => report::html::render(report),
    }
}

fn run_command(args: &crate::cli::RunArgs) -> Result<u8, UsageError> {
    let cfg = config::resolve_run(args)?;
    let events: Arc<dyn Events> = if cfg.quiet {
        Arc::new(Quiet)
    } else {
        Arc::new(StderrEvents {
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            style: Style::stderr(),
        })
    };
    let report = match runtime()?.block_on(run_config(&cfg, events)) {
        Ok(r) => r,
        Err(Ok(usage)) => return Err(usage),
        Err(Err(parse)) => {
            print_parse_errors(&parse);
            return Ok(EXIT_USAGE);
        }
    };
    let text = render(&report, cfg.format, Style::stdout());
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    if cfg.format != Format::Human {
        // CI logs still get the one line they grep for; stderr keeps stdout parseable.
        eprintln!("{}", report.summary_line());
    }
    if let Some((path, format)) = &cfg.report {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, render(&report, *format, Style::PLAIN))
            .map_err(|e| UsageError(format!("cannot write report {}: {e}", path.display())))?;
    }
    let gates = gates_pass(&cfg, &report);
    Ok(if report.success() && gates {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// `--min-coverage` and `--fail-on-skip`; says on stderr which gate failed.
fn gates_pass(cfg: &RunConfig, report: &RunReport) -> bool {
    let mut ok = true;
    if let Some(min) = cfg.min_coverage {
        match &report.coverage {
            Some(c) if c.percent() >= usize::from(min) => {}
            Some(c) => {
                eprintln!(
                    "error: checked {}% of the documented rules ({} of {}), below --min-coverage {min}",
                    c.percent(),
                    c.checked(),
                    c.rules.len()
                );
                ok = false;
            }
            None => {
                eprintln!("error: --min-coverage needs a library with a rules.yaml catalogue");
                ok = false;
            }
        }
    }
    let (_, _, skipped) = report.count();
    if cfg.fail_on_skip && skipped > 0 {
        eprintln!(
            "error: {} skipped and --fail-on-skip was given",
            crate::style::plural(skipped, "scenario was", "scenarios were")
        );
        ok = false;
    }
    ok
}

/// Every `schema:` component name a scenario uses.
pub(crate) fn schema_refs(s: &LoadedScenario) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |e: &crate::scenario::model::Expect| {
        if let Some(sc) = &e.schema {
            let name = match sc {
                SchemaExpect::Whole(n) => n.clone(),
                SchemaExpect::At(a) => a.component.clone(),
            };
            out.push(name);
        }
    };
    for st in &s.scenario.steps {
        match st {
            Step::Request(r) => add(&r.expect),
            Step::Control(c) => add(&c.expect),
            Step::WaitUntil(w) => {
                add(&w.until);
                add(&w.expect);
            }
            Step::Parallel(p) => add(&p.each),
            Step::WebhookReceiver(_) | Step::Webhooks(_) | Step::Verdicts(_) => {}
        }
    }
    out
}

fn check_command(args: &CheckArgs) -> Result<u8, UsageError> {
    let library = config::resolve_library(&args.selection)?;
    let scenarios = match load(&library) {
        Ok(s) => s,
        Err(errors) => {
            print_parse_errors(&errors);
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(src) = &args.openapi {
        let text = if src.starts_with("http://") || src.starts_with("https://") {
            runtime()?
                .block_on(async { reqwest::get(src).await?.text().await })
                .map_err(|e| UsageError(format!("cannot fetch {src}: {e}")))?
        } else {
            std::fs::read_to_string(src)
                .map_err(|e| UsageError(format!("cannot read {src}: {e}")))?
        };
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| UsageError(format!("{src} is not JSON: {e}")))?;
        let mut bad = 0;
        for s in &scenarios {
            for name in schema_refs(s) {
                if let Err(e) = crate::runner::expect::component_validator(&doc, &name) {
                    eprintln!("error: {}: {e}", s.path.display());
                    bad += 1;
                }
            }
        }
        if bad > 0 {
            return Ok(EXIT_USAGE);
        }
    }
    println!(
        "{} OK",
        crate::style::plural(scenarios.len(), "scenario", "scenarios")
    );
    Ok(EXIT_OK)
}

fn list_command(args: &ListArgs) -> Result<u8, UsageError> {
    let library = config::resolve_library(&args.selection)?;
    let scenarios = match load(&library) {
        Ok(s) => s,
        Err(errors) => {
            print_parse_errors(&errors);
            return Ok(EXIT_USAGE);
        }
    };
    for s in &scenarios {
        let mut needs = Vec::new();
        if s.needs_control() {
            needs.push("control".to_owned());
        }
        if s.sends_writes() {
            needs.push("writes".to_owned());
        }
        if s.dispatches() {
            needs.push("dispatch".to_owned());
        }
        if let Some(state) = &s.scenario.state {
            needs.push(format!("state:{state}"));
        }
        needs.extend(s.scenario.requires.vars.iter().map(|v| format!("var:{v}")));
        println!(
            "{}\t{}\t[{}]\t{}\t{}",
            s.id,
            s.scenario.level.as_str(),
            needs.join(","),
            s.scenario.source,
            s.scenario.name
        );
    }
    Ok(EXIT_OK)
}
