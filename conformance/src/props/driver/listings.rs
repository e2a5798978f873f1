//! The listing operations of a case: a document's delivery attempts and
//! the outbox, each checked against the model.

use super::*;

impl Driver {
    /// `GET …/delivery`: exactly one attempt per execution_id, newest first,
    /// and every attempt the case recorded, as recorded.
    pub(super) async fn attempts(&mut self, doc: usize) -> Result<(), String> {
        let d = self.model.docs[doc].clone();
        let mut expect = json!({"status": 200});
        let total = d
            .prior_attempts
            .filter(|_| self.model.exact)
            .map(|p| p + d.recorded.len() + d.run_attempts.len());
        if let Some(n) = total {
            expect["json"] = json!({"$.data": {"length": n}});
        }
        self.record_step(json!({"request": {
            "name": format!("op {}: attempts of doc{doc}", self.op),
            "method": "GET",
            "path": format!("/v1/documents/{}/delivery?provider={PROVIDER}&limit=100", self.var(doc)),
            "expect": expect,
        }}));
        let r = self
            .send(
                Method::Get,
                &format!(
                    "/v1/documents/{}/delivery?provider={PROVIDER}&limit=100",
                    d.id
                ),
                None,
            )
            .await?;
        Self::expect_status(&r, &[200], "list attempts")?;
        let items = r
            .json
            .as_ref()
            .and_then(|j| j["data"].as_array())
            .cloned()
            .ok_or_else(|| format!("list attempts: no data array: {}", short(&r.body)))?;
        let mut ids = std::collections::BTreeSet::new();
        let mut last: Option<i64> = None;
        for a in &items {
            let eid = a["execution_id"].as_str().unwrap_or_default();
            ensure(ids.insert(eid.to_owned()), || {
                format!("list attempts: execution_id {eid} is listed more than once")
            })?;
            let at = a["attempted_at"].as_str().and_then(ms_of);
            if let (Some(prev), Some(at)) = (last, at) {
                ensure(at <= prev, || {
                    format!("list attempts: not newest first at execution_id {eid}")
                })?;
            }
            last = at.or(last);
        }
        for rec in &d.recorded {
            let found = items
                .iter()
                .find(|a| a["execution_id"] == rec.execution_id.as_str());
            let found = found.ok_or_else(|| {
                format!(
                    "list attempts: the recorded execution_id {} is missing",
                    rec.execution_id
                )
            })?;
            ensure(found["status"] == rec.outcome.as_str(), || {
                format!(
                    "list attempts: execution_id {} shows {}, recorded as {}",
                    rec.execution_id,
                    found["status"],
                    rec.outcome.as_str()
                )
            })?;
        }
        if let Some(n) = total {
            ensure(items.len() == n, || {
                format!(
                    "list attempts: {} attempts, the model expects {n} ({} before the case, {} callbacks, {} finished runs)",
                    items.len(),
                    d.prior_attempts.unwrap_or(0),
                    d.recorded.len(),
                    d.run_attempts.len()
                )
            })?;
            let runs: Vec<&Value> = items.iter().filter(|a| a["source"] == "dispatch").collect();
            ensure(runs.len() == d.run_attempts.len(), || {
                format!(
                    "list attempts: {} attempts from dispatch runs, the model expects {}",
                    runs.len(),
                    d.run_attempts.len()
                )
            })?;
            for a in runs {
                let want = if d.skips { "skipped" } else { "succeeded" };
                ensure(a["status"] == want, || {
                    format!(
                        "list attempts: a dispatch run of {} ended {}, the model expects {want}",
                        d.id, a["status"]
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Walk the outbox with a small limit: no repeats, no pending or
    /// succeeded documents, stable order, and exactly the eligible ones.
    pub(super) async fn outbox(&mut self, limit: u8, reapprove: Option<u8>) -> Result<(), String> {
        let mut eligible = self.model.eligible();
        let eligible_ids: Vec<String> = self
            .model
            .docs
            .iter()
            .zip(&eligible)
            .filter(|(_, e)| **e == Some(true))
            .map(|(d, _)| d.id.clone())
            .collect();
        let max_pages = if self.model.exact {
            eligible_ids.len() / usize::from(limit.max(1)) + 4
        } else {
            1_000
        };
        let mut eligible_ids = eligible_ids;
        // With `reapprove`: the document changed after the first page, its
        // eligibility afterwards, and how many items were seen before.
        let mut moved: Option<(usize, Option<bool>, usize)> = None;
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0..max_pages {
            let mut path = format!("/v1/delivery/outbox?provider={PROVIDER}&limit={limit}");
            let mut tpl = path.clone();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
                tpl.push_str("&cursor={{cursor}}");
            }
            let mut checks = json!({
                "$.data[*].status": {"each_one_of": ["reviewed", "push_failed"]},
            });
            if page > 0 && reapprove.is_none() {
                checks["$.data[*].document_id"] = json!({"not_contains": "{{first}}"});
            }
            self.record_step(json!({"request": {
                "name": format!("op {}: outbox page {}", self.op, page + 1),
                "method": "GET", "path": tpl,
                "expect": {"status": 200, "json": checks},
                "capture": {"cursor": "$.meta.next_cursor", "first": "$.data[0].document_id"},
            }}));
            let r = self.send(Method::Get, &path, None).await?;
            Self::expect_status(&r, &[200], "outbox")?;
            let j = r.json.clone().unwrap_or(Value::Null);
            let items = j["data"]
                .as_array()
                .ok_or_else(|| format!("outbox: no data array: {}", short(&r.body)))?;
            if items.is_empty() {
                // Nothing to capture: the scenario step must not ask for it.
                if let Some(c) = self
                    .steps
                    .last_mut()
                    .and_then(|s| s["request"]["capture"].as_object_mut())
                {
                    c.remove("first");
                }
            }
            ensure(items.len() <= usize::from(limit), || {
                format!("outbox: {} items on a page of limit {limit}", items.len())
            })?;
            for item in items {
                let id = item["document_id"].as_str().unwrap_or_default().to_owned();
                let status = item["status"].as_str().unwrap_or_default();
                ensure(matches!(status, "reviewed" | "push_failed"), || {
                    format!("outbox: lists {id} in status {status}; only reviewed and push_failed documents may be listed")
                })?;
                let relisted = moved.is_some_and(|(d, _, split)| {
                    self.model.docs[d].id == id && seen.iter().skip(split).all(|(s, _)| *s != id)
                });
                ensure(relisted || !seen.iter().any(|(s, _)| *s == id), || {
                    format!("outbox: the walk lists {id} twice (page {})", page + 1)
                })?;
                let updated = item["updated_at"].as_str().unwrap_or_default().to_owned();
                seen.push((id, updated));
            }
            match j["meta"]["next_cursor"].as_str() {
                Some(c) => {
                    ensure(!items.is_empty(), || {
                        "outbox: an empty page with a next_cursor".to_owned()
                    })?;
                    cursor = Some(c.to_owned());
                    let picked = reapprove.and_then(|n| {
                        let id = items[usize::from(n) % items.len()]["document_id"].as_str()?;
                        self.model.docs.iter().position(|d| d.id == id)
                    });
                    if let (0, Some(d)) = (page, picked) {
                        // Between the pages: a second later (so the new
                        // position is after everything listed so far), the
                        // document goes back to review and is approved again.
                        let before = (self.model.docs[d].finalized, self.model.docs[d].status);
                        self.advance(1).await?;
                        self.edit(d).await?;
                        self.approve(d).await?;
                        let after = (self.model.docs[d].finalized, self.model.docs[d].status);
                        eligible = self.model.eligible();
                        if before.0 || before != after {
                            moved = Some((d, eligible[d], seen.len()));
                        }
                        eligible_ids = self
                            .model
                            .docs
                            .iter()
                            .zip(&eligible)
                            .filter(|(_, e)| **e == Some(true))
                            .map(|(doc, _)| doc.id.clone())
                            .collect();
                    }
                }
                None => {
                    cursor = None;
                    break;
                }
            }
        }
        ensure(cursor.is_none(), || {
            format!("outbox: the walk did not end after {max_pages} pages of {limit}")
        })?;
        if let Some((d, after, split)) = moved {
            // The changed document: listed again after the change exactly
            // when it is eligible again (at its new position, the end).
            let id = &self.model.docs[d].id;
            let later = seen.iter().skip(split).filter(|(s, _)| s == id).count();
            match after {
                Some(true) => ensure(later == 1, || {
                    format!("outbox: {id} was edited and approved again after page 1 and is eligible, but the rest of the walk lists it {later} times (expected once, at its new position)")
                })?,
                Some(false) => ensure(later == 0, || {
                    format!("outbox: {id} is no longer eligible after page 1, but the rest of the walk lists it")
                })?,
                None => {}
            }
            // Only what was listed before the change keeps the old order.
            seen.retain(|(s, _)| s != id);
        }
        for w in seen.windows(2) {
            let a = (ms_of(&w[0].1), &w[0].0);
            let b = (ms_of(&w[1].1), &w[1].0);
            ensure(a <= b, || {
                format!(
                    "outbox: {} ({}) is listed before {} ({}); the order is updated_at, then id",
                    w[0].0, w[0].1, w[1].0, w[1].1
                )
            })?;
        }
        for (i, (d, e)) in self.model.docs.iter().zip(&eligible).enumerate() {
            if moved.is_some_and(|(m, _, _)| m == i) {
                continue;
            }
            let listed = seen.iter().any(|(s, _)| *s == d.id);
            match e {
                Some(true) => ensure(listed, || {
                    format!(
                        "outbox: the walk skips {}, which is eligible ({}, finalized)",
                        d.id,
                        list(&d.status.admitted())
                    )
                })?,
                Some(false) => ensure(!listed, || {
                    format!(
                        "outbox: lists {}, which is not eligible (model: {}, finalized {}, deliverable {})",
                        d.id,
                        list(&d.status.admitted()),
                        d.finalized,
                        d.deliverable
                    )
                })?,
                None => {}
            }
        }
        if self.model.exact {
            // The fake's world is known: nothing else may be listed.
            for (id, _) in &seen {
                ensure(eligible_ids.contains(id), || {
                    format!("outbox: lists {id}, which the model does not know as eligible")
                })?;
            }
            let mut checks = json!({"$.data": {"length": eligible_ids.len()}});
            if !eligible_ids.is_empty() {
                checks["$.data[*].document_id"] = json!({"each_one_of": eligible_ids});
            }
            self.record_step(json!({"request": {
                "name": format!("op {}: outbox lists exactly the eligible documents", self.op),
                "method": "GET",
                "path": format!("/v1/delivery/outbox?provider={PROVIDER}&limit=100"),
                "expect": {"status": 200, "json": checks},
            }}));
        }
        Ok(())
    }
}
