//! Waiting and retrying: `retry_after_ignored`, `retry_without_backoff`,
//! `rate_limited`, `no_request_id`, `expired_token_reused`.

use super::{document_of, group, success, Cx, Finding, Rule, Severity};
use crate::world::journal::JournalEntry;

pub(super) const RETRY_AFTER_IGNORED: Rule = Rule {
    id: "retry_after_ignored",
    severity: Severity::Error,
    source: "error-codes-and-limits.md (429 rate_limited: wait retry-after seconds); dataverse.md (service protection limits: Retry-After)",
    advice: "after a 429, wait at least the retry-after seconds before the next call with that key or token (n8n: a Wait node fed by the retry-after header)",
};

pub(super) const RETRY_WITHOUT_BACKOFF: Rule = Rule {
    id: "retry_without_backoff",
    severity: Severity::Warning,
    source: "public-api-conventions.md (retry 5xx with exponential backoff); dataverse.md (transient errors)",
    advice: "retry a failed call with a growing delay (for example 1 s, 2 s, 4 s) and give up after a few attempts",
};

pub(super) const RATE_LIMITED: Rule = Rule {
    id: "rate_limited",
    severity: Severity::Warning,
    source: "error-codes-and-limits.md (rate limits per API key; x-rate-limit-* headers)",
    advice: "pace calls by x-rate-limit-remaining and x-rate-limit-reset; page the outbox instead of polling single documents",
};

pub(super) const NO_REQUEST_ID: Rule = Rule {
    id: "no_request_id",
    severity: Severity::Info,
    source: "public-api-conventions.md (x-request-id correlates a call with Numora's logs)",
    advice: "send an x-request-id header (a UUID per call, the same on a retry) so failures can be traced",
};

pub(super) const EXPIRED_TOKEN_REUSED: Rule = Rule {
    id: "expired_token_reused",
    severity: Severity::Error,
    source: "authentication-and-first-crm-delivery.md (POST /v1/dynamics/session: short-lived token; on 401 request a new session)",
    advice: "on a Dataverse 401, call POST /v1/dynamics/session for a new token and retry with it; never resend the refused token",
};

pub(super) fn judge(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    retry_after_ignored(cx, out);
    retry_without_backoff(cx, out);
    rate_limited(cx, out);
    no_request_id(cx, out);
    expired_token_reused(cx, out);
}

/// Seconds of a `retry-after` header (delta-seconds form).
fn retry_after(e: &JournalEntry) -> Option<u64> {
    e.response_header("retry-after")?.trim().parse().ok()
}

fn retry_after_ignored(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let client: Vec<&JournalEntry> = cx.client().collect();
    for (i, limited) in client.iter().enumerate() {
        if limited.status != 429 {
            continue;
        }
        let Some(seconds) = retry_after(limited) else {
            continue;
        };
        let Some(credential) = limited.credential.as_deref() else {
            continue;
        };
        // The next call of the same key or token to the same API, not one
        // already in flight when the 429 was answered.
        let next = client[i + 1..].iter().find(|e| {
            e.api == limited.api
                && e.credential.as_deref() == Some(credential)
                && e.wall_ms.received >= limited.wall_ms.answered
        });
        let Some(next) = next else { continue };
        if cx.boundary_between(limited.seq, next.seq) {
            continue;
        }
        let wall = next
            .wall_ms
            .received
            .saturating_sub(limited.wall_ms.answered);
        let virtual_wait = u64::try_from(next.at.0 - limited.at.0).unwrap_or(0);
        let waited = if cx.frozen {
            wall.max(virtual_wait)
        } else {
            wall
        };
        if waited < seconds * 1000 {
            out.push(RETRY_AFTER_IGNORED.finding(
                format!(
                    "{} {} answered 429 with retry-after: {seconds}, and the next {} call ({} {}) came {waited} ms later",
                    limited.method, limited.path, limited.api, next.method, next.path
                ),
                vec![limited.seq, next.seq],
                document_of(limited).or_else(|| document_of(next)),
            ));
        }
    }
}

/// A call failed in a way that asks for backoff: 5xx, a dropped connection,
/// or a 429 without `retry-after`.
fn failed_without_hint(e: &JournalEntry) -> bool {
    e.status >= 500 || (e.status == 429 && retry_after(e).is_none())
}

