//! The concurrent operations of a case: many dispatches, or many
//! callbacks, of one document at once, or a dispatch racing a callback.

use super::*;

impl Driver {
    pub(super) async fn parallel_dispatch(&mut self, doc: usize, n: u8) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let allowed = self.model.docs[doc].push_allowed(false);
        let n = usize::from(n);
        let body = json!({"provider": PROVIDER});
        let mut step = json!({"parallel": {
            "name": format!("op {}: {n} dispatches of doc{doc} at once", self.op),
            "count": n,
            "request": {"method": "POST", "path": format!("/v1/documents/{}/dispatch", self.var(doc)), "body": body},
        }});
        match allowed {
            Some(true) => step["parallel"]["statuses"] = json!({"202": 1, "409": n - 1}),
            Some(false) => step["parallel"]["statuses"] = json!({"409": n}),
            None => {}
        }
        self.record_step(step);
        let path = format!("/v1/documents/{id}/dispatch");
        let sends = (0..n).map(|_| self.send(Method::Post, &path, Some(&body)));
        let answers: Vec<ResponseRecord> = join_all(sends)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let accepted: Vec<&ResponseRecord> = answers.iter().filter(|r| r.status == 202).collect();
        for r in &answers {
            Self::expect_status(r, &[202, 409], "parallel dispatch")?;
        }
        // With a frozen clock no run finishes during the burst: exactly
        // one dispatch wins. Elsewhere a run may finish in between and,
        // unless its document then ends push_succeeded, be dispatched again.
        let d = &self.model.docs[doc];
        let settles = d.latest.map(|(_, _, s)| s) == Some(Status::PushSucceeded);
        let (least, most) = match allowed {
            Some(false) => (0, 0),
            _ if self.model.exact || settles => (usize::from(allowed == Some(true)), 1),
            _ => (usize::from(allowed == Some(true)), n),
        };
        ensure((least..=most).contains(&accepted.len()), || {
            format!(
                "parallel dispatch: {} of {n} were accepted (202); the model expects {}",
                accepted.len(),
                if least == most {
                    least.to_string()
                } else {
                    format!("{least} to {most}")
                }
            )
        })?;
        if let Some(r) = accepted.first() {
            let r = (*r).clone();
            self.accepted(doc, &r, "parallel dispatch")?;
        }
        self.probe(doc).await
    }

    pub(super) async fn parallel_callback(
        &mut self,
        doc: usize,
        n: u8,
        changed: bool,
    ) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let n = usize::from(n);
        let execution_id = self.model.fresh_execution_id();
        let at_ms = self.model.base_ms + 10_000;
        let base = self.callback_body(Outcome::Succeeded, &execution_id, at_ms);
        let bodies: Vec<Value> = (0..n)
            .map(|i| {
                let mut b = base.clone();
                if changed {
                    b["external_record_id"] = json!(format!("crm-par-{i}"));
                }
                b
            })
            .collect();
        let finalized = self.model.docs[doc].finalized;
        let statuses = match (finalized, changed) {
            (false, _) => json!({"409": n}),
            (true, false) => json!({"201": 1, "200": n - 1}),
            (true, true) => json!({"201": 1, "409": n - 1}),
        };
        let mut tpl = base.clone();
        if changed {
            tpl["external_record_id"] = json!("crm-par-{{index}}");
        }
        self.record_step(json!({"parallel": {
            "name": format!("op {}: {n} {} callbacks with one execution_id at once", self.op, if changed { "changed" } else { "identical" }),
            "count": n,
            "request": {"method": "POST", "path": format!("/v1/documents/{}/delivery", self.var(doc)), "body": tpl},
            "statuses": statuses,
        }}));
        let path = format!("/v1/documents/{id}/delivery");
        let sends = bodies
            .iter()
            .map(|b| self.send(Method::Post, &path, Some(b)));
        let answers: Vec<ResponseRecord> = join_all(sends)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let count = |code: u16| answers.iter().filter(|r| r.status == code).count();
        let (c201, c200, c409) = (count(201), count(200), count(409));
        let summary = || {
            let mut codes: Vec<String> = answers.iter().map(|r| r.status.to_string()).collect();
            codes.sort();
            codes.join(", ")
        };
        match (finalized, changed) {
            (false, _) => ensure(c409 == n, || {
                format!("parallel callbacks on a document that is not finalized: statuses {}; expected all 409", summary())
            })?,
            (true, false) => {
                ensure(c201 == 1 && c200 == n - 1, || {
                    format!("{n} parallel identical callbacks: statuses {}; expected one 201 and the rest 200 (one attempt)", summary())
                })?;
                let attempt_ids: std::collections::BTreeSet<String> = answers
                    .iter()
                    .filter_map(|r| r.json.as_ref())
                    .map(|j| j["data"]["id"].to_string())
                    .collect();
                ensure(attempt_ids.len() == 1, || {
                    format!("{n} parallel identical callbacks answered with different attempts: {attempt_ids:?}")
                })?;
            }
            (true, true) => ensure(c201 == 1 && c409 == n - 1, || {
                format!("{n} parallel changed callbacks with one execution_id: statuses {}; expected one 201 and the rest 409", summary())
            })?,
        }
        if finalized {
            let winner = answers.iter().position(|r| r.status == 201).unwrap_or(0);
            let body = bodies[winner].clone();
            self.model.docs[doc]
                .recorded
                .push(super::super::model::Recorded {
                    execution_id,
                    outcome: Outcome::Succeeded,
                    body,
                });
            self.model.record(doc, at_ms, Outcome::Succeeded);
        }
        self.probe(doc).await
    }

    /// A dispatch and a fresh `succeeded`/`skipped` callback at once. Either
    /// may land first, and the answers say which: the callback is 201
    /// whenever the document is finalized; a 202 for the dispatch means it
    /// came first (after the callback the document is push_succeeded, which
    /// refuses a dispatch), a 409 on a document that allowed a push means
    /// the callback came first. The model then applies that order.
    pub(super) async fn race_dispatch_callback(
        &mut self,
        doc: usize,
        outcome: Outcome,
    ) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let allowed = self.model.docs[doc].push_allowed(false);
        let finalized = self.model.docs[doc].finalized;
        let execution_id = self.model.fresh_execution_id();
        // An hour ahead: newer than every attempt of the case, so the
        // callback decides the status in either order and the answers tell
        // the order apart.
        let at_ms = self.model.now_ms.max(self.model.base_ms) + 3_600_000;
        let body = self.callback_body(outcome, &execution_id, at_ms);
        let dispatch_body = json!({"provider": PROVIDER});
        let dispatch_path = format!("/v1/documents/{id}/dispatch");
        let callback_path = format!("/v1/documents/{id}/delivery");
        let (dispatch, callback) = futures_util::future::join(
            self.send(Method::Post, &dispatch_path, Some(&dispatch_body)),
            self.send(Method::Post, &callback_path, Some(&body)),
        )
        .await;
        let (dispatch, callback) = (dispatch?, callback?);
        let callback_code = if finalized { 201 } else { 409 };
        Self::expect_status(&callback, &[callback_code], "callback racing a dispatch")?;
        Self::expect_status(&dispatch, &[202, 409], "dispatch racing a callback")?;
        let dispatched_first = dispatch.status == 202;
        ensure(!dispatched_first || allowed != Some(false), || {
            format!(
                "dispatch racing a callback: 202, but the document ({}) allows no push",
                list(&self.model.docs[doc].status.admitted())
            )
        })?;
        // The scenario replays the order the answers showed, one at a time.
        let dispatch_step = json!({"request": {
            "name": format!("op {}: dispatch doc{doc} (raced a callback)", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/dispatch", self.var(doc)),
            "body": dispatch_body, "expect": {"status": dispatch.status},
        }});
        let callback_step = json!({"request": {
            "name": format!("op {}: callback doc{doc} (raced a dispatch)", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/delivery", self.var(doc)),
            "body": body.clone(), "expect": {"status": callback_code},
        }});
        if dispatched_first {
            self.record_step(dispatch_step);
            self.accepted(doc, &dispatch, "dispatch racing a callback")?;
            self.record_step(callback_step);
        } else {
            self.record_step(callback_step);
            self.record_step(dispatch_step);
        }
        if finalized {
            self.model.docs[doc]
                .recorded
                .push(super::super::model::Recorded {
                    execution_id,
                    outcome,
                    body,
                });
            self.model.record(doc, at_ms, outcome);
        }
        self.probe(doc).await
    }
}
