//! The one place a matched fault rule acts on a call.
//!
//! `world::faults` decides *which* rule acts on a call; this module decides
//! *what that does*, the same way for every API, in this order:
//!
//! 1. **latency** (virtual): a call takes that long — the workspace clock
//!    moves before anything else happens (the API may then run due work); a
//!    webhook attempt is instead held and made that much later.
//! 2. **expire_session** (Dataverse): the caller's session token expires for
//!    good and the API's 401 for an expired token answers (before `respond`).
//! 3. **respond**: the API's own error for the status (or the rule's body)
//!    answers instead of the API.
//! 4. **drop**: otherwise, the API is not asked; the connection closes
//!    without an answer (webhooks: the attempt times out).
//! 5. **duplicate** (webhooks): the event is delivered twice.
//! 6. **sign_with** / **backdate** (webhooks): the attempt is signed with
//!    another secret, or carries a timestamp moved into the past.
//! 7. On whatever answer goes out: the rule's extra headers, the real
//!    latency, the dropped connection, and **malformed** (the body cut in
//!    half).
//!
//! Each API supplies only how its answers look, through [`FaultDialect`].

use axum::http::HeaderName;

use crate::call::Reply;
use crate::world::faults::{FaultApi, FaultSpec, FaultTarget, Faults, Respond};
use crate::world::journal::Tampered;
use crate::world::time::{format_seconds, parse_duration, Millis};
use crate::world::workspace::Workspace;

/// How one API's answers to a fault look.
pub(crate) trait FaultDialect {
    /// What the API gives back when a rule answers for it.
    type Answer;
    /// The answer to a `respond` action (the API's error for the status).
    fn respond(&self, respond: &Respond) -> Self::Answer;
    /// The answer a dropped connection is recorded with (never sent).
    fn dropped(&self) -> Self::Answer;
    /// Runs after a virtual latency moved the clock (e.g. due work).
    fn after_latency(&self, _ws: &mut Workspace) {}
    /// Expires the calling client's session (an `expire_session` rule);
    /// false when this call has no session to expire (the rule then does
    /// nothing to it).
    fn expire_session(&self, _ws: &mut Workspace) -> bool {
        false
    }
    /// The answer to a call whose session an `expire_session` rule expired.
    fn session_expired(&self) -> Option<Self::Answer> {
        None
    }
}

/// A rule that acts on this call: its id and what it does.
#[derive(Debug, Clone)]
pub(crate) struct FaultAction {
    pub id: String,
    spec: FaultSpec,
    /// The rule expired the caller's session on this call.
    expired: bool,
}

/// The first step of a faulted call.
pub(crate) enum Step<A> {
    /// The API answers (the action may still shape the answer: [`FaultAction::finish`]).
    Pass,
    /// The rule answers instead of the API.
    Answer(A),
}

impl FaultAction {
    /// Wraps a rule the matcher chose (webhooks keep one across a hold).
    pub(crate) fn new(id: String, spec: FaultSpec) -> FaultAction {
        FaultAction {
            id,
            spec,
            expired: false,
        }
    }

    /// The rule's id and the rule (what a held webhook attempt keeps).
    pub(crate) fn into_parts(self) -> (String, FaultSpec) {
        (self.id, self.spec)
    }

    /// Virtual time the call takes.
    pub(crate) fn latency(&self) -> Millis {
        self.spec.virtual_latency()
    }

    /// The same action without its virtual latency (once it was waited out).
    pub(crate) fn without_latency(mut self) -> FaultAction {
        self.spec.latency = None;
        self
    }

    /// The same action on an answer that encloses the one it matched (a
    /// `$batch` around its part): the part got the `respond`; the rest
    /// (latency, drop, malformed) acts on the enclosing answer.
    pub(crate) fn for_enclosing(&self) -> FaultAction {
        let mut whole = self.clone();
        whole.spec.respond = None;
        whole
    }

    /// Whether a webhook event is delivered twice.
    pub(crate) fn duplicate(&self) -> bool {
        self.spec.duplicate
    }

    /// The same action for the second copy of a duplicated delivery.
    pub(crate) fn for_copy(&self) -> FaultAction {
        let mut copy = self.clone();
        copy.spec.duplicate = false;
        copy
    }

