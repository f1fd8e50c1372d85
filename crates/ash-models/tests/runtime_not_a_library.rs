//! A file that is not ONNX Runtime is a load error, not a panic.
//!
//! One test per binary: the runtime is loaded once per process and the first attempt decides.

use ash_config::RuntimeConfig;
use ash_models::{ModelError, runtime};

#[test]
fn a_file_that_is_not_onnx_runtime_is_a_load_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").expect("write");
    let config = RuntimeConfig {
        library_path: Some(fake),
        ..RuntimeConfig::default()
    };
    let error = runtime::init(&config).expect_err("not a library");
    assert!(matches!(error, ModelError::RuntimeLoad { .. }), "{error:?}");
}
