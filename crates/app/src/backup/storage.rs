//! Where backups are kept: a folder under `DATA_DIR` or S3-compatible object storage. Both are
//! `object_store::ObjectStore` implementations (its `LocalFileSystem` and `AmazonS3`), so the
//! backup writes through one streaming multipart writer and reads one byte stream whichever
//! the settings chose (decision 0053).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use serde::Serialize;
use tokio::io::AsyncRead;
use uuid::Uuid;

use crate::settings::model::BackupSettings;

/// Where a backup is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    Local,
    S3,
}

impl StorageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Local => "local",
            StorageKind::S3 => "s3",
        }
    }

    /// The kind the settings choose (`storageType`).
    pub fn of(settings: &BackupSettings) -> Self {
        if settings.storage_type == "s3" {
            StorageKind::S3
        } else {
            StorageKind::Local
        }
    }
}

/// One storage, opened from the backup settings.
pub struct Storage {
    pub kind: StorageKind,
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    /// The storage of `kind` as the settings describe it: local under `data_dir`, or the S3
    /// bucket of `s3Endpoint`/`s3Bucket`/`s3Region` with `s3AccessKeyId`/`s3SecretAccessKey`.
    pub fn open(kind: StorageKind, settings: &BackupSettings, data_dir: &Path) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match kind {
            StorageKind::Local => {
                std::fs::create_dir_all(data_dir)
                    .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
                Arc::new(LocalFileSystem::new_with_prefix(data_dir).context("cannot open the data directory")?)
            }
            StorageKind::S3 => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(settings.s3_bucket.trim())
                    .with_region(settings.s3_region.trim())
                    .with_access_key_id(settings.s3_access_key_id.trim())
                    .with_secret_access_key(settings.s3_secret_access_key.expose().unwrap_or_default());
                let endpoint = settings.s3_endpoint.trim();
                if !endpoint.is_empty() {
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(b.build().context("the S3 settings of the backups are incomplete")?)
            }
        };
        Ok(Self { kind, store })
    }

    /// The object key of a new backup: under `storagePath` (local, relative to `DATA_DIR`) or
    /// `s3Prefix` (S3).
    pub fn key_for(kind: StorageKind, settings: &BackupSettings, id: Uuid) -> String {
        let folder = match kind {
            StorageKind::Local => settings.storage_path.trim().trim_matches('/'),
            StorageKind::S3 => settings.s3_prefix.trim().trim_matches('/'),
        };
        if folder.is_empty() {
            format!("{id}.dump")
        } else {
            format!("{folder}/{id}.dump")
        }
    }

    /// A streaming writer: parts go out as they fill (S3 multipart upload; a temporary file
    /// renamed on completion locally).
    pub async fn writer(&self, key: &str) -> anyhow::Result<WriteMultipart> {
        let upload = self
            .store
            .put_multipart(&ObjectPath::from(key))
            .await
            .with_context(|| format!("cannot start writing {key} to {} storage", self.kind.as_str()))?;
        Ok(WriteMultipart::new_with_chunk_size(upload, 8 << 20))
    }

    /// The stored bytes as a stream.
    pub async fn reader(&self, key: &str) -> anyhow::Result<impl AsyncRead + Unpin + Send + 'static> {
        let got = self
            .store
            .get(&ObjectPath::from(key))
            .await
            .with_context(|| format!("cannot read {key} from {} storage", self.kind.as_str()))?;
        let stream = got.into_stream().map_err(std::io::Error::other);
        Ok(tokio_util::io::StreamReader::new(stream))
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot delete {key}"))),
        }
    }

    /// Overwrites a stored object (tests flip a byte with it).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store.put(&ObjectPath::from(key), bytes.into()).await?;
        Ok(())
    }

    /// The whole stored object (tests).
    pub async fn get_all(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        let got = self.store.get(&ObjectPath::from(key)).await?;
        Ok(got.bytes().await?.to_vec())
    }
}
