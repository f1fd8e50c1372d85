//! The live configuration: atomically swapped on reload, with a reload status for `/health`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{CacheStats, Config, ConfigError, ConfigLoader, Environment};

/// Called after a new configuration is live, with the old and the new one.
type Listener = Box<dyn Fn(&Arc<Config>, &Arc<Config>) + Send + Sync>;

/// What the last reloads did, for `/health` and the admin API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReloadStatus {
    /// Increments each time a different configuration goes live (1 = the start-up one).
    pub generation: u64,
    /// Unix seconds when the live configuration was loaded.
    pub loaded_at: u64,
    pub reloads_applied: u64,
    pub reloads_failed: u64,
    /// Unix seconds of the last reload attempt, if any.
    pub last_attempt_at: Option<u64>,
    /// Why the last attempt failed; cleared by the next success.
    pub last_error: Option<String>,
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The files were read and validated but mean the same configuration.
    Unchanged,
    /// A new configuration is live.
    Applied { generation: u64 },
}

/// Holds the live configuration and reloads it.
pub struct ConfigStore {
    loader: ConfigLoader,
    current: ArcSwap<Config>,
    status: Mutex<ReloadStatus>,
    listeners: Mutex<Vec<Listener>>,
    /// Serialises reloads so two watchers or admin calls cannot interleave.
    reload_lock: Mutex<()>,
}

impl std::fmt::Debug for ConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigStore")
            .field("dir", &self.loader.dir())
            .field("status", &self.status())
            .finish()
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ConfigStore {
    /// Loads `dir` under `env`; fails (with every problem listed) if the configuration is invalid.
    pub fn open(dir: impl Into<PathBuf>, env: Environment) -> Result<Arc<Self>, ConfigError> {
        let loader = ConfigLoader::new(dir, env)?;
        let config = loader.load()?;
        Ok(Arc::new(Self {
            loader,
            current: ArcSwap::from_pointee(config),
            status: Mutex::new(ReloadStatus {
                generation: 1,
                loaded_at: now_unix(),
                ..ReloadStatus::default()
            }),
            listeners: Mutex::new(Vec::new()),
            reload_lock: Mutex::new(()),
        }))
    }

    /// The live configuration. Cheap; hold the `Arc` for the length of one request so that the
    /// request sees one consistent configuration even if a reload happens meanwhile.
    pub fn current(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// Re-reads every file. A valid, different configuration is swapped in atomically; an invalid
    /// one is refused and the live configuration stays as it was.
    pub fn reload(&self) -> Result<ReloadOutcome, ConfigError> {
        let _serial = lock(&self.reload_lock);
        let attempt_at = now_unix();
        match self.loader.load() {
            Err(error) => {
                let mut status = lock(&self.status);
                status.reloads_failed += 1;
                metrics::counter!("ash_config_reloads_total", "outcome" => "refused").increment(1);
                status.last_attempt_at = Some(attempt_at);
                status.last_error = Some(error.to_string());
                tracing::error!(
                    error = %error,
                    dir = %self.loader.dir().display(),
                    "configuration reload refused; the previous configuration stays live"
                );
                Err(error)
            }
            Ok(config) => {
                let old = self.current();
                let outcome = if *old == config {
                    ReloadOutcome::Unchanged
                } else {
                    let new = Arc::new(config);
                    self.current.store(Arc::clone(&new));
                    let generation = {
                        let mut status = lock(&self.status);
                        status.generation += 1;
                        status.loaded_at = attempt_at;
                        status.reloads_applied += 1;
                        status.generation
                    };
                    tracing::info!(generation, "configuration reloaded");
                    metrics::counter!("ash_config_reloads_total", "outcome" => "applied")
                        .increment(1);
                    for listener in lock(&self.listeners).iter() {
                        listener(&old, &new);
                    }
                    ReloadOutcome::Applied { generation }
                };
                let mut status = lock(&self.status);
                status.last_attempt_at = Some(attempt_at);
                status.last_error = None;
                Ok(outcome)
            }
        }
    }

    /// Registers a callback run after each applied reload (for example to re-embed labels).
    pub fn on_change(&self, listener: impl Fn(&Arc<Config>, &Arc<Config>) + Send + Sync + 'static) {
        lock(&self.listeners).push(Box::new(listener));
    }

    /// The reload status.
    pub fn status(&self) -> ReloadStatus {
        lock(&self.status).clone()
    }

    /// Cache counters, when the cache is on.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.loader.cache_stats()
    }

    /// The loader (directory, environment, single-section lookups).
    pub fn loader(&self) -> &ConfigLoader {
        &self.loader
    }

    /// The environment the configuration was loaded under.
    pub fn env(&self) -> &Environment {
        self.loader.env()
    }

    /// Starts a thread that reloads when a file in the directory changes (content, not only
    /// modification time, so coarse timestamps cannot hide an edit). Stops when the handle drops.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let store = Arc::clone(self);
        let stop_flag = Arc::clone(&stop);
        // Taken before the thread starts, so an edit made right after `watch` returns is seen.
        let mut last = self.directory_digest();
        let thread = std::thread::Builder::new()
            .name("config-watch".into())
            .spawn(move || {
                // Edits made between `open` and `watch` are picked up by one reload now.
                let _ = store.reload();
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(interval);
                    if stop_flag.load(Ordering::Relaxed) {
                        break;
                    }
                    let digest = store.directory_digest();
                    if digest != last {
                        last = digest;
                        // The outcome is logged and recorded in the status by `reload`.
                        let _ = store.reload();
                    }
                }
            })
            .ok();
        Watcher { stop, thread }
    }

    /// Hash of every `.yaml` file's name and content in the directory.
    fn directory_digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.loader.dir())
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
        names.sort();
        for path in names {
            hasher.update(path.as_os_str().as_encoded_bytes());
            hasher.update(std::fs::read(&path).unwrap_or_default());
        }
        hasher.finalize().into()
    }
}

/// The watcher thread's handle; dropping it stops the thread.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
