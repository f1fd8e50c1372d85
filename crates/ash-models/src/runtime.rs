//! Loading the ONNX Runtime library once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked or downloaded at build time, and the
//! library is loaded here, from the configured path, before any other `ort` call. A missing or
//! too-old library becomes a clear start-up error instead of a panic in a worker thread.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ash_config::RuntimeConfig;
use serde::Serialize;

use crate::error::ModelError;

/// File name of the pinned runtime inside the cache directory.
pub const PINNED_RUNTIME: &str = "onnxruntime/libonnxruntime.so.1.31.1";

/// What was loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuntimeInfo {
    pub library_path: PathBuf,
    /// ONNX Runtime's build string (version, commit).
    pub build_info: String,
}

struct Loaded {
    info: RuntimeInfo,
    environment: ort::environment::Environment,
}

static RUNTIME: OnceLock<Result<Loaded, ModelError>> = OnceLock::new();

/// The library path the configuration points at.
pub fn library_path(config: &RuntimeConfig) -> PathBuf {
    match &config.library_path {
        Some(path) => path.clone(),
        None => config.cache_dir.join(PINNED_RUNTIME),
    }
}

/// Loads the runtime (first call) or returns what the first call loaded. The process keeps one
/// runtime; a later call with another path gets the first one and a warning.
pub fn init(config: &RuntimeConfig) -> Result<RuntimeInfo, ModelError> {
    let path = library_path(config);
    let loaded = RUNTIME.get_or_init(|| load(&path));
    match loaded {
        Ok(l) => {
            if l.info.library_path != path {
                tracing::warn!(
                    loaded = %l.info.library_path.display(),
                    requested = %path.display(),
                    "ONNX Runtime is already loaded from another path; keeping it"
                );
            }
            Ok(l.info.clone())
        }
        Err(e) => Err(e.clone()),
    }
}

/// The process-wide environment, once [`init`] succeeded (sessions are built on it).
pub fn environment() -> Option<&'static ort::environment::Environment> {
    RUNTIME
        .get()
        .and_then(|r| r.as_ref().ok())
        .map(|l| &l.environment)
}

fn load(path: &Path) -> Result<Loaded, ModelError> {
    if !path.is_file() {
        return Err(ModelError::RuntimeMissing {
            path: path.to_owned(),
        });
    }
    let load_error = |reason: String| ModelError::RuntimeLoad {
        path: path.to_owned(),
        reason,
    };
    let builder = ort::init_from(path).map_err(|e| load_error(e.to_string()))?;
    let environment = builder
        .with_name("ash-nlp")
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    let info = RuntimeInfo {
        library_path: path.to_owned(),
        build_info: ort::info().to_owned(),
    };
    tracing::info!(path = %path.display(), build = %info.build_info, "ONNX Runtime loaded");
    Ok(Loaded { info, environment })
}
