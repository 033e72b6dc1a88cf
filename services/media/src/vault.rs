//! Sealed objects in an object store. Each object is encrypted with its own
//! key; the key is wrapped with the master key and handed back to be kept in
//! the database, never in the store.

use std::sync::Arc;

use hms_crypto::{DataKey, SealingKey};
use hms_domain::{DocumentId, OrderId};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use crate::error::MediaError;

/// Where objects are kept, as `HMS_MEDIA_STORE_URL` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `file:///dir`
    Local(std::path::PathBuf),
    /// `s3://bucket/prefix`, with `AWS_*` settings from the environment.
    S3 { url: Url, prefix: String },
}

impl StoreLocation {
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|error| error.to_string())?;
        match parsed.scheme() {
            "file" => parsed
                .to_file_path()
                .map(Self::Local)
                .map_err(|()| "not a local path".to_owned()),
            "s3" => Ok(Self::S3 {
                prefix: parsed.path().trim_matches('/').to_owned(),
                url: parsed,
            }),
            other => Err(format!("unsupported scheme `{other}` (use file or s3)")),
        }
    }
}

#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn ObjectStore>,
    master: SealingKey,
    master_key_id: String,
}

/// A freshly stored object: where it is and its wrapped key.
pub struct StoredObject {
    pub path: String,
    pub wrapped_key: Vec<u8>,
}

impl Vault {
    pub fn new(store: Arc<dyn ObjectStore>, master: SealingKey, master_key_id: String) -> Self {
        Self {
            store,
            master,
            master_key_id,
        }
    }

    pub fn master_key_id(&self) -> &str {
        &self.master_key_id
    }

    /// The object store at `location`, opened (a local folder is created
    /// if missing). The error says why, never a credential.
    pub fn open_store(location: &StoreLocation) -> Result<Arc<dyn ObjectStore>, String> {
        match location {
            StoreLocation::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|error| {
                    format!(
                        "cannot create the media directory {}: {error}",
                        dir.display()
                    )
                })?;
                // An order's folder goes with its last object: a purged
                // order leaves not even its id behind.
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|error| error.to_string())?
                    .with_automatic_cleanup(true);
                Ok(Arc::new(store))
            }
            StoreLocation::S3 { url, prefix } => {
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(|error| error.to_string())?;
                if prefix.is_empty() {
                    Ok(Arc::new(store))
                } else {
                    Ok(Arc::new(object_store::prefix::PrefixStore::new(
                        store,
                        prefix.as_str(),
                    )))
                }
            }
        }
    }

    /// Where an order's object lies: all objects of an order share a prefix.
    pub fn object_path(order_id: OrderId, document_id: DocumentId) -> String {
        format!("orders/{order_id}/{document_id}")
    }

    /// Encrypts `plaintext` under a new key and stores it.
    pub async fn put(
        &self,
        order_id: OrderId,
        document_id: DocumentId,
        plaintext: &[u8],
    ) -> Result<StoredObject, MediaError> {
        let key = DataKey::generate();
        let aad = document_id.as_uuid();
        let sealed = key.sealing_key().seal(plaintext, aad.as_bytes())?;
        let wrapped_key = self.master.wrap(&key, aad.as_bytes())?;
        let path = Self::object_path(order_id, document_id);
        self.store
            .put(&Path::from(path.as_str()), PutPayload::from(sealed))
            .await
            .map_err(|error| MediaError::Store(error.to_string()))?;
        Ok(StoredObject { path, wrapped_key })
    }

    /// Reads and decrypts an object.
    pub async fn get(
        &self,
        document_id: DocumentId,
        path: &str,
        wrapped_key: &[u8],
    ) -> Result<Vec<u8>, MediaError> {
        let aad = document_id.as_uuid();
        let key = self.master.unwrap_key(wrapped_key, aad.as_bytes())?;
        let sealed = self
            .store
            .get(&Path::from(path))
            .await
            .map_err(|error| MediaError::Store(error.to_string()))?
            .bytes()
            .await
            .map_err(|error| MediaError::Store(error.to_string()))?;
        let plaintext = key.sealing_key().open(&sealed, aad.as_bytes())?;
        Ok(plaintext.to_vec())
    }

    /// Deletes whatever still lies below the order's prefix; how many.
    pub async fn delete_order_objects(&self, order_id: OrderId) -> Result<u32, MediaError> {
        use futures::TryStreamExt;
        let prefix = Path::from(format!("orders/{order_id}"));
        let objects: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|error| MediaError::Store(error.to_string()))?;
        for object in &objects {
            self.delete(object.as_ref()).await?;
        }
        Ok(objects.len() as u32)
    }

    /// Deletes an object; an object that is already gone counts as deleted.
    pub async fn delete(&self, path: &str) -> Result<(), MediaError> {
        match self.store.delete(&Path::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(MediaError::Store(error.to_string())),
        }
    }
}
