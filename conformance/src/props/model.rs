//! The reference model: what the docs say one workspace's delivery state
//! is, kept small enough to be obviously right.
//!
//! A document has a status, a finalized flag, whether a destination takes
//! its schema, the latest delivery attempt (by `attempted_at`, ties to the
//! later arrival) and the attempts this case recorded, by `execution_id`.
//! Dispatch runs are queued and, on a fake with a frozen clock, finish
//! `RUN_DELAY_MS` later with a `succeeded` (or `skipped`) attempt. On a
//! target without a clock the model cannot know when a run finishes, so a
//! dispatched document is *in flight* until an observation or a later
//! callback settles it.

use serde_json::Value;

use super::ops::Outcome;

/// The fake's default `run_delay` (fixture `settings.run_delay: 2s`).
pub(crate) const RUN_DELAY_MS: i64 = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Processing,
    ReviewRequired,
    Reviewed,
    PushPending,
    PushSucceeded,
    PushFailed,
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Processing => "processing",
            Status::ReviewRequired => "review_required",
            Status::Reviewed => "reviewed",
            Status::PushPending => "push_pending",
            Status::PushSucceeded => "push_succeeded",
            Status::PushFailed => "push_failed",
            Status::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "processing" => Status::Processing,
            "review_required" => Status::ReviewRequired,
            "reviewed" => Status::Reviewed,
            "push_pending" => Status::PushPending,
            "push_succeeded" => Status::PushSucceeded,
            "push_failed" => Status::PushFailed,
            "failed" => Status::Failed,
            _ => return None,
        })
    }

    /// Whether the docs allow a document to move from `self` to `next` in
    /// one step: dispatch (reviewed/push_failed → push_pending), a
    /// delivery outcome (finalized documents → push_succeeded/push_failed),
    /// editing a finalized document (→ review_required) and approval
    /// (review_required → reviewed). Staying put is always allowed.
    pub(crate) fn may_become(self, next: Status) -> bool {
        use Status::*;
        self == next
            || match self {
                Reviewed | PushFailed => {
                    matches!(
                        next,
                        PushPending | PushSucceeded | PushFailed | ReviewRequired
                    )
                }
                PushPending | PushSucceeded => {
                    matches!(next, PushSucceeded | PushFailed | ReviewRequired)
                }
                ReviewRequired => next == Reviewed,
                Processing => matches!(next, ReviewRequired | Failed),
                Failed => false,
            }
    }
}

impl Outcome {
    /// The document status an attempt with this outcome implies.
    pub(crate) fn document_status(self) -> Status {
        match self {
            Outcome::Succeeded | Outcome::Skipped => Status::PushSucceeded,
            Outcome::Failed => Status::PushFailed,
        }
    }
}

/// What the model knows about a document's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    Exactly(Status),
    /// A run is in flight on a target without a clock: `push_pending`
    /// until it finishes, then `after` (the latest attempt's status, when
    /// the case recorded one) or any delivery outcome.
    InFlight {
        after: Option<Status>,
    },
}

impl Known {
    /// Whether an observed status is consistent with this knowledge.
    pub(crate) fn admits(self, s: Status) -> bool {
        match self {
            Known::Exactly(k) => k == s,
            Known::InFlight { after: Some(a) } => s == Status::PushPending || s == a,
            Known::InFlight { after: None } => matches!(
                s,
                Status::PushPending | Status::PushSucceeded | Status::PushFailed
            ),
        }
    }

    /// The statuses admitted, for messages and scenario files.
    pub(crate) fn admitted(self) -> Vec<Status> {
        match self {
            Known::Exactly(k) => vec![k],
            Known::InFlight { after: Some(a) } => vec![Status::PushPending, a],
            Known::InFlight { after: None } => vec![
                Status::PushPending,
                Status::PushSucceeded,
                Status::PushFailed,
            ],
        }
    }
}

/// A callback attempt this case recorded.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub execution_id: String,
    pub outcome: Outcome,
    /// The body as sent: an identical replay sends it again.
    pub body: Value,
}

/// One document of the case.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub id: String,
    pub status: Known,
    pub finalized: bool,
    /// An active destination takes the document's schema (dynamics365).
    pub deliverable: bool,
    /// The supplier lookup misses: a run ends `skipped`.
    pub skips: bool,
    /// The latest attempt: (attempted_at ms, arrival, implied status).
    pub latest: Option<(i64, u64, Status)>,
    /// Attempts that existed before the case (fakes: from the fixture).
    pub prior_attempts: Option<usize>,
    /// Attempts of finished dispatch runs (exact models only).
    pub run_attempts: Vec<(String, Outcome)>,
    pub recorded: Vec<Recorded>,
}

impl Doc {
    pub(crate) fn new(id: &str, status: Status, finalized: bool) -> Doc {
        Doc {
            id: id.to_owned(),
            status: Known::Exactly(status),
            finalized,
            deliverable: true,
            skips: false,
            latest: None,
            prior_attempts: None,
            run_attempts: Vec::new(),
            recorded: Vec::new(),
        }
    }

