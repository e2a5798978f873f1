//! Headless Chromium for tests of HTML pages: load a page, get the DOM its
//! scripts produced and the console errors it raised.
//!
//! Shared by every page test of the workspace. Another crate's test uses it
//! with `#[path = "../../conformance/tests/support/browser.rs"] mod browser;`
//! (adjust the relative path). It needs only `std`.
//!
//! The browser is Debian's `chromium` (`/usr/bin/chromium`, or `chromium`
//! on PATH); `.ci/run` installs it. When it is missing, [`browser_or_skip`]
//! fails the test under `CI=true` and otherwise skips it with a message.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What loading a page produced.
#[derive(Debug)]
pub(crate) struct Page {
    /// The DOM after the page's scripts ran (`--dump-dom`).
    pub(crate) dom: String,
    /// Console errors and uncaught exceptions, one per line of the
    /// browser's log.
    pub(crate) console_errors: Vec<String>,
    /// The browser's whole log, for assertion messages.
    pub(crate) log: String,
}

/// The Chromium binary, if one is installed.
pub(crate) fn find_browser() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// The browser, or `None` after printing why the test is skipped. Under
/// `CI=true` a missing browser fails the test instead.
pub(crate) fn browser_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(b) = find_browser() {
        return Some(b);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "{test}: Chromium is required under CI=true (apt-get install chromium)"
    );
    eprintln!("{test}: skipped: no Chromium (/usr/bin/chromium or `chromium` on PATH)");
    None
}

/// Whether a line of Chromium's log reports a page error.
fn is_console_error(line: &str) -> bool {
    line.contains("Uncaught")
        || (line.contains(":CONSOLE(") && (line.contains(":ERROR:") || line.contains("Error")))
}

/// Load `page` (a file path or a URL) headless and return the DOM and the
/// console errors. Panics if the browser does not finish within `limit`.
pub(crate) fn load(browser: &Path, page: &str, limit: Duration) -> Page {
    let url = if page.contains("://") {
        page.to_owned()
    } else {
        let abs = std::fs::canonicalize(page).expect("the page file exists");
        format!("file://{}", abs.display())
    };
    let profile = std::env::temp_dir().join(format!(
        "browser-profile-{}-{}",
        std::process::id(),
        url.len()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("the browser runs"),
        Err(_) => {
            // Stop only the browser this call started.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("the browser did not finish loading {url} within {limit:?}");
        }
    };
    let _ = std::fs::remove_dir_all(&profile);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    Page {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        console_errors: log
            .lines()
            .filter(|l| is_console_error(l))
            .map(str::to_owned)
            .collect(),
        log,
    }
}
