//! The concurrent operations of a case: many dispatches, or many
//! callbacks, of one document at once.

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
}
