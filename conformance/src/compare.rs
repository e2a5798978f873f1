//! `conformance diff`: the same read requests against two targets, and
//! every difference field by field.
//!
//! The requests are the GET steps of the library's read-only scenarios
//! (those that need no control API, no writes and no provider state, with
//! every variable they use at hand), then a walk of the listing routes:
//! the outbox, and for each listed document (paired by position, each side
//! using its own ids) the document, its result and its attempts.
//! Responses are normalised as snapshots are (ids, timestamps, request ids,
//! cursors and loopback origins masked), minus `--ignore` paths.

use indexmap::IndexMap;
use serde_json::Value;

use crate::cli::DiffArgs;
use crate::error::{UsageError, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::runner::jsonpath::Path;
use crate::runner::result::ResponseRecord;
use crate::runner::snapshot::redact;
use crate::runner::step::build;
use crate::scenario::model::{JsonType, Method, Request, Step};
use crate::scenario::template::{render, Vars};
use crate::target::{Session, Target};

/// Headers the docs name; their presence is compared, and the values of
/// the first two (the others change from one request to the next).
const VALUE_HEADERS: &[&str] = &["content-type", "x-rate-limit-limit"];
const PRESENCE_HEADERS: &[&str] = &[
    "x-request-id",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "retry-after",
];

/// One request to send to both sides: a label and how to build it on each.
struct Probe {
    label: String,
    request: Request,
}

fn type_name(v: &Value) -> &'static str {
    match JsonType::of(v) {
        JsonType::Integer => "number",
        t => t.as_str(),
    }
}

fn child(path: &str, key: &str) -> String {
    if key.chars().all(|c| c.is_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}['{key}']")
    }
}

/// Field-by-field differences between two normalised bodies.
fn compare(path: &str, a: &Value, b: &Value, shape_only: bool, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, va) in ma {
                match mb.get(k) {
                    Some(vb) => compare(&child(path, k), va, vb, shape_only, out),
                    None => out.push(format!("{}: missing on --against", child(path, k))),
                }
            }
            for k in mb.keys().filter(|k| !ma.contains_key(*k)) {
                out.push(format!("{}: only on --against", child(path, k)));
            }
        }
        (Value::Array(xa), Value::Array(xb)) => {
            if shape_only {
                if let (Some(fa), Some(fb)) = (xa.first(), xb.first()) {
                    compare(&format!("{path}[0]"), fa, fb, true, out);
                }
                return;
            }
            if xa.len() != xb.len() {
                out.push(format!("{path}: {} items vs {} items", xa.len(), xb.len()));
            }
            for (i, (va, vb)) in xa.iter().zip(xb).enumerate() {
                compare(&format!("{path}[{i}]"), va, vb, false, out);
            }
        }
        _ if type_name(a) != type_name(b) => {
            out.push(format!("{path}: {} vs {}", type_name(a), type_name(b)));
        }
        _ if !shape_only && a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

fn normalised(resp: &ResponseRecord, ignore: &[Path]) -> Option<Value> {
    let mut v = redact(resp.json.as_ref()?);
    for p in ignore {
        p.remove(&mut v);
    }
    Some(v)
}

/// Every difference between the two responses to one probe.
fn differences(
    a: &ResponseRecord,
    b: &ResponseRecord,
    shape_only: bool,
    ignore: &[Path],
) -> Vec<String> {
    let mut out = Vec::new();
    if a.status != b.status {
        out.push(format!("status: {} vs {}", a.status, b.status));
    }
    for h in VALUE_HEADERS.iter().chain(PRESENCE_HEADERS) {
        match (a.header(h), b.header(h)) {
            (Some(_), None) => out.push(format!("header {h}: missing on --against")),
            (None, Some(_)) => out.push(format!("header {h}: only on --against")),
            (Some(x), Some(y)) if !shape_only && VALUE_HEADERS.contains(h) && x != y => {
                out.push(format!("header {h}: {x:?} vs {y:?}"));
            }
            _ => {}
        }
    }
    match (normalised(a, ignore), normalised(b, ignore)) {
        (Some(x), Some(y)) => compare("$", &x, &y, shape_only, &mut out),
        (Some(_), None) => out.push("body: JSON vs not JSON".into()),
        (None, Some(_)) => out.push("body: not JSON vs JSON".into()),
        (None, None) => {}
    }
    out
}

