//! The memory, loading and workspace phases: resident memory and load time of
//! 100,000 documents from a JSON and from a YAML fixture, a 1,000,000-document
//! phase, and the server CPU and memory of each of 10,000 new workspaces.
//!
//! The documents look like the default world's: the seeds' eight fields,
//! three line items and one delivery attempt each, with every id unique.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

/// Documents of the load and memory phase.
const LOADED: usize = 100_000;
/// Documents of the large phase.
const MILLION: usize = 1_000_000;
/// Workspaces created in one server.
const WORKSPACES: usize = 10_000;

/// The probe document of a generated world.
fn doc_id(n: usize) -> String {
    format!("mem_{n:07}")
}

/// One document, as the default world's seeds document looks (fields, three
/// line items, a review state, metadata), with one delivery attempt.
fn document(n: usize) -> Value {
    json!({
        "id": doc_id(n),
        "schema": "invoice_v2",
        "status": "push_succeeded",
        "finalized": true,
        "external_id": format!("ap-{n}"),
        "metadata": {"source": "email-import"},
        "review_state": {"version": 1, "confirmed_general_field_names": ["invoice_number"], "confirmed_line_item_ids": []},
        "created_at": "2026-03-20T20:25:04.644Z",
        "updated_at": "2026-03-24T02:36:37.684Z",
        "fields": {
            "invoice_number": {"value": format!("INV-{n:07}"), "confidence": 0.97},
            "invoice_date": {"value": "2026-03-18", "confidence": 0.96},
            "due_date": {"value": "2026-04-17", "confidence": 0.93},
            "vendor_name": {"value": "Northwind Traders", "confidence": 0.98},
            "currency": {"value": "EUR", "confidence": 0.99},
            "subtotal": {"value": 1250.0, "confidence": 0.95},
            "tax_amount": {"value": 250.0, "confidence": 0.94},
            "invoice_total": {"value": 1500.0, "confidence": 0.96}
        },
        "line_items": [
            {"description": "Printer paper A4, 5 reams", "quantity": 20, "unit_price": 24.5, "amount": 490.0, "tax_code": "VAT20"},
            {"description": "Toner cartridge, black", "quantity": 4, "unit_price": 89.0, "amount": 356.0, "tax_code": "VAT20"},
            {"description": "USB-C dock", "quantity": 3, "unit_price": 134.67, "amount": 404.0, "tax_code": "VAT20"}
        ],
        "attempts": [{
            "status": "succeeded",
            "execution_id": format!("exec-{n}"),
            "attempted_at": "2026-03-22T00:00:00.000Z",
            "external_record_id": format!("rec-{n}")
        }]
    })
}

/// The default world without its documents and runs, rate limit lifted.
fn base(cfg: &Config) -> io::Result<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(cfg.repo.join("scenarios/fixtures/default.yaml"))?;
    let mut root: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| io::Error::other(format!("default world: {e}")))?;
    let map = root
        .as_object_mut()
        .ok_or_else(|| io::Error::other("default world: not a mapping"))?;
    map.remove("documents");
    map.remove("runs");
    map.entry("settings")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| io::Error::other("default world: settings is not a mapping"))?
        .insert("rate_limit".into(), json!(fixtures::RATE_LIMIT));
    Ok(map.clone())
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Yaml,
}

