//! The bytes a document's hot views render as (`world/wire.rs` writes
//! them), kept with the document until it changes.

use std::sync::OnceLock;

use bytes::Bytes;

/// The bytes a document's hot views render as, made on first use.
///
/// The views depend on the document alone: their URLs are paths relative to
/// the server, their stamps are the document's own, and nothing of the
/// clock, the workspace, the key or the host enters them. So the cache needs
/// no key: it is right as long as the document is unchanged, and every
/// change goes through `Workspace::update_document`, which drops it. A copy
/// of a document starts with an empty cache (copies are made to be changed),
/// and a document shared by several workspaces shares its rendering too.
#[derive(Default)]
pub(crate) struct Rendered(OnceLock<Box<Views>>);

/// The views, each rendered when it is first asked for.
#[derive(Default)]
struct Views {
    /// The whole answer of `GET /v1/documents/{id}`: `{"data":<view>}`.
    answer: OnceLock<Bytes>,
    /// One item of `GET /v1/delivery/outbox`.
    outbox_item: OnceLock<Box<[u8]>>,
}

impl Rendered {
    fn views(&self) -> &Views {
        self.0.get_or_init(Box::default)
    }

    /// The answer of `GET /v1/documents/{id}`, made by `render` if not yet.
    pub(crate) fn answer(&self, render: impl FnOnce() -> Bytes) -> Bytes {
        self.views().answer.get_or_init(render).clone()
    }

    /// The outbox item, made by `render` if not yet.
    pub(crate) fn outbox_item(&self, render: impl FnOnce() -> Box<[u8]>) -> &[u8] {
        self.views().outbox_item.get_or_init(render)
    }

    /// Forgets what was rendered (the document changed).
    pub(crate) fn clear(&mut self) {
        self.0 = OnceLock::new();
    }

    /// Whether anything is rendered (for tests).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.get().is_none()
    }
}

impl Clone for Rendered {
    /// An empty cache: a copy of a document is made to be changed.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Rendered"
        } else {
            "NotRendered"
        })
    }
}
