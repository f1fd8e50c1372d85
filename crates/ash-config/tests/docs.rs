//! `docs/configuration.md` lists exactly the environment variables the loader honours.
//! Run with `UPDATE_DOCS=1` to rewrite the table after changing `ENV_BINDINGS`.

use std::path::PathBuf;

const START: &str = "<!-- env-table:start -->\n";
const END: &str = "<!-- env-table:end -->";

#[test]
fn configuration_doc_lists_every_variable() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).expect("docs/configuration.md");
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        panic!("docs/configuration.md lacks the env-table markers");
    };
    let current = &doc[start + START.len()..end];
    let expected = ash_config::env_table_markdown();
    if current != expected {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{START}{expected}{}", &doc[..start], &doc[end..]);
            std::fs::write(&path, updated).expect("write docs");
        } else {
            panic!(
                "docs/configuration.md is out of date: run `UPDATE_DOCS=1 cargo test -p ash-config --test docs`"
            );
        }
    }
}