/// Writes a world of `count` documents; returns its size in bytes.
fn write_world(cfg: &Config, path: &Path, count: usize, format: Format) -> io::Result<u64> {
    let base = base(cfg)?;
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    match format {
        Format::Json => {
            // The settings and catalogue first, then the documents, one per line.
            let head = serde_json::to_string(&base).map_err(io::Error::other)?;
            out.write_all(&head.as_bytes()[..head.len() - 1])?;
            out.write_all(b",\"documents\":[\n")?;
            for n in 1..=count {
                if n > 1 {
                    out.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut out, &document(n)).map_err(io::Error::other)?;
            }
            out.write_all(b"]}\n")?;
        }
        Format::Yaml => {
            let head = serde_yaml_ng::to_string(&base).map_err(io::Error::other)?;
            out.write_all(head.as_bytes())?;
            out.write_all(b"documents:\n")?;
            // Flow style (JSON is YAML), one document per line.
            for n in 1..=count {
                out.write_all(b"  - ")?;
                serde_json::to_writer(&mut out, &document(n)).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    drop(out);
    Ok(std::fs::metadata(path)?.len())
}

/// What loading one world cost.
struct Loaded {
    wall_ms: f64,
    cpu_ms: f64,
    memory: process::Memory,
}

fn load(cfg: &Config, path: &Path, count: usize, ticks: u64, log: &str) -> io::Result<Loaded> {
    let server = start_fake(cfg, Some(path), log, &doc_id(count))?;
    let cpu_ms = server.cpu_ticks()? as f64 * 1e3 / ticks as f64;
    let memory = server.memory()?;
    Ok(Loaded {
        wall_ms: ms(server.startup),
        cpu_ms,
        memory,
    })
}

fn generated(cfg: &Config, name: &str, count: usize, format: Format) -> io::Result<PathBuf> {
    let path = cfg.work_dir.join(name);
    let started = Instant::now();
    let bytes = write_world(cfg, &path, count, format)?;
    println!(
        "{}: {count} documents, {:.1} MiB, written in {:.0} ms",
        path.display(),
        bytes as f64 / 1024.0 / 1024.0,
        ms(started.elapsed())
    );
    Ok(path)
}

/// 100k documents from JSON and from YAML: load time and memory.
pub(crate) fn loading(cfg: &Config, ticks: u64, targets: &mut Targets) -> io::Result<()> {
    heading(&format!(
        "5a. loading {LOADED} documents (fields, three line items, one attempt each): JSON and YAML"
    ));
    std::fs::create_dir_all(&cfg.work_dir)?;
    let json_path = generated(cfg, "world-mem-100k.json", LOADED, Format::Json)?;
    let yaml_path = generated(cfg, "world-mem-100k.yaml", LOADED, Format::Yaml)?;
    let json = load(cfg, &json_path, LOADED, ticks, "fake-mem-json.log")?;
    let _ = std::fs::remove_file(&json_path);
    let yaml = load(cfg, &yaml_path, LOADED, ticks, "fake-mem-yaml.log")?;
    let _ = std::fs::remove_file(&yaml_path);
    println!(
        "{:<8} {:>14} {:>12} {:>14} {:>12} {:>12}",
        "fixture", "start-up", "server CPU", "documents/s", "VmRSS", "VmHWM"
    );
    for (name, l) in [("JSON", &json), ("YAML", &yaml)] {
        println!(
            "{name:<8} {:>11.0} ms {:>9.0} ms {:>14.0} {:>8.1} MiB {:>8.1} MiB",
            l.wall_ms,
            l.cpu_ms,
            LOADED as f64 / (l.wall_ms / 1e3),
            l.memory.rss_mib(),
            l.memory.peak_mib()
        );
    }
    println!("(start-up: spawn to the first answer about the last document; server CPU: user + system time of the server by then)");
    targets.judge(
        json.memory.rss_mib() <= 200.0,
        format!(
            "RSS with {LOADED} seed-like documents (JSON fixture): {:.1} MiB (peak {:.1} MiB) (target <= 200 MiB)",
            json.memory.rss_mib(),
            json.memory.peak_mib()
        ),
    );
    targets.judge(
        json.wall_ms <= 500.0,
        format!(
            "load {LOADED} documents from JSON: {:.0} ms = {:.0} documents/s (server CPU {:.0} ms) (target >= 200000/s, <= 500 ms)",
            json.wall_ms,
            LOADED as f64 / (json.wall_ms / 1e3),
            json.cpu_ms
        ),
    );
    let ratio = yaml.wall_ms / json.wall_ms;
    targets.judge(
        ratio <= 3.0,
        format!(
            "load {LOADED} documents from YAML: {:.0} ms = {ratio:.1}x the JSON load (server CPU {:.0} ms; VmRSS {:.1} MiB) (target <= 3.0x)",
            yaml.wall_ms, yaml.cpu_ms, yaml.memory.rss_mib()
        ),
    );
    Ok(())
}

/// A million documents from JSON: memory and load time.
pub(crate) fn million(cfg: &Config, ticks: u64, targets: &mut Targets) -> io::Result<()> {
    heading(&format!("5b. {MILLION} documents from a JSON fixture"));
    let path = generated(cfg, "world-mem-1m.json", MILLION, Format::Json)?;
    let loaded = load(cfg, &path, MILLION, ticks, "fake-mem-1m.log");
    let _ = std::fs::remove_file(&path);
    let l = loaded?;
    println!(
        "start-up {:.0} ms ({:.0} documents/s), server CPU {:.0} ms, VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        l.wall_ms,
        MILLION as f64 / (l.wall_ms / 1e3),
        l.cpu_ms,
        l.memory.rss_mib(),
        l.memory.peak_mib()
    );
    targets.judge(
        l.memory.rss_mib() <= 1536.0,
        format!(
            "RSS with {MILLION} documents: {:.1} MiB (peak {:.1} MiB; loaded in {:.1} s) (target <= 1536 MiB)",
            l.memory.rss_mib(),
            l.memory.peak_mib(),
            l.wall_ms / 1e3
        ),
    );
    Ok(())
}

/// Connections that create workspaces at once: CI jobs sharing one fake
/// each create their own, and the CPU-per-request phases load the server
/// from many connections too (one lone connection adds a sleep and a wake-up
/// of the server per request, which is the machine's cost, not the fake's).
const CREATORS: usize = 8;
/// Workspaces created afterwards from one connection, for the figure a lone
/// client sees (printed, not judged).
const SEQUENTIAL: usize = 1_000;

/// Creates a workspace (a copy of the default world) and returns its key.
fn create_workspace(control: &mut http::Client) -> io::Result<String> {
    let r = control.post("/_mock/workspaces", "{}")?;
    if r.status != 201 && r.status != 200 {
        return Err(io::Error::other(format!(
            "creating a workspace answered {}: {}",
            r.status,
            r.text()
        )));
    }
    r.json()
        .and_then(|j| {
            j.pointer("/data/api_key")
                .or_else(|| j.pointer("/api_key"))
                .and_then(|k| k.as_str().map(str::to_string))
        })
        .ok_or_else(|| io::Error::other(format!("no key in {}", r.text())))
}

/// Creates `count` workspaces from `connections` connections at once.
fn create_workspaces(
    addr: std::net::SocketAddr,
    count: usize,
    connections: usize,
) -> io::Result<Vec<String>> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|i| {
                let share = count / connections + usize::from(i < count % connections);
                scope.spawn(move || -> io::Result<Vec<String>> {
                    let mut control = http::Client::connect(addr, None)?;
                    (0..share).map(|_| create_workspace(&mut control)).collect()
                })
            })
            .collect();
        let mut keys = Vec::with_capacity(count);
        for worker in workers {
            let made = worker
                .join()
                .map_err(|_| io::Error::other("a thread creating workspaces panicked"))??;
            keys.extend(made);
        }
        Ok(keys)
    })
}

