//! The scaling phases: an outbox page at 1k vs 100k eligible documents, a
//! delivery callback with 1 vs 10,000 prior attempts, 1,000 dispatch flows,
//! and the scenario library's wall time. Each reports into [`Targets`].

use super::*;

/// The 100k world: load time and memory, then the outbox page at 1k vs 100k.
pub(crate) fn outbox_scaling(
    cfg: &Config,
    worlds: &Worlds,
    ticks: u64,
    targets: &mut Targets,
) -> io::Result<()> {
    heading("3a. 100,000 eligible documents: memory, and the outbox page at 1k vs 100k");
    let mut large = start_fake(
        cfg,
        Some(&worlds.large),
        "fake-100k.log",
        &fixtures::invoice_id(1),
    )?;
    let memory = large.memory()?;
    println!(
        "world-100k: start-up incl. fixture load {:.0} ms; VmRSS {:.1} MiB (peak VmHWM {:.1} MiB)",
        ms(large.startup),
        memory.rss_mib(),
        memory.peak_mib()
    );
    targets.judge(
        memory.rss_mib() <= 200.0,
        format!(
            "RSS with 100k documents: {:.1} MiB (peak {:.1} MiB) (target <= 200 MiB)",
            memory.rss_mib(),
            memory.peak_mib()
        ),
    );
    let mut small = start_fake(
        cfg,
        Some(&worlds.small),
        "fake-outbox-1k.log",
        &fixtures::invoice_id(1),
    )?;
    let load = get_load(
        "GET /v1/delivery/outbox?limit=100",
        "/v1/delivery/outbox?limit=100",
        cfg.duration,
    );
    println!("({})", rounds_note(cfg));
    let results = interleaved(
        cfg,
        &mut [&mut small, &mut large],
        &[(load.clone(), warm(cfg, &load))],
        ticks,
    )?;
    let one_k = Measured::combine("outbox page, 1k eligible", &results[0][0]);
    let hundred_k = Measured::combine("outbox page, 100k eligible", &results[1][0]);
    table_header();
    row("fake", &one_k, None);
    row("fake", &hundred_k, Some(&one_k));
    println!(
        "(ratio: 100k / 1k; VmRSS of the 100k world after the load {:.1} MiB)",
        large.memory()?.rss_mib()
    );
    let ratio = hundred_k.cpu_us_per_request() / one_k.cpu_us_per_request();
    targets.judge(
        ratio <= 1.2 && hundred_k.errors() + one_k.errors() == 0,
        format!(
            "outbox page CPU at 100k vs 1k eligible: {:.1} µs vs {:.1} µs = {ratio:.2}x (rounds: {}) \
             (target <= 1.20x)",
            hundred_k.cpu_us_per_request(),
            one_k.cpu_us_per_request(),
            round_ratios(&results[1][0], &results[0][0]),
        ),
    );
    Ok(())
}

/// Delivery callbacks on documents with 1 prior attempt vs one with 10,000+.
pub(crate) fn callback_scaling(
    cfg: &Config,
    worlds: &Worlds,
    ticks: u64,
    targets: &mut Targets,
) -> io::Result<()> {
    heading(&format!(
        "3b. delivery callback cost vs prior attempts ({CALLBACKS} callbacks per case and round, \
         {CALLBACK_ROUNDS} rounds, wrk -t{} -c{})",
        wrk::THREADS,
        wrk::CONNECTIONS
    ));
    let mut server = start_fake(
        cfg,
        Some(&worlds.callbacks),
        "fake-callbacks.log",
        &fixtures::invoice_id(1),
    )?;
    println!(
        "(world-callbacks loaded in {:.0} ms; the cases alternate within each round)",
        ms(server.startup)
    );
    // Each case stops after CALLBACKS responses; wrk still waits out -d, which
    // also bounds a case if the server turns out slow.
    let cap = CALLBACK_CAP;
    // Warm the server up on reads, which leave the callback documents as they are.
    let doc_path = format!("/v1/documents/{}", fixtures::invoice_id(1));
    wrk::run(
        &cfg.wrk,
        &server,
        &get_load("warm-up", &doc_path, cfg.warmup),
    )?;
    let mut one = Vec::new();
    let mut many = Vec::new();
    for round in 0..CALLBACK_ROUNDS {
        // Round r posts to documents r*CALLBACKS+1 ..= (r+1)*CALLBACKS: one prior attempt each.
        let tag = format!("flat-one-{round}");
        let load = callback_load(cfg, "", &tag, None, round * CALLBACKS, CALLBACKS, cap);
        one.push(wrk::measure(&cfg.wrk, &mut server, &load, ticks)?);
        let tag = format!("flat-many-{round}");
        let load = callback_load(
            cfg,
            "",
            &tag,
            Some(fixtures::HISTORY_DOC),
            0,
            CALLBACKS,
            cap,
        );
        many.push(wrk::measure(&cfg.wrk, &mut server, &load, ticks)?);
    }
    let a = Measured::combine(
        &format!("{} docs, 1 prior attempt each", CALLBACKS * CALLBACK_ROUNDS),
        &one,
    );
    let b = Measured::combine(
        &format!(
            "1 doc, {HISTORY}..{} prior attempts",
            HISTORY + CALLBACKS * CALLBACK_ROUNDS
        ),
        &many,
    );
    table_header();
    row("fake", &a, None);
    row("fake", &b, Some(&a));
    println!("(ratio: long history / one prior attempt; req/s is not measured for a run that stops itself)");
    let ratio = b.cpu_us_per_request() / a.cpu_us_per_request();
    targets.judge(
        ratio <= 1.2 && a.errors() + b.errors() == 0,
        format!(
            "callback CPU with {HISTORY}+ vs 1 prior attempts: {:.1} µs vs {:.1} µs = {ratio:.2}x (rounds: {}) \
             (flat: target <= 1.20x)",
            b.cpu_us_per_request(),
            a.cpu_us_per_request(),
            round_ratios(&many, &one),
        ),
    );
    Ok(())
}

