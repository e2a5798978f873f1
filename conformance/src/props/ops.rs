//! The operations a property case is made of, and how they are generated.
//!
//! Operations name documents by an index into the case's document list
//! (taken modulo its length), so one generated sequence fits any target:
//! the fake's default world or the documents given with `--var`. Shrinking
//! removes operations and moves indices and counts towards zero.

use std::fmt;

use proptest::prelude::*;

/// What a delivery callback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Succeeded,
    Failed,
    Skipped,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Which `execution_id` a callback carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exec {
    /// One never used before.
    Fresh,
    /// The n-th (modulo) id this case recorded on the document, with the
    /// recorded data: an identical replay. Without any, a fresh id.
    Replay(u8),
    /// The n-th recorded id with one field changed (`change` picks which:
    /// status, attempted_at, external_record_id or error_message,
    /// error_code, external_url).
    Changed(u8),
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// `POST /v1/documents/{id}/dispatch`.
    Dispatch { doc: u8 },
    /// `POST /v1/documents/{id}/actions/retry-push`.
    RetryPush { doc: u8 },
    /// `POST /v1/documents/{id}/delivery`; `at` is seconds after the case's
    /// base instant, `change` picks the field a changed replay alters.
    Callback {
        doc: u8,
        outcome: Outcome,
        exec: Exec,
        at: u8,
        change: u8,
    },
    /// `GET /v1/documents/{id}`.
    GetStatus { doc: u8 },
    /// `GET /v1/documents/{id}/delivery`: one attempt per execution_id.
    ListAttempts { doc: u8 },
    /// Walk `GET /v1/delivery/outbox` page by page with this limit; with
    /// `reapprove: Some(n)` (fakes only), the n-th (modulo) document of the
    /// first page is edited and approved again before the second page, so
    /// it must reappear at its new position.
    OutboxWalk { limit: u8, reapprove: Option<u8> },
    /// Move the virtual clock (fakes only; a no-op elsewhere).
    AdvanceClock { secs: u8 },
    /// Edit the document's fields through the control API, as the review
    /// UI would (fakes only; a no-op elsewhere).
    Edit { doc: u8 },
    /// Read the document, then approve it with its `updated_at`.
    Approve { doc: u8 },
    /// `n` dispatches of one document at once.
    ParallelDispatch { doc: u8, n: u8 },
    /// `n` callbacks with one fresh execution_id at once: identical bodies,
    /// or bodies that differ in `external_record_id`.
    ParallelCallback { doc: u8, n: u8, changed: bool },
    /// A dispatch and a callback with a fresh execution_id (`succeeded` or
    /// `skipped`) sent at once: whichever lands first, the answers and the
    /// status must be those of one order.
    RaceDispatchCallback { doc: u8, outcome: Outcome },
    /// Dispatch, then edit the document while its run is queued, then let
    /// the run fall due (fakes only; elsewhere only the dispatch).
    EditQueuedRun { doc: u8 },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Dispatch { doc } => write!(f, "dispatch doc#{doc}"),
            Op::RetryPush { doc } => write!(f, "retry-push doc#{doc}"),
            Op::Callback {
                doc,
                outcome,
                exec,
                at,
                change,
            } => {
                let exec = match exec {
                    Exec::Fresh => "fresh execution_id".to_owned(),
                    Exec::Replay(n) => format!("identical replay of recorded #{n}"),
                    Exec::Changed(n) => {
                        format!("changed replay of recorded #{n} (change {change})")
                    }
                };
                write!(
                    f,
                    "callback doc#{doc} {} at base+{at}s, {exec}",
                    outcome.as_str()
                )
            }
            Op::GetStatus { doc } => write!(f, "get status doc#{doc}"),
            Op::ListAttempts { doc } => write!(f, "list attempts doc#{doc}"),
            Op::OutboxWalk {
                limit,
                reapprove: None,
            } => write!(f, "outbox walk limit={limit}"),
            Op::OutboxWalk {
                limit,
                reapprove: Some(n),
            } => write!(
                f,
                "outbox walk limit={limit}, item #{n} of page 1 edited and re-approved after page 1"
            ),
            Op::AdvanceClock { secs } => write!(f, "advance clock {secs}s"),
            Op::Edit { doc } => write!(f, "edit doc#{doc} (control)"),
            Op::Approve { doc } => write!(f, "approve doc#{doc}"),
            Op::ParallelDispatch { doc, n } => write!(f, "{n} parallel dispatches doc#{doc}"),
            Op::ParallelCallback { doc, n, changed } => write!(
                f,
                "{n} parallel {} callbacks doc#{doc}",
                if *changed { "changed" } else { "identical" }
            ),
            Op::RaceDispatchCallback { doc, outcome } => write!(
                f,
                "dispatch and a {} callback doc#{doc} at once",
                outcome.as_str()
            ),
            Op::EditQueuedRun { doc } => {
                write!(
                    f,
                    "dispatch doc#{doc}, edit it while the run is queued, run due"
                )
            }
        }
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Succeeded),
        Just(Outcome::Failed),
        Just(Outcome::Skipped)
    ]
}

fn exec() -> impl Strategy<Value = Exec> {
    prop_oneof![
        2 => Just(Exec::Fresh),
        1 => (0u8..4).prop_map(Exec::Replay),
        1 => (0u8..4).prop_map(Exec::Changed),
    ]
}

/// One operation. `docs` bounds the document index; `control` allows the
/// operations that need the fake's control API.
pub(crate) fn op(docs: u8, control: bool) -> BoxedStrategy<Op> {
    let doc = 0..docs.max(1);
    let always = prop_oneof![
        3 => doc.clone().prop_map(|doc| Op::Dispatch { doc }),
        1 => doc.clone().prop_map(|doc| Op::RetryPush { doc }),
        5 => (doc.clone(), outcome(), exec(), 0u8..20, 0u8..5).prop_map(
            |(doc, outcome, exec, at, change)| Op::Callback { doc, outcome, exec, at, change }
        ),
        3 => doc.clone().prop_map(|doc| Op::GetStatus { doc }),
        1 => doc.clone().prop_map(|doc| Op::ListAttempts { doc }),
        1 => (1u8..4).prop_map(|limit| Op::OutboxWalk { limit, reapprove: None }),
        1 => doc.clone().prop_map(|doc| Op::Approve { doc }),
        1 => (doc.clone(), 2u8..6).prop_map(|(doc, n)| Op::ParallelDispatch { doc, n }),
        1 => (doc.clone(), 2u8..6, any::<bool>())
            .prop_map(|(doc, n, changed)| Op::ParallelCallback { doc, n, changed }),
        1 => (doc.clone(), prop_oneof![Just(Outcome::Succeeded), Just(Outcome::Skipped)])
            .prop_map(|(doc, outcome)| Op::RaceDispatchCallback { doc, outcome }),
    ];
    if control {
        prop_oneof![
            14 => always,
            3 => (1u8..4).prop_map(|secs| Op::AdvanceClock { secs }),
            1 => doc.clone().prop_map(|doc| Op::Edit { doc }),
            1 => doc.prop_map(|doc| Op::EditQueuedRun { doc }),
            2 => (1u8..4, 0u8..3).prop_map(|(limit, n)| Op::OutboxWalk { limit, reapprove: Some(n) }),
        ]
        .boxed()
    } else {
        always.boxed()
    }
}

/// A whole case: between 1 and `max` operations.
pub(crate) fn sequence(docs: u8, control: bool, max: usize) -> BoxedStrategy<Vec<Op>> {
    proptest::collection::vec(op(docs, control), 1..=max.max(1)).boxed()
}
