//! The shipped `config/` directory loads and validates.

use std::path::PathBuf;

use ash_config::{ConfigLoader, Environment};

#[test]
fn shipped_config_is_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let loader = ConfigLoader::new(&dir, Environment::default()).expect("loader");
    if let Err(e) = loader.load() {
        panic!("{e}");
    }
}
