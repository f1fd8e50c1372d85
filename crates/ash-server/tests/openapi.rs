//! `docs/openapi.json` is the API description the code generates. Run with `UPDATE_DOCS=1` to
//! rewrite it after changing the API.

use std::path::PathBuf;

#[test]
fn committed_openapi_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = ash_server::openapi()
        .to_pretty_json()
        .expect("openapi json")
        + "\n";
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if generated != committed {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, generated).expect("write docs/openapi.json");
        } else {
            panic!(
                "docs/openapi.json is out of date: run `UPDATE_DOCS=1 cargo test -p ash-server --test openapi`"
            );
        }
    }
}
