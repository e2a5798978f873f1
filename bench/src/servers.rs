//! The servers under test and the worlds they load: fixtures, start-up and
//! idle memory.

use super::*;

pub(crate) struct Worlds {
    /// 1,000 eligible invoices and 1,000 callback documents.
    pub small: PathBuf,
    /// The callback documents of the flatness check and the long history.
    pub callbacks: PathBuf,
    /// 100,000 eligible invoices.
    pub large: PathBuf,
}

pub(crate) fn generate(cfg: &Config) -> io::Result<Worlds> {
    heading("fixtures");
    std::fs::create_dir_all(&cfg.work_dir)?;
    let default_world = std::fs::read_to_string(cfg.repo.join("scenarios/fixtures/default.yaml"))?;
    let small = cfg.work_dir.join("world-1k.yaml");
    let callbacks = cfg.work_dir.join("world-callbacks.yaml");
    let large = cfg.work_dir.join("world-100k.yaml");
    let small_world = World {
        eligible: 1_000,
        callback_docs: THROUGHPUT_CALLBACK_DOCS,
        history_attempts: 0,
    };
    let callback_world = World {
        eligible: 1,
        callback_docs: CALLBACKS * CALLBACK_ROUNDS,
        history_attempts: HISTORY,
    };
    let large_world = World {
        eligible: 100_000,
        callback_docs: 0,
        history_attempts: 0,
    };
    for (path, world) in [
        (&small, small_world),
        (&callbacks, callback_world),
        (&large, large_world),
    ] {
        let started = Instant::now();
        let bytes = fixtures::write(&default_world, path, &world)?;
        println!(
            "{}: {} eligible + {} callback documents + a {}-attempt history, {:.1} MiB, written in {:.0} ms",
            path.display(),
            world.eligible,
            world.callback_docs,
            world.history_attempts,
            bytes as f64 / 1024.0 / 1024.0,
            ms(started.elapsed())
        );
    }
    Ok(Worlds {
        small,
        callbacks,
        large,
    })
}

pub(crate) fn start_fake(
    cfg: &Config,
    fixture: Option<&Path>,
    log: &str,
    probe_doc: &str,
) -> io::Result<Server> {
    let mut args = vec!["--port".to_string(), "0".to_string()];
    if let Some(path) = fixture {
        args.push("--fixtures".into());
        args.push(path.to_string_lossy().into_owned());
    }
    Server::start(
        "mock-server",
        &cfg.bin("mock-server"),
        &args,
        &cfg.work_dir.join(log),
        &format!("/v1/documents/{probe_doc}"),
        Some(KEY),
    )
}

/// The baseline; with `outbox_body`, it answers `GET /v1/delivery/outbox`
/// with that file's bytes.
pub(crate) fn start_baseline(
    cfg: &Config,
    log: &str,
    outbox_body: Option<&Path>,
) -> io::Result<Server> {
    let mut args = vec!["--port".to_string(), "0".to_string()];
    if let Some(path) = outbox_body {
        args.push("--outbox-body".into());
        args.push(path.to_string_lossy().into_owned());
    }
    Server::start(
        "baseline",
        &cfg.bin("baseline"),
        &args,
        &cfg.work_dir.join(log),
        &format!("/v1/documents/{DEFAULT_DOC}"),
        Some(KEY),
    )
}

/// Start-up and idle memory over several starts: (median ms, max ms, median RSS MiB).
pub(crate) fn starts(
    name: &str,
    mut start: impl FnMut() -> io::Result<Server>,
) -> io::Result<(f64, f64, f64)> {
    let mut times = Vec::with_capacity(STARTS);
    let mut rss = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let server = start()?;
        let memory = server.memory()?;
        times.push(ms(server.startup));
        rss.push(memory.rss_mib());
    }
    let max = times.iter().copied().fold(f64::MIN, f64::max);
    let min = times.iter().copied().fold(f64::MAX, f64::min);
    let (t, r) = (wrk::median(&mut times), wrk::median(&mut rss));
    println!(
        "{name:<44} start-up median {t:6.2} ms (min {min:.2}, max {max:.2}, {STARTS} starts)   idle VmRSS {r:5.2} MiB"
    );
    Ok((t, max, r))
}

pub(crate) fn startup_and_memory(cfg: &Config, targets: &mut Targets) -> io::Result<()> {
    heading("1. start-up (spawn to first successful GET /v1/documents/{id}) and idle memory");
    starts("baseline", || {
        start_baseline(cfg, "baseline-start.log", None)
    })?;
    let (t, max, rss) = starts("fake, embedded default world", || {
        start_fake(cfg, None, "fake-start.log", DEFAULT_DOC)
    })?;
    targets.judge(
        t <= 20.0,
        format!("start-up to first response: median {t:.2} ms, max {max:.2} ms (target <= 20 ms)"),
    );
    targets.judge(
        rss <= 8.0,
        format!("idle RSS (default world): {rss:.2} MiB (target <= 8 MiB)"),
    );
    Ok(())
}
