//! Fault rules: one matcher for every API.
//!
//! A rule selects calls (api, method, path glob, entity set, document id,
//! header), lets `after` matching calls through, then acts on the next `times`
//! of them (or on every one). Fixtures, the control API, CLI flags and scenario
//! steps all add the same `FaultSpec`, so there is one mechanism behind all four.
//! Each API renders a `respond` action in its own error dialect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::glob::path_matches;
use super::time::{parse_duration, Millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultApi {
    Numora,
    Dataverse,
    Webhook,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Respond {
    pub status: u16,
    /// The exact body to send; without it the API's own error body for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Overrides the error code of the default body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Overrides the error message of the default body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Seconds for `retry-after` / `Retry-After` (429 and 503 default to 1 and 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Virtual time the call takes (the workspace clock moves by it).
    #[serde(default, rename = "virtual", skip_serializing_if = "Option::is_none")]
    pub virtual_time: Option<String>,
    /// Wall-clock delay before the answer is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real: Option<String>,
}

/// A fault rule as written in fixtures, the control API and scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub api: FaultApi,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `*` matches one path segment (or part of one), `**` any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Dataverse: the entity set the call addresses (`otcm_inboundinvoices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_set: Option<String>,
    /// Numora: the document the call addresses; webhook: the event's document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// `name` (present) or `name: value` (equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Webhook: the event type (`push.failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Matching calls to let through before acting.
    #[serde(default)]
    pub after: u64,
    /// How many calls to act on; absent means every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond: Option<Respond>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Close the connection without an answer (the call is not processed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_connection: bool,
    /// Process the call, then send a truncated, unparseable body.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub malformed_body: bool,
    /// Webhook: deliver the event twice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// Webhook: sign the delivery with this secret instead of the endpoint's
    /// (a receiver must reject it: `invalid_signature_accepted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_with: Option<String>,
    /// Webhook: move the delivery's timestamp this far into the past, e.g.
    /// `1h` (a receiver must reject it: `stale_webhook_accepted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backdate: Option<String>,
    /// Dataverse: expire the calling client's session token now and answer
    /// 401 (with `after: N`, "the token expires after N calls").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expire_session: bool,
}

impl FaultSpec {
    /// Checks durations and statuses so a bad rule fails when added, not when hit.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(r) = &self.respond {
            if !(100..=599).contains(&r.status) {
                return Err(format!("respond.status must be 100-599, got {}", r.status));
            }
        }
        if let Some(l) = &self.latency {
            for (name, value) in [
                ("latency.virtual", &l.virtual_time),
                ("latency.real", &l.real),
            ] {
                if let Some(v) = value {
                    parse_duration(v).ok_or_else(|| {
                        format!("{name}: '{v}' is not a duration (e.g. 250ms, 5s, 1m)")
                    })?;
                }
            }
        }
        if let Some(m) = &self.method {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("method: '{m}' is not an HTTP method"));
            }
        }
        if let Some(b) = &self.backdate {
            parse_duration(b)
                .ok_or_else(|| format!("backdate: '{b}' is not a duration (e.g. 10m, 1h)"))?;
        }
        if (self.sign_with.is_some() || self.backdate.is_some()) && self.api != FaultApi::Webhook {
            return Err(
                "sign_with and backdate act on webhook deliveries only (api: webhook)".into(),
            );
        }
        if self.expire_session && self.api != FaultApi::Dataverse {
            return Err("expire_session acts on Dataverse calls only (api: dataverse)".into());
        }
        if self.respond.is_none()
            && !self.expire_session
            && self.latency.is_none()
            && !self.drop_connection
            && !self.malformed_body
            && !self.duplicate
            && self.sign_with.is_none()
            && self.backdate.is_none()
        {
            return Err("a fault needs an action: respond, latency, drop_connection, malformed_body, duplicate, sign_with, backdate or expire_session".into());
        }
        Ok(())
    }

    pub fn virtual_latency(&self) -> Millis {
        self.latency
            .as_ref()
            .and_then(|l| l.virtual_time.as_deref())
            .and_then(parse_duration)
            .unwrap_or(0)
    }

    pub fn real_latency(&self) -> Option<std::time::Duration> {
        self.latency
            .as_ref()
            .and_then(|l| l.real.as_deref())
            .and_then(parse_duration)
            .filter(|ms| *ms > 0)
            .map(|ms| std::time::Duration::from_millis(ms as u64))
    }
}

