//! One self-contained HTML page: no stylesheet, script, font or image is
//! fetched, so the file can be attached to a CI run and opened offline.
//!
//! The failures, their requests, responses and diffs are rendered here as
//! static HTML (readable with scripts off); the run's data is embedded as
//! JSON and a short script draws the summary bar and the filter over the
//! scenario table.

use std::fmt::Write as _;

use super::human;
use crate::runner::result::{Outcome, RunReport};
use crate::style::{duration, Style};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A failure's text with its diff lines marked, for colouring.
fn failure_block(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        let class = if t.starts_with("- ") || t.starts_with("expected:") {
            Some("del")
        } else if t.starts_with("+ ") || t.starts_with("actual:") {
            Some("ins")
        } else if t.starts_with('✗') || t.starts_with("error:") {
            Some("bad")
        } else {
            None
        };
        match class {
            Some(c) => {
                let _ = writeln!(out, "<span class=\"{c}\">{}</span>", esc(line));
            }
            None => {
                let _ = writeln!(out, "{}", esc(line));
            }
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.meta{color:#57606a}
#summary{display:flex;gap:.6rem;margin:.8rem 0}
#summary span{padding:.25rem .6rem;border-radius:.3rem;font-weight:600}
.passed{background:#dafbe1;color:#116329}.failed{background:#ffebe9;color:#a40e26}.skipped{background:#fff8c5;color:#7d4e00}
details{border:1px solid #d0d7de;border-radius:.4rem;margin:.5rem 0;padding:.4rem .7rem}
summary{cursor:pointer;font-weight:600}
pre{overflow-x:auto;font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap}
.del{color:#a40e26}.ins{color:#116329}.bad{color:#a40e26;font-weight:600}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2rem .5rem;border-bottom:1px solid #eaeef2}
td.time{text-align:right;color:#57606a;white-space:nowrap}
#filter button{margin-right:.3rem}
";

const SCRIPT: &str = r#"
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var counts = {passed: 0, failed: 0, skipped: 0};
  data.scenarios.forEach(function (s) { counts[s.outcome] += 1; });
  var bar = document.getElementById('summary');
  bar.textContent = '';
  ['passed', 'failed', 'skipped'].forEach(function (k) {
    var span = document.createElement('span');
    span.className = k;
    span.textContent = counts[k] + ' ' + k;
    bar.appendChild(span);
  });
  bar.setAttribute('data-rendered', 'yes');
  var rows = document.querySelectorAll('#scenarios tbody tr');
  document.querySelectorAll('#filter button').forEach(function (b) {
    b.addEventListener('click', function () {
      var want = b.getAttribute('data-outcome');
      rows.forEach(function (r) {
        r.hidden = want !== 'all' && r.getAttribute('data-outcome') !== want;
      });
    });
  });
})();
"#;

pub(crate) fn render(report: &RunReport) -> String {
    let (p, f, s) = report.count();
    let mut out =
        String::from("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>Conformance: {p} passed, {f} failed, {s} skipped</title>\n<style>{STYLE}</style>\n</head>\n<body>"
    );
    let _ = writeln!(
        out,
        "<h1>Conformance report</h1>\n<p class=\"meta\">target {} · seed {} · conformance {} · {}</p>",
        esc(&report.target),
        report.seed,
        esc(&report.version),
        duration(report.duration_ms)
    );
    // Without scripts the summary is still there as text.
    let _ = writeln!(
        out,
        "<div id=\"summary\">{}</div>",
        esc(&report.summary_line())
    );
    if let Some(c) = &report.coverage {
        out.push_str("<h2>Coverage</h2>\n<ul id=\"coverage\">\n");
        for line in c.lines() {
            let _ = writeln!(out, "<li>{}</li>", esc(line.trim()));
        }
        out.push_str("</ul>\n<details><summary>Documented rules</summary><table><tbody>\n");
        for r in &c.rules {
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"{status}\">{}</td><td>{}</td></tr>",
                esc(&r.id),
                esc(&status.replace('_', " ")),
                esc(&r.what)
            );
        }
        out.push_str("</tbody></table></details>\n");
    }
    let mut ordered: Vec<_> = report.scenarios.iter().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    let failed: Vec<_> = ordered
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    let _ = writeln!(out, "<h2>Failures ({})</h2>", failed.len());
    if failed.is_empty() {
        out.push_str("<p>None.</p>\n");
    }
    for r in failed {
        let _ = writeln!(
            out,
            "<details open><summary>{} — {}</summary>\n<pre>{}</pre></details>",
            esc(&r.id),
            esc(&r.name),
            failure_block(&human::failure(r, Style::PLAIN))
        );
    }
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in &ordered {
        if let Outcome::Skipped(reason) = &r.outcome {
            match groups.iter_mut().find(|(g, _)| g == reason) {
                Some((_, ids)) => ids.push(&r.id),
                None => groups.push((reason, vec![&r.id])),
            }
        }
    }
    if !groups.is_empty() {
        let _ = writeln!(out, "<h2>Skipped ({s})</h2>");
        for (reason, ids) in groups {
            let _ = writeln!(
                out,
                "<details><summary>{} × {}</summary><p>{}</p></details>",
                ids.len(),
                esc(reason),
                esc(&ids.join(", "))
            );
        }
    }
    out.push_str("<h2>Scenarios</h2>\n<p id=\"filter\"><button data-outcome=\"all\">all</button><button data-outcome=\"failed\">failed</button><button data-outcome=\"skipped\">skipped</button><button data-outcome=\"passed\">passed</button></p>\n");
    out.push_str("<table id=\"scenarios\"><thead><tr><th>scenario</th><th>outcome</th><th>rule</th><th>time</th></tr></thead><tbody>\n");
    for r in &ordered {
        let outcome = match r.outcome {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped(_) => "skipped",
        };
        let _ = writeln!(
            out,
            "<tr data-outcome=\"{outcome}\"><td>{}</td><td class=\"{outcome}\">{outcome}</td><td>{}</td><td class=\"time\">{}</td></tr>",
            esc(&r.id),
            esc(&r.source),
            duration(r.duration_ms)
        );
    }
    out.push_str("</tbody></table>\n");
    // `<` never appears raw in the embedded JSON, so it cannot close the
    // script element.
    let data = super::json::render(report).replace('<', "\\u003c");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"report-data\">{data}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>"
    );
    out
}
