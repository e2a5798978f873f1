//! The one place a matched fault rule acts on a call.
//!
//! `world::faults` decides *which* rule acts on a call; this module decides
//! *what that does*, the same way for every API, in this order:
//!
//! 1. **latency** (virtual): a call takes that long — the workspace clock
//!    moves before anything else happens (the API may then run due work); a
//!    webhook attempt is instead held and made that much later.
//! 2. **respond**: the API's own error for the status (or the rule's body)
//!    answers instead of the API.
//! 3. **drop**: otherwise, the API is not asked; the connection closes
//!    without an answer (webhooks: the attempt times out).
//! 4. **duplicate** (webhooks): the event is delivered twice.
//! 5. On whatever answer goes out: the rule's extra headers, the real
//!    latency, the dropped connection, and **malformed** (the body cut in
//!    half).
//!
//! Each API supplies only how its answers look, through [`FaultDialect`].

use axum::http::HeaderName;

use crate::call::Reply;
use crate::world::faults::{FaultApi, FaultSpec, FaultTarget, Faults, Respond};
use crate::world::time::Millis;
use crate::world::workspace::Workspace;

/// How one API's answers to a fault look.
pub trait FaultDialect {
    /// What the API gives back when a rule answers for it.
    type Answer;
    /// The answer to a `respond` action (the API's error for the status).
    fn respond(&self, respond: &Respond) -> Self::Answer;
    /// The answer a dropped connection is recorded with (never sent).
    fn dropped(&self) -> Self::Answer;
    /// Runs after a virtual latency moved the clock (e.g. due work).
    fn after_latency(&self, _ws: &mut Workspace) {}
}

/// A rule that acts on this call: its id and what it does.
#[derive(Debug, Clone)]
pub struct FaultAction {
    pub id: String,
    spec: FaultSpec,
}

/// The first step of a faulted call.
pub enum Step<A> {
    /// The API answers (the action may still shape the answer: [`FaultAction::finish`]).
    Pass,
    /// The rule answers instead of the API.
    Answer(A),
}

impl FaultAction {
    /// Wraps a rule the matcher chose (webhooks keep one across a hold).
    pub fn new(id: String, spec: FaultSpec) -> FaultAction {
        FaultAction { id, spec }
    }

    /// The rule's id and the rule (what a held webhook attempt keeps).
    pub fn into_parts(self) -> (String, FaultSpec) {
        (self.id, self.spec)
    }

    /// Virtual time the call takes.
    pub fn latency(&self) -> Millis {
        self.spec.virtual_latency()
    }

    /// The same action without its virtual latency (once it was waited out).
    pub fn without_latency(mut self) -> FaultAction {
        self.spec.latency = None;
        self
    }

    /// The same action on an answer that encloses the one it matched (a
    /// `$batch` around its part): the part got the `respond`; the rest
    /// (latency, drop, malformed) acts on the enclosing answer.
    pub fn for_enclosing(&self) -> FaultAction {
        let mut whole = self.clone();
        whole.spec.respond = None;
        whole
    }

    /// Whether a webhook event is delivered twice.
    pub fn duplicate(&self) -> bool {
        self.spec.duplicate
    }

    /// The same action for the second copy of a duplicated delivery.
    pub fn for_copy(&self) -> FaultAction {
        let mut copy = self.clone();
        copy.spec.duplicate = false;
        copy
    }

    /// The rule's `respond`, if it has one.
    pub fn respond(&self) -> Option<&Respond> {
        self.spec.respond.as_ref()
    }

    /// Respond wins over drop; otherwise the API answers.
    pub fn step<D: FaultDialect>(&self, dialect: &D) -> Step<D::Answer> {
        if let Some(respond) = &self.spec.respond {
            Step::Answer(dialect.respond(respond))
        } else if self.spec.drop_connection {
            Step::Answer(dialect.dropped())
        } else {
            Step::Pass
        }
    }

    /// Applies the action to the answer that goes out, whoever made it.
    pub fn finish(&self, mut reply: Reply) -> Reply {
        if let Some(respond) = &self.spec.respond {
            for (name, value) in &respond.headers {
                if let Ok(name) = HeaderName::try_from(name.as_str()) {
                    reply = reply.with_header(name, value);
                }
            }
        }
        reply.delay = self.spec.real_latency();
        reply.drop_connection = self.spec.drop_connection;
        if self.spec.malformed_body {
            let cut = reply.body.len() / 2;
            reply.body = reply.body.slice(..cut);
        }
        reply
    }
}

/// Finds the rule that acts on a call without applying anything.
pub fn matching(
    faults: &mut Faults,
    api: FaultApi,
    target: &FaultTarget<'_>,
) -> Option<FaultAction> {
    faults
        .check(api, target)
        .map(|(id, spec)| FaultAction::new(id, spec))
}

/// Finds the rule that acts on an HTTP call and lets its virtual latency
/// pass (the clock moves, then the dialect's `after_latency`).
pub fn check<D: FaultDialect>(
    ws: &mut Workspace,
    dialect: &D,
    api: FaultApi,
    target: &FaultTarget<'_>,
) -> Option<FaultAction> {
    let action = matching(&mut ws.faults, api, target)?;
    let latency = action.latency();
    if latency > 0 {
        ws.clock.advance(latency);
        dialect.after_latency(ws);
    }
    Some(action)
}

/// Serves an HTTP call through a fault rule: the rule answers, or the API does;
/// either answer is then finished by the rule.
pub fn serve<D: FaultDialect<Answer = Reply>>(
    fault: Option<&FaultAction>,
    dialect: &D,
    api: impl FnOnce() -> Reply,
) -> Reply {
    let Some(action) = fault else {
        return api();
    };
    let reply = match action.step(dialect) {
        Step::Answer(reply) => reply,
        Step::Pass => api(),
    };
    action.finish(reply)
}