/// The GET requests of the read-only scenarios that can run with `vars`.
fn scenario_probes(vars: &Vars) -> Result<Vec<Probe>, UsageError> {
    let library = crate::config::resolve_library(&crate::cli::Selection {
        paths: Vec::new(),
        level: None,
        tags: Vec::new(),
        filters: Vec::new(),
    })?;
    let scenarios = crate::app::load(&library).map_err(|e| {
        UsageError(format!(
            "the built-in library does not load: {} errors",
            e.len()
        ))
    })?;
    let mut out = Vec::new();
    for s in scenarios {
        if s.sends_writes() || s.needs_control() || s.scenario.state.is_some() {
            continue;
        }
        if s.scenario
            .requires
            .vars
            .iter()
            .any(|v| !vars.contains_key(v))
        {
            continue;
        }
        let mut scoped = vars.clone();
        for (k, v) in &s.scenario.vars {
            scoped.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (i, step) in s.scenario.steps.iter().enumerate() {
            let Step::Request(r) = step else { continue };
            if r.method != Method::Get || r.url.is_some() {
                continue;
            }
            // A path built from an earlier step's capture cannot be sent
            // on its own.
            let Ok(path) = render(&r.path, &scoped) else {
                continue;
            };
            let mut request = r.request();
            request.path = path;
            out.push(Probe {
                label: format!("{} step {}", s.id, i + 1),
                request,
            });
        }
    }
    Ok(out)
}

fn get(path: String) -> Request {
    Request {
        method: Method::Get,
        path,
        url: None,
        headers: IndexMap::new(),
        body: None,
        raw_body: None,
        auth: None,
    }
}

async fn send(session: &Session, req: &Request, vars: &Vars) -> Result<ResponseRecord, String> {
    let out = build(req, session, vars)?;
    session.send(out).await.map_err(|e| e.message)
}

/// The document ids of a side's outbox, in order.
fn listed(resp: &ResponseRecord) -> Vec<String> {
    resp.json
        .as_ref()
        .and_then(|j| j["data"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d["document_id"].as_str().map(str::to_owned))
        .collect()
}

struct Sides {
    a: Session,
    b: Session,
    vars: Vars,
}

impl Sides {
    /// Send one probe to both sides; print and count its differences.
    async fn probe(
        &self,
        label: &str,
        req: &Request,
        args: &DiffArgs,
        ignore: &[Path],
    ) -> Result<(usize, Option<(ResponseRecord, ResponseRecord)>), String> {
        let a = send(&self.a, req, &self.vars).await?;
        let b = send(&self.b, req, &self.vars).await?;
        let diffs = differences(&a, &b, args.shape_only, ignore);
        if !diffs.is_empty() {
            println!("{label}: GET {}", req.path);
            for d in &diffs {
                println!("  {d}");
            }
        }
        Ok((diffs.len(), Some((a, b))))
    }
}

async fn connect(url: &str, key: Option<String>, args: &DiffArgs) -> Result<Target, UsageError> {
    crate::target::remote::connect(url, key, args.allow_writes, args.allow_dispatch, None)
        .await
        .map_err(UsageError)
}

/// With --allow-writes: the writing scenarios run on each side (each with
/// the ids it creates), and their responses are compared step by step.
async fn writing_scenarios(
    a: &Target,
    b: &Target,
    args: &DiffArgs,
    vars: &Vars,
    ignore: &[Path],
    tally: &mut dyn FnMut(usize),
) -> Result<(), UsageError> {
    let library = crate::config::resolve_library(&crate::cli::Selection {
        paths: Vec::new(),
        level: None,
        tags: Vec::new(),
        filters: Vec::new(),
    })?;
    let scenarios = crate::app::load(&library).map_err(|e| {
        UsageError(format!(
            "the built-in library does not load: {} errors",
            e.len()
        ))
    })?;
    let snapshots = library
        .roots
        .first()
        .map(|r| crate::scenario::parse::library_root(r))
        .and_then(|r| r.parent().map(|p| p.join("snapshots")))
        .unwrap_or_default();
    let opts = crate::runner::RunOptions {
        jobs: 1,
        vars: vars.clone(),
        snapshots: crate::runner::snapshot::SnapshotConfig {
            dir: snapshots,
            update: false,
        },
        seed: 7,
        state_hook: None,
        run_id: crate::runner::run_nonce(),
    };
    for s in scenarios.iter().filter(|s| s.sends_writes()) {
        let ra = crate::runner::run_scenario(s, a, &opts).await;
        let rb = crate::runner::run_scenario(s, b, &opts).await;
        let skipped = |o: &crate::runner::result::Outcome| {
            matches!(o, crate::runner::result::Outcome::Skipped(_))
        };
        if skipped(&ra.outcome) || skipped(&rb.outcome) {
            continue;
        }
        for (sa, sb) in ra.steps.iter().zip(&rb.steps) {
            let (Some(x), Some(y)) = (&sa.response, &sb.response) else {
                continue;
            };
            let diffs = differences(x, y, args.shape_only, ignore);
            if !diffs.is_empty() {
                println!(
                    "{} step {}: {} {}",
                    s.id,
                    sa.index,
                    x.request.method,
                    path_of(&x.request.url)
                );
                for d in &diffs {
                    println!("  {d}");
                }
            }
            tally(diffs.len());
        }
        if ra.steps.len() != rb.steps.len() {
            println!(
                "{}: {} steps ran vs {} (a step failed on one side)",
                s.id,
                ra.steps.len(),
                rb.steps.len()
            );
            tally(1);
        }
    }
    Ok(())
}

/// The path and query of a URL (the origins differ by construction).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

async fn run(args: &DiffArgs) -> Result<u8, UsageError> {
    let ignore: Vec<Path> = args
        .ignore
        .iter()
        .map(|p| Path::parse(p).map_err(UsageError))
        .collect::<Result<_, _>>()?;
    let vars = crate::config::parse_vars(&args.vars)?;
    let against_key = args
        .against_api_key
        .clone()
        .or_else(|| args.api_key.clone());
    let (ta, tb) = (
        connect(&args.target, args.api_key.clone(), args).await?,
        connect(&args.against, against_key, args).await?,
    );
    let sides = Sides {
        a: ta.open(None, None).await.map_err(UsageError)?,
        b: tb.open(None, None).await.map_err(UsageError)?,
        vars,
    };
    let mut requests = 0;
    let mut differing = 0;
    let mut total = 0;
    let mut tally = |n: usize| {
        requests += 1;
        if n > 0 {
            differing += 1;
            total += n;
        }
    };
    for p in scenario_probes(&sides.vars)? {
        let (n, _) = sides
            .probe(&p.label, &p.request, args, &ignore)
            .await
            .map_err(UsageError)?;
        tally(n);
    }
    // The walk: the outbox, then each listed document on each side.
    let outbox = get("/v1/delivery/outbox?provider=dynamics365&limit=100".into());
    let (n, both) = sides
        .probe("walk", &outbox, args, &ignore)
        .await
        .map_err(UsageError)?;
    tally(n);
    if let Some((a, b)) = both {
        for (i, (da, db)) in listed(&a).into_iter().zip(listed(&b)).enumerate() {
            for suffix in ["", "/result", "/delivery"] {
                let ra = send(
                    &sides.a,
                    &get(format!("/v1/documents/{da}{suffix}")),
                    &sides.vars,
                )
                .await
                .map_err(UsageError)?;
                let rb = send(
                    &sides.b,
                    &get(format!("/v1/documents/{db}{suffix}")),
                    &sides.vars,
                )
                .await
                .map_err(UsageError)?;
                let diffs = differences(&ra, &rb, args.shape_only, &ignore);
                if !diffs.is_empty() {
                    println!("walk: outbox item {i}: GET /v1/documents/{{id}}{suffix}");
                    for d in &diffs {
                        println!("  {d}");
                    }
                }
                tally(diffs.len());
            }
        }
    }
    if args.allow_writes {
        writing_scenarios(&ta, &tb, args, &sides.vars, &ignore, &mut tally).await?;
    }
    println!(
        "{} compared, {} differ ({})",
        crate::style::plural(requests, "request", "requests"),
        differing,
        crate::style::plural(total, "difference", "differences")
    );
    Ok(if total == 0 { EXIT_OK } else { EXIT_FAILED })
}

/// `conformance diff`; returns the exit code.
pub(crate) fn command(args: &DiffArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_are_reported_field_by_field() {
        let mut out = Vec::new();
        let a = json!({"data": {"status": "reviewed", "total": 1, "x": 1}, "list": [1, 2]});
        let b = json!({"data": {"status": "failed", "total": "1", "y": 1}, "list": [1]});
        compare("$", &a, &b, false, &mut out);
        assert_eq!(
            out,
            vec![
                "$.data.status: \"reviewed\" vs \"failed\"",
                "$.data.total: number vs string",
                "$.data.x: missing on --against",
                "$.data.y: only on --against",
                "$.list: 2 items vs 1 items",
            ]
        );
        let mut shape = Vec::new();
        compare("$", &a, &b, true, &mut shape);
        assert_eq!(shape.len(), 3, "{shape:?}");
    }
}
