//! The world: every workspace, and how a request finds its own.
//!
//! The registry maps API keys to workspaces. Each workspace sits behind one
//! `std::sync::Mutex`, so the calls to one workspace are served one at a time:
//! that total order is what makes clock ticks, id draws and journal entries
//! the same on every run. Different workspaces never contend. Locks are never
//! held across an `.await`.

pub(crate) mod clock;
pub(crate) mod compact;
pub(crate) mod dump;
pub(crate) mod faults;
pub(crate) mod glob;
pub(crate) mod hooks;
pub(crate) mod ids;
pub(crate) mod journal;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod rendered;
pub(crate) mod scheduler;
pub(crate) mod tables;
pub(crate) mod time;
pub(crate) mod wall;
pub(crate) mod wire;
pub(crate) mod workspace;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::fixtures::{Fixture, FixtureError};
use clock::ClockMode;
use ids::IdGen;
use time::Millis;
use workspace::Workspace;

pub(crate) type SharedWorkspace = Arc<Mutex<Workspace>>;

/// Locks a workspace, recovering from a poisoned lock (a panic elsewhere must
/// not take the whole server down).
pub(crate) fn lock(ws: &SharedWorkspace) -> MutexGuard<'_, Workspace> {
    ws.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads the server's fixture again from its source (the embedded text, the
/// file or the builder's text). The parsed fixture is not kept: a workspace of
/// the server's fixture and seed is a copy of one pristine workspace, and only
/// a workspace asked for with another seed is built from the source again.
#[derive(Clone)]
pub struct FixtureSource(pub Arc<dyn Fn() -> Result<Fixture, FixtureError> + Send + Sync>);

impl std::fmt::Debug for FixtureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixtureSource")
    }
}

/// How the server builds workspaces.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub seed: Option<u64>,
    /// The server's fixture, read once more only for another seed.
    pub source: FixtureSource,
    pub clock: Option<(ClockMode, Option<Millis>)>,
    /// The wall clock of every workspace's journal timing.
    pub wall: wall::Wall,
}

/// The workspace an API key belongs to: its id (for re-indexing) and the
/// workspace itself, so a request finds it with one lookup.
#[derive(Debug)]
struct KeyOwner {
    id: String,
    workspace: SharedWorkspace,
}

#[derive(Debug, Default)]
struct Inner {
    workspaces: BTreeMap<String, SharedWorkspace>,
    /// API key → workspace id.
    keys: HashMap<String, KeyOwner>,
}

#[derive(Debug)]
pub struct Registry {
    inner: RwLock<Inner>,
    config: WorldConfig,
    /// The server's fixture built with the server's seed.
    template: Arc<Workspace>,
    ids: Mutex<IdGen>,
    /// The background webhook sender, handed to every workspace built here
    /// (set once by the server; unset for router-level tests).
    pub webhook_sender: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<hooks::Message>>,
}

/// A workspace just created, reset or loaded: its id and the workspace
/// (so the caller reads it without looking it up again).
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub workspace: SharedWorkspace,
}

impl Registry {
    /// Builds the world from the server's `fixture` (already read from `config.source`).
    pub fn new(config: WorldConfig, fixture: Fixture) -> Result<Registry, FixtureError> {
        Self::from_read(config, fixture.into())
    }

    /// As [`Registry::new`], the fixture's documents perhaps already built.
    pub(crate) fn from_read(
        config: WorldConfig,
        read: load::ReadFixture,
    ) -> Result<Registry, FixtureError> {
        let template = Arc::new(Workspace::from_read(
            "default".into(),
            read,
            config.seed,
            config.clock,
        )?);
        let registry = Registry {
            inner: RwLock::new(Inner::default()),
            ids: Mutex::new(IdGen::new(config.seed.unwrap_or(1) ^ 0x5eed)),
            config,
            template: template.clone(),
            webhook_sender: std::sync::OnceLock::new(),
        };
        registry.insert(Workspace::from_pristine("default".into(), template))?;
        Ok(registry)
    }

