//! The fake against the baseline, side by side in one run: a document read
//! and a delivery callback on the embedded default world (as users run the
//! fake: journal on, rate limit on, step clock, default logging), and an
//! outbox page of 100 against the baseline serving the same page's bytes.

use super::*;

pub(crate) fn get_load(label: &str, path: &str, duration: Duration) -> Load {
    Load {
        label: label.to_string(),
        path: path.to_string(),
        script: None,
        env: Vec::new(),
        duration,
        key: Some(KEY.to_string()),
        bounded: false,
    }
}

/// The delivery-callback load: rotating over the callback documents, or on one document.
pub(crate) fn callback_load(
    cfg: &Config,
    label: &str,
    tag: &str,
    doc: Option<&str>,
    offset: usize,
    max_requests: usize,
    duration: Duration,
) -> Load {
    let mut env = vec![
        ("BENCH_KEY".to_string(), KEY.to_string()),
        ("BENCH_TAG".to_string(), tag.to_string()),
        ("BENCH_DOC_PREFIX".to_string(), "cb_".to_string()),
        ("BENCH_DOC_OFFSET".to_string(), offset.to_string()),
        // A bounded run stays within its CALLBACKS documents (the few requests
        // in flight when it stops wrap around onto them); an open one rotates
        // over the callback documents of world-1k.
        (
            "BENCH_DOC_COUNT".to_string(),
            if max_requests > 0 {
                CALLBACKS
            } else {
                THROUGHPUT_CALLBACK_DOCS
            }
            .to_string(),
        ),
        ("BENCH_MAX_REQUESTS".to_string(), max_requests.to_string()),
    ];
    if let Some(doc) = doc {
        env.push(("BENCH_DOC".to_string(), doc.to_string()));
    }
    Load {
        label: label.to_string(),
        path: "/v1/documents/{id}/delivery".to_string(),
        script: Some(cfg.repo.join("bench/wrk/delivery.lua")),
        env,
        duration,
        key: None,
        bounded: max_requests > 0,
    }
}

/// Runs `loads` on every contender: one warm-up per (load, contender), then
/// `rounds` rounds in which the contenders take turns on each load, so a
/// change in the machine's background load hits them alike. Returns, per
/// contender, per load, the rounds.
pub(crate) fn interleaved(
    cfg: &Config,
    contenders: &mut [&mut Server],
    loads: &[(Load, Load)],
    ticks: u64,
) -> io::Result<Vec<Vec<Vec<Measured>>>> {
    let mut results = vec![vec![Vec::new(); loads.len()]; contenders.len()];
    for (_, warm) in loads {
        for server in contenders.iter_mut() {
            wrk::run(&cfg.wrk, server, warm)?;
        }
    }
    for _ in 0..cfg.rounds {
        for (l, (load, _)) in loads.iter().enumerate() {
            for (i, server) in contenders.iter_mut().enumerate() {
                let measured = wrk::measure(&cfg.wrk, server, load, ticks)?;
                results[i][l].push(measured);
            }
        }
    }
    Ok(results)
}

pub(crate) fn warm(cfg: &Config, load: &Load) -> Load {
    Load {
        label: format!("{} (warm-up)", load.label),
        duration: cfg.warmup,
        ..load.clone()
    }
}

pub(crate) fn rounds_note(cfg: &Config) -> String {
    format!(
        "wrk -t{} -c{}; {} interleaved rounds of {} s per endpoint and server after a {} s warm-up; \
         CPU = server utime+stime per request",
        wrk::THREADS,
        wrk::CONNECTIONS,
        cfg.rounds,
        cfg.duration.as_secs(),
        cfg.warmup.as_secs()
    )
}

/// The outbox page of the comparison.
const OUTBOX_PATH: &str = "/v1/delivery/outbox?limit=100";

/// One comparison of the fake against the baseline, judged against `target`.
struct Comparison<'a> {
    name: &'a str,
    base: Measured,
    fake: Measured,
    rounds: String,
    target: f64,
}

impl Comparison<'_> {
    fn ratio(&self) -> f64 {
        self.fake.cpu_us_per_request() / self.base.cpu_us_per_request()
    }

    fn judge(&self, targets: &mut Targets) {
        let ratio = self.ratio();
        let errors = self.fake.errors() + self.base.errors();
        targets.judge(
            ratio <= self.target && errors == 0,
            format!(
                "server CPU per request, {}: fake {:.1} µs vs baseline {:.1} µs = {ratio:.2}x \
                 (rounds: {}){} (target <= {:.2}x)",
                self.name,
                self.fake.cpu_us_per_request(),
                self.base.cpu_us_per_request(),
                self.rounds,
                if errors > 0 {
                    format!(" ({errors} non-2xx answers or socket errors)")
                } else {
                    String::new()
                },
                self.target,
            ),
        );
    }
}

