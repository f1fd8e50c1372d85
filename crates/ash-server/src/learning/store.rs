//! Where staff corrections are kept: an embedded database for one node (redb), or Redis shared by
//! every replica. Both are durable before `put` returns.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use ash_config::CrisisLevel;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

pub use ash_types::CorrectionKind;

/// One stored correction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub id: String,
    pub kind: CorrectionKind,
    pub detected_level: CrisisLevel,
    pub correct_level: CrisisLevel,
    /// Unix seconds.
    pub received_at: u64,
    /// `api_key`, `allowed_ip` or `import`.
    pub source: String,
    /// Keyed hash of the normalised text (for repeats), never reversible by guessing.
    pub message_hash: String,
    pub message_chars: usize,
    /// Only when `storage.retain_message_text` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The message's embedding from the default embedding model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

impl Correction {
    /// What calibration reads of it.
    pub fn calibration_event(&self) -> ash_analysis::learning::CalibrationEvent<'_> {
        ash_analysis::learning::CalibrationEvent {
            id: &self.id,
            kind: self.kind,
            received_at: self.received_at,
        }
    }
}

/// A storage failure (logged; the API answers 500 without details).
#[derive(Debug, thiserror::Error)]
#[error("correction store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// The operations the learning layer needs from a store.
pub trait CorrectionStore: Send + Sync {
    /// Stores (or replaces) a correction; durable when this returns.
    fn put(&self, correction: &Correction) -> Result<(), StoreError>;
    /// Removes a correction; `false` when there was none.
    fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Makes deletions final on disk: what was deleted leaves the store's files, not only its
    /// index. Called after deleting (once per batch of deletions).
    fn erase_deleted(&self) -> Result<(), StoreError>;
    /// Every correction.
    fn all(&self) -> Result<Vec<Correction>, StoreError>;
    /// A named value (calibration reset time, hash key).
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Stores `value` under `key` unless one is there; returns the stored value (so that
    /// replicas starting together agree).
    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError>;
    /// Changes whenever the stored data changes, here or on another replica.
    fn version(&self) -> Result<u64, StoreError>;
    /// For logs and the admin API.
    fn describe(&self) -> String;
}

const CORRECTIONS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("corrections");
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");

/// One node: a redb file in the data directory. Each write is its own fsync'd transaction.
///
/// A deletion rewrites the file without the deleted entries: redb frees a deleted entry's pages
/// but leaves their bytes (text, embedding) in the file until reused, and a correction that was
/// deleted, by staff or by retention, must be gone from the disk the service manages.
pub struct EmbeddedStore {
    /// Shared by every read and write; taken exclusively only to swap in a rewritten file.
    db: RwLock<redb::Database>,
    path: PathBuf,
    version: AtomicU64,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish()
    }
}

impl EmbeddedStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let path = dir.join("corrections.redb");
        // A rewrite interrupted before its rename leaves only this behind; the original is whole.
        let _ = std::fs::remove_file(rewrite_path(&path));
        let db = create_with_tables(&path)?;
        Ok(Self {
            db: RwLock::new(db),
            path,
            version: AtomicU64::new(0),
        })
    }

    fn db(&self) -> std::sync::RwLockReadGuard<'_, redb::Database> {
        self.db.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies every live entry into a new file, makes it durable, and renames it over the old
    /// one, so that nothing deleted remains in the file.
    fn rewrite(&self) -> Result<(), StoreError> {
        let mut db = self.db.write().unwrap_or_else(|p| p.into_inner());
        let fresh_path = rewrite_path(&self.path);
        let _ = std::fs::remove_file(&fresh_path);
        {
            let fresh = create_with_tables(&fresh_path)?;
            let read = db.begin_read().map_err(err)?;
            let write = fresh.begin_write().map_err(err)?;
            {
                let mut corrections = write.open_table(CORRECTIONS).map_err(err)?;
                for entry in read
                    .open_table(CORRECTIONS)
                    .map_err(err)?
                    .iter()
                    .map_err(err)?
                {
                    let (k, v) = entry.map_err(err)?;
                    corrections.insert(k.value(), v.value()).map_err(err)?;
                }
                let mut meta = write.open_table(META).map_err(err)?;
                for entry in read.open_table(META).map_err(err)?.iter().map_err(err)? {
                    let (k, v) = entry.map_err(err)?;
                    meta.insert(k.value(), v.value()).map_err(err)?;
                }
            }
            write.commit().map_err(err)?;
        }
        std::fs::rename(&fresh_path, &self.path).map_err(err)?;
        if let Some(dir) = self.path.parent() {
            // The rename itself survives a crash once the directory is synced.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(err)?;
        }
        *db = redb::Database::open(&self.path).map_err(err)?;
        Ok(())
    }
}

