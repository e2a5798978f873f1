//! Staged writes that can be undone as one (the ground work for change sets).
//!
//! While a stage is open ([`Store::begin`]), every row write records what it
//! replaced, so [`Store::rollback`] restores the store exactly and the cost is
//! in proportion to the rows written, never a copy of the store.
//! [`Store::commit`] keeps the writes and drops the record.

use super::{Row, Store};

/// What one row write replaced.
#[derive(Debug, Clone)]
pub(crate) enum Undo {
    /// A row was appended to `tables[table]` of `orgs[org]`.
    Appended { org: usize, table: usize },
    /// The row at `index` was changed; `before` is what it was.
    Changed {
        org: usize,
        table: usize,
        index: usize,
        before: Row,
    },
    /// The row at `index` was removed.
    Removed {
        org: usize,
        table: usize,
        index: usize,
        row: Row,
    },
}

/// An open stage: the writes since `begin` and the version counter then.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    log: Vec<Undo>,
    next_version: u64,
}

impl Store {
    /// Opens a stage (a stage already open keeps its start).
    pub fn begin(&mut self) {
        if self.stage.is_none() {
            self.stage = Some(Stage {
                log: Vec::new(),
                next_version: self.next_version,
            });
        }
    }

    /// Keeps every write since [`Store::begin`].
    pub fn commit(&mut self) {
        self.stage = None;
    }

    /// Undoes every write since [`Store::begin`], newest first.
    pub fn rollback(&mut self) {
        let Some(stage) = self.stage.take() else {
            return;
        };
        for undo in stage.log.into_iter().rev() {
            match undo {
                Undo::Appended { org, table } => {
                    std::sync::Arc::make_mut(&mut self.orgs[org].tables[table].rows).pop();
                }
                Undo::Changed {
                    org,
                    table,
                    index,
                    before,
                } => {
                    std::sync::Arc::make_mut(&mut self.orgs[org].tables[table].rows)[index] = before
                }
                Undo::Removed {
                    org,
                    table,
                    index,
                    row,
                } => std::sync::Arc::make_mut(&mut self.orgs[org].tables[table].rows)
                    .insert(index, row),
            }
        }
        self.next_version = stage.next_version;
    }

    fn record(&mut self, undo: impl FnOnce() -> Undo) {
        if let Some(stage) = &mut self.stage {
            stage.log.push(undo());
        }
    }

    /// Appends a row (every row write goes through these three).
    pub(crate) fn append_row(&mut self, org: usize, table: usize, row: Row) {
        self.record(|| Undo::Appended { org, table });
        std::sync::Arc::make_mut(&mut self.orgs[org].tables[table].rows).push(row);
    }

    /// The row at `index`, to change.
    pub(crate) fn row_mut(&mut self, org: usize, table: usize, index: usize) -> &mut Row {
        let before = &self.orgs[org].tables[table].rows[index];
        if self.stage.is_some() {
            let before = before.clone();
            self.record(|| Undo::Changed {
                org,
                table,
                index,
                before,
            });
        }
        &mut std::sync::Arc::make_mut(&mut self.orgs[org].tables[table].rows)[index]
    }

    /// Removes the row with `id`, if there is one.
    pub(crate) fn remove_row(&mut self, org: usize, table: usize, id: &str) {
        let rows = &self.orgs[org].tables[table].rows;
        if let Some(index) = rows.iter().position(|r| r.id == id) {
            let row =
                std::sync::Arc::make_mut(&mut self.orgs[org].tables[table].rows).remove(index);
            self.record(|| Undo::Removed {
                org,
                table,
                index,
                row,
            });
        }
    }
}