    /// The rule's `respond`, if it has one.
    pub(crate) fn respond(&self) -> Option<&Respond> {
        self.spec.respond.as_ref()
    }

    /// Whether the rule expired the caller's session on this call.
    pub(crate) fn expired_session(&self) -> bool {
        self.expired
    }

    /// An expired session wins over respond, respond over drop; otherwise
    /// the API answers.
    pub(crate) fn step<D: FaultDialect>(&self, dialect: &D) -> Step<D::Answer> {
        if let Some(answer) = self.expired.then(|| dialect.session_expired()).flatten() {
            Step::Answer(answer)
        } else if let Some(respond) = &self.spec.respond {
            Step::Answer(dialect.respond(respond))
        } else if self.spec.drop_connection {
            Step::Answer(dialect.dropped())
        } else {
            Step::Pass
        }
    }

    /// Applies the action to the answer that goes out, whoever made it.
    pub(crate) fn finish(&self, mut reply: Reply) -> Reply {
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
pub(crate) fn matching(
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
pub(crate) fn check<D: FaultDialect>(
    ws: &mut Workspace,
    dialect: &D,
    api: FaultApi,
    target: &FaultTarget<'_>,
) -> Option<FaultAction> {
    let mut action = matching(&mut ws.faults, api, target)?;
    let latency = action.latency();
    if latency > 0 {
        ws.clock.advance(latency);
        dialect.after_latency(ws);
    }
    if action.spec.expire_session {
        action.expired = dialect.expire_session(ws);
    }
    Some(action)
}

/// How a webhook attempt is signed: the timestamp it carries, the secret it
/// is signed with, and how a fault tampered with either.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Signing {
    pub timestamp: String,
    pub secret: String,
    pub tampered: Option<Tampered>,
}

/// Signs an attempt made at `at` with the endpoint's `secret`, unless the
/// rule acting on it signs with another secret (`sign_with`) or moves its
/// timestamp into the past (`backdate`).
pub(crate) fn signing(fault: Option<&FaultAction>, at: Millis, secret: &str) -> Signing {
    let spec = fault.map(|f| &f.spec);
    let back = spec
        .and_then(|s| s.backdate.as_deref())
        .and_then(parse_duration)
        .filter(|ms| *ms > 0);
    let sign_with = spec.and_then(|s| s.sign_with.clone());
    let tampered = match (&sign_with, back) {
        (Some(_), _) => Some(Tampered::Signature),
        (None, Some(_)) => Some(Tampered::Timestamp),
        (None, None) => None,
    };
    Signing {
        timestamp: format_seconds(at - back.unwrap_or(0)),
        secret: sign_with.unwrap_or_else(|| secret.to_string()),
        tampered,
    }
}

/// Serves an HTTP call through a fault rule: the rule answers, or the API does;
/// either answer is then finished by the rule.
pub(crate) fn serve<D: FaultDialect<Answer = Reply>>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::faults::parse_compact;

    fn action(rule: &str) -> FaultAction {
        FaultAction::new("flt_1".into(), parse_compact(rule).expect("a valid rule"))
    }

    #[test]
    fn signing_keeps_the_endpoint_secret_unless_a_rule_tampers() {
        let plain = signing(None, 3_600_000, "whsec_a");
        assert_eq!(plain.secret, "whsec_a");
        assert_eq!(plain.timestamp, format_seconds(3_600_000));
        assert_eq!(plain.tampered, None);

        let other = signing(
            Some(&action("webhook:POST:/**,sign_with=whsec_b")),
            3_600_000,
            "whsec_a",
        );
        assert_eq!(other.secret, "whsec_b");
        assert_eq!(other.timestamp, format_seconds(3_600_000));
        assert_eq!(other.tampered, Some(Tampered::Signature));

        let stale = signing(
            Some(&action("webhook:POST:/**,backdate=1h")),
            3_600_000,
            "whsec_a",
        );
        assert_eq!(stale.secret, "whsec_a");
        assert_eq!(stale.timestamp, format_seconds(0));
        assert_eq!(stale.tampered, Some(Tampered::Timestamp));
    }
}