/// Combines the rounds of load `l` for contenders 0 (baseline) and 1 (fake).
fn compare<'a>(
    name: &'a str,
    label: &str,
    results: &[Vec<Vec<Measured>>],
    l: usize,
    target: f64,
) -> Comparison<'a> {
    Comparison {
        name,
        base: Measured::combine(label, &results[0][l]),
        fake: Measured::combine(label, &results[1][l]),
        rounds: round_ratios(&results[1][l], &results[0][l]),
        target,
    }
}

/// The fake against the baseline: GET document and delivery callback on the
/// embedded default world, and an outbox page of 100 (world-1k) against the
/// baseline serving the fake's own page from a prepared buffer.
pub(crate) fn throughput(
    cfg: &Config,
    worlds: &Worlds,
    ticks: u64,
    targets: &mut Targets,
) -> io::Result<()> {
    heading(&format!(
        "2. CPU per request against the baseline (fake: the embedded default world for the \
         document and the callback, world-1k for the outbox page; {})",
        rounds_note(cfg)
    ));
    let d = cfg.duration;
    let doc_path = format!("/v1/documents/{DEFAULT_DOC}");
    let get_doc = get_load("GET /v1/documents/{id}", &doc_path, d);
    let post = callback_load(
        cfg,
        "POST /v1/documents/{id}/delivery",
        "main",
        Some(DEFAULT_DOC),
        0,
        0,
        d,
    );
    let post_warm = callback_load(cfg, "warm-up", "warm", Some(DEFAULT_DOC), 0, 0, cfg.warmup);
    let outbox = get_load("GET /v1/delivery/outbox?limit=100", OUTBOX_PATH, d);

    // The page the fake answers, saved for the baseline to serve as it is.
    let mut outbox_fake = start_fake(
        cfg,
        Some(&worlds.small),
        "fake-outbox.log",
        &fixtures::invoice_id(1),
    )?;
    let page = outbox_fake.client(Some(KEY))?.get(OUTBOX_PATH)?;
    if page.status != 200 {
        return Err(io::Error::other(format!(
            "the fake's outbox page answered {}: {}",
            page.status,
            page.text()
        )));
    }
    let page_file = cfg.work_dir.join("outbox-page-100.json");
    std::fs::write(&page_file, &page.body)?;
    let mut base = start_baseline(cfg, "baseline-load.log", Some(&page_file))?;
    let base_page = base.client(None)?.get(OUTBOX_PATH)?;
    let base_doc = base.client(None)?.get(&doc_path)?.body.len();
    let mut fake = start_fake(cfg, None, "fake-load.log", DEFAULT_DOC)?;
    let fake_doc = fake.client(Some(KEY))?.get(&doc_path)?.body.len();
    println!(
        "(response bodies: GET /v1/documents/{{id}} fake {fake_doc} bytes, baseline {base_doc} bytes; \
         outbox page fake {} bytes, baseline {} bytes{})",
        page.body.len(),
        base_page.body.len(),
        if base_page.body == page.body {
            ", the same bytes"
        } else {
            ", DIFFERENT bytes"
        }
    );
    if base_page.body != page.body {
        return Err(io::Error::other(
            "the baseline does not serve the fake's outbox page",
        ));
    }

    let on_default = [(get_doc.clone(), warm(cfg, &get_doc)), (post, post_warm)];
    let default_results = interleaved(cfg, &mut [&mut base, &mut fake], &on_default, ticks)?;
    let outbox_results = interleaved(
        cfg,
        &mut [&mut base, &mut outbox_fake],
        &[(outbox.clone(), warm(cfg, &outbox))],
        ticks,
    )?;
    let comparisons = [
        compare(
            "GET /v1/documents/{id} (default world)",
            &on_default[0].0.label,
            &default_results,
            0,
            1.3,
        ),
        compare(
            "POST /v1/documents/{id}/delivery (default world)",
            &on_default[1].0.label,
            &default_results,
            1,
            1.5,
        ),
        compare(
            "GET /v1/delivery/outbox?limit=100 (same page bytes)",
            &outbox.label,
            &outbox_results,
            0,
            1.5,
        ),
    ];
    table_header();
    for c in &comparisons {
        row("baseline", &c.base, None);
        row("fake", &c.fake, Some(&c.base));
    }
    println!("(ratio: fake / baseline on the same load; cores: server CPU seconds per second)");
    for c in &comparisons {
        c.judge(targets);
    }
    Ok(())
}
