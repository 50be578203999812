//! Settings: typed, validated, versioned configuration that staff change at run time.
//!
//! Owns `system_settings` (one row per changed key; absent keys take the defaults in
//! [`model`]) and `setting_versions` (one row per change, with the whole state after it, so a
//! rollback is one call). Secret keys are stored as AES-256-GCM envelopes and only ever leave
//! this module masked. Every process holds the current [`Settings`] in a [`SettingsStore`] that
//! follows changes through `LISTEN settings_changed`, with a short poll as a safety net, so a
//! change reaches every process within seconds.

pub mod api;
mod form;
mod guards;
pub mod model;
pub mod pages;
mod pages_form;
mod pages_history;
pub mod registry;
mod service;
pub mod transfer;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

pub use model::{Category, Secret, Settings};
pub use service::{
    preview, preview_rollback, rollback, update, update_many, versions, Change, ChangeOutcome, Diff, VersionSummary,
};

use crate::crypto::SecretBox;

pub const NOTIFY_CHANNEL: &str = "settings_changed";
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Stored values as plain JSON (secrets decrypted), by category then key.
pub(crate) type PlainValues = std::collections::BTreeMap<Category, Map<String, Value>>;

fn secret_context(category: Category, key: &str) -> String {
    format!("settings:{}.{key}", category.as_str())
}

/// Reads every stored row; secrets are decrypted. A secret that no longer decrypts (the
/// SECRET_KEY changed) is treated as unset and logged, so the system still starts.
pub(crate) async fn load_plain(conn: &mut PgConnection, secrets: &SecretBox) -> Result<PlainValues, sqlx::Error> {
    let rows: Vec<(String, String, Value, bool)> =
        sqlx::query_as("select category, key, value, is_secret from system_settings order by category, key")
            .fetch_all(&mut *conn)
            .await?;
    let mut out = PlainValues::new();
    for (category, key, value, is_secret) in rows {
        let Some(cat) = Category::parse(&category) else {
            tracing::warn!(%category, "ignoring a setting of an unknown category");
            continue;
        };
        let value = if is_secret {
            match value.as_str().map(|env| secrets.open(env, &secret_context(cat, &key))) {
                Some(Ok(plain)) => Value::String(secrecy::ExposeSecret::expose_secret(&plain).to_owned()),
                _ => {
                    tracing::error!(category = cat.as_str(), %key, "a secret setting cannot be decrypted with this SECRET_KEY; treating it as unset");
                    continue;
                }
            }
        } else {
            value
        };
        out.entry(cat).or_default().insert(key, value);
    }
    Ok(out)
}

