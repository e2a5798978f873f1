//! The inspector page (`/_mock/ui`) in a real browser: it loads without a
//! console error, shows calls as they happen, links verdicts to the journal,
//! shows the rows dispatch wrote, and signs in with a cookie when the fake
//! has an admin token. Screenshots of every view go to
//! `$NUMORA_UI_SHOTS` (default: `<temp dir>/numora-ui-shots`).

mod browser;

use browser::Browser;
use mock_server::{MockServer, ServerHandle};
use serde_json::{json, Value};

const SEED_DOC: &str = "4be38121-3791-4856-80d5-c57dbec2cf78";
const OBRIEN_DOC: &str = "6b2e9f40-1c7d-4a85-b3e6-0f9a2d7c5e81";

fn shots() -> std::path::PathBuf {
    std::env::var_os("NUMORA_UI_SHOTS")
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("numora-ui-shots"))
}

struct Fake {
    rt: tokio::runtime::Runtime,
    server: ServerHandle,
    http: reqwest::Client,
}

impl Fake {
    fn start(builder: mock_server::MockServerBuilder) -> Fake {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let server = rt.block_on(builder.start()).expect("the fake starts");
        Fake {
            rt,
            server,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// One HTTP call; answers the status, the headers and the JSON body (or Null).
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut req = self.http.request(method, self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.rt.block_on(async {
            let res = req.send().await.expect("the fake answers");
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let text = res.text().await.unwrap_or_default();
            (
                status,
                headers,
                serde_json::from_str(&text).unwrap_or(Value::Null),
            )
        })
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, json) = self.send(method, &format!("/_mock{path}"), &[], body);
        (status, json)
    }

    fn numora(&self, method: &str, path: &str) -> u16 {
        let auth = format!("Bearer {}", self.server.api_key());
        self.send(method, path, &[("authorization", &auth)], None).0
    }

    fn clock_now(&self) -> String {
        let (status, clock) = self.control("GET", "/workspaces/default/clock", None);
        assert_eq!(status, 200);
        clock["data"]["now"].as_str().expect("now").to_string()
    }
}

/// Sets the page's hash (a client-side navigation, no reload) and waits for `ready`.
fn go(browser: &mut Browser, hash: &str, ready: &str) {
    browser.eval(&format!("location.hash = {}", json!(hash)));
    browser.wait_for(ready, hash);
}

/// Every visible text meets WCAG AA contrast against its background
/// (4.5:1; 3:1 for large text).
fn assert_contrast(browser: &mut Browser, view: &str) {
    let low = browser.eval(
        r#"(() => {
        const parse = (c) => { const m = /rgba?\(([^)]+)\)/.exec(c); if (!m) return null; const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
        const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
        const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255 }; };
        const low = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
          const text = walker.currentNode;
          const el = text.parentElement;
          if (!text.textContent.trim() || !el || !el.getClientRects().length || el.closest('.sr-only')) continue;
          const style = getComputedStyle(el);
          const [a, b] = [lum(parse(style.color)), lum(background(el))].sort((x, y) => y - x);
          const ratio = (a + 0.05) / (b + 0.05);
          const size = parseFloat(style.fontSize);
          const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
          if (ratio < (large ? 3 : 4.5)) low.push(`${el.tagName}.${el.className} "${text.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
        }
        return low;
      })()"#,
    );
    assert_eq!(
        low,
        json!([]),
        "text below WCAG AA contrast in the {view} view"
    );
}

/// Follows the verdicts view's link to journal entry `seq`: the journal
/// opens with that entry expanded and focused.
fn follow_evidence(browser: &mut Browser, seq: u64) {
    let found = browser.eval(&format!(
        "(() => {{ const a = [...document.querySelectorAll('a.evidence')].find((a) => a.getAttribute('href').endsWith('/journal/{seq}')); if (a) a.click(); return !!a; }})()"
    ));
    assert_eq!(found, json!(true), "no link to journal entry {seq}");
    browser.wait_for(
        &format!("document.activeElement && document.activeElement.id === 'je-{seq}' && document.activeElement.getAttribute('aria-expanded') === 'true'"),
        "the evidence entry, open and focused",
    );
}

#[test]
fn the_inspector_shows_the_world_live() {
    let Some(mut browser) = Browser::launch(1280, 800) else {
        return;
    };
    let fake = Fake::start(MockServer::builder().seed(7));
    let dir = shots();

    browser.open(&fake.url("/_mock/ui#/ws/default/journal"));
    browser.wait_for(
        "document.getElementById('journal-list') && document.getElementById('journal-count').textContent.includes('shown')",
        "the journal view",
    );
    assert_eq!(
        browser.eval("document.querySelectorAll('#journal-list > li').length"),
        json!(0),
        "a fresh workspace has an empty journal"
    );
    // A marker a reload would erase.
    browser.eval("window.__noReload = 'still here'");

    // Reading through the control API, polled every second, never ticks the clock.
    let before = fake.clock_now();
    browser.eval("window.__polls = () => performance.getEntriesByType('resource').filter((e) => e.name.includes('/journal')).length; window.__start = __polls()");
    browser.wait_for("__polls() >= __start + 2", "two polls of the journal");
    assert_eq!(fake.clock_now(), before, "the page's reads moved the clock");

    // A request to the fake appears without a reload.
    let result_path = format!("/v1/documents/{SEED_DOC}/result");
    assert_eq!(fake.numora("GET", &result_path), 200);
    browser.wait_for(
        &format!("[...document.querySelectorAll('#journal-list .path')].some((p) => p.textContent === {})", json!(result_path)),
        "the new call in the journal",
    );
    assert_eq!(browser.eval("window.__noReload"), json!("still here"));

    // Enter on an entry opens it: request and response.
    browser.eval("document.querySelector('#journal-list > li[data-seq=\"0\"] button.row').focus()");
    browser.press("Enter");
    browser.wait_for(
        "document.querySelector('#je-0').getAttribute('aria-expanded') === 'true'",
        "the entry to open",
    );
    let detail = browser.eval("document.getElementById('je-0-detail').innerText");
    let detail = detail.as_str().unwrap_or_default();
    assert!(detail.contains("GET /v1/documents/{id}/result"), "{detail}");
    assert!(detail.contains("Response: 200"), "{detail}");
    browser.screenshot(&dir, "journal-entry");
    assert_contrast(&mut browser, "journal");
    // Arrow keys move between entries.
    assert_eq!(fake.numora("GET", "/v1/schemas"), 200);
    browser.wait_for(
        "document.querySelectorAll('#journal-list > li').length === 2",
        "the second call",
    );
    browser.eval("document.getElementById('je-1').focus()");
    browser.press("ArrowDown");
    assert_eq!(browser.eval("document.activeElement.id"), json!("je-0"));
    browser.press("ArrowUp");
    assert_eq!(browser.eval("document.activeElement.id"), json!("je-1"));

    // The filter box hides what does not match.
    assert_eq!(fake.numora("GET", "/v1/delivery/outbox"), 200);
    browser.wait_for(
        "document.querySelectorAll('#journal-list > li').length === 3",
        "the third call",
    );
    browser.eval("document.getElementById('journal-filter').focus()");
    browser.type_text("outbox");
    browser.wait_for(
        "document.querySelectorAll('#journal-list > li:not([hidden])').length === 1",
        "the filter",
    );
    browser.screenshot(&dir, "journal-filtered");
    browser.eval("const f = document.getElementById('journal-filter'); f.value = ''; f.dispatchEvent(new Event('input'))");

    // Dispatch a reviewed document, advance the clock: the run writes an invoice.
    let (_, rows) = fake.control(
        "GET",
        "/workspaces/default/dataverse/otcm_inboundinvoices",
        None,
    );
    assert_eq!(rows["data"].as_array().map(Vec::len), Some(0));
    // The documents view follows the state change without a reload.
    let status_cell = format!(
        "[...document.querySelectorAll('main tbody tr')].find((tr) => tr.innerText.includes({})).children[2].textContent",
        json!(SEED_DOC)
    );
    go(
        &mut browser,
        "#/ws/default/documents",
        &format!("{status_cell} === 'reviewed'"),
    );
    assert_eq!(
        fake.numora("POST", &format!("/v1/documents/{SEED_DOC}/dispatch")),
        202
    );
    let (status, _) = fake.control(
        "POST",
        "/workspaces/default/clock/advance",
        Some(json!({"by": "30s"})),
    );
    assert_eq!(status, 200);
    browser.wait_for(
        &format!("{status_cell} === 'push_succeeded'"),
        "the dispatched document's new status",
    );
    go(
        &mut browser,
        "#/ws/default/dataverse/otcm_inboundinvoices",
        &format!(
            "[...document.querySelectorAll('table.rows td')].some((td) => td.textContent === {})",
            json!(SEED_DOC)
        ),
    );
    assert_eq!(browser.eval("window.__noReload"), json!("still here"));
    let row = browser.eval("document.querySelector('table.rows tbody tr').innerText");
    assert!(
        row.as_str().is_some_and(|r| r.contains("INV-2026-0142")),
        "{row}"
    );
    browser.screenshot(&dir, "dataverse-invoices");
    assert_contrast(&mut browser, "dataverse");
    // The invoice links to its line items.
    browser.eval("[...document.querySelectorAll('table.rows a')].find((a) => a.textContent === '3 rows').click()");
    browser.wait_for(
        "location.hash.includes('otcm_inboundinvoicelineitems') && document.querySelectorAll('table.rows tbody tr').length === 3",
        "the invoice's three line items",
    );
    browser.screenshot(&dir, "dataverse-line-items");
    // And each line item links back to its invoice.
    browser.eval(
        "document.querySelector('table.rows tbody tr a[href*=\"otcm_inboundinvoices?\"]').click()",
    );
    browser.wait_for(
        &format!("location.hash.includes('/otcm_inboundinvoices?') && document.querySelectorAll('table.rows tbody tr').length === 1 && document.querySelector('table.rows tbody').innerText.includes({})", json!(SEED_DOC)),
        "the line item's invoice",
    );

    // The document's timeline: created, dispatch, the run, the attempt.
    go(
        &mut browser,
        &format!("#/ws/default/documents/{SEED_DOC}"),
        "document.querySelector('.timeline')",
    );
    let timeline = browser.eval("document.querySelector('.timeline').innerText");
    let timeline = timeline.as_str().unwrap_or_default().to_string();
    for part in [
        "Created",
        "Dispatch",
        "Runs",
        "run_",
        "succeeded",
        "dispatch",
    ] {
        assert!(timeline.contains(part), "{part} missing from {timeline}");
    }
    browser.screenshot(&dir, "document-timeline");
    assert_contrast(&mut browser, "document");
    go(
        &mut browser,
        "#/ws/default/documents",
        "document.querySelectorAll('main tbody tr').length > 5",
    );
    browser.screenshot(&dir, "documents");

    // A refused dispatch retried blind: a verdict for the judge.
    let (status, fault) = fake.control(
        "POST",
        "/workspaces/default/faults",
        Some(json!({"api":"numora","method":"POST","path":"/v1/documents/*/dispatch","times":1,"respond":{"status":409}})),
    );
    assert_eq!(status, 201);
    let fault_id = fault["data"]["id"].as_str().expect("fault id").to_string();
    let dispatch = format!("/v1/documents/{OBRIEN_DOC}/dispatch");
    assert_eq!(fake.numora("POST", &dispatch), 409);
    assert_eq!(fake.numora("POST", &dispatch), 202);

    go(
        &mut browser,
        "#/ws/default/faults",
        &format!("document.querySelector('main tbody') && document.querySelector('main tbody').innerText.includes({})", json!(fault_id)),
    );
    let (_, rules) = fake.control("GET", "/workspaces/default/faults", None);
    let rule = &rules["data"][0];
    assert_eq!(rule["hits"], json!(1), "{rules}");
    let cells = browser.eval("[...document.querySelectorAll('main tbody tr:first-child td')].map((td) => td.textContent)");
    assert_eq!(
        cells[4],
        json!(rule["matched"].to_string()),
        "matched: {cells}"
    );
    assert_eq!(cells[5], json!(rule["hits"].to_string()), "hits: {cells}");
    browser.screenshot(&dir, "faults");
    assert_contrast(&mut browser, "faults");

    let (verdicts_status, verdicts) = fake.control("GET", "/workspaces/default/verdicts", None);
    go(
        &mut browser,
        "#/ws/default/verdicts",
        "document.querySelector('.findings, main .notice, main p.muted')",
    );
    browser.screenshot(&dir, "verdicts");
    assert_eq!(verdicts_status, 200, "{verdicts}");
    let seq = verdicts["data"]["findings"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find_map(|f| f["evidence"].as_array().and_then(|e| e.first()).cloned())
        })
        .and_then(|seq| seq.as_u64())
        .unwrap_or_else(|| {
            panic!("a finding with evidence after a blind retry of a refused dispatch: {verdicts}")
        });
    assert_contrast(&mut browser, "verdicts");
    follow_evidence(&mut browser, seq);
    browser.screenshot(&dir, "verdict-evidence");

    // The clock view's advance control moves the virtual clock.
    go(
        &mut browser,
        "#/ws/default/clock",
        "document.getElementById('advance')",
    );
    let shown = browser.eval("document.getElementById('clock-now').textContent");
    assert_eq!(shown, json!(fake.clock_now()));
    browser.eval("document.getElementById('advance-by').value = '5m'; document.getElementById('advance').click()");
    browser.wait_for(
        &format!(
            "document.getElementById('clock-now') && document.getElementById('clock-now').textContent !== {shown}"
        ),
        "the clock to move",
    );
    let after = browser.eval("document.getElementById('clock-now').textContent");
    assert_eq!(after, json!(fake.clock_now()));
    browser.screenshot(&dir, "clock");
    assert_contrast(&mut browser, "clock");

    go(
        &mut browser,
        "#/ws/default/webhooks",
        "document.querySelector('main section')",
    );
    browser.screenshot(&dir, "webhooks");
    assert_contrast(&mut browser, "webhooks");
    go(
        &mut browser,
        "#/workspaces",
        "[...document.querySelectorAll('main td a')].some((a) => a.textContent === 'default')",
    );
    browser.screenshot(&dir, "workspaces");

    // A narrow window.
    browser.viewport(420, 800);
    go(
        &mut browser,
        "#/ws/default/journal",
        "document.querySelectorAll('#journal-list > li').length > 3",
    );
    let overflow = browser.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(overflow, json!(true), "the page scrolls sideways at 420 px");
    browser.screenshot(&dir, "journal-narrow");
    assert_contrast(&mut browser, "narrow journal");
    for (hash, name, ready) in [
        (
            format!("#/ws/default/documents/{SEED_DOC}"),
            "document-narrow",
            "document.querySelector('.timeline')",
        ),
        (
            "#/ws/default/dataverse/otcm_inboundinvoices".to_string(),
            "dataverse-narrow",
            "document.querySelector('table.rows')",
        ),
        (
            "#/ws/default/verdicts".to_string(),
            "verdicts-narrow",
            "document.querySelector('.findings, main .notice')",
        ),
        (
            "#/ws/default/clock".to_string(),
            "clock-narrow",
            "document.getElementById('advance')",
        ),
    ] {
        go(&mut browser, &hash, ready);
        browser.screenshot(&dir, name);
        let fits = browser.eval("document.documentElement.scrollWidth <= window.innerWidth || [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('; ')");
        assert_eq!(fits, json!(true), "{hash} scrolls sideways at 420 px");
    }
    browser.viewport(1280, 800);
    go(
        &mut browser,
        "#/ws/default/journal",
        "document.querySelectorAll('#journal-list > li').length > 3",
    );
    let overflow = browser.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(
        overflow,
        json!(true),
        "the page scrolls sideways at 1280 px"
    );
    browser.screenshot(&dir, "journal");

    let errors = browser.errors(|_| false);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    eprintln!("screenshots: {}", dir.display());
}

#[test]
fn the_admin_token_is_asked_once_and_kept_in_a_cookie() {
    let fake = Fake::start(MockServer::builder().seed(7).admin_token("s3cret"));

    // Over HTTP: the page is public, the data is not, the cookie opens it.
    let (status, headers, _) = fake.send("GET", "/_mock/ui", &[], None);
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/html")));
    assert_eq!(fake.control("GET", "/workspaces", None).0, 401);
    let (status, _, body) = fake.send(
        "POST",
        "/_mock/ui/login",
        &[],
        Some(json!({"token": "wrong"})),
    );
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, headers, _) = fake.send(
        "POST",
        "/_mock/ui/login",
        &[],
        Some(json!({"token": "s3cret"})),
    );
    assert_eq!(status, 204);
    let cookie = headers["set-cookie"]
        .to_str()
        .expect("a cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("s3cret"),
        "the cookie carries the token: {cookie}"
    );
    let pair = cookie.split(';').next().expect("name=value");
    let (status, _, _) = fake.send("GET", "/_mock/workspaces", &[("cookie", pair)], None);
    assert_eq!(status, 200);
    let forged = "numora_mock_admin=00";
    let (status, _, _) = fake.send("GET", "/_mock/workspaces", &[("cookie", forged)], None);
    assert_eq!(status, 401);
    let (status, _, _) = fake.send(
        "GET",
        "/_mock/workspaces",
        &[("authorization", "Bearer s3cret")],
        None,
    );
    assert_eq!(status, 200, "the header still works");

    // In the browser: asked once, then the page and its live updates work.
    let Some(mut browser) = Browser::launch(1280, 800) else {
        return;
    };
    browser.open(&fake.url("/_mock/ui"));
    browser.wait_for("document.getElementById('token')", "the sign-in form");
    browser.screenshot(&shots(), "sign-in");
    assert_contrast(&mut browser, "sign-in");
    browser.eval("document.getElementById('token').focus()");
    browser.type_text("s3cret");
    browser.press("Enter");
    browser.wait_for(
        "document.getElementById('journal-list')",
        "the journal after sign-in",
    );
    assert_eq!(
        browser.eval("document.cookie"),
        json!(""),
        "the cookie is HttpOnly"
    );
    let auth = format!("Bearer {}", fake.server.api_key());
    let (status, _, _) = fake.send(
        "GET",
        "/v1/delivery/outbox",
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(status, 200);
    browser.wait_for(
        "document.querySelectorAll('#journal-list > li').length === 1",
        "a live update through the cookie",
    );
    // A reload does not ask again.
    browser.open(&fake.url("/_mock/ui#/ws/default/journal"));
    browser.wait_for(
        "document.querySelectorAll('#journal-list > li').length === 1",
        "the journal after a reload",
    );
    assert_eq!(
        browser.eval("document.getElementById('logout').hidden"),
        json!(false)
    );
    let errors = browser.errors(|_| false);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[test]
fn the_page_is_embedded_and_part_of_the_control_surface() {
    let fake = Fake::start(MockServer::builder().seed(7));
    let mut total = 0;
    for (path, kind) in [
        ("/_mock/ui", "text/html"),
        ("/_mock/ui/app.js", "text/javascript"),
        ("/_mock/ui/app.css", "text/css"),
    ] {
        let url = fake.url(path);
        let (status, headers, bytes) = fake.rt.block_on(async {
            let res = reqwest::get(&url).await.expect("the fake answers");
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            (status, headers, res.bytes().await.expect("a body").len())
        });
        assert_eq!(status, 200, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .is_ok_and(|c| c.starts_with(kind)),
            "{path}: {:?}",
            headers["content-type"]
        );
        let csp = headers["content-security-policy"]
            .to_str()
            .unwrap_or_default();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        total += bytes;
    }
    assert!(total <= 200 * 1024, "the page weighs {total} bytes");
    eprintln!("the page's assets: {total} bytes");

    let off = Fake::start(MockServer::builder().seed(7).control(false));
    assert_eq!(off.send("GET", "/_mock/ui", &[], None).0, 404);
    assert_eq!(off.send("GET", "/_mock/ui/app.js", &[], None).0, 404);
}