/// Where a rewrite builds the new file before renaming it into place.
fn rewrite_path(path: &Path) -> PathBuf {
    path.with_extension("redb.rewrite")
}

/// Opens (or creates) a database file with both tables, so that reads work on a fresh file.
fn create_with_tables(path: &Path) -> Result<redb::Database, StoreError> {
    let db = redb::Database::create(path).map_err(err)?;
    let txn = db.begin_write().map_err(err)?;
    txn.open_table(CORRECTIONS).map_err(err)?;
    txn.open_table(META).map_err(err)?;
    txn.commit().map_err(err)?;
    Ok(db)
}

impl CorrectionStore for EmbeddedStore {
    fn put(&self, c: &Correction) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(c).map_err(err)?;
        let txn = self.db().begin_write().map_err(err)?;
        txn.open_table(CORRECTIONS)
            .map_err(err)?
            .insert(c.id.as_str(), bytes.as_slice())
            .map_err(err)?;
        txn.commit().map_err(err)?;
        self.version.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.db().begin_write().map_err(err)?;
        let removed = txn
            .open_table(CORRECTIONS)
            .map_err(err)?
            .remove(id)
            .map_err(err)?
            .is_some();
        txn.commit().map_err(err)?;
        self.version.fetch_add(1, Ordering::SeqCst);
        Ok(removed)
    }

    fn erase_deleted(&self) -> Result<(), StoreError> {
        self.rewrite()
    }

    fn all(&self) -> Result<Vec<Correction>, StoreError> {
        let txn = self.db().begin_read().map_err(err)?;
        let table = txn.open_table(CORRECTIONS).map_err(err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (_, value) = entry.map_err(err)?;
            out.push(serde_json::from_slice(value.value()).map_err(err)?);
        }
        Ok(out)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db().begin_read().map_err(err)?;
        let table = txn.open_table(META).map_err(err)?;
        Ok(table.get(key).map_err(err)?.map(|v| v.value().to_owned()))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let txn = self.db().begin_write().map_err(err)?;
        txn.open_table(META)
            .map_err(err)?
            .insert(key, value)
            .map_err(err)?;
        txn.commit().map_err(err)?;
        self.version.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let txn = self.db().begin_write().map_err(err)?;
        let stored = {
            let mut table = txn.open_table(META).map_err(err)?;
            let existing = table.get(key).map_err(err)?.map(|v| v.value().to_owned());
            match existing {
                Some(v) => v,
                None => {
                    table.insert(key, value).map_err(err)?;
                    value.to_owned()
                }
            }
        };
        txn.commit().map_err(err)?;
        Ok(stored)
    }

    fn version(&self) -> Result<u64, StoreError> {
        Ok(self.version.load(Ordering::SeqCst))
    }

    fn describe(&self) -> String {
        format!("embedded ({})", self.path.display())
    }
}

/// Several replicas: one Redis. Corrections in a hash, a version counter bumped on every change
/// (replicas poll it), meta values in plain keys.
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisStore {
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|_| StoreError("invalid Redis URL".into()))?;
        let store = Self {
            client,
            prefix: "ash-nlp".into(),
        };
        // Fail at start-up, not at the first correction.
        store.conn()?;
        Ok(store)
    }

    fn conn(&self) -> Result<redis::Connection, StoreError> {
        self.client
            .get_connection_with_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError(format!("cannot reach Redis: {}", e.kind_str())))
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    /// The error without the URL (which may hold a password).
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

impl CorrectionStore for RedisStore {
    fn put(&self, c: &Correction) -> Result<(), StoreError> {
        let json = serde_json::to_string(c).map_err(err)?;
        let mut con = self.conn()?;
        redis::pipe()
            .atomic()
            .hset(self.key("corrections"), &c.id, json)
            .incr(self.key("version"), 1)
            .query::<()>(&mut con)
            .map_err(|e| StoreError(e.kind_str()))?;
        // Acknowledged only once Redis has it; with appendfsync configured, it is on disk too.
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut con = self.conn()?;
        let (removed, _): (u64, u64) = redis::pipe()
            .atomic()
            .hdel(self.key("corrections"), id)
            .incr(self.key("version"), 1)
            .query(&mut con)
            .map_err(|e| StoreError(e.kind_str()))?;
        Ok(removed > 0)
    }