/// What a call looks like to the matcher.
#[derive(Debug, Clone, Default)]
pub struct FaultTarget<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub entity_set: Option<&'a str>,
    pub document_id: Option<&'a str>,
    pub event: Option<&'a str>,
    pub headers: Option<&'a axum::http::HeaderMap>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActiveFault {
    #[serde(flatten)]
    pub spec: FaultSpec,
    pub id: String,
    /// Calls that matched the selector (including those let through by `after`).
    pub matched: u64,
    /// Calls the rule acted on.
    pub hits: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Vec<ActiveFault>,
}

impl Faults {
    pub fn add(&mut self, id: String, mut spec: FaultSpec) -> &ActiveFault {
        spec.id = None;
        self.rules.push(ActiveFault {
            spec,
            id,
            matched: 0,
            hits: 0,
        });
        self.rules.last().expect("just pushed")
    }

    pub fn list(&self) -> &[ActiveFault] {
        &self.rules
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        before != self.rules.len()
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn contains(&self, id: &str) -> bool {
        self.rules.iter().any(|r| r.id == id)
    }

    /// Counts the call against every matching rule and returns the first rule
    /// that acts on it (with its id).
    pub fn check(
        &mut self,
        api: FaultApi,
        target: &FaultTarget<'_>,
    ) -> Option<(String, FaultSpec)> {
        let mut acting = None;
        for rule in &mut self.rules {
            if !selects(&rule.spec, api, target) {
                continue;
            }
            rule.matched += 1;
            let past_after = rule.matched > rule.spec.after;
            let has_budget = rule.spec.times.is_none_or(|t| rule.hits < t);
            if acting.is_none() && past_after && has_budget {
                rule.hits += 1;
                acting = Some((rule.id.clone(), rule.spec.clone()));
            }
        }
        acting
    }
}

fn selects(spec: &FaultSpec, api: FaultApi, t: &FaultTarget<'_>) -> bool {
    spec.api == api
        && spec
            .method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(t.method))
        && spec.path.as_ref().is_none_or(|p| path_matches(p, t.path))
        && spec
            .entity_set
            .as_ref()
            .is_none_or(|e| t.entity_set == Some(e.as_str()))
        && spec
            .document_id
            .as_ref()
            .is_none_or(|d| t.document_id == Some(d.as_str()))
        && spec
            .event
            .as_ref()
            .is_none_or(|e| t.event == Some(e.as_str()))
        && spec
            .header
            .as_ref()
            .is_none_or(|h| header_matches(h, t.headers))
}

fn header_matches(rule: &str, headers: Option<&axum::http::HeaderMap>) -> bool {
    let Some(headers) = headers else { return false };
    match rule.split_once(':') {
        Some((name, value)) => headers
            .get_all(name.trim())
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.trim() == value.trim())),
        None => headers.contains_key(rule.trim()),
    }
}