/// 1,000 documents dispatched under a frozen clock, run by one advance, checked.
pub(crate) fn dispatch_flows(
    cfg: &Config,
    worlds: &Worlds,
    ticks: u64,
    targets: &mut Targets,
) -> io::Result<()> {
    heading(&format!(
        "3c. {FLOWS} dispatch -> push_succeeded flows (frozen clock, one advance)"
    ));
    let server = start_fake(
        cfg,
        Some(&worlds.small),
        "fake-dispatch.log",
        &fixtures::invoice_id(1),
    )?;
    let mut api = server.client(Some(KEY))?;
    let mut control = server.client(None)?;
    let cpu_before = server.cpu_ticks()?;
    let started = Instant::now();
    let frozen = control.patch("/_mock/workspaces/default/clock", r#"{"mode":"frozen"}"#)?;
    if frozen.status != 200 {
        return Err(io::Error::other(format!(
            "freezing the clock answered {}: {}",
            frozen.status,
            frozen.text()
        )));
    }
    let mut refused = 0usize;
    for n in 1..=FLOWS {
        let r = api.post(
            &format!("/v1/documents/{}/dispatch", fixtures::invoice_id(n)),
            "{}",
        )?;
        if r.status != 202 {
            refused += 1;
            if refused == 1 {
                println!(
                    "dispatch of {} answered {}: {}",
                    fixtures::invoice_id(n),
                    r.status,
                    r.text()
                );
            }
        }
    }
    let dispatched = started.elapsed();
    let advanced = control.post("/_mock/workspaces/default/clock/advance", r#"{"by":"2s"}"#)?;
    if advanced.status != 200 {
        return Err(io::Error::other(format!(
            "advancing the clock answered {}: {}",
            advanced.status,
            advanced.text()
        )));
    }
    let ran = started.elapsed();
    let mut statuses: std::collections::BTreeMap<String, usize> = Default::default();
    for n in 1..=FLOWS {
        let r = api.get(&format!("/v1/documents/{}", fixtures::invoice_id(n)))?;
        let status = r
            .json()
            .and_then(|j| {
                j.pointer("/data/status")
                    .and_then(|s| s.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("http {}", r.status));
        *statuses.entry(status).or_default() += 1;
    }
    let total = started.elapsed();
    let cpu_s = server.cpu_ticks()?.saturating_sub(cpu_before) as f64 / ticks as f64;
    let succeeded = statuses.get("push_succeeded").copied().unwrap_or(0);
    println!(
        "dispatch {FLOWS}: {:.0} ms ({:.0} µs each); advance 2s (runs all {FLOWS}): {:.0} ms; \
         check {FLOWS} statuses: {:.0} ms; total {:.0} ms; server CPU {:.0} ms",
        ms(dispatched),
        ms(dispatched) * 1e3 / FLOWS as f64,
        ms(ran - dispatched),
        ms(total - ran),
        ms(total),
        cpu_s * 1e3
    );
    println!("statuses after the advance: {statuses:?}; refused dispatches: {refused}");
    targets.judge(
        total <= Duration::from_secs(2) && succeeded == FLOWS,
        format!(
            "{FLOWS} dispatch flows: {:.0} ms, {succeeded}/{FLOWS} push_succeeded (target <= 2000 ms, all succeeded)",
            ms(total)
        ),
    );
    Ok(())
}

/// The scenario library against the embedded fake, timed.
pub(crate) fn scenario_library(cfg: &Config, targets: &mut Targets) -> io::Result<()> {
    heading(&format!(
        "4. scenario library: conformance run against the embedded fake ({CONFORMANCE_RUNS} runs)"
    ));
    let mut times = Vec::new();
    let mut last_status = None;
    for i in 1..=CONFORMANCE_RUNS {
        let log = cfg.work_dir.join(format!("conformance-{i}.log"));
        let started = Instant::now();
        let status = Command::new(cfg.bin("conformance"))
            .arg("run")
            .current_dir(&cfg.repo)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::from(std::fs::File::create(
                log.with_extension("err"),
            )?))
            .status()?;
        let elapsed = started.elapsed();
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let summary = output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(no output)")
            .trim()
            .to_string();
        println!(
            "run {i}: {:.0} ms, {status}; last line: {summary}",
            ms(elapsed)
        );
        times.push(ms(elapsed));
        last_status = Some(status);
    }
    let t = wrk::median(&mut times);
    let exit = last_status
        .map(|s| match s.code() {
            Some(0) => "exit 0, all scenarios passed".to_string(),
            Some(c) => format!(
                "exit {c}, see {}",
                cfg.work_dir.join("conformance-1.log").display()
            ),
            None => "killed by a signal".to_string(),
        })
        .unwrap_or_default();
    targets.judge(
        t <= 5000.0,
        format!("scenario library wall time: median {t:.0} ms ({exit}) (target <= 5000 ms)"),
    );
    Ok(())
}
