//! A missing ONNX Runtime library is a clear error (own test binary: the runtime is per process).

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

#[test]
fn a_file_that_is_not_onnx_runtime_is_a_load_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").expect("write");
    // The first successful-or-failed init wins for the process; this binary only tests failures,
    // so whichever test runs first decides. Both must be errors.
    let config = RuntimeConfig {
        library_path: Some(fake),
        ..RuntimeConfig::default()
    };
    assert!(runtime::init(&config).is_err());
}
