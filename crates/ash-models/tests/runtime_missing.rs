//! A missing ONNX Runtime library is a clear error.
//!
//! The runtime is loaded once per process and the first attempt decides for the whole process, so
//! this binary holds exactly one test; `runtime_not_a_library.rs` holds the other failure.

use std::path::PathBuf;

use ash_config::RuntimeConfig;
use ash_models::{ModelError, runtime};

#[test]
fn a_missing_runtime_says_how_to_get_one() {
    let config = RuntimeConfig {
        library_path: Some(PathBuf::from("/nonexistent/libonnxruntime.so")),
        ..RuntimeConfig::default()
    };
    let error = runtime::init(&config).expect_err("missing");
    assert!(matches!(error, ModelError::RuntimeMissing { .. }));
    let text = error.to_string();
    assert!(text.contains("/nonexistent/libonnxruntime.so"), "{text}");
    assert!(text.contains("cargo xtask setup"), "{text}");
    assert!(text.contains("ORT_DYLIB_PATH"), "{text}");
}
