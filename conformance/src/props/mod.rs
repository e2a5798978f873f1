//! `conformance props`: model-based property tests of the delivery state.
//!
//! Proptest generates sequences of operations ([`ops::Op`]: dispatch,
//! delivery callbacks with fresh ids, identical and changed replays,
//! retry-push, status reads, attempt lists, outbox walks (some with a
//! document edited and re-approved between their pages), clock advances,
//! edits, approvals, bursts of parallel requests, a dispatch racing a
//! callback, and an edit racing the run a dispatch queued). Callbacks write
//! `attempted_at` in several valid RFC 3339 forms; a replay may write the
//! same instant another way. On a fake the world is the default one plus
//! two dozen more eligible documents, so outbox walks span many pages. [`driver`] applies
//! each one to the target over HTTP and to the reference [`model`], and
//! checks after every step that they agree: status codes and bodies, one
//! attempt per `execution_id`, the status following the latest attempt,
//! an outbox that lists exactly the eligible documents without repeats,
//! and only documented status transitions.
//!
//! On a fake with a control API every case gets a fresh workspace of the
//! default world with a frozen clock, so runs finish at known instants and
//! a failure replays exactly. Against any other deployment the properties
//! need `--allow-writes` and the documents they may use (`--var doc=<id>`).
//!
//! A failing case is shrunk; the report gives the shrunk sequence, the seed
//! that replays it and a scenario file that `conformance run` replays.

pub(crate) mod driver;
pub(crate) mod model;
pub(crate) mod ops;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::cli::PropsArgs;
use crate::error::{UsageError, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::target::Target;
use driver::World;
use ops::{Exec, Op, Outcome};

/// A validated `props` command line.
#[derive(Debug, Clone)]
pub(crate) struct PropsConfig {
    pub target: Option<String>,
    pub api_key: Option<String>,
    pub allow_writes: bool,
    pub allow_dispatch: bool,
    /// Documents a target without a control API lets the run use.
    pub docs: Vec<String>,
    pub cases: u32,
    pub seed: u64,
    pub max_ops: usize,
    pub out: PathBuf,
    pub quiet: bool,
}

/// Second phase after clap; touches no network.
pub(crate) fn resolve(args: &PropsArgs) -> Result<PropsConfig, UsageError> {
    let mut docs = Vec::new();
    for v in &args.vars {
        let (name, value) = v
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--var `{v}` must be NAME=VALUE")))?;
        match name.trim() {
            "doc" => docs.push(value.trim().to_owned()),
            "docs" => docs.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            other => {
                return Err(UsageError(format!(
                "--var `{other}`: props takes only `doc=<id>` (repeatable) and `docs=<id>,<id>,…`"
            )))
            }
        }
    }
    docs.retain(|d| !d.is_empty());
    if docs.len() > 200 {
        return Err(UsageError("--var: at most 200 documents".into()));
    }
    if args.cases == 0 {
        return Err(UsageError("--cases must be at least 1".into()));
    }
    if args.max_ops == 0 {
        return Err(UsageError("--max-ops must be at least 1".into()));
    }
    match &args.target {
        None if args.allow_writes => {
            return Err(UsageError(
                "--allow-writes only applies with --target".into(),
            ))
        }
        None if !cfg!(feature = "embedded") => {
            return Err(UsageError(
                "this build has no embedded fake (feature `embedded`); pass --target URL".into(),
            ))
        }
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            return Err(UsageError(format!(
                "--target `{url}` must be an http:// or https:// URL"
            )))
        }
        _ => {}
    }
    Ok(PropsConfig {
        target: args.target.clone(),
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        allow_writes: args.allow_writes,
        allow_dispatch: args.allow_dispatch,
        docs,
        cases: args.cases,
        seed: args.seed,
        max_ops: args.max_ops,
        out: args.out.clone(),
        quiet: args.quiet,
    })
}