/// The defaults as JSON, by category.
pub(crate) fn default_values() -> Map<String, Value> {
    match serde_json::to_value(Settings::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Overlays stored values on the defaults and parses the result. A type error names the field.
pub(crate) fn build(plain: &PlainValues) -> Result<Settings, crate::error::FieldError> {
    let mut merged = default_values();
    for (cat, values) in plain {
        if let Some(Value::Object(obj)) = merged.get_mut(cat.as_str()) {
            for (k, v) in values {
                if obj.contains_key(k) {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let json = serde_json::to_string(&Value::Object(merged)).unwrap_or_default();
    let de = &mut serde_json::Deserializer::from_str(&json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        let msg = msg.split(" at line").next().unwrap_or(&msg).to_owned();
        crate::error::FieldError::new(path, msg)
    })
}

/// The settings one process works with, kept current.
pub struct SettingsStore {
    pool: PgPool,
    secrets: SecretBox,
    current: ArcSwap<(Settings, i64)>,
    /// One reload at a time: the watcher (woken by NOTIFY or its poll) and the process that made
    /// the change both call [`Self::refresh`]; the second finds the version current and does
    /// nothing, so each change is read, and logged, once.
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SettingsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsStore")
            .field("version", &self.version())
            .finish()
    }
}

impl SettingsStore {
    pub async fn load(pool: PgPool, secrets: SecretBox) -> anyhow::Result<Arc<Self>> {
        let (settings, version) = Self::read(&pool, &secrets).await?;
        Ok(Arc::new(Self {
            pool,
            secrets,
            current: ArcSwap::from_pointee((settings, version)),
            reloading: tokio::sync::Mutex::new(()),
        }))
    }

    async fn read(pool: &PgPool, secrets: &SecretBox) -> anyhow::Result<(Settings, i64)> {
        let mut conn = pool.acquire().await?;
        let version: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
            .fetch_one(&mut *conn)
            .await?;
        let plain = load_plain(&mut conn, secrets).await?;
        let settings = build(&plain).unwrap_or_else(|e| {
            tracing::error!(field = %e.field, error = %e.message, "stored settings do not parse; using defaults");
            Settings::default()
        });
        Ok((settings, version))
    }

    /// The current settings (cheap: an `Arc` clone).
    pub fn get(&self) -> Arc<(Settings, i64)> {
        self.current.load_full()
    }

    pub fn version(&self) -> i64 {
        self.current.load().1
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// Reloads if the stored version differs from ours. Returns whether anything changed; logs
    /// one line per change this process takes in, whoever asked first.
    pub async fn refresh(&self) -> anyhow::Result<bool> {
        let _one_at_a_time = self.reloading.lock().await;
        let latest: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
            .fetch_one(&self.pool)
            .await?;
        let held = self.version();
        if latest == held {
            return Ok(false);
        }
        let fresh = Self::read(&self.pool, &self.secrets).await?;
        if fresh.1 == held {
            return Ok(false);
        }
        tracing::info!(version = fresh.1, previous = held, "settings reloaded");
        self.current.store(Arc::new(fresh));
        Ok(true)
    }

    /// Follows changes made by any process until `shutdown`: wakes on NOTIFY, and polls every
    /// two seconds in case a notification was missed (e.g. while reconnecting). Each process
    /// says in `settings_applied` which version it runs with (written right after it takes a
    /// version in), so the status page shows every process following a change.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        role: ProcessRole,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            let me = Applied::new(role);
            let mut listener = match PgListener::connect_with(&store.pool).await {
                Ok(mut l) => match l.listen(NOTIFY_CHANNEL).await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "settings: LISTEN failed; polling only");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "settings: no listener connection; polling only");
                    None
                }
            };
            me.record(&store.pool, store.version()).await;
            loop {
                let notified = async {
                    match listener.as_mut() {
                        Some(l) => {
                            let _ = l.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = notified => {},
                    _ = tokio::time::sleep(POLL_INTERVAL) => {},
                }
                match store.refresh().await {
                    Ok(_) => me.record(&store.pool, store.version()).await,
                    Err(e) => tracing::warn!(error = %e, "settings refresh failed"),
                }
            }
            me.forget(&store.pool).await;
        })
    }
}

/// What a process does, as `settings_applied` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRole {
    Serve,
    Worker,
    /// `mbelyco run`: serve and worker in one process.
    Run,
}

impl ProcessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessRole::Serve => "serve",
            ProcessRole::Worker => "worker",
            ProcessRole::Run => "run",
        }
    }
}

/// This process's row in `settings_applied`.
struct Applied {
    id: String,
    role: ProcessRole,
}

impl Applied {
    fn new(role: ProcessRole) -> Self {
        Self {
            id: format!(
                "{}-{}-{}",
                crate::jobs::runner_hostname(),
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
            role,
        }
    }

    /// Says which version this process runs with; `applied_at` moves only when it changes.
    async fn record(&self, pool: &PgPool, version: i64) {
        let r = sqlx::query(
            "insert into settings_applied (process_id, role, hostname, pid, version) values ($1, $2, $3, $4, $5) \
             on conflict (process_id) do update set seen_at = clock_timestamp(), version = excluded.version, \
               applied_at = case when settings_applied.version = excluded.version then settings_applied.applied_at \
                                 else clock_timestamp() end",
        )
        .bind(&self.id)
        .bind(self.role.as_str())
        .bind(crate::jobs::runner_hostname())
        .bind(std::process::id() as i32)
        .bind(version)
        .execute(pool)
        .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "could not record the settings version this process runs with");
        }
    }

    async fn forget(&self, pool: &PgPool) {
        let _ = sqlx::query("delete from settings_applied where process_id = $1")
            .bind(&self.id)
            .execute(pool)
            .await;
    }
}

/// One category as the API shows it: secrets masked.
pub fn view(settings: &Settings, category: Category) -> Value {
    let all = serde_json::to_value(settings).unwrap_or(Value::Null);
    all.get(category.as_str()).cloned().unwrap_or(Value::Null)
}