/// Parses the compact CLI syntax:
/// `api[:METHOD][:path-glob][,key=value…]`, e.g.
/// `dataverse:POST:/api/data/v9.2/otcm_inboundinvoices,status=429,times=1` or
/// `numora:POST:/v1/documents/*/dispatch,status=409` or
/// `numora:GET:/v1/delivery/outbox,latency=2s,real=200ms`.
pub fn parse_compact(text: &str) -> Result<FaultSpec, String> {
    let mut parts = text.split(',');
    let selector = parts.next().unwrap_or_default();
    let mut sel = selector.splitn(3, ':');
    let api = match sel.next().unwrap_or_default() {
        "numora" => FaultApi::Numora,
        "dataverse" => FaultApi::Dataverse,
        "webhook" => FaultApi::Webhook,
        other => {
            return Err(format!(
                "unknown api '{other}' (expected numora, dataverse or webhook)"
            ))
        }
    };
    let method = sel
        .next()
        .filter(|m| !m.is_empty() && *m != "*")
        .map(str::to_uppercase);
    let path = sel.next().filter(|p| !p.is_empty()).map(str::to_string);
    let mut spec = FaultSpec {
        id: None,
        api,
        method,
        path,
        entity_set: None,
        document_id: None,
        header: None,
        event: None,
        after: 0,
        times: None,
        respond: None,
        latency: None,
        drop_connection: false,
        malformed_body: false,
        duplicate: false,
        sign_with: None,
        backdate: None,
        expire_session: false,
    };
    for option in parts {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| format!("'{option}' is not key=value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{key}: '{v}' is not a number"))
        };
        match key {
            "status" => {
                let status = u16::try_from(number(value)?).map_err(|_| format!("status: '{value}' is out of range"))?;
                spec.respond.get_or_insert_with(|| empty_respond(status)).status = status;
            }
            "code" => spec.respond.get_or_insert_with(|| empty_respond(500)).code = Some(value.to_string()),
            "message" => spec.respond.get_or_insert_with(|| empty_respond(500)).message = Some(value.to_string()),
            "retry_after" => spec.respond.get_or_insert_with(|| empty_respond(429)).retry_after = Some(number(value)?),
            "times" => spec.times = Some(number(value)?),
            "after" => spec.after = number(value)?,
            "entity_set" => spec.entity_set = Some(value.to_string()),
            "document_id" => spec.document_id = Some(value.to_string()),
            "header" => spec.header = Some(value.to_string()),
            "event" => spec.event = Some(value.to_string()),
            "latency" => spec.latency.get_or_insert(Latency { virtual_time: None, real: None }).virtual_time = Some(value.to_string()),
            "real" => spec.latency.get_or_insert(Latency { virtual_time: None, real: None }).real = Some(value.to_string()),
            "drop" => spec.drop_connection = value == "true",
            "malformed" => spec.malformed_body = value == "true",
            "duplicate" => spec.duplicate = value == "true",
            "sign_with" => spec.sign_with = Some(value.to_string()),
            "backdate" => spec.backdate = Some(value.to_string()),
            "expire_session" => spec.expire_session = value == "true",
            other => return Err(format!("unknown option '{other}' (expected status, code, message, retry_after, times, after, entity_set, document_id, header, event, latency, real, drop, malformed, duplicate, sign_with, backdate, expire_session)")),
        }
    }
    spec.validate()?;
    Ok(spec)
}

