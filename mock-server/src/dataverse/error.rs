//! The one error type of the Dataverse fake.
//!
//! Every failure is a `DataverseError` (HTTP status, hex `code`, `message`) and
//! is rendered once, by [`super::error_reply`], into Dataverse's envelope
//! `{"error":{"code":"…","message":"…"}}` (dataverse.md §5).
//!
//! Code choices where the reference is split (dataverse.md §11 item 13):
//! - query-option and URL validation errors (`$select`/`$filter`/`$orderby`
//!   property errors, filter syntax, unsupported options) use `0x80060888`,
//!   the code of the newer live captures (§1.7 [FIELD]), not the `0x0` of the
//!   troubleshooting page;
//! - an unknown entity set uses `0x8006088a`, the documented code (§1.1).

use crate::call::Reply;

/// Query and URL validation errors (dataverse.md §1.6, §1.7).
pub(super) const QUERY: &str = "0x80060888";
/// `Resource not found for the segment '…'.` (dataverse.md §1.1).
pub(super) const SEGMENT: &str = "0x8006088a";
/// ObjectDoesNotExist (dataverse.md §2).
pub(super) const NOT_FOUND: &str = "0x80040217";
/// Payload errors (dataverse.md §3).
pub(super) const PAYLOAD: &str = "0x80048d19";
/// String length exceeded (dataverse.md §3).
pub(super) const LENGTH: &str = "0x80044331";
/// DuplicateRecord (dataverse.md §4).
pub(super) const DUPLICATE: &str = "0x80040237";
/// A duplicate alternate-key value (dataverse.md §11: a 412 duplicate variant).
pub(super) const DUPLICATE_KEY: &str = "0x80060892";
/// ConcurrencyVersionMismatch (dataverse.md §4).
pub(super) const CONCURRENCY: &str = "0x80060882";
/// Number of requests (dataverse.md §6).
pub(super) const THROTTLED: &str = "0x80072322";
/// TooManyConditionsInQuery (dataverse.md §1.5).
pub(super) const TOO_MANY_CONDITIONS: &str = "0x8004430C";
/// NotSupported / not implemented by the fake.
pub(super) const NOT_IMPLEMENTED: &str = "0x80040216";
/// "The user is not a member of the organization." (dataverse.md §7).
pub(super) const NOT_MEMBER: &str = "0x80072560";

/// The help-link preamble of payload errors (dataverse.md §3 [FIELD]).
const PAYLOAD_PREFIX: &str = "For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293";

/// One Dataverse failure: status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataverseError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl DataverseError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// A 400 query/URL validation error (`0x80060888`).
    pub(crate) fn query(message: impl Into<String>) -> Self {
        Self::new(400, QUERY, message)
    }

    /// `Could not find a property named 'X' on type 'Microsoft.Dynamics.CRM.<logical>'.` (§1.7).
    pub(crate) fn no_property(name: &str, logical: &str) -> Self {
        Self::query(format!(
            "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{logical}'."
        ))
    }

    /// `Resource not found for the segment '<name>'.` (§1.1).
    pub(crate) fn segment(name: &str) -> Self {
        Self::new(
            404,
            SEGMENT,
            format!("Resource not found for the segment '{name}'."),
        )
    }

    /// `Entity '<logical>' With Id = <id> Does Not Exist` (§2).
    pub(crate) fn row_missing(logical: &str, id: &str) -> Self {
        Self::new(
            404,
            NOT_FOUND,
            format!("Entity '{logical}' With Id = {id} Does Not Exist"),
        )
    }

    /// The `0x80048d19` payload wrapper around an inner exception text (§3).
    pub(crate) fn payload(entity_set: &str, inner: &str) -> Self {
        Self::new(
            400,
            PAYLOAD,
            format!(
                "Error identified in Payload provided by the user for Entity :'{entity_set}', {PAYLOAD_PREFIX}  ---->  InnerException : {inner}"
            ),
        )
    }

    /// `A record with matching key values already exists.` (§4).
    pub(crate) fn duplicate() -> Self {
        Self::new(
            412,
            DUPLICATE,
            "A record with matching key values already exists.",
        )
    }

    /// Stale `If-Match` (§4).
    pub(crate) fn version_mismatch() -> Self {
        Self::new(
            412,
            CONCURRENCY,
            "The version of the existing record doesn't match the RowVersion property provided.",
        )
    }

    /// Wrong method for a resource (§4: 405).
    pub(crate) fn method(method: &str) -> Self {
        Self::new(
            405,
            QUERY,
            format!("The requested resource does not support http method '{method}'."),
        )
    }

    pub(crate) fn reply(&self) -> Reply {
        super::error_reply(self.status, self.code, &self.message)
    }
}

pub(super) type DvResult<T> = Result<T, DataverseError>;