    /// A workspace built from `fixture`, which resets to it.
    fn build(
        &self,
        id: String,
        fixture: Fixture,
        seed: Option<u64>,
    ) -> Result<Workspace, FixtureError> {
        let pristine = Workspace::from_fixture(id.clone(), fixture, seed, self.config.clock)?;
        Ok(Workspace::from_pristine(id, Arc::new(pristine)))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh id from the server-wide generator (request ids of calls that
    /// belong to no workspace, workspace ids).
    pub fn next_id(&self, prefix: &str) -> String {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .prefixed(prefix, 0)
    }

    pub fn workspace(&self, id: &str) -> Option<SharedWorkspace> {
        self.read().workspaces.get(id).cloned()
    }

    /// Every workspace, in id order.
    pub fn workspaces(&self) -> Vec<SharedWorkspace> {
        self.read().workspaces.values().cloned().collect()
    }

    pub fn workspace_ids(&self) -> Vec<String> {
        self.read().workspaces.keys().cloned().collect()
    }

    pub fn by_key(&self, key: &str) -> Option<SharedWorkspace> {
        self.read()
            .keys
            .get(key)
            .map(|owner| owner.workspace.clone())
    }

    /// Builds a workspace from a fixture and registers its keys. A fixture key
    /// already used by another workspace is replaced by a generated one.
    fn insert(&self, mut ws: Workspace) -> Result<Created, FixtureError> {
        let id = ws.id.clone();
        ws.webhooks.attach(&id, self.webhook_sender.get());
        ws.set_wall(self.config.wall.clone());
        tracing::info!(workspace = %id, "workspace ready");
        let mut inner = self.write();
        for key in &mut ws.keys {
            let taken = inner.keys.get(&key.key).is_some_and(|owner| owner.id != id);
            if taken {
                key.key = self
                    .ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .secret("sk_test_", 32);
            }
        }
        if ws.keys.is_empty() {
            ws.keys.push(model::ApiKey {
                key: self
                    .ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .secret("sk_test_", 32),
                name: "generated".into(),
                scopes: vec!["*".into()],
                revoked: false,
            });
        }
        let shared = Arc::new(Mutex::new(ws));
        index_keys(&mut inner, &id, &lock(&shared).keys, &shared);
        inner.workspaces.insert(id.clone(), shared.clone());
        Ok(Created {
            id,
            workspace: shared,
        })
    }

    /// `POST /_mock/workspaces`
    pub fn create(
        &self,
        seed: Option<u64>,
        fixture: Option<Fixture>,
    ) -> Result<Created, FixtureError> {
        let id = self.next_id("ws_");
        let seed = seed.or(self.config.seed);
        let ws = match fixture {
            Some(fixture) => self.build(id, fixture, seed)?,
            // The server's fixture with its seed: a copy of the template.
            None if seed.is_none_or(|s| s == self.template.seed) => {
                Workspace::from_pristine(id, self.template.clone())
            }
            None => self.build(id, (self.config.source.0)()?, seed)?,
        };
        self.insert(ws)
    }

    /// Puts a workspace back to its fixture (keeping its id and keys).
    pub fn reset(&self, id: &str) -> Result<Created, FixtureError> {
        let ws = self
            .workspace(id)
            .ok_or_else(|| FixtureError::at("workspace", format!("no workspace '{id}'")))?;
        let pristine = lock(&ws).pristine.clone();
        let pristine = pristine.ok_or_else(|| {
            FixtureError::at("workspace", format!("workspace '{id}' has no fixture"))
        })?;
        let mut fresh = Workspace::from_pristine(id.to_string(), pristine);
        fresh.set_wall(self.config.wall.clone());
        tracing::info!(workspace = %id, "workspace reset");
        {
            let mut w = lock(&ws);
            let keys = std::mem::take(&mut w.keys);
            *w = fresh;
            w.webhooks.attach(id, self.webhook_sender.get());
            w.keys = keys;
        }
        Ok(Created {
            id: id.to_string(),
            workspace: ws,
        })
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.write();
        inner.keys.retain(|_, owner| owner.id != id);
        let removed = inner.workspaces.remove(id).is_some();
        if removed {
            tracing::info!(workspace = %id, "workspace removed");
        }
        removed
    }

    /// Replaces the whole state of a workspace with a fixture (a state dump).
    pub fn load(&self, id: &str, fixture: Fixture) -> Result<Created, FixtureError> {
        if self.workspace(id).is_none() {
            return Err(FixtureError::at(
                "workspace",
                format!("no workspace '{id}'"),
            ));
        }
        let seed = fixture.seed.or(self.config.seed);
        let ws = self.build(id.to_string(), fixture, seed)?;
        self.insert(ws)
    }

    /// Re-indexes a workspace's keys after the control API changed them.
    pub fn reindex_keys(&self, id: &str, keys: &[model::ApiKey]) {
        let mut inner = self.write();
        if let Some(shared) = inner.workspaces.get(id).cloned() {
            index_keys(&mut inner, id, keys, &shared);
        }
    }

    /// Whether `key` is free or already belongs to workspace `id`.
    pub fn key_available(&self, key: &str, id: &str) -> bool {
        self.read().keys.get(key).is_none_or(|owner| owner.id == id)
    }

    /// Every workspace, for the state file: `{"format", "workspaces": [{id, fixture}]}`.
    pub fn snapshot(&self) -> serde_json::Value {
        let workspaces: Vec<serde_json::Value> = self
            .workspace_ids()
            .iter()
            .filter_map(|id| self.workspace(id))
            .map(|ws| {
                let w = lock(&ws);
                serde_json::json!({"id": w.id, "fixture": w.to_fixture_with_secrets()})
            })
            .collect();
        serde_json::json!({"format": STATE_FORMAT, "workspaces": workspaces})
    }

    /// Restores a [`Registry::snapshot`]: every workspace with its id, keys and state.
    pub fn restore(&self, snapshot: &serde_json::Value) -> Result<(), FixtureError> {
        if snapshot.get("format").and_then(|f| f.as_str()) != Some(STATE_FORMAT) {
            return Err(FixtureError::at(
                "state file",
                format!("not a state file (expected \"format\": \"{STATE_FORMAT}\")"),
            ));
        }
        let list = snapshot
            .get("workspaces")
            .and_then(|w| w.as_array())
            .ok_or_else(|| FixtureError::at("state file", "missing workspaces"))?;
        for (i, entry) in list.iter().enumerate() {
            let id = entry
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| FixtureError::at(format!("workspaces[{i}].id"), "missing"))?;
            let fixture = Fixture::from_json(entry.get("fixture").cloned().unwrap_or_default())
                .map_err(|e| {
                    FixtureError::at(format!("workspaces[{i}].fixture.{}", e.location), e.message)
                })?;
            let seed = fixture.seed;
            let ws = self.build(id.to_string(), fixture, seed)?;
            self.insert(ws)?;
        }
        Ok(())
    }
}

/// Points every key of workspace `id` (and only those) at `shared`.
fn index_keys(inner: &mut Inner, id: &str, keys: &[model::ApiKey], shared: &SharedWorkspace) {
    // A new workspace has no keys to drop yet: skip the scan over every key.
    if inner.workspaces.contains_key(id) {
        inner.keys.retain(|_, owner| owner.id != id);
    }
    for key in keys {
        inner.keys.insert(
            key.key.clone(),
            KeyOwner {
                id: id.to_string(),
                workspace: shared.clone(),
            },
        );
    }
}

/// The `format` tag of a state file.
pub(crate) const STATE_FORMAT: &str = "numora-mock-state/1";

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_KEY: &str = "sk_test_numora_mock_default";

