//! The templates one process works with, kept current like the settings
//! ([`crate::settings::SettingsStore`]): read once, swapped whole when a save is seen (the saving
//! process refreshes after its commit; others wake on `NOTIFY templates_changed`, with a short
//! poll as a safety net). The USSD hot path reads an `Arc` and never the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::catalogue::{self, Channel};
use crate::ussd::messages::Lang;

pub const NOTIFY_CHANNEL: &str = "templates_changed";
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// One stored text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub subject: Option<String>,
    pub body: String,
}

/// Every stored template of the catalogue, as of one version.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    /// The last change seen (`notification_template_versions.version`; 0 before any).
    pub version: i64,
    texts: HashMap<(&'static str, Channel, &'static str), Text>,
}

impl Templates {
    /// The stored text of `key` on `channel` in `lang`, if there is one.
    pub fn get(&self, key: &str, channel: Channel, lang: Lang) -> Option<&Text> {
        let entry = catalogue::find(key, channel)?;
        self.texts.get(&(entry.key, channel, lang.as_str()))
    }

    /// The body of `key` on `channel` in `lang`: stored, else the catalogue's default.
    pub fn body(&self, key: &str, channel: Channel, lang: Lang) -> Option<String> {
        match self.get(key, channel, lang) {
            Some(t) => Some(t.body.clone()),
            None => catalogue::find(key, channel).map(|e| e.default(lang).1.to_owned()),
        }
    }

    async fn read(pool: &PgPool) -> Result<Templates, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let version: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from notification_template_versions")
            .fetch_one(&mut *conn)
            .await?;
        let rows: Vec<(String, String, String, Option<String>, String)> =
            sqlx::query_as("select key, channel, locale, subject, body from notification_templates")
                .fetch_all(&mut *conn)
                .await?;
        let mut texts = HashMap::new();
        for (key, channel, locale, subject, body) in rows {
            let Some(entry) = Channel::parse(&channel).and_then(|c| catalogue::find(&key, c)) else {
                continue;
            };
            let Some(lang) = Lang::parse(&locale) else { continue };
            texts.insert((entry.key, entry.channel, lang.as_str()), Text { subject, body });
        }
        Ok(Templates { version, texts })
    }
}

/// The current templates, and how they are kept current.
pub struct TemplateStore {
    pool: PgPool,
    current: ArcSwap<Templates>,
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TemplateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateStore")
            .field("version", &self.current.load().version)
            .finish()
    }
}

impl TemplateStore {
    pub async fn load(pool: PgPool) -> Result<Arc<Self>, sqlx::Error> {
        let current = Templates::read(&pool).await?;
        Ok(Arc::new(Self {
            pool,
            current: ArcSwap::from_pointee(current),
            reloading: tokio::sync::Mutex::new(()),
        }))
    }

    /// The current templates (an `Arc` clone).
    pub fn get(&self) -> Arc<Templates> {
        self.current.load_full()
    }

    /// Reloads when the stored version differs from ours; returns whether anything changed.
    pub async fn refresh(&self) -> Result<bool, sqlx::Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let latest: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from notification_template_versions")
            .fetch_one(&self.pool)
            .await?;
        if latest == self.current.load().version {
            return Ok(false);
        }
        let fresh = Templates::read(&self.pool).await?;
        tracing::info!(version = fresh.version, "notification templates reloaded");
        self.current.store(Arc::new(fresh));
        Ok(true)
    }

    /// Follows saves made by any process until `shutdown`.
    pub fn spawn_watcher(self: &Arc<Self>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            let mut listener = match PgListener::connect_with(&store.pool).await {
                Ok(mut l) => l.listen(NOTIFY_CHANNEL).await.ok().map(|()| l),
                Err(e) => {
                    tracing::warn!(error = %e, "templates: no listener connection; polling only");
                    None
                }
            };
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
                if let Err(e) = store.refresh().await {
                    tracing::warn!(error = %e, "templates refresh failed");
                }
            }
        })
    }
}
