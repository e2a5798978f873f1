//! The driver: runs the work the world hands up.
//!
//! The world (`crate::world`) only records due work as [`Job`] values; this
//! module is the one place that turns a job into effects, calling the engines
//! that live above the world: the invoice executor, the extraction generator
//! and the webhook attempt engine. Order is the world's: jobs made due
//! already run first (in the order they were made), then scheduled jobs in
//! virtual-instant order; jobs a job makes run in the same drain.

use crate::numora::executor;
use crate::numora::schemas::extract;
use crate::webhooks;
use crate::world::model::{JsonItems, JsonMap, ProcessingOutcome, Status};
use crate::world::time::{format_millis, Millis};
use crate::world::workspace::{Job, Workspace};

/// Runs every job due by now. Called under the workspace lock before a
/// request is answered, so work that is due runs before the request that
/// made it due is answered.
pub(crate) fn run_due(ws: &mut Workspace) {
    webhooks::attempt_ready(ws);
    // Jobs may schedule more jobs; a bound keeps a faulty loop from hanging a request.
    for _ in 0..100_000 {
        let Some((at, job)) = ws.pop_due() else {
            return;
        };
        run_job(ws, at, job);
    }
}

fn run_job(ws: &mut Workspace, at: Millis, job: Job) {
    match job {
        Job::FinishProcessing { document_id } => finish_processing(ws, &document_id, at),
        Job::ExecuteRun { run_id } => executor::execute(ws, &run_id, at),
        Job::DeliverWebhook { delivery_id } => webhooks::attempt_due(ws, &delivery_id, at),
    }
}

/// Processing of an uploaded document finishes: results are generated (when
/// the document has none) and the document moves to review or fails.
fn finish_processing(ws: &mut Workspace, id: &str, at: Millis) {
    let Some(outcome) = ws
        .documents
        .get(id)
        .filter(|d| d.status == Status::Processing)
        .map(|d| d.processing)
    else {
        return;
    };
    let needs_result = ws.documents.get(id).is_some_and(|d| d.fields.is_empty());
    let generated = (needs_result && outcome == ProcessingOutcome::Succeed).then(|| {
        let schema = ws.documents[id].schema;
        let date = format_millis(at)[..10].to_string();
        extract(schema, &mut ws.ids, &date)
    });
    ws.update_document(id, |doc| {
        doc.updated_at = at;
        if let Some((confidence, fields, line_items)) = generated {
            doc.confidence = confidence;
            doc.fields = JsonMap::from_map(&fields);
            doc.line_items = JsonItems::from_items(&line_items);
        }
        match outcome {
            ProcessingOutcome::Succeed => doc.status = Status::ReviewRequired,
            ProcessingOutcome::Fail => {
                doc.status = Status::Failed;
                doc.failure_reason
                    .get_or_insert_with(|| "extraction failed: the file could not be read".into());
            }
        }
    });
    if outcome == ProcessingOutcome::Succeed {
        webhooks::emit(ws, "document.review_required", id, at, None);
    }
}