/// Run `conformance props`; returns the exit code.
pub(crate) fn command(args: &PropsArgs) -> u8 {
    let result = resolve(args).and_then(|cfg| {
        let mut stdout = std::io::stdout().lock();
        run(&cfg, &mut stdout)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

async fn open(cfg: &PropsConfig) -> Result<Target, UsageError> {
    match &cfg.target {
        Some(url) => crate::target::remote::connect(
            url,
            cfg.api_key.clone(),
            cfg.allow_writes,
            cfg.allow_dispatch,
            None,
        )
        .await
        .map_err(UsageError),
        None => {
            #[cfg(feature = "embedded")]
            {
                crate::target::embedded::start(cfg.seed, None)
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

/// The world a target offers, or why the properties cannot run on it.
pub(crate) fn world_of(target: &Target, cfg: &PropsConfig) -> Result<World, UsageError> {
    if target.capabilities.control {
        return Ok(World::Fake { seed: cfg.seed });
    }
    if !cfg.allow_writes || !cfg.allow_dispatch {
        return Err(UsageError(format!(
            "{} has no control API: props dispatches documents and records delivery attempts on it, \
             so it needs --allow-writes --allow-dispatch (use a test workspace) and the documents it may change, \
             e.g. --var doc=<id> --var doc=<id> or --var docs=<id>,<id>",
            target.url
        )));
    }
    if cfg.docs.is_empty() {
        return Err(UsageError(format!(
            "{} has no control API: name the documents props may change with --var doc=<id> \
             (repeatable) or --var docs=<id>,<id>; use reviewed and finalized invoice documents \
             of a test workspace",
            target.url
        )));
    }
    Ok(World::Remote {
        docs: cfg.docs.clone(),
    })
}

/// An operation biased towards the concurrency properties.
fn concurrent_op(docs: u8, control: bool) -> BoxedStrategy<Op> {
    let doc = 0..docs.max(1);
    let mut choices = vec![
        (
            4,
            (doc.clone(), 2u8..8)
                .prop_map(|(doc, n)| Op::ParallelDispatch { doc, n })
                .boxed(),
        ),
        (
            4,
            (doc.clone(), 2u8..8, any::<bool>())
                .prop_map(|(doc, n, changed)| Op::ParallelCallback { doc, n, changed })
                .boxed(),
        ),
        (
            2,
            (doc.clone(), 0u8..20)
                .prop_map(|(doc, at)| Op::Callback {
                    doc,
                    outcome: Outcome::Failed,
                    exec: Exec::Fresh,
                    at,
                    change: 0,
                })
                .boxed(),
        ),
        (1, doc.clone().prop_map(|doc| Op::GetStatus { doc }).boxed()),
        (
            3,
            (
                doc.clone(),
                prop_oneof![Just(Outcome::Succeeded), Just(Outcome::Skipped)],
            )
                .prop_map(|(doc, outcome)| Op::RaceDispatchCallback { doc, outcome })
                .boxed(),
        ),
    ];
    if control {
        choices.push((
            2,
            (1u8..4).prop_map(|secs| Op::AdvanceClock { secs }).boxed(),
        ));
        choices.push((2, doc.prop_map(|doc| Op::EditQueuedRun { doc }).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

struct Property {
    name: &'static str,
    about: &'static str,
    strategy: BoxedStrategy<Vec<Op>>,
}

fn properties(docs: u8, control: bool, max_ops: usize) -> Vec<Property> {
    vec![
        Property {
            name: "delivery_state_machine",
            about: "status codes, bodies, idempotency, status and outbox follow the model",
            strategy: ops::sequence(docs, control, max_ops),
        },
        Property {
            name: "concurrent_requests",
            about: "parallel dispatches: one 202; parallel callbacks: one attempt or one winner; a dispatch racing a callback, an edit racing the queued run: one consistent order",
            strategy: proptest::collection::vec(
                concurrent_op(docs, control),
                1..=max_ops.clamp(1, 6),
            )
            .boxed(),
        },
    ]
}

fn seed_bytes(seed: u64, property: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&seed.to_le_bytes());
    out[8..16].copy_from_slice(&(property as u64).to_le_bytes());
    out[16..24].copy_from_slice(b"numora-p");
    out
}

/// What one property run found.
#[derive(Debug, Clone)]
pub(crate) struct PropertyResult {
    pub passed: u32,
    /// The shrunk failing case and the path of its scenario file.
    pub failure: Option<String>,
}

/// The command line that replays this run.
fn replay_line(cfg: &PropsConfig) -> String {
    let mut line = format!(
        "conformance props --seed {} --cases {}",
        cfg.seed, cfg.cases
    );
    if cfg.max_ops != crate::cli::DEFAULT_MAX_OPS {
        line.push_str(&format!(" --max-ops {}", cfg.max_ops));
    }
    if let Some(t) = &cfg.target {
        line.push_str(&format!(" --target {t}"));
        if cfg.allow_writes {
            line.push_str(" --allow-writes");
        }
        if cfg.allow_dispatch {
            line.push_str(" --allow-dispatch");
        }
        for d in &cfg.docs {
            line.push_str(&format!(" --var doc={d}"));
        }
    }
    line
}

fn write_scenario(cfg: &PropsConfig, name: &str, text: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&cfg.out)
        .map_err(|e| format!("cannot create {}: {e}", cfg.out.display()))?;
    let path = cfg.out.join(format!("{name}-seed-{}.yaml", cfg.seed));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn check_scenario(path: &Path, text: &str) -> Option<String> {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::scenario::parse(path, &id, text)
        .err()
        .map(|e| e.to_string())
}

/// Run every property against an open target; writes the report to `out`.
pub(crate) fn run_properties(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    world: &World,
    cfg: &PropsConfig,
    out: &mut dyn std::io::Write,
) -> Vec<PropertyResult> {
    let control = matches!(world, World::Fake { .. });
    let docs = match world {
        World::Fake { .. } => model::default_world().len(),
        World::Remote { docs } => docs.len(),
    };
    let docs = u8::try_from(docs).unwrap_or(u8::MAX);
    let _ = writeln!(
        out,
        "props against {}: {} cases per property, seed {}, at most {} operations per case",
        target.label, cfg.cases, cfg.seed, cfg.max_ops
    );
    let mut results = Vec::new();
    for (index, prop) in properties(docs, control, cfg.max_ops)
        .into_iter()
        .enumerate()
    {
        if !cfg.quiet {
            eprintln!("property {} ({})…", prop.name, prop.about);
        }
        let mut config = Config::with_cases(cfg.cases);
        config.failure_persistence = None;
        config.max_shrink_iters = 2_048;
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(cfg.seed, index));
        let mut runner = TestRunner::new_with_rng(config, rng);
        let passed = Cell::new(0u32);
        let failing = Cell::new(false);
        let case = Cell::new(0u64);
        let outcome = runner.run(&prop.strategy, |ops| {
            case.set(case.get() + 1);
            let run = rt.block_on(driver::run_case(target, world, case.get(), &ops));
            match run.result {
                Ok(()) => {
                    if !failing.get() {
                        passed.set(passed.get() + 1);
                    }
                    Ok(())
                }
                Err(f) => {
                    failing.set(true);
                    Err(TestCaseError::fail(format!(
                        "operation {}: {}",
                        f.op, f.message
                    )))
                }
            }
        });
        let failure = match outcome {
            Ok(()) => {
                let _ = writeln!(out, "ok      {:<24} {} cases", prop.name, passed.get());
                None
            }
            Err(TestError::Abort(reason)) => {
                let _ = writeln!(out, "FAILED  {:<24} aborted: {reason}", prop.name);
                Some(reason.to_string())
            }
            Err(TestError::Fail(reason, ops)) => {
                let _ = writeln!(
                    out,
                    "FAILED  {:<24} after {} passing cases",
                    prop.name,
                    passed.get()
                );
                let text =
                    report_failure(rt, target, world, cfg, prop.name, &reason.to_string(), &ops);
                let _ = write!(out, "{text}");
                Some(text)
            }
        };
        results.push(PropertyResult {
            passed: passed.get(),
            failure,
        });
    }
    // Properties are what pass or fail; cases are how hard they were tried.
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let held = results.len() - failed;
    let cases: u32 = results.iter().map(|r| r.passed).sum();
    let _ = writeln!(
        out,
        "{} held, {failed} failed ({} passed)",
        crate::style::plural(held, "property", "properties"),
        crate::style::plural(cases as usize, "case", "cases"),
    );
    results
}

fn report_failure(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    world: &World,
    cfg: &PropsConfig,
    name: &str,
    reason: &str,
    ops: &[Op],
) -> String {
    let mut text = String::new();
    // Replay the shrunk case once more to write down its requests.
    let run = rt.block_on(driver::run_case(target, world, u64::MAX / 2, ops));
    let docs: Vec<(String, String)> = run.vars.clone();
    text.push_str(&format!(
        "  shrunk failing sequence ({} operation{}):\n",
        ops.len(),
        if ops.len() == 1 { "" } else { "s" }
    ));
    for (i, op) in ops.iter().enumerate() {
        text.push_str(&format!("    {:>2}. {op}\n", i + 1));
    }
    let mut used: Vec<usize> = ops
        .iter()
        .filter_map(|op| match *op {
            Op::Dispatch { doc }
            | Op::RetryPush { doc }
            | Op::Callback { doc, .. }
            | Op::GetStatus { doc }
            | Op::ListAttempts { doc }
            | Op::Edit { doc }
            | Op::Approve { doc }
            | Op::ParallelDispatch { doc, .. }
            | Op::ParallelCallback { doc, .. }
            | Op::RaceDispatchCallback { doc, .. }
            | Op::EditQueuedRun { doc } => Some(doc as usize),
            Op::OutboxWalk { .. } | Op::AdvanceClock { .. } => None,
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    if !docs.is_empty() {
        for i in used {
            let (var, id) = &docs[i % docs.len()];
            text.push_str(&format!("    doc#{i} = {var} = {id}\n"));
        }
    }
    let why = match &run.result {
        Err(f) => format!("operation {}: {}", f.op, f.message),
        Ok(()) => format!(
            "{reason} (the replay of the shrunk case passed: the target is not deterministic)"
        ),
    };
    text.push_str(&format!("  failure: {why}\n"));
    text.push_str(&format!("  replay: {}\n", replay_line(cfg)));
    if run.steps.is_empty() {
        return text;
    }
    let control = matches!(world, World::Fake { .. });
    let title = format!("props {name}: {}", why.lines().next().unwrap_or_default());
    let title: String = title.chars().take(200).collect();
    let description = format!(
        "Shrunk by `conformance props` (seed {}). Operations:\n{}",
        cfg.seed,
        ops.iter()
            .enumerate()
            .map(|(i, op)| format!("{}. {op}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let yaml = driver::scenario_yaml(&run, control, &title, &description);
    match write_scenario(cfg, name, &yaml) {
        Ok(path) => {
            text.push_str(&format!(
                "  regression scenario: {} (conformance run {})\n",
                path.display(),
                path.display()
            ));
            if let Some(e) = check_scenario(&path, &yaml) {
                text.push_str(&format!(
                    "  warning: the scenario file does not load: {e}\n"
                ));
            }
        }
        Err(e) => text.push_str(&format!("  error: {e}\n")),
    }
    text
}

/// Open the target, check it can run the properties, run them.
pub(crate) fn run(cfg: &PropsConfig, out: &mut dyn std::io::Write) -> Result<u8, UsageError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))?;
    let target = rt.block_on(open(cfg))?;
    let world = world_of(&target, cfg)?;
    let results = run_properties(&rt, &target, &world, cfg, out);
    let _ = out.flush();
    Ok(if results.iter().all(|r| r.failure.is_none()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