    /// `HDEL` removes the entry from Redis's memory at once; its persistence files drop it at
    /// their next rewrite (RDB snapshot or AOF rewrite), which the Redis operator schedules.
    fn erase_deleted(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn all(&self) -> Result<Vec<Correction>, StoreError> {
        let mut con = self.conn()?;
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(self.key("corrections"))
            .query(&mut con)
            .map_err(|e| StoreError(e.kind_str()))?;
        values
            .iter()
            .map(|v| serde_json::from_str(v).map_err(err))
            .collect()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut con = self.conn()?;
        redis::cmd("GET")
            .arg(self.key(key))
            .query(&mut con)
            .map_err(|e| StoreError(e.kind_str()))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut con = self.conn()?;
        redis::pipe()
            .atomic()
            .set(self.key(key), value)
            .incr(self.key("version"), 1)
            .query::<()>(&mut con)
            .map_err(|e| StoreError(e.kind_str()))
    }

    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let mut con = self.conn()?;
        let _: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .query(&mut con)
            .map_err(|e| StoreError(e.kind_str()))?;
        let stored: Option<String> = redis::cmd("GET")
            .arg(self.key(key))
            .query(&mut con)
            .map_err(|e| StoreError(e.kind_str()))?;
        stored.ok_or_else(|| StoreError("meta value vanished".into()))
    }

    fn version(&self) -> Result<u64, StoreError> {
        let mut con = self.conn()?;
        let v: Option<u64> = redis::cmd("GET")
            .arg(self.key("version"))
            .query(&mut con)
            .map_err(|e| StoreError(e.kind_str()))?;
        Ok(v.unwrap_or(0))
    }

    fn describe(&self) -> String {
        format!("redis (prefix {})", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::{Correction, CorrectionKind, CorrectionStore, EmbeddedStore};
    use ash_config::CrisisLevel;

    fn correction(id: &str, text: &str) -> Correction {
        Correction {
            id: id.to_owned(),
            kind: CorrectionKind::FalseNegative,
            detected_level: CrisisLevel::None,
            correct_level: CrisisLevel::High,
            received_at: 1,
            source: "test".into(),
            message_hash: "h".into(),
            message_chars: text.chars().count(),
            message: Some(text.to_owned()),
            embedding: Some(vec![0.25; 384]),
        }
    }

    fn file_contains(dir: &std::path::Path, marker: &str) -> bool {
        let bytes = std::fs::read(dir.join("corrections.redb")).expect("read the file");
        bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
    }

    #[test]
    fn a_deleted_correction_leaves_the_file_not_only_the_index() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(tmp.path()).expect("open");
        let marker = "marker-7f3a9c-deleted-text";
        for i in 0..20 {
            store
                .put(&correction(&format!("keep-{i}"), "kept text"))
                .expect("put");
        }
        store.put(&correction("gone", marker)).expect("put");
        assert!(file_contains(tmp.path(), marker));
        assert!(store.delete("gone").expect("delete"));
        store.erase_deleted().expect("erase");
        assert!(
            !file_contains(tmp.path(), marker),
            "the deleted text is still in the file"
        );
        assert_eq!(store.all().expect("all").len(), 20);
        // Still a working store, and still there after a reopen.
        store.put(&correction("after", "x")).expect("put");
        drop(store);
        let reopened = EmbeddedStore::open(tmp.path()).expect("reopen");
        assert_eq!(reopened.all().expect("all").len(), 21);
    }

    #[test]
    fn the_embedded_store_creates_its_directory_and_file_on_first_use() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("not/yet/there");
        let store = EmbeddedStore::open(&dir).expect("open");
        assert!(dir.join("corrections.redb").is_file());
        assert!(store.all().expect("all").is_empty());
        store.set_meta("k", "v").expect("write");
        drop(store);
        let reopened = EmbeddedStore::open(&dir).expect("reopen");
        assert_eq!(reopened.meta("k").expect("meta").as_deref(), Some("v"));
    }
}