/// 10,000 workspaces, each a copy of the default world, in one server.
pub(crate) fn workspaces(cfg: &Config, ticks: u64, targets: &mut Targets) -> io::Result<()> {
    heading(&format!(
        "5c. {WORKSPACES} new workspaces (copies of the default world) in one server, \
         from {CREATORS} connections at once"
    ));
    let server = start_fake(cfg, None, "fake-workspaces.log", DEFAULT_DOC)?;
    let mut control = server.client(None)?;
    let mut api = server.client(Some(KEY))?;
    // Warm the allocator and the path with a few creations.
    for _ in 0..10 {
        create_workspace(&mut control)?;
    }
    let before = server.memory()?;
    let cpu_before = server.cpu_ticks()?;
    let started = Instant::now();
    let keys = create_workspaces(server.addr, WORKSPACES, CREATORS)?;
    let elapsed = started.elapsed();
    let cpu_s = server.cpu_ticks()?.saturating_sub(cpu_before) as f64 / ticks as f64;
    let after = server.memory()?;
    // Each workspace answers on its own key with its own copy of the world.
    let mut answered = 0usize;
    for key in keys.iter().step_by(WORKSPACES / 100) {
        let mut client = server.client(Some(key))?;
        if client.get(&format!("/v1/documents/{DEFAULT_DOC}"))?.status == 200 {
            answered += 1;
        }
    }
    let _ = api.get(&format!("/v1/documents/{DEFAULT_DOC}"))?;
    let cpu_us = cpu_s * 1e6 / WORKSPACES as f64;
    let kib = after.rss_kib.saturating_sub(before.rss_kib) as f64 / WORKSPACES as f64;
    println!(
        "{WORKSPACES} POST /_mock/workspaces: {:.0} ms wall, server CPU {:.0} ms = {cpu_us:.1} µs each; \
         VmRSS {:.1} -> {:.1} MiB = {kib:.1} KiB each; {answered} of 100 sampled workspaces answered",
        ms(elapsed),
        cpu_s * 1e3,
        before.rss_mib(),
        after.rss_mib()
    );
    println!("(CPU per workspace includes its HTTP request and the JSON answer)");
    targets.judge(
        cpu_us <= 50.0 && answered == 100,
        format!(
            "new workspace server CPU: {cpu_us:.1} µs each over {WORKSPACES} (target <= 50 µs)"
        ),
    );
    targets.judge(
        kib <= 64.0 && answered == 100,
        format!("new workspace memory: {kib:.1} KiB each over {WORKSPACES} (target <= 64 KiB)"),
    );
    let cpu_before = server.cpu_ticks()?;
    for _ in 0..SEQUENTIAL {
        create_workspace(&mut control)?;
    }
    let cpu_s = server.cpu_ticks()?.saturating_sub(cpu_before) as f64 / ticks as f64;
    println!(
        "{SEQUENTIAL} more from one connection, one after another: server CPU {:.1} µs each \
         (includes the server's sleep and wake-up around every request)",
        cpu_s * 1e6 / SEQUENTIAL as f64
    );
    Ok(())
}
