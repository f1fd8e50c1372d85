//! The parsed-file cache: each file is read, parsed and validated once, then served as a shared,
//! immutable `Arc` until the file changes.
//!
//! Thread-safe through `dashmap`. The LRU bound is a last-used tick per entry and a scan on
//! insert: the cache holds tens of entries (one per file and section type), so a linked list or a
//! cache crate would buy nothing and cost a dependency.

use std::any::{Any, TypeId};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dashmap::DashMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::env::Environment;
use crate::error::ConfigError;
use crate::load::{Section, parse_section};

/// Modification times closer to "now" than this may hide a second write within the same
/// timestamp tick (coarse filesystems), so such files are also compared by content hash.
const COARSE_MTIME_WINDOW: Duration = Duration::from_secs(2);

/// What identifies one version of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    sha256: [u8; 32],
}

impl Fingerprint {
    /// Reads the file and fingerprints it; a missing file is `Ok(None)`.
    pub(crate) fn read(path: &Path) -> Result<Option<(Self, String)>, ConfigError> {
        let io = |source| ConfigError::Io {
            file: path.to_owned(),
            source,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        // Metadata is taken before the content, so a write during the read shows up as a
        // changed fingerprint next time rather than being masked.
        let text = std::fs::read_to_string(path).map_err(io)?;
        let fingerprint = Fingerprint {
            modified: meta.modified().ok(),
            len: meta.len(),
            sha256: Sha256::digest(text.as_bytes()).into(),
        };
        Ok(Some((fingerprint, text)))
    }

    fn same_metadata(&self, meta: &std::fs::Metadata) -> bool {
        self.modified == meta.modified().ok() && self.len == meta.len()
    }

    fn mtime_is_recent(&self) -> bool {
        match self.modified.map(|m| SystemTime::now().duration_since(m)) {
            Some(Ok(age)) => age < COARSE_MTIME_WINDOW,
            // Unknown or future modification times are treated as "could change unseen".
            _ => true,
        }
    }
}

struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    /// `None` for a file that did not exist (defaults).
    fingerprint: Option<Fingerprint>,
    checked_at: Instant,
    last_used: AtomicU64,
}

/// Counters readable by the server (`/admin/config/cache`) and the benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Entries replaced because their file changed.
    pub reloads: u64,
    pub entries: u64,
    pub max_entries: u64,
}

/// Cache of parsed, validated sections keyed by file and section type.
pub struct ConfigCache {
    entries: DashMap<(PathBuf, TypeId), Entry>,
    max_entries: usize,
    check_interval: Duration,
    tick: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    reloads: AtomicU64,
}

impl std::fmt::Debug for ConfigCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Whether a lookup may trust a recently checked entry or must look at the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Trust entries checked within the check interval (normal lookups).
    WithinInterval,
    /// Look at the file now (reloads).
    CheckNow,
}

impl ConfigCache {
    /// A cache holding at most `max_entries`, trusting an entry for `check_interval`.
    pub fn new(max_entries: usize, check_interval: Duration) -> Self {
        Self {
            entries: DashMap::new(),
            max_entries: max_entries.max(1),
            check_interval,
            tick: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
        }
    }

    /// The section of type `T` in `path`, from the cache when the file is unchanged.
    pub fn get<T: Section>(
        &self,
        path: &Path,
        env: &Environment,
        freshness: Freshness,
    ) -> Result<Arc<T>, ConfigError> {
        let key = (path.to_owned(), TypeId::of::<T>());
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        if freshness == Freshness::WithinInterval
            && let Some(entry) = self.entries.get(&key)
            && entry.checked_at.elapsed() < self.check_interval
        {
            entry.last_used.store(tick, Ordering::Relaxed);
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(downcast(&entry.value));
        }
        self.revalidate::<T>(key, path, env, tick)
    }

    /// Looks at the file: keeps the entry when it is the same version, else re-parses.
    fn revalidate<T: Section>(
        &self,
        key: (PathBuf, TypeId),
        path: &Path,
        env: &Environment,
        tick: u64,
    ) -> Result<Arc<T>, ConfigError> {
        // Cheap check first: unchanged metadata on a file not written in the last moments.
        if let Some(mut entry) = self.entries.get_mut(&key) {
            let unchanged = match (&entry.fingerprint, std::fs::metadata(path)) {
                (Some(fp), Ok(meta)) => fp.same_metadata(&meta) && !fp.mtime_is_recent(),
                (None, Err(e)) => e.kind() == std::io::ErrorKind::NotFound,
                _ => false,
            };
            if unchanged {
                entry.checked_at = Instant::now();
                entry.last_used.store(tick, Ordering::Relaxed);
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(downcast(&entry.value));
            }
        }
        // File I/O and parsing happen outside any map lock.
        let read = Fingerprint::read(path)?;
        let fingerprint = read.as_ref().map(|(fp, _)| fp.clone());
        if let Some(mut entry) = self.entries.get_mut(&key) {
            let same_content = match (&entry.fingerprint, &fingerprint) {
                (Some(old), Some(new)) => old.sha256 == new.sha256,
                (None, None) => true,
                _ => false,
            };
            if same_content {
                entry.fingerprint = fingerprint;
                entry.checked_at = Instant::now();
                entry.last_used.store(tick, Ordering::Relaxed);
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(downcast(&entry.value));
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let section: Arc<T> = Arc::new(parse_section::<T>(
            path,
            read.as_ref().map(|(_, t)| t.as_str()),
            env,
        )?);
        let replaced = self.entries.contains_key(&key);
        if replaced {
            self.reloads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.evict_to_fit();
        }
        self.entries.insert(
            key,
            Entry {
                value: section.clone(),
                fingerprint,
                checked_at: Instant::now(),
                last_used: AtomicU64::new(tick),
            },
        );
        Ok(section)
    }

    fn evict_to_fit(&self) {
        while self.entries.len() >= self.max_entries {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|e| e.value().last_used.load(Ordering::Relaxed))
                .map(|e| e.key().clone());
            match oldest {
                Some(key) => {
                    if self.entries.remove(&key).is_some() {
                        self.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => break,
            }
        }
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            reloads: self.reloads.load(Ordering::Relaxed),
            entries: self.entries.len() as u64,
            max_entries: self.max_entries as u64,
        }
    }
}

fn downcast<T: Send + Sync + 'static>(value: &Arc<dyn Any + Send + Sync>) -> Arc<T> {
    match Arc::clone(value).downcast::<T>() {
        Ok(v) => v,
        // The key includes `TypeId::of::<T>()`, so the stored value is always a `T`.
        Err(_) => unreachable!("config cache entry type does not match its key; this is a bug"),
    }
}