fn retry_without_backoff(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    // "The same call": same client, method, route, document and (for a write) body.
    let calls = group(cx.client().map(|e| {
        // A write's body by its hash (fixed keys: the same within a process).
        let body = match e.method.as_str() {
            "GET" | "HEAD" | "DELETE" => 0,
            _ => e.request.as_ref().map_or(0, |r| {
                use std::hash::{Hash, Hasher};
                let mut h = std::hash::DefaultHasher::new();
                r.body().hash(&mut h);
                h.finish()
            }),
        };
        (
            (
                e.credential.clone().unwrap_or_default(),
                e.route.to_string(),
                document_of(e).unwrap_or_else(|| e.path.clone()),
                body,
            ),
            e,
        )
    }));
    for ((_, route, _, _), attempts) in calls {
        // Runs of consecutive attempts where every attempt but the last failed.
        let mut run: Vec<&JournalEntry> = Vec::new();
        let mut flush = |run: &mut Vec<&JournalEntry>| {
            if run.len() >= 4 {
                let delays: Vec<i128> = run
                    .windows(2)
                    .map(|w| i128::from(w[1].wall_ms.received) - i128::from(w[0].wall_ms.answered))
                    .collect();
                let growing = delays.windows(2).all(|d| d[1] > d[0]);
                if !growing {
                    out.push(RETRY_WITHOUT_BACKOFF.finding(
                        format!(
                            "{route} failed and was retried {} times with delays of {} ms: the delay did not grow",
                            run.len() - 1,
                            delays
                                .iter()
                                .map(i128::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        run.iter().map(|e| e.seq).collect(),
                        document_of(run[0]),
                    ));
                }
            }
            run.clear();
        };
        for e in attempts {
            let continues = run.last().is_some_and(|prev| {
                failed_without_hint(prev) && !cx.boundary_between(prev.seq, e.seq)
            });
            if !continues {
                flush(&mut run);
            }
            run.push(e);
        }
        flush(&mut run);
    }
}

fn rate_limited(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let hits: Vec<u64> = cx
        .client()
        .filter(|e| e.api == "numora" && e.status == 429 && e.fault.is_none())
        .map(|e| e.seq)
        .collect();
    if !hits.is_empty() {
        out.push(RATE_LIMITED.finding(
            format!(
                "{} call(s) hit the workspace's rate limit of {} requests per {} s",
                hits.len(),
                cx.ws.settings.rate_limit,
                cx.ws.settings.rate_window / 1000
            ),
            hits,
            None,
        ));
    }
}

fn no_request_id(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let missing: Vec<u64> = cx
        .client()
        .filter(|e| e.api == "numora" && !e.request_has_header("x-request-id"))
        .map(|e| e.seq)
        .collect();
    if !missing.is_empty() {
        out.push(NO_REQUEST_ID.finding(
            format!(
                "{} Numora call(s) were sent without x-request-id",
                missing.len()
            ),
            missing,
            None,
        ));
    }
}

fn expired_token_reused(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let client: Vec<&JournalEntry> = cx.client().collect();
    let mut judged: Vec<&str> = Vec::new();
    for (i, refused) in client.iter().enumerate() {
        if refused.api != "dataverse" || refused.status != 401 {
            continue;
        }
        let Some(token) = refused.credential.as_deref() else {
            continue;
        };
        if judged.contains(&token) {
            continue;
        }
        judged.push(token);
        let mut reused = Vec::new();
        for e in &client[i + 1..] {
            let new_session =
                e.api == "numora" && e.route == "POST /v1/dynamics/session" && success(e);
            if new_session {
                break;
            }
            if e.api == "dataverse" && e.credential.as_deref() == Some(token) {
                reused.push(e.seq);
            }
        }
        if reused.len() >= 2 {
            let mut evidence = vec![refused.seq];
            evidence.extend(&reused);
            out.push(EXPIRED_TOKEN_REUSED.finding(
                format!(
                    "a Dataverse token answered 401 ({}) was sent {} more times without a new POST /v1/dynamics/session",
                    refused.token_error.unwrap_or("refused"),
                    reused.len()
                ),
                evidence,
                None,
            ));
        }
    }
}
