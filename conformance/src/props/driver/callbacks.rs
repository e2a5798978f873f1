//! The delivery-callback operations of a case: the body a callback
//! carries, and posting one (alone, or changed, or replayed).

use super::*;

impl Driver {
    pub(super) fn callback_body(&self, outcome: Outcome, execution_id: &str, at_ms: i64) -> Value {
        let mut b = json!({
            "provider": PROVIDER,
            "status": outcome.as_str(),
            "execution_id": execution_id,
            "attempted_at": rfc3339_ms(at_ms),
        });
        match outcome {
            Outcome::Succeeded => b["external_record_id"] = json!(format!("crm-{execution_id}")),
            Outcome::Failed => {
                b["error_code"] = json!("crm_429");
                b["error_message"] = json!("Dataverse rate limited");
            }
            Outcome::Skipped => {
                b["error_code"] = json!("supplier_not_found");
                b["error_message"] = json!("No supplier matched vendor_name.");
            }
        }
        b
    }

    /// The recorded body with one delivery field changed.
    pub(super) fn changed(body: &Value, change: u8) -> Value {
        let mut b = body.clone();
        match change % 5 {
            0 => {
                let flipped = match b["status"].as_str() {
                    Some("succeeded") => "failed",
                    Some("failed") => "skipped",
                    _ => "failed",
                };
                b["status"] = json!(flipped);
            }
            1 => {
                let at = b["attempted_at"].as_str().and_then(ms_of).unwrap_or(0);
                b["attempted_at"] = json!(rfc3339_ms(at + 1_000));
            }
            2 => {
                if b.get("external_record_id").is_some() {
                    b["external_record_id"] = json!("crm-changed");
                } else {
                    b["error_message"] = json!("a different message");
                }
            }
            3 => {
                let code = if b["error_code"] == "crm_500" {
                    "crm_503"
                } else {
                    "crm_500"
                };
                b["error_code"] = json!(code);
            }
            _ => {
                let url = b["external_url"].as_str().map_or_else(
                    || "https://crm.example/record/changed".to_owned(),
                    |u| format!("{u}/changed"),
                );
                b["external_url"] = json!(url);
            }
        }
        b
    }

    pub(super) fn outcome_of(body: &Value) -> Outcome {
        match body["status"].as_str() {
            Some("failed") => Outcome::Failed,
            Some("skipped") => Outcome::Skipped,
            _ => Outcome::Succeeded,
        }
    }

    pub(super) async fn callback(
        &mut self,
        doc: usize,
        outcome: Outcome,
        exec: Exec,
        at: u8,
        change: u8,
    ) -> Result<(), String> {
        let d = &self.model.docs[doc];
        let pick = |n: u8| -> Option<&super::super::model::Recorded> {
            (!d.recorded.is_empty()).then(|| &d.recorded[n as usize % d.recorded.len()])
        };
        let at_ms = self.model.base_ms + i64::from(at) * 1_000;
        let (body, recorded) = match exec {
            Exec::Replay(n) if pick(n).is_some() => {
                let r = pick(n).cloned().unwrap_or_else(|| unreachable!());
                // The same data, its instant possibly written another way.
                let mut body = r.body.clone();
                if let Some(ms) = body["attempted_at"].as_str().and_then(ms_of) {
                    body["attempted_at"] = json!(rfc3339_styled(ms, change));
                }
                (body, Some(r))
            }
            Exec::Changed(n) if pick(n).is_some() => {
                let r = pick(n).cloned().unwrap_or_else(|| unreachable!());
                (Self::changed(&r.body, change), Some(r))
            }
            _ => {
                let id = self.model.fresh_execution_id();
                let mut body = self.callback_body(outcome, &id, at_ms);
                body["attempted_at"] = json!(rfc3339_styled(at_ms, at));
                (body, None)
            }
        };
        let finalized = self.model.docs[doc].finalized;
        let execution_id = body["execution_id"].as_str().unwrap_or_default().to_owned();
        // What the docs promise.
        let (code, what) = match &recorded {
            _ if !finalized => (409, "callback on a document that is not finalized"),
            Some(r) if same_data(&r.body, &body) => (200, "identical replay"),
            Some(_) => (409, "changed replay"),
            None => (201, "new execution_id"),
        };
        let mut expect = json!({"status": code});
        if code == 409 {
            expect["json"] = json!({"$.error.code": {"equals": "conflict"}});
        } else {
            let shown = recorded
                .as_ref()
                .map_or(body["status"].clone(), |r| json!(r.outcome.as_str()));
            expect["json"] = json!({
                "$.data.execution_id": {"equals": execution_id},
                "$.data.status": {"equals": shown},
            });
        }
        self.record_step(json!({"request": {
            "name": format!("op {}: callback doc{doc}, {what}", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/delivery", self.var(doc)),
            "body": body, "expect": expect,
        }}));
        let id = self.model.docs[doc].id.clone();
        let r = self
            .send(
                Method::Post,
                &format!("/v1/documents/{id}/delivery"),
                Some(&body),
            )
            .await?;
        Self::expect_status(&r, &[code], &format!("callback, {what}"))?;
        if code == 409 {
            Self::expect_conflict(&r, what)?;
        } else {
            let j = r.json.clone().unwrap_or(Value::Null);
            ensure(j["data"]["execution_id"] == execution_id.as_str(), || {
                format!(
                    "{what}: the answer must be the attempt of execution_id {execution_id}: {}",
                    short(&r.body)
                )
            })?;
            let shown = recorded
                .as_ref()
                .map_or(Self::outcome_of(&body), |r| r.outcome);
            ensure(j["data"]["status"] == shown.as_str(), || {
                format!(
                    "{what}: the attempt must show status {}: {}",
                    shown.as_str(),
                    short(&r.body)
                )
            })?;
        }
        if code == 201 {
            let outcome = Self::outcome_of(&body);
            let at_ms = body["attempted_at"]
                .as_str()
                .and_then(ms_of)
                .unwrap_or(at_ms);
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