    /// Listed by the outbox: finalized, a destination takes it, and
    /// `reviewed` or `push_failed`. `None` when the model cannot know.
    pub(crate) fn eligible(&self) -> Option<bool> {
        match self.status {
            Known::Exactly(s) => Some(
                self.finalized
                    && self.deliverable
                    && matches!(s, Status::Reviewed | Status::PushFailed),
            ),
            Known::InFlight { .. } => None,
        }
    }

    /// Whether dispatch (or, with `retry`, retry-push) is accepted.
    /// `None` when it depends on a run the model cannot see.
    pub(crate) fn push_allowed(&self, retry: bool) -> Option<bool> {
        if !self.finalized || !self.deliverable {
            return Some(false);
        }
        let from = |s: Status| {
            if retry {
                s == Status::PushFailed
            } else {
                matches!(s, Status::Reviewed | Status::PushFailed)
            }
        };
        match self.status {
            Known::Exactly(s) => Some(from(s)),
            Known::InFlight { after: Some(a) } if !from(a) => Some(false),
            Known::InFlight { .. } => None,
        }
    }
}

/// A queued dispatch run (exact models only).
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub doc: usize,
    pub run_id: String,
    pub due_ms: i64,
    pub seq: u64,
}

/// The whole case's state.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub docs: Vec<Doc>,
    /// The virtual clock is known and frozen: runs finish at known instants.
    pub exact: bool,
    pub now_ms: i64,
    /// Callbacks' `attempted_at` is `base_ms + at` seconds.
    pub base_ms: i64,
    pub runs: Vec<Run>,
    seq: u64,
    fresh: u64,
    /// Makes execution ids unique across cases on shared targets.
    pub nonce: String,
}

impl Model {
    pub(crate) fn new(
        docs: Vec<Doc>,
        exact: bool,
        now_ms: i64,
        base_ms: i64,
        nonce: String,
    ) -> Model {
        Model {
            docs,
            exact,
            now_ms,
            base_ms,
            runs: Vec::new(),
            seq: 0,
            fresh: 0,
            nonce,
        }
    }

    pub(crate) fn index(&self, doc: u8) -> usize {
        doc as usize % self.docs.len()
    }

    pub(crate) fn fresh_execution_id(&mut self) -> String {
        self.fresh += 1;
        format!("props-{}-{}", self.nonce, self.fresh)
    }

    /// Record an attempt on a finalized document: the document's status
    /// follows its latest attempt by `attempted_at` (ties: later arrival).
    pub(crate) fn record(&mut self, doc: usize, at_ms: i64, outcome: Outcome) {
        self.seq += 1;
        let seq = self.seq;
        let d = &mut self.docs[doc];
        let implied = outcome.document_status();
        if d.latest.is_none_or(|(at, _, _)| at_ms >= at) {
            d.latest = Some((at_ms, seq, implied));
        }
        // A run still in flight on a clockless target finishes earlier
        // than any callback of the case (those are stamped ahead of every
        // known attempt), so it cannot change the status any more.
        d.status = Known::Exactly(d.latest.map_or(implied, |(_, _, s)| s));
    }

    /// A dispatch or retry-push was accepted.
    pub(crate) fn pushed(&mut self, doc: usize, run_id: String) {
        self.seq += 1;
        let seq = self.seq;
        if self.exact {
            self.docs[doc].status = Known::Exactly(Status::PushPending);
            self.runs.push(Run {
                doc,
                run_id,
                due_ms: self.now_ms + RUN_DELAY_MS,
                seq,
            });
        } else {
            // `latest` is only kept on such targets when it is stamped
            // ahead of the wall clock, so later than the run's own attempt.
            let after = self.docs[doc].latest.map(|(_, _, s)| s);
            self.docs[doc].status = Known::InFlight { after };
        }
    }

    /// Advance the frozen clock and finish the runs that fall due, in
    /// instant order, ties in creation order.
    pub(crate) fn advance(&mut self, ms: i64) {
        self.now_ms += ms;
        self.runs.sort_by_key(|r| (r.due_ms, r.seq));
        while self.runs.first().is_some_and(|r| r.due_ms <= self.now_ms) {
            let run = self.runs.remove(0);
            if !self.docs[run.doc].finalized {
                // Edited after dispatch: the run no longer writes (docs/behaviour.md).
                continue;
            }
            let outcome = if self.docs[run.doc].skips {
                Outcome::Skipped
            } else {
                Outcome::Succeeded
            };
            self.docs[run.doc].run_attempts.push((run.run_id, outcome));
            self.record(run.doc, run.due_ms, outcome);
        }
    }

    /// Editing a finalized document sends it back to review.
    pub(crate) fn edited(&mut self, doc: usize) {
        let d = &mut self.docs[doc];
        if d.finalized {
            d.finalized = false;
            d.status = Known::Exactly(Status::ReviewRequired);
        }
    }