    fn registry(seed: Option<u64>) -> Registry {
        let config = WorldConfig {
            seed,
            source: FixtureSource(Arc::new(|| Ok(Fixture::default_world()))),
            clock: None,
            wall: wall::Wall::default(),
        };
        Registry::new(config, Fixture::default_world()).unwrap()
    }

    fn owner(registry: &Registry, key: &str) -> Option<String> {
        registry.by_key(key).map(|ws| lock(&ws).id.clone())
    }

    #[test]
    fn workspaces_are_found_by_id_and_by_key() {
        let r = registry(None);
        assert_eq!(r.workspace_ids(), ["default"]);
        assert_eq!(lock(&r.workspace("default").unwrap()).id, "default");
        assert!(r.workspace("ws_nope").is_none());
        assert_eq!(owner(&r, DEFAULT_KEY).as_deref(), Some("default"));
        assert_eq!(owner(&r, "sk_test_nope"), None);

        let a = r.next_id("ws_");
        let b = r.next_id("ws_");
        assert!(a.starts_with("ws_") && a.len() == 29, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_new_workspace_shares_the_template_unless_its_seed_differs() {
        let r = registry(Some(5));
        let same = r.create(None, None).unwrap();
        let same_seed = r.create(Some(5), None).unwrap();
        let other_seed = r.create(Some(6), None).unwrap();
        let pristine = |id: &str| lock(&r.workspace(id).unwrap()).pristine.clone().unwrap();
        assert!(Arc::ptr_eq(&pristine(&same.id), &r.template));
        assert!(Arc::ptr_eq(&pristine(&same_seed.id), &r.template));
        assert!(!Arc::ptr_eq(&pristine(&other_seed.id), &r.template));
        assert_eq!(lock(&r.workspace(&other_seed.id).unwrap()).seed, 6);
        assert_eq!(lock(&r.workspace(&same.id).unwrap()).seed, 5);
        let mut ids = r.workspace_ids();
        ids.sort();
        let mut expected = vec![
            "default".to_string(),
            same.id.clone(),
            same_seed.id.clone(),
            other_seed.id.clone(),
        ];
        expected.sort();
        assert_eq!(ids, expected);
        assert_eq!(r.workspaces().len(), 4);
    }

    #[test]
    fn fixture_defaults_and_document_ids_are_checked() {
        let fixture = Fixture::from_yaml("t.yaml", "{}").unwrap();
        let ws = Workspace::from_fixture("w".into(), fixture, Some(1), None).unwrap();
        assert_eq!(
            ws.settings.session_ttl,
            15 * 60_000,
            "15 minutes by default"
        );
        let text = "documents:\n  - {id: a/b, schema: invoice_v2, status: processing}\n";
        let err = Fixture::from_yaml("t.yaml", text)
            .and_then(|f| Workspace::from_fixture("w".into(), f, Some(1), None))
            .unwrap_err();
        assert!(err.to_string().contains("contain no '/'"), "{err}");
    }

    #[test]
    fn keys_stay_with_their_workspace_through_create_reindex_and_remove() {
        let r = registry(None);
        let created = r.create(None, None).unwrap();
        let created_keys = lock(&created.workspace).keys.clone();
        // The fixture's key belongs to the default workspace: the copy gets
        // a generated one instead of taking it over.
        let defaults: Vec<String> = lock(&r.workspace("default").unwrap())
            .keys
            .iter()
            .map(|k| k.key.clone())
            .collect();
        assert_eq!(created_keys.len(), defaults.len());
        for k in &created_keys {
            assert!(!defaults.contains(&k.key), "{}", k.key);
            assert!(
                k.key.starts_with("sk_test_") && k.key.len() == 40,
                "{}",
                k.key
            );
        }
        let key = created_keys[0].key.clone();
        assert_eq!(owner(&r, DEFAULT_KEY).as_deref(), Some("default"));
        assert_eq!(owner(&r, &key).as_deref(), Some(created.id.as_str()));
        assert!(r.key_available(DEFAULT_KEY, "default"));
        assert!(!r.key_available(DEFAULT_KEY, &created.id));
        assert!(r.key_available("sk_test_unused", &created.id));

        // New keys for the copy: the old one stops working, the default
        // workspace's key is untouched.
        let mut keys = created_keys.clone();
        keys[0].key = "sk_test_renamed".into();
        r.reindex_keys(&created.id, &keys);
        assert_eq!(
            owner(&r, "sk_test_renamed").as_deref(),
            Some(created.id.as_str())
        );
        assert_eq!(owner(&r, &key), None);
        assert_eq!(owner(&r, DEFAULT_KEY).as_deref(), Some("default"));

        assert!(r.remove(&created.id));
        assert!(!r.remove(&created.id));
        assert_eq!(owner(&r, "sk_test_renamed"), None);
        assert_eq!(owner(&r, DEFAULT_KEY).as_deref(), Some("default"));
        assert_eq!(r.workspace_ids(), ["default"]);
    }

    #[test]
    fn a_snapshot_restores_every_workspace_with_its_keys() {
        let r = registry(None);
        let created = r.create(Some(9), None).unwrap();
        let key = lock(&created.workspace).keys[0].key.clone();
        let snapshot = r.snapshot();
        assert_eq!(snapshot["format"], STATE_FORMAT);
        assert_eq!(snapshot["workspaces"].as_array().unwrap().len(), 2);

        let restored = registry(None);
        restored.remove("default");
        restored.restore(&snapshot).unwrap();
        let mut ids = restored.workspace_ids();
        ids.sort();
        let mut expected = vec!["default".to_string(), created.id.clone()];
        expected.sort();
        assert_eq!(ids, expected);
        assert_eq!(owner(&restored, &key).as_deref(), Some(created.id.as_str()));
        assert_eq!(lock(&restored.workspace(&created.id).unwrap()).seed, 9);

        let err = restored
            .restore(&serde_json::json!({"format": "something/9", "workspaces": []}))
            .unwrap_err();
        assert!(err.to_string().contains("not a state file"), "{err}");
    }
}