fn empty_respond(status: u16) -> Respond {
    Respond {
        status,
        body: None,
        code: None,
        message: None,
        headers: BTreeMap::new(),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(method: &'a str, path: &'a str) -> FaultTarget<'a> {
        FaultTarget {
            method,
            path,
            ..FaultTarget::default()
        }
    }

    #[test]
    fn after_and_times_count_matching_calls() {
        let mut faults = Faults::default();
        let spec = parse_compact("numora:POST:/v1/documents/*/dispatch,status=409,after=1,times=2")
            .unwrap();
        faults.add("flt_1".into(), spec);
        let t = target("POST", "/v1/documents/d1/dispatch");
        let outcomes: Vec<bool> = (0..5)
            .map(|_| faults.check(FaultApi::Numora, &t).is_some())
            .collect();
        assert_eq!(outcomes, [false, true, true, false, false]);
        assert!(faults
            .check(FaultApi::Numora, &target("GET", "/v1/documents/d1"))
            .is_none());
        assert!(faults.check(FaultApi::Dataverse, &t).is_none());
        assert_eq!(faults.list()[0].hits, 2);
        assert_eq!(faults.list()[0].matched, 5);
    }

    #[test]
    fn selectors_and_checks_at_their_edges() {
        // `*` is any method; a method is upper-cased.
        let any = parse_compact("numora:*:/x,status=500").unwrap();
        assert_eq!(any.method, None);
        let get = parse_compact("numora:get:/x,status=500").unwrap();
        assert_eq!(get.method.as_deref(), Some("GET"));
        let mut empty = get.clone();
        empty.method = Some(String::new());
        assert!(empty.validate().unwrap_err().contains("not an HTTP method"));
        let err = parse_compact("numora:GET:/x,status=500,sign_with=k").unwrap_err();
        assert!(err.contains("webhook deliveries only"), "{err}");
        // Real latency: a positive duration only.
        let slow = parse_compact("numora:GET:/x,latency=1s,real=250ms").unwrap();
        assert_eq!(
            slow.real_latency(),
            Some(std::time::Duration::from_millis(250))
        );
        let none = parse_compact("numora:GET:/x,latency=1s,real=0s").unwrap();
        assert_eq!(none.real_latency(), None);
        // A header selector matches only calls that carry the header.
        let mut faults = Faults::default();
        faults.add(
            "flt_h".into(),
            parse_compact("numora:GET:/x,status=500,header=x-test:1").unwrap(),
        );
        assert!(faults.contains("flt_h") && !faults.contains("flt_other"));
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-test", "1".parse().unwrap());
        let with = FaultTarget {
            headers: Some(&headers),
            ..target("GET", "/x")
        };
        assert!(faults
            .check(FaultApi::Numora, &target("GET", "/x"))
            .is_none());
        assert!(faults.check(FaultApi::Numora, &with).is_some());
    }

    #[test]
    fn a_compact_rule_names_its_method_unless_it_is_empty_or_a_star() {
        let method = |text: &str| parse_compact(text).unwrap().method;
        assert_eq!(method("numora:get:/x,status=500").as_deref(), Some("GET"));
        assert_eq!(method("numora:*:/x,status=500"), None);
        assert_eq!(method("numora::/x,status=500"), None);
        assert_eq!(method("numora,status=500"), None);
        let path = |text: &str| parse_compact(text).unwrap().path;
        assert_eq!(
            path("numora:GET:/v1/x,status=500").as_deref(),
            Some("/v1/x")
        );
        assert_eq!(path("numora:GET:,status=500"), None);
        assert_eq!(path("numora:GET,status=500"), None);
    }

    #[test]
    fn clearing_removes_every_rule() {
        let mut faults = Faults::default();
        faults.add("flt_1".into(), parse_compact("numora,status=500").unwrap());
        faults.add(
            "flt_2".into(),
            parse_compact("dataverse,status=429").unwrap(),
        );
        assert!(faults.remove("flt_1") && !faults.remove("flt_1"));
        assert!(faults.contains("flt_2"));
        faults.clear();
        assert!(faults.list().is_empty() && !faults.contains("flt_2"));
    }

    #[test]
    fn compact_flags_are_set_only_by_true() {
        let spec = parse_compact(
            "dataverse:GET:/x,status=500,drop=true,malformed=true,duplicate=true,expire_session=true",
        )
        .unwrap();
        assert!(
            spec.drop_connection && spec.malformed_body && spec.duplicate && spec.expire_session
        );
        let spec = parse_compact(
            "dataverse:GET:/x,status=500,drop=false,malformed=no,duplicate=1,expire_session=false",
        )
        .unwrap();
        assert!(!spec.drop_connection && !spec.malformed_body && !spec.duplicate);
        assert!(!spec.expire_session);
    }

    #[test]
    fn compact_syntax_errors_name_the_problem() {
        assert!(parse_compact("crm:GET:/x,status=500")
            .unwrap_err()
            .contains("unknown api"));
        assert!(parse_compact("numora:GET:/x")
            .unwrap_err()
            .contains("needs an action"));
        assert!(parse_compact("numora:GET:/x,latency=soon")
            .unwrap_err()
            .contains("latency.virtual"));
        assert!(parse_compact("numora:GET:/x,colour=red")
            .unwrap_err()
            .contains("unknown option"));
    }
}