    /// An observation settles what the model did not know.
    pub(crate) fn observed(&mut self, doc: usize, s: Status) {
        let d = &mut self.docs[doc];
        if let Known::InFlight { .. } = d.status {
            if s != Status::PushPending {
                d.status = Known::Exactly(s);
            }
        }
    }

    /// Documents the outbox must list (`Some(true)`), must not list
    /// (`Some(false)`), or may list.
    pub(crate) fn eligible(&self) -> Vec<Option<bool>> {
        self.docs.iter().map(Doc::eligible).collect()
    }
}

/// The fake's default world (`scenarios/fixtures/default.yaml`): the
/// documents a case may touch, with what the fixture says about them.
/// Interesting ones first, since shrinking moves indices towards 0.
pub(crate) fn default_world() -> Vec<Doc> {
    let mut docs = vec![
        Doc::new(
            "4be38121-3791-4856-80d5-c57dbec2cf78",
            Status::Reviewed,
            true,
        ),
        Doc::new(
            "c3d8e1b5-7a2f-4e90-8b14-5d6f9a0e2c73",
            Status::PushFailed,
            true,
        ),
        Doc::new(
            "1f7a3c92-8e4d-4b61-9c05-d2e8a7b6f310",
            Status::Reviewed,
            true,
        ),
        Doc::new(
            "5e4a0d27-9b13-4c68-a2f5-7e1c3b8d9f06",
            Status::PushPending,
            true,
        ),
        Doc::new(
            "a8f2c6d1-4e3b-4f97-9d20-1b5c7e8a0f42",
            Status::PushSucceeded,
            true,
        ),
        Doc::new(
            "doc_01jpwq4q9m7q4q2k8dax1x1q5n",
            Status::ReviewRequired,
            false,
        ),
        Doc::new(
            "0e9b7c5a-3f21-4d8e-b6a4-9c2f1e0d8b57",
            Status::Reviewed,
            false,
        ),
        Doc::new("doc_01jq0c8e1f4h7j0k3m6n9p2q5r", Status::Reviewed, true),
        Doc::new(
            "9d0c6f1a-52e4-4b7e-8a31-6f2d0b9c4e17",
            Status::Reviewed,
            true,
        ),
        Doc::new(
            "6b2e9f40-1c7d-4a85-b3e6-0f9a2d7c5e81",
            Status::Reviewed,
            true,
        ),
        Doc::new("doc_01jq0b3c6d9f2g5h8j1k4m7n0p", Status::Failed, false),
    ];
    for d in &mut docs {
        d.prior_attempts = Some(0);
    }
    // push_failed after a failed attempt on 2026-03-24T06:00.
    docs[1].latest = Some((i64::MIN / 2, 0, Status::PushFailed));
    docs[1].prior_attempts = Some(1);
    // Vendor "Acme Supplies Ltd" has no supplier row.
    docs[2].skips = true;
    // Delivered on 2026-03-23T18:30.
    docs[4].latest = Some((i64::MIN / 2, 0, Status::PushSucceeded));
    docs[4].prior_attempts = Some(1);
    // A finalized receipt: no destination takes receipt_v1.
    docs[7].deliverable = false;
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(status: Status) -> Model {
        Model::new(
            vec![Doc::new("d", status, true)],
            true,
            0,
            10_000,
            "t".into(),
        )
    }

    #[test]
    fn the_latest_attempt_by_time_decides_the_status() {
        let mut m = one(Status::Reviewed);
        m.record(0, 20_000, Outcome::Failed);
        assert_eq!(m.docs[0].status, Known::Exactly(Status::PushFailed));
        m.record(0, 15_000, Outcome::Succeeded);
        assert_eq!(m.docs[0].status, Known::Exactly(Status::PushFailed));
        m.record(0, 20_000, Outcome::Skipped);
        assert_eq!(m.docs[0].status, Known::Exactly(Status::PushSucceeded));
    }

    #[test]
    fn a_run_finishes_after_the_delay() {
        let mut m = one(Status::Reviewed);
        m.pushed(0, "run_1".into());
        assert_eq!(m.docs[0].status, Known::Exactly(Status::PushPending));
        assert_eq!(m.docs[0].eligible(), Some(false));
        m.advance(1_000);
        assert_eq!(m.docs[0].status, Known::Exactly(Status::PushPending));
        m.advance(1_000);
        assert_eq!(m.docs[0].status, Known::Exactly(Status::PushSucceeded));
        assert_eq!(m.docs[0].push_allowed(false), Some(false));
    }

    #[test]
    fn documented_transitions() {
        assert!(Status::Reviewed.may_become(Status::PushPending));
        assert!(Status::PushPending.may_become(Status::PushFailed));
        assert!(!Status::PushSucceeded.may_become(Status::PushPending));
        assert!(!Status::ReviewRequired.may_become(Status::PushSucceeded));
    }
}
